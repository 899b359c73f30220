"""Overage cases on Slack: the case list, a case with its history, a case's actions and status
wherever a company is shown, and a channel's message brought up to date in place."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bot.cases import (
    SYSTEM,
    Action,
    Case,
    CaseEvent,
    State,
    Surface,
)
from bot.render_slack import (
    CASE_BLOCK,
    CASE_STATUS,
    CaseAction,
    CaseTarget,
    Shown,
    case_action,
    case_companies,
    case_strip,
    case_target,
    refresh_cases,
    render_case,
    render_case_matches,
    render_cases,
    to_text,
)
from tests.render_slack.conftest import (
    HOSTILE,
    LONG,
    NOW,
    assert_message_fits,
    strings,
    texts,
)

SHOWN = Shown(now=NOW, currency="EUR")
OPENED = NOW - timedelta(days=3)
SUBSET = (
    Path(__file__).resolve().parents[3] / "shared" / "reference" / "slack"
    / "block-kit.subset.schema.json"
)  # fmt: skip


def case(
    index: int = 1, *, name: str | None = None, state: State = State.NEW, **fields: Any
) -> Case:
    return Case(
        company_id=f"c{index:05d}",
        company_name=f"Company {index:05d}" if name is None else name,
        opened_at=OPENED,
        updated_at=fields.pop("updated_at", OPENED),
        state=state,
        seats_over=fields.pop("seats_over", 10 + index),
        id=index,
        **fields,
    )


def event(version: int, action: Action, *, actor: str = "U0ANN", **fields: Any) -> CaseEvent:
    return CaseEvent(
        version=version,
        at=OPENED + timedelta(hours=version),
        actor=actor,
        surface=fields.pop("surface", Surface.MESSAGE),
        action=action,
        before=State.NEW,
        after=fields.pop("after", State.NEW),
        **fields,
    )


def mrkdwn(value: Any) -> list[str]:
    """The text of every mrkdwn object in the blocks."""
    if isinstance(value, list):
        return [text for item in value for text in mrkdwn(item)]
    if not isinstance(value, dict):
        return []
    own = [value["text"]] if value.get("type") == "mrkdwn" else []
    return own + [text for item in value.values() for text in mrkdwn(item)]


def rows_of(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for b in blocks if str(b.get("block_id") or "").startswith(f"{CASE_BLOCK}|")]


# --- the list --------------------------------------------------------------------------------


def test_each_listed_case_carries_its_state_owner_last_change_and_a_menu() -> None:
    listed = [
        case(1, owner="U0BOB", state=State.CONTACTED, updated_by="U0ANN",
             last_action=Action.CONTACTED, updated_at=NOW - timedelta(minutes=5)),
        case(2),
    ]  # fmt: skip
    message = render_cases(listed, "open", shown=SHOWN)
    assert_message_fits(message)
    text = texts(message)
    assert "Open overage cases (2)" in text
    assert "*Case:* contacted · owner <@U0BOB> · marked contacted by <@U0ANN> 5 minutes ago" in text
    assert "*Case:* new · no owner · opened by the bot 3 days ago" in text
    rows = rows_of(message.blocks)
    assert [r["block_id"] for r in rows] == [f"{CASE_BLOCK}|list.open|c00001",
                                             f"{CASE_BLOCK}|list.open|c00002"]  # fmt: skip
    menus = [r["accessory"] for r in rows]
    assert len({m["action_id"] for m in menus}) == 2  # unique within the message
    assert "contacted" not in [o["value"] for o in menus[0]["options"]]
    assert [o["value"] for o in menus[1]["options"]] == [a.value for a in CaseAction]


def test_a_long_list_pages_with_and_n_more_within_slacks_limits() -> None:
    listed = [case(n, name=f"{LONG} {n}", reason="r") for n in range(1, 5001)]
    message = render_cases(listed, "all", shown=SHOWN)
    assert_message_fits(message)
    rows = rows_of(message.blocks)
    assert 0 < len(rows) <= 30
    assert f"…and {5000 - len(rows):,} more" in texts(message)
    for smaller in message.smaller:
        assert_message_fits(smaller)
        assert f"…and {5000 - len(rows_of(smaller.blocks)):,} more" in texts(smaller)


@pytest.mark.parametrize(
    ("which", "sentence"),
    [
        ("mine", "You own no open overage case."),
        ("open", "There is no overage case"),
        ("waived", "No overage case is waived."),
    ],
)
def test_an_empty_listing_says_so(which: str, sentence: str) -> None:
    message = render_cases([], which, shown=SHOWN)
    assert_message_fits(message)
    assert sentence in message.text


def test_hostile_company_names_and_people_text_stay_inert() -> None:
    listed = [
        case(n, name=name, reason=name, invoice_ref=name, state=State.WAIVED)
        for n, name in enumerate(HOSTILE, 1)
    ]
    events = [event(2, Action.NOTED, text=name) for name in HOSTILE] + [
        event(3, Action.INVOICED, seats=5, amount=Decimal("9.5"), reference="<!here>")
    ]
    renders = [
        render_cases(listed, "all", shown=SHOWN),
        *(render_case(c, events, shown=SHOWN) for c in listed),
        render_case_matches(listed, "<!channel>", shown=SHOWN),
    ]
    for message in renders:
        assert_message_fits(message)
        for text in [message.text, *strings(message.blocks)]:
            assert "<!" not in text and "<http" not in text
            assert "<@U123" not in text
            assert "\u202e" not in text and "\u0000" not in text
        for text in mrkdwn(message.blocks):  # plain text is not parsed: markers may stay
            assert "*bold*" not in text and "`code`" not in text
    assert LONG not in texts(renders[0])  # a name is cut to fit its line


# --- one case with its history ---------------------------------------------------------------


def test_a_case_card_shows_the_case_its_history_and_its_actions() -> None:
    invoiced = case(
        1, state=State.INVOICED, owner="U0BOB", invoiced_seats=12,
        invoiced_amount=Decimal("54.0000"), invoice_ref="INV-7", updated_by="U0BOB",
        last_action=Action.INVOICED, updated_at=NOW,
    )  # fmt: skip
    events = [
        event(1, Action.OPENED, actor=SYSTEM, surface=Surface.SYSTEM, seats=11),
        event(2, Action.ASSIGNED, owner="U0BOB"),
        event(3, Action.INVOICED, actor="U0BOB", surface=Surface.MODAL, seats=12,
              amount=Decimal("54.0000"), reference="INV-7", after=State.INVOICED),
    ]  # fmt: skip
    message = render_case(invoiced, events, shown=SHOWN)
    assert_message_fits(message)
    text = to_text(message)
    for words in (
        "invoiced for 12 seats",
        "12 seats, EUR 54.00",
        "INV-7",
        "the bot opened it (over by 11)",
        "<@U0ANN> assigned it to <@U0BOB> (message)",
        "<@U0BOB> marked it invoiced: 12 seats, EUR 54.00, ref INV-7 (modal)",
    ):
        assert words in text, words
    buttons = [e["value"] for b in rows_of(message.blocks) for e in b["elements"]]
    assert buttons == ["assign_me", "assign", "invoiced", "snooze", "waive", "note"]
    status = [b for b in message.blocks if b.get("block_id") == f"{CASE_STATUS}|c00001"]
    assert status and "owner <@U0BOB>" in json.dumps(status)


def test_a_long_history_shows_its_latest_entries_within_the_budget() -> None:
    events = [event(v, Action.NOTED, text=f"note {v} " + "x" * 480) for v in range(1, 300)]
    message = render_case(case(1), events, shown=SHOWN)
    assert_message_fits(message)
    text = texts(message)
    assert "note 299 " in text and "note 1 " not in text
    assert "(the latest" in text and "of 299)" in text


def test_a_resolved_case_offers_only_a_note() -> None:
    closed = case(1, state=State.RESOLVED, closed_at=NOW - timedelta(days=1))
    message = render_case(closed, [], shown=SHOWN)
    assert "resolved 2025-03-09" in texts(message)
    assert [e["value"] for b in rows_of(message.blocks) for e in b["elements"]] == ["note"]


def test_a_snoozed_case_says_until_when() -> None:
    snoozed = case(1, state=State.SNOOZED, snoozed_until=date(2025, 4, 1), reason="holiday")
    assert "snoozed until 2025-04-01" in texts(render_cases([snoozed], "snoozed", shown=SHOWN))


# --- a case's block: which company, where; the message brought up to date --------------------


def test_a_block_id_names_the_surface_and_the_company_and_reads_back() -> None:
    strip = case_strip("alert", "id|with|bars", None, shown=SHOWN)
    assert len(strip) == 1  # no status while the case is not known
    target = case_target(strip[0]["block_id"])
    assert target == CaseTarget("alert", "id|with|bars")
    assert case_target("overage_table_more") is None
    assert CaseTarget("list.mine", "c1").listing == "mine"
    assert CaseTarget("card", "c1").listing is None
    button = strip[0]["elements"][3]
    assert case_action(button) is CaseAction.INVOICED
    menu = {"action_id": "overage_case_menu#ab", "selected_option": {"value": "waive"}}
    assert case_action(menu) is CaseAction.WAIVE
    assert case_action({"action_id": "overage_case_button:nonsense#1"}) is None


def test_a_company_whose_id_is_too_long_is_shown_without_actions() -> None:
    assert case_strip("alert", "x" * 151, None, shown=SHOWN) == []
    message = render_cases([replace(case(1), company_id="x" * 151)], "open", shown=SHOWN)
    assert rows_of(message.blocks) == []


def test_refresh_shows_each_case_as_it_is_now_and_leaves_the_rest_alone() -> None:
    header = {"type": "section", "text": {"type": "mrkdwn", "text": "Acme went over"}}
    blocks = [header, *case_strip("alert", "c00001", None, shown=SHOWN)]
    contacted = case(1, state=State.CONTACTED, owner="U0BOB", updated_by="U0ANN",
                     last_action=Action.CONTACTED)  # fmt: skip
    once = refresh_cases(blocks, {"c00001": contacted}, shown=SHOWN)
    assert once[0] == header
    assert [b.get("block_id") for b in once[1:]] == [
        f"{CASE_BLOCK}|alert|c00001", f"{CASE_STATUS}|c00001"
    ]  # fmt: skip
    assert "contacted" not in [e["value"] for e in once[1]["elements"]]
    assert "marked contacted by <@U0ANN>" in json.dumps(once[2])
    invoiced = replace(contacted, state=State.INVOICED, invoiced_seats=3, version=3)
    twice = refresh_cases(once, {"c00001": invoiced}, shown=SHOWN)
    assert len(twice) == 3  # the status is replaced, not added again
    assert "invoiced for 3 seats" in json.dumps(twice[2])
    assert case_companies(twice) == ["c00001"]


def test_every_case_rendering_is_valid_block_kit() -> None:
    if not SUBSET.exists():
        pytest.skip(f"the shared reference is not at {SUBSET}")
    schema = json.loads(SUBSET.read_text())
    block = Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/block"})
    listed = [case(n, name=name, owner="U0BOB") for n, name in enumerate(HOSTILE, 1)]
    events = [event(2, Action.NOTED, text="<!here>")]
    for message in (
        render_cases(listed, "open", shown=SHOWN),
        render_case(listed[0], events, shown=SHOWN),
        render_case_matches(listed, "x", shown=SHOWN),
    ):
        for one in (message, *message.smaller):
            for b in one.blocks:
                block.validate(b)
