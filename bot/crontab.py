"""Cron and slot arithmetic on APScheduler's CronTrigger: no scheduler, no I/O, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

FIRST_RETRY = timedelta(minutes=1)  # a failed slot is tried again after 1, 2, 4, 8 … minutes
LONGEST_RETRY = timedelta(minutes=30)  # … at most this far apart, and this for lasting errors

_TICK = timedelta(microseconds=1)
_ANY_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
_FIRST_LOOK_BACK = timedelta(minutes=2)
# cron counts the days of the week from Sunday = 0 (7 is Sunday too); APScheduler 3 counts
# from Monday = 0, so numbers are turned into these names before APScheduler sees them
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def make_trigger(crontab: str, zone: str) -> CronTrigger:
    """A 5-field crontab read in `zone`'s wall-clock time (09:00 stays 09:00 across DST).

    Day-of-week numbers count as cron counts them (0 and 7 = Sunday, 1-5 = Monday to Friday).
    Raises ValueError for a crontab that is malformed or never fires (`0 0 30 2 *`).
    """
    fields = crontab.split()
    if len(fields) != 5:
        raise ValueError(f"wrong number of fields; got {len(fields)}, expected 5")
    minute, hour, day, month, weekday = fields
    trigger = CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=cron_weekdays(weekday),
        timezone=ZoneInfo(zone),
    )
    # a 5-field crontab repeats within 400 years: whether it ever fires needs no clock
    if _fire_after(trigger, _ANY_INSTANT) is None:
        raise ValueError("it never fires")
    return trigger


def cron_weekdays(field: str) -> str:
    """A crontab's day-of-week field as a list of day names APScheduler reads as cron does:
    `1` → `mon`, `0` and `7` → `sun`, `1-5` → `mon,tue,wed,thu,fri`, `*/2` → `sun,tue,thu,sat`.
    Names (`MON`, `mon-fri`) keep their meaning; `*` stays `*`."""
    if field == "*":
        return field
    days: set[int] = set()
    for item in field.lower().split(","):
        days |= _cron_days(item)
    return ",".join(_WEEKDAYS[d] for d in sorted(days, key=lambda d: (d + 6) % 7))  # Monday first


def _cron_days(item: str) -> set[int]:
    base, slash, step_text = item.partition("/")
    step = int(step_text) if step_text.isdigit() else 0
    if slash and step < 1:
        raise ValueError(f"day of week {item!r} has a bad step")
    if base == "*":
        first, last = 0, 6
    elif "-" in base:
        start, _, end = base.partition("-")
        first, last = _cron_day(start), _cron_day(end)
        if last == 0 and first > 0:  # `sat-sun`, `5-0`: Sunday closes the week
            last = 7
        if first > last:
            raise ValueError(f"day of week range {base!r} ends before it starts")
    else:
        first = _cron_day(base)
        last = 6 if slash and first < 7 else first  # `1/2` = from Monday, every second day
    return {day % 7 for day in range(first, last + 1, step or 1)}


def _cron_day(text: str) -> int:
    if text.isdigit() and int(text) <= 7:
        return int(text)
    if text in _WEEKDAYS:
        return _WEEKDAYS.index(text)
    raise ValueError(f"day of week {text!r} is not 0-7 or a name like mon")


def crontab_cadence(crontab: str) -> str | None:
    """ "daily" for a crontab that fires once every day, "weekly" for once a week, else None."""
    fields = crontab.split()
    if len(fields) != 5:
        return None
    minute, hour, day, month, weekday = fields
    if not (minute.isdigit() and hour.isdigit() and day == "*" and month == "*"):
        return None
    if weekday == "*":
        return "daily"
    try:
        days = cron_weekdays(weekday).split(",")
    except ValueError:
        return None
    return "weekly" if len(days) == 1 else None


def retry_delay(attempts: int, *, lasting: bool = False) -> timedelta:
    """How long a slot waits after its `attempts`-th failed attempt before the next one:
    1, 2, 4, 8, 16, then 30 minutes; 30 at once for an error waiting cannot heal."""
    if lasting:
        return LONGEST_RETRY
    return min(FIRST_RETRY * (1 << max(0, min(attempts - 1, 10))), LONGEST_RETRY)


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


def subscription_crontab(cadence: str, weekday: str | None, time: str) -> str:
    """`weekly mon 09:00` → `0 9 * * mon`; `daily 08:30` → `30 8 * * *`."""
    hour, minute = (int(part) for part in time.split(":"))
    day = weekday if cadence == "weekly" else "*"
    return f"{minute} {hour} * * {day or '*'}"


def repeated_wall_time(slot: datetime, trigger: CronTrigger) -> bool:
    """True for the second firing of a wall time that occurs twice when clocks go back.

    APScheduler fires 02:30 twice on that night; a daily digest must go out once.
    """
    zone = trigger.timezone
    local = slot.astimezone(zone)
    earlier = local.replace(fold=0)
    return local.fold == 1 and earlier.astimezone(UTC) != slot.astimezone(UTC)
