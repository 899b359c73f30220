"""KeepnetClient: the one object callers use, built on the transport, the token, the search
and the export."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx

from bot.config import Settings
from bot.keepnet.export import Export
from bot.keepnet.token import _Token


class KeepnetClient(Export):
    """One per process: shares the token and the connection pool between all commands."""

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._http = http
        self._now = now
        self._sleep = sleep
        self._clock = clock  # seconds, for retry deadlines and token renewal
        self._token: _Token | None = None
        self._token_flight: asyncio.Task[_Token] | None = None
        self._slots = asyncio.Semaphore(settings.keepnet_concurrency)
        self._base = settings.keepnet_base_url.rstrip("/")
