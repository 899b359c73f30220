"""Use case: remind the owner of a case invoiced more than CASE_REMINDER_DAYS ago whose company
is still over its limit, once per case and reminder period, across replicas and restarts.

Each reminder is a run of its own, keyed by the case and its period (the invoice's time plus
a whole number of periods), claimed, held and recorded as digests and alert checks are: one
process posts it, a process that dies after posting leaves it to be found by its metadata
rather than posted again, and a failed post is retried.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import render_slack
from bot.cases import Case, company_key
from bot.config import Settings
from bot.crontab import slot_key
from bot.overage import Report
from bot.publish import Poster
from bot.services.reports import Reports
from bot.services.runs import Runs
from bot.store import Run, Store

log = logging.getLogger(__name__)

REMINDER_EVENT = "overage_case_reminder"
REMINDERS_PER_TICK = 20  # a backlog (a first start, a long outage) is spread over ticks


def reminder_key(case_id: int) -> str:
    """The runs' channel key of one case's reminders."""
    return f"reminder:{case_id}"


def due_slot(invoiced_at: datetime, *, now: datetime, every: timedelta) -> datetime | None:
    """The start of the latest reminder period a case invoiced at `invoiced_at` has reached
    by `now` (the invoice's time plus a whole number of periods, at least one); None before
    the first."""
    periods = (now - invoiced_at) // every
    return invoiced_at + periods * every if periods >= 1 else None


@dataclass(frozen=True, slots=True)
class _Due:
    case: Case
    invoiced_at: datetime
    slot: datetime

    @property
    def key(self) -> str:
        return reminder_key(self.case.id or 0)


class Reminders:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        poster: Poster,
        *,
        reports: Reports,
        runs: Runs,
        now: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._store = store
        self._poster = poster
        self._reports = reports
        self._runs = runs
        self._now = now

    async def remind(self, channel: str) -> list[str]:
        """Post the reminders due now that no process has posted or is posting: the posted
        messages' ts. The overage list is fetched only when one is due, to see that its
        company is still over."""
        if not await asyncio.to_thread(self._due):
            return []
        report = await self._reports.report()
        due = await asyncio.to_thread(self._still_due, report)
        posted = []
        for reminder in due[:REMINDERS_PER_TICK]:
            ts = await self._remind(channel, reminder)
            if ts is not None:
                posted.append(ts)
        return posted

    def _due(self) -> list[_Due]:
        """The open invoiced cases whose reminder period has come and is not settled."""
        now = self._now()
        every = timedelta(days=self._settings.case_reminder_days)
        candidates = []
        for case, invoiced_at in self._store.invoiced_cases():
            slot = due_slot(invoiced_at, now=now, every=every)
            if slot is not None and case.id is not None:
                candidates.append(_Due(case, invoiced_at, slot))
        settled = self._store.settled_slots([c.key for c in candidates], now=now)
        return [c for c in candidates if (c.key, c.slot) not in settled]

    def _still_due(self, report: Report) -> list[_Due]:
        """The reminders due once the cases are synced with the report (idempotent): those of
        companies in it, still over their limit and still invoiced."""
        self._store.sync_cases(report, at=self._now().astimezone(self._settings.zone))
        over = {company_key(o.company.ref) for o in report.overages}
        return [d for d in self._due() if d.case.company_id in over]

    async def _remind(self, channel: str, due: _Due) -> str | None:
        run = await self._runs.claim(due.key, due.slot, now=self._now())
        if run is None:  # another process has it, or has posted it
            return None
        async with self._runs.holding(run) as lease, self._runs.recording_failure(run):
            key = f"{due.key}/{slot_key(due.slot)}"
            if run.attempts > 1:  # an attempt that died may have posted it
                found = await self._runs.find_earlier_post(
                    channel, event_type=REMINDER_EVENT, key=key, since=due.slot
                )
                if found is not None:
                    await asyncio.to_thread(self._runs.record_done, run, found)
                    return found
            if lease.lost:  # another process has the reminder now: it posts, not us
                return None
            return await self._post(channel, due, run, key)

    async def _post(self, channel: str, due: _Due, run: Run, key: str) -> str:
        message = render_slack.render_reminder(
            due.case,
            invoiced_at=due.invoiced_at,
            now=self._now(),
            every_days=self._settings.case_reminder_days,
            currency=self._settings.currency,
        )
        metadata = {"event_type": REMINDER_EVENT, "event_payload": {"key": key}}
        ts = await self._poster.post(channel, message, metadata=metadata)
        await asyncio.to_thread(functools.partial(self._runs.record_done, run, ts))
        log.info(
            "reminder for case %s of company %s posted in %s (period from %s)",
            due.case.id,
            due.case.company_id,
            channel,
            slot_key(due.slot),
        )
        return ts
