"""Slack listeners: register(app, services) wires each module; the allow-list middleware."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.response import BoltResponse

from bot.config import Settings
from bot.render_slack import render_refusal
from bot.services import Services
from handlers import actions, commands, errors, home

log = logging.getLogger(__name__)

Middleware = Callable[..., Awaitable[BoltResponse | None]]


def is_allowed(settings: Settings, *, user: str | None, channel: str | None) -> bool:
    """Allow-lists, when set, admit only their users and channels (App Home has no channel)."""
    if settings.allowed_user_ids and user not in settings.allowed_user_ids:
        return False
    if settings.allowed_channel_ids and channel and channel not in settings.allowed_channel_ids:
        return False
    return not (settings.allowed_channel_ids and not channel and not _home_ok(settings, user))


def _home_ok(settings: Settings, user: str | None) -> bool:
    # the Home tab belongs to no channel: with only a channel list set, it is shown to all
    return not settings.allowed_user_ids or user in settings.allowed_user_ids


def allow_listed(settings: Settings) -> Middleware:
    """Listener middleware: refuse politely, before anything is fetched."""

    async def check(
        ack: Any, respond: Any, context: AsyncBoltContext, body: dict[str, Any], next: Any
    ) -> BoltResponse | None:
        user, channel = context.user_id, context.channel_id
        if is_allowed(settings, user=user, channel=channel):
            await next()
            return None
        log.info("refused user=%s channel=%s", user, channel)
        refusal = render_refusal()
        if body.get("type") == "event_callback":
            context["refused"] = True
            await next()  # the Home listener shows the refusal view itself
            return None
        # returning the ack's response (not calling next) ends the request here
        if body.get("command"):
            refused: BoltResponse = await ack(
                response_type="ephemeral", text=refusal.text, blocks=refusal.blocks
            )
            return refused
        acked: BoltResponse = await ack()
        await respond(response_type="ephemeral", replace_original=False, text=refusal.text)
        return acked

    return check


def register(app: AsyncApp, services: Services) -> None:
    guard = allow_listed(services.settings)
    errors.register(app)
    commands.register(app, services, guard)
    actions.register(app, services, guard)
    home.register(app, services, guard)
