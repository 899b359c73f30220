"""Digest schedule: slot times of a crontab in a zone, and the APScheduler wiring."""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.config import Settings
from bot.errors import BotError

log = logging.getLogger(__name__)

TICK_S = 60  # how often due, failed and missed slots are looked at
RETRIES_PER_TICK = 3  # earlier failed slots tried again per channel and tick
CATCH_UP_WITHIN = timedelta(days=1)  # a slot missed by more than this is not posted late
ALERT_CATCH_UP_WITHIN = timedelta(hours=2)  # an alert check missed by more is left to the next

_TICK = timedelta(microseconds=1)
_FIRST_LOOK_BACK = timedelta(minutes=2)


def make_trigger(crontab: str, zone: str) -> CronTrigger:
    """A 5-field crontab read in `zone`'s wall-clock time (09:00 stays 09:00 across DST)."""
    return CronTrigger.from_crontab(crontab, timezone=ZoneInfo(zone))


def next_slot(trigger: CronTrigger, now: datetime) -> datetime:
    """The first fire time strictly after `now`, aware, in the trigger's zone."""
    fire = _fire_after(trigger, now)
    if fire is None:  # only a trigger with an end date runs out, and ours have none
        raise ValueError("the schedule has no fire time after now")
    return fire


def previous_slot(
    trigger: CronTrigger, now: datetime, *, within: timedelta = timedelta(days=1)
) -> datetime | None:
    """The latest fire time in (now - within, now], or None: the slot to catch up, if any.

    Looks back in doubling windows, so a dense schedule (every minute) walks only a few
    fire times and a sparse one (weekly) only a few windows.
    """
    if now.utcoffset() is None:
        raise ValueError(f"naive datetime {now!r}: pass a timezone-aware one")
    now = now.astimezone(UTC)  # step back in real time, not wall-clock time, across DST
    window = min(_FIRST_LOOK_BACK, within)
    while True:
        latest = _last_fire_in(trigger, start=now - window, end=now)
        if latest is not None or window >= within:
            return latest
        window = min(window * 2, within)


def slot_key(slot: datetime) -> str:
    """The slot as ISO 8601 UTC, e.g. `2026-11-23T09:00:00Z`: stable, whatever the zone."""
    if slot.utcoffset() is None:
        raise ValueError(f"naive datetime {slot!r}: pass a timezone-aware one")
    utc = slot.astimezone(UTC)
    fraction = f".{utc.microsecond:06d}" if utc.microsecond else ""
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def _fire_after(trigger: CronTrigger, moment: datetime) -> datetime | None:
    if moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: pass a timezone-aware one")
    # fire times are whole seconds and APScheduler rounds up to one, so +1 µs means "after"
    fire: datetime | None = trigger.get_next_fire_time(
        None, (moment.astimezone(UTC) + _TICK).astimezone(trigger.timezone)
    )
    # a time in a spring-forward gap comes back as a wall time that never happens
    # (02:30+01:00); going through UTC gives the real instant with its real offset (03:30+02:00)
    return None if fire is None else fire.astimezone(UTC).astimezone(trigger.timezone)


def _last_fire_in(trigger: CronTrigger, *, start: datetime, end: datetime) -> datetime | None:
    """The latest fire time in (start, end]."""
    latest = None
    fire = _fire_after(trigger, start)
    while fire is not None and fire <= end:
        latest = fire
        fire = _fire_after(trigger, fire)
    return latest


class DigestScheduler:
    """APScheduler wiring: each subscription's cron slots, plus a minute tick that retries
    failed slots and catches up the latest one missed while the bot was down."""

    def __init__(self, services: Any, settings: Settings) -> None:
        self._services = services
        self._settings = settings
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._stored: list[Any] = []
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

    def subscriptions(self) -> list[tuple[str, CronTrigger]]:
        found: list[tuple[str, CronTrigger]] = []
        if self._env_trigger is not None and self._settings.digest_channel:
            found.append((self._settings.digest_channel, self._env_trigger))
        zone = self._settings.digest_timezone
        for sub in self._stored:
            if sub.channel != self._settings.digest_channel:
                found.append(
                    (sub.channel, make_trigger(subscription_crontab(sub), sub.zone or zone))
                )
        return found

    async def refresh(self) -> None:
        """Re-read the subscriptions set from Slack (another replica may have changed them)."""
        self._stored = await asyncio.to_thread(self._services.store.subscriptions)

    def channels(self) -> list[str]:
        return [channel for channel, _ in self.subscriptions()]

    def next_run(self) -> datetime | None:
        now = self._services.now()
        times = [next_slot(trigger, now) for _, trigger in self.subscriptions()]
        return min(times) if times else None

    def start(self) -> None:
        if self._env_trigger is not None:
            self._scheduler.add_job(
                self.tick,
                self._env_trigger,
                id="digest",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=3600,
            )
        if self._alert_trigger is not None:
            self._scheduler.add_job(
                self._tick_alerts,
                self._alert_trigger,
                id="alerts",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=3600,
            )
        # the tick also serves stored subscriptions, retries and the catch-up on start
        self._scheduler.add_job(
            self.tick,
            "interval",
            seconds=TICK_S,
            id="tick",
            coalesce=True,
            max_instances=1,
            next_run_time=datetime.now(UTC),
        )
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    async def tick(self) -> None:
        """Post every slot that is due and not yet posted, here or by another replica."""
        try:
            await self.refresh()
        except BotError as exc:
            log.warning("subscriptions not read: %s", exc)
        now = self._services.now()
        for channel, trigger in self.subscriptions():
            latest = previous_slot(trigger, now, within=CATCH_UP_WITHIN)
            slots = await self._retries(channel, now=now, latest=latest)
            if latest is not None and not repeated_wall_time(latest, trigger):
                slots.append(latest)
            for slot in slots:
                try:
                    await self._services.run_slot(channel, slot)
                except BotError as exc:
                    log.warning("digest for %s at %s failed: %s", channel, slot_key(slot), exc)
                except Exception:  # the scheduler must survive any one failed slot
                    log.exception("digest for %s at %s failed", channel, slot_key(slot))
        await self._tick_alerts()

    async def _retries(
        self, channel: str, *, now: datetime, latest: datetime | None
    ) -> list[datetime]:
        """Earlier slots of the last day whose post failed or whose process died, oldest
        first: a failed slot is retried, not forgotten, even once a newer slot is due.
        Never more than RETRIES_PER_TICK, so a dense schedule cannot build a backlog."""
        try:
            pending = await asyncio.to_thread(
                functools.partial(
                    self._services.store.pending_runs, channel, now=now,
                    since=now - CATCH_UP_WITHIN,
                )
            )  # fmt: skip
        except BotError as exc:
            log.warning("failed digests for %s not read: %s", channel, exc)
            return []
        slots = [run.slot for run in pending if run.slot != latest]
        return slots[-RETRIES_PER_TICK:]

    async def _tick_alerts(self) -> None:
        """Run the latest alert check that is due, unless it is done here or by a replica."""
        channel = self._settings.alert_channel
        if self._alert_trigger is None or not channel:
            return
        from bot.alerts import check_new_overages  # bot.alerts imports this module

        slot = previous_slot(
            self._alert_trigger, self._services.now(), within=ALERT_CATCH_UP_WITHIN
        )
        if slot is None or repeated_wall_time(slot, self._alert_trigger):
            return
        try:
            await check_new_overages(self._services, channel, slot)
        except BotError as exc:
            log.warning("alert check for %s at %s failed: %s", channel, slot_key(slot), exc)
        except Exception:  # the scheduler must survive any one failed check
            log.exception("alert check for %s at %s failed", channel, slot_key(slot))


def subscription_crontab(subscription: Any) -> str:
    """`weekly mon 09:00` → `0 9 * * mon`; `daily 08:30` → `30 8 * * *`."""
    hour, minute = (int(part) for part in subscription.time.split(":"))
    weekday = subscription.weekday if subscription.cadence == "weekly" else "*"
    return f"{minute} {hour} * * {weekday or '*'}"


def repeated_wall_time(slot: datetime, trigger: CronTrigger) -> bool:
    """True for the second firing of a wall time that occurs twice when clocks go back.

    APScheduler fires 02:30 twice on that night; a daily digest must go out once.
    """
    zone = trigger.timezone
    local = slot.astimezone(zone)
    earlier = local.replace(fold=0)
    return local.fold == 1 and earlier.astimezone(UTC) != slot.astimezone(UTC)
