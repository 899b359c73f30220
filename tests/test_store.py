"""Store on real SQLite and, when TEST_POSTGRES_URL is set, real PostgreSQL: once per slot."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.digest import Snapshot, SnapshotRow, TrendPoint
from bot.errors import BotError, StoreUnavailable
from bot.store import Store, metadata
from tests.conftest import MakeStore

SLOT = datetime(2026, 11, 23, 9, tzinfo=UTC)
NOW = SLOT + timedelta(seconds=5)
CHANNEL = "C0DIGEST1"


def _snapshot(taken_at: datetime, *rows: SnapshotRow) -> Snapshot:
    return Snapshot(taken_at=taken_at, rows=rows)


def _row(company_id: str, seats_over: int | None, *, limit: int | None = 10) -> SnapshotRow:
    target = (limit or 0) + (seats_over or 0)
    return SnapshotRow(company_id, f"Company {company_id}", limit, target, seats_over)


def _post(store: Store, slot: datetime, snapshot: Snapshot, *, kind: str = "scheduled") -> None:
    run = store.claim_slot(CHANNEL, slot, kind=kind, owner="poster", now=slot)
    assert run is not None
    store.mark_posted(
        run.id,
        owner="poster",
        message_ts=f"{slot.timestamp()}",
        snapshot=snapshot,
        now=slot,
        late=False,
    )


# --- schema ----------------------------------------------------------------------------------


def test_upgrade_twice_is_harmless(database_url: str) -> None:
    store = Store(database_url)
    try:
        store.upgrade()
        store.upgrade()
        assert store.claim_slot(CHANNEL, SLOT, owner="a", now=NOW) is not None
    finally:
        store.close()


def test_migrations_build_the_tables_the_code_uses(store: Store) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_processes_starting_together_all_upgrade(database_url: str) -> None:
    code = "import sys; from bot.store import Store; s = Store(sys.argv[1]); s.upgrade(); s.close()"
    root = Path(__file__).resolve().parent.parent
    processes = [
        subprocess.Popen([sys.executable, "-c", code, database_url], cwd=root) for _ in range(3)
    ]

    assert [p.wait(timeout=60) for p in processes] == [0, 0, 0]
    store = Store(database_url)
    try:
        assert store.claim_slot(CHANNEL, SLOT, owner="a", now=NOW) is not None
    finally:
        store.close()


# --- claiming a slot -------------------------------------------------------------------------


def test_claim_is_granted_once(store: Store) -> None:
    run = store.claim_slot(CHANNEL, SLOT, owner="a", now=NOW)

    assert run is not None
    assert (run.channel, run.slot, run.kind, run.state, run.owner) == (
        CHANNEL,
        SLOT,
        "scheduled",
        "claimed",
        "a",
    )
    assert (run.attempts, run.lease_until, run.late, run.message_ts) == (
        1,
        NOW + timedelta(seconds=300),
        False,
        None,
    )
    assert run.slot.tzinfo is not None and run.lease_until.tzinfo is not None
    assert store.claim_slot(CHANNEL, SLOT, owner="b", now=NOW) is None
    assert store.claim_slot(CHANNEL, SLOT, owner="a", now=NOW) is None


def test_racing_instances_claim_each_slot_exactly_once(make_store: MakeStore) -> None:
    instances = {"a": make_store(), "b": make_store()}
    slots = [SLOT + timedelta(minutes=i) for i in range(20)]
    barrier = threading.Barrier(len(instances))

    def claim_all(owner: str) -> list[datetime]:
        won = []
        for slot in slots:
            barrier.wait(timeout=30)
            if instances[owner].claim_slot(CHANNEL, slot, owner=owner, now=slot) is not None:
                won.append(slot)
        return won

    with ThreadPoolExecutor(len(instances)) as pool:
        wins = list(pool.map(claim_all, instances))

    assert sorted(wins[0] + wins[1]) == slots
    assert not set(wins[0]) & set(wins[1])
    assert len(instances["a"].runs(CHANNEL)) == 20


def test_slot_whose_owner_died_is_taken_over_after_the_lease(store: Store) -> None:
    first = store.claim_slot(CHANNEL, SLOT, owner="dead", now=NOW, lease_s=300)
    assert first is not None

    assert store.claim_slot(CHANNEL, SLOT, owner="b", now=NOW + timedelta(seconds=299)) is None
    later = NOW + timedelta(seconds=301)
    taken = store.claim_slot(CHANNEL, SLOT, owner="b", now=later, lease_s=60)

    assert taken is not None
    assert (taken.id, taken.owner, taken.attempts) == (first.id, "b", 2)
    assert taken.lease_until == later + timedelta(seconds=60)
    assert not store.renew(first.id, owner="dead", now=later, lease_s=300)
    store.mark_failed(first.id, owner="dead", error="too late", now=later)
    assert store.run(CHANNEL, SLOT) == taken


def test_renew_extends_only_the_owners_lease(store: Store) -> None:
    run = store.claim_slot(CHANNEL, SLOT, owner="a", now=NOW, lease_s=60)
    assert run is not None
    later = NOW + timedelta(seconds=50)

    assert store.renew(run.id, owner="a", now=later, lease_s=60)
    assert not store.renew(run.id, owner="b", now=later, lease_s=60)
    assert store.claim_slot(CHANNEL, SLOT, owner="b", now=NOW + timedelta(seconds=100)) is None
    renewed = store.run(CHANNEL, SLOT)
    assert renewed is not None and renewed.lease_until == later + timedelta(seconds=60)


def test_failed_post_is_retried_later(store: Store) -> None:
    run = store.claim_slot(CHANNEL, SLOT, owner="a", now=NOW)
    assert run is not None

    store.mark_failed(run.id, owner="a", error="Slack said no. " * 100, now=NOW)
    failed = store.run(CHANNEL, SLOT)

    assert failed is not None and failed.state == "failed"
    assert failed.error is not None and len(failed.error) == 500
    assert failed.lease_until == NOW
    assert store.claim_slot(CHANNEL, SLOT, owner="b", now=NOW) is None
    retry = store.claim_slot(CHANNEL, SLOT, owner="b", now=NOW + timedelta(seconds=1))
    assert retry is not None and (retry.state, retry.owner, retry.attempts) == ("claimed", "b", 2)


def test_failed_attempt_is_claimed_again_only_from_its_retry_time(store: Store) -> None:
    retry_at = NOW + timedelta(minutes=4)
    run = store.claim_slot(CHANNEL, SLOT, owner="a", now=NOW)
    assert run is not None

    store.mark_failed(run.id, owner="a", error="Slack is busy.", now=NOW, retry_at=retry_at)

    failed = store.run(CHANNEL, SLOT)
    assert failed is not None and (failed.state, failed.lease_until) == ("failed", retry_at)
    early = NOW + timedelta(minutes=3)
    assert store.claim_slot(CHANNEL, SLOT, owner="b", now=early) is None
    assert store.pending_runs(CHANNEL, now=early, since=SLOT) == []
    later = retry_at + timedelta(seconds=1)
    assert [r.id for r in store.pending_runs(CHANNEL, now=later, since=SLOT)] == [run.id]
    assert store.claim_slot(CHANNEL, SLOT, owner="b", now=later) is not None


def test_attempts_are_unbounded(store: Store) -> None:
    now = NOW
    for attempt in range(1, 13):
        run = store.claim_slot(CHANNEL, SLOT, owner="a", now=now)
        assert run is not None and run.attempts == attempt
        store.mark_failed(run.id, owner="a", error="boom", now=now)
        now += timedelta(minutes=1)

    assert len(store.pending_runs(CHANNEL, now=now, since=SLOT)) == 1


def test_posted_slot_is_never_claimed_again(store: Store) -> None:
    run = store.claim_slot(CHANNEL, SLOT, owner="a", now=NOW)
    assert run is not None
    store.mark_posted(
        run.id, owner="a", message_ts="1.1", snapshot=_snapshot(NOW), now=NOW, late=False
    )

    store.mark_failed(run.id, owner="a", error="late failure", now=NOW)
    for later in (NOW + timedelta(hours=1), NOW + timedelta(days=400)):
        assert store.claim_slot(CHANNEL, SLOT, owner="b", now=later) is None
    posted = store.run(CHANNEL, SLOT)
    assert posted is not None and (posted.state, posted.message_ts) == ("posted", "1.1")
    assert store.pending_runs(CHANNEL, now=NOW + timedelta(days=1), since=SLOT) == []


def test_manual_and_scheduled_runs_of_one_moment_are_separate(store: Store) -> None:
    scheduled = store.claim_slot(CHANNEL, SLOT, owner="a", now=NOW)
    manual = store.claim_slot(CHANNEL, SLOT, kind="manual", owner="a", now=NOW)

    assert scheduled is not None and manual is not None
    assert scheduled.id != manual.id
    assert store.run(CHANNEL, SLOT, "manual") == manual
    assert store.claim_slot(CHANNEL, SLOT, kind="manual", owner="b", now=NOW) is None
    assert store.claim_slot("C0OTHER", SLOT, owner="b", now=NOW) is not None
    with pytest.raises(ValueError, match="kind"):
        store.claim_slot(CHANNEL, SLOT, kind="weekly", owner="a", now=NOW)


def test_pending_runs_are_the_abandoned_and_failed_ones_since(store: Store) -> None:
    abandoned = store.claim_slot(CHANNEL, SLOT, owner="dead", now=NOW, lease_s=60)
    failed = store.claim_slot(CHANNEL, SLOT + timedelta(hours=1), owner="a", now=NOW)
    held = store.claim_slot(CHANNEL, SLOT + timedelta(hours=2), owner="a", now=NOW, lease_s=9999)
    old = store.claim_slot(CHANNEL, SLOT - timedelta(days=2), owner="dead", now=NOW, lease_s=1)
    assert abandoned and failed and held and old
    store.mark_failed(failed.id, owner="a", error="boom", now=NOW)
    _post(store, SLOT + timedelta(hours=3), _snapshot(NOW))

    pending = store.pending_runs(
        CHANNEL, now=NOW + timedelta(minutes=5), since=SLOT - timedelta(days=1)
    )

    assert [r.id for r in pending] == [abandoned.id, failed.id]


def test_runs_and_last_run(store: Store) -> None:
    assert store.last_run(CHANNEL) is None and store.runs(CHANNEL) == []
    store.claim_slot(CHANNEL, SLOT + timedelta(days=7), owner="a", now=NOW)
    store.claim_slot(CHANNEL, SLOT, owner="a", now=NOW)

    assert [r.slot for r in store.runs(CHANNEL)] == [SLOT, SLOT + timedelta(days=7)]
    last = store.last_run(CHANNEL)
    assert last is not None and last.slot == SLOT + timedelta(days=7)
    assert store.run(CHANNEL, SLOT + timedelta(days=1)) is None


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive"):
        store.claim_slot(CHANNEL, datetime(2026, 11, 23, 9), owner="a", now=NOW)


def test_times_in_other_zones_name_the_same_slot(store: Store) -> None:
    from zoneinfo import ZoneInfo

    berlin_slot = SLOT.astimezone(ZoneInfo("Europe/Berlin"))
    assert store.claim_slot(CHANNEL, berlin_slot, owner="a", now=NOW) is not None
    assert store.claim_slot(CHANNEL, SLOT, owner="b", now=NOW) is None


def test_a_channel_is_first_seen_once(store: Store) -> None:
    assert store.first_seen(CHANNEL, now=NOW) == NOW
    assert store.first_seen(CHANNEL, now=NOW + timedelta(days=3)) == NOW
    assert store.first_seen("C0OTHER", now=NOW + timedelta(days=3)) == NOW + timedelta(days=3)


def test_upgrade_counts_a_channel_with_digests_as_seen_since_its_first(
    database_url: str,
) -> None:
    from alembic import command
    from alembic.config import Config

    from bot.store import MIGRATIONS

    store = Store(database_url)
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with store.engine.begin() as conn:  # a database of the first schema, with two digests
            config.attributes["connection"] = conn
            command.upgrade(config, "0001")
        store.claim_slot(CHANNEL, SLOT, owner="a", now=NOW)
        store.claim_slot(CHANNEL, SLOT + timedelta(days=7), owner="a", now=NOW + timedelta(days=7))

        store.upgrade()

        assert store.first_seen(CHANNEL, now=NOW + timedelta(days=30)) == NOW
    finally:
        store.close()


def test_last_digest_is_the_latest_posted_in_any_channel_and_never_an_alert_check(
    store: Store,
) -> None:
    assert store.last_digest() is None
    _post(store, SLOT, _snapshot(SLOT))
    other = store.claim_slot("C0OTHER", SLOT + timedelta(days=1), owner="a", now=NOW)
    assert other is not None
    store.mark_posted(
        other.id, owner="a", message_ts="2.2", snapshot=_snapshot(NOW), now=NOW, late=False
    )
    check = store.claim_slot("alerts:C0X", SLOT + timedelta(days=2), owner="a", now=NOW)
    assert check is not None
    store.mark_done(check.id, owner="a", now=NOW, message_ts="3.3")
    failed = store.claim_slot(CHANNEL, SLOT + timedelta(days=3), owner="a", now=NOW)
    assert failed is not None
    store.mark_failed(failed.id, owner="a", error="boom", now=NOW)

    last = store.last_digest()

    assert last is not None and (last.channel, last.slot) == ("C0OTHER", SLOT + timedelta(days=1))


# --- snapshots -------------------------------------------------------------------------------


def test_posted_snapshot_is_what_the_next_digest_compares_with(store: Store) -> None:
    taken = datetime(2026, 11, 23, 8, 59, 30, 123000, tzinfo=UTC)
    rows = (_row("c2", 30), _row("c1", None, limit=None), _row("c3", 1))
    run = store.claim_slot(CHANNEL, SLOT, owner="a", now=NOW)
    assert run is not None and store.previous_snapshot(CHANNEL) is None

    store.mark_posted(
        run.id,
        owner="a",
        message_ts="1700.01",
        snapshot=_snapshot(taken, *rows),
        now=NOW,
        late=True,
    )

    previous = store.previous_snapshot(CHANNEL)
    assert previous == _snapshot(taken, *rows)
    assert previous is not None and previous.taken_at.utcoffset() == timedelta(0)
    assert store.trend(CHANNEL) == (TrendPoint(taken, 3, 31),)
    posted = store.run(CHANNEL, SLOT)
    assert posted is not None and (posted.state, posted.late, posted.message_ts) == (
        "posted",
        True,
        "1700.01",
    )
    assert store.previous_snapshot("C0OTHER") is None


def test_mark_posted_is_all_or_nothing(store: Store) -> None:
    run = store.claim_slot(CHANNEL, SLOT, owner="a", now=NOW)
    assert run is not None
    broken = SnapshotRow("c1", None, 10, 12, 2)  # type: ignore[arg-type]  # NOT NULL name

    with pytest.raises(sa.exc.IntegrityError):
        store.mark_posted(
            run.id,
            owner="a",
            message_ts="1.1",
            snapshot=_snapshot(NOW, broken),
            now=NOW,
            late=False,
        )

    still = store.run(CHANNEL, SLOT)
    assert still is not None and (still.state, still.message_ts) == ("claimed", None)
    assert store.previous_snapshot(CHANNEL) is None and store.trend(CHANNEL) == ()


def test_second_mark_posted_keeps_the_first(store: Store) -> None:
    run = store.claim_slot(CHANNEL, SLOT, owner="a", now=NOW)
    assert run is not None
    store.mark_posted(
        run.id,
        owner="a",
        message_ts="1.1",
        snapshot=_snapshot(NOW, _row("c1", 1)),
        now=NOW,
        late=False,
    )
    store.mark_posted(
        run.id,
        owner="b",
        message_ts="2.2",
        snapshot=_snapshot(NOW, _row("c9", 9)),
        now=NOW,
        late=False,
    )

    posted = store.run(CHANNEL, SLOT)
    assert posted is not None and (posted.owner, posted.message_ts) == ("a", "1.1")
    assert store.previous_snapshot(CHANNEL) == _snapshot(NOW, _row("c1", 1))


def test_previous_snapshot_and_trend_follow_posted_digests_of_any_kind(store: Store) -> None:
    days = [SLOT + timedelta(days=7 * i) for i in range(10)]
    for i, day in enumerate(days):
        _post(store, day, _snapshot(day, *(_row(f"c{n}", n) for n in range(1, i + 2))))
    manual_at = days[-1] + timedelta(days=1)
    _post(store, manual_at, _snapshot(manual_at, _row("m1", 100)), kind="manual")
    unposted = store.claim_slot(CHANNEL, manual_at + timedelta(days=1), owner="a", now=NOW)
    assert unposted is not None

    assert store.previous_snapshot(CHANNEL) == _snapshot(manual_at, _row("m1", 100))
    before = store.previous_snapshot(CHANNEL, before=manual_at)
    assert before is not None and before.taken_at == days[-1]
    assert before.rows[0] == _row("c1", 1) and len(before.rows) == 10
    trend = store.trend(CHANNEL, 3)
    assert trend == (
        TrendPoint(days[-2], 9, 45),
        TrendPoint(days[-1], 10, 55),
        TrendPoint(manual_at, 1, 100),
    )
    assert len(store.trend(CHANNEL)) == 8


# --- alert episodes --------------------------------------------------------------------------


def test_alert_episode_opens_once_closes_and_reopens(store: Store) -> None:
    assert store.open_alert_episode(CHANNEL, "c1", now=NOW)
    assert not store.open_alert_episode(CHANNEL, "c1", now=NOW + timedelta(hours=1))
    assert store.open_alert_episode(CHANNEL, "c2", now=NOW)
    assert store.open_alert_episode("C0OTHER", "c1", now=NOW)
    store.mark_alert_posted(CHANNEL, ["c1", "c2"], ts="1.5", now=NOW)

    closed = store.close_alert_episodes(CHANNEL, still_over={"c2"}, now=NOW + timedelta(hours=2))

    assert closed == ["c1"]
    assert store.close_alert_episodes(CHANNEL, still_over={"c2"}, now=NOW) == []
    assert not store.open_alert_episode(CHANNEL, "c2", now=NOW + timedelta(hours=3))
    assert store.open_alert_episode(CHANNEL, "c1", now=NOW + timedelta(hours=3))
    assert not store.open_alert_episode("C0OTHER", "c1", now=NOW + timedelta(hours=3))


def test_unposted_episodes_keep_the_key_of_the_check_that_set_out_to_post_them(
    store: Store,
) -> None:
    store.open_alert_episodes(CHANNEL, ["c1", "c2", "c3"], now=NOW)
    store.mark_alert_posted(CHANNEL, ["c3"], ts="1.1", now=NOW)

    store.stamp_alerts(CHANNEL, ["c1", "c3"], key="2026-11-23T09:00:00Z")

    assert store.unposted_alert_keys(CHANNEL) == {"c1": "2026-11-23T09:00:00Z", "c2": None}
    store.mark_alert_posted(CHANNEL, ["c1", "c2"], ts="1.2", now=NOW)
    assert store.unposted_alert_keys(CHANNEL) == {}


def test_racing_instances_open_an_episode_once(make_store: MakeStore) -> None:
    instances = [make_store(), make_store()]
    barrier = threading.Barrier(len(instances))

    def sightings(store: Store) -> int:
        opened = 0
        for n in range(20):
            barrier.wait(timeout=30)
            opened += store.open_alert_episode(CHANNEL, f"c{n}", now=NOW)
        return opened

    with ThreadPoolExecutor(len(instances)) as pool:
        assert sum(pool.map(sightings, instances)) == 20


# --- subscriptions ---------------------------------------------------------------------------


def test_subscriptions_add_replace_list_remove(store: Store) -> None:
    assert store.subscriptions() == []
    weekly = store.add_subscription(
        "C0B",
        cadence="weekly",
        weekday="mon",
        time="09:00",
        zone="Europe/Berlin",
        created_by="U1",
        now=NOW,
    )
    daily = store.add_subscription(
        "C0A", cadence="daily", weekday=None, time="08:30", zone=None, created_by="U2", now=NOW
    )

    assert weekly.created_at == NOW and weekly.created_at.tzinfo is not None
    assert store.subscriptions() == [daily, weekly]
    replaced = store.add_subscription(
        "C0B", cadence="daily", weekday=None, time="07:00", zone="UTC", created_by="U3", now=NOW
    )
    assert [s.channel for s in store.subscriptions()] == ["C0A", "C0B"]
    assert store.subscriptions()[1] == replaced and replaced.time == "07:00"
    assert store.remove_subscription("C0B")
    assert not store.remove_subscription("C0B")
    assert store.subscriptions() == [daily]
    with pytest.raises(ValueError, match="cadence"):
        store.add_subscription(
            "C0C",
            cadence="hourly",
            weekday=None,
            time="07:00",
            zone=None,
            created_by="U",
            now=NOW,
        )


# --- an unreachable database -----------------------------------------------------------------


@pytest.mark.parametrize("use", [Store.upgrade, Store.subscriptions])
def test_unreachable_postgres_is_one_line_without_the_password(
    use: Callable[[Store], object],
) -> None:
    store = Store("postgresql+psycopg://bot:secretpw@127.0.0.1:1/x")
    try:
        with pytest.raises(StoreUnavailable) as caught:
            use(store)
    finally:
        store.close()

    text = caught.value.for_user()
    assert isinstance(caught.value, BotError)
    assert "127.0.0.1" in text and "DATABASE_URL" in text
    assert "secretpw" not in text and "secretpw" not in repr(caught.value.args)
    assert "\n" not in text


def test_unopenable_sqlite_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "missing-dir" / "bot.db"
    store = Store(f"sqlite:///{path}")
    try:
        with pytest.raises(StoreUnavailable, match="missing-dir") as caught:
            store.upgrade()
    finally:
        store.close()
    assert "\n" not in caught.value.for_user()


def test_url_that_is_no_database_url_is_refused() -> None:
    with pytest.raises(StoreUnavailable, match="DATABASE_URL"):
        Store("not a url")


def test_database_migrated_by_a_newer_version_is_refused(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))

    with pytest.raises(StoreUnavailable, match="schema this version cannot use") as caught:
        store.upgrade()

    assert "\n" not in caught.value.for_user()


def test_many_episodes_open_in_one_call_and_only_once(store: Store) -> None:
    ids = [f"c{n:05d}" for n in range(1_200)]  # more than one chunk of the insert
    assert store.open_alert_episodes(CHANNEL, ids[:700], now=NOW) == ids[:700]
    assert store.open_alert_episodes(CHANNEL, ids, now=NOW) == ids[700:]
    assert store.open_alert_episodes(CHANNEL, ids, now=NOW) == []
    assert len(store.unposted_alerts(CHANNEL)) == 1_200
