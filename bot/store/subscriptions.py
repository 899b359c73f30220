"""Digest subscriptions: one schedule per channel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.store.database import Database
from bot.store.schema import CADENCES, SUBSCRIPTIONS


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


class SubscriptionQueries(Database):
    """Adding, removing and listing digest subscriptions."""

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
