"""`python -m bot serve` in Socket Mode: the fake Slack opens a WebSocket and pushes commands."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.slack_requests import signed_headers, slash_command
from tests.system.conftest import (
    TALLY,
    Processes,
    running_sandbox,
    running_slack,
    serve_env,
    serve_once,
    wait_for,
)

pytestmark = pytest.mark.slow


def test_socket_mode_acks_and_answers_over_the_websocket(
    processes: Processes, tmp_path: Path
) -> None:
    with running_sandbox(companies=300) as sandbox, running_slack() as slack:
        env = serve_env(
            slack=slack,
            keepnet_url=sandbox.url,
            database_url=f"sqlite:///{tmp_path / 'socket.db'}",
            SLACK_APP_TOKEN=slack.app_token,
        )
        del env["SLACK_SIGNING_SECRET"]  # Socket Mode needs none
        serve = processes.make("socket", env).start()
        wait_for(
            lambda: serve.health().json()["socket_mode"] == "connected",
            timeout_s=20,
            what="/healthz to show the Socket Mode connection",
        )
        assert slack.socket_connections == 1
        assert len(slack.calls_to("apps.connections.open")) == 1

        started = time.monotonic()
        envelope = slack.send_envelope_threadsafe(
            "slash_commands", slash_command("", slack.response_url("over-socket"))
        )
        ack = wait_for(lambda: slack.socket_ack(envelope), timeout_s=5, what="the ack")
        acked_in = time.monotonic() - started
        answers = wait_for(
            lambda: [r.body for r in slack.responses if r.name == "over-socket"],
            timeout_s=30,
            what="the answer at the response_url",
        )
        assert ack["envelope_id"] == envelope
        assert acked_in < 3
        assert answers[0]["text"].startswith("License overage:")

        # with no signing secret, a request "signed" with the empty key is not let in
        searches = sandbox.search_requests
        body = urlencode(slash_command("", slack.response_url("forged"))).encode()
        forged = httpx.post(
            serve.url + "/slack/events", content=body, headers=signed_headers(body, secret="")
        )
        assert forged.status_code == 401
        assert sandbox.search_requests == searches
        TALLY.hostile_inputs += 1
        stopping = time.monotonic()
        assert serve.terminate() == 0
        # nothing in flight: the open socket must not hold the stop for the drain window (25 s)
        assert time.monotonic() - stopping < 10
        assert "Traceback" not in serve.log()


def test_a_refused_app_token_stops_the_start_with_one_line(tmp_path: Path) -> None:
    with running_sandbox(companies=50) as sandbox, running_slack() as slack:
        env = serve_env(
            slack=slack,
            keepnet_url=sandbox.url,
            database_url=f"sqlite:///{tmp_path / 'socket.db'}",
            SLACK_APP_TOKEN="xapp-not-the-right-one",
        )
        done = serve_once(env, tmp_path)
    TALLY.fault(survived=done.returncode == 1)
    problem = [line for line in done.stderr.splitlines() if "SLACK_APP_TOKEN" in line]
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert len(problem) == 1 and "invalid_auth" in problem[0], done.stderr
    assert "xapp-not-the-right-one" not in done.stderr + done.stdout
