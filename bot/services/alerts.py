"""Use case: alert a channel once per episode of a customer going over its license limit."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Collection
from datetime import datetime, timedelta

from bot import render_slack
from bot.crontab import slot_key
from bot.overage import Report
from bot.publish import Poster
from bot.services.reports import Reports
from bot.services.runs import Lease, Runs
from bot.store import Run, Store

log = logging.getLogger(__name__)

ALERT_EVENT = "overage_alert"
ABANDONED_WITHIN = timedelta(days=1)  # how far back checks whose process died are looked for


def alert_key(channel: str) -> str:
    """The runs' channel key of a channel's alert checks, apart from its digests."""
    return f"alerts:{channel}"


class Alerts:
    def __init__(
        self,
        store: Store,
        poster: Poster,
        *,
        reports: Reports,
        runs: Runs,
        now: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._poster = poster
        self._reports = reports
        self._runs = runs
        self._now = now

    async def check(self, channel: str, slot: datetime) -> str | None:
        """Run one scheduled alert check; the posted message's ts, or None when nothing was
        posted (another process has or is doing this slot, or no customer newly went over)."""
        run = await self._runs.claim(alert_key(channel), slot, now=self._now())
        if run is None:
            return None
        async with self._runs.holding(run) as lease, self._runs.recording_failure(run):
            return await self._check(channel, run, lease)

    async def was_started(self, channel: str, slot: datetime) -> bool:
        """Whether a check of this slot was ever started, here or by another process."""
        return await asyncio.to_thread(self._runs.run, alert_key(channel), slot) is not None

    async def _check(self, channel: str, run: Run, lease: Lease) -> str | None:
        key = slot_key(run.slot)
        # before any episode is opened: the unposted ones are those earlier checks set out to post
        own, in_flight = await self._settle_earlier_posts(channel, run)
        if own is not None:  # this slot's own earlier attempt posted, then died
            await asyncio.to_thread(self._runs.record_done, run, own)
            return own
        report = await self._reports.report(fresh=True)
        unposted = await asyncio.to_thread(self._update_episodes, channel, report)
        new = [o for o in report.overages if o.company.ref in unposted - in_flight]
        if not new:
            await asyncio.to_thread(self._runs.record_done, run)
            return None
        # the first check of a channel sums up who is over already instead of one alert each
        baseline = await asyncio.to_thread(self._store.last_posted_run, run.channel) is None
        message = render_slack.render_alert(new, report=report, now=self._now(), baseline=baseline)
        metadata = {"event_type": ALERT_EVENT, "event_payload": {"key": key}}
        ids = [o.company.ref for o in new]
        # noted before posting: should this process die after the post, a later check finds the
        # message by this key instead of announcing these episodes again
        await asyncio.to_thread(functools.partial(self._store.stamp_alerts, channel, ids, key=key))
        if lease.lost:  # another process has the check now: it posts, not us
            return None
        ts = await self._poster.post(channel, message, metadata=metadata)
        await asyncio.to_thread(functools.partial(self._record_posted, channel, run, ids, ts=ts))
        log.debug("alert for %d companies posted in %s (baseline: %s)", len(ids), channel, baseline)
        return ts

    async def _settle_earlier_posts(self, channel: str, run: Run) -> tuple[str | None, set[str]]:
        """Record the posts of earlier checks whose process died before recording them, found
        in the channel by their key, so that no episode is announced twice.

        The keys looked for: those the unposted episodes were stamped with before their post,
        this slot's own when it is taken over, and, for episodes stamped by none (a check that
        died between opening and stamping them, or an older version), the checks whose process
        died. Returns this slot's own earlier post, if found, and the episodes of a check still
        running elsewhere, which are left to it.
        """
        own = slot_key(run.slot)
        stamps = await asyncio.to_thread(self._store.unposted_alert_keys, channel)
        # each check's key → its slot (a stamp is always a slot_key)
        checks = {key: datetime.fromisoformat(key) for key in stamps.values() if key is not None}
        if run.attempts > 1:
            checks[own] = run.slot
        unstamped = {company for company, stamp in stamps.items() if stamp is None}
        abandoned: dict[str, datetime] = {}
        if unstamped:
            abandoned = await asyncio.to_thread(self._abandoned_checks, channel, run)
            checks |= abandoned
        own_post: str | None = None
        in_flight: set[str] = set()
        # the latest check first: it saw every episode
        for key, slot in sorted(checks.items(), reverse=True):
            stamped = {company for company, stamp in stamps.items() if stamp == key}
            maybe_running = key != own and key not in abandoned  # an abandoned one's lease ran out
            if maybe_running and await asyncio.to_thread(
                self._runs.is_running, alert_key(channel), slot
            ):
                in_flight |= stamped  # that check posts or fails them itself
                continue
            found = await self._runs.find_earlier_post(
                channel, event_type=ALERT_EVENT, key=key, since=slot
            )
            if found is None:
                continue  # its post never reached Slack: these are announced again
            log.info("alert %s in %s was posted by a check that did not record it", key, channel)
            announced, unstamped = stamped | unstamped, set()
            await asyncio.to_thread(
                functools.partial(
                    self._store.mark_alert_posted, channel, announced, ts=found, now=self._now()
                )
            )
            if key == own:
                own_post = found
        return own_post, in_flight

    def _abandoned_checks(self, channel: str, run: Run) -> dict[str, datetime]:
        """The last day's checks whose process died while holding them: key → slot."""
        pending = self._runs.pending(alert_key(channel), now=self._now(), within=ABANDONED_WITHIN)
        return {
            slot_key(r.slot): r.slot for r in pending if r.state == "claimed" and r.id != run.id
        }

    def _update_episodes(self, channel: str, report: Report) -> set[str]:
        """Close the episodes of companies back under, open those newly over; the unposted IDs."""
        store, now = self._store, self._now()
        over = sorted({o.company.ref for o in report.overages})
        closed = store.close_alert_episodes(channel, still_over=set(over), now=now)
        opened = store.open_alert_episodes(channel, over, now=now)
        if closed or opened:
            log.debug(
                "alert episodes in %s: %d opened, %d closed", channel, len(opened), len(closed)
            )
        return set(store.unposted_alerts(channel))

    def _record_posted(
        self, channel: str, run: Run, company_ids: Collection[str], *, ts: str
    ) -> None:
        self._store.mark_alert_posted(channel, company_ids, ts=ts, now=self._now())
        self._runs.record_done(run, ts)
