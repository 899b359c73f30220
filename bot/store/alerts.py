"""Alert episodes: a company over its limit announced once per episode."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.store.database import Database
from bot.store.schema import ALERTS

_CHUNK = 500  # ids per IN (...) list, well under every driver's parameter limit


class AlertQueries(Database):
    """Opening, closing and announcing alert episodes."""

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


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]
