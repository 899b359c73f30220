"""Use cases: report, export, digest, post; glue between the edges and the pure core."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot import grammar, render_slack, workbook
from bot.config import Settings
from bot.digest import DigestDiff, TrendPoint, diff, snapshot_of
from bot.errors import BotError, NotAllowed, SlackRefused
from bot.keepnet import KeepnetClient, NativeFile
from bot.overage import Report, build_report
from bot.render_slack import Message
from bot.schedule import crontab_cadence, retry_delay, slot_key
from bot.store import Run, Store

log = logging.getLogger(__name__)

DIGEST_EVENT = "overage_digest"


class Poster(Protocol):
    """What the services need of Slack: bot/publish.py, or the demo's console."""

    async def post(
        self,
        channel: str,
        message: Message,
        *,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str: ...

    async def upload(
        self,
        channel: str,
        *,
        content: bytes,
        filename: str,
        title: str,
        initial_comment: str = "",
        thread_ts: str | None = None,
    ) -> None: ...

    async def find_message(
        self, channel: str, *, event_type: str, key: str, oldest: float
    ) -> str | None: ...

    async def ensure_member(self, channel: str) -> None: ...


@dataclass(slots=True)
class Lease:
    """A claim on a run, kept alive while held; `lost` once another process has taken it."""

    lost: bool = False


@dataclass(frozen=True, slots=True)
class ExportFile:
    content: bytes
    filename: str
    title: str


class ReportCache:
    """Commands within `cache_seconds` share one fetch; concurrent ones share the one in flight."""

    def __init__(self, fetch: Callable[[], Any], *, ttl_s: int, now: Callable[[], datetime]):
        self._fetch = fetch
        self._ttl = timedelta(seconds=ttl_s)
        self._now = now
        self._report: Report | None = None
        self._inflight: asyncio.Future[Report] | None = None

    @property
    def latest(self) -> Report | None:
        return self._report

    async def get(self, *, max_age: timedelta | None = None) -> Report:
        limit = self._ttl if max_age is None else max_age
        report = self._report
        if report is not None and self._now() - report.fetched_at < limit:
            return report
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._refresh())
        return await asyncio.shield(self._inflight)

    async def _refresh(self) -> Report:
        try:
            report: Report = await self._fetch()
            self._report = report
            return report
        finally:
            self._inflight = None


class Services:
    def __init__(
        self,
        settings: Settings,
        keepnet: KeepnetClient,
        store: Store,
        poster: Poster,
        *,
        instance_id: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.keepnet = keepnet
        self.store = store
        self.poster = poster
        self.instance_id = instance_id
        self.now = now
        self.cache = ReportCache(self._fetch_report, ttl_s=settings.cache_seconds, now=now)
        self.next_digest: Callable[[], datetime | None] = lambda: None  # set by the scheduler

    # --- the overage list ------------------------------------------------------------------

    async def _fetch_report(self) -> Report:
        fetch = await self.keepnet.fetch_over_limit()
        return build_report(
            fetch.companies,
            fetched_at=fetch.fetched_at,
            source=self.keepnet.source,
            seat_price=self.settings.seat_price,
            currency=self.settings.currency,
            platform_count=fetch.platform_count,
        )

    async def report(self, *, fresh: bool = False) -> Report:
        return await self.cache.get(max_age=timedelta(0) if fresh else None)

    # --- files -----------------------------------------------------------------------------

    async def export_file(
        self, fmt: str, report: Report | None = None, *, trend: Sequence[TrendPoint] | None = None
    ) -> ExportFile:
        """The workbook or CSV; the workbook charts `trend`, by default DIGEST_CHANNEL's."""
        report = report or await self.report()
        zone = self.settings.zone
        today = report.fetched_at.astimezone(zone).date()
        filename = workbook.export_filename(fmt, today)
        if fmt == "csv":
            content = await asyncio.to_thread(workbook.build_csv, report)
        else:
            if trend is None:
                trend = await asyncio.to_thread(self._trend_for_workbook, report)
            points = [(p.taken_at, p.seats_over) for p in trend]
            content = await asyncio.to_thread(
                workbook.build_xlsx, report, generated_at=self.now(), zone=zone, trend=points
            )
        return ExportFile(content, filename, f"License overage {today.isoformat()}")

    def _trend_for_workbook(self, report: Report) -> tuple[TrendPoint, ...]:
        """Seats over at DIGEST_CHANNEL's last digests, then now: the summary sheet's chart."""
        channel = self.settings.digest_channel
        if not channel:
            return ()
        points = self.store.trend(channel, 8)
        if not points or points[-1].taken_at < report.fetched_at:
            now = TrendPoint(report.fetched_at, report.companies_over, report.seats_over)
            points = (*points, now)
        return points[-8:]

    async def native_file(self, fmt: str) -> NativeFile:
        return await self.keepnet.export(fmt)

    async def upload_export(self, channel: str, *, fmt: str, native: bool, user: str) -> None:
        """Upload the workbook (ours or the platform's own) into the channel."""
        if native:
            native_file = await self.native_file(fmt)
            content, filename = native_file.content, native_file.filename
            title = filename
            comment = f"The platform's own export file, unchanged, as <@{user}> asked."
        else:
            report = await self.report()
            exported = await self.export_file(fmt, report)
            content, filename, title = exported.content, exported.filename, exported.title
            comment = render_slack.render_upload_comment(report, user=user)
        await self.poster.upload(
            channel, content=content, filename=filename, title=title, initial_comment=comment
        )

    async def post_summary(self, channel: str, *, user: str) -> str:
        report = await self.report()
        message = render_slack.render_summary(report, now=self.now())
        return await self.poster.post(channel, render_slack.render_shared(message, user=user))

    # --- digest ----------------------------------------------------------------------------

    async def build_digest(
        self, channel: str, *, late_by: timedelta | None = None, run: Run | None = None
    ) -> tuple[DigestDiff, Message]:
        """The digest for `channel`; `run`, when it is a scheduled one, names the slot that a
        late digest was due at and whether an earlier attempt failed."""
        report = await self.report(fresh=True)
        previous = await asyncio.to_thread(self.store.previous_snapshot, channel)
        history = await asyncio.to_thread(self.store.trend, channel, 7)
        digest = diff(
            report,
            previous,
            late_by=late_by,
            due=run.slot if run is not None and late_by is not None else None,
            retried=run is not None and run.attempts > 1,
            history=history,
        )
        message = render_slack.render_digest(
            digest,
            now=self.now(),
            zone_name=self.settings.digest_timezone,
            cadence=await asyncio.to_thread(self._cadence_of, channel),
        )
        return digest, message

    def _cadence_of(self, channel: str) -> str | None:
        """The channel's cadence for the digest's title: its subscription's, or what
        DIGEST_SCHEDULE amounts to ("0 9 * * MON" is weekly); None when neither says."""
        if channel == self.settings.digest_channel:
            return crontab_cadence(self.settings.digest_schedule)
        found = [s.cadence for s in self.store.subscriptions() if s.channel == channel]
        return found[0] if found else None

    async def post_digest_now(self, channel: str) -> str | None:
        """`/overage digest` and `python -m bot digest`: a manual digest, recorded like any."""
        now = self.now()
        run = await asyncio.to_thread(
            functools.partial(
                self.store.claim_slot, channel, now, kind="manual", owner=self.instance_id,
                now=now, lease_s=self.settings.digest_lease_s,
            )
        )  # fmt: skip
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
        now = self.now()
        run = await asyncio.to_thread(
            functools.partial(
                self.store.claim_slot, channel, slot, owner=self.instance_id, now=now,
                lease_s=self.settings.digest_lease_s,
            )
        )  # fmt: skip
        if run is None:
            return None
        late = (as_of or now) - slot > LATE_AFTER
        return await self._deliver(run, late_by=now - slot if late else None)

    async def _deliver(self, run: Run, *, late_by: timedelta | None) -> str | None:
        async with self.holding(run) as lease:
            return await self._deliver_claimed(run, lease, late_by=late_by)

    @contextlib.asynccontextmanager
    async def holding(self, run: Run) -> AsyncIterator[Lease]:
        """Keep the claim on `run` alive for as long as the block works on it."""
        lease = Lease()
        heartbeat = asyncio.ensure_future(self._keep_lease(run, lease))
        try:
            yield lease
        finally:
            heartbeat.cancel()

    async def _keep_lease(self, run: Run, lease: Lease) -> None:
        """Renew the claim while we work; if this process dies, the lease soon runs out and
        another replica (or this one restarted) takes the slot over. A renewal the database
        refuses means another process has the slot now: the lease is marked lost."""
        while not lease.lost:
            await asyncio.sleep(self.settings.digest_lease_s / 3)
            try:
                renewed = await asyncio.to_thread(
                    functools.partial(
                        self.store.renew, run.id, owner=self.instance_id, now=self.now(),
                        lease_s=self.settings.digest_lease_s,
                    )
                )  # fmt: skip
            except BotError as exc:  # try again at the next beat; the lease may still hold
                log.warning("claim on run %s not renewed: %s", run.id, exc)
                continue
            if not renewed:
                log.warning("claim on run %s was taken over by another process", run.id)
                lease.lost = True

    async def _deliver_claimed(
        self, run: Run, lease: Lease, *, late_by: timedelta | None
    ) -> str | None:
        key = slot_key(run.slot) + ("" if run.kind == "scheduled" else "/manual")
        try:
            # only a slot taken over can have been posted by a process that died
            already = (
                await self.find_earlier_post(
                    run.channel, event_type=DIGEST_EVENT, key=key, since=run.slot
                )
                if run.attempts > 1
                else None
            )
            scheduled = run if run.kind == "scheduled" else None
            digest, message = await self.build_digest(run.channel, late_by=late_by, run=scheduled)
            attachment = await self._digest_attachment(digest)
            if already is not None:  # posted before a crash kept us from recording it
                # the attempt that died attached nothing either: it attaches after recording
                log.info("digest %s in %s was already posted", key, run.channel)
                ts = already
            elif lease.lost:  # another process has the slot: it posts, not us
                return None
            else:
                metadata = {"event_type": DIGEST_EVENT, "event_payload": {"key": key}}
                ts = await self.poster.post(run.channel, message, metadata=metadata)
        except Exception as exc:
            # the run must record its real outcome before the error travels on
            await asyncio.to_thread(self.record_failed, run, exc)
            raise
        await asyncio.to_thread(self._record_posted, run, ts, digest.report, late_by)
        await self._attach(run.channel, ts, attachment)
        return ts

    async def find_earlier_post(
        self, channel: str, *, event_type: str, key: str, since: datetime
    ) -> str | None:
        """The ts of the message an earlier attempt posted in `channel` (not before `since`,
        its slot) before a crash kept it from recording it, found by its metadata; else None."""
        try:
            return await self.poster.find_message(
                channel, event_type=event_type, key=key, oldest=since.timestamp() - 60
            )
        except SlackRefused as exc:  # e.g. missing_scope on an old install: post unchecked
            log.warning("could not look for an earlier post in %s: %s", channel, exc)
            return None

    async def _digest_attachment(self, digest: DigestDiff) -> ExportFile | None:
        if not self.settings.digest_attach_export or digest.all_clear:
            return None
        return await self.export_file("xlsx", digest.report, trend=digest.trend)

    async def _attach(self, channel: str, ts: str, attachment: ExportFile | None) -> None:
        if attachment is None:
            return
        try:
            await self.poster.upload(
                channel,
                content=attachment.content,
                filename=attachment.filename,
                title=attachment.title,
                thread_ts=ts,
            )
        except Exception as exc:  # the digest is out; a missing attachment must not re-post it
            log.warning("digest workbook not attached in %s: %s", channel, exc)
            note = render_slack.render_error(
                "The workbook could not be attached to this digest. "
                "Use `/overage export` to get it."
            )
            await self.poster.post(channel, note, thread_ts=ts)

    def _record_posted(self, run: Run, ts: str, report: Report, late_by: timedelta | None) -> None:
        self.store.mark_posted(
            run.id,
            owner=self.instance_id,
            message_ts=ts,
            snapshot=snapshot_of(report),
            now=self.now(),
            late=late_by is not None,
        )

    def record_failed(self, run: Run, exc: BaseException) -> None:
        """Record the failed attempt with its error; it is tried again after a gap that grows
        with each attempt (the longest at once for an error waiting cannot heal)."""
        reason = exc.for_user() if isinstance(exc, BotError) else type(exc).__name__
        now = self.now()
        lasting = isinstance(exc, BotError) and exc.lasting
        retry_at = now + retry_delay(run.attempts, lasting=lasting)
        self.store.mark_failed(
            run.id, owner=self.instance_id, error=reason, now=now, retry_at=retry_at
        )

    async def digest_times(self) -> tuple[datetime | None, datetime | None]:
        """The last digest posted and the next one due, both of any channel: DIGEST_CHANNEL
        and the subscriptions set from Slack alike."""
        run = await asyncio.to_thread(self.store.last_digest)
        return (run.slot if run is not None else None), self.next_digest()

    # --- subscriptions set from Slack --------------------------------------------------------

    async def answer_subscription(
        self, request: grammar.Request, *, channel: str, user: str, reply: Reply
    ) -> None:
        match request:
            case grammar.Subscribe() | grammar.Unsubscribe() if (
                channel == self.settings.digest_channel
            ):
                raise NotAllowed(
                    "This channel's digest is set by DIGEST_CHANNEL in the bot's settings, "
                    "not from Slack.",
                    hint="Change DIGEST_SCHEDULE there, or subscribe another channel.",
                )
            case grammar.Subscribe():
                self._require_admin(user)
                await reply(await self._subscribe(request, channel=channel, user=user))
            case grammar.Unsubscribe():
                self._require_admin(user)
                removed = await asyncio.to_thread(self.store.remove_subscription, channel)
                log.info(
                    "subscription of %s removed by %s%s",
                    channel, user, "" if removed else " (there was none)",
                )  # fmt: skip
                text = (
                    "This channel's digest subscription is removed."
                    if removed
                    else ("This channel has no digest subscription to remove.")
                )
                await reply(render_slack.render_notice(text))
            case grammar.Subscriptions():
                await reply(await self._subscriptions())

    def _require_admin(self, user: str) -> None:
        admins = self.settings.admin_user_ids or self.settings.allowed_user_ids
        if admins and user not in admins:
            raise NotAllowed(
                "Only the bot's admins can change digest subscriptions.",
                hint="Ask one of them, or have ADMIN_USER_IDS include you.",
            )

    async def _subscribe(self, request: grammar.Subscribe, *, channel: str, user: str) -> Message:
        zone = request.zone or self.settings.digest_timezone
        # a digest the bot could never post is refused now, not found out at its first slot
        await self.poster.ensure_member(channel)
        await asyncio.to_thread(
            functools.partial(
                self.store.add_subscription, channel, cadence=request.cadence,
                weekday=request.weekday, time=request.time, zone=zone, created_by=user,
                now=self.now(),
            )
        )  # fmt: skip
        day = f" {request.weekday}" if request.cadence == "weekly" and request.weekday else ""
        log.info(
            "subscription of %s set by %s: %s%s %s %s",
            channel, user, request.cadence, day, request.time, zone,
        )  # fmt: skip
        when = render_slack.describe_schedule(request.cadence, request.weekday, request.time, zone)
        return render_slack.render_notice(f"Subscribed: this channel gets the digest {when}.")

    async def _subscriptions(self) -> Message:
        stored = await asyncio.to_thread(self.store.subscriptions)
        entries: list[tuple[str, str, str | None]] = []
        settings = self.settings
        if settings.digest_channel:
            schedule = f"`{settings.digest_schedule}` ({settings.digest_timezone})"
            entries.append((settings.digest_channel, schedule, None))
        for sub in stored:
            if sub.channel == settings.digest_channel:  # DIGEST_CHANNEL's schedule is the one
                continue
            zone = sub.zone or settings.digest_timezone
            when = render_slack.describe_schedule(sub.cadence, sub.weekday, sub.time, zone)
            entries.append((sub.channel, when, sub.created_by))
        return render_slack.render_subscriptions(entries, now=self.now())


LATE_AFTER = timedelta(minutes=2)
Reply = Callable[[Message], Awaitable[Any]]
