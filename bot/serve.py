"""`python -m bot serve`: the web server, Socket Mode and the scheduler, until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from bot.app import build_runtime
from bot.config import Settings
from bot.publish import SocketMode
from bot.web import build_web_app

log = logging.getLogger(__name__)

# one budget for the whole shutdown, within the 30 s most hosts allow between SIGTERM and SIGKILL
SHUTDOWN_BUDGET_S = 20.0
HTTP_SHUTDOWN_S = 3.0  # requests only ack; the work after the ack is drained with the rest


async def run(settings: Settings) -> None:
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
        if settings.socket_mode and runtime.bolt is not None:
            runtime.socket_mode = await SocketMode.connect(
                runtime.bolt, runtime.slack, settings.slack_app_token
            )
        runtime.scheduler.start()
        log.info("serving on port %d (%s)", settings.port, _mode(settings))
        await stop.wait()
        log.info("shutting down: finishing in-flight work")
    finally:
        deadline = loop.time() + SHUTDOWN_BUDGET_S
        # no new tick; the one in flight finishes while the requests drain beside it
        scheduler = asyncio.create_task(runtime.scheduler.stop_gracefully(SHUTDOWN_BUDGET_S))
        if runtime.socket_mode is not None:  # take no new events; its tasks would hold the drain
            await runtime.socket_mode.close()
            runtime.socket_mode = None
        await runner.cleanup()  # stops accepting, lets in-flight requests finish
        await _drain(max(0.0, deadline - loop.time()))
        await scheduler
        await runtime.close()
        log.info("stopped")


async def _drain(budget_s: float) -> None:
    """Wait, for at most budget_s, for listener work that continues after its ack (Bolt runs
    it as tasks) and for the scheduler's stop."""
    current = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    if pending:
        await asyncio.wait(pending, timeout=budget_s)


def _mode(settings: Settings) -> str:
    return "Socket Mode" if settings.socket_mode else "HTTP, POST /slack/events"
