"""Cron arithmetic: next and previous fire times across DST, catch-up windows, stable slot keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.crontab import crontab_cadence, make_trigger, next_slot, previous_slot, slot_key

BERLIN = ZoneInfo("Europe/Berlin")


def _fires(crontab: str, zone: str, start: datetime, count: int) -> list[datetime]:
    trigger = make_trigger(crontab, zone)
    fires, moment = [], start
    for _ in range(count):
        moment = next_slot(trigger, moment)
        fires.append(moment)
    return fires


@pytest.mark.parametrize(
    ("start", "expected_utc"),
    [
        # the last Sunday of October 2026 is the 25th: CEST (+2) ends, CET (+1) begins
        (
            datetime(2026, 10, 12, 12, tzinfo=UTC),
            ["2026-10-19T07:00:00Z", "2026-10-26T08:00:00Z", "2026-11-02T08:00:00Z"],
        ),
        # the last Sunday of March 2026 is the 29th: CET (+1) ends, CEST (+2) begins
        (
            datetime(2026, 3, 16, 12, tzinfo=UTC),
            ["2026-03-23T08:00:00Z", "2026-03-30T07:00:00Z", "2026-04-06T07:00:00Z"],
        ),
    ],
)
def test_weekly_slot_stays_at_nine_local_across_dst(
    start: datetime, expected_utc: list[str]
) -> None:
    fires = _fires("0 9 * * MON", "Europe/Berlin", start, 3)

    assert [slot_key(f) for f in fires] == expected_utc
    assert all(f.tzinfo is not None for f in fires)
    assert {(f.astimezone(BERLIN).hour, f.astimezone(BERLIN).minute) for f in fires} == {(9, 0)}
    assert all(f.astimezone(BERLIN).weekday() == 0 for f in fires)


def test_next_slot_is_strictly_after_now() -> None:
    trigger = make_trigger("0 9 * * MON", "Europe/Berlin")
    slot = datetime(2026, 11, 23, 9, tzinfo=BERLIN)

    assert next_slot(trigger, slot - timedelta(microseconds=1)) == slot
    assert next_slot(trigger, slot) == slot + timedelta(days=7)


def test_time_in_spring_forward_gap_fires_once_an_hour_later_in_real_time() -> None:
    # 2026-03-29 in Berlin: 02:00 CET jumps to 03:00 CEST, so 02:30 never happens that day.
    # APScheduler 3 still fires that day, at the instant 02:30 CET would have been
    # (01:30 UTC), which is 03:30 CEST on the wall clock; the slot is not skipped.
    fires = _fires("30 2 * * *", "Europe/Berlin", datetime(2026, 3, 27, 12, tzinfo=UTC), 3)

    assert [slot_key(f) for f in fires] == [
        "2026-03-28T01:30:00Z",
        "2026-03-29T01:30:00Z",
        "2026-03-30T00:30:00Z",
    ]
    gap_day = fires[1].astimezone(BERLIN)
    assert (gap_day.hour, gap_day.minute, gap_day.utcoffset()) == (3, 30, timedelta(hours=2))


def test_time_in_fall_back_overlap_fires_twice() -> None:
    # 2026-10-25 in Berlin: 02:00-03:00 happens twice. APScheduler 3 fires at both
    # (00:30 and 01:30 UTC): two different slots, so a daily 02:30 digest would post twice.
    fires = _fires("30 2 * * *", "Europe/Berlin", datetime(2026, 10, 24, 12, tzinfo=UTC), 3)

    assert [slot_key(f) for f in fires] == [
        "2026-10-25T00:30:00Z",
        "2026-10-25T01:30:00Z",
        "2026-10-26T01:30:00Z",
    ]


@pytest.mark.parametrize(
    ("now", "within", "expected"),
    [
        # Monday 09:00 Berlin (CET) is 08:00 UTC
        (datetime(2026, 11, 23, 8, 0, tzinfo=UTC), timedelta(days=1), "2026-11-23T08:00:00Z"),
        (datetime(2026, 11, 23, 9, 30, tzinfo=UTC), timedelta(days=1), "2026-11-23T08:00:00Z"),
        (datetime(2026, 11, 24, 7, 59, tzinfo=UTC), timedelta(days=1), "2026-11-23T08:00:00Z"),
        (datetime(2026, 11, 24, 8, 0, tzinfo=UTC), timedelta(days=1), None),
        (datetime(2026, 11, 23, 7, 59, tzinfo=UTC), timedelta(days=1), None),
        (datetime(2026, 11, 23, 9, 30, tzinfo=UTC), timedelta(hours=1), None),
        (datetime(2026, 11, 23, 8, 30, tzinfo=UTC), timedelta(hours=1), "2026-11-23T08:00:00Z"),
        (datetime(2026, 11, 30, 7, 0, tzinfo=UTC), timedelta(days=8), "2026-11-23T08:00:00Z"),
    ],
)
def test_previous_slot_within_window(
    now: datetime, within: timedelta, expected: str | None
) -> None:
    trigger = make_trigger("0 9 * * MON", "Europe/Berlin")

    slot = previous_slot(trigger, now, within=within)

    assert (slot_key(slot) if slot else None) == expected


def test_previous_slot_counts_a_day_in_real_hours_across_dst() -> None:
    trigger = make_trigger("0 10 * * *", "Europe/Berlin")
    # 23 real hours after 10:00 CET on Saturday 28 March is 10:00 CEST on Sunday 29 March
    now = datetime(2026, 3, 29, 8, 59, tzinfo=UTC)

    slot = previous_slot(trigger, now, within=timedelta(days=1))

    assert slot is not None and slot_key(slot) == "2026-03-29T08:00:00Z"


def test_previous_slot_every_minute_is_the_minute_just_gone() -> None:
    trigger = make_trigger("* * * * *", "UTC")
    now = datetime(2026, 11, 23, 10, 15, 42, 123456, tzinfo=UTC)

    assert previous_slot(trigger, now) == datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
    assert previous_slot(trigger, now.replace(second=0, microsecond=0)) == datetime(
        2026, 11, 23, 10, 15, tzinfo=UTC
    )
    assert next_slot(trigger, now) == datetime(2026, 11, 23, 10, 16, tzinfo=UTC)


def test_previous_slot_of_dense_schedule_finds_last_fire_hours_ago() -> None:
    trigger = make_trigger("* 9 * * *", "UTC")  # every minute of the 09:00 hour

    slot = previous_slot(trigger, datetime(2026, 11, 23, 22, 0, tzinfo=UTC))

    assert slot == datetime(2026, 11, 23, 9, 59, tzinfo=UTC)


def test_previous_slot_rejects_naive_now() -> None:
    with pytest.raises(ValueError, match="naive"):
        previous_slot(make_trigger("* * * * *", "UTC"), datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("slot", "key"),
    [
        (datetime(2026, 11, 23, 9, tzinfo=UTC), "2026-11-23T09:00:00Z"),
        (datetime(2026, 11, 23, 10, tzinfo=BERLIN), "2026-11-23T09:00:00Z"),
        (datetime(2026, 11, 23, 9, 0, 0, 250000, tzinfo=UTC), "2026-11-23T09:00:00.250000Z"),
    ],
)
def test_slot_key_is_iso_utc(slot: datetime, key: str) -> None:
    assert slot_key(slot) == key


# Saturday 21 November 2026, noon UTC: the next day is a Sunday, the one after a Monday
SATURDAY = datetime(2026, 11, 21, 12, tzinfo=UTC)
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)  # datetime.weekday()


@pytest.mark.parametrize(
    ("crontab", "first", "weekdays"),
    [
        ("0 9 * * 1", datetime(2026, 11, 23, 9, tzinfo=UTC), {MON}),
        ("0 9 * * 0", datetime(2026, 11, 22, 9, tzinfo=UTC), {SUN}),
        ("* * * * 7", datetime(2026, 11, 22, 0, 0, tzinfo=UTC), {SUN}),
        ("0 9 * * 1-5", datetime(2026, 11, 23, 9, tzinfo=UTC), {MON, TUE, WED, THU, FRI}),
        ("0 9 * * MON", datetime(2026, 11, 23, 9, tzinfo=UTC), {MON}),
        ("0 9 * * mon-fri", datetime(2026, 11, 23, 9, tzinfo=UTC), {MON, TUE, WED, THU, FRI}),
        ("0 9 * * 6,0", datetime(2026, 11, 22, 9, tzinfo=UTC), {SAT, SUN}),
        ("0 9 * * sat-sun", datetime(2026, 11, 22, 9, tzinfo=UTC), {SAT, SUN}),
        ("0 9 * * 5-7", datetime(2026, 11, 22, 9, tzinfo=UTC), {FRI, SAT, SUN}),
        ("0 9 * * */2", datetime(2026, 11, 22, 9, tzinfo=UTC), {SUN, TUE, THU, SAT}),
        ("0 9 * * 1-5/2", datetime(2026, 11, 23, 9, tzinfo=UTC), {MON, WED, FRI}),
    ],
)
def test_days_of_the_week_count_as_cron_counts_them(
    crontab: str, first: datetime, weekdays: set[int]
) -> None:
    fires = _fires(crontab, "UTC", SATURDAY, 60 if crontab.startswith("*") else 14)

    assert fires[0] == first
    assert {f.weekday() for f in fires} == weekdays


@pytest.mark.parametrize(
    ("crontab", "problem"),
    [
        ("0 9 * * 8", "'8'"),
        ("0 9 * * funday", "'funday'"),
        ("0 9 * * 5-1", "ends before it starts"),
        ("0 9 * * */0", "bad step"),
        ("0 9 * *", "wrong number of fields"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4 *", "never fires"),
    ],
)
def test_a_crontab_that_is_malformed_or_never_fires_is_refused(crontab: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        make_trigger(crontab, "UTC")


@pytest.mark.parametrize(
    ("crontab", "cadence"),
    [
        ("0 9 * * MON", "weekly"),
        ("0 9 * * 1", "weekly"),
        ("30 8 * * *", "daily"),
        ("0 9 * * 1-5", None),
        ("0 * * * *", None),
        ("0 9 1 * *", None),
    ],
)
def test_crontab_cadence_names_daily_and_weekly_only(crontab: str, cadence: str | None) -> None:
    assert crontab_cadence(crontab) == cadence
