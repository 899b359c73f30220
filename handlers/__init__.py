"""Slack listeners: register(app, services) wires each module; the allow-list middleware."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.response import BoltResponse

from bot.config import Settings
from bot.render_slack import render_refusal
from bot.services import Services
from handlers import actions, cases, commands, errors, home

log = logging.getLogger(__name__)

Middleware = Callable[..., Awaitable[BoltResponse | None]]
Next = Callable[[], Awaitable[None]]


def is_allowed(settings: Settings, *, user: str | None, channel: str | None) -> bool:
    """Allow-lists, when set, admit only their users and channels. The App Home tab belongs
    to no channel: with a channel list set, only the users of a user list may use it."""
    if settings.allowed_user_ids and user not in settings.allowed_user_ids:
        return False
    if not settings.allowed_channel_ids:
        return True
    if channel is None:
        return bool(settings.allowed_user_ids)
    return channel in settings.allowed_channel_ids


def _channel_of(context: AsyncBoltContext, body: dict[str, Any]) -> str | None:
    """The channel a request comes from; None for the App Home tab (its event names the
    app's DM channel, and its buttons sit in a view)."""
    if (body.get("event") or {}).get("type") == "app_home_opened":
        return None
    if (body.get("container") or {}).get("type") == "view":
        return None
    return context.channel_id


def allow_listed(services: Services) -> Middleware:
    """Listener middleware: refuse politely, before anything is fetched.

    Bolt answers Slack's HTTP request only once listener middleware returns, so a refusal
    acks first and sends its words (a reply, or the Home tab's refusal view) afterwards.
    """

    async def check(
        ack: AsyncAck,
        respond: AsyncRespond,
        context: AsyncBoltContext,
        body: dict[str, Any],
        next: Next,
    ) -> BoltResponse | None:
        user, channel = context.user_id, _channel_of(context, body)
        if is_allowed(services.settings, user=user, channel=channel):
            await next()
            return None
        log.info("refused user=%s channel=%s", user, channel)
        refusal = render_refusal()
        # returning a response (not calling next) ends the request here
        if body.get("type") == "event_callback":  # the Home tab: the refusal is its view
            if user and (body.get("event") or {}).get("tab", "home") == "home":
                in_background(services.refuse_home(user))
            return BoltResponse(status=200, body="")
        if body.get("command"):
            refused: BoltResponse = await ack(
                response_type="ephemeral", text=refusal.text, blocks=refusal.blocks
            )
            return refused
        acked: BoltResponse = await ack()
        if body.get("response_url"):
            in_background(
                respond(response_type="ephemeral", replace_original=False, text=refusal.text)
            )
        elif user and channel is None:  # a Home tab button: Slack gives no response_url
            in_background(services.refuse_home(user))
        return acked

    return check


_background: set[asyncio.Task[Any]] = set()


def in_background(work: Coroutine[Any, Any, Any]) -> None:
    """Run `work` after the ack has gone out; kept referenced until done, failures logged."""
    task = asyncio.ensure_future(work)
    _background.add(task)
    task.add_done_callback(_finished)


def _finished(task: asyncio.Task[Any]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("a refusal was not delivered: %s", task.exception())


def register(app: AsyncApp, services: Services) -> None:
    guard = allow_listed(services)
    errors.register(app)
    commands.register(app, services, guard)
    actions.register(app, services, guard)
    home.register(app, services, guard)
    cases.register(app, services, guard)
