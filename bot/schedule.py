"""The timer: turns due digest slots, alert checks and case reminders into service calls
(APScheduler)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import Settings
from bot.crontab import make_trigger, next_slot, previous_slot, repeated_wall_time, slot_key
from bot.errors import BotError
from bot.services import DigestSchedule, Services

log = logging.getLogger(__name__)

TICK_S = 60  # how often due, failed and missed slots are looked at
RETRIES_PER_TICK = 3  # earlier failed slots tried again per channel and tick
CATCH_UP_WITHIN = timedelta(days=1)  # a slot missed by more than this is not posted late
ALERT_CATCH_UP_WITHIN = timedelta(hours=2)  # an alert check missed by more is left to the next


class DigestScheduler:
    """APScheduler wiring: each subscription's cron slots, plus a minute tick that retries
    failed slots and catches up the latest one missed while the bot was down.

    It reads the time from `now` (by default the services' clock) and does all its work in
    `tick`, so a test drives it in-process: set the clock, await tick().
    """

    def __init__(
        self,
        services: Services,
        settings: Settings,
        *,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._services = services
        self._settings = settings
        self._now = now or services.now
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._stored: list[DigestSchedule] = []  # the subscriptions set from Slack
        self._env_since: datetime | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._stopped = False
        self._env_trigger = (
            make_trigger(settings.digest_schedule, settings.digest_timezone)
            if settings.digest_channel
            else None
        )
        self._alert_trigger = (
            make_trigger(settings.alert_schedule, settings.digest_timezone)
            if settings.alert_channel
            else None
        )

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def _digests(self) -> list[DigestSchedule]:
        channel = self._settings.digest_channel
        if self._env_trigger is None or not channel:
            return list(self._stored)
        return [DigestSchedule(channel, self._env_trigger, self._env_since), *self._stored]

    async def refresh(self) -> None:
        """Re-read the subscriptions set from Slack (another replica may have changed them)."""
        self._stored = await self._services.subscribed_digests()

    def channels(self) -> list[str]:
        return [digests.channel for digests in self._digests()]

    def next_run(self) -> datetime | None:
        """The next digest slot of the schedules as last read (for /healthz)."""
        now = self._now()
        return min((next_slot(d.trigger, now) for d in self._digests()), default=None)

    def start(self) -> None:
        if self._env_trigger is not None:
            self._scheduler.add_job(
                self._run,
                self._env_trigger,
                args=(self.tick,),
                id="digest",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=3600,
            )
        if self._alert_trigger is not None:
            self._scheduler.add_job(
                self._run,
                self._alert_trigger,
                args=(self._tick_alerts,),
                id="alerts",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=3600,
            )
        # the tick also serves stored subscriptions, retries and the catch-up on start
        self._scheduler.add_job(
            self._run,
            "interval",
            args=(self.tick,),
            seconds=TICK_S,
            id="tick",
            coalesce=True,
            max_instances=1,
            next_run_time=datetime.now(UTC),  # APScheduler runs on the wall clock: at once
        )
        self._scheduler.start()

    async def _run(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run one job as a task of its own: APScheduler cancels a coroutine job still running
        when it shuts down, and a digest half posted must rather finish (see stop_gracefully)."""
        task = asyncio.ensure_future(work())
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        await asyncio.shield(task)

    def stop(self) -> None:
        """Stop at once; a digest or alert check in flight is cancelled (its claim runs out
        and the slot is taken again, here after a restart or by another replica)."""
        if self._scheduler.running and not self._stopped:
            self._stopped = True
            self._scheduler.shutdown(wait=False)  # takes effect on the loop's next turn
        for task in list(self._running):
            task.cancel()

    async def stop_gracefully(self, timeout_s: float) -> None:
        """Start no new job, let the one in flight finish (for at most `timeout_s`), then stop."""
        if self._scheduler.running:
            self._scheduler.pause()
        running = [task for task in self._running if not task.done()]
        if running:
            log.info("waiting for the scheduled digest or alert check in flight")
            _, unfinished = await asyncio.wait(running, timeout=timeout_s)
            if unfinished:
                log.warning(
                    "scheduled work still running after %.0f s is stopped; it is retried later",
                    timeout_s,
                )
        self.stop()
        await asyncio.sleep(0)  # let the shutdown happen

    async def tick(self) -> None:
        """One pass: post every digest slot that is due and not yet posted, here or by
        another replica, then run the alert check that is due, then the case reminders."""
        started = self._now()  # what a slot's lateness is measured against
        try:
            await self.refresh()
        except BotError as exc:
            log.warning("subscriptions not read: %s", exc)
        await self._read_env_since(started)
        for digests in self._digests():
            for slot in await self._due(digests, now=started):
                await self._run_slot(digests.channel, slot, as_of=started)
        await self._tick_alerts()
        await self._tick_reminders()

    async def _due(self, digests: DigestSchedule, *, now: datetime) -> list[datetime]:
        """The channel's failed slots to retry, then its latest slot, if it is to be posted."""
        if digests.since is None:
            return []  # the database could not say since when the channel is known
        latest = previous_slot(digests.trigger, now, within=CATCH_UP_WITHIN)
        slots = await self._retries(digests.channel, now=now, latest=latest)
        if (
            latest is not None
            and latest >= digests.since
            and not repeated_wall_time(latest, digests.trigger)
        ):
            slots.append(latest)
        return slots

    async def _run_slot(self, channel: str, slot: datetime, *, as_of: datetime) -> None:
        try:
            await self._services.run_slot(channel, slot, as_of=as_of)
        except BotError as exc:
            log.warning("digest for %s at %s failed: %s", channel, slot_key(slot), exc)
        except Exception:  # the scheduler must survive any one failed slot
            log.exception("digest for %s at %s failed", channel, slot_key(slot))

    async def _read_env_since(self, now: datetime) -> None:
        """Since when this database knows DIGEST_CHANNEL: a slot from before the bot's first
        start with it is not caught up (it was never missed)."""
        channel = self._settings.digest_channel
        if self._env_since is not None or self._env_trigger is None or not channel:
            return
        try:
            self._env_since = await self._services.digest_channel_since(channel, now=now)
        except BotError as exc:
            log.warning("digest channel %s not read: %s", channel, exc)

    async def _retries(
        self, channel: str, *, now: datetime, latest: datetime | None
    ) -> list[datetime]:
        """Earlier slots of the last day whose post failed or whose process died, oldest
        first: a failed slot is retried, not forgotten, even once a newer slot is due.
        Never more than RETRIES_PER_TICK, so a dense schedule cannot build a backlog."""
        try:
            failed = await self._services.failed_digests(channel, now=now, within=CATCH_UP_WITHIN)
        except BotError as exc:
            log.warning("failed digests for %s not read: %s", channel, exc)
            return []
        slots = [slot for slot in failed if slot != latest]
        return slots[-RETRIES_PER_TICK:]

    async def _tick_alerts(self) -> None:
        """Run the latest alert check that is due, unless it is done here or by a replica.

        A check not started within ALERT_CATCH_UP_WITHIN is left to the next one; a check
        that failed or whose process died is retried (with growing gaps) until the next."""
        channel = self._settings.alert_channel
        if self._alert_trigger is None or not channel:
            return
        now = self._now()
        slot = previous_slot(self._alert_trigger, now, within=CATCH_UP_WITHIN)
        if slot is None or repeated_wall_time(slot, self._alert_trigger):
            return
        try:
            # a check missed by hours is not started late; one that was started is retried
            missed = now - slot > ALERT_CATCH_UP_WITHIN
            if missed and not await self._services.alert_check_started(channel, slot):
                return
            await self._services.check_alerts(channel, slot)
        except BotError as exc:
            log.warning("alert check for %s at %s failed: %s", channel, slot_key(slot), exc)
        except Exception:  # the scheduler must survive any one failed check
            log.exception("alert check for %s at %s failed", channel, slot_key(slot))

    async def _tick_reminders(self) -> None:
        """Post the case reminders that are due, into ALERT_CHANNEL, else DIGEST_CHANNEL;
        none when neither is set. Each is posted once, here or by a replica."""
        channel = self._settings.alert_channel or self._settings.digest_channel
        if not channel:
            return
        try:
            await self._services.remind_cases(channel)
        except BotError as exc:
            log.warning("case reminders for %s failed: %s", channel, exc)
        except Exception:  # the scheduler must survive any one failed reminder
            log.exception("case reminders for %s failed", channel)
