"""The snapshots of posted digests: the previous one to compare with, and the trend."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.digest import Snapshot, SnapshotRow, TrendPoint
from bot.store.database import Database
from bot.store.schema import RUNS, SNAPSHOT_ROWS, SNAPSHOTS


class SnapshotQueries(Database):
    """The snapshots kept with posted digests."""

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


def _row_of(row: sa.Row[Any]) -> SnapshotRow:
    return SnapshotRow(
        company_id=row.company_id,
        name=row.name,
        limit=row.limit,
        target_users=row.target_users,
        seats_over=row.seats_over,
    )
