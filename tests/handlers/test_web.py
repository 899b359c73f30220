"""The web edge: /healthz, the replay guard's memory, and who the bot is, asked at start."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from bot.publish import Identity, make_client
from bot.web import CLOCK_SKEW_S, SIGNATURE_WINDOW_S, ReplayGuard
from tests.clock import Clock
from tests.fakes.slack_api import FakeSlack
from tests.handlers.conftest import StartBot, answer_to
from tests.runtime import BOT_TOKEN
from tests.slack_requests import SIGNING_SECRET, signed_headers, slash_command


async def test_healthz_is_503_until_the_scheduler_runs_then_200(start_bot: StartBot) -> None:
    bot = await start_bot(DIGEST_CHANNEL="C0GENERAL", DIGEST_SCHEDULE="0 9 * * mon")
    before = await bot.http.get(bot.url + "/healthz")
    assert before.status_code == 503
    report = before.json()
    assert report["status"] == "degraded"
    assert report["scheduler"]["running"] is False
    bot.runtime.scheduler.start()
    after = await bot.http.get(bot.url + "/healthz")
    assert after.status_code == 200
    report = after.json()
    assert report["status"] == "ok" and report["web"] == "serving"
    assert report["socket_mode"] == "off"
    assert report["scheduler"]["running"] is True
    assert report["scheduler"]["channels"] == ["C0GENERAL"]
    upcoming = datetime.fromisoformat(report["scheduler"]["next_digest"])
    assert upcoming.weekday() == 0 and (upcoming.hour, upcoming.minute) == (9, 0)


async def test_healthz_without_a_digest_has_no_next_digest(start_bot: StartBot) -> None:
    bot = await start_bot()
    bot.runtime.scheduler.start()
    report = (await bot.http.get(bot.url + "/healthz")).json()
    assert report["status"] == "ok"
    assert report["scheduler"]["next_digest"] is None and report["scheduler"]["channels"] == []


START = datetime.fromtimestamp(1_700_000_000, UTC)


def _signed(stamp: int) -> tuple[bytes, dict[str, str]]:
    body = urlencode(slash_command("", "https://hooks.example/r")).encode()
    return body, signed_headers(body, ts=stamp)


def test_a_request_stamped_in_the_future_cannot_be_replayed_later() -> None:
    clock = Clock(START)
    guard = ReplayGuard(SIGNING_SECRET, clock=clock.epoch)
    body, headers = _signed(int(clock.epoch()) + 290)  # the sender's clock runs 290 s ahead
    assert guard.admit(body, headers)
    for later in (1, 331, 400, 290 + SIGNATURE_WINDOW_S):
        clock.now = START + timedelta(seconds=later)
        assert not guard.admit(body, headers), f"replayed {later} s later"
    clock.now = START + timedelta(seconds=290 + SIGNATURE_WINDOW_S + CLOCK_SKEW_S + 1)
    assert not guard.admit(body, headers)  # now stale for the verifier itself


def test_a_replay_guard_forgets_a_signature_once_it_is_stale() -> None:
    clock = Clock(START)
    guard = ReplayGuard(SIGNING_SECRET, clock=clock.epoch)
    body, headers = _signed(int(clock.epoch()))
    assert guard.admit(body, headers)
    clock.now += timedelta(seconds=60)
    assert guard.admit(*_signed(int(clock.epoch())))
    assert len(guard) == 2  # both still within their window
    # the first one's window is over
    clock.now += timedelta(seconds=SIGNATURE_WINDOW_S + CLOCK_SKEW_S - 60 + 1)
    assert guard.admit(*_signed(int(clock.epoch())))
    assert len(guard) == 2  # the first one forgotten, the second and the newest kept
    assert not guard.admit(body, headers)  # and the verifier refuses the old one anyway


async def test_auth_test_is_asked_at_start_and_not_again_for_the_first_command(
    start_bot: StartBot,
) -> None:
    bot = await start_bot()
    identity = bot.runtime.identity
    assert identity is not None
    await identity.learn()  # what serve() does before it accepts requests
    assert len(bot.slack.calls_to("auth.test")) == 1
    await answer_to(bot, "help")
    assert len(bot.slack.calls_to("auth.test")) == 1


async def test_slack_unreachable_at_start_is_asked_again_on_the_first_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.app")
    slack = FakeSlack(bot_token=BOT_TOKEN)
    base_url = await slack.start()
    try:
        slack.fail_next("auth.test", "internal_error", times=3, http_status=500)
        identity = Identity(make_client(BOT_TOKEN, base_url, retry_wait_s=0))
        await identity.learn()  # the first try and two retries, all refused: start goes on
        assert "auth.test at start failed" in caplog.text
        result = await identity.authorize()
        assert result.bot_user_id == "U0BOT"
        assert [c.error for c in slack.calls_to("auth.test")] == ["internal_error"] * 3 + [None]
    finally:
        await slack.stop()
