"""Fetch benchmark: the client against the sandbox at 100 ms per request, next to its bounds.

Two cases, each measured in the same run as its bound:

- the default: 3,000 of 20,000 companies over, page size 100, concurrency 4; and next to it a
  sequential loop of page size 10 (what the platform's own table does);
- a server that caps the page size at 50 while the bot asks for 100: 15,000 of 100,000
  companies over. Every company must be read once.

The network lower bound is `latency × (token + first page + ceil((pages − 1) / concurrency))`,
with `pages = ceil(over / page size the server serves)`: no client can learn how many pages
there are before the first page answers, nor read the rest faster than `concurrency` at a time.

The client reads page 1 once more at the end of a pass (to see records that moved); it rides in
the last wave's free slot, so it costs a round trip only when (pages − 1) is a multiple of the
concurrency, which neither case is (29 and 299 at concurrency 4).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Settings
from bot.keepnet import KeepnetClient
from bot.sandbox import Sandbox, is_flagged


@dataclass(frozen=True)
class Case:
    name: str
    companies: int
    over: int
    page_size: int  # what the bot asks for
    cap: int | None  # what the server serves at most
    sequential: bool  # also time the size-10 loop


async def client_run(url: str, *, page_size: int, concurrency: int) -> tuple[float, set[str]]:
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
        elapsed = time.perf_counter() - started
    refs = [c.ref for c in fetch.companies]
    if len(refs) != len(set(refs)):
        raise SystemExit("the client returned a company twice")
    return elapsed, set(refs)


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
        for number in range(2, math.ceil(page.total_records / page.size) + 1):
            seen.update(c.ref for c in (await client.search_page(number)).rows)
        return time.perf_counter() - started, len(seen)


def run_case(case: Case, *, latency: float, concurrency: int, runs: int) -> bool:
    sandbox = Sandbox(companies=case.companies, over_limit=case.over, seed=11)
    sandbox.switches.page_size_cap = case.cap
    flagged = {str(c["companyResourceId"]) for c in sandbox.companies if is_flagged(c)}
    with sandbox.run_in_thread() as url:
        asyncio.run(client_run(url, page_size=case.page_size, concurrency=concurrency))  # warm
        sandbox.switches.latency_s = latency
        times, requests = [], []
        for _ in range(runs):
            before = sandbox.search_requests
            elapsed, read = asyncio.run(
                client_run(url, page_size=case.page_size, concurrency=concurrency)
            )
            times.append(elapsed)
            requests.append(sandbox.search_requests - before)
            if read != flagged:
                raise SystemExit(f"{case.name}: read {len(read):,} of {len(flagged):,} companies")
        sequential = asyncio.run(sequential_run(url, page_size=10)) if case.sequential else None
    served = min(case.page_size, case.cap or case.page_size)
    pages = math.ceil(case.over / served)
    bound = latency * (1 + 1 + math.ceil((pages - 1) / concurrency))
    best, median = min(times), sorted(times)[len(times) // 2]
    print(f"== {case.name}")
    print(
        f"over-limit companies: {len(flagged):,} of {case.companies:,}, each read once; asked "
        f"for pages of {case.page_size}, served {served}: {pages} pages; concurrency "
        f"{concurrency}; latency {latency * 1000:.0f} ms"
    )
    print(f"search requests:      {sorted(set(requests))} per run (pages + page 1 again)")
    print(f"client wall time:     best {best:.3f} s, median {median:.3f} s ({runs} runs)")
    print(f"network lower bound:  {bound:.3f} s")
    print(f"ratio to bound:       {median / bound:.2f}x (target <= 1.30x)")
    if sequential is not None:
        seconds, count = sequential
        print(
            f"sequential, size 10:  {seconds:.3f} s for {count:,} companies "
            f"({seconds / median:.1f}x slower than the client)"
        )
    return median / bound <= 1.3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cases = [
        Case("default", 20_000, 3_000, page_size=100, cap=None, sequential=True),
        Case("server caps pages at 50", 100_000, 15_000, page_size=100, cap=50, sequential=False),
    ]
    passed = [
        run_case(case, latency=args.latency, concurrency=args.concurrency, runs=args.runs)
        for case in cases
    ]
    print("PASS" if all(passed) else "FAIL")


if __name__ == "__main__":
    main()
