"""Use case: the digest of what changed since a channel's last one, posted once per slot."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from bot import render_slack
from bot.cases import Case, company_key
from bot.config import Settings
from bot.crontab import crontab_cadence, make_trigger, next_slot, slot_key, subscription_crontab
from bot.digest import CaseGroups, DigestDiff, Snapshot, diff, group_cases, snapshot_of
from bot.errors import SlackDeliveryError
from bot.overage import Report
from bot.publish import Poster
from bot.render_slack import Message
from bot.services.exports import ExportFile, Exports
from bot.services.reports import Reports
from bot.services.runs import Lease, Runs
from bot.store import Run, Store

log = logging.getLogger(__name__)

DIGEST_EVENT = "overage_digest"
LATE_AFTER = timedelta(minutes=2)  # a digest posted later than this after its slot says so
TREND_DIGESTS = 7  # the digest's trend line: seats over at this many earlier digests

# what an attempt posted: the message's ts, the digest, and the workbook for its thread
_Posted = tuple[str, DigestDiff, ExportFile | None]


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """One channel's digest schedule; slots before `since` are never posted."""

    channel: str
    trigger: CronTrigger
    since: datetime | None  # when the channel was subscribed, or first seen for DIGEST_CHANNEL


class Digests:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        poster: Poster,
        *,
        reports: Reports,
        exports: Exports,
        runs: Runs,
        now: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._store = store
        self._poster = poster
        self._reports = reports
        self._exports = exports
        self._runs = runs
        self._now = now
        self._own_trigger = (
            make_trigger(settings.digest_schedule, settings.digest_timezone)
            if settings.digest_channel
            else None
        )

    async def build(
        self, channel: str, *, late_by: timedelta | None = None, run: Run | None = None
    ) -> tuple[DigestDiff, Message]:
        """The digest for `channel`; `run`, when it is a scheduled one, names the slot that a
        late digest was due at and whether an earlier attempt failed."""
        report = await self._reports.report(fresh=True)
        previous = await asyncio.to_thread(self._store.previous_snapshot, channel)
        history = await asyncio.to_thread(self._store.trend, channel, TREND_DIGESTS)
        cases = await asyncio.to_thread(self._case_groups, report, previous)
        digest = diff(
            report,
            previous,
            late_by=late_by,
            due=run.slot if run is not None and late_by is not None else None,
            retried=run is not None and run.attempts > 1,
            history=history,
            cases=cases,
        )
        message = render_slack.render_digest(
            digest,
            now=self._now(),
            zone_name=self._settings.digest_timezone,
            cadence=await asyncio.to_thread(self._cadence_of, channel),
        )
        return digest, message

    def _case_groups(self, report: Report, previous: Snapshot | None) -> CaseGroups:
        """The cases, synced with the report first (idempotent), by what needs doing."""
        self._store.sync_cases(report, at=self._now().astimezone(self._settings.zone))
        invoiced = {case.id: at for case, at in self._store.invoiced_cases() if case.id}
        resolved = [] if previous is None else self._resolved_since(previous, report)
        return group_cases(self._store.cases("open"), invoiced_at=invoiced, resolved=resolved)

    def _resolved_since(self, previous: Snapshot, report: Report) -> list[Case]:
        """The cases of the companies the last digest listed that are back under now, the
        latest closed first: each resolved case is shown by one digest, whenever it closed."""
        listed = {company_key(row.company_id) for row in previous.rows}
        listed -= {company_key(o.company.ref) for o in report.overages}
        latest: dict[str, Case] = {}
        for case in self._store.resolved_since(previous.taken_at):  # the latest first
            if case.company_id in listed:
                latest.setdefault(case.company_id, case)
        return list(latest.values())

    def _cadence_of(self, channel: str) -> str | None:
        """The channel's cadence for the digest's title: its subscription's, or what
        DIGEST_SCHEDULE amounts to ("0 9 * * MON" is weekly); None when neither says."""
        if channel == self._settings.digest_channel:
            return crontab_cadence(self._settings.digest_schedule)
        found = [s.cadence for s in self._store.subscriptions() if s.channel == channel]
        return found[0] if found else None

    async def post_now(self, channel: str) -> str | None:
        """`/overage digest` and `python -m bot digest`: a manual digest, recorded like any."""
        now = self._now()
        run = await self._runs.claim(channel, now, now=now, kind="manual")
        if run is None:
            return None
        return await self._deliver(run, late_by=None)

    async def run_slot(
        self, channel: str, slot: datetime, *, as_of: datetime | None = None
    ) -> str | None:
        """Post the digest of one scheduled slot, unless another process has or is doing it.

        It is late (and says so) when `as_of`, the time the scheduler's tick began (default:
        now), is more than LATE_AFTER past the slot: a digest queued behind others of the
        same tick is not late, one missed while the bot was off is.
        """
        now = self._now()
        run = await self._runs.claim(channel, slot, now=now)
        if run is None:
            return None
        late = (as_of or now) - slot > LATE_AFTER
        return await self._deliver(run, late_by=now - slot if late else None)

    async def _deliver(self, run: Run, *, late_by: timedelta | None) -> str | None:
        async with self._runs.holding(run) as lease:
            async with self._runs.recording_failure(run):
                posted = await self._post(run, lease, late_by=late_by)
            if posted is None:
                return None
            ts, digest, attachment = posted
            await asyncio.to_thread(self._record_posted, run, ts, digest, late_by is not None)
            await self._attach(run.channel, ts, attachment)
            return ts

    def _record_posted(self, run: Run, ts: str, digest: DigestDiff, late: bool) -> None:
        self._runs.record_posted(run, ts, snapshot_of(digest.report), late=late)

    async def _post(self, run: Run, lease: Lease, *, late_by: timedelta | None) -> _Posted | None:
        """Post the run's digest, or find the one an attempt that died posted; None when
        another process has taken the slot over."""
        key = slot_key(run.slot) + ("" if run.kind == "scheduled" else "/manual")
        # only a slot taken over can have been posted by a process that died
        already = (
            await self._runs.find_earlier_post(
                run.channel, event_type=DIGEST_EVENT, key=key, since=run.slot
            )
            if run.attempts > 1
            else None
        )
        scheduled = run if run.kind == "scheduled" else None
        digest, message = await self.build(run.channel, late_by=late_by, run=scheduled)
        attachment = await self._attachment(digest)
        if already is not None:  # posted before a crash kept us from recording it
            # the attempt that died attached nothing either: it attaches after recording
            log.info("digest %s in %s was already posted", key, run.channel)
            return already, digest, attachment
        if lease.lost:  # another process has the slot: it posts, not us
            return None
        metadata = {"event_type": DIGEST_EVENT, "event_payload": {"key": key}}
        ts = await self._poster.post(run.channel, message, metadata=metadata)
        return ts, digest, attachment

    async def _attachment(self, digest: DigestDiff) -> ExportFile | None:
        if not self._settings.digest_attach_export or digest.all_clear:
            return None
        return await self._exports.export_file("xlsx", digest.report, trend=digest.trend)

    async def _attach(self, channel: str, ts: str, attachment: ExportFile | None) -> None:
        if attachment is None:
            return
        try:
            await self._poster.upload(
                channel,
                content=attachment.content,
                filename=attachment.filename,
                title=attachment.title,
                thread_ts=ts,
            )
        except Exception as exc:  # the digest is out; a missing attachment must not re-post it
            log.warning("digest workbook not attached in %s: %s", channel, exc)
            note = SlackDeliveryError.workbook_not_attached().for_user()
            await self._poster.post(channel, render_slack.render_error(note), thread_ts=ts)

    # --- when digests are due --------------------------------------------------------------

    async def times(self) -> tuple[datetime | None, datetime | None]:
        """The last digest posted and the next one due, both of any channel: DIGEST_CHANNEL
        and the subscriptions set from Slack alike."""
        run = await asyncio.to_thread(self._store.last_digest)
        upcoming = await self.next_due()
        return (run.slot if run is not None else None), upcoming

    async def next_due(self) -> datetime | None:
        """The next slot of any channel's digest schedule; None when there is none."""
        triggers = [schedule.trigger for schedule in await self.subscribed()]
        if self._own_trigger is not None:
            triggers.insert(0, self._own_trigger)
        now = self._now()
        return min((next_slot(trigger, now) for trigger in triggers), default=None)

    async def subscribed(self) -> list[DigestSchedule]:
        """The schedules of the subscriptions set from Slack (another replica may have
        changed them); DIGEST_CHANNEL's schedule is the one in the settings."""
        stored = await asyncio.to_thread(self._store.subscriptions)
        zone = self._settings.digest_timezone
        return [
            DigestSchedule(
                sub.channel,
                make_trigger(
                    subscription_crontab(sub.cadence, sub.weekday, sub.time), sub.zone or zone
                ),
                sub.created_at,
            )
            for sub in stored
            if sub.channel != self._settings.digest_channel
        ]

    async def known_since(self, channel: str, *, now: datetime) -> datetime:
        """Since when this database knows `channel` as a digest channel (`now` the first time):
        a slot from before then was never missed."""
        return await asyncio.to_thread(self._store.first_seen, channel, now=now)

    async def failed_slots(
        self, channel: str, *, now: datetime, within: timedelta
    ) -> list[datetime]:
        """Slots of the last `within` whose post failed or whose process died, oldest first."""
        pending = await asyncio.to_thread(self._runs.pending, channel, now=now, within=within)
        return [run.slot for run in pending]
