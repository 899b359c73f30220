"""Digest subscriptions set from Slack: subscribe, list, unsubscribe, who may, and firing."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.crontab import make_trigger, next_slot, slot_key
from tests.clock import Clock
from tests.handlers.conftest import StartBot, all_text, answer_to

SUBSCRIBE = "subscribe weekly mon 09:00 Europe/Istanbul"


def next_fire(crontab: str, zone: str = "UTC") -> datetime:
    """The schedule's first slot after now: a subscription made now posts nothing earlier."""
    return next_slot(make_trigger(crontab, zone), datetime.now(UTC)).astimezone(UTC)


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


async def test_without_any_allow_list_everyone_may_change_subscriptions(
    start_bot: StartBot,
) -> None:
    bot = await start_bot()
    answer = await answer_to(bot, SUBSCRIBE, user="U0ANYONE")
    assert "Subscribed" in answer["text"]
    assert "removed" in (await answer_to(bot, "unsubscribe", user="U0SOMEONE"))["text"]


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
    slot = next_fire("0 9 * * mon", "Europe/Istanbul")  # Monday 09:00 in Istanbul (UTC+3)
    assert (slot.hour, slot.minute, slot.weekday()) == (6, 0, 0)
    clock = Clock(slot - timedelta(seconds=30))  # 08:59:30 in Istanbul, 05:59:30 UTC
    runtime = await bot.fakes.runtime(bot.runtime.settings, now=clock)
    await runtime.scheduler.tick()
    assert bot.slack.posts == []
    clock.now = slot + timedelta(seconds=30)
    await runtime.scheduler.tick()
    posts = bot.slack.posts
    assert len(posts) == 1
    assert posts[0].params["channel"] == "C0GENERAL"
    assert posts[0].params["metadata"]["event_payload"]["key"] == slot_key(slot)
    assert "digest" in all_text(posts[0].params).lower()
    assert "Posted late" not in all_text(posts[0].params)
    clock.now = slot + timedelta(minutes=1, seconds=30)
    await runtime.scheduler.tick()
    assert len(bot.slack.posts) == 1


async def test_a_slot_in_utc_is_not_taken_for_the_subscriptions_zone(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(DIGEST_ATTACH_EXPORT="false")
    await answer_to(bot, SUBSCRIBE)
    slot = next_fire("0 9 * * mon", "Europe/Istanbul")
    at_nine_utc = slot + timedelta(hours=3, seconds=30)  # Monday 12:00:30 in Istanbul
    runtime = await bot.fakes.runtime(bot.runtime.settings, now=Clock(at_nine_utc))
    await runtime.scheduler.tick()
    posts = bot.slack.posts  # only the 06:00 UTC slot, posted late, never one at 09:00 UTC
    assert [p.params["metadata"]["event_payload"]["key"] for p in posts] == [slot_key(slot)]
    assert "Posted late: the bot was offline" in all_text(posts[0].params)


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
    just_after = next_fire("30 8 * * *") + timedelta(seconds=30)
    runtime = await bot.fakes.runtime(bot.runtime.settings, now=Clock(just_after))
    await runtime.scheduler.tick()
    (post,) = bot.slack.posts
    assert post.params["text"].startswith("Daily license overage digest")


async def test_a_new_subscription_posts_no_digest_for_a_slot_from_before_it(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(DIGEST_ATTACH_EXPORT="false")
    made = datetime.now(UTC)
    two_hours_ago = made - timedelta(hours=2)  # e.g. `daily 08:30` made at 10:30
    await answer_to(bot, f"subscribe daily {two_hours_ago:%H:%M}")
    clock = Clock(made + timedelta(minutes=1))
    runtime = await bot.fakes.runtime(bot.runtime.settings, now=clock)
    await runtime.scheduler.tick()
    assert bot.slack.posts == []
    assert runtime.store.runs("C0GENERAL") == []
    first = next_fire(f"{two_hours_ago.minute} {two_hours_ago.hour} * * *")
    clock.now = first + timedelta(seconds=30)
    await runtime.scheduler.tick()
    (post,) = bot.slack.posts
    assert "Posted late" not in all_text(post.params)


@pytest.mark.parametrize("text", ["subscribe daily 08:30", "unsubscribe"])
async def test_the_digest_channel_is_not_changed_from_slack(start_bot: StartBot, text: str) -> None:
    bot = await start_bot(DIGEST_CHANNEL="C0GENERAL")
    answer = await answer_to(bot, text, channel="C0GENERAL")
    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == (
        "This channel's digest is set by DIGEST_CHANNEL in the bot's settings, not from Slack. "
        "Change DIGEST_SCHEDULE there, or subscribe another channel."
    )
    assert bot.runtime.store.subscriptions() == []
    # a row stored before the channel became DIGEST_CHANNEL: the settings' schedule is the one
    bot.runtime.store.add_subscription(
        "C0GENERAL", cadence="daily", weekday=None, time="08:30", zone="UTC", created_by="U1",
        now=datetime.now(UTC),
    )  # fmt: skip
    listing = all_text(await answer_to(bot, "subscriptions"))
    assert listing.count("<#C0GENERAL>") == 1 and "from DIGEST_CHANNEL" in listing
    assert "every day at 08:30" not in listing


async def test_each_subscription_change_is_logged_with_who_made_it(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start_bot()
    caplog.set_level(logging.INFO, logger="bot.services")

    await answer_to(bot, "subscribe daily 08:30", user="U0SETTER")
    await answer_to(bot, SUBSCRIBE, user="U0CHANGER")
    await answer_to(bot, "unsubscribe", user="U0REMOVER")

    lines = [r.getMessage() for r in caplog.records if r.name == "bot.services.subscriptions"]
    assert "subscription of C0GENERAL set by U0SETTER: daily 08:30 UTC" in lines
    assert "subscription of C0GENERAL set by U0CHANGER: weekly mon 09:00 Europe/Istanbul" in lines
    assert "subscription of C0GENERAL removed by U0REMOVER" in lines
    assert not any("None" in line for line in lines)


async def test_subscribing_a_public_channel_the_bot_is_not_in_joins_it(
    start_bot: StartBot,
) -> None:
    bot = await start_bot()
    bot.slack.add_channel("C0OUTSIDE", name="outside", member=False)
    confirmation = await answer_to(bot, SUBSCRIBE, channel="C0OUTSIDE")
    assert "Subscribed" in confirmation["text"]
    assert [c.params["channel"] for c in bot.slack.calls_to("conversations.join")] == ["C0OUTSIDE"]


async def test_subscribing_a_private_channel_the_bot_is_not_in_asks_for_an_invite(
    start_bot: StartBot,
) -> None:
    bot = await start_bot()
    bot.slack.add_channel("G0SECRET", name="secret", private=True, member=False)
    refusal = await answer_to(bot, SUBSCRIBE, channel="G0SECRET")
    assert "/invite @" in refusal["text"] and "Subscribed" not in refusal["text"]
    assert "G0SECRET" not in all_text(await answer_to(bot, "subscriptions"))
