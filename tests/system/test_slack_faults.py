"""Slack misbehaving while `serve` runs: the right sentence or a retry, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.system.conftest import (
    TALLY,
    Processes,
    SlackSide,
    plain_sentence,
    running_sandbox,
    running_slack,
    serve_env,
    wait_for,
)

pytestmark = pytest.mark.slow


def test_slack_faults_get_the_right_sentence_or_a_retry(
    processes: Processes, tmp_path: Path
) -> None:
    with running_sandbox(companies=300) as sandbox, running_slack() as slack:
        slack.add_channel("C0PRIV", name="billing-private", private=True, member=False)
        slack.add_channel("C0PUB", name="billing", private=False, member=False)
        env = serve_env(
            slack=slack,
            keepnet_url=sandbox.url,
            database_url=f"sqlite:///{tmp_path / 'slack.db'}",
            DIGEST_ATTACH_EXPORT="false",
        )
        serve = processes.make("slackfaults", env).start()
        side = SlackSide(serve, slack)

        def survived(check: bool) -> bool:
            alive = serve.alive() and serve.health().status_code == 200
            TALLY.fault(survived=alive and check)
            assert alive, "the process died"
            return check

        def posted(channel: str) -> list[str]:
            return [c.params.get("text", "") for c in slack.posts
                    if c.params.get("channel") == channel]  # fmt: skip

        try:
            # ratelimited on post: retried after Retry-After, posted once
            slack.fail_next("chat.postMessage", "ratelimited", http_status=429, retry_after=1)
            sent = side.command("digest")
            assert sent.status == 200
            wait_for(lambda: posted("C0GENERAL"), timeout_s=30, what="the rate-limited digest")
            calls = slack.calls_to("chat.postMessage")
            waited = calls[-1].at - calls[0].at
            assert survived(len(posted("C0GENERAL")) == 1 and waited >= 0.9), (calls, waited)

            # private channel the bot is not in: the /invite sentence
            sent = side.command("digest", channel="C0PRIV")
            text = side.answer(sent.name)["text"]
            assert survived("/invite" in text and plain_sentence(text)), text
            assert posted("C0PRIV") == []

            # public channel the bot is not in: joined, then posted
            sent = side.command("digest", channel="C0PUB")
            wait_for(lambda: posted("C0PUB"), timeout_s=30, what="the digest in C0PUB")
            assert survived(any(c.ok for c in slack.calls_to("conversations.join")))

            # a channel Slack does not know
            sent = side.command("digest", channel="C0MISSING")
            text = side.answer(sent.name)["text"]
            assert survived("C0MISSING" in text and plain_sentence(text)), text

            # the token refused while uploading
            slack.fail_next("files.getUploadURLExternal", "invalid_auth")
            sent = side.command("export csv")
            text = side.answer(sent.name)["text"]
            assert survived("SLACK_BOT_TOKEN" in text and plain_sentence(text)), text

            # the token refused on a post: the same sentence, nothing in the channel
            slack.fail_next("chat.postMessage", "invalid_auth")
            before = len(posted("C0GENERAL"))
            sent = side.command("digest")
            text = side.answer(sent.name)["text"]
            assert survived("SLACK_BOT_TOKEN" in text and plain_sentence(text)), text
            assert len(posted("C0GENERAL")) == before

            # rate-limited beyond the client's retries (3 tries): a sentence, nothing posted
            slack.fail_next(
                "chat.postMessage", "ratelimited", http_status=429, retry_after=1, times=3
            )
            refused_before = len(slack.calls_to("chat.postMessage"))
            sent = side.command("digest")
            text = side.answer(sent.name, timeout_s=60)["text"]
            tries = len(slack.calls_to("chat.postMessage")) - refused_before
            said_retry = "Slack" in text and "try again" in text.lower()
            assert survived(said_retry and plain_sentence(text)), text
            assert tries == 3, (text, tries)
            assert len(posted("C0GENERAL")) == before
            sent = side.command("digest")  # Slack is back: posted once
            wait_for(lambda: len(posted("C0GENERAL")) > before, timeout_s=30, what="the digest")
            assert len(posted("C0GENERAL")) == before + 1 and side.answers(sent.name) == []

            # the upload URL fails once: the client's retry finishes the upload, no error
            slack.fail_upload_next(status=500)
            uploads_before = len(slack.uploads)
            sent = side.command("export csv")
            wait_for(lambda: len(slack.uploads) > uploads_before, timeout_s=30, what="upload")
            assert survived(len(slack.uploads) == uploads_before + 1), slack.uploads
            uploaded = sent.name  # no error answered, even late: checked after the stop
            TALLY.note("upload URL failing once: retried, uploaded once, no error shown")

            # the upload URL fails beyond the retries: one sentence, no file half-shared
            slack.fail_upload_next(status=500, times=3)
            completes = len(slack.calls_to("files.completeUploadExternal"))
            sent = side.command("export csv")
            text = side.answer(sent.name)["text"]
            assert survived("upload" in text and plain_sentence(text)), text
            assert len(slack.calls_to("files.completeUploadExternal")) == completes
            assert len(slack.uploads) == uploads_before + 1

            # and after all of it the bot still answers
            sent = side.command("")
            assert side.answer(sent.name)["text"].startswith("License overage:")
        finally:
            side.close()
        assert serve.terminate() == 0  # the work in flight finishes first
        assert side.answers(uploaded) == [], side.answers(uploaded)
        assert "Traceback" not in serve.log()
