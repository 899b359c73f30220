"""Overage cases over signed HTTP: opened and resolved by the fetches, listed, shown with their
history, and changed by a click wherever a company is shown, for everyone who sees it."""

from __future__ import annotations

from typing import Any

from bot.cases import State
from bot.render_slack import CASE_BLOCK
from bot.sandbox import is_flagged
from tests.handlers.conftest import Bot, StartBot, all_text, answer_to, eventually, flagged
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
    answer = await answer_to(bot, "case twin peaks")
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
