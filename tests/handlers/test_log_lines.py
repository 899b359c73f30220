"""One log line per handled click, with who, where, how long, and how it ended."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.logs import FIELDS
from bot.render_slack import DETAILS_SELECT, EXPORT_BUTTON, POST_TO_CHANNEL_BUTTON
from bot.sandbox import is_flagged
from tests.handlers.conftest import StartBot, eventually

KEYS = {"user", "channel", "duration_ms", "upstream_calls", "outcome"}


def lines_of(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger and getattr(r, FIELDS, None)]


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, FIELDS)
    assert isinstance(fields, dict)
    return fields


@pytest.mark.parametrize(
    ("action_id", "kwargs", "action"),
    [
        (EXPORT_BUTTON, {"value": "xlsx"}, "export"),
        (POST_TO_CHANNEL_BUTTON, {"value": "summary"}, "post_to_channel"),
    ],
)
async def test_a_click_is_logged_once_with_its_duration_and_outcome(
    start_bot: StartBot,
    caplog: pytest.LogCaptureFixture,
    action_id: str,
    kwargs: dict[str, str],
    action: str,
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.actions")
    bot = await start_bot()
    await bot.action(action_id, user="U42", **kwargs)
    (record,) = await eventually(lambda: lines_of(caplog, "handlers.actions"))
    fields = fields_of(record)
    assert KEYS | {"action"} <= set(fields)
    assert (fields["action"], fields["user"], fields["channel"]) == (action, "U42", "C0GENERAL")
    assert fields["outcome"] == "ok" and fields["upstream_calls"] >= 2  # token + a page
    assert f"action {action}" in record.getMessage() and "duration_ms=" in record.getMessage()


async def test_a_failed_click_logs_its_outcome(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.actions")
    bot = await start_bot()
    calm = next(c for c in bot.sandbox.companies if not is_flagged(c))
    await bot.action(DETAILS_SELECT, selected=calm["companyResourceId"], user="U8")
    (record,) = await eventually(lambda: lines_of(caplog, "handlers.actions"))
    fields = fields_of(record)
    assert (fields["action"], fields["user"], fields["outcome"]) == ("details", "U8", "BotError")


async def test_a_home_tab_click_is_logged_with_the_home_as_its_place(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.actions")
    bot = await start_bot()
    bot.slack.fail_next("conversations.open", "user_disabled")
    await bot.action(EXPORT_BUTTON, value="xlsx", user="U5", channel=None)
    (record,) = await eventually(lambda: lines_of(caplog, "handlers.actions"))
    fields = fields_of(record)
    assert fields["channel"] == "home" and fields["outcome"] == "SlackRefused"
