"""Overage cases in the store, on real SQLite and (TEST_POSTGRES_URL) PostgreSQL: one case per
episode, changes by version, two people at once, listings, history, and the upgrade that
seeds cases from the alert episodes open in a 0002 database."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.config import Config

from bot.cases import (
    SYSTEM,
    Action,
    AddNote,
    Assign,
    Case,
    Edit,
    MarkContacted,
    MarkInvoiced,
    Snooze,
    StaleCase,
    State,
    Surface,
    Waive,
)
from bot.digest import Snapshot, SnapshotRow
from bot.errors import CaseRefused
from bot.overage import Company, Report, build_report
from bot.store import CASE_STATES, MIGRATIONS, Store
from tests.conftest import MakeStore

ZONE = ZoneInfo("Europe/Istanbul")
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=ZONE)
HOSTILE = '<!channel> *Acme* =HYPERLINK("x") \u202e\u0000 İstanbul \ud800 \U0001f600'


def company(cid: str, seats_over: int | None, *, name: str = "") -> Company:
    limit = None if seats_over is None else 100
    return Company(
        company_id=cid,
        name=name or f"Company {cid}",
        limit=limit,
        target_users=100 + (seats_over or 0),
    )


def report(*companies: Company, platform_count: int | None = None) -> Report:
    return build_report(companies, fetched_at=NOW, platform_count=platform_count)


def edit(user: str = "U0ALICE", *, surface: Surface = Surface.MESSAGE, at: datetime = NOW) -> Edit:
    return Edit(user, surface, at)


def only_case(store: Store, company_id: str) -> Case:
    history = store.company_case(company_id)
    assert history is not None
    return history.case


# --- one case per episode ----------------------------------------------------------------------


def test_a_report_opens_one_case_per_company_over_and_again_changes_nothing(store: Store) -> None:
    over = report(company("c1", 40), company("c2", None, name=HOSTILE), company("c3", 5))

    first = store.sync_cases(over, at=NOW)
    second = store.sync_cases(over, at=NOW + timedelta(hours=1))

    assert [c.company_id for c in first.opened] == ["c1", "c2", "c3"]
    assert (first.returned, first.resolved) == ((), ())
    assert (second.opened, second.returned, second.resolved) == ((), (), ())
    assert [c.company_id for c in store.cases()] == ["c1", "c3", "c2"]  # seats over, unknown last
    c2 = store.company_case("c2")
    assert c2 is not None
    assert c2.case.company_name == HOSTILE.replace("\u0000", "\ufffd").replace("\ud800", "\ufffd")
    assert (c2.case.state, c2.case.version, c2.case.seats_over) == (State.NEW, 1, None)
    assert [(e.action, e.actor, e.surface, e.version) for e in c2.events] == [
        (Action.OPENED, SYSTEM, Surface.SYSTEM, 1)
    ]
    assert c2.case.opened_at == NOW and c2.case.opened_at.tzinfo is not None


def test_new_seats_and_name_are_kept_without_a_new_version(store: Store) -> None:
    store.sync_cases(report(company("c1", 40)), at=NOW)

    store.sync_cases(report(company("c1", 55, name="Acme Renamed")), at=NOW + timedelta(hours=1))

    history = store.company_case("c1")
    assert history is not None
    assert (history.case.seats_over, history.case.company_name) == (55, "Acme Renamed")
    assert history.case.version == 1 and len(history.events) == 1


def test_back_under_resolves_the_case_with_the_date_and_over_again_opens_a_new_one(
    store: Store,
) -> None:
    store.sync_cases(report(company("c1", 40), company("c2", 3)), at=NOW)
    back_under = NOW + timedelta(days=2)

    sync = store.sync_cases(report(company("c2", 3)), at=back_under)

    assert [c.company_id for c in sync.resolved] == ["c1"]
    first = only_case(store, "c1")
    assert (first.state, first.closed_at, first.version) == (State.RESOLVED, back_under, 2)
    assert store.sync_cases(report(company("c2", 3)), at=back_under).resolved == ()

    again = store.sync_cases(
        report(company("c1", 7), company("c2", 3)), at=back_under + timedelta(1)
    )

    assert [c.company_id for c in again.opened] == ["c1"]
    second = only_case(store, "c1")
    assert (second.state, second.version, second.seats_over) == (State.NEW, 1, 7)
    assert second.id != first.id
    assert [c.id for c in store.cases("resolved")] == [first.id]
    assert len(store.cases("all")) == 3


def test_an_incomplete_report_resolves_nobody(store: Store) -> None:
    store.sync_cases(report(company("c1", 40), company("c2", 3)), at=NOW)

    sync = store.sync_cases(report(company("c2", 3), platform_count=2), at=NOW)

    assert sync.resolved == ()
    assert only_case(store, "c1").state is State.NEW
    assert [c.company_id for c in store.sync_cases(report(company("c2", 3)), at=NOW).resolved] == [
        "c1"
    ]


def test_a_sighting_wakes_a_snooze_on_its_date_and_returns_an_outgrown_waiver(
    store: Store,
) -> None:
    store.sync_cases(report(company("c1", 40), company("c2", 40)), at=NOW)
    c1, c2 = only_case(store, "c1"), only_case(store, "c2")
    assert c1.id is not None and c2.id is not None
    store.change_case(c1.id, Snooze(date(2026, 12, 5), "renewal"), edit())
    store.change_case(c2.id, Waive("goodwill"), edit())

    quiet = store.sync_cases(report(company("c1", 40), company("c2", 40)), at=NOW + timedelta(1))
    later = datetime(2026, 12, 5, 0, 30, tzinfo=ZONE)
    sync = store.sync_cases(report(company("c1", 40), company("c2", 41)), at=later)

    assert quiet.returned == ()
    assert [(c.company_id, c.state) for c in sync.returned] == [
        ("c1", State.NEW),
        ("c2", State.NEW),
    ]
    history = store.case_history(c1.id)
    assert history is not None
    assert [e.action for e in history.events] == [Action.OPENED, Action.SNOOZED, Action.WOKE]
    assert history.events[-1].until == date(2026, 12, 5)


# --- changes, versions, history ----------------------------------------------------------------


def test_each_change_is_recorded_with_who_when_where_and_what(store: Store) -> None:
    store.sync_cases(report(company("c1", 40)), at=NOW)
    case_id = only_case(store, "c1").id
    assert case_id is not None
    steps = [
        (Assign("U0BOB"), edit(surface=Surface.HOME)),
        (MarkContacted(), edit("U0BOB", surface=Surface.MESSAGE)),
        (
            MarkInvoiced(40, Decimal("180.10"), "INV-\u00e7/7"),
            edit(surface=Surface.MODAL, at=NOW + timedelta(1)),
        ),
        (AddNote(HOSTILE + " " + "x" * 2900), edit("U0BOB", surface=Surface.COMMAND)),
    ]

    results = [store.change_case(case_id, change, by) for change, by in steps]

    history = store.case_history(case_id)
    assert history is not None
    assert history.case == results[-1][0]
    assert history.events[1:] == tuple(event for _, event in results)
    assert [(e.version, e.action, e.actor, e.surface) for e in history.events] == [
        (1, Action.OPENED, SYSTEM, Surface.SYSTEM),
        (2, Action.ASSIGNED, "U0ALICE", Surface.HOME),
        (3, Action.CONTACTED, "U0BOB", Surface.MESSAGE),
        (4, Action.INVOICED, "U0ALICE", Surface.MODAL),
        (5, Action.NOTED, "U0BOB", Surface.COMMAND),
    ]
    invoiced = history.events[3]
    assert (invoiced.amount, str(invoiced.amount), invoiced.reference) == (
        Decimal("180.10"),
        "180.10",
        "INV-\u00e7/7",
    )
    assert invoiced.at == NOW + timedelta(1)
    case = history.case
    assert (case.state, case.owner, case.invoiced_seats, str(case.invoiced_amount)) == (
        State.INVOICED,
        "U0BOB",
        40,
        "180.10",
    )
    assert (case.updated_by, case.last_action, case.version) == ("U0BOB", Action.NOTED, 5)
    assert history.events[4].text.startswith("<!channel> *Acme*")
    assert "\u0000" not in history.events[4].text and len(history.events[4].text) > 2900


def test_a_refused_change_records_nothing(store: Store) -> None:
    store.sync_cases(report(company("c1", 40)), at=NOW)
    case = only_case(store, "c1")
    assert case.id is not None

    with pytest.raises(CaseRefused, match="An invoice needs its reference"):
        store.change_case(case.id, MarkInvoiced(40, Decimal(1), " "), edit())
    with pytest.raises(CaseRefused, match="There is no such overage case"):
        store.change_case(case.id + 1000, MarkContacted(), edit())

    assert store.case(case.id) == case
    history = store.case_history(case.id)
    assert history is not None and len(history.events) == 1


def test_a_form_on_an_older_version_is_refused_with_the_case_as_it_is_now(store: Store) -> None:
    store.sync_cases(report(company("c1", 40)), at=NOW)
    case_id = only_case(store, "c1").id
    assert case_id is not None
    opened_on = 1
    store.change_case(case_id, MarkContacted(), edit("U0BOB"))

    with pytest.raises(StaleCase) as stale:
        store.change_case(case_id, Waive("goodwill"), edit(), expected_version=opened_on)

    assert stale.value.current == store.case(case_id)
    assert stale.value.current.state is State.CONTACTED
    assert "changed by <@U0BOB>" in stale.value.for_user()
    history = store.case_history(case_id)
    assert history is not None and len(history.events) == 2
    changed, _ = store.change_case(case_id, Waive("goodwill"), edit(), expected_version=2)
    assert changed.version == 3


def test_a_resolved_case_takes_a_note_and_nothing_else(store: Store) -> None:
    store.sync_cases(report(company("c1", 40)), at=NOW)
    store.sync_cases(report(), at=datetime(2026, 12, 2, 23, 30, tzinfo=UTC))
    case_id = only_case(store, "c1").id
    assert case_id is not None

    with pytest.raises(CaseRefused, match="resolved on 2026-12-03"):  # Istanbul's date
        store.change_case(case_id, Assign("U0BOB"), edit())
    _, noted = store.change_case(case_id, AddNote("paid in full"), edit())

    assert (noted.action, noted.before, noted.after) == (
        Action.NOTED,
        State.RESOLVED,
        State.RESOLVED,
    )


# --- two people at once ------------------------------------------------------------------------


def test_clicks_at_the_same_moment_are_all_recorded_in_order(make_store: MakeStore) -> None:
    instances = [make_store(), make_store()]
    instances[0].sync_cases(report(company("c1", 40)), at=NOW)
    case_id = only_case(instances[0], "c1").id
    assert case_id is not None
    barrier = threading.Barrier(len(instances))

    def clicks(index: int) -> list[int]:
        versions = []
        for n in range(10):
            barrier.wait(timeout=30)
            user = f"U{index}N{n}"
            changed, _ = instances[index].change_case(case_id, Assign(user), edit(user))
            versions.append(changed.version)
        return versions

    with ThreadPoolExecutor(len(instances)) as pool:
        made = sorted(v for versions in pool.map(clicks, range(len(instances))) for v in versions)

    history = instances[1].case_history(case_id)
    assert history is not None
    assert made == list(range(2, 22))
    assert [e.version for e in history.events] == list(range(1, 22))
    assert history.case.version == 21
    assert history.case.owner == history.events[-1].owner == history.events[-1].actor
    assert [e.before for e in history.events[1:]] == [State.NEW] * 20


def test_two_forms_submitted_at_once_on_one_version_are_one_change(
    make_store: MakeStore,
) -> None:
    instances = [make_store(), make_store()]
    instances[0].sync_cases(report(company("c1", 40)), at=NOW)
    case_id = only_case(instances[0], "c1").id
    assert case_id is not None
    barrier = threading.Barrier(len(instances))

    def submit(index: int) -> Case:
        barrier.wait(timeout=30)
        try:
            changed, _ = instances[index].change_case(
                case_id, Waive(f"reason {index}"), edit(f"U{index}"), expected_version=1
            )
        except StaleCase as stale:
            return stale.current
        return changed

    with ThreadPoolExecutor(len(instances)) as pool:
        seen = list(pool.map(submit, range(len(instances))))

    history = instances[0].case_history(case_id)
    assert history is not None
    assert [e.action for e in history.events] == [Action.OPENED, Action.WAIVED]
    assert seen[0] == seen[1] == history.case  # the winner's result, and the loser's view of it


def test_replicas_syncing_at_once_open_each_case_once(make_store: MakeStore) -> None:
    instances = [make_store(), make_store()]
    over = report(*(company(f"c{n:03d}", n) for n in range(1, 120)))
    barrier = threading.Barrier(len(instances))

    def sync(store: Store) -> int:
        barrier.wait(timeout=30)
        return len(store.sync_cases(over, at=NOW).opened)

    with ThreadPoolExecutor(len(instances)) as pool:
        assert sum(pool.map(sync, instances)) == 119

    assert len(instances[0].cases("all")) == 119
    histories = [instances[1].company_case(f"c{n:03d}") for n in (1, 60, 119)]
    assert all(h is not None and len(h.events) == 1 for h in histories)


# --- listings ----------------------------------------------------------------------------------


def test_listings_by_filter_in_order_new_and_unowned_first_then_seats_over(store: Store) -> None:
    store.sync_cases(
        report(
            company("big", 900),
            company("mid", 50, name="ḿid"),
            company("small", 5),
            company("unknown", None),
            company("owned", 70),
            company("gone", 1),
        ),
        at=NOW,
    )
    ids = {c.company_id: c.id for c in store.cases("all")}
    for cid, change, user in [
        ("big", MarkContacted(), "U0ALICE"),
        ("owned", Assign("U0ALICE"), "U0BOB"),
        ("small", Assign("U0BOB"), "U0BOB"),
        ("small", Snooze(date(2027, 1, 1), "later"), "U0BOB"),
    ]:
        case_id = ids[cid]
        assert case_id is not None
        store.change_case(case_id, change, edit(user))
    store.sync_cases(
        report(
            company("big", 900),
            company("mid", 50, name="ḿid"),
            company("small", 5),
            company("unknown", None),
            company("owned", 70),
        ),
        at=NOW,
    )

    def listed(which: str, user: str | None = None) -> list[str]:
        return [c.company_id for c in store.cases(which, user=user)]

    assert listed("open") == ["mid", "unknown", "big", "owned", "small"]
    assert listed("mine", "U0ALICE") == ["owned"]
    assert listed("mine", "U0BOB") == ["small"]
    assert listed("new") == ["mid", "unknown", "owned"]
    assert listed("contacted") == ["big"]
    assert listed("snoozed") == ["small"]
    assert listed("invoiced") == []
    assert listed("resolved") == ["gone"]
    assert listed("all") == ["mid", "unknown", "big", "owned", "small", "gone"]
    assert [c.company_id for c in store.find_cases("Ḿ")] == ["mid"]
    assert [c.company_id for c in store.find_cases("company  GO")] == ["gone"]
    assert store.find_cases("company go", "open") == []
    with pytest.raises(ValueError, match="needs the user"):
        store.cases("mine")
    with pytest.raises(ValueError, match="must be one of"):
        store.cases("everything")


def test_a_listing_s_first_cases_are_those_the_whole_listing_starts_with(store: Store) -> None:
    companies = [company(f"c{n:02d}", n % 7 or None, name=f"Co {n % 5}") for n in range(1, 40)]
    store.sync_cases(report(*companies), at=NOW)
    store.change_case(only_case(store, "c05").id or 0, Assign("U0ALICE"), edit())
    store.change_case(only_case(store, "c06").id or 0, MarkContacted(), edit())

    for which, user in (("open", None), ("mine", "U0ALICE"), ("new", None), ("all", None)):
        whole = store.cases(which, user=user)
        first, total = store.listing(which, user=user, first=10)
        assert [c.id for c in first] == [c.id for c in whole[:10]]
        assert total == len(whole)
    assert store.listing("waived", first=10) == ([], 0)


def test_company_cases_gives_each_company_its_open_case_else_its_latest(store: Store) -> None:
    store.sync_cases(report(company("c1", 4), company("c2", 5)), at=NOW)
    store.sync_cases(report(company("c2", 5)), at=NOW + timedelta(days=1))  # c1 resolved
    store.sync_cases(report(company("c1", 6), company("c2", 5)), at=NOW + timedelta(days=2))
    store.sync_cases(report(company("c1", 6)), at=NOW + timedelta(days=3))  # c2 resolved

    found = store.company_cases(["c1", "c2", "c3", "c1"])

    assert sorted(found) == ["c1", "c2"]
    assert (found["c1"].state, found["c1"].seats_over) == (State.NEW, 6)  # the open one
    assert found["c2"].state is State.RESOLVED
    assert store.company_cases([]) == {}


def test_the_store_knows_every_state_of_the_model() -> None:
    assert tuple(state.value for state in State) == CASE_STATES


# --- the upgrade from 0002 ---------------------------------------------------------------------


def _upgrade_to(store: Store, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def _digest(store: Store, slot: datetime, *rows: SnapshotRow) -> None:
    run = store.claim_slot("C0DIGEST", slot, owner="a", now=slot)
    assert run is not None
    snapshot = Snapshot(taken_at=slot, rows=rows)
    store.mark_posted(
        run.id, owner="a", message_ts=str(slot.timestamp()), snapshot=snapshot, now=slot, late=False
    )


def test_the_upgrade_opens_a_new_case_for_each_company_with_an_open_alert_episode(
    database_url: str,
) -> None:
    store = Store(database_url)
    try:
        _upgrade_to(store, "0002")  # a database of the schema before cases, with data in it
        week1, week2 = datetime(2026, 11, 2, 9, tzinfo=UTC), datetime(2026, 11, 9, 9, tzinfo=UTC)
        _digest(store, week1, SnapshotRow("c1", "Old Name", 100, 130, 30))
        _digest(
            store,
            week2,
            SnapshotRow("c1", HOSTILE.replace("\u0000", "").replace("\ud800", ""), 100, 140, 40),
        )
        store.open_alert_episodes("C0ALERTS", ["c1", "c2", "c3"], now=week1)
        store.open_alert_episodes("C0OTHER", ["c1"], now=week1 - timedelta(days=1))
        store.close_alert_episodes("C0ALERTS", still_over={"c1", "c2"}, now=week2)

        store.upgrade()

        assert [c.company_id for c in store.cases("all")] == ["c1", "c2"]
        c1, c2 = store.company_case("c1"), store.company_case("c2")
        assert c1 is not None and c2 is not None
        assert (c1.case.state, c1.case.version, c1.case.seats_over) == (State.NEW, 1, 40)
        assert c1.case.company_name == HOSTILE.replace("\u0000", "").replace("\ud800", "")
        assert c1.case.opened_at == week1 - timedelta(days=1)  # its earliest open episode
        assert (c2.case.company_name, c2.case.seats_over, c2.case.opened_at) == ("", None, week1)
        assert [(e.action, e.actor, e.surface, e.at) for e in c1.events] == [
            (Action.OPENED, SYSTEM, Surface.UPGRADE, week1 - timedelta(days=1))
        ]
        assert store.company_case("c3") is None  # its episode had ended

        sync = store.sync_cases(report(company("c1", 45, name="Acme"), company("c4", 2)), at=NOW)

        assert [c.company_id for c in sync.opened] == ["c4"]
        assert [c.company_id for c in sync.resolved] == ["c2"]
        assert only_case(store, "c1").company_name == "Acme"
    finally:
        store.close()


def test_an_upgraded_database_without_open_episodes_has_no_cases(database_url: str) -> None:
    store = Store(database_url)
    try:
        _upgrade_to(store, "0002")
        store.upgrade()
        assert store.cases("all") == []
        assert store.sync_cases(report(company("c1", 3)), at=NOW).opened[0].version == 1
    finally:
        store.close()
