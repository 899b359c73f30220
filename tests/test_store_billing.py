"""What billing reads of the cases in the store, on real SQLite and (TEST_POSTGRES_URL)
PostgreSQL: the invoices of a period, and the cases a workbook shows with their history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.cases import Action, Assign, Edit, MarkInvoiced, State, Surface
from bot.overage import Company, build_report
from bot.store import Store

NOW = datetime(2026, 12, 10, 10, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    store.upgrade()
    yield store
    store.close()


def company(cid: str, seats_over: int) -> Company:
    return Company(company_id=cid, name=f"Company {cid}", limit=100, target_users=100 + seats_over)


def sync(store: Store, *over: Company, at: datetime = NOW) -> None:
    store.sync_cases(build_report(over, fetched_at=at), at=at)


def case_id(store: Store, company_id: str) -> int:
    history = store.company_case(company_id)
    assert history is not None and history.case.id is not None
    return history.case.id


def invoice(store: Store, company_id: str, seats: int, *, at: datetime) -> None:
    change = MarkInvoiced(seats, Decimal("1.25") * seats, f"INV-{company_id}-{seats}")
    store.change_case(case_id(store, company_id), change, Edit("U0ALICE", Surface.MODAL, at))


def test_the_invoices_since_a_moment_each_with_its_company_oldest_first(store: Store) -> None:
    sync(store, company("c1", 40), company("c2", 20), company("c3", 5))
    start = NOW.replace(day=1)
    invoice(store, "c1", 30, at=start - timedelta(seconds=1))  # the month before
    invoice(store, "c2", 20, at=start)
    invoice(store, "c1", 40, at=NOW)

    found = store.invoiced_since(start)

    assert [(cid, e.seats, e.amount, e.reference) for cid, e in found] == [
        ("c2", 20, Decimal("25.00"), "INV-c2-20"),
        ("c1", 40, Decimal("50.00"), "INV-c1-40"),
    ]
    assert {e.action for _, e in found} == {Action.INVOICED}


def test_the_cases_a_workbook_shows_open_in_listing_order_then_lately_closed(
    store: Store,
) -> None:
    sync(store, company("old", 9), at=NOW - timedelta(days=40))
    sync(store, company("c2", 20), at=NOW - timedelta(days=35))  # "old" resolved 35 days ago
    sync(
        store, company("c2", 20), company("gone", 3), company("c1", 50), at=NOW - timedelta(days=2)
    )
    sync(store, company("c2", 20), company("c1", 50), at=NOW)  # "gone" resolved now
    store.change_case(case_id(store, "c1"), Assign("U0BOB"), Edit("U0BOB", Surface.HOME, NOW))

    found = store.case_histories(closed_since=NOW - timedelta(days=30))

    # new and unowned first (c2), then owned (c1); then closed since: "gone", not "old"
    assert [h.case.company_id for h in found] == ["c2", "c1", "gone"]
    assert [h.case.state for h in found] == [State.NEW, State.NEW, State.RESOLVED]
    assert [[e.action for e in h.events] for h in found] == [
        [Action.OPENED],
        [Action.OPENED, Action.ASSIGNED],
        [Action.OPENED, Action.RESOLVED],
    ]
    assert [e.version for e in found[1].events] == [1, 2]


def test_the_invoiced_cases_each_with_when_it_was_invoiced_last(store: Store) -> None:
    sync(store, company("c1", 40), company("c2", 20), company("c3", 5))
    invoice(store, "c1", 30, at=NOW - timedelta(days=20))
    invoice(store, "c1", 40, at=NOW - timedelta(days=3))  # again, for more seats
    invoice(store, "c2", 20, at=NOW - timedelta(days=9))
    sync(store, company("c1", 40), company("c2", 25), company("c3", 5))  # c2 outgrew it

    found = store.invoiced_cases()

    assert [(c.company_id, c.state, at) for c, at in found] == [
        ("c1", State.INVOICED, NOW - timedelta(days=3))
    ]


def test_the_cases_resolved_after_a_moment_latest_first(store: Store) -> None:
    sync(store, company("c1", 4), company("c2", 2), company("c3", 9))
    sync(store, company("c2", 2), company("c3", 9), at=NOW + timedelta(hours=1))
    sync(store, company("c3", 9), at=NOW + timedelta(hours=2))

    assert [c.company_id for c in store.resolved_since(NOW)] == ["c2", "c1"]
    assert [c.company_id for c in store.resolved_since(NOW + timedelta(hours=1))] == ["c2"]
    assert all(c.closed_at is not None for c in store.resolved_since(NOW))
