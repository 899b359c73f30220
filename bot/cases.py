"""Pure overage cases: states, the changes people make and the ones the platform's data
makes, each with its history entry and a new version; who may change a case.

A case is one overage episode of one company: opened when it goes over its limit, resolved by
itself when it comes back under. In between people move it along (new → contacted → invoiced),
or park it: snoozed until a date, or waived; a parked case returns to its earlier state when the
date passes or its overage grows beyond what was invoiced or waived. Every change that is
recorded makes a CaseEvent and raises the case's version by one, so a form opened on one
version is refused once the case has moved on (StaleCase).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from bot.errors import CaseChanged, case_refused

SYSTEM = "system"  # the actor of the changes the bot makes by itself
MOST_SEATS = 10**9
AMOUNT_PLACES = 4
MOST_AMOUNT = Decimal(10) ** 12
MOST_TEXT = 3000  # a note or a reason: what a Slack plain-text input takes
MOST_REFERENCE = 100
# NUL and lone surrogates: no database's text holds them (PostgreSQL refuses NUL, UTF-8 has
# no surrogates), so text from people or the platform has them replaced before it is kept
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class State(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    INVOICED = "invoiced"
    SNOOZED = "snoozed"
    WAIVED = "waived"
    RESOLVED = "resolved"


OPEN_STATES = frozenset(State) - {State.RESOLVED}


class Surface(StrEnum):
    """Where a change was made."""

    MESSAGE = "message"  # a button or menu on a message
    MODAL = "modal"
    HOME = "home"
    COMMAND = "command"
    SYSTEM = "system"  # the bot, from the platform's data
    UPGRADE = "upgrade"  # the database upgrade that opened cases for the open alert episodes


class Action(StrEnum):
    OPENED = "opened"
    ASSIGNED = "assigned"
    CONTACTED = "contacted"
    INVOICED = "invoiced"
    SNOOZED = "snoozed"
    WAIVED = "waived"
    NOTED = "noted"
    WOKE = "woke"  # the snooze date came, or the overage grew beyond what was invoiced
    GREW = "grew"  # the overage grew beyond what was waived or invoiced
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Case:
    """One overage episode of one company, as it stands."""

    company_id: str
    company_name: str  # the platform's, as last seen: hostile text
    opened_at: datetime
    updated_at: datetime
    state: State = State.NEW
    seats_over: int | None = None  # as last seen; None: limit unknown
    owner: str | None = None  # a Slack user ID
    resume: State | None = None  # the state a snoozed or waived case returns to
    invoiced_seats: int | None = None
    invoiced_amount: Decimal | None = None
    invoice_ref: str = ""
    reason: str = ""  # why it is snoozed or waived
    snoozed_until: date | None = None
    waived_seats: int | None = None  # the seats over when it was waived
    closed_at: datetime | None = None
    updated_by: str = SYSTEM
    last_action: Action = Action.OPENED
    version: int = 1
    id: int | None = None  # the store's; None before it is saved

    @property
    def is_open(self) -> bool:
        return self.state is not State.RESOLVED


@dataclass(frozen=True, slots=True)
class CaseEvent:
    """One entry of a case's history: who did what, when, from where, and what it made of it."""

    version: int  # the case's version this change made
    at: datetime
    actor: str  # a Slack user ID, or SYSTEM
    surface: Surface
    action: Action
    before: State
    after: State
    owner: str | None = None  # assigned: the new owner (None: nobody)
    seats: int | None = None  # opened, grew: seats over; invoiced: seats invoiced
    amount: Decimal | None = None  # invoiced
    reference: str = ""  # invoiced
    until: date | None = None  # snoozed
    text: str = ""  # a note, or the reason of a snooze or waiver


# --- the changes people make -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Assign:
    owner: str | None  # None: nobody


@dataclass(frozen=True, slots=True)
class MarkContacted:
    pass


@dataclass(frozen=True, slots=True)
class MarkInvoiced:
    seats: int
    amount: Decimal
    reference: str


@dataclass(frozen=True, slots=True)
class Snooze:
    until: date
    reason: str


@dataclass(frozen=True, slots=True)
class Waive:
    reason: str


@dataclass(frozen=True, slots=True)
class AddNote:
    text: str


Change = Assign | MarkContacted | MarkInvoiced | Snooze | Waive | AddNote


@dataclass(frozen=True, slots=True)
class Edit:
    """Who makes a change, from where, and when: `at` is aware, in the zone whose calendar
    snooze dates are read in (its date is "today")."""

    actor: str
    surface: Surface
    at: datetime


class StaleCase(CaseChanged):
    """Refused: the form was opened on an older version; `current` is the case as it is now."""

    def __init__(self, current: Case) -> None:
        super().__init__(
            CaseChanged.sentence(
                by=current.updated_by,
                state=current.state.value,
                system=current.updated_by == SYSTEM,
            )
        )
        self.current = current


def apply(
    case: Case, change: Change, edit: Edit, *, expected_version: int | None = None
) -> tuple[Case, CaseEvent]:
    """The case after a person's change, and its history entry.

    expected_version is the version a form was opened on: any other is refused (StaleCase).
    Clicks pass None and are recorded in the order they arrive. A change the case cannot take
    is refused with a sentence (CaseRefused)."""
    if expected_version is not None and expected_version != case.version:
        raise StaleCase(case)
    if not case.is_open and not isinstance(change, AddNote):
        closed = case.closed_at
        day = closed.astimezone(edit.at.tzinfo).date().isoformat() if closed else "an earlier day"
        raise case_refused("resolved", day=day)
    changed, event = _change(case, change, edit)
    return _record(changed, event)


def _change(case: Case, change: Change, edit: Edit) -> tuple[Case, CaseEvent]:
    event = _event(case, edit)
    match change:
        case Assign(owner=owner):
            return _assign(case, owner, event)
        case MarkContacted():
            _refuse_from(case, {State.INVOICED}, "marked contacted")
            return _unparked(case, State.CONTACTED), replace(event, action=Action.CONTACTED)
        case MarkInvoiced():
            return _invoice(case, change, event)
        case Snooze():
            return _snooze(case, change, edit, event)
        case Waive(reason=reason):
            return _waive(case, _reason(reason, "waived"), event)
        case AddNote(text=text):
            return case, replace(event, action=Action.NOTED, text=_note(text))


def _event(case: Case, edit: Edit) -> CaseEvent:
    """The entry a change starts from; its action and what it made are filled in after."""
    return CaseEvent(
        version=case.version + 1,
        at=edit.at,
        actor=edit.actor,
        surface=edit.surface,
        action=Action.NOTED,
        before=case.state,
        after=case.state,
    )


def _record(case: Case, event: CaseEvent) -> tuple[Case, CaseEvent]:
    """The case at the event's version, stamped with it; the event with the state it left."""
    recorded = replace(
        case,
        version=event.version,
        updated_at=event.at,
        updated_by=event.actor,
        last_action=event.action,
    )
    return recorded, replace(event, after=recorded.state)


def _refuse_from(case: Case, states: Collection[State], done: str) -> None:
    if case.state in states:
        raise case_refused("state", state=case.state.value, done=done)


def _unparked(case: Case, state: State) -> Case:
    """The case in `state`, no longer snoozed or waived."""
    return replace(case, state=state, resume=None, reason="", snoozed_until=None, waived_seats=None)


def _assign(case: Case, owner: str | None, event: CaseEvent) -> tuple[Case, CaseEvent]:
    if owner is not None and not (owner.isascii() and owner.isalnum()):
        raise case_refused("owner")
    return replace(case, owner=owner), replace(event, action=Action.ASSIGNED, owner=owner)


def _invoice(case: Case, change: MarkInvoiced, event: CaseEvent) -> tuple[Case, CaseEvent]:
    seats, amount = change.seats, change.amount
    if isinstance(seats, bool) or not 1 <= seats <= MOST_SEATS:
        raise case_refused("seats", most=MOST_SEATS, value=seats)
    if not _is_amount(amount):
        raise case_refused("amount", places=AMOUNT_PLACES, value=amount)
    reference = storable(change.reference).strip()
    if not reference:
        raise case_refused("reference")
    if len(reference) > MOST_REFERENCE:
        raise case_refused("long", field="invoice reference", most=MOST_REFERENCE)
    invoiced = replace(
        _unparked(case, State.INVOICED),
        invoiced_seats=seats,
        invoiced_amount=amount,
        invoice_ref=reference,
    )
    return invoiced, replace(
        event, action=Action.INVOICED, seats=seats, amount=amount, reference=reference
    )


def _is_amount(amount: Decimal) -> bool:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        return False
    exponent = amount.as_tuple().exponent
    return 0 <= amount < MOST_AMOUNT and isinstance(exponent, int) and exponent >= -AMOUNT_PLACES


def _snooze(case: Case, change: Snooze, edit: Edit, event: CaseEvent) -> tuple[Case, CaseEvent]:
    _refuse_from(case, {State.WAIVED}, "snoozed")
    today = edit.at.date()
    if change.until <= today:
        raise case_refused("until", today=today.isoformat(), until=change.until.isoformat())
    reason = _reason(change.reason, "snoozed")
    snoozed = replace(
        case,
        state=State.SNOOZED,
        resume=_earlier(case),
        reason=reason,
        snoozed_until=change.until,
        waived_seats=None,
    )
    return snoozed, replace(event, action=Action.SNOOZED, until=change.until, text=reason)


def _waive(case: Case, reason: str, event: CaseEvent) -> tuple[Case, CaseEvent]:
    _refuse_from(case, {State.WAIVED}, "waived again")
    waived = replace(
        case,
        state=State.WAIVED,
        resume=_earlier(case),
        reason=reason,
        snoozed_until=None,
        waived_seats=case.seats_over,
    )
    return waived, replace(event, action=Action.WAIVED, seats=case.seats_over, text=reason)


def _earlier(case: Case) -> State:
    """The state a case being parked returns to: a snoozed one keeps the one it had."""
    if case.state is State.SNOOZED and case.resume is not None:
        return case.resume
    return case.state


def storable(text: str) -> str:
    """Text as a case keeps it: NUL and lone surrogates replaced by U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", text)


def company_key(ref: str) -> str:
    """The company ID a case is kept under, for a company's ref."""
    return storable(ref)


def _reason(text: str, done: str) -> str:
    reason = storable(text).strip()
    if not reason:
        raise case_refused("reason", done=done)
    return _fits(reason, "reason")


def _note(text: str) -> str:
    note = storable(text).strip()
    if not note:
        raise case_refused("note")
    return _fits(note, "note")


def _fits(text: str, field: str) -> str:
    if len(text) > MOST_TEXT:
        raise case_refused("long", field=field, most=MOST_TEXT)
    return text


# --- the changes the platform's data makes -----------------------------------------------------


def open_case(
    company_id: str, company_name: str, *, seats_over: int | None, at: datetime
) -> tuple[Case, CaseEvent]:
    """A new case for a company that has gone over its limit: version 1, its first entry.
    company_id is the company's ref (Company.ref), kept as company_key has it."""
    case = Case(
        company_id=company_key(company_id),
        company_name=storable(company_name),
        opened_at=at,
        updated_at=at,
        seats_over=seats_over,
    )
    opened = CaseEvent(
        version=1,
        at=at,
        actor=SYSTEM,
        surface=Surface.SYSTEM,
        action=Action.OPENED,
        before=State.NEW,
        after=State.NEW,
        seats=seats_over,
    )
    return case, opened


def resolve(case: Case, *, at: datetime) -> tuple[Case, CaseEvent]:
    """The case closed as resolved: its company is back under its limit."""
    event = replace(_event(case, Edit(SYSTEM, Surface.SYSTEM, at)), action=Action.RESOLVED)
    return _record(replace(_unparked(case, State.RESOLVED), closed_at=at), event)


def review(
    case: Case, *, seats_over: int | None, company_name: str, at: datetime
) -> tuple[Case, list[CaseEvent]]:
    """The case after a new sighting of its company, still over its limit: the seats and name
    as seen now (recorded without an entry), then a snooze whose date came (`at`'s date) wakes,
    and a case whose overage grew beyond what was waived or invoiced returns to its earlier
    state (an invoiced one to contacted: the invoice no longer covers it). Each return is an
    entry and a new version; a closed case is left as it is."""
    if not case.is_open:
        return case, []
    current = replace(case, seats_over=seats_over, company_name=storable(company_name))
    events: list[CaseEvent] = []
    while (step := _next_return(current, at)) is not None:
        current, event = step
        events.append(event)
    return current, events


def _next_return(case: Case, at: datetime) -> tuple[Case, CaseEvent] | None:
    """The one return due now, if any, recorded."""
    seats, earlier = case.seats_over, case.resume or State.NEW
    event = replace(_event(case, Edit(SYSTEM, Surface.SYSTEM, at)), seats=seats)
    if case.state is State.SNOOZED and _snooze_over(case, at):
        woke = replace(event, action=Action.WOKE, until=case.snoozed_until)
        return _record(_unparked(case, earlier), woke)
    if case.state is State.WAIVED and _beyond(seats, case.waived_seats):
        return _record(_unparked(case, earlier), replace(event, action=Action.GREW))
    if case.state is State.INVOICED and _beyond(seats, case.invoiced_seats):
        return _record(replace(case, state=State.CONTACTED), replace(event, action=Action.GREW))
    return None


def _snooze_over(case: Case, at: datetime) -> bool:
    """The snooze's date came, or the invoice it returns to no longer covers the overage."""
    if case.snoozed_until is not None and at.date() >= case.snoozed_until:
        return True
    return case.resume is State.INVOICED and _beyond(case.seats_over, case.invoiced_seats)


def _beyond(seats: int | None, covered: int | None) -> bool:
    """More seats over than those covered, when they are known: a waiver made while the limit
    could not be read covers no seat, so a known overage later brings the case back."""
    return seats is not None and seats > (covered or 0)


# --- listing and who may change a case ---------------------------------------------------------

CaseFilter = State | Literal["open", "mine", "all"]
FILTERS: tuple[str, ...] = ("open", "mine", "all", *(state.value for state in State))


def listing_order(case: Case) -> tuple[bool, bool, int, str, int]:
    """Sort key of a listing: new and unowned first, then the biggest overage, "limit unknown"
    last, then by name."""
    return listing_key(case.state, case.owner, case.seats_over, case.company_name, case.id or 0)


def listing_key(
    state: str, owner: str | None, seats_over: int | None, company_name: str, case_id: int
) -> tuple[bool, bool, int, str, int]:
    """listing_order of a case known only by these (a listing sorts thousands by them before
    it reads the few it shows in full)."""
    unattended = state == State.NEW and owner is None
    return (
        not unattended,
        seats_over is None,
        -(seats_over or 0),
        company_name.casefold(),
        case_id,
    )


def may_edit(user: str, *, editors: Collection[str], allowed: Collection[str]) -> bool:
    """CASE_EDITOR_IDS decides; unset, the allowed users (ALLOWED_USER_IDS); with no allow-list,
    everyone."""
    if editors:
        return user in editors
    return not allowed or user in allowed
