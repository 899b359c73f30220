"""The aiohttp app: Slack's request endpoint behind the replay guard, and /healthz."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_sdk.signature import Clock, SignatureVerifier

from bot.app import Runtime

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024  # Slack's payloads are far smaller; larger bodies are refused
SIGNATURE_WINDOW_S = 5 * 60  # the verifier takes a timestamp this far either side of now
CLOCK_SKEW_S = 30


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
        connected = await runtime.socket_mode.is_connected()
        socket_state = "connected" if connected else "disconnected"
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
