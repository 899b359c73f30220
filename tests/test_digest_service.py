"""The digest use case against the sandbox, real SQLite and the fake Slack over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import Runtime, build_runtime
from bot.config import Settings
from bot.errors import ChannelNotFound
from bot.publish import Publisher
from bot.render_slack import Message
from bot.sandbox import Sandbox, advance
from bot.schedule import slot_key
from bot.services import DIGEST_EVENT
from tests.fakes.slack_api import FakeSlack
from tests.handlers.conftest import eventually

SLOT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


Start = Callable[..., Awaitable[tuple[Runtime, Sandbox, FakeSlack, Clock]]]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    opened: list[tuple[Runtime, Sandbox, FakeSlack]] = []

    async def make(
        *, over_limit: int | None = 40, **env: str
    ) -> tuple[Runtime, Sandbox, FakeSlack, Clock]:
        sandbox, slack = Sandbox(companies=300, over_limit=over_limit, seed=9), FakeSlack()
        settings = Settings.from_env(
            {
                "KEEPNET_BASE_URL": await sandbox.start(),
                "KEEPNET_CLIENT_ID": "sandbox-client",
                "KEEPNET_CLIENT_SECRET": "sandbox-secret",
                "SLACK_BOT_TOKEN": "xoxb-test-token",
                "SLACK_SIGNING_SECRET": "s",
                "SLACK_API_URL": await slack.start(),
                "DATABASE_URL": f"sqlite:///{tmp_path / 'digest.db'}",
                "DIGEST_CHANNEL": "C0GENERAL",
                **env,
            }
        )
        clock = Clock(SLOT + timedelta(seconds=5))
        runtime = await build_runtime(settings, now=clock)
        opened.append((runtime, sandbox, slack))
        return runtime, sandbox, slack, clock

    yield make
    for runtime, sandbox, slack in opened:
        await runtime.close()
        await slack.stop()
        await sandbox.stop()


def digest_posts(slack: FakeSlack) -> list[dict[str, object]]:
    return [c.params for c in slack.posts if "metadata" in c.params]


async def test_first_then_second_digest_show_what_changed(start: Start) -> None:
    runtime, sandbox, slack, clock = await start()
    first_ts = await runtime.services.run_slot("C0GENERAL", SLOT)
    assert first_ts
    first = json.dumps(digest_posts(slack)[0])
    assert "first digest" in first.lower()
    upload = slack.uploads[0]
    assert upload.thread_ts == first_ts  # the workbook goes in the digest's thread
    sandbox.companies = advance(sandbox.companies, seed=4)
    clock.now = SLOT + timedelta(days=7, seconds=5)
    await runtime.services.run_slot("C0GENERAL", SLOT + timedelta(days=7))
    second = json.dumps(digest_posts(slack)[1])
    assert "Went over since last digest" in second
    assert "Back under" in second
    runs = runtime.store.runs("C0GENERAL")
    assert [r.state for r in runs] == ["posted", "posted"]


async def test_a_slot_is_posted_once(start: Start) -> None:
    runtime, _, slack, _ = await start(DIGEST_ATTACH_EXPORT="false")
    assert await runtime.services.run_slot("C0GENERAL", SLOT)
    assert await runtime.services.run_slot("C0GENERAL", SLOT) is None
    assert len(digest_posts(slack)) == 1
    assert slack.uploads == []


async def test_a_digest_posted_before_a_crash_is_recorded_not_reposted(start: Start) -> None:
    runtime, _, slack, clock = await start(DIGEST_ATTACH_EXPORT="false")
    # a process claimed the slot, posted, and died before it could record the post
    runtime.store.claim_slot("C0GENERAL", SLOT, owner="gone-host", now=clock.now, lease_s=60)
    metadata = {"event_type": DIGEST_EVENT, "event_payload": {"key": slot_key(SLOT)}}
    publisher = Publisher(runtime.slack)
    ts = await publisher.post("C0GENERAL", Message(text="digest"), metadata=metadata)
    clock.now += timedelta(minutes=2)  # its lease ran out
    assert await runtime.services.run_slot("C0GENERAL", SLOT) == ts
    assert len(digest_posts(slack)) == 1
    assert runtime.store.run("C0GENERAL", SLOT).state == "posted"  # type: ignore[union-attr]


async def test_a_failed_post_is_recorded_and_retried(start: Start) -> None:
    runtime, _, slack, clock = await start(DIGEST_ATTACH_EXPORT="false")
    slack.fail_next("chat.postMessage", "channel_not_found")
    with pytest.raises(ChannelNotFound):
        await runtime.services.run_slot("C0GENERAL", SLOT)
    run = runtime.store.run("C0GENERAL", SLOT)
    assert run is not None and run.state == "failed" and run.error
    assert digest_posts(slack) == []
    clock.now += timedelta(minutes=1)
    assert await runtime.services.run_slot("C0GENERAL", SLOT)
    assert len(digest_posts(slack)) == 1
    assert runtime.store.run("C0GENERAL", SLOT).state == "posted"  # type: ignore[union-attr]


async def test_a_missed_slot_is_posted_late_with_a_note(start: Start) -> None:
    runtime, _, slack, clock = await start(DIGEST_ATTACH_EXPORT="false")
    clock.now = SLOT + timedelta(hours=3)
    await runtime.services.run_slot("C0GENERAL", SLOT)
    assert "late" in json.dumps(digest_posts(slack)[0]).lower()
    assert runtime.store.run("C0GENERAL", SLOT).late  # type: ignore[union-attr]


async def test_the_scheduler_catches_up_only_the_latest_slot_within_a_day(start: Start) -> None:
    runtime, _, slack, clock = await start(DIGEST_SCHEDULE="0 * * * *", DIGEST_ATTACH_EXPORT="0")
    clock.now = SLOT + timedelta(hours=5, minutes=30)  # five hourly slots were missed
    await runtime.scheduler.tick()
    keys = [p["metadata"]["event_payload"]["key"] for p in digest_posts(slack)]  # type: ignore[index]
    assert keys == [slot_key(SLOT + timedelta(hours=5))]
    await runtime.scheduler.tick()
    assert len(digest_posts(slack)) == 1


async def test_a_failed_slot_is_retried_by_the_tick_after_a_newer_slot_came(start: Start) -> None:
    runtime, _, slack, clock = await start(DIGEST_SCHEDULE="0 * * * *", DIGEST_ATTACH_EXPORT="0")
    slack.fail_next("chat.postMessage", "fatal_error")
    await runtime.scheduler.tick()  # the 09:00 slot fails
    assert digest_posts(slack) == []
    clock.now = SLOT + timedelta(hours=1, seconds=5)  # 10:00 is due now as well
    await runtime.scheduler.tick()
    keys = [p["metadata"]["event_payload"]["key"] for p in digest_posts(slack)]  # type: ignore[index]
    assert keys == [slot_key(SLOT), slot_key(SLOT + timedelta(hours=1))]
    await runtime.scheduler.tick()
    assert len(digest_posts(slack)) == 2


async def test_a_slot_that_keeps_failing_is_given_up_after_its_attempts(start: Start) -> None:
    runtime, _, slack, clock = await start(DIGEST_SCHEDULE="0 9 * * MON", DIGEST_ATTACH_EXPORT="0")
    slack.fail_next("chat.postMessage", "fatal_error", times=50)
    for _ in range(8):
        await runtime.scheduler.tick()
        clock.now += timedelta(minutes=1)
    run = runtime.store.run("C0GENERAL", SLOT)
    assert run is not None and run.state == "failed" and run.attempts == 5
    assert len(slack.calls_to("chat.postMessage")) == 5


async def test_a_slot_missed_by_more_than_a_day_is_not_posted(start: Start) -> None:
    runtime, _, slack, clock = await start(DIGEST_SCHEDULE="0 9 * * MON")
    clock.now = SLOT + timedelta(days=2)
    await runtime.scheduler.tick()
    assert digest_posts(slack) == []


async def test_an_all_clear_week_says_so_without_a_workbook(start: Start) -> None:
    runtime, _, slack, _ = await start(over_limit=0)
    await runtime.services.run_slot("C0GENERAL", SLOT)
    assert "No customer is over its license limit" in json.dumps(digest_posts(slack)[0])
    assert slack.uploads == []


async def test_the_dry_run_renders_without_posting_or_recording(start: Start) -> None:
    runtime, _, slack, _ = await start()
    _, message = await runtime.services.build_digest("C0GENERAL")
    assert "digest" in message.text.lower()
    assert slack.posts == [] and runtime.store.runs("C0GENERAL") == []


async def test_without_the_history_scope_the_digest_is_still_posted(start: Start) -> None:
    runtime, _, slack, _ = await start(DIGEST_ATTACH_EXPORT="false")
    slack.fail_next("conversations.history", "missing_scope")
    assert await runtime.services.run_slot("C0GENERAL", SLOT)
    assert len(digest_posts(slack)) == 1


@pytest.mark.parametrize("channel", ["C0GENERAL", "C0SUBSCRIBED"])
async def test_the_digest_workbook_charts_the_trend_of_seats_over(
    start: Start, channel: str
) -> None:
    import zipfile
    from io import BytesIO

    runtime, sandbox, slack, clock = await start()
    slack.add_channel("C0SUBSCRIBED", name="subscribed")  # a subscription's, not DIGEST_CHANNEL
    await runtime.services.run_slot(channel, SLOT)
    sandbox.companies = advance(sandbox.companies, seed=4)
    clock.now = SLOT + timedelta(days=7, seconds=5)
    await runtime.services.run_slot(channel, SLOT + timedelta(days=7))
    first, second = (zipfile.ZipFile(BytesIO(u.content)) for u in slack.uploads)
    line_charts = [
        name
        for name in second.namelist()
        if name.startswith("xl/charts/") and b"lineChart" in second.read(name)
    ]
    assert line_charts  # two digests: a trend line
    assert not [n for n in first.namelist() if b"lineChart" in first.read(n)]
    text = json.dumps(digest_posts(slack)[1])
    assert "last 2 digests" in text


async def test_a_claim_taken_over_while_fetching_is_not_posted(start: Start) -> None:
    runtime, sandbox, slack, clock = await start(DIGEST_ATTACH_EXPORT="false")
    # a lease of a fraction of a second, so the heartbeat beats while the platform is slow
    runtime.services.settings = replace(runtime.services.settings, digest_lease_s=0.3)  # type: ignore[arg-type]
    sandbox.switches.latency_s = 0.5
    posting = asyncio.ensure_future(runtime.services.run_slot("C0GENERAL", SLOT))
    await eventually(lambda: runtime.store.run("C0GENERAL", SLOT))
    # the lease looks run out to another replica, which takes the slot over
    taken = runtime.store.claim_slot(
        "C0GENERAL", SLOT, owner="other-replica", now=clock.now + timedelta(minutes=1)
    )
    assert taken is not None
    assert await posting is None
    assert digest_posts(slack) == []
    assert runtime.store.run("C0GENERAL", SLOT).owner == "other-replica"  # type: ignore[union-attr]


async def test_the_last_digest_is_the_last_one_posted_even_when_a_later_one_failed(
    start: Start,
) -> None:
    runtime, _, slack, clock = await start(DIGEST_ATTACH_EXPORT="false")
    await runtime.services.run_slot("C0GENERAL", SLOT)
    clock.now = SLOT + timedelta(days=7, seconds=5)
    slack.fail_next("chat.postMessage", "channel_not_found")
    with pytest.raises(ChannelNotFound):
        await runtime.services.run_slot("C0GENERAL", SLOT + timedelta(days=7))
    last, _ = await runtime.services.digest_times()
    assert last == SLOT
