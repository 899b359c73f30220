"""SQLAlchemy storage: digest runs claimed once per slot, their snapshots, alerts, subscriptions."""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Dialect, Engine, make_url

from bot.digest import Snapshot, SnapshotRow, TrendPoint
from bot.errors import StoreUnavailable

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_S = 10
ERROR_CHARS = 500
KINDS = ("scheduled", "manual")
CADENCES = ("weekly", "daily")
_CHUNK = 500  # ids per IN (...) list, well under every driver's parameter limit
# alembic's `context` is one module-level proxy: two upgrades in one process must take turns
# (other processes are kept apart by the database itself, see migrations/env.py)
_MIGRATING = threading.Lock()


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """An aware datetime stored as UTC and always read back aware, on every backend."""

    impl = sa.DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware one")
        utc = value.astimezone(UTC)
        # SQLite keeps no offset and compares text, so every instant is stored as naive UTC
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()

RUNS = sa.Table(
    "digest_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("slot", UTCDateTime(), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("lease_until", UTCDateTime(), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error", sa.String(ERROR_CHARS)),
    sa.Column("message_ts", sa.String(64)),
    sa.Column("late", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("channel", "slot", "kind", name="uq_digest_runs_slot"),
    sa.CheckConstraint("kind IN ('scheduled', 'manual')", name="ck_digest_runs_kind"),
    sa.CheckConstraint("state IN ('claimed', 'posted', 'failed')", name="ck_digest_runs_state"),
)

SNAPSHOTS = sa.Table(
    "snapshots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "run_id",
        sa.Integer,
        sa.ForeignKey("digest_runs.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("taken_at", UTCDateTime(), nullable=False),
    sa.Column("companies_over", sa.Integer, nullable=False),
    sa.Column("seats_over", sa.Integer, nullable=False),
    sa.Index("ix_snapshots_channel_taken_at", "channel", "taken_at"),
)

SNAPSHOT_ROWS = sa.Table(
    "snapshot_rows",
    metadata,
    sa.Column(
        "snapshot_id",
        sa.Integer,
        sa.ForeignKey("snapshots.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("position", sa.Integer, primary_key=True),  # keeps the snapshot's row order
    sa.Column("company_id", sa.String(128), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("limit", sa.Integer),
    sa.Column("target_users", sa.Integer, nullable=False),
    sa.Column("seats_over", sa.Integer),
)

ALERTS = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("company_id", sa.String(128), nullable=False),
    sa.Column("episode_start", UTCDateTime(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("closed_at", UTCDateTime()),
    sa.Column("posted_at", UTCDateTime()),
    sa.Column("message_ts", sa.String(64)),
    sa.Column("check_key", sa.String(40)),  # the check that set out to announce it (its slot)
    sa.UniqueConstraint("channel", "company_id", "episode_start", name="uq_alerts_episode"),
    sa.CheckConstraint("state IN ('open', 'closed')", name="ck_alerts_state"),
    # at most one open episode per company and channel, whichever process sees it first
    sa.Index(
        "uq_alerts_open",
        "channel",
        "company_id",
        unique=True,
        sqlite_where=sa.text("state = 'open'"),
        postgresql_where=sa.text("state = 'open'"),
    ),
)

DIGEST_CHANNELS = sa.Table(
    "digest_channels",
    metadata,
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("first_seen", UTCDateTime(), nullable=False),
)

SUBSCRIPTIONS = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("channel", sa.String(64), nullable=False, unique=True),
    sa.Column("cadence", sa.String(16), nullable=False),
    sa.Column("weekday", sa.String(3)),
    sa.Column("time", sa.String(5), nullable=False),
    sa.Column("zone", sa.String(64)),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("cadence IN ('weekly', 'daily')", name="ck_subscriptions_cadence"),
)


@dataclass(frozen=True, slots=True)
class Run:
    """One digest for one channel and slot: who holds it, and how it ended."""

    id: int
    channel: str
    slot: datetime
    kind: str
    state: str
    owner: str
    attempts: int
    lease_until: datetime
    message_ts: str | None
    late: bool
    error: str | None


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    channel: str
    cadence: str  # "weekly" or "daily"
    weekday: str | None  # "mon".."sun" for weekly
    time: str  # "HH:MM"
    zone: str | None  # None = the bot's default zone
    created_by: str
    created_at: datetime


class Store:
    """The bot's database: SQLite for one host, PostgreSQL for replicas; sync, thread-safe."""

    def __init__(self, url: str) -> None:
        try:
            self.url = make_url(url)
            self.engine = _make_engine(self.url)
        except sa.exc.ArgumentError:
            raise StoreUnavailable(
                "DATABASE_URL is not a database URL the bot can use.",
                hint="Use sqlite:///path/to/file.db or postgresql+psycopg://user@host/db.",
            ) from None

    @property
    def where(self) -> str:
        """Where the database is, for messages: never the password."""
        url = self.url
        if url.get_backend_name() == "sqlite":
            return f"the SQLite file {url.database or ':memory:'}"
        port = f":{url.port}" if url.port else ""
        name = "PostgreSQL" if url.get_backend_name() == "postgresql" else url.get_backend_name()
        return f"the {name} server at {url.host or 'localhost'}{port} (database {url.database!r})"

    def upgrade(self) -> None:
        """Run the bundled migrations to head; safe to call again and from several processes."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
        try:
            with _MIGRATING, self.engine.begin() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except sa.exc.DBAPIError as exc:
            raise self._unavailable(exc) from exc
        except CommandError as exc:
            raise StoreUnavailable(
                f"The database ({self.where}) has a schema this version cannot use "
                f"({_first_line(exc)}).",
                hint="Run the newest version of the bot, or point DATABASE_URL elsewhere.",
            ) from exc

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise self._unavailable(exc) from exc
        except sa.exc.DatabaseError as exc:  # e.g. a SQLite file that is not a database
            if isinstance(exc, sa.exc.IntegrityError | sa.exc.ProgrammingError):
                raise  # our own mistakes stay loud
            raise self._unavailable(exc) from exc

    def describe(self, exc: sa.exc.DBAPIError) -> str:
        """The driver's reason for a failure, on one line, without the password."""
        reason = " ".join(_first_line(exc.orig if exc.orig is not None else exc).split())
        return reason.replace(self.url.password, "***") if self.url.password else reason

    def _unavailable(self, exc: sa.exc.DBAPIError) -> StoreUnavailable:
        reason = self.describe(exc)
        hint = (
            "Check DATABASE_URL, and that the file's folder exists and the bot may write there."
            if self.url.get_backend_name() == "sqlite"
            else None
        )
        return StoreUnavailable(f"Cannot use {self.where}: {reason}.", hint=hint)

    def _insert(self, table: sa.Table) -> Any:
        """INSERT with ON CONFLICT support, which both of our dialects have."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    # --- digest runs -----------------------------------------------------------------------

    def claim_slot(
        self,
        channel: str,
        slot: datetime,
        *,
        kind: str = "scheduled",
        owner: str,
        now: datetime,
        lease_s: int = 300,
    ) -> Run | None:
        """Take the slot for `owner`, or None when another process holds it or it is done.

        A new slot is inserted; an existing one is taken over only when its lease ran out
        (claimed by a process that died, or failed and its retry is due). A posted slot is
        never claimed again.
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        lease_until = now + timedelta(seconds=lease_s)
        claim = self._insert(RUNS).values(
            channel=channel,
            slot=slot,
            kind=kind,
            state="claimed",
            owner=owner,
            lease_until=lease_until,
            attempts=1,
            late=False,
            created_at=now,
            updated_at=now,
        )
        takeover = _takeover(RUNS.c.channel == channel, RUNS.c.slot == slot, RUNS.c.kind == kind)
        takeover = takeover.where(RUNS.c.lease_until < now)
        with self._begin() as conn:
            row = conn.execute(claim.on_conflict_do_nothing().returning(*RUNS.c)).first()
            if row is None:  # the slot exists: the conditional UPDATE decides, atomically
                taken = takeover.values(owner=owner, lease_until=lease_until, updated_at=now)
                row = conn.execute(taken.returning(*RUNS.c)).first()
        return None if row is None else _run_of(row)

    def renew(self, run_id: int, *, owner: str, now: datetime, lease_s: int = 300) -> bool:
        """Extend the lease; False when the run is no longer ours to finish."""
        renewal = (
            sa.update(RUNS)
            .where(RUNS.c.id == run_id, RUNS.c.owner == owner, RUNS.c.state == "claimed")
            .values(lease_until=now + timedelta(seconds=lease_s), updated_at=now)
        )
        with self._begin() as conn:
            return conn.execute(renewal).rowcount == 1

    def mark_posted(
        self,
        run_id: int,
        *,
        owner: str,
        message_ts: str,
        snapshot: Snapshot,
        now: datetime,
        late: bool,
    ) -> None:
        """Record the post and its snapshot in one transaction.

        The message is in the channel by now, so this is recorded even if the lease ran out
        meanwhile; only a run already recorded as posted is left as it is.
        """
        posted = (
            sa.update(RUNS)
            .where(RUNS.c.id == run_id, RUNS.c.state != "posted")
            .values(
                state="posted",
                owner=owner,
                message_ts=message_ts,
                late=late,
                error=None,
                lease_until=now,
                updated_at=now,
            )
            .returning(RUNS.c.channel)
        )
        with self._begin() as conn:
            channel = conn.execute(posted).scalar()
            if channel is None:
                log.warning(
                    "digest run %s was already posted; message %s not recorded", run_id, message_ts
                )
                return
            _save_snapshot(conn, run_id, channel, snapshot)

    def mark_failed(
        self,
        run_id: int,
        *,
        owner: str,
        error: str,
        now: datetime,
        retry_at: datetime | None = None,
    ) -> None:
        """Record a failed attempt and its error; the slot may be claimed again from
        `retry_at` on (default: at once, see claim_slot)."""
        failed = (
            sa.update(RUNS)
            .where(RUNS.c.id == run_id, RUNS.c.owner == owner, RUNS.c.state == "claimed")
            .values(
                state="failed",
                error=error[:ERROR_CHARS],
                lease_until=retry_at or now,
                updated_at=now,
            )
        )
        with self._begin() as conn:
            if conn.execute(failed).rowcount != 1:
                log.info(
                    "digest run %s is no longer held by %s; failure not recorded", run_id, owner
                )

    def run(self, channel: str, slot: datetime, kind: str = "scheduled") -> Run | None:
        query = sa.select(RUNS).where(
            RUNS.c.channel == channel, RUNS.c.slot == slot, RUNS.c.kind == kind
        )
        with self._begin() as conn:
            row = conn.execute(query).first()
        return None if row is None else _run_of(row)

    def last_run(self, channel: str) -> Run | None:
        """The run with the latest slot, of either kind."""
        query = (
            sa.select(RUNS)
            .where(RUNS.c.channel == channel)
            .order_by(RUNS.c.slot.desc(), RUNS.c.id.desc())
            .limit(1)
        )
        with self._begin() as conn:
            row = conn.execute(query).first()
        return None if row is None else _run_of(row)

    def runs(self, channel: str) -> list[Run]:
        """Every run of the channel, oldest slot first."""
        query = sa.select(RUNS).where(RUNS.c.channel == channel).order_by(RUNS.c.slot, RUNS.c.id)
        with self._begin() as conn:
            return [_run_of(row) for row in conn.execute(query)]

    def pending_runs(
        self,
        channel: str,
        *,
        now: datetime,
        since: datetime,
        kind: str = "scheduled",
    ) -> list[Run]:
        """Runs from `since` on that claim_slot would hand out again: abandoned or failed."""
        query = (
            sa.select(RUNS)
            .where(
                RUNS.c.channel == channel,
                RUNS.c.kind == kind,
                RUNS.c.slot >= since,
                RUNS.c.state.in_(("claimed", "failed")),
                RUNS.c.lease_until < now,
            )
            .order_by(RUNS.c.slot, RUNS.c.id)
        )
        with self._begin() as conn:
            return [_run_of(row) for row in conn.execute(query)]

    def first_seen(self, channel: str, *, now: datetime) -> datetime:
        """When this database first saw `channel` as a digest channel; `now` the first time."""
        seen = self._insert(DIGEST_CHANNELS).values(channel=channel, first_seen=now)
        with self._begin() as conn:
            conn.execute(seen.on_conflict_do_nothing())
            first: datetime = conn.execute(
                sa.select(DIGEST_CHANNELS.c.first_seen).where(DIGEST_CHANNELS.c.channel == channel)
            ).scalar_one()
        return first

    def last_digest(self) -> Run | None:
        """The posted digest with the latest slot, in any channel and of either kind (alert
        checks keep no snapshot, so they are not digests)."""
        query = (
            sa.select(RUNS)
            .join(SNAPSHOTS, SNAPSHOTS.c.run_id == RUNS.c.id)
            .where(RUNS.c.state == "posted")
            .order_by(RUNS.c.slot.desc(), RUNS.c.id.desc())
            .limit(1)
        )
        with self._begin() as conn:
            row = conn.execute(query).first()
        return None if row is None else _run_of(row)

    # --- snapshots -------------------------------------------------------------------------

    def previous_snapshot(self, channel: str, *, before: datetime | None = None) -> Snapshot | None:
        """The snapshot of the channel's latest posted digest (any kind), taken before `before`."""
        query = _posted_snapshots(channel).order_by(
            SNAPSHOTS.c.taken_at.desc(), SNAPSHOTS.c.id.desc()
        )
        if before is not None:
            query = query.where(SNAPSHOTS.c.taken_at < before)
        with self._begin() as conn:
            head = conn.execute(query.limit(1)).first()
            if head is None:
                return None
            rows = conn.execute(
                sa.select(SNAPSHOT_ROWS)
                .where(SNAPSHOT_ROWS.c.snapshot_id == head.id)
                .order_by(SNAPSHOT_ROWS.c.position)
            )
            return Snapshot(taken_at=head.taken_at, rows=tuple(_row_of(r) for r in rows))

    def trend(self, channel: str, count: int = 8) -> tuple[TrendPoint, ...]:
        """The last `count` posted digests' totals, oldest first."""
        query = (
            _posted_snapshots(channel)
            .order_by(SNAPSHOTS.c.taken_at.desc(), SNAPSHOTS.c.id.desc())
            .limit(count)
        )
        with self._begin() as conn:
            heads = conn.execute(query).all()
        return tuple(
            TrendPoint(h.taken_at, h.companies_over, h.seats_over) for h in reversed(heads)
        )

    # --- alert episodes --------------------------------------------------------------------

    def open_alert_episode(self, channel: str, company_id: str, *, now: datetime) -> bool:
        """True only for the first sighting of a company over limit since its last episode."""
        return bool(self.open_alert_episodes(channel, [company_id], now=now))

    def open_alert_episodes(
        self, channel: str, company_ids: Collection[str], *, now: datetime
    ) -> list[str]:
        """Open an episode for each company not in one already; the newly opened, sorted.
        One transaction, however many companies are over."""
        opened: list[str] = []
        with self._begin() as conn:
            for chunk in _chunks(sorted(company_ids)):
                rows = [
                    {"channel": channel, "company_id": c, "episode_start": now, "state": "open"}
                    for c in chunk
                ]
                insert = self._insert(ALERTS).values(rows).on_conflict_do_nothing()
                opened.extend(conn.scalars(insert.returning(ALERTS.c.company_id)))
        return sorted(opened)

    def close_alert_episodes(
        self, channel: str, *, still_over: set[str], now: datetime
    ) -> list[str]:
        """Close the open episodes of companies no longer over; their IDs, sorted."""
        open_ids = sa.select(ALERTS.c.company_id).where(
            ALERTS.c.channel == channel, ALERTS.c.state == "open"
        )
        closed: list[str] = []
        with self._begin() as conn:
            gone = sorted(set(conn.scalars(open_ids)) - still_over)
            for chunk in _chunks(gone):
                closing = (
                    sa.update(ALERTS)
                    .where(
                        ALERTS.c.channel == channel,
                        ALERTS.c.state == "open",
                        ALERTS.c.company_id.in_(chunk),
                    )
                    .values(state="closed", closed_at=now)
                    .returning(ALERTS.c.company_id)
                )
                closed.extend(conn.scalars(closing))
        return sorted(closed)

    def stamp_alerts(self, channel: str, company_ids: Collection[str], *, key: str) -> None:
        """Note, before posting, which check (its slot key) sets out to announce these open
        episodes: should it die after posting, a later check finds that post by its key."""
        self._update_open_alerts(
            channel, company_ids, {"check_key": key}, ALERTS.c.posted_at.is_(None)
        )

    def mark_alert_posted(
        self, channel: str, company_ids: Collection[str], *, ts: str, now: datetime
    ) -> None:
        """Note the message that announced these companies' open episodes."""
        self._update_open_alerts(channel, company_ids, {"posted_at": now, "message_ts": ts})

    def _update_open_alerts(
        self,
        channel: str,
        company_ids: Collection[str],
        values: dict[str, Any],
        *conditions: sa.ColumnElement[bool],
    ) -> None:
        with self._begin() as conn:
            for chunk in _chunks(sorted(company_ids)):
                conn.execute(
                    sa.update(ALERTS)
                    .where(
                        ALERTS.c.channel == channel,
                        ALERTS.c.state == "open",
                        ALERTS.c.company_id.in_(chunk),
                        *conditions,
                    )
                    .values(**values)
                )

    # --- subscriptions ---------------------------------------------------------------------

    def add_subscription(
        self,
        channel: str,
        *,
        cadence: str,
        weekday: str | None,
        time: str,
        zone: str | None,
        created_by: str,
        now: datetime,
    ) -> Subscription:
        """Subscribe the channel; replaces the channel's earlier subscription, if any."""
        if cadence not in CADENCES:
            raise ValueError(f"cadence must be one of {CADENCES}, got {cadence!r}")
        values = {
            "cadence": cadence,
            "weekday": weekday,
            "time": time,
            "zone": zone,
            "created_by": created_by,
            "created_at": now,
        }
        upsert = (
            self._insert(SUBSCRIPTIONS)
            .values(channel=channel, **values)
            .on_conflict_do_update(index_elements=["channel"], set_=values)
            .returning(*SUBSCRIPTIONS.c)
        )
        with self._begin() as conn:
            return _subscription_of(conn.execute(upsert).one())

    def remove_subscription(self, channel: str) -> bool:
        with self._begin() as conn:
            removed = conn.execute(
                sa.delete(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.channel == channel)
            )
            return removed.rowcount > 0

    def subscriptions(self) -> list[Subscription]:
        query = sa.select(SUBSCRIPTIONS).order_by(SUBSCRIPTIONS.c.channel)
        with self._begin() as conn:
            return [_subscription_of(row) for row in conn.execute(query)]

    # --- alert checks ----------------------------------------------------------------------

    def unposted_alerts(self, channel: str) -> list[str]:
        """The companies whose open episode no message has announced yet; their IDs, sorted."""
        return sorted(self.unposted_alert_keys(channel))

    def unposted_alert_keys(self, channel: str) -> dict[str, str | None]:
        """The unannounced open episodes: company ID → the key of the check that set out to
        announce it (None: none has yet)."""
        query = sa.select(ALERTS.c.company_id, ALERTS.c.check_key).where(
            ALERTS.c.channel == channel,
            ALERTS.c.state == "open",
            ALERTS.c.posted_at.is_(None),
        )
        with self._begin() as conn:
            return {row.company_id: row.check_key for row in conn.execute(query)}

    def mark_done(
        self, run_id: int, *, owner: str, now: datetime, message_ts: str | None = None
    ) -> None:
        """Record a run that finished (with the message it posted, if any) and keeps no
        snapshot, as an alert check: done, never claimed again."""
        done = (
            sa.update(RUNS)
            .where(RUNS.c.id == run_id, RUNS.c.owner == owner, RUNS.c.state == "claimed")
            .values(
                state="posted", message_ts=message_ts, error=None, lease_until=now, updated_at=now
            )
        )
        with self._begin() as conn:
            if conn.execute(done).rowcount != 1:
                log.info("run %s is no longer held by %s; its end not recorded", run_id, owner)

    def last_posted_run(self, channel: str) -> Run | None:
        """The finished run with the latest slot, of either kind (message_ts None: quiet)."""
        query = (
            sa.select(RUNS)
            .where(RUNS.c.channel == channel, RUNS.c.state == "posted")
            .order_by(RUNS.c.slot.desc(), RUNS.c.id.desc())
            .limit(1)
        )
        with self._begin() as conn:
            row = conn.execute(query).first()
        return None if row is None else _run_of(row)


def _make_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        sa.event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return sa.create_engine(
        url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
    )


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy, not the sqlite3 module, starts each transaction (see _sqlite_on_begin)
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")  # readers never block the one writer
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # take the write lock up front: a read-then-write transaction in WAL mode could otherwise
    # fail with SQLITE_BUSY at once, without waiting out the busy timeout
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _takeover(*slot: sa.ColumnElement[bool]) -> sa.Update:
    """Claim an existing run again: only one still claimed or failed, never a posted one."""
    return (
        sa.update(RUNS)
        .where(*slot, RUNS.c.state.in_(("claimed", "failed")))
        .values(state="claimed", attempts=RUNS.c.attempts + 1)
    )


def _posted_snapshots(channel: str) -> sa.Select[Any]:
    return (
        sa.select(SNAPSHOTS)
        .join(RUNS, RUNS.c.id == SNAPSHOTS.c.run_id)
        .where(RUNS.c.channel == channel, RUNS.c.state == "posted")
    )


def _save_snapshot(conn: Connection, run_id: int, channel: str, snapshot: Snapshot) -> None:
    snapshot_id = conn.execute(
        sa.insert(SNAPSHOTS)
        .values(
            run_id=run_id,
            channel=channel,
            taken_at=snapshot.taken_at,
            companies_over=snapshot.companies_over,
            seats_over=snapshot.seats_over,
        )
        .returning(SNAPSHOTS.c.id)
    ).scalar_one()
    rows = [
        {
            "snapshot_id": snapshot_id,
            "position": position,
            "company_id": row.company_id,
            "name": row.name,
            "limit": row.limit,
            "target_users": row.target_users,
            "seats_over": row.seats_over,
        }
        for position, row in enumerate(snapshot.rows)
    ]
    if rows:
        conn.execute(sa.insert(SNAPSHOT_ROWS), rows)


def _run_of(row: sa.Row[Any]) -> Run:
    return Run(
        id=row.id,
        channel=row.channel,
        slot=row.slot,
        kind=row.kind,
        state=row.state,
        owner=row.owner,
        attempts=row.attempts,
        lease_until=row.lease_until,
        message_ts=row.message_ts,
        late=bool(row.late),
        error=row.error,
    )


def _row_of(row: sa.Row[Any]) -> SnapshotRow:
    return SnapshotRow(
        company_id=row.company_id,
        name=row.name,
        limit=row.limit,
        target_users=row.target_users,
        seats_over=row.seats_over,
    )


def _subscription_of(row: sa.Row[Any]) -> Subscription:
    return Subscription(
        id=row.id,
        channel=row.channel,
        cadence=row.cadence,
        weekday=row.weekday,
        time=row.time,
        zone=row.zone,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0].strip().rstrip(".")
