"""The Keepnet client over real HTTP against the sandbox: a client per test with its own sandbox,
and a sleep that records its delays instead of waiting them out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import httpx
import pytest

from bot.config import Settings
from bot.keepnet import KeepnetClient
from bot.sandbox import Sandbox, is_flagged

SECRET = "sandbox-secret"
MakeClient = Callable[..., Awaitable[tuple[KeepnetClient, Sandbox]]]


class FastSleep:
    """Records the back-off delays instead of waiting them out, and keeps the client's clock:
    each wait moves it on by the delay, and a test may move it on too."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        self.now += delay
        await asyncio.sleep(0)


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    opened: list[tuple[Sandbox, httpx.AsyncClient]] = []

    async def make(
        *,
        companies: int = 300,
        over_limit: int | None = None,
        role: str = "Reseller",
        secret: str = SECRET,
        sleep: FastSleep | None = None,
        path: str = "",
        **settings: object,
    ) -> tuple[KeepnetClient, Sandbox]:
        sandbox = Sandbox(companies=companies, over_limit=over_limit, seed=5, role=role)
        url = await sandbox.start() + path
        base = Settings(
            keepnet_client_id="sandbox-client", keepnet_client_secret=secret, keepnet_base_url=url
        )
        config = replace(base, **settings)  # type: ignore[arg-type]
        http = httpx.AsyncClient(timeout=config.keepnet_timeout_s)
        opened.append((sandbox, http))
        sleep = sleep or FastSleep()
        client = KeepnetClient(config, http, sleep=sleep, clock=sleep.clock)
        return client, sandbox

    yield make
    for sandbox, http in opened:
        await http.aclose()
        await sandbox.stop()


def flagged_ids(sandbox: Sandbox) -> set[str]:
    return {c["companyResourceId"] for c in sandbox.companies if is_flagged(c)}
