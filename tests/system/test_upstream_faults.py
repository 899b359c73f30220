"""Keepnet misbehaving while `serve` runs: each /overage gets a right answer or one sentence,
and a digest is posted whole or not at all."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import Sandbox
from tests.fakes.slack_api import Call, FakeSlack
from tests.handlers.conftest import all_text
from tests.system.conftest import (
    TALLY,
    Processes,
    SlackSide,
    free_port,
    plain_sentence,
    running_sandbox,
    running_slack,
    serve_env,
    wait_for,
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


# --- a digest while the platform fails: nothing half-posted ------------------------------------

CHANNEL = "C0GENERAL"
DIGEST_FAULTS: list[tuple[str, dict[str, Any]]] = [
    # first, while one token has served every search: the first two pages are read, then
    # that token is refused and no new one can be had
    ("token refused mid-fetch, token endpoint down", {"fail_token_next": [503] * 40}),
    ("5xx beyond the retries", {"fail_next": [503] * 12}),
    ("malformed JSON beyond the retries", {"malformed_next": 12}),
]
SLACK_WRITES = ("chat.postMessage", "chat.update", "files.getUploadURLExternal",
                "files.completeUploadExternal")  # fmt: skip


def writes(slack: FakeSlack) -> list[Call]:
    """Every call that would put something into a channel, refused ones included."""
    return [c for c in slack.calls if c.method in SLACK_WRITES]


def check_complete_digest(slack: FakeSlack, post: Call, flagged: int) -> None:
    """The digest message: header, totals with the platform's count, and its workbook, which
    sits in the message's thread."""
    text = str(post.params.get("text") or "")
    everything = all_text(post.params)
    assert "license overage digest:" in text.lower(), text
    assert f"{flagged:,} companies over their license limit" in text, text
    assert "license overage digest" in everything.lower(), everything
    assert "Companies over limit" in everything
    assert "Seats over in total" in everything
    ts = str(post.response["ts"])
    workbooks = [u for u in slack.uploads if u.thread_ts == ts]
    assert [u.filename[-5:] for u in workbooks] == [".xlsx"], slack.uploads
    assert workbooks[0].channel_id == CHANNEL and workbooks[0].content.startswith(b"PK")


def test_digest_while_the_platform_fails_posts_nothing_then_one_whole_digest(
    processes: Processes, tmp_path: Path
) -> None:
    """`/overage digest` under each unrecoverable fault (503s, malformed JSON, the token lost
    mid-fetch, connection refused): one sentence to the person and nothing in the channel; once
    the platform is back, one whole digest with its workbook."""
    sandbox = Sandbox(seed=3, companies=2000)
    port = free_port()
    up: list[contextlib.ExitStack] = []

    def platform_up() -> None:
        stack = contextlib.ExitStack()
        stack.enter_context(sandbox.run_in_thread(port=port))
        up.append(stack)

    def platform_down() -> None:
        up.pop().close()

    def platform_gone() -> None:
        while up:
            platform_down()

    with running_slack() as slack, contextlib.ExitStack() as cleanup:
        platform_up()
        cleanup.callback(platform_gone)
        env = serve_env(
            slack=slack,
            keepnet_url=f"http://127.0.0.1:{port}",
            database_url=f"sqlite:///{tmp_path / 'digest-faults.db'}",
            CACHE_SECONDS="0",
            KEEPNET_TIMEOUT="2",
            KEEPNET_PAGE_SIZE="50",
        )
        serve = processes.make("digestfaults", env).start()
        side = SlackSide(serve, slack)
        cleanup.callback(side.close)
        flagged = sandbox.stats()["flagged"]
        assert flagged > 2 * 50  # the list spans pages: a fault can strike mid-fetch

        posts: list[Call] = []
        refused: list[str] = []  # the commands answered with one sentence
        succeeded: list[str] = []  # the commands whose digest was posted

        def digest_refused(what: str) -> None:
            before = len(writes(slack))
            sent = side.command("digest")
            assert sent.status == 200 and sent.ack_s < 3, what
            answer = str(side.answer(sent.name, timeout_s=90).get("text") or "")
            refused.append(sent.name)  # no second answer, even late: checked after the stop
            answers = side.answers(sent.name)
            healthy = serve.health().status_code == 200
            posted = writes(slack)[before:]
            TALLY.fault(survived=healthy and not posted and plain_sentence(answer))
            assert posted == [], f"{what}: written to the channel: {posted}"
            assert len(slack.messages(CHANNEL)) == 2 * len(posts)  # each digest, its workbook
            assert len(answers) == 1, f"{what}: {answers}"
            assert plain_sentence(answer), f"{what}: {answer!r}"
            assert "Keepnet" in answer or "platform" in answer, f"{what}: {answer!r}"
            assert "reference" not in answer, f"{what}: {answer!r}"
            assert healthy, f"/healthz after {what}"

        def digest_posted(what: str) -> None:
            before = len(slack.posts)
            sent = side.command("digest")
            assert sent.status == 200
            wait_for(lambda: len(slack.posts) > before, timeout_s=60, what=f"digest after {what}")
            wait_for(lambda: len(slack.uploads) > len(posts), timeout_s=30, what="the workbook")
            new = slack.posts[before:]
            assert len(new) == 1, f"after {what}: {len(new)} posts"
            check_complete_digest(slack, new[0], flagged)
            posts.append(new[0])
            succeeded.append(sent.name)  # answered only if it failed: checked after the stop

        digest_posted("the start")
        for what, switches in DIGEST_FAULTS:
            if "fail_token_next" in switches:
                # the token in use has made one call per search so far: two more, then refused
                used = sandbox.stats()["search_requests"]
                switches = {**switches, "token_max_calls": used + 2}
            sandbox.switches.update(switches)
            digest_refused(what)
            sandbox.switches.update(CLEAR)
            digest_posted(what)

        platform_down()
        digest_refused("connection refused")
        platform_up()
        digest_posted("connection refused")

        # SIGTERM lets the work in flight finish: whatever a command was still to write or
        # answer has landed once the process exited
        assert serve.terminate() == 0
        assert len(slack.messages(CHANNEL)) == 2 * len(posts)  # each digest and its workbook
        assert [len(side.answers(name)) for name in refused] == [1] * len(refused)
        assert [side.answers(name) for name in succeeded] == [[]] * len(succeeded)
    log = serve.log()
    assert "Traceback" not in log and "sandbox-secret" not in log
