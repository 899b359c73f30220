"""Digest subscriptions set from Slack: subscribe, list, unsubscribe, who may, and firing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import build_runtime
from tests.handlers.conftest import StartBot, all_text, answer_to

SUBSCRIBE = "subscribe weekly mon 09:00 Europe/Istanbul"
# Monday 2026-11-23 09:00 in Istanbul (UTC+3) is 06:00 UTC
SLOT = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


async def test_subscribe_confirms_and_the_list_shows_it(start_bot: StartBot) -> None:
    bot = await start_bot()
    confirmation = await answer_to(bot, SUBSCRIBE, user="U1")
    assert confirmation["response_type"] == "ephemeral"
    assert "Subscribed" in confirmation["text"]
    assert "every Mon at 09:00 (Europe/Istanbul)" in confirmation["text"]
    listing = all_text(await answer_to(bot, "subscriptions"))
    assert "<#C0GENERAL>" in listing
    assert "every Mon at 09:00 (Europe/Istanbul)" in listing
    assert "<@U1>" in listing
    assert bot.sandbox.search_requests == 0  # nothing about subscriptions needs the platform


async def test_the_list_includes_the_digest_channel_from_the_settings(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(DIGEST_CHANNEL="C0DIGEST", DIGEST_TIMEZONE="Europe/Berlin")
    listing = all_text(await answer_to(bot, "subscriptions"))
    assert "<#C0DIGEST>" in listing and "from DIGEST_CHANNEL" in listing
    assert "0 9 * * MON" in listing and "Europe/Berlin" in listing
    await answer_to(bot, "subscribe daily 08:30", channel="C0GENERAL")
    listing = all_text(await answer_to(bot, "subscriptions"))
    assert "<#C0DIGEST>" in listing and "<#C0GENERAL>" in listing
    assert "every day at 08:30 (Europe/Berlin)" in listing  # no zone given: the bot's zone


async def test_with_nothing_subscribed_the_list_says_how_to_start(start_bot: StartBot) -> None:
    bot = await start_bot()
    answer = await answer_to(bot, "subscriptions")
    assert "No digest subscriptions yet" in answer["text"]


async def test_unsubscribe_removes_it(start_bot: StartBot) -> None:
    bot = await start_bot()
    await answer_to(bot, SUBSCRIBE)
    removed = await answer_to(bot, "unsubscribe")
    assert "removed" in removed["text"]
    assert "No digest subscriptions yet" in (await answer_to(bot, "subscriptions"))["text"]
    again = await answer_to(bot, "unsubscribe")
    assert "no digest subscription to remove" in again["text"]


async def test_subscribing_again_replaces_the_channels_schedule(start_bot: StartBot) -> None:
    bot = await start_bot()
    await answer_to(bot, SUBSCRIBE)
    await answer_to(bot, "subscribe daily 07:15 UTC")
    listing = all_text(await answer_to(bot, "subscriptions"))
    assert "every day at 07:15 (UTC)" in listing
    assert "Europe/Istanbul" not in listing


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("subscribe weekly funday 09:00", "funday"),
        ("subscribe weekly mon 25:00", "25:00"),
        ("subscribe weekly mon 9am", "9am"),
        ("subscribe weekly mon 09:00 Mars/Olympus", "Mars/Olympus"),
        ("subscribe monthly 09:00", "monthly"),
    ],
)
async def test_bad_schedules_are_answered_with_the_usage(
    start_bot: StartBot, text: str, problem: str
) -> None:
    bot = await start_bot()
    answer = await answer_to(bot, text)
    assert problem in answer["text"]
    assert "subscribe weekly mon 09:00 Europe/Istanbul" in answer["text"]
    assert "No digest subscriptions yet" in (await answer_to(bot, "subscriptions"))["text"]


@pytest.mark.parametrize("text", [SUBSCRIBE, "unsubscribe"])
async def test_users_who_are_not_admins_may_not_change_subscriptions(
    start_bot: StartBot, text: str
) -> None:
    bot = await start_bot(ALLOWED_USER_IDS="U1,U2", ADMIN_USER_IDS="U1")
    await answer_to(bot, SUBSCRIBE, user="U1")
    answer = await answer_to(bot, text, user="U2")
    assert "Only the bot's admins" in answer["text"]
    listing = all_text(await answer_to(bot, "subscriptions", user="U2"))  # reading is fine
    assert "every Mon at 09:00 (Europe/Istanbul)" in listing and "<@U1>" in listing


async def test_without_admins_the_allowed_users_may_change_subscriptions(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(ALLOWED_USER_IDS="U1,U2")
    answer = await answer_to(bot, SUBSCRIBE, user="U2")
    assert "Subscribed" in answer["text"]
    assert "removed" in (await answer_to(bot, "unsubscribe", user="U1"))["text"]


async def test_a_stored_subscription_fires_once_at_its_time_in_its_zone(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(DIGEST_ATTACH_EXPORT="false")
    await answer_to(bot, SUBSCRIBE)
    moment = [SLOT - timedelta(seconds=30)]  # 08:59:30 in Istanbul, 05:59:30 UTC
    runtime = await build_runtime(bot.runtime.settings, now=lambda: moment[0])
    try:
        await runtime.scheduler.tick()
        assert bot.slack.posts == []
        moment[0] = SLOT + timedelta(seconds=30)
        await runtime.scheduler.tick()
        posts = bot.slack.posts
        assert len(posts) == 1
        assert posts[0].params["channel"] == "C0GENERAL"
        assert posts[0].params["metadata"]["event_payload"]["key"] == "2026-11-23T06:00:00Z"
        assert "digest" in all_text(posts[0].params).lower()
        moment[0] = SLOT + timedelta(minutes=1, seconds=30)
        await runtime.scheduler.tick()
        assert len(bot.slack.posts) == 1
    finally:
        await runtime.close()


async def test_a_slot_in_utc_is_not_taken_for_the_subscriptions_zone(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(DIGEST_ATTACH_EXPORT="false")
    await answer_to(bot, SUBSCRIBE)
    at_nine_utc = datetime(2026, 11, 30, 9, 0, 30, tzinfo=UTC)  # Monday 12:00:30 in Istanbul
    runtime = await build_runtime(bot.runtime.settings, now=lambda: at_nine_utc)
    try:
        await runtime.scheduler.tick()
        posts = bot.slack.posts  # only the 06:00 UTC slot, posted late, never one at 09:00 UTC
        assert [p.params["metadata"]["event_payload"]["key"] for p in posts] == [
            "2026-11-30T06:00:00Z"
        ]
    finally:
        await runtime.close()


async def test_a_damaged_database_file_is_explained_in_one_sentence(start_bot: StartBot) -> None:
    bot = await start_bot()
    await answer_to(bot, SUBSCRIBE)
    path = Path(bot.runtime.settings.database_url.removeprefix("sqlite:///"))
    for damaged in [path, *path.parent.glob(path.name + "-*")]:
        size = damaged.stat().st_size
        with damaged.open("r+b") as file:
            file.write(b"not a db" * (size // 8 + 1))
    answer = await answer_to(bot, "subscriptions")
    assert "reference" not in answer["text"]
    assert "Cannot use the SQLite file" in answer["text"]


async def test_a_daily_subscription_posts_a_daily_digest(start_bot: StartBot) -> None:
    bot = await start_bot(DIGEST_ATTACH_EXPORT="false")
    await answer_to(bot, "subscribe daily 08:30")
    just_after = datetime(2026, 11, 24, 8, 30, 30, tzinfo=UTC)
    runtime = await build_runtime(bot.runtime.settings, now=lambda: just_after)
    try:
        await runtime.scheduler.tick()
        (post,) = bot.slack.posts
        assert post.params["text"].startswith("Daily license overage digest")
    finally:
        await runtime.close()
