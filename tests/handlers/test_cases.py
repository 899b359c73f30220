"""Overage cases over signed HTTP: opened and resolved by the fetches, listed, shown with their
history, and changed by a click wherever a company is shown, for everyone who sees it."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.cases import State
from bot.logs import FIELDS
from bot.render_slack import CASE_BLOCK, CASE_STATUS, DETAILS_SELECT
from bot.sandbox import is_flagged
from tests.handlers.conftest import Bot, StartBot, all_text, answer_to, eventually, flagged
from tests.handlers.test_home import open_home
from tests.runtime import settled

# --- what the tests send and read --------------------------------------------------------------


def case_elements(blocks: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Each case's block ID with its element: a button or a row's menu."""
    found: list[tuple[str, dict[str, Any]]] = []
    for block in blocks:
        block_id = str(block.get("block_id") or "")
        if not block_id.startswith(f"{CASE_BLOCK}|"):
            continue
        if block["type"] == "actions":
            found += [(block_id, element) for element in block["elements"]]
        else:
            found.append((block_id, block["accessory"]))
    return found


def case_click(
    blocks: list[dict[str, Any]],
    action: str,
    *,
    company: str | None = None,
    user: str = "U1",
    container: dict[str, Any],
    response_url: str | None = None,
) -> dict[str, Any]:
    """The payload Slack sends when `user` picks `action` on a company's case in `blocks`
    (the first company shown, unless named)."""
    for block_id, element in case_elements(blocks):
        if company is not None and not block_id.endswith(f"|{company}"):
            continue
        if element["type"] == "button" and element["value"] != action:
            continue
        clicked: dict[str, Any] = {
            "action_id": element["action_id"], "block_id": block_id, "type": element["type"],
            "action_ts": "1",
        }  # fmt: skip
        if element["type"] == "button":
            clicked["value"] = element["value"]
        else:
            option = next(o for o in element["options"] if o["value"] == action)
            clicked["selected_option"] = option
        payload: dict[str, Any] = {
            "type": "block_actions", "user": {"id": user}, "team": {"id": "T0001"},
            "api_app_id": "A0001", "trigger_id": "12345.98765.abcd", "actions": [clicked],
            "container": container,
        }  # fmt: skip
        if container.get("type") == "message":
            payload["channel"] = {"id": container["channel_id"]}
            payload["response_url"] = response_url
        return payload
    raise AssertionError(f"no {action} for {company or 'any company'} in these blocks")


def ephemeral_container(channel: str = "C0GENERAL") -> dict[str, Any]:
    return {"type": "message", "message_ts": "1700000000.000100", "channel_id": channel,
            "is_ephemeral": True}  # fmt: skip


def case_of(bot: Bot, company_id: str) -> Any:
    history = bot.runtime.store.company_case(company_id)
    assert history is not None, f"no case for {company_id}"
    return history


def ids_over(bot: Bot) -> list[str]:
    return [str(c["companyResourceId"]) for c in flagged(bot)]


# --- opened and resolved by the fetches; listings ----------------------------------------------


async def test_a_fetch_opens_a_case_for_each_company_over_and_lists_them(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(companies=120, over_limit=12)
    answer = await answer_to(bot, "cases")
    assert answer["response_type"] == "ephemeral"
    text = all_text(answer)
    assert f"Open overage cases ({len(flagged(bot))})" in text
    rows = case_elements(answer["blocks"])
    assert len(rows) == len(flagged(bot))
    assert {block_id.rsplit("|", 1)[1] for block_id, _ in rows} == set(ids_over(bot))
    assert all(element["type"] == "static_select" for _, element in rows)
    labels = [o["text"]["text"] for o in rows[0][1]["options"]]
    assert labels == [
        "Assign to me", "Assign…", "Contacted", "Invoiced…", "Snooze…", "Waive…", "Add note…"
    ]  # fmt: skip
    assert text.count("*Case:* new · no owner · opened by the bot") == len(flagged(bot))


async def test_listing_the_cases_again_opens_none_twice(start_bot: StartBot) -> None:
    bot = await start_bot(companies=60, over_limit=5, CACHE_SECONDS="0")
    await answer_to(bot, "cases")
    await answer_to(bot, "")
    answer = await answer_to(bot, "cases all")
    assert "All overage cases (5)" in all_text(answer)
    for company_id in ids_over(bot):
        assert [e.action.value for e in case_of(bot, company_id).events] == ["opened"]


async def test_a_company_back_under_its_limit_is_resolved_on_the_next_fetch(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(companies=60, over_limit=5, CACHE_SECONDS="0")
    await answer_to(bot, "cases")
    back = next(c for c in flagged(bot) if str(c["numberOfUsers"]).isdigit())
    rows = [dict(c) for c in bot.sandbox.companies]
    for row in rows:
        if row["companyResourceId"] == back["companyResourceId"]:
            row["targetUserCount"] = int(row["numberOfUsers"])
    bot.sandbox.companies = rows
    await answer_to(bot, "")  # a fetch brings the cases in line

    opened = await answer_to(bot, "cases")
    resolved = await answer_to(bot, "cases resolved")

    assert "Open overage cases (4)" in all_text(opened)
    assert "Overage cases: resolved (1)" in all_text(resolved)
    history = case_of(bot, back["companyResourceId"])
    assert history.case.state is State.RESOLVED
    assert [e.action.value for e in history.events] == ["opened", "resolved"]
    rows_shown = case_elements(resolved["blocks"])
    assert [o["value"] for o in rows_shown[0][1]["options"]] == ["note"]


async def test_mine_lists_only_the_open_cases_the_person_owns(start_bot: StartBot) -> None:
    bot = await start_bot(companies=60, over_limit=5)
    nobody = await answer_to(bot, "cases mine")
    assert "You own no open overage case." in all_text(nobody)
    listed = await answer_to(bot, "cases")
    company = case_elements(listed["blocks"])[1][0].rsplit("|", 1)[1]
    click = case_click(
        listed["blocks"],
        "assign_me",
        company=company,
        user="U1",
        container=ephemeral_container(),
        response_url=bot.new_response_url(),
    )
    await bot.interact(click)
    await eventually(lambda: case_of(bot, company).case.owner == "U1")

    mine = await answer_to(bot, "cases mine", user="U1")
    theirs = await answer_to(bot, "cases mine", user="U2")

    assert [b.rsplit("|", 1)[1] for b, _ in case_elements(mine["blocks"])] == [company]
    assert "Your open overage cases (1)" in all_text(mine)
    assert "You own no open overage case." in all_text(theirs)


async def test_one_company_s_case_shows_its_history(start_bot: StartBot) -> None:
    bot = await start_bot(companies=60, over_limit=5)
    await answer_to(bot, "cases")
    company = flagged(bot)[0]
    name = " ".join(str(company["companyName"]).split())
    answer = await answer_to(bot, f"case {name}")
    text = all_text(answer)
    assert "*History*" in text
    assert "the bot opened it" in text
    assert [b for b, _ in case_elements(answer["blocks"])] == [
        f"{CASE_BLOCK}|card|{company['companyResourceId']}"
    ] * 7
    assert answer["response_type"] == "ephemeral"


async def test_a_case_text_that_matches_no_company_says_so(start_bot: StartBot) -> None:
    bot = await start_bot(companies=60, over_limit=5)
    answer = await answer_to(bot, "case zzzz-no-such-company")
    assert "No overage case has “zzzz-no-such-company”" in all_text(answer)


async def test_a_case_text_that_matches_several_companies_lists_them(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(companies=60, over_limit=5, CACHE_SECONDS="0")
    rows = [dict(c) for c in bot.sandbox.companies]
    over = [r for r in rows if is_flagged(r)]
    over[0]["companyName"], over[1]["companyName"] = "Twin Peaks East", "Twin Peaks West"
    bot.sandbox.companies = rows
    answer = await answer_to(bot, "case twin peaks")  # the first fetch of the process
    text = all_text(answer)
    assert "2 companies with a case have “twin peaks” in their name: pick one." in text
    shown = {b.rsplit("|", 1)[1] for b, _ in case_elements(answer["blocks"])}
    assert shown == {over[0]["companyResourceId"], over[1]["companyResourceId"]}
    exact = await answer_to(bot, "case TWIN PEAKS  east")
    assert "*History*" in all_text(exact)


async def test_an_unknown_listing_is_answered_with_usage(start_bot: StartBot) -> None:
    bot = await start_bot(companies=20, over_limit=2)
    answer = await answer_to(bot, "cases everything")
    assert "`cases` takes one of mine, new" in all_text(answer)


# --- clicks --------------------------------------------------------------------------------------


async def test_assign_to_me_in_the_list_replaces_the_list_with_the_new_owner(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(companies=60, over_limit=5)
    listed = await answer_to(bot, "cases")
    company = case_elements(listed["blocks"])[0][0].rsplit("|", 1)[1]
    click = case_click(
        listed["blocks"],
        "assign_me",
        user="U7",
        container=ephemeral_container(),
        response_url=bot.new_response_url(),
    )
    response = await bot.interact(click)
    assert response.status_code == 200
    replaced = (await eventually(bot.answers))[-1]

    assert replaced["replace_original"] is True
    assert "owner <@U7> · assigned by <@U7>" in all_text(replaced)
    history = case_of(bot, company)
    assert history.case.owner == "U7"
    last = history.events[-1]
    assert (last.actor, last.action.value, last.surface.value) == ("U7", "assigned", "message")


async def test_contacted_on_a_case_card_is_recorded_and_the_card_shows_it(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(companies=60, over_limit=5)
    await answer_to(bot, "cases")
    company = flagged(bot)[0]
    card = await answer_to(bot, f"case {' '.join(str(company['companyName']).split())}")
    click = case_click(
        card["blocks"],
        "contacted",
        user="U3",
        container=ephemeral_container(),
        response_url=bot.new_response_url(),
    )
    await bot.interact(click)
    replaced = (await eventually(bot.answers))[-1]
    text = all_text(replaced)
    assert "*Case:* contacted" in text
    assert "<@U3> marked it contacted (message)" in text
    assert "marked contacted by <@U3>" in text
    assert case_of(bot, company["companyResourceId"]).case.state is State.CONTACTED
    buttons = [e["value"] for _, e in case_elements(replaced["blocks"])]
    assert "contacted" not in buttons  # done already


async def test_a_click_by_someone_not_among_the_case_editors_is_refused(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(companies=60, over_limit=5, CASE_EDITOR_IDS="U9")
    listed = await answer_to(bot, "cases")
    company = case_elements(listed["blocks"])[0][0].rsplit("|", 1)[1]
    click = case_click(
        listed["blocks"],
        "contacted",
        user="U1",
        container=ephemeral_container(),
        response_url=bot.new_response_url(),
    )
    await bot.interact(click)
    answer = (await eventually(bot.answers))[-1]
    assert "Only the people in CASE_EDITOR_IDS can change overage cases." in answer["text"]
    assert answer.get("replace_original") is False
    await settled()
    assert [e.action.value for e in case_of(bot, company).events] == ["opened"]


async def test_with_no_editor_list_the_allowed_users_may_change_cases(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(companies=60, over_limit=5, ALLOWED_USER_IDS="U1,U2")
    listed = await answer_to(bot, "cases", user="U1")
    company = case_elements(listed["blocks"])[0][0].rsplit("|", 1)[1]
    click = case_click(
        listed["blocks"],
        "contacted",
        user="U2",
        container=ephemeral_container(),
        response_url=bot.new_response_url(),
    )
    await bot.interact(click)
    await eventually(lambda: case_of(bot, company).case.state is State.CONTACTED)


# --- a message in a channel is updated for everyone ------------------------------------------

ALERTS = "C0ALERTS"


async def post_alert(bot: Bot, hours: int = 0) -> dict[str, Any]:
    """An alert check's message in ALERTS (the first check sums up who is over already)."""
    slot = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours)
    ts = await bot.runtime.services.check_alerts(ALERTS, slot)
    assert ts is not None
    return next(m for m in bot.slack.messages(ALERTS) if m["ts"] == ts)


def message_container(message: dict[str, Any], channel: str = ALERTS) -> dict[str, Any]:
    return {"type": "message", "message_ts": message["ts"], "channel_id": channel,
            "is_ephemeral": False}  # fmt: skip


def status_of(message: dict[str, Any], company: str) -> str:
    """The status line a message shows for a company's case."""
    block = next(b for b in message["blocks"] if b.get("block_id") == f"{CASE_STATUS}|{company}")
    return str(block["elements"][0]["text"])


async def test_a_change_in_an_alert_updates_the_alert_for_everyone(start_bot: StartBot) -> None:
    bot = await start_bot(companies=60, over_limit=4)
    bot.slack.add_channel(ALERTS, name="overage-alerts")
    alert = await post_alert(bot)
    company = case_elements(alert["blocks"])[1][0].rsplit("|", 1)[1]
    click = case_click(
        alert["blocks"],
        "contacted",
        company=company,
        user="U2",
        container=message_container(alert),
        response_url=bot.new_response_url(),
    )
    click["message"] = alert

    await bot.interact(click)
    await eventually(lambda: bot.slack.updates)
    await settled()

    [update] = bot.slack.updates
    assert (update.params["channel"], update.params["ts"]) == (ALERTS, alert["ts"])
    now_shown = next(m for m in bot.slack.messages(ALERTS) if m["ts"] == alert["ts"])
    assert "*Case:* contacted · no owner · marked contacted by <@U2>" in status_of(
        now_shown, company
    )
    others = [b for b, _ in case_elements(now_shown["blocks"]) if not b.endswith(company)]
    assert len(others) == len(case_elements(alert["blocks"])) - 1  # every company still there
    assert now_shown["text"] == alert["text"]
    assert bot.answers() == []  # nothing said to the clicker alone
    assert case_of(bot, company).case.state is State.CONTACTED


async def test_two_clicks_at_once_are_both_recorded_and_the_alert_ends_on_the_latest(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(companies=60, over_limit=4)
    bot.slack.add_channel(ALERTS, name="overage-alerts")
    alert = await post_alert(bot)
    company = case_elements(alert["blocks"])[0][0].rsplit("|", 1)[1]
    clicks = [
        case_click(alert["blocks"], action, company=company, user=user,
                   container=message_container(alert), response_url=bot.new_response_url())
        for action, user in (("assign_me", "U1"), ("contacted", "U2"))
    ]  # fmt: skip

    await asyncio.gather(*(bot.interact(click) for click in clicks))
    await eventually(lambda: len(case_of(bot, company).events) == 3)
    await settled()

    history = case_of(bot, company)
    assert sorted(e.action.value for e in history.events[1:]) == ["assigned", "contacted"]
    assert [e.version for e in history.events] == [1, 2, 3]
    assert (history.case.owner, history.case.state) == ("U1", State.CONTACTED)
    last = history.events[-1]
    final = next(m for m in bot.slack.messages(ALERTS) if m["ts"] == alert["ts"])
    status = status_of(final, company)
    assert "contacted · owner <@U1>" in status
    assert f"by <@{last.actor}>" in status


async def test_a_single_alert_carries_the_case_buttons(start_bot: StartBot) -> None:
    bot = await start_bot(companies=60, over_limit=4, CACHE_SECONDS="0")
    bot.slack.add_channel(ALERTS, name="overage-alerts")
    await post_alert(bot)
    rows = [dict(c) for c in bot.sandbox.companies]
    newcomer = next(
        r for r in rows
        if r.get("isNumberOfUsersLimited") is True and str(r["numberOfUsers"]).isdigit()
        and not is_flagged(r)
    )  # fmt: skip
    newcomer["targetUserCount"] = int(newcomer["numberOfUsers"]) + 9
    bot.sandbox.companies = rows
    alert = await post_alert(bot, hours=1)
    buttons = [e["value"] for _, e in case_elements(alert["blocks"])]
    assert buttons == ["assign_me", "assign", "contacted", "invoiced", "snooze", "waive", "note"]
    company = str(newcomer["companyResourceId"])
    click = case_click(
        alert["blocks"],
        "assign_me",
        user="U5",
        container=message_container(alert),
        response_url=bot.new_response_url(),
    )

    await bot.interact(click)
    await eventually(lambda: bot.slack.updates)
    await settled()

    final = next(m for m in bot.slack.messages(ALERTS) if m["ts"] == alert["ts"])
    assert "*Case:* new · owner <@U5> · assigned by <@U5>" in status_of(final, company)


async def test_the_details_card_carries_the_case_and_a_click_there_replaces_it(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(companies=60, over_limit=4)
    company = next(c for c in flagged(bot) if str(c["numberOfUsers"]).isdigit())
    await bot.action(DETAILS_SELECT, selected=company["companyResourceId"])
    details = (await eventually(bot.answers))[-1]
    assert "License limit" in all_text(details)
    click = case_click(
        details["blocks"],
        "contacted",
        user="U4",
        container=ephemeral_container(),
        response_url=bot.new_response_url(),
    )

    await bot.interact(click)
    replaced = (await eventually(bot.answers))[-1]

    assert replaced["replace_original"] is True
    assert "License limit" in all_text(replaced)
    assert "*Case:* contacted · no owner · marked contacted by <@U4>" in all_text(replaced)


async def test_every_change_is_logged_with_who_made_it_and_the_click_once(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bot = await start_bot(companies=60, over_limit=4)
    listed = await answer_to(bot, "cases")
    company = case_elements(listed["blocks"])[0][0].rsplit("|", 1)[1]
    click = case_click(listed["blocks"], "contacted", user="U6", container=ephemeral_container(),
                       response_url=bot.new_response_url())  # fmt: skip
    await bot.interact(click)
    await eventually(bot.answers)
    await settled()

    changes = [r.getMessage() for r in caplog.records if r.name == "bot.store.cases"]
    assert any(
        f"company {company}: contacted by U6 from message, now contacted" in line
        for line in changes
    )
    clicks = [r for r in caplog.records if r.name == "handlers.cases" and getattr(r, FIELDS, None)]
    (record,) = clicks
    fields = getattr(record, FIELDS)
    assert (fields["case_action"], fields["user"], fields["outcome"]) == ("contacted", "U6", "ok")


# --- the Home tab ----------------------------------------------------------------------------


async def test_the_home_tab_shows_your_cases_and_a_change_there_publishes_it_again(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(companies=60, over_limit=4)
    listed = await answer_to(bot, "cases")
    company = case_elements(listed["blocks"])[2][0].rsplit("|", 1)[1]
    assign = case_click(
        listed["blocks"],
        "assign_me",
        company=company,
        user="U1",
        container=ephemeral_container(),
        response_url=bot.new_response_url(),
    )
    await bot.interact(assign)
    await eventually(lambda: case_of(bot, company).case.owner == "U1")

    view = await open_home(bot, "U1")
    others = await open_home(bot, "U2")

    assert "*Your cases* (1)" in all_text(view)
    assert [b for b, _ in case_elements(view["blocks"])] == [f"{CASE_BLOCK}|home|{company}"]
    assert "You own no open overage case." in all_text(others)
    before = len(bot.slack.home_views)
    home = {"type": "view", "view_id": "V1"}
    contacted = case_click(view["blocks"], "contacted", user="U1", container=home)
    contacted["view"] = {"id": "V1", "type": "home"}
    await bot.interact(contacted)
    views = await eventually(lambda: bot.slack.home_views[before:])
    assert views[-1].params["user_id"] == "U1"
    assert "*Case:* contacted · owner <@U1> · marked contacted by <@U1>" in all_text(
        views[-1].params
    )
    last = case_of(bot, company).events[-1]
    assert (last.action.value, last.surface.value) == ("contacted", "home")


async def test_a_refusal_on_the_home_tab_is_told_on_the_tab(start_bot: StartBot) -> None:
    bot = await start_bot(companies=60, over_limit=4, CASE_EDITOR_IDS="U9")
    await answer_to(bot, "cases")
    view = await open_home(bot, "U9")
    assert "You own no open overage case." in all_text(view)
    company = ids_over(bot)[0]
    fake_row = {"type": "section", "block_id": f"{CASE_BLOCK}|home|{company}",
                "text": {"type": "mrkdwn", "text": "x"},
                "accessory": {"type": "static_select", "action_id": "overage_case_menu#1",
                              "options": [{"text": {"type": "plain_text", "text": "Contacted"},
                                           "value": "contacted"}]}}  # fmt: skip
    before = len(bot.slack.home_views)
    click = case_click([fake_row], "contacted", user="U1", container={"type": "view"})
    await bot.interact(click)
    views = await eventually(lambda: bot.slack.home_views[before:])
    assert "Only the people in CASE_EDITOR_IDS can change overage cases." in all_text(
        views[-1].params
    )
