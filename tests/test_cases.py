"""Overage cases, the pure model: each change from each state, the refusals with their
sentence, what a new sighting does to a parked case, versions, listing order, editors."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.cases import (
    FILTERS,
    MOST_TEXT,
    SYSTEM,
    Action,
    AddNote,
    Assign,
    Case,
    Change,
    Edit,
    MarkContacted,
    MarkInvoiced,
    Snooze,
    StaleCase,
    State,
    Surface,
    Waive,
    apply,
    listing_order,
    may_edit,
    open_case,
    resolve,
    review,
)
from bot.errors import BotError, CaseChanged, CaseRefused, NotAllowed, case_edit_refused

ZONE = ZoneInfo("Europe/Istanbul")  # UTC+3 all year
OPENED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
AT = datetime(2026, 12, 1, 10, 0, tzinfo=ZONE)
EDIT = Edit("U0ALICE", Surface.MODAL, AT)


def case(state: State = State.NEW, **fields: Any) -> Case:
    """A case of 40 seats over at version 3, in `state` with the fields that state carries."""
    parked: dict[State, dict[str, Any]] = {
        State.INVOICED: {
            "invoiced_seats": 40,
            "invoiced_amount": Decimal("180.00"),
            "invoice_ref": "INV-1",
        },
        State.SNOOZED: {
            "resume": State.CONTACTED,
            "reason": "renewal talks",
            "snoozed_until": date(2026, 12, 5),
        },
        State.WAIVED: {"resume": State.CONTACTED, "reason": "goodwill", "waived_seats": 40},
        State.RESOLVED: {"closed_at": datetime(2026, 11, 30, 22, 0, tzinfo=UTC)},
    }
    values: dict[str, Any] = {
        "company_id": "c1",
        "company_name": "Acme",
        "opened_at": OPENED,
        "updated_at": OPENED,
        "state": state,
        "seats_over": 40,
        "version": 3,
        "id": 7,
        **parked.get(state, {}),
        **fields,
    }
    return Case(**values)


INVOICE = MarkInvoiced(seats=40, amount=Decimal("180.00"), reference=" INV-7 ")
SNOOZE = Snooze(until=date(2026, 12, 15), reason=" customer renewing ")


# --- what people do ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "change", "state", "action", "resume"),
    [
        (case(), Assign("U0BOB"), State.NEW, Action.ASSIGNED, None),
        (case(State.INVOICED), Assign(None), State.INVOICED, Action.ASSIGNED, None),
        (case(), MarkContacted(), State.CONTACTED, Action.CONTACTED, None),
        (case(State.CONTACTED), MarkContacted(), State.CONTACTED, Action.CONTACTED, None),
        (case(State.SNOOZED), MarkContacted(), State.CONTACTED, Action.CONTACTED, None),
        (
            case(State.WAIVED, resume=State.INVOICED),
            MarkContacted(),
            State.CONTACTED,
            Action.CONTACTED,
            None,
        ),
        (case(), INVOICE, State.INVOICED, Action.INVOICED, None),
        (case(State.INVOICED), INVOICE, State.INVOICED, Action.INVOICED, None),
        (case(State.WAIVED), INVOICE, State.INVOICED, Action.INVOICED, None),
        (case(State.SNOOZED), INVOICE, State.INVOICED, Action.INVOICED, None),
        (case(), SNOOZE, State.SNOOZED, Action.SNOOZED, State.NEW),
        (case(State.INVOICED), SNOOZE, State.SNOOZED, Action.SNOOZED, State.INVOICED),
        # snoozed again: the new date, the same state to return to
        (
            case(State.SNOOZED, resume=State.INVOICED),
            SNOOZE,
            State.SNOOZED,
            Action.SNOOZED,
            State.INVOICED,
        ),
        (case(State.CONTACTED), Waive("goodwill"), State.WAIVED, Action.WAIVED, State.CONTACTED),
        (case(State.SNOOZED), Waive("goodwill"), State.WAIVED, Action.WAIVED, State.CONTACTED),
        (case(State.INVOICED), AddNote("called"), State.INVOICED, Action.NOTED, None),
        (case(State.SNOOZED), AddNote("called"), State.SNOOZED, Action.NOTED, State.CONTACTED),
        (case(State.RESOLVED), AddNote("paid"), State.RESOLVED, Action.NOTED, None),
    ],
)
def test_a_change_moves_the_case_and_records_who_what_when_and_where(
    start: Case, change: Change, state: State, action: Action, resume: State | None
) -> None:
    changed, event = apply(start, change, EDIT)

    assert (changed.state, changed.resume) == (state, resume)
    assert changed.version == event.version == start.version + 1
    assert (changed.updated_at, changed.updated_by, changed.last_action) == (
        AT,
        "U0ALICE",
        action,
    )
    assert (event.at, event.actor, event.surface, event.action) == (
        AT,
        "U0ALICE",
        Surface.MODAL,
        action,
    )
    assert (event.before, event.after) == (start.state, state)
    assert (changed.company_id, changed.opened_at, changed.id) == ("c1", OPENED, 7)


def test_each_change_keeps_what_it_was_given() -> None:
    invoiced, invoicing = apply(case(State.SNOOZED), INVOICE, EDIT)
    snoozed, snoozing = apply(case(State.INVOICED), SNOOZE, EDIT)
    waived, waiving = apply(case(State.SNOOZED, seats_over=55), Waive(" goodwill\n"), EDIT)
    owned, assigning = apply(case(), Assign("U0BOB"), EDIT)
    noted, noting = apply(case(), AddNote("  <!channel> *hi* =SUM(A1) \u202e "), EDIT)

    assert (invoiced.invoiced_seats, invoiced.invoiced_amount, invoiced.invoice_ref) == (
        40,
        Decimal("180.00"),
        "INV-7",
    )
    assert (invoicing.seats, invoicing.amount, invoicing.reference) == (40, Decimal("180"), "INV-7")
    assert (invoiced.snoozed_until, invoiced.reason) == (None, "")  # no longer snoozed
    assert (snoozed.snoozed_until, snoozed.reason) == (date(2026, 12, 15), "customer renewing")
    assert (snoozing.until, snoozing.text) == (date(2026, 12, 15), "customer renewing")
    assert snoozed.invoiced_seats == 40  # what was invoiced stays on the case
    assert (waived.waived_seats, waived.reason, waived.snoozed_until) == (55, "goodwill", None)
    assert (waiving.seats, waiving.text) == (55, "goodwill")
    assert (owned.owner, assigning.owner) == ("U0BOB", "U0BOB")
    assert noting.text == "<!channel> *hi* =SUM(A1) \u202e"  # kept as written; shown escaped
    assert noted == replace(
        case(), version=4, updated_at=AT, updated_by="U0ALICE", last_action=Action.NOTED
    )


@pytest.mark.parametrize(
    ("start", "change", "sentence"),
    [
        (
            case(State.RESOLVED),
            Assign("U0BOB"),
            "This case was resolved on 2026-12-01, when the company came back under its limit.",
        ),
        (case(State.RESOLVED), MarkContacted(), "resolved on 2026-12-01"),  # Istanbul's date
        (case(State.RESOLVED), SNOOZE, "resolved on"),
        (
            case(State.INVOICED),
            MarkContacted(),
            "A case that is invoiced cannot be marked contacted.",
        ),
        (case(State.WAIVED), Waive("again"), "A case that is waived cannot be waived again."),
        (case(State.WAIVED), SNOOZE, "A case that is waived cannot be snoozed."),
        (
            case(),
            replace(INVOICE, seats=0),
            "The invoiced seats must be a whole number from 1 to 1,000,000,000, got 0.",
        ),
        (case(), replace(INVOICE, seats=-3), "got -3."),
        (case(), replace(INVOICE, seats=10**9 + 1), "got 1000000001."),
        (case(), replace(INVOICE, seats=True), "got True."),
        (
            case(),
            replace(INVOICE, amount=Decimal("-0.01")),
            "The invoiced amount must be a sum like 180.00 (at most 4 decimals), got -0.01.",
        ),
        (case(), replace(INVOICE, amount=Decimal("NaN")), "got NaN."),
        (case(), replace(INVOICE, amount=Decimal("Infinity")), "got Infinity."),
        (case(), replace(INVOICE, amount=Decimal("1.00001")), "got 1.00001."),
        (case(), replace(INVOICE, amount=Decimal(10) ** 12), "got 1000000000000."),
        (case(), replace(INVOICE, reference=" \t"), "An invoice needs its reference."),
        (
            case(),
            replace(INVOICE, reference="x" * 101),
            "The invoice reference is longer than 100 characters.",
        ),
        (
            case(),
            replace(SNOOZE, until=date(2026, 12, 1)),
            "A snooze must end after today (2026-12-01), got 2026-12-01.",
        ),
        (case(), replace(SNOOZE, until=date(2025, 1, 1)), "got 2025-01-01."),
        (case(), replace(SNOOZE, reason="  "), "A case is snoozed only with a reason."),
        (case(), Waive("\n"), "A case is waived only with a reason."),
        (case(), Waive("x" * (MOST_TEXT + 1)), "The reason is longer than 3,000 characters."),
        (case(), AddNote(" \t "), "A note needs some text."),
        (case(), AddNote("x" * (MOST_TEXT + 1)), "The note is longer than 3,000 characters."),
        (case(), Assign("<!channel>"), "A case's owner must be a Slack user."),
        (case(), Assign("U0 BOB"), "must be a Slack user"),
        (case(), Assign("Ü1"), "must be a Slack user"),
        (case(), Assign(""), "must be a Slack user"),
    ],
)
def test_a_change_the_case_cannot_take_is_one_sentence_with_what_to_do(
    start: Case, change: Change, sentence: str
) -> None:
    with pytest.raises(CaseRefused) as refused:
        apply(start, change, EDIT)

    message = refused.value.for_user()
    assert sentence in message
    assert message.count(". ") == 1  # what happened, then what to do
    assert "\n" not in message


def test_the_longest_text_allowed_is_kept_whole() -> None:
    _, noting = apply(case(), AddNote("x" * MOST_TEXT), EDIT)
    _, invoicing = apply(case(), replace(INVOICE, reference="r" * 100), EDIT)

    assert len(noting.text) == MOST_TEXT
    assert len(invoicing.reference) == 100


# --- two people at once ------------------------------------------------------------------------


def test_a_form_opened_on_an_older_version_is_refused_with_the_case_as_it_is_now() -> None:
    current = case(State.CONTACTED, updated_by="U0BOB", last_action=Action.CONTACTED)

    with pytest.raises(StaleCase) as stale:
        apply(current, INVOICE, EDIT, expected_version=2)

    assert stale.value.current == current
    assert isinstance(stale.value, CaseChanged) and isinstance(stale.value, BotError)
    assert stale.value.for_user() == (
        "This case was changed by <@U0BOB> after you opened the form: it is contacted now. "
        "Open the form again to see the case as it is now, then make your change."
    )
    changed, _ = apply(current, INVOICE, EDIT, expected_version=3)
    assert changed.version == 4


def test_a_case_the_bot_changed_says_so_when_a_form_is_stale() -> None:
    woke, _ = review(case(State.SNOOZED), seats_over=40, company_name="Acme", at=AT + timedelta(5))

    with pytest.raises(StaleCase, match=r"changed by the bot .*: it is contacted now"):
        apply(woke, MarkContacted(), EDIT, expected_version=3)


def test_clicks_without_a_version_are_each_recorded_in_turn() -> None:
    first, one = apply(case(), Assign("U0ALICE"), EDIT)
    second, two = apply(first, Assign("U0BOB"), replace(EDIT, actor="U0BOB"))

    assert [one.version, two.version] == [4, 5]
    assert (second.owner, second.updated_by) == ("U0BOB", "U0BOB")


# --- what the platform's data does -------------------------------------------------------------


def test_a_case_opens_new_at_version_one_with_its_first_entry() -> None:
    opened, event = open_case("c9", '=HYPERLINK("x")', seats_over=None, at=OPENED)

    assert (opened.state, opened.version, opened.seats_over, opened.owner) == (
        State.NEW,
        1,
        None,
        None,
    )
    assert opened.company_name == '=HYPERLINK("x")'
    assert (event.version, event.action, event.actor, event.surface) == (
        1,
        Action.OPENED,
        SYSTEM,
        Surface.SYSTEM,
    )


@pytest.mark.parametrize("state", [State.NEW, State.INVOICED, State.SNOOZED, State.WAIVED])
def test_back_under_resolves_the_case_by_itself_with_the_date(state: State) -> None:
    closed_at = datetime(2026, 12, 2, 9, tzinfo=UTC)
    resolved, event = resolve(case(state, owner="U0BOB"), at=closed_at)

    assert (resolved.state, resolved.closed_at, resolved.version) == (
        State.RESOLVED,
        closed_at,
        4,
    )
    assert (resolved.snoozed_until, resolved.resume, resolved.owner) == (None, None, "U0BOB")
    assert (event.action, event.before, event.after, event.actor) == (
        Action.RESOLVED,
        state,
        State.RESOLVED,
        SYSTEM,
    )
    assert not resolved.is_open


SNOOZED_INVOICE = case(
    State.SNOOZED,
    resume=State.INVOICED,
    invoiced_seats=40,
    invoiced_amount=Decimal("180"),
    invoice_ref="INV-1",
)
WAIVED_INVOICE = case(State.WAIVED, resume=State.INVOICED, invoiced_seats=45, waived_seats=40)


@pytest.mark.parametrize(
    ("start", "seats", "at", "state", "actions"),
    [
        (case(), 55, AT, State.NEW, []),
        (case(State.CONTACTED), None, AT, State.CONTACTED, []),
        # a snooze ends on its date, in the zone `at` is in: 00:30 in Istanbul is the 5th
        (case(State.SNOOZED), 40, datetime(2026, 12, 4, 23, 59, tzinfo=ZONE), State.SNOOZED, []),
        (
            case(State.SNOOZED),
            40,
            datetime(2026, 12, 5, 0, 30, tzinfo=ZONE),
            State.CONTACTED,
            [Action.WOKE],
        ),
        (case(State.SNOOZED), 99, AT, State.SNOOZED, []),  # nothing invoiced to outgrow
        (SNOOZED_INVOICE, 40, AT, State.SNOOZED, []),
        (SNOOZED_INVOICE, 41, AT, State.CONTACTED, [Action.WOKE, Action.GREW]),
        (
            replace(SNOOZED_INVOICE, snoozed_until=date(2026, 12, 1)),
            40,
            AT,
            State.INVOICED,
            [Action.WOKE],
        ),
        (case(State.WAIVED), 40, AT, State.WAIVED, []),
        (case(State.WAIVED), 41, AT, State.CONTACTED, [Action.GREW]),
        (case(State.WAIVED), None, AT, State.WAIVED, []),
        (case(State.WAIVED, resume=State.NEW), 41, AT, State.NEW, [Action.GREW]),
        (WAIVED_INVOICE, 42, AT, State.INVOICED, [Action.GREW]),
        (WAIVED_INVOICE, 50, AT, State.CONTACTED, [Action.GREW, Action.GREW]),
        # waived while the limit could not be read: a known overage later brings it back
        (case(State.WAIVED, waived_seats=None, seats_over=None), None, AT, State.WAIVED, []),
        (case(State.WAIVED, waived_seats=None), 3, AT, State.CONTACTED, [Action.GREW]),
        (case(State.INVOICED), 40, AT, State.INVOICED, []),
        (case(State.INVOICED), 39, AT, State.INVOICED, []),
        (case(State.INVOICED), None, AT, State.INVOICED, []),
        (case(State.INVOICED), 41, AT, State.CONTACTED, [Action.GREW]),
        (case(State.RESOLVED), 90, AT, State.RESOLVED, []),
    ],
)
def test_a_sighting_returns_a_parked_case_when_its_date_comes_or_it_outgrows_its_cover(
    start: Case, seats: int | None, at: datetime, state: State, actions: list[Action]
) -> None:
    reviewed, events = review(start, seats_over=seats, company_name="Acme Renamed", at=at)

    assert reviewed.state == state
    assert [e.action for e in events] == actions
    assert [e.version for e in events] == [start.version + n for n in range(1, len(events) + 1)]
    assert reviewed.version == start.version + len(events)
    assert all(e.actor == SYSTEM and e.surface == Surface.SYSTEM for e in events)
    assert all(e.seats == seats for e in events)
    assert [e.after for e in events][-1:] == ([state] if events else [])
    if start.is_open:
        assert (reviewed.seats_over, reviewed.company_name) == (seats, "Acme Renamed")
    if events and state is not State.SNOOZED:
        assert (reviewed.snoozed_until, reviewed.resume, reviewed.waived_seats) == (
            None,
            None,
            None,
        )


def test_seats_and_name_seen_anew_are_no_change_of_version() -> None:
    reviewed, events = review(case(State.CONTACTED), seats_over=77, company_name="New", at=AT)

    assert events == []
    assert reviewed == replace(case(State.CONTACTED), seats_over=77, company_name="New")


def test_an_invoice_outgrown_keeps_what_was_invoiced() -> None:
    reviewed, _ = review(case(State.INVOICED), seats_over=41, company_name="Acme", at=AT)

    assert (reviewed.invoiced_seats, reviewed.invoiced_amount, reviewed.invoice_ref) == (
        40,
        Decimal("180.00"),
        "INV-1",
    )


# --- listing and editors -----------------------------------------------------------------------


def test_a_listing_puts_new_unowned_cases_first_then_the_biggest_overages() -> None:
    cases = [
        case(State.CONTACTED, company_name="Contacted 90", seats_over=90, id=1),
        case(company_name="New owned 80", seats_over=80, owner="U1", id=2),
        case(company_name="New 5", seats_over=5, id=3),
        case(company_name="New unknown", seats_over=None, id=4),
        case(company_name="New 50", seats_over=50, id=5),
        case(State.WAIVED, company_name="Waived unknown", seats_over=None, id=6),
        case(company_name="new 5 b", seats_over=5, id=7),
    ]

    ordered = sorted(reversed(cases), key=listing_order)

    assert [c.company_name for c in ordered] == [
        "New 50",
        "New 5",
        "new 5 b",
        "New unknown",
        "Contacted 90",
        "New owned 80",
        "Waived unknown",
    ]


def test_filters_are_the_open_mine_all_and_each_state() -> None:
    assert FILTERS == (
        "open",
        "mine",
        "all",
        "new",
        "contacted",
        "invoiced",
        "snoozed",
        "waived",
        "resolved",
    )


@pytest.mark.parametrize(
    ("user", "editors", "allowed", "may"),
    [
        ("U1", {"U1"}, {"U1", "U2"}, True),
        ("U2", {"U1"}, {"U1", "U2"}, False),  # CASE_EDITOR_IDS decides when set
        ("U3", {"U3"}, {"U2"}, True),
        ("U2", set(), {"U2"}, True),  # unset: the allowed users
        ("U3", set(), {"U2"}, False),
        ("U9", set(), set(), True),  # no allow-list: everyone
        ("", {"U1"}, set(), False),
    ],
)
def test_who_may_change_a_case(user: str, editors: set[str], allowed: set[str], may: bool) -> None:
    assert may_edit(user, editors=frozenset(editors), allowed=frozenset(allowed)) is may


def test_a_refused_editor_gets_one_sentence_naming_the_setting() -> None:
    refused = case_edit_refused()

    assert isinstance(refused, NotAllowed)
    assert refused.for_user() == (
        "Only the people in CASE_EDITOR_IDS can change overage cases. "
        "Ask whoever runs the bot to add you there."
    )
