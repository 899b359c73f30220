"""Pure digest model: what a digest saw (Snapshot) and what changed since the last (DigestDiff),
with the overage cases grouped by what needs doing (CaseGroups)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.cases import Case, State, listing_order
from bot.overage import Overage, Report


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    """One over-limit company as a digest saw it; keyed by company ID, never by name."""

    company_id: str
    name: str
    limit: int | None
    target_users: int
    seats_over: int | None  # None = limit unknown


@dataclass(frozen=True, slots=True)
class Snapshot:
    taken_at: datetime
    rows: tuple[SnapshotRow, ...]

    @property
    def companies_over(self) -> int:
        return len(self.rows)

    @property
    def seats_over(self) -> int:
        return sum(r.seats_over for r in self.rows if r.seats_over is not None)


@dataclass(frozen=True, slots=True)
class TrendPoint:
    taken_at: datetime
    companies_over: int
    seats_over: int


@dataclass(frozen=True, slots=True)
class Change:
    """A company over limit in both digests whose overage changed."""

    overage: Overage
    previous_seats_over: int | None

    @property
    def delta(self) -> int:
        """Seats over now minus then; meaningful only when both are known (grew, shrank)."""
        return (self.overage.seats_over or 0) - (self.previous_seats_over or 0)


@dataclass(frozen=True, slots=True)
class CaseGroups:
    """The open cases by what needs doing, each group in listing order, and the cases
    resolved since the last digest, the latest first."""

    needs_owner: tuple[Case, ...] = ()  # new, contacted: nobody owns them
    in_progress: tuple[Case, ...] = ()  # new, contacted: someone owns them
    invoiced: tuple[tuple[Case, datetime], ...] = ()  # invoiced, each with when; still over
    resolved: tuple[Case, ...] = ()
    snoozed: int = 0
    waived: int = 0


def group_cases(
    open_cases: Iterable[Case],
    *,
    invoiced_at: Mapping[int, datetime],
    resolved: Iterable[Case] = (),
) -> CaseGroups:
    """The digest's groups of `open_cases`; invoiced_at is when each invoiced case (by ID)
    was invoiced last (its last change when that is not known)."""
    ordered = sorted(open_cases, key=listing_order)
    active = [c for c in ordered if c.state in (State.NEW, State.CONTACTED)]
    return CaseGroups(
        needs_owner=tuple(c for c in active if c.owner is None),
        in_progress=tuple(c for c in active if c.owner is not None),
        invoiced=tuple(
            (c, invoiced_at.get(c.id or 0, c.updated_at))
            for c in ordered
            if c.state is State.INVOICED
        ),
        resolved=tuple(resolved),
        snoozed=sum(1 for c in ordered if c.state is State.SNOOZED),
        waived=sum(1 for c in ordered if c.state is State.WAIVED),
    )


@dataclass(frozen=True, slots=True)
class DigestDiff:
    report: Report
    previous: Snapshot | None  # None: the first digest, nothing to compare with yet
    went_over: tuple[Overage, ...] = ()
    came_back: tuple[SnapshotRow, ...] = ()
    grew: tuple[Change, ...] = ()
    shrank: tuple[Change, ...] = ()
    # a limit that became unreadable, or readable again, is neither growth nor shrinkage
    limit_now_unknown: tuple[Change, ...] = ()
    limit_known_again: tuple[Change, ...] = ()
    late_by: timedelta | None = None  # set when a slot is posted late
    due: datetime | None = None  # the slot a late digest was due at (default: now - late_by)
    retried: bool = False  # late because an earlier attempt failed, not because the bot was off
    trend: tuple[TrendPoint, ...] = ()  # oldest first, this digest last
    cases: CaseGroups | None = None  # None: the digest shows no cases

    @property
    def first(self) -> bool:
        return self.previous is None

    @property
    def all_clear(self) -> bool:
        return self.report.companies_over == 0

    @property
    def companies_delta(self) -> int | None:
        if self.previous is None:
            return None
        return self.report.companies_over - self.previous.companies_over

    @property
    def seats_delta(self) -> int | None:
        if self.previous is None:
            return None
        return self.report.seats_over - self.previous.seats_over


def snapshot_of(report: Report) -> Snapshot:
    rows = tuple(
        SnapshotRow(
            company_id=o.company.ref,
            name=o.company.name,
            limit=o.company.limit,
            target_users=o.company.target_users,
            seats_over=o.seats_over,
        )
        for o in report.overages
    )
    return Snapshot(taken_at=report.fetched_at, rows=rows)


def diff(
    report: Report,
    previous: Snapshot | None,
    *,
    late_by: timedelta | None = None,
    due: datetime | None = None,
    retried: bool = False,
    history: tuple[TrendPoint, ...] = (),
    cases: CaseGroups | None = None,
) -> DigestDiff:
    """Compare the report with the previous digest's snapshot, company by company (by ID)."""
    trend = (*history, TrendPoint(report.fetched_at, report.companies_over, report.seats_over))
    if previous is None:
        return DigestDiff(
            report=report, previous=None, late_by=late_by, due=due, retried=retried,
            trend=trend, cases=cases,
        )  # fmt: skip
    before = {row.company_id: row for row in previous.rows}
    now_ids = {o.company.ref for o in report.overages}
    went_over = tuple(o for o in report.overages if o.company.ref not in before)
    came_back = tuple(
        sorted(
            (row for row in previous.rows if row.company_id not in now_ids),
            key=lambda r: (-(r.seats_over or 0), r.name.casefold()),
        )
    )
    changes = [
        Change(o, before[o.company.ref].seats_over)
        for o in report.overages
        if o.company.ref in before and before[o.company.ref].seats_over != o.seats_over
    ]
    known = [
        c for c in changes if c.previous_seats_over is not None and c.overage.seats_over is not None
    ]
    grew = tuple(sorted((c for c in known if c.delta > 0), key=lambda c: -c.delta))
    shrank = tuple(sorted((c for c in known if c.delta < 0), key=lambda c: c.delta))
    now_unknown = tuple(c for c in changes if c.overage.seats_over is None)
    known_again = tuple(c for c in changes if c.previous_seats_over is None)
    return DigestDiff(
        report=report,
        previous=previous,
        went_over=went_over,
        came_back=came_back,
        grew=grew,
        shrank=shrank,
        limit_now_unknown=now_unknown,
        limit_known_again=known_again,
        late_by=late_by,
        due=due,
        retried=retried,
        trend=trend[-8:],
        cases=cases,
    )
