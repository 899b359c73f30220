"""Buttons and menus on our messages: export, post to channel, company details."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot import render_slack
from bot.errors import BotError
from bot.publish import Publisher
from bot.render_slack import (
    DETAILS_SELECT,
    EXPORT_BUTTON,
    EXPORT_CSV_BUTTON,
    POST_TO_CHANNEL_BUTTON,
)
from bot.services import Services
from handlers.commands import ephemeral_reply
from handlers.errors import answering_errors

log = logging.getLogger(__name__)


def _clicked_in(body: dict[str, Any]) -> str | None:
    """The channel of the message whose button was clicked; None on the App Home tab."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    return str(channel) if channel else None


def _channel(body: dict[str, Any]) -> str:
    channel = _clicked_in(body)
    if channel is None:
        raise BotError(
            "This button only works in a channel.", hint="Run `/overage` in a channel first."
        )
    return channel


async def _export_target(body: dict[str, Any], client: Any, user: str) -> str:
    """The channel clicked in, or (from the App Home tab) the person's direct message with us."""
    channel = _clicked_in(body)
    if channel is not None:
        return channel
    return await Publisher(client).open_dm(user)


def register(app: AsyncApp, services: Services, guard: Any) -> None:
    @app.action(EXPORT_BUTTON, middleware=[guard])
    @app.action(EXPORT_CSV_BUTTON, middleware=[guard])
    async def on_export_clicked(
        ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any, client: Any
    ) -> None:
        await ack()
        fmt = "csv" if action.get("action_id") == EXPORT_CSV_BUTTON else "xlsx"
        user = body.get("user", {}).get("id", "")
        async with answering_errors(ephemeral_reply(respond)):
            channel = await _export_target(body, client, user)
            await services.upload_export(channel, fmt=fmt, native=False, user=user)
        log.info("action export fmt=%s user=%s", fmt, user)

    @app.action(POST_TO_CHANNEL_BUTTON, middleware=[guard])
    async def on_post_to_channel_clicked(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        user = body.get("user", {}).get("id", "")
        async with answering_errors(ephemeral_reply(respond)):
            await services.post_summary(_channel(body), user=user)
        log.info("action post_to_channel user=%s", user)

    @app.action(DETAILS_SELECT, middleware=[guard])
    async def on_details_selected(ack: Any, action: dict[str, Any], respond: Any) -> None:
        await ack()
        company_id = (action.get("selected_option") or {}).get("value", "")
        async with answering_errors(ephemeral_reply(respond)):
            report = await services.report()
            overage = report.by_id(company_id)
            if overage is None:
                raise BotError(
                    "That company is no longer over its limit.",
                    hint="Run `/overage` for the current list.",
                )
            await ephemeral_reply(respond)(render_slack.render_company(overage, now=services.now()))
