"""Reading a case form: each field's value becomes the change, or the sentence shown under it;
what a form remembers of where it was opened survives the trip through Slack."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from bot.cases import AddNote, Assign, MarkInvoiced, Snooze, Waive
from bot.errors import CaseRefused
from bot.render_slack import (
    FIELD_AMOUNT,
    FIELD_NOTE,
    FIELD_OWNER,
    FIELD_REASON,
    FIELD_REFERENCE,
    FIELD_SEATS,
    FIELD_UNTIL,
    FORM_VALUE,
    CaseAction,
)
from bot.services.case_forms import FieldErrors, FormState, read_form

TODAY = date(2026, 3, 10)


def values(**fields: Any) -> dict[str, Any]:
    """The state Slack sends: a string is typed text, a date a picked date, ("user", ID) a
    picked person."""
    state: dict[str, Any] = {}
    for field, value in fields.items():
        if isinstance(value, date):
            element = {"type": "datepicker", "selected_date": value.isoformat()}
        elif isinstance(value, tuple):
            element = {"type": "users_select", "selected_user": value[1]}
        else:
            element = {"type": "plain_text_input", "value": value}
        state[field] = {FORM_VALUE: element}
    return state


def invoice(seats: str = "12", amount: str = "54.00", reference: str = "INV-1") -> dict[str, Any]:
    return values(**{FIELD_SEATS: seats, FIELD_AMOUNT: amount, FIELD_REFERENCE: reference})


@pytest.mark.parametrize(
    ("seats", "amount", "expected"),
    [
        ("12", "54", MarkInvoiced(12, Decimal("54"), "INV-1")),
        (" 1,200 ", "1,234.5", MarkInvoiced(1200, Decimal("1234.5"), "INV-1")),
        ("1 200", "0.0001", MarkInvoiced(1200, Decimal("0.0001"), "INV-1")),
        ("1000000000", "999999999999.9999", MarkInvoiced(10**9, Decimal("999999999999.9999"),
                                                          "INV-1")),
    ],
)  # fmt: skip
def test_an_invoice_is_read_from_its_fields(seats: str, amount: str, expected: Any) -> None:
    assert read_form(CaseAction.INVOICED, invoice(seats, amount), today=TODAY) == expected


@pytest.mark.parametrize(
    ("typed", "fields"),
    [
        (invoice(seats=""), {FIELD_SEATS}),
        (invoice(seats="1.5"), {FIELD_SEATS}),
        (invoice(seats="-3"), {FIELD_SEATS}),
        (invoice(seats="1000000001"), {FIELD_SEATS}),
        (invoice(seats="٣"), {FIELD_SEATS}),  # a digit, but not one a count is typed with
        (invoice(amount=""), {FIELD_AMOUNT}),
        (invoice(amount="NaN"), {FIELD_AMOUNT}),
        (invoice(amount="1e3"), {FIELD_AMOUNT}),
        (invoice(amount="12,50"), {FIELD_AMOUNT}),
        (invoice(amount="1000000000000"), {FIELD_AMOUNT}),
        (invoice(reference=" \n "), {FIELD_REFERENCE}),
        (invoice("x", "y", ""), {FIELD_SEATS, FIELD_AMOUNT, FIELD_REFERENCE}),
        ({}, {FIELD_SEATS, FIELD_AMOUNT, FIELD_REFERENCE}),
    ],
)
def test_every_field_an_invoice_cannot_use_has_its_sentence(
    typed: dict[str, Any], fields: set[str]
) -> None:
    with pytest.raises(FieldErrors) as refused:
        read_form(CaseAction.INVOICED, typed, today=TODAY)
    assert set(refused.value.errors) == fields
    assert all(sentence.endswith("submit again.") for sentence in refused.value.errors.values())


def test_a_typed_value_is_echoed_short_and_on_one_line() -> None:
    with pytest.raises(FieldErrors) as refused:
        read_form(CaseAction.INVOICED, invoice(seats="<!here>\n" + "9x" * 200), today=TODAY)
    sentence = refused.value.errors[FIELD_SEATS]
    assert "\n" not in sentence and len(sentence) < 200


def test_the_other_forms_are_read_too() -> None:
    later = date(2026, 4, 1)
    snooze = values(**{FIELD_UNTIL: later, FIELD_REASON: " budget "})
    assert read_form(CaseAction.SNOOZE, snooze, today=TODAY) == Snooze(later, "budget")
    waive = values(**{FIELD_REASON: "goodwill"})
    assert read_form(CaseAction.WAIVE, waive, today=TODAY) == Waive("goodwill")
    note = values(**{FIELD_NOTE: "called"})
    assert read_form(CaseAction.NOTE, note, today=TODAY) == AddNote("called")
    owner = values(**{FIELD_OWNER: ("user", "U0ANN")})
    assert read_form(CaseAction.ASSIGN, owner, today=TODAY) == Assign("U0ANN")
    assert read_form(CaseAction.ASSIGN, values(**{FIELD_OWNER: ("user", None)}), today=TODAY) == (
        Assign(None)
    )


@pytest.mark.parametrize(
    ("action", "typed", "fields"),
    [
        (CaseAction.SNOOZE, {FIELD_UNTIL: TODAY, FIELD_REASON: "x"}, {FIELD_UNTIL}),
        (CaseAction.SNOOZE, {FIELD_REASON: "x"}, {FIELD_UNTIL}),
        (CaseAction.SNOOZE, {FIELD_UNTIL: date(2027, 1, 1), FIELD_REASON: ""}, {FIELD_REASON}),
        (CaseAction.WAIVE, {FIELD_REASON: "r" * 3001}, {FIELD_REASON}),
        (CaseAction.NOTE, {FIELD_NOTE: "   "}, {FIELD_NOTE}),
    ],
)
def test_dates_reasons_and_notes_are_checked(
    action: CaseAction, typed: dict[str, Any], fields: set[str]
) -> None:
    with pytest.raises(FieldErrors) as refused:
        read_form(action, values(**typed), today=TODAY)
    assert set(refused.value.errors) == fields


def test_the_form_state_survives_the_trip_and_a_foreign_one_is_refused() -> None:
    state = FormState(
        CaseAction.WAIVE,
        7,
        3,
        "c1|x",
        "list.mine",
        channel="C1",
        ts="1.2",
        ephemeral=True,
        response_url="https://hooks.slack.com/actions/T/1/abc",
    )
    assert FormState.load(state.dump()) == state
    huge = FormState(CaseAction.NOTE, 1, 1, "c", "card", response_url="u" * 4000)
    assert len(huge.dump()) <= 3000 and FormState.load(huge.dump()).response_url is None
    for foreign in ("", "{}", "[1]", '{"a": "dance", "c": 1, "v": 1, "k": "c", "s": "x"}'):
        with pytest.raises(CaseRefused):
            FormState.load(foreign)
