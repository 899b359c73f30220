"""200 signed commands from 20 clients against one `serve` process and a slow platform."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.slack_requests import signed_headers
from tests.system.conftest import (
    TALLY,
    Processes,
    SlackSide,
    running_sandbox,
    running_slack,
    serve_env,
    wait_for,
)

pytestmark = pytest.mark.slow

CLIENTS = 20
COMMANDS = 200
CONCURRENCY = 4
ACK_LIMIT_S = 3.0  # Slack's deadline for the ack
TEXTS = ("", "top 5", "find acme", "summary", "top 25")


def test_commands_under_load_are_acked_in_time_and_all_answered(
    processes: Processes, tmp_path: Path
) -> None:
    with running_sandbox(companies=2000) as sandbox, running_slack() as slack:
        sandbox.switches.update({"latency_s": 0.1})
        env = serve_env(
            slack=slack,
            keepnet_url=sandbox.url,
            database_url=f"sqlite:///{tmp_path / 'load.db'}",
            KEEPNET_CONCURRENCY=str(CONCURRENCY),
            KEEPNET_PAGE_SIZE="50",
            CACHE_SECONDS="0",
            LOG_LEVEL="WARNING",
        )
        serve = processes.make("load", env).start()
        side = SlackSide(serve, slack)
        try:
            bodies = [side.command_body(TEXTS[i % len(TEXTS)]) for i in range(COMMANDS + 20)]
            warm, loaded = bodies[:20], bodies[20:]
            asyncio.run(run_clients(serve.url, warm, clients=4))
            wait_answered(side, [n for n, _ in warm])
            rss_warm = serve.rss_kb()
            acks = asyncio.run(run_clients(serve.url, loaded, clients=CLIENTS))
            answered_in = wait_answered(side, [n for n, _ in loaded])
            time.sleep(2)
            rss_after = serve.rss_kb()
            stats = sandbox.stats()
            health = serve.health().status_code
        finally:
            side.close()
        statuses = [status for status, _ in acks]
        latencies = [seconds for _, seconds in acks]
        TALLY.load_commands += len(acks)
        TALLY.ack_latencies_s.extend(latencies)
        TALLY.used = True
        print(
            f"\nload: {len(acks)} commands, slowest ack {max(latencies):.3f}s, all answered in "
            f"{answered_in:.1f}s; platform max_in_flight {stats['max_in_flight']}, "
            f"{stats['search_requests']} searches; RSS {rss_warm / 1024:.1f} MB after warm-up, "
            f"{rss_after / 1024:.1f} MB after the load"
        )
        assert statuses == [200] * COMMANDS
        assert max(latencies) < ACK_LIMIT_S, sorted(latencies)[-5:]
        assert stats["max_in_flight"] <= CONCURRENCY
        # back near its start: 200 commands leave no more than 40 MB behind (measured: ~14 MB)
        assert rss_after - rss_warm < 40 * 1024, (rss_warm, rss_after)
        assert health == 200
        assert slack.posts == []
        assert serve.terminate() == 0


async def run_clients(
    url: str, bodies: list[tuple[str, bytes]], *, clients: int
) -> list[tuple[int, float]]:
    """`clients` workers share the queue of bodies; each request's status and ack time."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for _, body in bodies:
        queue.put_nowait(body)
    results: list[tuple[int, float]] = []

    async def client() -> None:
        while not queue.empty():
            body = queue.get_nowait()
            started = time.monotonic()
            response = await http.post(
                url + "/slack/events", content=body, headers=signed_headers(body)
            )
            results.append((response.status_code, time.monotonic() - started))

    async with httpx.AsyncClient(timeout=30) as http:
        await asyncio.wait_for(asyncio.gather(*(client() for _ in range(clients))), 120)
    return results


def wait_answered(side: SlackSide, names: list[str]) -> float:
    started = time.monotonic()
    wanted = set(names)
    wait_for(
        lambda: wanted <= {r.name for r in side.slack.responses},
        timeout_s=120,
        what=f"answers to {len(names)} commands",
        every_s=0.2,
    )
    return time.monotonic() - started
