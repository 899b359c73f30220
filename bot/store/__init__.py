"""SQLAlchemy storage: digest runs claimed once per slot, their snapshots, alerts, subscriptions.

`schema` holds the tables and the engine set-up, `database` the connection they share; the
queries live by what they serve (`runs`, `snapshots`, `alerts`, `subscriptions`), each a mixin
of Store, the one entry point.
"""

from __future__ import annotations

from bot.store.alerts import AlertQueries
from bot.store.runs import Run, RunQueries
from bot.store.schema import (
    ALERTS,
    CADENCES,
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
    "Run",
    "Store",
    "Subscription",
    "UTCDateTime",
    "metadata",
]


class Store(RunQueries, SnapshotQueries, AlertQueries, SubscriptionQueries):
    """The bot's database: SQLite for one host, PostgreSQL for replicas; sync, thread-safe."""
