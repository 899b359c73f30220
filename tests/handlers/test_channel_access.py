"""Where the bot may post: the person's direct message with it, and every channel Slack keeps
it out of, over signed HTTP against the fake Slack and the scopes manifest.yml grants."""

from __future__ import annotations

import logging

import pytest

from tests.handlers.conftest import Bot, StartBot, all_text, answer_to, eventually, flagged


def looked_up(bot: Bot) -> list[str]:
    return [c.method for c in bot.slack.calls if c.method.startswith("conversations.")]


async def test_overage_and_export_work_in_the_persons_direct_message(
    start_bot: StartBot,
) -> None:
    """manifest.yml grants no im:read, so a look-up of the direct message would be refused
    (missing_scope); the bot looks nothing up before it answers or uploads there."""
    bot = await start_bot()
    assert "im:read" not in bot.slack.scopes
    dm = bot.slack.add_dm("U42")
    answer = await answer_to(bot, "", user="U42", channel=dm)
    assert f"{len(flagged(bot)):,}" in all_text(answer)
    await bot.command("export", user="U42", channel=dm)
    upload = (await eventually(lambda: bot.slack.uploads))[0]
    assert (upload.channel_id, upload.filename.endswith(".xlsx")) == (dm, True)
    assert "<@U42>" in upload.initial_comment
    assert looked_up(bot) == []
    assert all(c.ok for c in bot.slack.calls)


async def test_an_upload_slack_refuses_in_a_direct_message_asks_for_an_invite(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack keeps the bot out of a conversation: the bot tries to join, which a direct
    message refuses, and the person is told to invite it; no look-up needing im:read."""
    caplog.set_level(logging.WARNING, logger="bot.publish")
    bot = await start_bot()
    dm = bot.slack.add_dm("U42")
    bot.slack.fail_next("files.completeUploadExternal", "not_in_channel")
    await bot.command("export", user="U42", channel=dm)
    answers = await eventually(lambda: [a for a in bot.answers() if "invite" in all_text(a)])
    assert "/invite @Overage Bot" in answers[0]["text"] and dm in answers[0]["text"]
    assert "missing_scope" not in all_text(answers)
    assert looked_up(bot) == ["conversations.join"]
    assert "method_not_supported_for_channel_type" in caplog.text
    assert bot.slack.uploads == []


async def test_an_export_into_a_channel_the_bot_must_join_sends_the_bytes_once(
    start_bot: StartBot,
) -> None:
    bot = await start_bot()
    bot.slack.add_channel("C0PUBLIC", name="billing", member=False)
    await bot.command("export csv", channel="C0PUBLIC")
    upload = (await eventually(lambda: bot.slack.uploads))[0]
    assert upload.channel_id == "C0PUBLIC"
    assert [b.length for b in bot.slack.bytes_received] == [len(upload.content)]
    assert looked_up(bot) == ["conversations.join"]


@pytest.mark.parametrize(
    ("refusal", "code"),
    [
        pytest.param("scope", "missing_scope", id="no-channels-join"),
        pytest.param("archived", "is_archived", id="archived"),
        pytest.param("restricted_action", "restricted_action", id="restricted"),
        pytest.param("method_not_supported_for_channel_type", None, id="channel-type"),
    ],
)
async def test_an_export_where_the_bot_cannot_join_asks_for_an_invite(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture, refusal: str, code: str | None
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.publish")
    bot = await start_bot()
    bot.slack.add_channel("C0PUBLIC", name="billing", member=False, archived=refusal == "archived")
    if refusal == "scope":
        bot.slack.scopes = tuple(s for s in bot.slack.scopes if s != "channels:join")
    elif refusal != "archived":
        bot.slack.fail_next("conversations.join", refusal)
    await bot.command("export", channel="C0PUBLIC")
    answers = await eventually(lambda: [a for a in bot.answers() if "invite" in all_text(a)])
    assert "/invite @Overage Bot" in answers[0]["text"] and "C0PUBLIC" in answers[0]["text"]
    assert f"channel join failed: {code or refusal}" in caplog.text
    assert bot.slack.uploads == [] and len(bot.slack.bytes_received) == 1


@pytest.mark.parametrize("code", ["is_archived", "restricted_action"])
async def test_a_digest_slack_will_not_post_in_a_channel_asks_for_an_invite(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture, code: str
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.publish")
    bot = await start_bot(DIGEST_ATTACH_EXPORT="false")
    bot.slack.add_channel("C0BILLING", name="billing", archived=code == "is_archived")
    if code != "is_archived":
        bot.slack.fail_next("chat.postMessage", code)
    await bot.command("digest", channel="C0BILLING")
    answers = await eventually(lambda: [a for a in bot.answers() if "invite" in all_text(a)])
    assert "/invite @Overage Bot" in answers[0]["text"] and "C0BILLING" in answers[0]["text"]
    assert f"message failed: {code}" in caplog.text
    assert bot.slack.posts == [] and looked_up(bot) == []
