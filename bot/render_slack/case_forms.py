"""Overage cases on Slack: the forms (modals) a case's changes are made in, prefilled,
with their field-by-field errors and the notice shown after a change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from bot.cases import MOST_REFERENCE, MOST_TEXT, SYSTEM, Case
from bot.render_slack.blocks import (
    MAX_OPTION_VALUE,
    Block,
    _button,
    _context,
    _cut,
    _name,
    _plain_text,
    _section,
    escape,
)
from bot.render_slack.cases import CaseAction, Shown, _over, _who, case_status

CASE_BLOCK = "overage_case"  # block ID of a case's actions: CASE_BLOCK|surface|company
CASE_STATUS = "overage_case_status"  # block ID of a case's status line: CASE_STATUS|company
CASE_BUTTON = "overage_case_button"  # action ID of a button: CASE_BUTTON:action#tag
CASE_MENU = "overage_case_menu"  # action ID of a row's menu of actions: CASE_MENU#tag
CASE_KEY_MAX = MAX_OPTION_VALUE  # a company whose ID is longer is shown without actions
CASES_LISTED = 30
HOME_CASES = 10
HISTORY_SHOWN = 40


# --- the forms -----------------------------------------------------------------------------

CASE_FORM = "overage_case_form"  # callback ID of every case form
CASE_REOPEN = "overage_case_reopen"  # the button that opens a form again on the case as it is
FORM_VALUE = "value"  # the action ID of each form input; its block ID names the field
FIELD_OWNER = "case_owner"
FIELD_SEATS = "case_seats"
FIELD_AMOUNT = "case_amount"
FIELD_REFERENCE = "case_reference"
FIELD_UNTIL = "case_until"
FIELD_REASON = "case_reason"
FIELD_NOTE = "case_note"
SNOOZE_DAYS = 7  # a snooze form proposes this many days from today
_FORM_TITLES = {
    CaseAction.ASSIGN: "Assign the case",
    CaseAction.INVOICED: "Mark invoiced",
    CaseAction.SNOOZE: "Snooze the case",
    CaseAction.WAIVE: "Waive the case",
    CaseAction.NOTE: "Add a note",
}


@dataclass(frozen=True, slots=True)
class Prefill:
    """What an Invoiced… form proposes: the seats over and their amount at the company's
    price (None: no price is set for its plan)."""

    seats: int | None = None
    amount: Decimal | None = None


def render_case_form(
    action: CaseAction,
    case: Case,
    *,
    metadata: str,
    shown: Shown,
    prefill: Prefill = Prefill(),
) -> Block:
    """The modal of a change with a form: the case as it is, then the inputs, prefilled."""
    return {
        **_modal(_FORM_TITLES[action], metadata),
        "submit": _plain_text("Save"),
        "blocks": [*_form_head(case, shown), *_inputs(action, case, prefill, shown)],
    }


def _inputs(action: CaseAction, case: Case, prefill: Prefill, shown: Shown) -> list[Block]:
    match action:
        case CaseAction.ASSIGN:
            return [_owner_input(case)]
        case CaseAction.INVOICED:
            return _invoice_inputs(prefill, shown)
        case CaseAction.SNOOZE:
            return [_until_input(shown), _text_input(FIELD_REASON, "Why")]
        case CaseAction.WAIVE:
            return [_text_input(FIELD_REASON, "Why it is waived")]
        case CaseAction.NOTE:
            return [_text_input(FIELD_NOTE, "Note")]
    raise ValueError(f"{action} has no form")


def render_case_notice(
    case: Case | None, sentence: str, *, metadata: str, shown: Shown, reopen: bool
) -> Block:
    """What a form turns into when its change was refused: the sentence, the case as it is
    now, and a button that opens the form again on it. The sentence is escaped but for the
    mention of whoever changed the case last (an ID from our own database)."""
    text = escape(sentence)
    if case is not None and case.updated_by != SYSTEM:
        text = text.replace(f"&lt;@{escape(case.updated_by)}&gt;", _who(case.updated_by))
    blocks = [_section(f":warning: {text}")]
    if case is not None:
        blocks += _form_head(case, shown)
    if reopen:
        button = _button("Open the form again", CASE_REOPEN, "reopen", style="primary")
        blocks.append({"type": "actions", "elements": [button]})
    return _modal("Overage case", metadata) | {"blocks": blocks}


def render_form_error(sentence: str) -> Block:
    """What a form turns into when its submission failed unforeseen."""
    blocks = [_section(f":warning: {escape(sentence)}")]
    return _modal("Overage case", "") | {"blocks": blocks}


def _modal(title: str, metadata: str) -> Block:
    return {
        "type": "modal",
        "callback_id": CASE_FORM,
        "title": _plain_text(title),
        "close": _plain_text("Close"),
        "private_metadata": metadata,
    }


def _form_head(case: Case, shown: Shown) -> list[Block]:
    name = f"*{_name(case.company_name)}* · {_over(case.seats_over)}"
    return [_section(name), _context(case_status(case, shown=shown))]


def _input(
    field: str, label: str, element: Block, *, hint: str = "", optional: bool = False
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": field,
        "label": _plain_text(label),
        "element": {**element, "action_id": FORM_VALUE},
        "optional": optional,
    }
    if hint:
        block["hint"] = _plain_text(hint)
    return block


def _owner_input(case: Case) -> Block:
    element: Block = {"type": "users_select", "placeholder": _plain_text("Pick a person")}
    if case.owner is not None:
        element["initial_user"] = case.owner
    hint = "Leave it empty and the case has no owner."
    return _input(FIELD_OWNER, "Owner", element, hint=hint, optional=True)


def _invoice_inputs(prefill: Prefill, shown: Shown) -> list[Block]:
    seats = _line_input("" if prefill.seats is None else str(prefill.seats), 13)
    amount = _line_input(amount_text(prefill.amount), 20)
    priced = "At the company's seat price; change it to what was invoiced."
    hint = priced if prefill.amount is not None else "No seat price is set for this plan."
    label = f"Amount invoiced ({_cut(shown.currency, 10)})"
    return [
        _input(FIELD_SEATS, "Seats invoiced", seats, hint="The seats over, as a whole number."),
        _input(FIELD_AMOUNT, label, amount, hint=hint),
        _input(FIELD_REFERENCE, "Invoice reference", _line_input("", MOST_REFERENCE)),
    ]


def _line_input(initial: str, most: int) -> Block:
    element: Block = {"type": "plain_text_input", "max_length": most}
    if initial:
        element["initial_value"] = initial
    return element


def _until_input(shown: Shown) -> Block:
    proposed = today_in(shown) + timedelta(days=SNOOZE_DAYS)
    element = {"type": "datepicker", "initial_date": f"{proposed:%Y-%m-%d}"}
    return _input(FIELD_UNTIL, "Snoozed until", element, hint="The case wakes on this day.")


def _text_input(field: str, label: str) -> Block:
    element = {"type": "plain_text_input", "multiline": True, "max_length": MOST_TEXT}
    return _input(field, label, element)


def amount_text(amount: Decimal | None) -> str:
    """An amount as a form is prefilled with it: to the cent, no separators."""
    if amount is None:
        return ""
    return f"{amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}"


def today_in(shown: Shown) -> date:
    """Today's date in the zone snooze dates are read in."""
    return shown.now.astimezone(shown.zone).date()
