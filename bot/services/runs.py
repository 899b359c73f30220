"""The claim → heartbeat → record protocol that digests and alert checks share.

A slot is claimed by one process at a time; the claim is renewed while the work goes on,
and the run records how it ended (posted, done, or failed with a time to try again), so
that replicas on one database post each slot once, and a process that dies mid-way leaves
the slot to whoever comes next.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.crontab import retry_delay
from bot.digest import Snapshot
from bot.errors import BotError, SlackRefused
from bot.publish import Poster
from bot.store import Run, Store

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Lease:
    """A claim on a run, kept alive while held; `lost` once another process has taken it."""

    lost: bool = False


class Runs:
    """This process's claims on slots, and the record of how each attempt ended."""

    def __init__(
        self,
        store: Store,
        poster: Poster,
        *,
        instance_id: str,
        lease_s: int,
        now: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._poster = poster
        self.instance_id = instance_id
        self._lease_s = lease_s
        self._now = now

    async def claim(
        self, channel: str, slot: datetime, *, now: datetime, kind: str = "scheduled"
    ) -> Run | None:
        """The slot, now ours; None when another process holds it or it is done."""
        return await asyncio.to_thread(
            functools.partial(
                self._store.claim_slot, channel, slot, kind=kind, owner=self.instance_id,
                now=now, lease_s=self._lease_s,
            )
        )  # fmt: skip

    @contextlib.asynccontextmanager
    async def holding(self, run: Run) -> AsyncIterator[Lease]:
        """Keep the claim on `run` alive for as long as the block works on it."""
        lease = Lease()
        heartbeat = asyncio.ensure_future(self._keep_lease(run, lease))
        try:
            yield lease
        finally:
            heartbeat.cancel()

    @contextlib.asynccontextmanager
    async def recording_failure(self, run: Run) -> AsyncIterator[None]:
        """A failure in the block is recorded on the run before the error travels on."""
        try:
            yield
        except Exception as exc:  # the run must record its real outcome, whatever it was
            await asyncio.to_thread(self._record_failed, run, exc)
            raise

    async def _keep_lease(self, run: Run, lease: Lease) -> None:
        """Renew the claim while we work; if this process dies, the lease soon runs out and
        another replica (or this one restarted) takes the slot over. A renewal the database
        refuses means another process has the slot now: the lease is marked lost."""
        while not lease.lost:
            await asyncio.sleep(self._lease_s / 3)
            try:
                renewed = await asyncio.to_thread(
                    functools.partial(
                        self._store.renew, run.id, owner=self.instance_id, now=self._now(),
                        lease_s=self._lease_s,
                    )
                )  # fmt: skip
            except BotError as exc:  # try again at the next beat; the lease may still hold
                log.warning("claim on run %s not renewed: %s", run.id, exc)
                continue
            if not renewed:
                log.warning("claim on run %s was taken over by another process", run.id)
                lease.lost = True

    def _record_failed(self, run: Run, exc: BaseException) -> None:
        """Record the failed attempt with its error; it is tried again after a gap that grows
        with each attempt (the longest at once for an error waiting cannot heal)."""
        reason = exc.for_user() if isinstance(exc, BotError) else type(exc).__name__
        now = self._now()
        lasting = isinstance(exc, BotError) and exc.lasting
        retry_at = now + retry_delay(run.attempts, lasting=lasting)
        self._store.mark_failed(
            run.id, owner=self.instance_id, error=reason, now=now, retry_at=retry_at
        )

    def record_posted(self, run: Run, ts: str, snapshot: Snapshot, *, late: bool) -> None:
        """Record a posted digest with what it saw (blocking: run it in a thread)."""
        self._store.mark_posted(
            run.id,
            owner=self.instance_id,
            message_ts=ts,
            snapshot=snapshot,
            now=self._now(),
            late=late,
        )

    def record_done(self, run: Run, ts: str | None = None) -> None:
        """Record a check as done, with the message it posted, if any (blocking)."""
        self._store.mark_done(run.id, owner=self.instance_id, now=self._now(), message_ts=ts)

    async def find_earlier_post(
        self, channel: str, *, event_type: str, key: str, since: datetime
    ) -> str | None:
        """The ts of the message an earlier attempt posted in `channel` (not before `since`,
        its slot) before a crash kept it from recording it, found by its metadata; else None."""
        try:
            return await self._poster.find_message(
                channel, event_type=event_type, key=key, oldest=since.timestamp() - 60
            )
        except SlackRefused as exc:  # e.g. missing_scope on an old install: post unchecked
            log.warning("could not look for an earlier post in %s: %s", channel, exc)
            return None

    def run(self, channel: str, slot: datetime) -> Run | None:
        """The scheduled run of this channel key and slot, if any (blocking)."""
        return self._store.run(channel, slot)

    def pending(self, channel: str, *, now: datetime, within: timedelta) -> list[Run]:
        """Runs of the last `within` that a claim would hand out again: abandoned or failed,
        oldest first (blocking)."""
        return self._store.pending_runs(channel, now=now, since=now - within)

    def is_running(self, channel: str, slot: datetime) -> bool:
        """Whether a process holds this slot now with a lease that has not run out (blocking)."""
        earlier = self._store.run(channel, slot)
        return (
            earlier is not None
            and earlier.state == "claimed"
            and earlier.lease_until >= self._now()
        )
