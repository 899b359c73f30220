"""Keepnet misbehaving while `serve` runs: each /overage gets a right answer or one sentence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.system.conftest import (
    TALLY,
    Processes,
    SlackSide,
    free_port,
    plain_sentence,
    running_sandbox,
    running_slack,
    serve_env,
)

pytestmark = pytest.mark.slow

CLEAR = {"fail_next": [], "malformed_next": 0, "hang_next": 0, "token_max_calls": None,
         "fail_token_next": [], "token_ttl_s": 3600, "latency_s": 0.0}  # fmt: skip

# (what, switches, whether the bot can still give the right answer)
FAULTS: list[tuple[str, dict[str, Any], bool]] = [
    # the token in use runs out three requests into the next fetch (see below)
    ("token expiring mid-run", {"token_max_calls": 3}, True),
    ("429 burst with Retry-After", {"fail_next": [429, 429, 429], "retry_after_s": 1}, True),
    ("5xx burst", {"fail_next": [500, 502, 503, 504]}, True),
    ("hung connection", {"hang_next": 1, "hang_s": 8}, True),
    ("malformed JSON", {"malformed_next": 2}, True),
    ("5xx beyond the retries", {"fail_next": [503] * 12}, False),
    ("malformed JSON beyond the retries", {"malformed_next": 12}, False),
    (
        "token refused and token endpoint down",
        {"token_max_calls": 0, "fail_token_next": [503] * 12},
        False,
    ),
]


def answer_text(answer: dict[str, Any]) -> str:
    return str(answer.get("text") or "")


def is_summary(text: str, flagged: int) -> bool:
    return text.startswith("License overage:") and f"{flagged:,} companies over" in text


def test_upstream_faults_get_a_right_answer_or_one_sentence(
    processes: Processes, tmp_path: Path
) -> None:
    with running_sandbox(companies=2000) as sandbox, running_slack() as slack:
        env = serve_env(
            slack=slack,
            keepnet_url=sandbox.url,
            database_url=f"sqlite:///{tmp_path / 'faults.db'}",
            CACHE_SECONDS="0",
            KEEPNET_TIMEOUT="2",
            KEEPNET_PAGE_SIZE="50",
        )
        serve = processes.make("faults", env)
        refused = processes.make(
            "refused",
            {
                **env,
                "PORT": str(free_port()),
                "KEEPNET_BASE_URL": f"http://127.0.0.1:{free_port()}",
            },
        )
        serve.start(wait=False)
        refused.start(wait=False)
        serve.wait_healthy()
        refused.wait_healthy()
        side, refused_side = SlackSide(serve, slack), SlackSide(refused, slack)
        flagged = sandbox.stats()["flagged"]
        try:
            first = side.command("")
            assert first.status == 200
            assert is_summary(answer_text(side.answer(first.name)), flagged)

            for what, switches, recoverable in FAULTS:
                if switches.get("token_max_calls"):
                    # one token has served every search so far
                    used = sandbox.stats()["search_requests"]
                    switches = {"token_max_calls": used + switches["token_max_calls"]}
                sandbox.switches.update(switches)
                sent = side.command("")
                answer = answer_text(side.answer(sent.name, timeout_s=90))
                sandbox.switches.update(CLEAR)
                healthy = serve.health().status_code == 200
                right = is_summary(answer, flagged)
                sentence = not right and plain_sentence(answer)
                TALLY.fault(survived=healthy and (right or sentence))
                assert sent.status == 200 and sent.ack_s < 3, what
                assert healthy, f"/healthz after {what}"
                if recoverable:
                    assert right, f"{what}: {answer!r}"
                else:
                    assert sentence, f"{what}: {answer!r}"
                    assert "Keepnet" in answer or "platform" in answer, f"{what}: {answer!r}"
                assert slack.posts == [], f"{what} posted to the channel"

                back = side.command("")  # the platform is back
                assert is_summary(answer_text(side.answer(back.name, timeout_s=60)), flagged)

            sent = refused_side.command("")
            answer = answer_text(refused_side.answer(sent.name, timeout_s=90))
            healthy = refused.health().status_code == 200
            TALLY.fault(survived=healthy and plain_sentence(answer))
            assert sent.status == 200
            assert plain_sentence(answer), answer
            assert "reach" in answer or "Keepnet" in answer, answer
            assert healthy
            assert slack.posts == []
        finally:
            side.close()
            refused_side.close()
        for process in (serve, refused):
            assert process.terminate() == 0
            log = process.log()
            assert "Traceback" not in log
            assert "sandbox-secret" not in log
