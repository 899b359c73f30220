"""Digest runs: a slot claimed once, its lease, and how it ended."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bot.digest import Snapshot
from bot.store.database import Database
from bot.store.schema import DIGEST_CHANNELS, ERROR_CHARS, KINDS, RUNS, SNAPSHOTS
from bot.store.snapshots import _save_snapshot

log = logging.getLogger(__name__)

_KEYS_PER_QUERY = 500  # channel keys in one IN (...), well under every driver's limit


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


class RunQueries(Database):
    """Claiming, renewing and recording digest runs and alert checks."""

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

    def settled_slots(
        self, channels: Collection[str], *, now: datetime
    ) -> set[tuple[str, datetime]]:
        """The (channel key, slot) of the runs of these keys that claim_slot would not hand
        out at `now`: posted, held by a live lease, or failed with a retry not yet due."""
        settled: set[tuple[str, datetime]] = set()
        keys = sorted(set(channels))
        with self._begin() as conn:
            for start in range(0, len(keys), _KEYS_PER_QUERY):
                query = sa.select(RUNS.c.channel, RUNS.c.slot).where(
                    RUNS.c.channel.in_(keys[start : start + _KEYS_PER_QUERY]),
                    sa.or_(RUNS.c.state == "posted", RUNS.c.lease_until >= now),
                )
                settled |= {(row.channel, row.slot) for row in conn.execute(query)}
        return settled

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


def _takeover(*slot: sa.ColumnElement[bool]) -> sa.Update:
    """Claim an existing run again: only one still claimed or failed, never a posted one."""
    return (
        sa.update(RUNS)
        .where(*slot, RUNS.c.state.in_(("claimed", "failed")))
        .values(state="claimed", attempts=RUNS.c.attempts + 1)
    )


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
