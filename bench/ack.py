"""Ack benchmark: 50 concurrent signed `/overage` commands against the real app.

The app (build_runtime + build_web_app on a loopback port, as the handler tests start it) runs
in a process of its own; the sandbox platform (20,000 companies, 3,000 over, 100 ms per
request) and the fake Slack run on threads here, and the commands are sent from here, all
released at once. For each command it measures the ack (the HTTP response to Slack's request)
and the time until the answer reached the fake Slack's response_url. Slack allows 3 s for the
ack; the targets are p99 ack < 300 ms and every answer < 3 s. The first burst meets a cold
process and cache (one fetch shared by all), the second a warm one. The baseline, measured
first in the same run, is a bare aiohttp app that checks the signature and answers 200 with
nothing else: the warm p99 ack is printed as a ratio of its p99.

    python bench/ack.py [--companies N] [--over N] [--latency S] [--commands N]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import build_runtime
from bot.config import Settings
from bot.sandbox import Sandbox
from bot.web import build_web_app
from tests.fakes.slack_api import FakeSlack
from tests.slack_requests import signed_headers, slash_command

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-token"
ACK_TARGET_S = 0.300
ANSWER_TARGET_S = 3.0


def _serve_app(env: Mapping[str, str] | None, port_out: Connection) -> None:
    """The child process: the real app (or, given None, the baseline) on a loopback port until
    its parent closes the pipe. It is given the environment, not Settings, which holds a
    read-only mapping that cannot be pickled across the spawn."""

    async def serve() -> None:
        runtime = None if env is None else await build_runtime(Settings.from_env(env))
        app = _floor_app() if runtime is None else build_web_app(runtime)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port_out.send(runner.addresses[0][1])
        try:
            await asyncio.get_running_loop().run_in_executor(None, _wait_for_eof, port_out)
        finally:
            await runner.cleanup()
            if runtime is not None:
                await runtime.close()

    asyncio.run(serve())


def _floor_app() -> web.Application:
    """The baseline: checks the signature and answers 200 at once, the least any Slack app
    must do before its ack."""
    verifier = SignatureVerifier(SIGNING_SECRET)

    async def events(request: web.Request) -> web.Response:
        body = await request.read()
        ok = verifier.is_valid_request(body, dict(request.headers))
        return web.Response(status=200 if ok else 401)

    app = web.Application()
    app.router.add_post("/slack/events", events)
    return app


def _wait_for_eof(pipe: Connection) -> None:
    try:
        pipe.recv()
    except EOFError:
        return


@contextmanager
def app_process(env: Mapping[str, str] | None) -> Iterator[str]:
    """The app (or, given None, the baseline) in a process of its own, so the fakes and the
    load share no interpreter with it."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=_serve_app, args=(env, theirs), name="overage-app")
    child.start()
    try:
        if not ours.poll(60):
            raise SystemExit("the app did not start within 60 s")
        yield f"http://127.0.0.1:{ours.recv()}/slack/events"
    finally:
        ours.close()
        theirs.close()
        child.join(30)
        if child.is_alive():
            child.terminate()
            child.join()


def command_body(slack: FakeSlack, *, user: str) -> tuple[str, bytes]:
    """A `/overage` as Slack sends it; returns its response_url name and the form body."""
    name = f"bench-{uuid.uuid4().hex[:10]}"
    return name, urlencode(slash_command("", slack.response_url(name), user=user)).encode()


async def send_command(
    http: aiohttp.ClientSession, url: str, body: bytes, start: asyncio.Event
) -> tuple[float, float]:
    """Send one signed command when `start` is set; returns the send time and the ack latency."""
    headers = signed_headers(body, secret=SIGNING_SECRET)
    await start.wait()
    sent_at = time.time()
    started = time.perf_counter()
    async with http.post(url, data=body, headers=headers) as response:
        text = await response.text()
    ack_s = time.perf_counter() - started
    if response.status != 200:
        raise SystemExit(f"the app answered {response.status}: {text[:200]}")
    return sent_at, ack_s


async def burst(
    url: str, slack: FakeSlack, *, count: int, answers: bool = True
) -> tuple[list[float], list[float]]:
    """`count` concurrent commands; the ack latencies and the times until each answer
    (none when `answers` is False: the baseline answers nothing)."""
    commands = [command_body(slack, user=f"U{i:04d}") for i in range(count)]
    start = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        sending = [
            asyncio.ensure_future(send_command(http, url, body, start)) for _, body in commands
        ]
        await asyncio.sleep(0.05)  # every sender is waiting at the line
        start.set()
        sent = await asyncio.gather(*sending)
    if not answers:
        return [ack for _, ack in sent], []
    names = {name: sent_at for (name, _), (sent_at, _) in zip(commands, sent, strict=True)}
    deadline = time.monotonic() + 30
    while True:
        answered = {r.name: r.at for r in slack.responses if r.name in names}
        if len(answered) == len(names) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.01)
    if len(answered) < len(names):
        raise SystemExit(f"only {len(answered)} of {len(names)} answers arrived within 30 s")
    return [ack for _, ack in sent], [answered[n] - names[n] for n in names]


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def report(title: str, acks: list[float], answers: list[float]) -> bool:
    ack_p50, ack_p99 = percentile(acks, 0.50), percentile(acks, 0.99)
    answer_p50, answer_max = percentile(answers, 0.50), max(answers)
    print(f"{title}:")
    print(f"  ack             p50 {ack_p50 * 1000:7.1f} ms   p99 {ack_p99 * 1000:7.1f} ms")
    print(f"  time to answer  p50 {answer_p50 * 1000:7.1f} ms   max {answer_max * 1000:7.1f} ms")
    ack_ok, answer_ok = ack_p99 < ACK_TARGET_S, answer_max < ANSWER_TARGET_S
    print(f"  {'PASS' if ack_ok else 'FAIL'}  p99 ack < {ACK_TARGET_S * 1000:.0f} ms")
    print(f"  {'PASS' if answer_ok else 'FAIL'}  every answer < {ANSWER_TARGET_S:.0f} s")
    return ack_ok and answer_ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--companies", type=int, default=20_000)
    parser.add_argument("--over", type=int, default=3_000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--commands", type=int, default=50)
    args = parser.parse_args()
    sandbox = Sandbox(companies=args.companies, over_limit=args.over, seed=11)
    slack = FakeSlack(bot_token=BOT_TOKEN)
    with (
        tempfile.TemporaryDirectory() as folder,
        sandbox.run_in_thread() as keepnet_url,
        slack.run_in_thread() as slack_url,
    ):
        sandbox.switches.latency_s = args.latency
        env = {
                "KEEPNET_BASE_URL": keepnet_url, "KEEPNET_CLIENT_ID": sandbox.client_id,
                "KEEPNET_CLIENT_SECRET": sandbox.client_secret, "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": slack_url,
                "DATABASE_URL": f"sqlite:///{Path(folder) / 'bench.db'}", "LOG_LEVEL": "WARNING",
        }  # fmt: skip
        with app_process(None) as url:
            floor = [asyncio.run(burst(url, slack, count=args.commands, answers=False))[0]
                     for _ in range(2)]  # fmt: skip
            floor_p99 = percentile(floor[1], 0.99)
        with app_process(env) as url:
            print(
                f"{args.commands} concurrent /overage; sandbox {args.companies:,} companies, "
                f"{args.over:,} over, {args.latency * 1000:.0f} ms per request"
            )
            print(
                f"baseline (signature check and 200, nothing else): ack p50 "
                f"{percentile(floor[1], 0.5) * 1000:.1f} ms, p99 {floor_p99 * 1000:.1f} ms"
            )
            cold = report("cold cache", *asyncio.run(burst(url, slack, count=args.commands)))
            warm_acks, warm_answers = asyncio.run(burst(url, slack, count=args.commands))
            warm = report("warm cache", warm_acks, warm_answers)
            print(
                f"warm p99 ack / baseline p99 ack: {percentile(warm_acks, 0.99) / floor_p99:.1f}×"
            )
            print(f"platform requests: {sandbox.token_requests} token, "
                  f"{sandbox.search_requests} search; Slack auth.test calls: "
                  f"{len(slack.calls_to('auth.test'))}")  # fmt: skip
    ok = cold and warm
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
