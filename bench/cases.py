"""Cases benchmark: with 5,000 open cases, `/overage cases` answers within 1 s at p99, and form
submissions 20 at once are each acknowledged within 300 ms at p99.

The app (build_runtime + build_web_app, as the handler tests start it) runs in a process of
its own; the sandbox platform (5,000 companies over their limit) and the fake Slack run on threads
here. A first `/overage` fetches the list, which opens the 5,000 cases. Then `/overage cases`
is sent again and again, one after another, each timed from its send to its answer at the
response_url. Then, in each round, *Add note…* is picked on 20 listed cases (the fake Slack
records each form views.open opens), and the 20 forms are submitted at once, each timed to its
ack: the change is made before the ack, the list it came from is replaced after.

    python bench/cases.py [--over N] [--listings N] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web

from bot.app import build_runtime
from bot.config import Settings
from bot.render_slack import CASE_BLOCK, CASE_FORM, FIELD_NOTE, FORM_VALUE
from bot.sandbox import Sandbox
from bot.web import build_web_app
from tests.fakes.slack_api import FakeSlack
from tests.slack_requests import signed_headers, slash_command

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-token"
LISTING_TARGET_S = 1.0
SUBMIT_TARGET_S = 0.300
AT_ONCE = 20


def _serve_app(env: dict[str, str], port_out: Connection) -> None:
    """The child process: the real app on a loopback port until its parent closes the pipe.
    It reads its settings from `env` itself (Settings holds a read-only mapping, which does
    not cross into another process)."""

    async def serve() -> None:
        runtime = await build_runtime(Settings.from_env(env))
        runner = web.AppRunner(build_web_app(runtime), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port_out.send(runner.addresses[0][1])
        try:
            await asyncio.get_running_loop().run_in_executor(None, _wait_for_eof, port_out)
        finally:
            await runner.cleanup()
            await runtime.close()

    asyncio.run(serve())


def _wait_for_eof(pipe: Connection) -> None:
    try:
        pipe.recv()
    except EOFError:
        return


@contextmanager
def app_process(env: dict[str, str]) -> Iterator[str]:
    """The app in a process of its own, so the fakes and the load share no interpreter with it."""
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


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


async def post(http: aiohttp.ClientSession, url: str, body: bytes) -> float:
    """Send one signed request; the seconds until the app's HTTP answer (the ack)."""
    started = time.perf_counter()
    async with http.post(url, data=body, headers=signed_headers(body, secret=SIGNING_SECRET)) as r:
        text = await r.text()
    if r.status != 200:
        raise SystemExit(f"the app answered {r.status}: {text[:200]}")
    return time.perf_counter() - started


def interaction(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


async def answer_of(slack: FakeSlack, name: str, *, after: int = 0) -> dict[str, Any]:
    """The answer posted to the response_url `name`, once it has come (60 s at most)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        posted = [r for r in slack.responses if r.name == name]
        if len(posted) > after:
            body: dict[str, Any] = posted[-1].body
            return body
        await asyncio.sleep(0.005)
    raise SystemExit(f"no answer at {name} within 60 s")


async def command(
    http: aiohttp.ClientSession, url: str, slack: FakeSlack, text: str
) -> tuple[float, dict[str, Any]]:
    """`/overage TEXT`: the seconds from its send to its answer, and the answer."""
    name = f"bench-{uuid.uuid4().hex[:10]}"
    body = urlencode(slash_command(text, slack.response_url(name))).encode()
    started = time.perf_counter()
    await post(http, url, body)
    answer = await answer_of(slack, name)
    return time.perf_counter() - started, answer


def note_clicks(slack: FakeSlack, listing: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """*Add note…* picked on the first `count` cases of a listing, each its own click."""
    rows = [b for b in listing["blocks"] if str(b.get("block_id", "")).startswith(CASE_BLOCK)]
    clicks = []
    for row in rows[:count]:
        menu = row["accessory"]
        option = next(o for o in menu["options"] if o["value"] == "note")
        clicks.append({
            "type": "block_actions", "user": {"id": "U0BENCH"}, "team": {"id": "T0001"},
            "api_app_id": "A0001", "trigger_id": f"trigger-{uuid.uuid4().hex}",
            "container": {"type": "message", "message_ts": "1.2", "channel_id": "C0GENERAL",
                          "is_ephemeral": True},
            "channel": {"id": "C0GENERAL"},
            "response_url": slack.response_url(f"bench-{uuid.uuid4().hex[:10]}"),
            "actions": [{"action_id": menu["action_id"], "block_id": row["block_id"],
                         "type": "static_select", "selected_option": option, "action_ts": "1"}],
        })  # fmt: skip
    if len(clicks) < count:
        raise SystemExit(f"the listing shows {len(clicks)} cases, fewer than {count}")
    return clicks


async def open_forms(
    http: aiohttp.ClientSession, url: str, slack: FakeSlack, clicks: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Click each; the forms views.open opened, in the order of the clicks."""
    await asyncio.gather(*(post(http, url, interaction(c)) for c in clicks))
    wanted = {c["trigger_id"] for c in clicks}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        opened = {c.params["trigger_id"]: c for c in slack.opened_views}
        if wanted <= set(opened):
            return [
                {**opened[c["trigger_id"]].params["view"],
                 "id": opened[c["trigger_id"]].response["view"]["id"]}
                for c in clicks
            ]  # fmt: skip
        await asyncio.sleep(0.01)
    raise SystemExit("the forms were not all opened within 60 s")


def submission(view: dict[str, Any], note: str) -> bytes:
    values = {FIELD_NOTE: {FORM_VALUE: {"type": "plain_text_input", "value": note}}}
    return interaction({
        "type": "view_submission", "team": {"id": "T0001"}, "user": {"id": "U0BENCH"},
        "api_app_id": "A0001", "trigger_id": f"trigger-{uuid.uuid4().hex}",
        "view": {"id": view["id"], "type": "modal", "callback_id": CASE_FORM, "hash": "1.a",
                 "private_metadata": view["private_metadata"], "state": {"values": values}},
    })  # fmt: skip


async def submit_at_once(
    http: aiohttp.ClientSession, url: str, views: list[dict[str, Any]]
) -> list[float]:
    bodies = [submission(view, f"bench note {n}") for n, view in enumerate(views)]
    start = asyncio.Event()

    async def one(body: bytes) -> float:
        await start.wait()
        return await post(http, url, body)

    sending = [asyncio.ensure_future(one(body)) for body in bodies]
    await asyncio.sleep(0.05)  # every sender is waiting at the line
    start.set()
    return list(await asyncio.gather(*sending))


async def run(url: str, slack: FakeSlack, *, listings: int, rounds: int) -> bool:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        opened_s, _ = await command(http, url, slack, "")
        print(f"first /overage (fetch, cases opened): {opened_s:.1f} s")
        listed: list[float] = []
        listing: dict[str, Any] = {}
        for _ in range(listings):
            seconds, listing = await command(http, url, slack, "cases")
            listed.append(seconds)
        header = listing["blocks"][0]["text"]["text"]
        acks: list[float] = []
        for _ in range(rounds):
            views = await open_forms(http, url, slack, note_clicks(slack, listing, AT_ONCE))
            acks += await submit_at_once(http, url, views)
            await asyncio.sleep(1)  # the lists being replaced after the changes settle
    return verdict(header, listed, acks)


def verdict(header: str, listed: list[float], acks: list[float]) -> bool:
    print(f"`/overage cases` ({header}), {len(listed)} one after another:")
    print(f"  time to answer  {_spread(listed)}")
    print(f"form submissions, {AT_ONCE} at once, {len(acks)} in all:")
    print(f"  ack             {_spread(acks)}")
    listing_ok = percentile(listed, 0.99) < LISTING_TARGET_S
    submit_ok = percentile(acks, 0.99) < SUBMIT_TARGET_S
    print(f"  {'PASS' if listing_ok else 'FAIL'}  p99 listing < {LISTING_TARGET_S * 1000:.0f} ms")
    print(
        f"  {'PASS' if submit_ok else 'FAIL'}  p99 submission ack < {SUBMIT_TARGET_S * 1000:.0f} ms"
    )
    return listing_ok and submit_ok


def _spread(seconds: list[float]) -> str:
    p50, p99, most = percentile(seconds, 0.5), percentile(seconds, 0.99), max(seconds)
    return f"p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms   max {most * 1000:7.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--over", type=int, default=5_000)
    parser.add_argument("--listings", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sandbox = Sandbox(companies=args.over + 1_000, over_limit=args.over, seed=13)
    slack = FakeSlack(bot_token=BOT_TOKEN)
    with (
        tempfile.TemporaryDirectory() as folder,
        sandbox.run_in_thread() as keepnet_url,
        slack.run_in_thread() as slack_url,
    ):
        env = {
            "KEEPNET_BASE_URL": keepnet_url, "KEEPNET_CLIENT_ID": sandbox.client_id,
            "KEEPNET_CLIENT_SECRET": sandbox.client_secret, "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": slack_url,
            "DATABASE_URL": f"sqlite:///{Path(folder) / 'bench.db'}", "LOG_LEVEL": "WARNING",
            "SEAT_PRICE": "4.50",
        }  # fmt: skip
        Settings.from_env(env)  # a bad setting stops here, not in the child
        print(f"sandbox: {args.over + 1_000:,} companies, {args.over:,} over their limit")
        with app_process(env) as url:
            ok = asyncio.run(run(url, slack, listings=args.listings, rounds=args.rounds))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
