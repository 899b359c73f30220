"""The digest use case, and the export files as the services name and upload them, against
the sandbox, real SQLite and the fake Slack over HTTP."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from python_calamine import CalamineWorkbook

from bot.app import Runtime
from bot.crontab import slot_key
from bot.errors import ChannelNotFound, SlackBusy
from bot.overage import build_report
from bot.publish import Publisher
from bot.render_slack import Message
from bot.sandbox import Sandbox, advance
from bot.services import DIGEST_EVENT
from tests.clock import Clock
from tests.companies import company
from tests.fakes.slack_api import FakeSlack
from tests.handlers.conftest import eventually
from tests.runtime import running_fakes

SLOT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


Start = Callable[..., Awaitable[tuple[Runtime, Sandbox, FakeSlack, Clock]]]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    """A runtime whose digest channel is C0GENERAL, five seconds after SLOT by its clock."""
    async with AsyncExitStack() as stack:

        async def make(
            *, over_limit: int | None = 40, lease_s: float | None = None, **env: str
        ) -> tuple[Runtime, Sandbox, FakeSlack, Clock]:
            database_url = f"sqlite:///{tmp_path / 'digest.db'}"
            platform = running_fakes(database_url=database_url, over_limit=over_limit, seed=9)
            fakes = await stack.enter_async_context(platform)
            clock = Clock(SLOT + timedelta(seconds=5))
            settings = fakes.settings(**{"DIGEST_CHANNEL": "C0GENERAL", **env})
            if lease_s is not None:  # shorter than DIGEST_LEASE_SECONDS allows
                settings = replace(settings, digest_lease_s=lease_s)  # type: ignore[arg-type]
            runtime = await fakes.runtime(settings, now=clock)
            return runtime, fakes.sandbox, fakes.slack, clock

        yield make


def digest_posts(slack: FakeSlack) -> list[dict[str, object]]:
    return [c.params for c in slack.posts if "metadata" in c.params]


def known_since(runtime: Runtime, moment: datetime, channel: str = "C0GENERAL") -> None:
    """The database has known the channel since `moment`, as if the bot first ran then."""
    assert runtime.store.first_seen(channel, now=moment) == moment


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


async def test_a_digest_found_after_a_crash_gets_its_workbook_once(start: Start) -> None:
    runtime, _, slack, clock = await start()
    # posted, then the process died before recording it, so before attaching the workbook
    runtime.store.claim_slot("C0GENERAL", SLOT, owner="gone-host", now=clock.now, lease_s=60)
    metadata = {"event_type": DIGEST_EVENT, "event_payload": {"key": slot_key(SLOT)}}
    ts = await Publisher(runtime.slack).post("C0GENERAL", Message(text="digest"), metadata=metadata)
    clock.now += timedelta(minutes=2)  # its lease ran out
    assert await runtime.services.run_slot("C0GENERAL", SLOT) == ts
    assert await runtime.services.run_slot("C0GENERAL", SLOT) is None
    assert len(digest_posts(slack)) == 1
    assert [(u.thread_ts, u.filename.endswith(".xlsx")) for u in slack.uploads] == [(ts, True)]


async def test_a_failed_post_is_recorded_and_retried_with_a_note_saying_so(
    start: Start,
) -> None:
    runtime, _, slack, clock = await start(DIGEST_ATTACH_EXPORT="false")
    slack.fail_next("chat.postMessage", "fatal_error")
    with pytest.raises(SlackBusy):
        await runtime.services.run_slot("C0GENERAL", SLOT)
    run = runtime.store.run("C0GENERAL", SLOT)
    assert run is not None and run.state == "failed" and run.error
    assert "Slack is busy" in run.error
    assert digest_posts(slack) == []
    clock.now += timedelta(minutes=3)
    assert await runtime.services.run_slot("C0GENERAL", SLOT)
    (post,) = digest_posts(slack)
    assert "Posted late, on a retry after a failed attempt: it was due at 09:00 UTC" in str(post)
    assert "offline" not in str(post)
    assert runtime.store.run("C0GENERAL", SLOT).state == "posted"  # type: ignore[union-attr]


async def test_a_missed_slot_is_posted_late_with_a_note(start: Start) -> None:
    runtime, _, slack, clock = await start(DIGEST_ATTACH_EXPORT="false")
    clock.now = SLOT + timedelta(hours=3)
    await runtime.services.run_slot("C0GENERAL", SLOT)
    assert "late" in json.dumps(digest_posts(slack)[0]).lower()
    assert runtime.store.run("C0GENERAL", SLOT).late  # type: ignore[union-attr]


async def test_the_scheduler_catches_up_only_the_latest_slot_within_a_day(start: Start) -> None:
    runtime, _, slack, clock = await start(DIGEST_SCHEDULE="0 * * * *", DIGEST_ATTACH_EXPORT="0")
    known_since(runtime, SLOT - timedelta(days=7))
    clock.now = SLOT + timedelta(hours=5, minutes=30)  # five hourly slots were missed
    await runtime.scheduler.tick()
    keys = [p["metadata"]["event_payload"]["key"] for p in digest_posts(slack)]  # type: ignore[index]
    assert keys == [slot_key(SLOT + timedelta(hours=5))]
    await runtime.scheduler.tick()
    assert len(digest_posts(slack)) == 1


async def test_a_failed_slot_is_retried_by_the_tick_after_a_newer_slot_came(start: Start) -> None:
    runtime, _, slack, clock = await start(DIGEST_SCHEDULE="0 * * * *", DIGEST_ATTACH_EXPORT="0")
    known_since(runtime, SLOT - timedelta(days=7))
    slack.fail_next("chat.postMessage", "fatal_error")
    await runtime.scheduler.tick()  # the 09:00 slot fails
    assert digest_posts(slack) == []
    clock.now = SLOT + timedelta(hours=1, seconds=5)  # 10:00 is due now as well
    await runtime.scheduler.tick()
    keys = [p["metadata"]["event_payload"]["key"] for p in digest_posts(slack)]  # type: ignore[index]
    assert keys == [slot_key(SLOT), slot_key(SLOT + timedelta(hours=1))]
    await runtime.scheduler.tick()
    assert len(digest_posts(slack)) == 2


async def _attempts(
    runtime: Runtime, clock: Clock, *, until: datetime
) -> list[tuple[datetime, float]]:
    """Tick a minute after each retry of the failed slot is due, until `until`: when each
    attempt was made, and how many minutes it left until the next one may start."""
    attempts: list[tuple[datetime, float]] = []
    while clock.now < until:
        await runtime.scheduler.tick()
        run = runtime.store.run("C0GENERAL", SLOT)
        assert run is not None and run.state == "failed"
        if len(attempts) < run.attempts:  # this tick tried it again
            attempts.append((clock.now, (run.lease_until - clock.now).total_seconds() / 60))
        clock.now = max(run.lease_until, clock.now) + timedelta(minutes=1)
    return attempts


async def test_a_slot_that_keeps_failing_is_retried_ever_less_often_for_a_day(
    start: Start,
) -> None:
    runtime, _, slack, clock = await start(DIGEST_SCHEDULE="0 9 * * MON", DIGEST_ATTACH_EXPORT="0")
    known_since(runtime, SLOT - timedelta(days=7))
    slack.fail_next("chat.postMessage", "fatal_error", times=500)

    attempts = await _attempts(runtime, clock, until=SLOT + timedelta(days=1, hours=1))

    gaps = [gap for _, gap in attempts]
    assert gaps[:6] == [1, 2, 4, 8, 16, 30] and set(gaps[5:]) == {30}
    assert len(slack.calls_to("chat.postMessage")) == len(attempts) > 40
    last_try = attempts[-1][0]
    assert SLOT + timedelta(hours=23) < last_try <= SLOT + timedelta(days=1)  # then it is too old
    run = runtime.store.run("C0GENERAL", SLOT)
    assert run is not None and run.error is not None and "Slack is busy" in run.error


async def test_an_error_waiting_cannot_heal_is_retried_every_half_hour_and_recorded(
    start: Start,
) -> None:
    runtime, _, slack, clock = await start(DIGEST_SCHEDULE="0 9 * * MON", DIGEST_ATTACH_EXPORT="0")
    known_since(runtime, SLOT - timedelta(days=7))
    slack.fail_next("chat.postMessage", "channel_not_found", times=10)

    attempts = await _attempts(runtime, clock, until=SLOT + timedelta(hours=3))

    assert [gap for _, gap in attempts] == [30] * 6  # 09:00, 09:31, 10:02 … (a tick after each)
    run = runtime.store.run("C0GENERAL", SLOT)
    assert run is not None and run.error is not None
    assert "Slack cannot find the channel" in run.error


async def test_a_slot_missed_by_more_than_a_day_is_not_posted(start: Start) -> None:
    runtime, _, slack, clock = await start(DIGEST_SCHEDULE="0 9 * * MON")
    known_since(runtime, SLOT - timedelta(days=7))
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
    # a lease of a fraction of a second, so the heartbeat beats while the platform is slow
    runtime, sandbox, slack, clock = await start(DIGEST_ATTACH_EXPORT="false", lease_s=0.3)
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


async def test_on_a_fresh_database_no_slot_from_before_the_first_start_is_caught_up(
    start: Start,
) -> None:
    runtime, _, slack, clock = await start(DIGEST_SCHEDULE="0 9 * * *", DIGEST_ATTACH_EXPORT="0")
    clock.now = SLOT + timedelta(hours=3)  # first start ever, three hours after today's slot

    await runtime.scheduler.tick()

    assert digest_posts(slack) == [] and runtime.store.runs("C0GENERAL") == []
    clock.now = SLOT + timedelta(days=1, seconds=20)  # the next slot, on time
    await runtime.scheduler.tick()
    (post,) = digest_posts(slack)
    assert "Posted late" not in str(post)
    assert post["text"].startswith("Daily license overage digest")  # type: ignore[union-attr]


async def test_after_the_first_start_a_slot_missed_while_down_is_posted_late(
    start: Start,
) -> None:
    runtime, _, slack, clock = await start(DIGEST_SCHEDULE="0 9 * * *", DIGEST_ATTACH_EXPORT="0")
    clock.now = SLOT - timedelta(hours=12)
    await runtime.scheduler.tick()  # the first start: nothing due yet
    clock.now = SLOT + timedelta(hours=3)  # started again after being down over 09:00

    await runtime.scheduler.tick()

    (post,) = digest_posts(slack)
    assert "Posted late: the bot was offline at the scheduled time (09:00 UTC)" in str(post)


async def test_digests_queued_behind_others_in_one_tick_are_not_late(start: Start) -> None:
    runtime, _, slack, clock = await start(DIGEST_ATTACH_EXPORT="false")
    channels = [f"C0SUB{n}" for n in range(4)]
    for channel in channels:
        slack.add_channel(channel, name=channel.lower())
        runtime.store.add_subscription(
            channel, cadence="weekly", weekday="mon", time="09:00", zone="UTC",
            created_by="U1", now=SLOT - timedelta(days=3),
        )  # fmt: skip
    known_since(runtime, SLOT - timedelta(days=3))
    clock.step = timedelta(seconds=15)  # every reading of the clock is 15 s later: a slow tick

    await runtime.scheduler.tick()

    posts = digest_posts(slack)
    assert sorted(str(p["channel"]) for p in posts) == sorted(["C0GENERAL", *channels])
    assert clock.now - SLOT > timedelta(minutes=5)  # the last ones went out minutes after 09:00
    assert not any("Posted late" in str(p) for p in posts)
    assert not any(run.late for c in channels for run in runtime.store.runs(c))


@pytest.mark.parametrize(
    ("schedule", "title"),
    [
        ("0 9 * * MON", "Weekly license overage digest"),
        ("0 9 * * 1", "Weekly license overage digest"),
        ("30 8 * * *", "Daily license overage digest"),
        ("0 9 * * 1-5", "License overage digest"),
    ],
)
async def test_the_digest_channels_title_follows_its_schedule(
    start: Start, schedule: str, title: str
) -> None:
    runtime, _, slack, _ = await start(DIGEST_SCHEDULE=schedule, DIGEST_ATTACH_EXPORT="false")
    await runtime.services.run_slot("C0GENERAL", SLOT)
    (post,) = digest_posts(slack)
    assert str(post["text"]).startswith(f"{title}:")


async def test_home_times_are_those_of_any_channels_digests(start: Start) -> None:
    runtime, _, slack, _ = await start(DIGEST_CHANNEL="", DIGEST_ATTACH_EXPORT="false")
    slack.add_channel("C0SUB", name="sub")
    assert await runtime.services.digest_times() == (None, None)
    runtime.store.add_subscription(
        "C0SUB", cadence="daily", weekday=None, time="09:00", zone="UTC", created_by="U1",
        now=SLOT - timedelta(days=1),
    )  # fmt: skip
    await runtime.scheduler.refresh()

    await runtime.services.run_slot("C0SUB", SLOT)

    last, upcoming = await runtime.services.digest_times()
    assert (last, upcoming) == (SLOT, SLOT + timedelta(days=1))


async def test_stopping_lets_the_digest_in_flight_finish(start: Start) -> None:
    runtime, sandbox, slack, _ = await start(DIGEST_ATTACH_EXPORT="false")
    known_since(runtime, SLOT - timedelta(days=7))
    sandbox.switches.latency_s = 1.0  # the platform is slow: the digest is in flight a while
    runtime.scheduler.start()
    await eventually(lambda: runtime.store.run("C0GENERAL", SLOT))  # the tick claimed it

    await runtime.scheduler.stop_gracefully(timeout_s=60)

    run = runtime.store.run("C0GENERAL", SLOT)
    assert run is not None and run.state == "posted", run
    assert len(digest_posts(slack)) == 1
    assert not runtime.scheduler.running


async def test_stopping_cancels_the_digest_still_in_flight_after_the_wait(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.schedule")
    runtime, sandbox, slack, _ = await start(DIGEST_ATTACH_EXPORT="false")
    known_since(runtime, SLOT - timedelta(days=7))
    sandbox.switches.latency_s = 30.0  # the platform is far slower than stopping waits
    runtime.scheduler.start()
    await eventually(lambda: runtime.store.run("C0GENERAL", SLOT))  # the tick claimed it

    await runtime.scheduler.stop_gracefully(timeout_s=0.1)

    assert "scheduled work still running after" in caplog.text
    run = runtime.store.run("C0GENERAL", SLOT)
    assert run is not None and run.state == "claimed", run  # its claim runs out: retried later
    assert digest_posts(slack) == []
    assert not runtime.scheduler.running


# --- export files as the services name and upload them ----------------------------------------


def summary_facts(data: bytes) -> dict[str, Any]:
    """The workbook's Summary sheet, label → value, as python-calamine reads it."""
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    rows = book.get_sheet_by_name("Summary").to_python(skip_empty_area=False)
    return {row[0]: tuple(row[1:]) if row[2] else row[1] for row in rows if row[0]}


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
async def test_export_file_is_named_after_the_day_in_the_digest_zone(
    start: Start, fmt: str
) -> None:
    runtime, _, _, _ = await start(DIGEST_TIMEZONE="Pacific/Auckland")
    # 12:00 UTC on the 6th is 01:00 on the 7th in Auckland (UTC+13 in January)
    fetched = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
    acme = company(name="Acme")
    rep = build_report([acme], fetched_at=fetched)

    exported = await runtime.services.export_file(fmt, rep, trend=())

    assert exported.filename == f"license-overage-2025-01-07.{fmt}"
    assert exported.title == "License overage 2025-01-07"


async def test_upload_comment_carries_the_files_counts_and_who_asked(start: Start) -> None:
    runtime, _, slack, _ = await start()

    await runtime.services.upload_export("C0GENERAL", fmt="xlsx", native=False, user="U42")

    upload = slack.uploads[0]
    facts = summary_facts(upload.content)
    companies, seats = int(facts["Companies over limit"]), int(facts["Seats over in total"])
    unknown = int(facts["of which limit unknown"])
    assert companies > 0 and seats > 0
    assert "<@U42>" in upload.initial_comment
    assert f" {companies:,} companies over their limit" in upload.initial_comment
    assert f" {seats:,} seats over in total" in upload.initial_comment
    assert (f"{unknown:,} with limit unknown" in upload.initial_comment) is (unknown > 0)


async def test_native_upload_says_it_is_the_platform_file_and_gives_no_counts(
    start: Start,
) -> None:
    runtime, sandbox, slack, _ = await start()

    await runtime.services.upload_export("C0GENERAL", fmt="csv", native=True, user="U42")

    upload = slack.uploads[0]
    assert upload.initial_comment == "The platform's own export file, unchanged, as <@U42> asked."
    assert upload.content == (await runtime.services.native_file("csv")).content
    assert sandbox.export_requests == 2


async def test_the_digest_says_when_keepnet_counts_more_than_was_read(start: Start) -> None:
    runtime, sandbox, slack, _ = await start(DIGEST_ATTACH_EXPORT="false")
    sandbox.switches.hidden_rows = 4  # counted by Keepnet, served on no page
    assert await runtime.services.run_slot("C0GENERAL", SLOT)
    [post] = digest_posts(slack)
    sentence = "Keepnet counts 40 companies over their limit; 36 could be read."
    assert sentence in str(post["text"])
    assert sentence in json.dumps(post["blocks"], ensure_ascii=False)


async def test_a_digest_refused_as_too_long_is_posted_smaller_and_recorded(start: Start) -> None:
    runtime, _, slack, _ = await start(DIGEST_ATTACH_EXPORT="false")
    slack.fail_next("chat.postMessage", "msg_blocks_too_long")
    ts = await runtime.services.run_slot("C0GENERAL", SLOT)
    refused, posted = slack.calls_to("chat.postMessage")
    assert refused.error == "msg_blocks_too_long" and posted.ok and ts == posted.response["ts"]
    rows = [
        len(b["rows"]) - 1
        for call in (refused, posted)
        for a in call.params["attachments"]
        for b in a["blocks"]
        if b["type"] == "table"
    ]
    assert rows == [10, 5]
    assert "…and 35 more" in json.dumps(posted.params["attachments"], ensure_ascii=False)
    assert [r.state for r in runtime.store.runs("C0GENERAL")] == ["posted"]
