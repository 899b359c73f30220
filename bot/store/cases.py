"""Overage cases: opened and closed from a report, changed one version at a time, listed, and
read back with their history."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.cases import (
    FILTERS,
    Action,
    Case,
    CaseEvent,
    CaseFilter,
    Change,
    Edit,
    State,
    Surface,
    apply,
    company_key,
    listing_key,
    listing_order,
    open_case,
    resolve,
    review,
)
from bot.errors import case_refused
from bot.overage import Overage, Report, shortfall_note
from bot.store.database import Database
from bot.store.schema import CASE_EVENTS, CASES

log = logging.getLogger(__name__)

_CHUNK = 500  # rows per multi-row INSERT, well under every driver's parameter limit


@dataclass(frozen=True, slots=True)
class CaseHistory:
    """A case and every entry of its history, oldest first."""

    case: Case
    events: tuple[CaseEvent, ...]


@dataclass(frozen=True, slots=True)
class CaseSync:
    """What one report did to the cases, each list by company ID."""

    opened: tuple[Case, ...]  # companies newly over their limit
    returned: tuple[Case, ...]  # snoozes ended, overages grown beyond what was covered
    resolved: tuple[Case, ...]  # companies back under their limit


class CaseQueries(Database):
    """One case per overage episode, its changes, listings and history."""

    def sync_cases(self, report: Report, *, at: datetime) -> CaseSync:
        """Bring the cases in line with a report, in one transaction; a second call with the
        same report changes nothing. A company over its limit without an open case gets a new
        one; an open case is reviewed with the seats seen now (bot.cases.review); an open case
        whose company is not in the report is resolved, but only when the report is complete:
        when rows the platform counted could not be read (shortfall_note), nobody is taken as
        back under. `at` is aware, in the zone snooze dates are read in."""
        over = {company_key(o.company.ref): o for o in report.overages}
        with self._begin() as conn:
            current = {c.company_id: c for c in _select_cases(conn, _open(), lock=True)}
            newly = [o for ref, o in over.items() if ref not in current]
            opened = _open_cases(conn, self._insert(CASES), newly, at)
            returned = _review_cases(conn, current, over, at)
            gone = [c for ref, c in current.items() if ref not in over]
            resolved = _resolve_cases(conn, gone, at) if shortfall_note(report) is None else []
        return CaseSync(_by_company(opened), _by_company(returned), _by_company(resolved))

    def change_case(
        self, case_id: int, change: Change, edit: Edit, *, expected_version: int | None = None
    ) -> tuple[Case, CaseEvent]:
        """Make one person's change and record it, or refuse it (bot.cases.apply): a form
        passes the version it was opened on and is refused with the case as it is now
        (StaleCase) when that is not the current one; changes without a version (clicks) are
        made one after the other, each on the version the one before it left."""
        with self._begin() as conn:
            found = _select_cases(conn, CASES.c.id == case_id, lock=True)
            if not found:
                raise case_refused("missing")
            changed, event = apply(found[0], change, edit, expected_version=expected_version)
            _update_cases(conn, [changed])
            _insert_events(conn, [(case_id, event)])
        log.info(
            "case %s of company %s: %s by %s from %s, now %s (version %s)",
            case_id,
            changed.company_id,
            event.action.value,
            event.actor,
            event.surface.value,
            changed.state.value,
            changed.version,
        )
        return changed, event

    def case(self, case_id: int) -> Case | None:
        with self._read() as conn:
            found = _select_cases(conn, CASES.c.id == case_id)
        return found[0] if found else None

    def case_history(self, case_id: int) -> CaseHistory | None:
        """The case and its history, oldest entry first."""
        with self._read() as conn:
            found = _select_cases(conn, CASES.c.id == case_id)
            if not found:
                return None
            return CaseHistory(found[0], _events(conn, case_id))

    def company_case(self, company_id: str) -> CaseHistory | None:
        """A company's open case, else its latest resolved one, with its history."""
        query = (
            sa.select(CASES.c.id)
            .where(CASES.c.company_id == company_id)
            .order_by((CASES.c.state == State.RESOLVED.value), CASES.c.opened_at.desc())
            .limit(1)
        )
        with self._read() as conn:
            case_id = conn.execute(query).scalar()
        return None if case_id is None else self.case_history(case_id)

    def company_cases(self, company_ids: Sequence[str]) -> dict[str, Case]:
        """Each company's open case, else its latest resolved one, by company ID: what a
        message showing these companies shows of their cases."""
        found: dict[str, Case] = {}
        with self._read() as conn:
            for chunk in _chunks(sorted(set(company_ids))):
                condition = CASES.c.company_id.in_(list(chunk))
                for case in _select_cases(conn, condition):
                    known = found.get(case.company_id)
                    if known is None or _rank_of(case) < _rank_of(known):
                        found[case.company_id] = case
        return found

    def cases(self, which: CaseFilter = "open", *, user: str | None = None) -> list[Case]:
        """The cases of a listing, in listing order (bot.cases.listing_order): "open" (every
        state but resolved), "mine" (the open cases `user` owns), "all", or one state."""
        condition = _listing(which, user)
        with self._read() as conn:
            return sorted(_select_cases(conn, condition), key=listing_order)

    def listing(
        self, which: CaseFilter = "open", *, user: str | None = None, first: int
    ) -> tuple[list[Case], int]:
        """The first cases of a listing (as `cases` orders them) and how many it holds in
        all: thousands are sorted by the few columns the order needs, and only those shown
        are read in full."""
        condition = _listing(which, user)
        columns = (CASES.c.state, CASES.c.owner, CASES.c.seats_over, CASES.c.company_name)
        with self._read() as conn:
            keys = conn.execute(sa.select(*columns, CASES.c.id).where(condition)).all()
            chosen = [row[-1] for row in sorted(keys, key=lambda row: listing_key(*row))[:first]]
            shown = _select_cases(conn, CASES.c.id.in_(chosen)) if chosen else []
        return sorted(shown, key=listing_order), len(keys)

    def find_cases(self, text: str, which: CaseFilter = "all") -> list[Case]:
        """The cases of a listing whose company name contains text, in any letter case and
        with runs of whitespace counted as one space, as Report.find reads names."""
        needle = " ".join(text.casefold().split())
        return [
            c for c in self.cases(which) if needle in " ".join(c.company_name.casefold().split())
        ]

    # --- what billing reads: invoices, reminders, the digest and the workbook ------------------

    def invoiced_since(self, since: datetime) -> list[tuple[str, CaseEvent]]:
        """Every invoice recorded from `since` on, of any case, with its company's ID; oldest
        first."""
        query = (
            sa.select(CASES.c.company_id, CASE_EVENTS)
            .join(CASES, CASES.c.id == CASE_EVENTS.c.case_id)
            .where(CASE_EVENTS.c.action == Action.INVOICED.value, CASE_EVENTS.c.at >= since)
            .order_by(CASE_EVENTS.c.at, CASE_EVENTS.c.case_id, CASE_EVENTS.c.version)
        )
        with self._begin() as conn:
            return [(row.company_id, _event_of(row)) for row in conn.execute(query)]

    def invoiced_cases(self) -> list[tuple[Case, datetime]]:
        """The open cases that are invoiced, each with when it was invoiced last, in listing
        order."""
        last = (
            sa.select(CASE_EVENTS.c.case_id, sa.func.max(CASE_EVENTS.c.at).label("at"))
            .where(CASE_EVENTS.c.action == Action.INVOICED.value)
            .group_by(CASE_EVENTS.c.case_id)
            .subquery()
        )
        query = (
            sa.select(CASES, last.c.at.label("invoiced_at"))
            .join(last, last.c.case_id == CASES.c.id)
            .where(CASES.c.state == State.INVOICED.value)
        )
        with self._begin() as conn:
            found = [(_case_of(row), row.invoiced_at) for row in conn.execute(query)]
        return sorted(found, key=lambda pair: listing_order(pair[0]))

    def resolved_since(self, since: datetime) -> list[Case]:
        """The cases closed after `since`, the latest first."""
        query = sa.select(CASES).where(
            CASES.c.state == State.RESOLVED.value, CASES.c.closed_at > since
        )
        with self._begin() as conn:
            return sorted((_case_of(row) for row in conn.execute(query)), key=_closed_first)

    def case_histories(self, *, closed_since: datetime) -> list[CaseHistory]:
        """The open cases in listing order, then those closed from `closed_since` on, latest
        first, each with its history (oldest entry first)."""
        recent = sa.and_(CASES.c.state == State.RESOLVED.value, CASES.c.closed_at >= closed_since)
        with self._begin() as conn:
            found = _select_cases(conn, sa.or_(_open(), recent))
            events: dict[int, list[CaseEvent]] = {}
            ids = [case.id for case in found if case.id is not None]
            for chunk in _chunks(ids):
                query = (
                    sa.select(CASE_EVENTS)
                    .where(CASE_EVENTS.c.case_id.in_(chunk))
                    .order_by(CASE_EVENTS.c.case_id, CASE_EVENTS.c.version)
                )
                for row in conn.execute(query):
                    events.setdefault(row.case_id, []).append(_event_of(row))
        opened = sorted((c for c in found if c.is_open), key=listing_order)
        closed = sorted((c for c in found if not c.is_open), key=_closed_first)
        return [CaseHistory(c, tuple(events.get(c.id or 0, ()))) for c in [*opened, *closed]]


# --- reading -----------------------------------------------------------------------------------


def _rank_of(case: Case) -> tuple[bool, float]:
    """The case a company is shown by: the open one, else the latest opened."""
    return (not case.is_open, -case.opened_at.timestamp())


def _listing(which: CaseFilter, user: str | None) -> sa.ColumnElement[bool]:
    """The condition of a listing: see CaseQueries.cases."""
    if which not in FILTERS:
        raise ValueError(f"which must be one of {FILTERS}, got {which!r}")
    if which == "mine" and not user:
        raise ValueError("listing 'mine' needs the user")
    if which in ("open", "mine"):
        return _open() if which == "open" else sa.and_(_open(), CASES.c.owner == user)
    return sa.true() if which == "all" else CASES.c.state == str(which)


def _open() -> sa.ColumnElement[bool]:
    return CASES.c.state != State.RESOLVED.value


def _select_cases(
    conn: Connection, condition: sa.ColumnElement[bool], *, lock: bool = False
) -> list[Case]:
    """The cases that meet condition, by ID; locked until the transaction ends when asked
    (PostgreSQL row locks; SQLite's one writer is already alone: see schema._sqlite_on_begin)."""
    query = sa.select(CASES).where(condition).order_by(CASES.c.id)
    if lock:
        query = query.with_for_update()
    return [_case_of(row) for row in conn.execute(query)]


def _events(conn: Connection, case_id: int) -> tuple[CaseEvent, ...]:
    query = (
        sa.select(CASE_EVENTS)
        .where(CASE_EVENTS.c.case_id == case_id)
        .order_by(CASE_EVENTS.c.version)
    )
    return tuple(_event_of(row) for row in conn.execute(query))


def _case_of(row: sa.Row[Any]) -> Case:
    return Case(
        id=row.id,
        company_id=row.company_id,
        company_name=row.company_name,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        state=State(row.state),
        seats_over=row.seats_over,
        owner=row.owner,
        resume=None if row.resume is None else State(row.resume),
        invoiced_seats=row.invoiced_seats,
        invoiced_amount=_decimal(row.invoiced_amount),
        invoice_ref=row.invoice_ref,
        reason=row.reason,
        snoozed_until=row.snoozed_until,
        waived_seats=row.waived_seats,
        closed_at=row.closed_at,
        updated_by=row.updated_by,
        last_action=Action(row.last_action),
        version=row.version,
    )


def _event_of(row: sa.Row[Any]) -> CaseEvent:
    return CaseEvent(
        version=row.version,
        at=row.at,
        actor=row.actor,
        surface=Surface(row.surface),
        action=Action(row.action),
        before=State(row.from_state),
        after=State(row.to_state),
        owner=row.owner,
        seats=row.seats,
        amount=_decimal(row.amount),
        reference=row.reference,
        until=row.snoozed_until,
        text=row.text,
    )


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


# --- writing -----------------------------------------------------------------------------------


def _open_cases(
    conn: Connection, insert: Any, overages: Sequence[Overage], at: datetime
) -> list[Case]:
    """A new case for each, skipping a company another process opened one for meanwhile
    (the one open case per company is the database's rule: uq_cases_open)."""
    pairs = [
        open_case(o.company.ref, o.company.name, seats_over=o.seats_over, at=at) for o in overages
    ]
    fresh = {case.company_id: (case, event) for case, event in pairs}
    opened: list[Case] = []
    events: list[tuple[int, CaseEvent]] = []
    if not fresh:
        return opened
    # executemany, batched by SQLAlchemy's insertmanyvalues: a multi-row VALUES statement
    # built here would be compiled anew for each batch, most of the time of a first sync
    statement = insert.on_conflict_do_nothing().returning(CASES.c.id, CASES.c.company_id)
    rows = [_case_values(case) for case, _ in fresh.values()]
    for case_id, company_id in conn.execute(statement, rows):
        case, event = fresh[company_id]
        opened.append(replace(case, id=case_id))
        events.append((case_id, event))
    _insert_events(conn, events)
    return opened


def _review_cases(
    conn: Connection, current: Mapping[str, Case], over: Mapping[str, Overage], at: datetime
) -> list[Case]:
    """Each open case of a company still over, with what is seen now; those that returned."""
    updates: list[Case] = []
    returned: list[Case] = []
    events: list[tuple[int, CaseEvent]] = []
    for company_id, case in current.items():
        overage = over.get(company_id)
        if overage is None or case.id is None:
            continue
        reviewed, changes = review(
            case, seats_over=overage.seats_over, company_name=overage.company.name, at=at
        )
        if reviewed != case:
            updates.append(reviewed)
        if changes:
            returned.append(reviewed)
            events += [(case.id, event) for event in changes]
    _update_cases(conn, updates)
    _insert_events(conn, events)
    return returned


def _resolve_cases(conn: Connection, cases: Sequence[Case], at: datetime) -> list[Case]:
    resolutions = [(case.id, *resolve(case, at=at)) for case in cases if case.id is not None]
    _update_cases(conn, [case for _, case, _ in resolutions])
    _insert_events(conn, [(case_id, event) for case_id, _, event in resolutions])
    return [case for _, case, _ in resolutions]


def _update_cases(conn: Connection, cases: Sequence[Case]) -> None:
    """Write the cases back, by ID: rows the transaction holds locked (_select_cases)."""
    if cases:
        statement = sa.update(CASES).where(CASES.c.id == sa.bindparam("case_id"))
        conn.execute(statement, [{"case_id": case.id, **_case_values(case)} for case in cases])


def _insert_events(conn: Connection, events: Sequence[tuple[int, CaseEvent]]) -> None:
    if events:
        conn.execute(sa.insert(CASE_EVENTS), [_event_values(i, event) for i, event in events])


def _case_values(case: Case) -> dict[str, Any]:
    return {
        "company_id": case.company_id,
        "company_name": case.company_name,
        "opened_at": case.opened_at,
        "state": case.state.value,
        "seats_over": case.seats_over,
        "owner": case.owner,
        "resume": None if case.resume is None else case.resume.value,
        "invoiced_seats": case.invoiced_seats,
        "invoiced_amount": _text(case.invoiced_amount),
        "invoice_ref": case.invoice_ref,
        "reason": case.reason,
        "snoozed_until": case.snoozed_until,
        "waived_seats": case.waived_seats,
        "closed_at": case.closed_at,
        "updated_at": case.updated_at,
        "updated_by": case.updated_by,
        "last_action": case.last_action.value,
        "version": case.version,
    }


def _event_values(case_id: int, event: CaseEvent) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "version": event.version,
        "at": event.at,
        "actor": event.actor,
        "surface": event.surface.value,
        "action": event.action.value,
        "from_state": event.before.value,
        "to_state": event.after.value,
        "owner": event.owner,
        "seats": event.seats,
        "amount": _text(event.amount),
        "reference": event.reference,
        "snoozed_until": event.until,
        "text": event.text,
    }


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)


def _closed_first(case: Case) -> tuple[float, int]:
    """Sort key of closed cases: the latest closed first."""
    return (-(case.closed_at.timestamp() if case.closed_at else 0.0), case.id or 0)


def _by_company(cases: Sequence[Case]) -> tuple[Case, ...]:
    return tuple(sorted(cases, key=lambda case: case.company_id))


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
