"""The bot against the fakes: the sandbox platform and the fake Slack on loopback ports, the
bot's runtimes built against them, and the web app serving Slack's requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web

from bot.app import Runtime, build_runtime
from bot.config import Settings
from bot.sandbox import Sandbox
from bot.web import build_web_app
from tests.fakes.slack_api import FakeSlack
from tests.slack_requests import SIGNING_SECRET

BOT_TOKEN = "xoxb-test-token"
KEEPNET_SECRET = "sandbox-secret"  # the sandbox's own credential


def fakes_env(*, keepnet_url: str, slack_url: str, database_url: str) -> dict[str, str]:
    """The settings that point the bot at the fakes, as environment variables."""
    return {
        "KEEPNET_BASE_URL": keepnet_url,
        "KEEPNET_CLIENT_ID": "sandbox-client",
        "KEEPNET_CLIENT_SECRET": KEEPNET_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_url,
        "DATABASE_URL": database_url,
    }


@dataclass
class Fakes:
    """The sandbox and the fake Slack, both serving, and the runtimes built against them."""

    sandbox: Sandbox
    slack: FakeSlack
    database_url: str
    runtimes: list[Runtime] = field(default_factory=list)

    def settings(self, **env: str) -> Settings:
        """Settings for these fakes and this database; `env` adds or overrides any."""
        urls = {"keepnet_url": self.sandbox.url, "slack_url": self.slack.base_url}
        return Settings.from_env({**fakes_env(**urls, database_url=self.database_url), **env})

    async def runtime(
        self, settings: Settings, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> Runtime:
        """A runtime with these settings (see `settings()`) reading the time from `now`,
        closed with the fakes."""
        runtime = await build_runtime(settings, now=now)
        self.runtimes.append(runtime)
        return runtime


@asynccontextmanager
async def running_fakes(
    *,
    database_url: str,
    companies: int = 300,
    over_limit: int | None = None,
    seed: int = 3,
    role: str = "Reseller",
) -> AsyncIterator[Fakes]:
    """The sandbox (these companies) and the fake Slack on port 0 in this loop; on the way out
    every runtime built on them is closed, then the fakes stop."""
    async with AsyncExitStack() as stack:
        sandbox = Sandbox(companies=companies, over_limit=over_limit, seed=seed, role=role)
        await sandbox.start()
        stack.push_async_callback(sandbox.stop)
        slack = FakeSlack(bot_token=BOT_TOKEN)
        await slack.start()
        stack.push_async_callback(slack.stop)
        fakes = Fakes(sandbox, slack, database_url)
        try:
            yield fakes
        finally:
            for runtime in reversed(fakes.runtimes):
                await runtime.close()


@asynccontextmanager
async def serving(runtime: Runtime) -> AsyncIterator[str]:
    """The web app (Slack's request endpoint, /healthz) on a loopback port; yields its URL."""
    runner = web.AppRunner(build_web_app(runtime), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def settled(*, timeout_s: float = 15.0) -> None:
    """Wait until the bot in this loop has no work left, which is when nothing more can start:
    every task has finished but the servers' connections, which only wait for a request.
    (Bolt runs a listener's work after the ack as tasks, and so do the handlers; `serve`
    drains the same tasks at shutdown.)"""
    me = asyncio.current_task()
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while quiet < 2:  # twice in a row: a callback on the ready queue may start a task
        busy = [t for t in asyncio.all_tasks() if t is not me and not _serving(t)]
        if busy:
            quiet = 0
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"the bot was still busy after {timeout_s:.0f}s: {busy}")
            await asyncio.wait(busy, timeout=left)
        else:
            quiet += 1
            await asyncio.sleep(0)


def _serving(task: asyncio.Task[object]) -> bool:
    """An aiohttp server's task for one connection (ours, or a fake's)."""
    return getattr(task.get_coro(), "__qualname__", "") == "RequestHandler.start"
