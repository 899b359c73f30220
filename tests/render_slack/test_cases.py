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
    CASE_FORM,
    CASE_REOPEN,
    CASE_STATUS,
    EXPORT_INVOICE_BUTTON,
    FIELD_AMOUNT,
    FIELD_SEATS,
    FIELD_UNTIL,
    FORM_VALUE,
    CaseAction,
    CaseTarget,
    Prefill,
    Shown,
    case_action,
    case_companies,
    case_strip,
    case_target,
    refresh_cases,
    render_case,
    render_case_form,
    render_case_matches,
    render_case_notice,
    render_cases,
    render_home,
    to_text,
)
from tests.render_slack.conftest import (
    HOSTILE,
    LONG,
    NOW,
    assert_fits,
    assert_message_fits,
    company,
    report_of,
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


def test_a_listing_read_in_part_counts_the_rest_as_more() -> None:
    message = render_cases([case(n) for n in range(1, 31)], "open", shown=SHOWN, total=5000)
    assert "Open overage cases (5,000)" in texts(message)
    assert f"…and {5000 - len(rows_of(message.blocks)):,} more" in texts(message)
    assert message.text == "Open overage cases: 5,000 cases."


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


# --- the forms -------------------------------------------------------------------------------

# the definitions of a modal and its inputs, unchanged from the source of the shared subset
# (TightknitAI/slack-block-kit-validator, src/slack-block-kit.schema.json at 12ad0779): the
# subset keeps only what messages and the Home tab carry
_TEXT_24 = {"allOf": [{"$ref": "#/$defs/plain_text_object"},
                      {"properties": {"text": {"maxLength": 24}}}]}  # fmt: skip
_TEXT_2000 = {"allOf": [{"$ref": "#/$defs/plain_text_object"},
                        {"properties": {"text": {"maxLength": 2000}}}]}  # fmt: skip
FORM_DEFS: dict[str, Any] = {
    "plain_text_input_element": {
        "type": "object", "additionalProperties": False, "required": ["type"],
        "properties": {
            "type": {"const": "plain_text_input"}, "action_id": {"$ref": "#/$defs/action_id"},
            "initial_value": {"type": "string"}, "multiline": {"type": "boolean"},
            "min_length": {"type": "integer", "minimum": 0, "maximum": 3000},
            "max_length": {"type": "integer", "minimum": 1, "maximum": 3000},
            "focus_on_load": {"type": "boolean"},
            "placeholder": {"$ref": "#/$defs/placeholder_object"},
        },
    },
    "datepicker_element": {
        "type": "object", "additionalProperties": False, "required": ["type"],
        "properties": {
            "type": {"const": "datepicker"}, "action_id": {"$ref": "#/$defs/action_id"},
            "initial_date": {
                "type": "string",
                "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
            },
            "confirm": {"$ref": "#/$defs/confirm_object"}, "focus_on_load": {"type": "boolean"},
            "placeholder": {"$ref": "#/$defs/placeholder_object"},
        },
    },
    "users_select_element": {
        "type": "object", "additionalProperties": False, "required": ["type"],
        "properties": {
            "type": {"const": "users_select"}, "action_id": {"$ref": "#/$defs/action_id"},
            "initial_user": {"type": "string", "pattern": "^[UW][A-Z0-9]+$"},
            "confirm": {"$ref": "#/$defs/confirm_object"}, "focus_on_load": {"type": "boolean"},
            "placeholder": {"$ref": "#/$defs/placeholder_object"},
        },
    },
    "input_block_element": {"oneOf": [
        {"$ref": "#/$defs/plain_text_input_element"}, {"$ref": "#/$defs/datepicker_element"},
        {"$ref": "#/$defs/users_select_element"},
    ]},
    "input_block": {
        "type": "object", "additionalProperties": False, "required": ["type", "label", "element"],
        "properties": {
            "type": {"const": "input"}, "label": _TEXT_2000,
            "element": {"$ref": "#/$defs/input_block_element"},
            "dispatch_action": {"type": "boolean"}, "block_id": {"$ref": "#/$defs/block_id"},
            "hint": _TEXT_2000, "optional": {"type": "boolean"},
        },
    },
    "modal_view": {
        "type": "object", "additionalProperties": False, "required": ["type", "title", "blocks"],
        "properties": {
            "type": {"const": "modal"}, "title": _TEXT_24,
            "blocks": {"type": "array", "minItems": 1, "maxItems": 100,
                       "items": {"oneOf": [{"$ref": "#/$defs/block"},
                                           {"$ref": "#/$defs/input_block"}]}},
            "close": _TEXT_24, "submit": _TEXT_24,
            "private_metadata": {"type": "string", "maxLength": 3000},
            "callback_id": {"type": "string", "maxLength": 255},
            "clear_on_close": {"type": "boolean"}, "notify_on_close": {"type": "boolean"},
            "external_id": {"type": "string", "maxLength": 255},
            "submit_disabled": {"type": "boolean"},
        },
        "allOf": [{
            "if": {"properties": {"blocks": {"contains": {
                "type": "object", "properties": {"type": {"const": "input"}},
                "required": ["type"]}}}},
            "then": {"required": ["submit"]},
        }],
    },
}  # fmt: skip


def modal_validator() -> Draft202012Validator:
    if not SUBSET.exists():
        pytest.skip(f"the shared reference is not at {SUBSET}")
    defs = {**json.loads(SUBSET.read_text())["$defs"], **FORM_DEFS}
    return Draft202012Validator({"$defs": defs, "$ref": "#/$defs/modal_view"})


def form_fields(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}


@pytest.mark.parametrize("action", [a for a in CaseAction if a.has_form])
def test_every_form_is_a_valid_modal_whatever_the_name(action: CaseAction) -> None:
    hostile = case(1, name="<!channel> " + LONG, owner="U0BOB", state=State.CONTACTED)
    view = render_case_form(action, hostile, metadata="x" * 3000, shown=SHOWN,
                            prefill=Prefill(12, Decimal("54.5")))  # fmt: skip
    modal_validator().validate(view)
    assert view["callback_id"] == CASE_FORM
    assert "<!channel>" not in json.dumps(view)
    assert all(e["action_id"] == FORM_VALUE for e in form_fields(view).values())


def test_the_invoice_form_is_prefilled_to_the_cent_and_says_when_no_price_is_set() -> None:
    priced = render_case_form(CaseAction.INVOICED, case(1), metadata="m", shown=SHOWN,
                              prefill=Prefill(12, Decimal("54.005")))  # fmt: skip
    fields = form_fields(priced)
    assert (fields[FIELD_SEATS]["initial_value"], fields[FIELD_AMOUNT]["initial_value"]) == (
        "12", "54.01"
    )  # fmt: skip
    assert "Amount invoiced (EUR)" in json.dumps(priced)
    unpriced = render_case_form(CaseAction.INVOICED, case(1), metadata="m", shown=SHOWN,
                                prefill=Prefill(12, None))  # fmt: skip
    assert "initial_value" not in form_fields(unpriced)[FIELD_AMOUNT]
    assert "No seat price is set for this plan." in json.dumps(unpriced)


def test_the_snooze_form_proposes_a_week_from_today_in_the_zone() -> None:
    view = render_case_form(CaseAction.SNOOZE, case(1), metadata="m", shown=SHOWN)
    assert form_fields(view)[FIELD_UNTIL]["initial_date"] == "2025-03-17"


def test_a_refused_form_shows_the_case_and_mentions_only_who_changed_it_last() -> None:
    changed = case(1, state=State.INVOICED, updated_by="U0BOB", last_action=Action.INVOICED)
    sentence = "This case was changed by <@U0BOB> after you opened the form <!here> <@U0EVE>."
    view = render_case_notice(changed, sentence, metadata="m", shown=SHOWN, reopen=True)
    modal_validator().validate(view)
    text = json.dumps(view)
    assert "changed by <@U0BOB> after" in text
    assert "&lt;!here&gt; &lt;@U0EVE&gt;" in text
    assert CASE_REOPEN in text
    assert "submit" not in view


# --- the Home tab's "Your cases" -------------------------------------------------------------


def test_your_cases_on_the_home_tab_fit_with_the_rest_and_say_how_many_more() -> None:
    mine = [case(n, name=f"{LONG} {n}", owner="U0BOB", reason="r" * 3000) for n in range(1, 40)]
    report = report_of([company(n, name=LONG) for n in range(1, 200)], price="2")
    blocks = render_home(report, now=NOW, last_digest=None, next_digest=None, cases=mine,
                         shown=SHOWN)  # fmt: skip
    assert_fits(blocks, max_blocks=100)
    text = json.dumps(blocks, ensure_ascii=False)
    assert "*Your cases* (39)" in text
    assert "…and 29 more: `/overage cases mine` lists them all." in text
    assert rows_of(blocks)[0]["block_id"] == f"{CASE_BLOCK}|home|c00001"
    assert "Data as of" in text  # the list at a glance is still there
    nobody = render_home(report, now=NOW, last_digest=None, next_digest=None, cases=[])
    assert "You own no open overage case." in json.dumps(nobody)
    without = render_home(report, now=NOW, last_digest=None, next_digest=None)
    assert "Your cases" not in json.dumps(without)


def test_the_plain_text_of_a_list_shows_each_row_s_menu() -> None:
    text = to_text(render_cases([case(1), case(2)], "open", shown=SHOWN))
    assert "*1.* Company 00001 · over by 11  [ Case… ▾ ]" in text
    assert "*Case:* new · no owner" in text


def test_the_case_list_carries_the_invoice_button() -> None:
    message = render_cases([case(n) for n in range(1, 4)], "open", shown=SHOWN)
    buttons = [
        element
        for block in message.blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert [b["action_id"] for b in buttons] == [EXPORT_INVOICE_BUTTON]
