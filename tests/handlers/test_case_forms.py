"""The forms of a case's changes over signed HTTP: Assign…, Invoiced…, Snooze…, Waive… and Add
note… open a modal within the click's trigger window; a submission is made or refused field by
field; one opened before someone else changed the case is refused with the case as it is now
and a button that opens it again."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from bot.cases import State
from bot.render_slack import (
    CASE_FORM,
    CASE_REOPEN,
    FIELD_AMOUNT,
    FIELD_NOTE,
    FIELD_OWNER,
    FIELD_REASON,
    FIELD_REFERENCE,
    FIELD_SEATS,
    FIELD_UNTIL,
    FORM_VALUE,
)
from bot.sandbox import is_flagged
from tests.fakes.slack_api import Call
from tests.handlers.conftest import Bot, StartBot, all_text, answer_to, eventually, flagged
from tests.handlers.test_cases import (
    ALERTS,
    case_click,
    case_elements,
    case_of,
    ephemeral_container,
    message_container,
    post_alert,
    status_of,
)
from tests.runtime import settled


async def listed(bot: Bot, user: str = "U1") -> tuple[dict[str, Any], str]:
    """`/overage cases` and the first company it lists."""
    answer = await answer_to(bot, "cases", user=user)
    return answer, case_elements(answer["blocks"])[0][0].rsplit("|", 1)[1]


async def open_form(
    bot: Bot, action: str, *, user: str = "U1", blocks: list[dict[str, Any]] | None = None,
    company: str | None = None,
) -> Call:  # fmt: skip
    """Pick `action` on a listed case; the views.open call that opened its form."""
    if blocks is None:
        blocks = (await listed(bot, user))[0]["blocks"]
    before = len(bot.slack.opened_views)
    click = case_click(
        blocks,
        action,
        company=company,
        user=user,
        container=ephemeral_container(),
        response_url=bot.new_response_url(),
    )
    assert (await bot.interact(click)).status_code == 200
    opened = await eventually(
        lambda: len(bot.slack.opened_views) > before and bot.slack.opened_views
    )
    call: Call = opened[-1]
    assert call.params["trigger_id"] == click["trigger_id"]
    return call


def inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The form's input elements by field."""
    return {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}


def values_of(view: dict[str, Any], **typed: str | None) -> dict[str, Any]:
    """The state Slack sends for a form: what it was prefilled with, then what was typed (a
    user ID for a users select, YYYY-MM-DD for a date)."""
    state: dict[str, Any] = {}
    for field, element in inputs(view).items():
        kind = element["type"]
        if kind == "users_select":
            value = {"type": kind, "selected_user": typed.get(field, element.get("initial_user"))}
        elif kind == "datepicker":
            value = {"type": kind, "selected_date": typed.get(field, element.get("initial_date"))}
        else:
            value = {"type": kind, "value": typed.get(field, element.get("initial_value"))}
        state[field] = {FORM_VALUE: value}
    return state


async def submit(
    bot: Bot, opened: Call, *, user: str = "U1", **typed: str | None
) -> httpx.Response:
    view = opened.params["view"]
    payload = {
        "type": "view_submission", "team": {"id": "T0001"}, "user": {"id": user},
        "api_app_id": "A0001", "trigger_id": "2.3.4",
        "view": {
            "id": opened.response["view"]["id"], "type": "modal", "callback_id": CASE_FORM,
            "private_metadata": view["private_metadata"], "hash": "1.abc",
            "state": {"values": values_of(view, **typed)},
        },
    }  # fmt: skip
    response = await bot.interact(payload)
    assert response.status_code == 200
    return response


def acked(response: httpx.Response) -> dict[str, Any]:
    """The answer to the form (empty: the form closes)."""
    body: dict[str, Any] = response.json() if response.content else {}
    return body


# --- opening ---------------------------------------------------------------------------------


async def test_invoiced_opens_a_form_prefilled_with_the_seats_over_and_their_amount(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(companies=60, over_limit=4, SEAT_PRICE="4.50", CURRENCY="EUR")
    _, company = await listed(bot)
    seats = case_of(bot, company).case.seats_over
    assert seats is not None
    opened = await open_form(bot, "invoiced", company=company)
    view = opened.params["view"]
    assert view["type"] == "modal" and view["callback_id"] == CASE_FORM
    fields = inputs(view)
    assert fields[FIELD_SEATS]["initial_value"] == str(seats)
    assert fields[FIELD_AMOUNT]["initial_value"] == f"{Decimal('4.50') * seats:.2f}"
    assert "initial_value" not in fields[FIELD_REFERENCE]
    assert "Amount invoiced (EUR)" in all_text(view)
    assert len(view["private_metadata"]) <= 3000


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("assign", [FIELD_OWNER]),
        ("snooze", [FIELD_UNTIL, FIELD_REASON]),
        ("waive", [FIELD_REASON]),
        ("note", [FIELD_NOTE]),
    ],
)
async def test_each_action_with_a_form_opens_its_own(
    start_bot: StartBot, action: str, fields: list[str]
) -> None:
    bot = await start_bot(companies=60, over_limit=4)
    opened = await open_form(bot, action)
    assert list(inputs(opened.params["view"])) == fields


async def test_a_form_is_not_opened_for_someone_who_may_not_change_cases(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(companies=60, over_limit=4, CASE_EDITOR_IDS="U9")
    answer, _ = await listed(bot)
    click = case_click(answer["blocks"], "waive", user="U1", container=ephemeral_container(),
                       response_url=bot.new_response_url())  # fmt: skip
    await bot.interact(click)
    refusal = (await eventually(bot.answers))[-1]
    assert "Only the people in CASE_EDITOR_IDS can change overage cases." in refusal["text"]
    await settled()
    assert bot.slack.opened_views == []


async def test_a_form_slack_opened_too_late_says_to_click_again(start_bot: StartBot) -> None:
    bot = await start_bot(companies=60, over_limit=4)
    answer, _ = await listed(bot)
    bot.slack.fail_next("views.open", "expired_trigger_id")
    click = case_click(answer["blocks"], "note", container=ephemeral_container(),
                       response_url=bot.new_response_url())  # fmt: skip
    await bot.interact(click)
    refusal = (await eventually(bot.answers))[-1]
    assert "Slack did not open the form in time. Click the button again." in refusal["text"]


# --- submitting ------------------------------------------------------------------------------


async def test_a_valid_invoice_is_recorded_and_the_list_shows_it(start_bot: StartBot) -> None:
    bot = await start_bot(companies=60, over_limit=4, SEAT_PRICE="4.50")
    _, company = await listed(bot)
    opened = await open_form(bot, "invoiced", company=company)
    answers_before = len(bot.answers(bot.sent[-1]))

    response = await submit(bot, opened, **{FIELD_AMOUNT: "1,234.5", FIELD_REFERENCE: "INV-42"})

    assert acked(response) == {}  # the form closes
    case = case_of(bot, company).case
    seats = int(inputs(opened.params["view"])[FIELD_SEATS]["initial_value"])
    assert (case.state, case.invoiced_seats) == (State.INVOICED, seats)
    assert (case.invoiced_amount, case.invoice_ref) == (Decimal("1234.5"), "INV-42")
    last = case_of(bot, company).events[-1]
    assert (last.actor, last.surface.value, last.action.value) == ("U1", "modal", "invoiced")
    replaced = await eventually(lambda: bot.answers(bot.sent[-1])[answers_before:])
    assert replaced[-1]["replace_original"] is True
    assert f"invoiced for {seats:,} seats" in all_text(replaced[-1])


async def test_an_invalid_form_is_answered_field_by_field_and_records_nothing(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(companies=60, over_limit=4)
    _, company = await listed(bot)
    opened = await open_form(bot, "invoiced", company=company)

    response = await submit(
        bot, opened, **{FIELD_SEATS: "twelve", FIELD_AMOUNT: "12,5€", FIELD_REFERENCE: "  "}
    )

    body = acked(response)
    assert body["response_action"] == "errors"
    errors = body["errors"]
    assert set(errors) == {FIELD_SEATS, FIELD_AMOUNT, FIELD_REFERENCE}
    assert errors[FIELD_SEATS].startswith("The invoiced seats must be a whole number from 1 to")
    assert "got 'twelve'" in errors[FIELD_SEATS]
    assert errors[FIELD_AMOUNT].startswith("The invoiced amount must be a sum like 180.00")
    assert errors[FIELD_REFERENCE] == (
        "An invoice needs its reference. Enter the invoice number and submit again."
    )
    assert [e.action.value for e in case_of(bot, company).events] == ["opened"]


@pytest.mark.parametrize(
    ("typed", "field", "words"),
    [
        ({FIELD_SEATS: "0"}, FIELD_SEATS, "whole number from 1"),
        ({FIELD_SEATS: "99999999999"}, FIELD_SEATS, "whole number from 1"),
        ({FIELD_AMOUNT: "1.23456"}, FIELD_AMOUNT, "at most 4 decimals"),
        ({FIELD_AMOUNT: "-5"}, FIELD_AMOUNT, "a sum like 180.00"),
        ({FIELD_AMOUNT: "1e9"}, FIELD_AMOUNT, "a sum like 180.00"),
        ({FIELD_REFERENCE: "R" * 101}, FIELD_REFERENCE, "longer than 100 characters"),
    ],
)
async def test_each_invoice_field_is_checked(
    start_bot: StartBot, typed: dict[str, str], field: str, words: str
) -> None:
    bot = await start_bot(companies=60, over_limit=4, SEAT_PRICE="2")
    opened = await open_form(bot, "invoiced")
    body = acked(await submit(bot, opened, **{FIELD_REFERENCE: "INV-1", **typed}))
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == [field] and words in body["errors"][field]


async def test_a_snooze_must_end_after_today_and_needs_a_reason(start_bot: StartBot) -> None:
    bot = await start_bot(companies=60, over_limit=4)
    _, company = await listed(bot)
    opened = await open_form(bot, "snooze", company=company)
    today = date.today()

    refused = acked(await submit(bot, opened, **{FIELD_UNTIL: today.isoformat(), FIELD_REASON: ""}))
    assert set(refused["errors"]) == {FIELD_UNTIL, FIELD_REASON}
    assert "A snooze must end after today" in refused["errors"][FIELD_UNTIL]
    assert "A case is snoozed only with a reason." in refused["errors"][FIELD_REASON]

    later = (today + timedelta(days=10)).isoformat()
    assert acked(await submit(bot, opened, **{FIELD_UNTIL: later, FIELD_REASON: "Q3 budget"})) == {}
    case = case_of(bot, company).case
    assert (case.state, case.snoozed_until, case.reason) == (
        State.SNOOZED, date.fromisoformat(later), "Q3 budget"
    )  # fmt: skip


async def test_assign_waive_and_note_forms_make_their_changes(start_bot: StartBot) -> None:
    bot = await start_bot(companies=60, over_limit=4)
    _, company = await listed(bot)

    assigned = await open_form(bot, "assign", company=company)
    assert acked(await submit(bot, assigned, **{FIELD_OWNER: "U0ANN"})) == {}
    waived = await open_form(bot, "waive", company=company)
    hostile = '<!channel> =HYPERLINK("x") \u202e'
    assert acked(await submit(bot, waived, **{FIELD_REASON: hostile})) == {}
    noted = await open_form(bot, "note", company=company)
    assert acked(await submit(bot, noted, **{FIELD_NOTE: "Called them\nagain"})) == {}

    history = case_of(bot, company)
    assert (history.case.owner, history.case.state, history.case.reason) == (
        "U0ANN", State.WAIVED, hostile.strip()
    )  # fmt: skip
    assert [e.action.value for e in history.events] == ["opened", "assigned", "waived", "noted"]
    assert (
        inputs((await open_form(bot, "assign", company=company)).params["view"])[FIELD_OWNER][
            "initial_user"
        ]
        == "U0ANN"
    )
    card = await answer_to(bot, f"case {' '.join(history.case.company_name.split())}")
    assert "<!channel>" not in all_text(card)


async def test_a_form_submitted_after_someone_else_changed_the_case_is_refused_and_reopens(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(companies=60, over_limit=4)
    answer, company = await listed(bot)
    opened = await open_form(bot, "waive", company=company, blocks=answer["blocks"])
    click = case_click(
        answer["blocks"],
        "contacted",
        company=company,
        user="U2",
        container=ephemeral_container(),
        response_url=bot.new_response_url(),
    )
    await bot.interact(click)
    await eventually(lambda: case_of(bot, company).case.state is State.CONTACTED)

    body = acked(await submit(bot, opened, **{FIELD_REASON: "goodwill"}))

    assert body["response_action"] == "update"
    notice = body["view"]
    text = all_text(notice)
    assert "This case was changed by <@U2> after you opened the form: it is contacted now." in text
    assert "Open the form again" in text
    assert case_of(bot, company).case.state is State.CONTACTED  # the waiver was not made
    view_id = opened.response["view"]["id"]
    reopen = {
        "type": "block_actions", "user": {"id": "U1"}, "team": {"id": "T0001"},
        "api_app_id": "A0001", "trigger_id": "3.4.5",
        "container": {"type": "view", "view_id": view_id},
        "view": {**notice, "id": view_id},
        "actions": [{"action_id": CASE_REOPEN, "block_id": "b", "type": "button",
                     "value": "reopen", "action_ts": "1"}],
    }  # fmt: skip
    await bot.interact(reopen)
    updated = await eventually(lambda: bot.slack.calls_to("views.update"))
    form = updated[-1].params["view"]
    assert updated[-1].params["view_id"] == view_id
    assert json.loads(form["private_metadata"])["v"] == case_of(bot, company).case.version
    assert "*Case:* contacted" in all_text(form)
    again = _as_opened(updated[-1], view_id)
    assert acked(await submit(bot, again, **{FIELD_REASON: "goodwill"})) == {}
    assert case_of(bot, company).case.state is State.WAIVED


def _as_opened(update: Call, view_id: str) -> Call:
    """A views.update call read as the form it shows, to submit it."""
    return Call(
        "views.open", update.params, update.token, update.at, None, {"view": {"id": view_id}}
    )


async def test_two_forms_on_one_version_make_one_change(start_bot: StartBot) -> None:
    bot = await start_bot(companies=60, over_limit=4)
    answer, company = await listed(bot)
    first = await open_form(bot, "note", company=company, blocks=answer["blocks"])
    second = await open_form(bot, "note", company=company, blocks=answer["blocks"], user="U2")

    replies = await asyncio.gather(
        submit(bot, first, **{FIELD_NOTE: "one"}),
        submit(bot, second, user="U2", **{FIELD_NOTE: "two"}),
    )

    bodies = [acked(r) for r in replies]
    assert sorted(b.get("response_action", "closed") for b in bodies) == ["closed", "update"]
    assert [e.action.value for e in case_of(bot, company).events] == ["opened", "noted"]


async def test_a_resolved_case_opens_only_its_note(start_bot: StartBot) -> None:
    bot = await start_bot(companies=60, over_limit=4, CACHE_SECONDS="0")
    answer, company = await listed(bot)
    rows = [dict(c) for c in bot.sandbox.companies]
    for row in rows:
        if row["companyResourceId"] == company and str(row["numberOfUsers"]).isdigit():
            row["targetUserCount"] = 0
    bot.sandbox.companies = rows
    if any(is_flagged(r) and r["companyResourceId"] == company for r in rows):
        pytest.skip("the first company listed has no readable limit")
    await answer_to(bot, "")
    click = case_click(answer["blocks"], "waive", company=company, container=ephemeral_container(),
                       response_url=bot.new_response_url())  # fmt: skip
    await bot.interact(click)
    refusal = (await eventually(bot.answers))[-1]
    assert "This case was resolved on" in refusal["text"]
    assert bot.slack.opened_views == []
    assert flagged(bot)  # the others are still over


async def test_a_form_opened_from_an_alert_updates_the_alert_for_everyone(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(companies=60, over_limit=4, SEAT_PRICE="3")
    bot.slack.add_channel(ALERTS, name="overage-alerts")
    alert = await post_alert(bot)
    company = case_elements(alert["blocks"])[0][0].rsplit("|", 1)[1]
    before = len(bot.slack.opened_views)
    click = case_click(
        alert["blocks"],
        "invoiced",
        company=company,
        user="U3",
        container=message_container(alert),
        response_url=bot.new_response_url(),
    )
    await bot.interact(click)
    opened = (await eventually(lambda: bot.slack.opened_views[before:]))[-1]

    assert acked(await submit(bot, opened, user="U3", **{FIELD_REFERENCE: "INV-9"})) == {}
    await eventually(lambda: bot.slack.updates)
    await settled()

    final = next(m for m in bot.slack.messages(ALERTS) if m["ts"] == alert["ts"])
    status = status_of(final, company)
    assert "*Case:* invoiced for" in status and "marked invoiced by <@U3>" in status
