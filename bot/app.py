"""Composition root: builds the clients, the services, the Bolt app and the scheduler."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.config import Settings
from bot.keepnet import KeepnetClient
from bot.publish import Identity, Poster, Publisher, SocketMode, make_client
from bot.schedule import DigestScheduler
from bot.services import Services
from bot.store import Store


@dataclass
class Runtime:
    """Everything one process owns; closed together on shutdown."""

    settings: Settings
    http: httpx.AsyncClient
    slack: AsyncWebClient
    store: Store
    services: Services
    bolt: AsyncApp | None  # None for the commands that never hear from Slack
    scheduler: DigestScheduler
    identity: Identity | None = None  # who the bot is, for Bolt; None without Slack
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    socket_mode: SocketMode | None = None  # set once connected

    async def close(self) -> None:
        self.scheduler.stop()
        await self.services.settled()  # the cases of the last fetch are written, not cut off
        if self.socket_mode is not None:
            await self.socket_mode.close()
        await self.http.aclose()  # the Slack client opens a session per call: none to close
        await asyncio.to_thread(self.store.close)


def instance_id() -> str:
    return f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"


async def build_runtime(
    settings: Settings,
    *,
    poster: Poster | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Runtime:
    """All of one process's parts; `poster` replaces Slack (the demo prints instead)."""
    store = Store(settings.database_url)
    await asyncio.to_thread(store.upgrade)  # fails fast, one line, on an unreachable database
    http = httpx.AsyncClient(
        timeout=settings.keepnet_timeout_s,
        limits=httpx.Limits(max_connections=settings.keepnet_concurrency * 2 + 2),
    )
    slack = make_client(settings.slack_bot_token, settings.slack_api_url)
    keepnet = KeepnetClient(settings, http, now=now)
    publisher = Publisher(slack)
    services = Services(
        settings,
        keepnet,
        store,
        poster or publisher,
        instance_id=instance_id(),
        now=now,
        interactive=publisher if poster is None else None,  # the demo prints, never updates
    )
    identity = Identity(slack) if settings.slack_bot_token else None
    bolt = _build_bolt(settings, slack, services, identity) if identity else None
    scheduler = DigestScheduler(services, settings, now=now)
    return Runtime(settings, http, slack, store, services, bolt, scheduler, identity=identity)


def _build_bolt(
    settings: Settings, slack: AsyncWebClient, services: Services, identity: Identity
) -> AsyncApp:
    bolt = AsyncApp(
        client=AsyncWebClient(base_url=slack.base_url, retry_handlers=slack.retry_handlers),
        authorize=_bolt_authorize(identity),
        signing_secret=settings.slack_signing_secret or "socket-mode",
        # bot/web.py's ReplayGuard checks every HTTP request's signature (and refuses replays)
        # before it reaches Bolt; Socket Mode has none to check. Checking again is work twice.
        request_verification_enabled=False,
    )
    handlers.register(bolt, services)
    return bolt


def _bolt_authorize(identity: Identity) -> Callable[[], Awaitable[AuthorizeResult]]:
    # Bolt passes the arguments a function names: a plain function, not a bound method
    async def authorize() -> AuthorizeResult:
        return await identity.authorize()

    return authorize
