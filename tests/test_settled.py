"""settled(), the wait the "nothing happened" checks rely on: it returns only once no work is
left in the loop, however late that work starts, and leaves idle servers alone."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from aiohttp import web

from tests.runtime import settled


async def test_settled_waits_for_work_that_a_task_starts_later() -> None:
    done: list[str] = []

    async def second() -> None:
        await asyncio.sleep(0.05)
        done.append("second")

    async def first() -> None:
        await asyncio.sleep(0.5)  # past the 0.3 s the checks used to wait
        done.append("first")
        asyncio.get_running_loop().call_soon(asyncio.ensure_future, second())

    task = asyncio.ensure_future(first())
    await settled()
    assert task.done() and done == ["first", "second"]


async def test_settled_returns_while_a_server_keeps_an_idle_connection_open() -> None:
    async def hello(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        async with httpx.AsyncClient() as http:  # keeps its connection alive after the reply
            assert (await http.get(f"http://127.0.0.1:{runner.addresses[0][1]}/")).text == "ok"
            await settled(timeout_s=5)
    finally:
        await runner.cleanup()


async def test_settled_fails_when_work_never_ends() -> None:
    never = asyncio.ensure_future(asyncio.Event().wait())
    try:
        with pytest.raises(AssertionError, match="still busy"):
            await settled(timeout_s=0.2)
    finally:
        never.cancel()
