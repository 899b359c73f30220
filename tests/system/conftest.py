"""System tier: `python -m bot serve` as a real process against the sandbox and the fake Slack.

Every process a test starts is stopped at the end of that test (SIGTERM, then SIGKILL).
The counters in TALLY (tests/system/tally.py) are printed at the end of the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from bot import grammar
from bot.sandbox import Sandbox
from tests.fakes.slack_api import FakeSlack
from tests.runtime import BOT_TOKEN, KEEPNET_SECRET, fakes_env
from tests.slack_requests import SIGNING_SECRET, signed_headers, slash_command
from tests.system.tally import TALLY

REPO = Path(__file__).resolve().parents[2]
SECRETS = (BOT_TOKEN, SIGNING_SECRET, KEEPNET_SECRET)
START_TIMEOUT_S = 60.0  # several processes may start at once on a busy machine
STOP_TIMEOUT_S = 35.0  # the app drains for up to 25 s


# --- small helpers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], Any], *, timeout_s: float, what: str, every_s: float = 0.1) -> Any:
    """Poll check() until it returns something truthy; bounded in time."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(every_s)


def digest_keys(slack: FakeSlack, channel: str = "C0GENERAL") -> list[str]:
    """The slot key of every digest Slack accepted in `channel`, in order."""
    keys = []
    for call in slack.posts:
        metadata = call.params.get("metadata") or {}
        key = (metadata.get("event_payload") or {}).get("key")
        if call.params.get("channel") == channel and key:
            keys.append(str(key))
    return keys


def everything_sent(slack: FakeSlack) -> str:
    """Every Web API call and response_url body the fake received, as one JSON text."""
    calls = [{"method": c.method, "params": c.params} for c in slack.calls]
    responses = [r.body for r in slack.responses]
    return json.dumps({"calls": calls, "responses": responses}, ensure_ascii=False)


@contextlib.contextmanager
def running_sandbox(**kwargs: Any) -> Iterator[Sandbox]:
    kwargs.setdefault("seed", 3)
    sandbox = Sandbox(**kwargs)
    with sandbox.run_in_thread():
        yield sandbox


@contextlib.contextmanager
def running_slack() -> Iterator[FakeSlack]:
    slack = FakeSlack(bot_token=BOT_TOKEN)
    with slack.run_in_thread():
        yield slack


# --- one `python -m bot serve` process ----------------------------------------------------------


class Serve:
    """A `python -m bot serve` subprocess with its own port and log file."""

    def __init__(self, env: dict[str, str], workdir: Path, name: str) -> None:
        self.env = env
        self.workdir = workdir
        self.name = name
        self.port = int(env["PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"{name}.log"
        self.starts = 0

    def start(self, *, wait: bool = True) -> Serve:
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError(f"{self.name} is already running")
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts} ---\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve"],
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait_healthy()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def health(self) -> httpx.Response:
        return httpx.get(self.url + "/healthz", timeout=5)

    def wait_healthy(self, timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"{self.name} exited at start:\n{self.log()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if self.health().status_code == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not healthy in {timeout_s}s:\n{self.log()[-3000:]}")

    def terminate(self, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, then SIGKILL after timeout_s; the exit code of the SIGTERM, or None."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def rss_kb(self) -> int:
        status = Path(f"/proc/{self.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmRSS:"))
        return int(line.split()[1])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def serve_env(
    *,
    slack: FakeSlack | None = None,
    slack_url: str | None = None,
    keepnet_url: str,
    database_url: str,
    **extra: str,
) -> dict[str, str]:
    slack_url = slack_url or (slack.base_url if slack else "http://127.0.0.1:9/api/")
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "LANG": "C.UTF-8",
        "PORT": str(free_port()),
        "LOG_LEVEL": "INFO",
        **fakes_env(keepnet_url=keepnet_url, slack_url=slack_url, database_url=database_url),
        **extra,
    }


class Processes:
    """Every Serve started through it is stopped by close(), whatever happened."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[Serve] = []
        self._lock = threading.Lock()

    def make(self, name: str, env: dict[str, str]) -> Serve:
        workdir = self.root / f"{name}-{uuid.uuid4().hex[:6]}"
        workdir.mkdir(parents=True)
        serve = Serve(env, workdir, name)
        with self._lock:
            self.started.append(serve)
        return serve

    def close(self) -> None:
        for serve in self.started:
            serve.terminate(timeout_s=15)
        for serve in self.started:
            serve.kill()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    try:
        yield procs
    finally:
        procs.close()


# --- playing Slack's side over HTTP -------------------------------------------------------------


@dataclass
class Sent:
    name: str
    status: int
    ack_s: float
    body: str


ANSWER_GRACE_S = 10.0  # how long close() waits for answers still on their way


def answers_in_place(text: str) -> bool:
    """Whether `/overage TEXT` answers the person at its response_url in every case: all but
    export and digest, whose result lands in the channel (they answer only when they fail)."""
    return not isinstance(grammar.parse_overage_text(text), grammar.Export | grammar.Digest)


class SlackSide:
    """Sends signed slash commands to one serve process; answers arrive at the fake Slack.

    Every command Slack would have delivered (acked 200) that answers at its response_url is
    remembered; close() counts how many got an answer into TALLY (the rest are lost)."""

    def __init__(self, serve: Serve, slack: FakeSlack) -> None:
        self.serve = serve
        self.slack = slack
        self.http = httpx.Client(timeout=30)
        self.expecting: list[str] = []

    def expect_answer(self, name: str) -> None:
        """Count the command `name` (acked 200) among those that must be answered."""
        self.expecting.append(name)

    def unanswered(self) -> list[str]:
        answered = {r.name for r in self.slack.responses}
        return [name for name in self.expecting if name not in answered]

    def close(self) -> None:
        self.http.close()
        with contextlib.suppress(AssertionError):
            wait_for(lambda: not self.unanswered(), timeout_s=ANSWER_GRACE_S, what="answers")
        lost = len(self.unanswered())
        TALLY.commands(sent=len(self.expecting), answered=len(self.expecting) - lost)
        self.expecting = []

    def command_body(
        self, text: str, *, channel: str = "C0GENERAL", user: str = "U1"
    ) -> tuple[str, bytes]:
        name = f"cmd-{uuid.uuid4().hex[:10]}"
        form = slash_command(text, self.slack.response_url(name), user=user, channel=channel)
        return name, urlencode(form).encode()

    def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.http.post(self.serve.url + "/slack/events", content=body, headers=headers)

    def command(self, text: str, *, channel: str = "C0GENERAL", user: str = "U1") -> Sent:
        name, body = self.command_body(text, channel=channel, user=user)
        started = time.monotonic()
        response = self.post(body, signed_headers(body))
        if response.status_code == 200 and answers_in_place(text):
            self.expect_answer(name)
        return Sent(name, response.status_code, time.monotonic() - started, response.text)

    def answers(self, name: str) -> list[dict[str, Any]]:
        return [r.body for r in self.slack.responses if r.name == name]

    def answer(self, name: str, *, timeout_s: float = 30) -> dict[str, Any]:
        found = wait_for(
            lambda: self.answers(name), timeout_s=timeout_s, what=f"the answer to {name}"
        )
        return found[0]


def serve_once(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m bot serve` expected to stop by itself at start; its output, bounded in time."""
    return subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def plain_sentence(text: str) -> bool:
    """An answer a person can read: no traceback, no secret, short, one line."""
    return (
        "Traceback" not in text
        and not any(secret in text for secret in SECRETS)
        and "\n" not in text.strip()
        and 0 < len(text) <= 400
    )
