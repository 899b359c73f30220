"""SQLAlchemy storage: digest runs claimed once per slot, their snapshots, alerts, subscriptions,
overage cases.

`schema` holds the tables and the engine set-up, `database` the connection they share; the
queries live by what they serve (`runs`, `snapshots`, `alerts`, `subscriptions`, `cases`), each
a mixin of Store, the one entry point.
"""

from __future__ import annotations

from bot.store.alerts import AlertQueries
from bot.store.cases import CaseHistory, CaseQueries, CaseSync
from bot.store.runs import Run, RunQueries
from bot.store.schema import (
    ALERTS,
    CADENCES,
    CASE_EVENTS,
    CASE_STATES,
    CASES,
    CONNECT_TIMEOUT_S,
    DIGEST_CHANNELS,
    ERROR_CHARS,
    KINDS,
    MIGRATIONS,
    RUNS,
    SNAPSHOT_ROWS,
    SNAPSHOTS,
    SQLITE_BUSY_TIMEOUT_MS,
    SUBSCRIPTIONS,
    UTCDateTime,
    metadata,
)
from bot.store.snapshots import SnapshotQueries
from bot.store.subscriptions import Subscription, SubscriptionQueries

__all__ = [
    "ALERTS",
    "CADENCES",
    "CASES",
    "CASE_EVENTS",
    "CASE_STATES",
    "CONNECT_TIMEOUT_S",
    "DIGEST_CHANNELS",
    "ERROR_CHARS",
    "KINDS",
    "MIGRATIONS",
    "RUNS",
    "SNAPSHOTS",
    "SNAPSHOT_ROWS",
    "SQLITE_BUSY_TIMEOUT_MS",
    "SUBSCRIPTIONS",
    "CaseHistory",
    "CaseSync",
    "Run",
    "Store",
    "Subscription",
    "UTCDateTime",
    "metadata",
]


class Store(RunQueries, SnapshotQueries, AlertQueries, SubscriptionQueries, CaseQueries):
    """The bot's database: SQLite for one host, PostgreSQL for replicas; sync, thread-safe."""
