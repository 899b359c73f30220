"""Fetch benchmark: the client against the sandbox at 100 ms per request, next to its bounds.

Prints the client's wall time, the network lower bound
`latency × (token + first page + ceil((pages − 1) / concurrency))`, and a sequential loop of
page size 10 (what the platform's own table does), all measured in the same run.

The client reads page 1 once more at the end of a pass (to see records that moved); it rides in
the last wave's free slot, so it costs a round trip only when (pages − 1) is a multiple of the
concurrency, which the default 30 pages at concurrency 4 are not.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Settings
from bot.keepnet import KeepnetClient
from bot.sandbox import Sandbox


async def client_run(url: str, *, page_size: int, concurrency: int) -> tuple[float, int]:
    settings = Settings(
        keepnet_client_id="sandbox-client",
        keepnet_client_secret="sandbox-secret",
        keepnet_base_url=url,
        keepnet_page_size=page_size,
        keepnet_concurrency=concurrency,
    )
    async with httpx.AsyncClient(timeout=30) as http:
        client = KeepnetClient(settings, http)
        started = time.perf_counter()
        fetch = await client.fetch_over_limit()
        return time.perf_counter() - started, len(fetch.companies)


async def sequential_run(url: str, *, page_size: int) -> tuple[float, int]:
    """One page after the other, like a table UI paging through the list."""
    settings = Settings(
        keepnet_client_id="sandbox-client",
        keepnet_client_secret="sandbox-secret",
        keepnet_base_url=url,
        keepnet_page_size=page_size,
        keepnet_concurrency=1,
    )
    async with httpx.AsyncClient(timeout=30) as http:
        client = KeepnetClient(settings, http)
        started = time.perf_counter()
        seen: set[str] = set()
        page = await client.search_page(1)
        seen.update(c.ref for c in page.rows)
        for number in range(2, math.ceil(page.total_records / page_size) + 1):
            seen.update(c.ref for c in (await client.search_page(number)).rows)
        return time.perf_counter() - started, len(seen)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--companies", type=int, default=20_000)
    parser.add_argument("--over", type=int, default=3_000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sandbox = Sandbox(companies=args.companies, over_limit=args.over, seed=11)
    with sandbox.run_in_thread() as url:
        asyncio.run(client_run(url, page_size=args.page_size, concurrency=args.concurrency))
        sandbox.switches.latency_s = args.latency
        times = []
        for _ in range(args.runs):
            elapsed, count = asyncio.run(
                client_run(url, page_size=args.page_size, concurrency=args.concurrency)
            )
            times.append(elapsed)
        sequential, seq_count = asyncio.run(sequential_run(url, page_size=10))
    pages = math.ceil(args.over / args.page_size)
    bound = args.latency * (1 + 1 + math.ceil((pages - 1) / args.concurrency))
    best, median = min(times), sorted(times)[len(times) // 2]
    print(
        f"over-limit companies: {count:,} of {args.companies:,}; {pages} pages of "
        f"{args.page_size}; concurrency {args.concurrency}; latency {args.latency * 1000:.0f} ms"
    )
    print(f"client wall time:     best {best:.3f} s, median {median:.3f} s ({args.runs} runs)")
    print(f"network lower bound:  {bound:.3f} s")
    print(f"ratio to bound:       {median / bound:.2f}x (target <= 1.30x)")
    print(
        f"sequential, size 10:  {sequential:.3f} s for {seq_count:,} companies "
        f"({sequential / median:.1f}x slower than the client)"
    )
    print("PASS" if median / bound <= 1.3 and count == args.over else "FAIL")


if __name__ == "__main__":
    main()
