"""The scheduler's ticks as the clock moves, against the sandbox, real SQLite and the fake Slack:
a slot is posted once however its first post failed, and a restart or a second replica (a
second runtime on the same database file) neither posts a slot twice nor loses one.

The real-time runs of `python -m bot serve` (two replicas, SIGKILL) are in
tests/system/test_digest_schedule.py.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import Runtime
from bot.crontab import slot_key
from tests.clock import Clock
from tests.fakes.slack_api import FakeSlack
from tests.handlers.conftest import all_text, eventually
from tests.runtime import Fakes, running_fakes
from tests.system.conftest import digest_keys

CHANNEL = "C0GENERAL"
SLOT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday, before the wall clock's today
EVERY_MINUTE = {"DIGEST_SCHEDULE": "* * * * *"}
DAILY = {"DIGEST_SCHEDULE": "0 9 * * *"}

Replica = Callable[..., Awaitable[Runtime]]


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Fakes]:
    """The fakes and one database file that every runtime of the test shares."""
    async with running_fakes(database_url=f"sqlite:///{tmp_path / 'schedule.db'}") as fakes:
        yield fakes


@pytest.fixture
def replica(platform: Fakes) -> Replica:
    """A runtime on the shared database, its digest channel C0GENERAL (no workbook): one
    process of the bot, started again after another stopped, or running beside it."""

    async def make(clock: Clock, **env: str) -> Runtime:
        settings = platform.settings(DIGEST_CHANNEL=CHANNEL, DIGEST_ATTACH_EXPORT="false", **env)
        return await platform.runtime(settings, now=clock)

    return make


async def tick_at(clock: Clock, moment: datetime, *runtimes: Runtime) -> None:
    """Set the clock to `moment` and let each runtime's scheduler make one pass, in turn."""
    clock.now = moment
    for runtime in runtimes:
        await runtime.scheduler.tick()


def minutes(count: int, *, after: datetime = SLOT) -> list[datetime]:
    """`count` minute slots from `after` on."""
    return [after + timedelta(minutes=n) for n in range(count)]


def posted_once_each(slack: FakeSlack) -> list[str]:
    """The slot keys posted in CHANNEL, checked to be each posted once, oldest first."""
    keys = digest_keys(slack, CHANNEL)
    twice = sorted(key for key, n in Counter(keys).items() if n > 1)
    assert twice == [], f"slots posted more than once: {twice} in {keys}"
    return sorted(keys)


def keys_of(slots: list[datetime]) -> list[str]:
    return [slot_key(slot) for slot in slots]


def digest_text(slack: FakeSlack, slot: datetime) -> str:
    (post,) = [c for c in slack.posts if slot_key(slot) in str(c.params.get("metadata"))]
    return all_text(post.params)


# --- a post that failed ------------------------------------------------------------------------


async def test_a_slot_whose_first_post_got_a_500_is_posted_once_on_a_later_tick(
    platform: Fakes, replica: Replica
) -> None:
    clock = Clock(SLOT - timedelta(hours=1))
    bot = await replica(clock, **DAILY)
    await bot.scheduler.tick()  # the first start, on a fresh database: nothing due yet
    # HTTP 500: Slack may have taken the post, so the client does not send it again at once
    platform.slack.fail_next("chat.postMessage", "internal_error", http_status=500)

    await tick_at(clock, SLOT + timedelta(seconds=5), bot)
    assert digest_keys(platform.slack) == []
    await tick_at(clock, SLOT + timedelta(seconds=35), bot)  # its retry is not due yet
    assert digest_keys(platform.slack) == []
    for later in (timedelta(minutes=1, seconds=5), timedelta(minutes=2), timedelta(hours=1)):
        await tick_at(clock, SLOT + later, bot)

    assert posted_once_each(platform.slack) == [slot_key(SLOT)]
    calls = platform.slack.calls_to("chat.postMessage")
    assert [c.ok for c in calls] == [False, True], calls
    run = bot.store.run(CHANNEL, SLOT)
    assert run is not None and (run.state, run.attempts) == ("posted", 2), run


async def test_a_failed_slot_of_an_every_minute_schedule_is_not_lost(
    platform: Fakes, replica: Replica
) -> None:
    clock = Clock(SLOT - timedelta(seconds=30))
    bot = await replica(clock, **EVERY_MINUTE)
    await bot.scheduler.tick()  # the first start: the minute before it is not caught up
    platform.slack.fail_next("chat.postMessage", "fatal_error")

    # the crontab's job at each minute, and the minute tick half a minute after it
    for moment in minutes(5):
        await tick_at(clock, moment + timedelta(seconds=1), bot)
        await tick_at(clock, moment + timedelta(seconds=31), bot)

    refused = [c for c in platform.slack.calls_to("chat.postMessage") if not c.ok]
    assert [c.params["metadata"]["event_payload"]["key"] for c in refused] == [slot_key(SLOT)]
    # the failed 09:00 is posted although a newer slot was due by its retry
    assert posted_once_each(platform.slack) == keys_of(minutes(5))


# --- restarts and replicas: two runtimes on one database ---------------------------------------


async def test_a_restart_right_after_a_post_neither_reposts_nor_misses_a_slot(
    platform: Fakes, replica: Replica
) -> None:
    clock = Clock(SLOT - timedelta(seconds=30))
    first = await replica(clock, **EVERY_MINUTE)
    await first.scheduler.tick()
    for moment in minutes(2):
        await tick_at(clock, moment + timedelta(seconds=1), first)
    assert posted_once_each(platform.slack) == keys_of(minutes(2))

    # the process stops right after posting 09:01 and starts again at once: its start-up tick
    # sees the latest slot posted; its crontab goes on from the next minute
    again = await replica(clock, **EVERY_MINUTE)
    await tick_at(clock, SLOT + timedelta(minutes=1, seconds=3), again)
    for moment in minutes(3, after=SLOT + timedelta(minutes=2)):
        await tick_at(clock, moment + timedelta(seconds=1), again)

    assert posted_once_each(platform.slack) == keys_of(minutes(5))
    runs = again.store.runs(CHANNEL)
    assert [(r.state, r.attempts) for r in runs] == [("posted", 1)] * 5, runs  # none taken over


async def test_a_restart_after_being_down_over_a_slot_posts_it_late_with_a_note(
    platform: Fakes, replica: Replica
) -> None:
    clock = Clock(SLOT - timedelta(days=1, hours=1))
    first = await replica(clock, **DAILY)
    await first.scheduler.tick()  # the first start, the day before
    await tick_at(clock, SLOT - timedelta(days=1, seconds=-5), first)
    assert posted_once_each(platform.slack) == [slot_key(SLOT - timedelta(days=1))]

    again = await replica(clock, **DAILY)  # down over today's 09:00, started at 12:00
    await tick_at(clock, SLOT + timedelta(hours=3), again)
    await tick_at(clock, SLOT + timedelta(hours=3, minutes=1), again)

    assert posted_once_each(platform.slack) == keys_of([SLOT - timedelta(days=1), SLOT])
    assert "Posted late: the bot was offline at the scheduled time (09:00 UTC)" in digest_text(
        platform.slack, SLOT
    )
    assert "Posted late" not in digest_text(platform.slack, SLOT - timedelta(days=1))
    run = again.store.run(CHANNEL, SLOT)
    assert run is not None and (run.state, run.late) == ("posted", True), run


async def test_a_slot_whose_process_died_mid_digest_waits_for_its_claim_then_posts_late(
    platform: Fakes, replica: Replica
) -> None:
    clock = Clock(SLOT - timedelta(hours=1))
    dead = await replica(clock, **DAILY)
    await dead.scheduler.tick()
    platform.sandbox.switches.latency_s = 30.0  # the platform is slow: the fetch is under way
    clock.now = SLOT + timedelta(seconds=5)
    dying = asyncio.ensure_future(dead.scheduler.tick())
    claimed = await eventually(lambda: dead.store.run(CHANNEL, SLOT))
    dying.cancel()  # the process dies holding the claim: nothing records how it ended
    await asyncio.gather(dying, return_exceptions=True)
    platform.sandbox.switches.latency_s = 0.0
    assert claimed.state == "claimed"

    again = await replica(clock, **DAILY)  # started at once, while the dead claim holds
    for moment in (SLOT + timedelta(seconds=10), claimed.lease_until - timedelta(seconds=1)):
        await tick_at(clock, moment, again)
    assert digest_keys(platform.slack) == [], "posted while the dead process held the claim"
    await tick_at(clock, claimed.lease_until + timedelta(minutes=1), again)
    await tick_at(clock, claimed.lease_until + timedelta(minutes=2), again)

    assert posted_once_each(platform.slack) == [slot_key(SLOT)]
    assert "Posted late, on a retry after a failed attempt: it was due at 09:00 UTC" in (
        digest_text(platform.slack, SLOT)
    )
    run = again.store.run(CHANNEL, SLOT)
    assert run is not None and (run.state, run.attempts, run.late) == ("posted", 2, True), run


async def test_two_replicas_ticking_at_once_post_each_slot_once(
    platform: Fakes, replica: Replica
) -> None:
    clock = Clock(SLOT - timedelta(seconds=30))
    one, other = await replica(clock, **EVERY_MINUTE), await replica(clock, **EVERY_MINUTE)
    await asyncio.gather(one.scheduler.tick(), other.scheduler.tick())
    platform.slack.fail_next("chat.postMessage", "fatal_error")

    for moment in minutes(4):
        clock.now = moment + timedelta(seconds=1)
        await asyncio.gather(one.scheduler.tick(), other.scheduler.tick())

    assert posted_once_each(platform.slack) == keys_of(minutes(4))
    owners = {r.owner for r in one.store.runs(CHANNEL)}
    assert owners <= {one.services.instance_id, other.services.instance_id}, owners


async def test_a_post_carried_out_but_not_answered_is_recorded_by_the_next_process(
    platform: Fakes, replica: Replica
) -> None:
    clock = Clock(SLOT - timedelta(hours=1))
    dead = await replica(clock, **DAILY)
    await dead.scheduler.tick()
    platform.slack.hold_next("chat.postMessage")  # Slack stores the post, holds the reply
    clock.now = SLOT + timedelta(seconds=5)
    dying = asyncio.ensure_future(dead.scheduler.tick())
    await eventually(lambda: platform.slack.holding("chat.postMessage"))
    stored = digest_keys(platform.slack)
    dying.cancel()  # the process dies before it hears back
    await asyncio.gather(dying, return_exceptions=True)
    platform.slack.release()
    claimed = dead.store.run(CHANNEL, SLOT)
    assert stored == [slot_key(SLOT)] and claimed is not None and claimed.state == "claimed"

    again = await replica(clock, **DAILY)
    await tick_at(clock, claimed.lease_until + timedelta(minutes=1), again)
    await tick_at(clock, claimed.lease_until + timedelta(minutes=2), again)

    assert posted_once_each(platform.slack) == [slot_key(SLOT)]
    run = again.store.run(CHANNEL, SLOT)
    ts = [c.response.get("ts") for c in platform.slack.posts]
    assert run is not None and (run.state, run.attempts) == ("posted", 2), run
    assert [run.message_ts] == ts
    assert platform.slack.calls_to("conversations.history"), "no lookup for the earlier post"
