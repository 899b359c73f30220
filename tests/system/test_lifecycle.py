"""Start-up and shutdown of `python -m bot serve` as a process."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.system.conftest import (
    TALLY,
    Processes,
    SlackSide,
    running_sandbox,
    running_slack,
    serve_env,
    serve_once,
    wait_for,
)

pytestmark = pytest.mark.slow

DRAIN_LIMIT_S = 30.0  # the app drains for up to 25 s
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")


def test_sigterm_lets_a_slow_command_finish_and_exits_0(
    processes: Processes, tmp_path: Path
) -> None:
    with running_sandbox(companies=300) as sandbox, running_slack() as slack:
        sandbox.switches.update({"latency_s": 1.0})
        env = serve_env(
            slack=slack,
            keepnet_url=sandbox.url,
            database_url=f"sqlite:///{tmp_path / 'drain.db'}",
            CACHE_SECONDS="0",
        )
        serve = processes.make("drain", env).start()
        side = SlackSide(serve, slack)
        try:
            sent = side.command("")
            assert sent.status == 200
            wait_for(lambda: sandbox.token_requests >= 1, timeout_s=10, what="the fetch")
            started = time.monotonic()
            code = serve.terminate(timeout_s=DRAIN_LIMIT_S + 5)
            stopped_in = time.monotonic() - started
            answers = side.answers(sent.name)
        finally:
            side.close()
        TALLY.fault(survived=code == 0 and bool(answers))
        print(f"\nSIGTERM with a command in flight: exit {code} after {stopped_in:.1f}s")
        assert code == 0, serve.log()[-2000:]
        assert stopped_in < DRAIN_LIMIT_S
        assert answers, "the in-flight command was never answered"
        assert answers[0]["text"].startswith("License overage:"), answers[0]


def test_unreachable_database_stops_start_up_with_one_line(tmp_path: Path) -> None:
    with running_sandbox(companies=50) as sandbox:
        env = serve_env(
            keepnet_url=sandbox.url,
            database_url="postgresql+psycopg://postgres@127.0.0.1:1/x",
            DIGEST_CHANNEL="C0GENERAL",
        )
        started = time.monotonic()
        done = serve_once(env, tmp_path)
        took = time.monotonic() - started
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    message = [line for line in lines if not LOG_LINE.match(line)]
    TALLY.fault(survived=done.returncode != 0 and len(message) == 1)
    print(f"\nunreachable database: exit {done.returncode} in {took:.1f}s: {message}")
    assert done.returncode != 0
    assert took < 20
    assert "Traceback" not in done.stderr
    assert len(message) == 1, done.stderr
    assert "127.0.0.1:1" in message[0] and "PostgreSQL" in message[0], message[0]
    assert len(lines) == 1, f"more than the one line on stderr: {lines}"
