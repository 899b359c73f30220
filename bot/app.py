"""Composition root: builds the clients, the AsyncApp, the web server and the scheduler."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import httpx
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.config import Settings
from bot.keepnet import KeepnetClient
from bot.publish import Poster, Publisher, make_client, open_socket_mode
from bot.schedule import DigestScheduler
from bot.services import Services
from bot.store import Store

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024  # Slack's payloads are far smaller; larger bodies are refused
SIGNATURE_WINDOW_S = 5 * 60  # the verifier takes a timestamp this far either side of now
CLOCK_SKEW_S = 30
LEARN_TIMEOUT_S = 10.0  # how long the start waits for auth.test before going on without it
# one budget for the whole shutdown, within the 30 s most hosts allow between SIGTERM and SIGKILL
SHUTDOWN_BUDGET_S = 20.0
HTTP_SHUTDOWN_S = 3.0  # requests only ack; the work after the ack is drained with the rest


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
    socket_mode: Any = None

    async def close(self) -> None:
        self.scheduler.stop()
        if self.socket_mode is not None:
            await self.socket_mode.close_async()
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
    services = Services(
        settings, keepnet, store, poster or Publisher(slack), instance_id=instance_id(), now=now
    )
    identity = Identity(slack) if settings.slack_bot_token else None
    bolt = _build_bolt(settings, slack, services, identity) if identity else None
    scheduler = DigestScheduler(services, settings, now=now)
    return Runtime(settings, http, slack, store, services, bolt, scheduler, identity=identity)


class ReplayGuard:
    """Refuses a signed request seen before: a signature is valid for five minutes, once.

    A signature is remembered until the verifier would refuse it anyway: five minutes after
    the later of its arrival and its own timestamp (which may lie up to five minutes ahead).
    """

    def __init__(
        self, signing_secret: str | None, *, clock: Callable[[], float] = time.time
    ) -> None:
        # without a secret (Socket Mode) anyone could sign with the empty key: admit nothing
        self._clock = clock
        self._verifier = (
            SignatureVerifier(signing_secret, clock=_VerifierClock(clock))
            if signing_secret
            else None
        )
        self._seen: dict[str, float] = {}

    def admit(self, body: bytes, headers: Mapping[str, str]) -> bool:
        if self._verifier is None:
            log.warning("refused an HTTP request: SLACK_SIGNING_SECRET is not set")
            return False
        if not self._verifier.is_valid_request(body, dict(headers)):
            return False
        signature = headers.get("X-Slack-Signature", "")
        now = self._clock()
        # the first entry is the oldest arrival; a later one expiring first waits for it
        if len(self._seen) > 10_000 or (self._seen and next(iter(self._seen.values())) < now):
            self._seen = {k: v for k, v in self._seen.items() if v >= now}
        if signature in self._seen:
            log.warning("refused a replayed request")
            return False
        stamp = float(headers.get("X-Slack-Request-Timestamp", "0") or 0)
        self._seen[signature] = max(now, stamp) + SIGNATURE_WINDOW_S + CLOCK_SKEW_S
        return True

    def __len__(self) -> int:
        """How many signatures it remembers now."""
        return len(self._seen)


class _VerifierClock(Clock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


def _build_bolt(
    settings: Settings, slack: AsyncWebClient, services: Services, identity: Identity
) -> AsyncApp:
    bolt = AsyncApp(
        client=AsyncWebClient(base_url=slack.base_url, retry_handlers=slack.retry_handlers),
        authorize=_bolt_authorize(identity),
        signing_secret=settings.slack_signing_secret or "socket-mode",
        # ReplayGuard checks every HTTP request's signature (and refuses replays) before it
        # reaches Bolt; Socket Mode has none to check. Checking again here is work twice.
        request_verification_enabled=False,
    )
    handlers.register(bolt, services)
    return bolt


def _bolt_authorize(identity: Identity) -> Callable[[], Awaitable[AuthorizeResult]]:
    # Bolt passes the arguments a function names: a plain function, not a bound method
    async def authorize() -> AuthorizeResult:
        return await identity.authorize()

    return authorize


class Identity:
    """Who the bot is, asked of Slack once (auth.test) and kept. Bolt's default asks again
    for every request that arrives before the first answer, 50 calls for a burst of 50."""

    def __init__(self, slack: AsyncWebClient) -> None:
        self._slack = slack
        self._lock = asyncio.Lock()
        self._known: AuthorizeResult | None = None

    async def authorize(self) -> AuthorizeResult:
        async with self._lock:
            if self._known is None:
                response = await self._slack.auth_test()
                self._known = AuthorizeResult.from_auth_test_response(
                    auth_test_response=response, bot_token=self._slack.token
                )
        return self._known

    async def learn(self) -> None:
        """Ask now, before any request waits on the answer; if Slack cannot be asked yet,
        the first request asks again."""
        try:
            async with asyncio.timeout(LEARN_TIMEOUT_S):
                await self.authorize()
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("auth.test at start failed (%s): asked again on the first request",
                        type(exc).__name__)  # fmt: skip


def build_web_app(runtime: Runtime) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    guard = ReplayGuard(runtime.settings.slack_signing_secret)
    bolt = runtime.bolt
    if bolt is None:
        raise ValueError("serving Slack requests needs SLACK_BOT_TOKEN")

    async def slack_events(request: web.Request) -> web.Response:
        body = await request.read()
        if not guard.admit(body, request.headers):
            return web.Response(status=401, text="invalid or replayed request")
        bolt_request = await to_bolt_request(request)
        bolt_response = await bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def healthz(_: web.Request) -> web.Response:
        report = await health(runtime)
        return web.json_response(report, status=200 if report["status"] == "ok" else 503)

    app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    return app


async def health(runtime: Runtime) -> dict[str, Any]:
    """What /healthz reports: "ok" (HTTP 200) or "degraded" (HTTP 503) when the Socket Mode
    connection is down or the scheduler is not running."""
    upcoming = runtime.scheduler.next_run()
    socket_state = "off"
    if runtime.socket_mode is not None:
        client = runtime.socket_mode.client
        socket_state = "connected" if await client.is_connected() else "disconnected"
    healthy = socket_state != "disconnected" and runtime.scheduler.running
    return {
        "status": "ok" if healthy else "degraded",
        "web": "serving",
        "socket_mode": socket_state,
        "scheduler": {
            "running": runtime.scheduler.running,
            "next_digest": upcoming.isoformat() if upcoming else None,
            "channels": runtime.scheduler.channels(),
        },
        "started_at": runtime.started_at.isoformat(),
    }


async def serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT, then drain in-flight work and close every client."""
    runtime = await build_runtime(settings)
    runner = web.AppRunner(
        build_web_app(runtime), access_log=None, shutdown_timeout=HTTP_SHUTDOWN_S
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        if runtime.identity is not None:  # before any request: the first ack need not wait
            await runtime.identity.learn()
        await runner.setup()
        await web.TCPSite(runner, "0.0.0.0", settings.port).start()
        if settings.socket_mode:
            runtime.socket_mode = await _connect_socket_mode(runtime)
        runtime.scheduler.start()
        log.info("serving on port %d (%s)", settings.port, _mode(settings))
        await stop.wait()
        log.info("shutting down: finishing in-flight work")
    finally:
        deadline = loop.time() + SHUTDOWN_BUDGET_S
        # no new tick; the one in flight finishes while the requests drain beside it
        scheduler = asyncio.create_task(runtime.scheduler.stop_gracefully(SHUTDOWN_BUDGET_S))
        if runtime.socket_mode is not None:  # take no new events; its tasks would hold the drain
            await runtime.socket_mode.close_async()
            runtime.socket_mode = None
        await runner.cleanup()  # stops accepting, lets in-flight requests finish
        await _drain(max(0.0, deadline - loop.time()))
        await scheduler
        await runtime.close()
        log.info("stopped")


async def _connect_socket_mode(runtime: Runtime) -> Any:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    token = runtime.settings.slack_app_token
    url = await open_socket_mode(runtime.slack, token)
    handler = AsyncSocketModeHandler(runtime.bolt, token)  # type: ignore[arg-type]
    handler.client.wss_uri = url
    await handler.connect_async()  # type: ignore[no-untyped-call]
    return handler


async def _drain(budget_s: float) -> None:
    """Wait, for at most budget_s, for listener work that continues after its ack (Bolt runs
    it as tasks) and for the scheduler's stop."""
    current = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    if pending:
        await asyncio.wait(pending, timeout=budget_s)


def _mode(settings: Settings) -> str:
    return "Socket Mode" if settings.socket_mode else "HTTP, POST /slack/events"
