"""The tables, their aware-UTC datetime type, where the migrations live, and the engine
set-up for SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Dialect, Engine

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_S = 10
ERROR_CHARS = 500
KINDS = ("scheduled", "manual")
CADENCES = ("weekly", "daily")
CASE_STATES = ("new", "contacted", "invoiced", "snoozed", "waived", "resolved")


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

_CASE_STATE_IN = "IN (" + ", ".join(f"'{state}'" for state in CASE_STATES) + ")"

# one overage episode of one company (bot.cases.Case); amounts are Decimal as text, exact on
# every backend
CASES = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("company_id", sa.String(128), nullable=False),
    sa.Column("company_name", sa.Text, nullable=False),
    sa.Column("opened_at", UTCDateTime(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("seats_over", sa.Integer),
    sa.Column("owner", sa.String(64)),
    sa.Column("resume", sa.String(16)),  # the state a snoozed or waived case returns to
    sa.Column("invoiced_seats", sa.Integer),
    sa.Column("invoiced_amount", sa.String(40)),
    sa.Column("invoice_ref", sa.String(100), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("snoozed_until", sa.Date),
    sa.Column("waived_seats", sa.Integer),
    sa.Column("closed_at", UTCDateTime()),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("updated_by", sa.String(64), nullable=False),
    sa.Column("last_action", sa.String(16), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.UniqueConstraint("company_id", "opened_at", name="uq_cases_episode"),
    sa.CheckConstraint(f"state {_CASE_STATE_IN}", name="ck_cases_state"),
    # at most one open case per company, whichever process sees it go over first
    sa.Index(
        "uq_cases_open",
        "company_id",
        unique=True,
        sqlite_where=sa.text("state <> 'resolved'"),
        postgresql_where=sa.text("state <> 'resolved'"),
    ),
    sa.Index("ix_cases_state", "state"),
)

# a case's history: one entry per version, in the order the changes were made
CASE_EVENTS = sa.Table(
    "case_events",
    metadata,
    sa.Column(
        "case_id", sa.Integer, sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("surface", sa.String(16), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("from_state", sa.String(16), nullable=False),
    sa.Column("to_state", sa.String(16), nullable=False),
    sa.Column("owner", sa.String(64)),
    sa.Column("seats", sa.Integer),
    sa.Column("amount", sa.String(40)),
    sa.Column("reference", sa.String(100), nullable=False),
    sa.Column("snoozed_until", sa.Date),
    sa.Column("text", sa.Text, nullable=False),
)


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


READ_ONLY = "overage_read_only"  # the execution option of a transaction that only reads


def _sqlite_on_begin(conn: Connection) -> None:
    # take the write lock up front: a read-then-write transaction in WAL mode could otherwise
    # fail with SQLITE_BUSY at once, without waiting out the busy timeout. A transaction that
    # only reads takes no lock: in WAL mode it reads a snapshot while the one writer writes
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
