"""/overage over signed HTTP: every command, access control, signatures, errors, one fetch."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from decimal import Decimal
from typing import Any

import pytest

from bot.logs import FIELDS
from bot.overage import parse_limit
from bot.sandbox import is_flagged
from tests.handlers.conftest import (
    StartBot,
    all_text,
    answer_to,
    check_export_upload,
    eventually,
    flagged,
)
from tests.runtime import settled
from tests.slack_requests import SIGNING_SECRET, signed_headers


async def test_summary_answers_ephemerally_with_the_totals(start_bot: StartBot) -> None:
    bot = await start_bot(SEAT_PRICE="4.50", CURRENCY="EUR")
    answer = await answer_to(bot, "")
    assert answer["response_type"] == "ephemeral"
    text = all_text(answer)
    assert f"{len(flagged(bot)):,}" in text
    assert "EUR" in text
    assert answer["text"]  # notification fallback
    assert [b for b in answer["blocks"] if b["type"] == "actions"]


async def test_the_ack_comes_before_the_work(start_bot: StartBot) -> None:
    bot = await start_bot()
    bot.sandbox.switches.latency_s = 0.5
    response = await bot.command("summary")
    assert response.status_code == 200
    assert bot.answers() == []  # the answer is still being fetched when Slack gets its ack
    await eventually(bot.answers)


@pytest.mark.parametrize(("text", "rows"), [("top 5", 5), ("TOP   100", 100), ("top", 10)])
async def test_top_n_fits_slack(start_bot: StartBot, text: str, rows: int) -> None:
    bot = await start_bot(companies=1000, over_limit=150)
    answer = await answer_to(bot, text)  # and Slack accepted it at the response_url
    assert len(answer["blocks"]) <= 50
    assert all(b["type"] != "table" for b in answer["blocks"])
    tables = [b for a in answer.get("attachments") or [] for b in a["blocks"]]
    if tables:  # the ranking as a table travels in the attachments, one table at most
        assert [b["type"] for b in tables] == ["table", "context"]  # and "…and N more"
        assert len(tables[0]["rows"]) == rows + 1
        assert f"and {150 - rows} more" in all_text(tables[1])
    else:
        assert rows == 100 and "*100.*" in all_text(answer["blocks"])
    biggest = max(flagged(bot), key=lambda c: c["targetUserCount"] - int(c["numberOfUsers"] or 0)
                  if str(c["numberOfUsers"]).isdigit() else -1)  # fmt: skip
    assert f"{biggest['targetUserCount']:,}" in all_text(answer)
    assert answer["response_type"] == "ephemeral"


async def test_find_matches_names_case_insensitively(start_bot: StartBot) -> None:
    bot = await start_bot()
    target = flagged(bot)[0]["companyName"]
    word = target.split()[0]
    answer = await answer_to(bot, f"find {word.swapcase()}")
    assert word.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in all_text(answer)


async def test_find_with_no_match_says_so(start_bot: StartBot) -> None:
    bot = await start_bot()
    answer = await answer_to(bot, "find zzzz-no-such-company")
    assert "zzzz-no-such-company" in all_text(answer)
    assert "No over-limit company has" in all_text(answer)


async def test_hostile_company_names_are_escaped(start_bot: StartBot) -> None:
    bot = await start_bot(companies=300, over_limit=60)
    answer = await answer_to(bot, "top 100")
    text = all_text(answer)
    assert "<!channel>" not in text
    assert "<https://evil" not in text
    assert "&lt;!channel&gt;" in text or "‹!channel›" in text
    mrkdwn = [m for m in _objects(answer) if m.get("type") == "mrkdwn"]
    assert mrkdwn and all(m.get("verbatim") is True for m in mrkdwn)


def _objects(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value, *(o for item in value.values() for o in _objects(item))]
    if isinstance(value, list):
        return [o for item in value for o in _objects(item)]
    return []


async def test_find_collapses_runs_of_spaces(start_bot: StartBot) -> None:
    bot = await start_bot()
    target = next(c["companyName"] for c in flagged(bot) if len(c["companyName"].split()) > 1)
    first, second = target.split()[:2]
    answer = await answer_to(bot, f"find {first}   {second}")
    assert "No over-limit company has" not in all_text(answer)
    escaped = f"{first} {second}".replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert escaped in all_text(answer)


@pytest.mark.parametrize(("text", "suffix"), [("export", ".xlsx"), ("export csv", ".csv")])
async def test_export_uploads_the_file_into_the_channel(
    start_bot: StartBot, text: str, suffix: str
) -> None:
    bot = await start_bot()
    response = await bot.command(text, user="U42")
    assert response.status_code == 200
    uploads = await eventually(lambda: bot.slack.uploads)
    upload = uploads[0]
    check_export_upload(bot, upload, suffix, user="U42")


async def test_export_native_uploads_the_platform_file_unchanged(start_bot: StartBot) -> None:
    bot = await start_bot()
    await bot.command("export native csv")
    upload = (await eventually(lambda: bot.slack.uploads))[0]
    assert upload.filename == "Companies.csv"
    assert bot.sandbox.export_requests == 1
    first_line = upload.content.decode("utf-8").splitlines()[0]
    assert "Company" in first_line


async def test_export_into_a_public_channel_the_bot_is_not_in_joins_it(
    start_bot: StartBot,
) -> None:
    bot = await start_bot()
    bot.slack.add_channel("C0PUBLIC", name="billing", private=False, member=False)
    await bot.command("export", channel="C0PUBLIC")
    upload = (await eventually(lambda: bot.slack.uploads))[0]
    assert upload.channel_id == "C0PUBLIC"
    assert bot.slack.calls_to("conversations.join")


@pytest.mark.parametrize("text", ["export", "digest"])
async def test_a_private_channel_the_bot_is_not_in_asks_for_an_invite(
    start_bot: StartBot, text: str
) -> None:
    """Slack answers channel_not_found there; the channel exists (the command came from it),
    so the answer is the /invite sentence, not the DIGEST_CHANNEL hint."""
    bot = await start_bot(DIGEST_ATTACH_EXPORT="false")
    bot.slack.add_channel("G0PRIVATE", name="secret", private=True, member=False)
    await bot.command(text, channel="G0PRIVATE")
    answers = await eventually(lambda: [a for a in bot.answers() if "invite" in all_text(a)])
    assert "/invite @Overage Bot" in answers[0]["text"] and "G0PRIVATE" in answers[0]["text"]
    assert "DIGEST_CHANNEL" not in answers[0]["text"]
    assert any(c.error == "channel_not_found" for c in bot.slack.calls)
    assert bot.slack.uploads == [] and bot.slack.posts == []


async def test_digest_posts_into_the_channel(start_bot: StartBot) -> None:
    bot = await start_bot(DIGEST_ATTACH_EXPORT="false")
    await bot.command("digest")
    post = (await eventually(lambda: bot.slack.posts))[0]
    assert post.params["channel"] == "C0GENERAL"
    assert "first digest" in json.dumps(post.params).lower()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("help", "/overage top"), ("frobnicate now", "frobnicate"), ("top 0", "from 1 to 100"),
     ("find", "find"), ("export pdf", "pdf")],
)  # fmt: skip
async def test_help_and_what_it_did_not_understand(
    start_bot: StartBot, text: str, expected: str
) -> None:
    bot = await start_bot()
    answer = await answer_to(bot, text)
    assert expected in all_text(answer)
    assert bot.sandbox.search_requests == 0


@pytest.mark.parametrize(
    ("env", "user", "channel"),
    [
        ({"ALLOWED_USER_IDS": "U9"}, "U1", "C0GENERAL"),
        ({"ALLOWED_CHANNEL_IDS": "C0OTHER"}, "U1", "C0GENERAL"),
    ],
)
async def test_outsiders_are_refused_before_anything_is_fetched(
    start_bot: StartBot, env: dict[str, str], user: str, channel: str
) -> None:
    bot = await start_bot(**env)
    response = await bot.command("summary", user=user, channel=channel)
    assert response.status_code == 200
    assert "isn't available" in response.text or "not available" in response.text
    await settled()
    assert bot.sandbox.token_requests == 0 and bot.sandbox.search_requests == 0


async def test_allowed_users_are_served(start_bot: StartBot) -> None:
    bot = await start_bot(ALLOWED_USER_IDS="U1,U2", ALLOWED_CHANNEL_IDS="C0GENERAL")
    answer = await answer_to(bot, "summary", user="U2")
    assert answer["response_type"] == "ephemeral"
    assert bot.sandbox.search_requests >= 1


async def test_forged_stale_and_replayed_requests_are_refused(start_bot: StartBot) -> None:
    bot = await start_bot()
    body = bot.command_body("summary")
    forged = await bot.post(body, signed_headers(body, secret="not-the-secret"))
    stale = await bot.post(body, signed_headers(body, ts=int(time.time()) - 600))
    unsigned = await bot.post(body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert (forged.status_code, stale.status_code, unsigned.status_code) == (401, 401, 401)
    headers = signed_headers(body)
    first = await bot.post(body, headers)
    replayed = await bot.post(body, headers)
    assert (first.status_code, replayed.status_code) == (200, 401)
    await eventually(bot.answers)
    await settled()
    assert len(bot.answers()) == 1
    assert bot.sandbox.token_requests == 1


async def test_oversized_bodies_are_refused(start_bot: StartBot) -> None:
    bot = await start_bot()
    body = b"text=" + b"x" * (300 * 1024)
    response = await bot.post(body, signed_headers(body))
    assert response.status_code == 413
    assert bot.sandbox.token_requests == 0


@pytest.mark.parametrize(
    ("setup", "sentence"),
    [
        ({"role": "Company Admin"}, "Client Role = Reseller"),
        ({"KEEPNET_CLIENT_SECRET": "wrong"}, "client ID and secret"),
    ],
)
async def test_upstream_errors_reach_the_user_as_one_sentence(
    start_bot: StartBot, setup: dict[str, str], sentence: str
) -> None:
    bot = await start_bot(**setup)
    answer = await answer_to(bot, "summary")
    assert sentence in answer["text"]
    assert "Traceback" not in all_text(answer)
    assert "sandbox-secret" not in all_text(answer) and "wrong" not in answer["text"]


async def test_platform_down_is_one_sentence_and_the_app_keeps_serving(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(CACHE_SECONDS="0")
    bot.sandbox.switches.fail_next = [400]
    answer = await answer_to(bot, "summary")
    assert "rejected" in answer["text"]
    second = await answer_to(bot, "summary")
    assert second["blocks"] and "rejected" not in second["text"]


async def test_fifty_concurrent_commands_share_one_fetch(start_bot: StartBot) -> None:
    bot = await start_bot(companies=1000, over_limit=250)
    bot.sandbox.switches.latency_s = 0.1
    responses = await asyncio.gather(*(bot.command("summary", user=f"U{i}") for i in range(50)))
    assert all(r.status_code == 200 for r in responses)
    await eventually(lambda: len(bot.slack.responses) >= 50, timeout_s=30)
    assert bot.sandbox.token_requests == 1
    assert bot.sandbox.search_requests == 4  # one fetch: three pages, then page 1 again
    assert len(bot.slack.calls_to("auth.test")) == 1  # who the bot is, asked once


async def test_repeated_commands_within_the_cache_window_share_one_fetch(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(CACHE_SECONDS="60")
    await answer_to(bot, "summary")
    await answer_to(bot, "top 3")
    answer = await answer_to(bot, "find a")
    assert bot.sandbox.search_requests == 1
    assert "ago" in all_text(answer) or "as of" in all_text(answer).lower()


async def test_signing_secret_is_what_verifies(start_bot: StartBot) -> None:
    bot = await start_bot()
    body = bot.command_body("help")
    ok = await bot.post(body, signed_headers(body, secret=SIGNING_SECRET))
    assert ok.status_code == 200


async def test_each_command_is_logged_once_with_who_what_and_outcome(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.commands")
    bot = await start_bot(companies=300, over_limit=150)
    await answer_to(bot, "top 3", user="U77")
    await eventually(lambda: [r for r in caplog.records if r.name == "handlers.commands"])
    (record,) = [r for r in caplog.records if r.name == "handlers.commands"]
    line = record.getMessage()
    for part in ("subcommand=top user=U77", "channel=C0GENERAL", "duration_ms=", "outcome=ok"):
        assert part in line
    assert "upstream_calls=4" in line  # token, two pages, then page 1 again
    fields = getattr(record, FIELDS)  # the same fields as keys of their own, for JSON
    assert (fields["subcommand"], fields["user"], fields["channel"]) == ("top", "U77", "C0GENERAL")
    assert (fields["upstream_calls"], fields["outcome"]) == (4, "ok")
    assert isinstance(fields["duration_ms"], int)


async def test_an_answer_slack_refuses_is_logged_as_a_warning(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.commands")
    bot = await start_bot()
    bot.slack.fail_response_next("expired_url")
    assert (await bot.command("help")).status_code == 200
    await eventually(lambda: [r for r in caplog.records if r.getMessage().startswith("command")])
    (refused,) = bot.slack.responses
    assert refused.error == "expired_url"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["Slack refused an answer at the response_url: HTTP 400"]


async def test_a_failed_command_logs_its_outcome_without_secrets(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = await start_bot(KEEPNET_CLIENT_SECRET="wrong-secret-value")
    await answer_to(bot, "summary")
    await eventually(lambda: [r for r in caplog.records if r.name == "handlers.commands"])
    assert "outcome=BadCredentials" in caplog.text
    for secret in ("wrong-secret-value", SIGNING_SECRET, "xoxb-test-token"):
        assert secret not in caplog.text


# --- within the size Slack accepts --------------------------------------------------------------


def u16(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def text_units(value: Any) -> int:
    """Every string under a "text" key, in UTF-16 units: what Slack sums for a message."""
    if isinstance(value, dict):
        return sum(
            u16(item) if key == "text" and isinstance(item, str) else text_units(item)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return sum(text_units(item) for item in value)
    return 0


def ranked(answer: dict[str, Any]) -> int:
    """The rows an answer ranks: its table's, else its numbered lines."""
    attached = [b for a in answer.get("attachments") or [] for b in a["blocks"]]
    tables = [b for b in attached if b["type"] == "table"]
    if tables:
        return len(tables[0]["rows"]) - 1
    return len(re.findall(r"(?m)^\*\d+\.\*", "\n".join(_texts(answer["blocks"]))))


def _texts(value: Any) -> list[str]:
    return [str(o["text"]) for o in _objects(value) if isinstance(o.get("text"), str)]


def emoji_name(n: int) -> str:
    return (f"🚀 Ünïcödé Glass {n} 👩‍💻 & <Holding> " * 8)[:196] + f"{n:04d}"


async def test_top_100_of_long_emoji_names_stays_within_what_slack_accepts(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(companies=400, over_limit=150)
    bot.sandbox.companies = [
        {**c, "companyName": emoji_name(n)} if is_flagged(c) else c
        for n, c in enumerate(bot.sandbox.companies)
    ]
    answer = await answer_to(bot, "top 100")  # the fake refuses past 12,000 units
    assert text_units([answer["blocks"], answer.get("attachments") or []]) <= 10_000
    shown = ranked(answer)
    assert 0 < shown < 100
    assert f"The {shown} biggest license overages" in all_text(answer)
    assert f"…and {150 - shown} more: `/overage export` for all" in all_text(answer)


async def test_an_answer_refused_as_too_long_is_sent_again_with_fewer_rows(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(companies=400, over_limit=60)
    bot.slack.fail_response_next("msg_blocks_too_long")
    assert (await bot.command("top 40")).status_code == 200
    first, second = await eventually(lambda: len(bot.slack.responses) >= 2 and bot.slack.responses)
    assert first.error == "msg_blocks_too_long" and second.ok
    assert (ranked(first.body), ranked(second.body)) == (40, 20)
    assert "…and 40 more: `/overage export` for all" in all_text(second.body)
    assert "The 20 biggest license overages" in all_text(second.body)


async def test_an_answer_refused_twice_ends_with_the_smallest(start_bot: StartBot) -> None:
    bot = await start_bot(companies=400, over_limit=60)
    bot.slack.fail_response_next("invalid_blocks", times=3)
    assert (await bot.command("top 40")).status_code == 200
    await eventually(lambda: len(bot.slack.responses) >= 3)
    await asyncio.sleep(0.3)
    refused = bot.slack.responses
    assert [r.error for r in refused] == ["invalid_blocks"] * 3  # never the same payload again
    assert [ranked(r.body) for r in refused] == [40, 20, 10]


async def test_an_answer_refused_for_another_reason_is_not_sent_again(
    start_bot: StartBot,
) -> None:
    bot = await start_bot()
    bot.slack.fail_response_next("expired_url")
    assert (await bot.command("top 40")).status_code == 200
    await eventually(lambda: bot.slack.responses)
    await asyncio.sleep(0.3)
    assert [r.error for r in bot.slack.responses] == ["expired_url"]


# --- a list short of what Keepnet counts says so -------------------------------------------------


async def test_answers_and_the_upload_say_when_keepnet_counts_more_than_was_read(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(companies=300, over_limit=40)
    bot.sandbox.switches.hidden_rows = 3  # counted by Keepnet, served on no page
    sentence = "Keepnet counts 40 companies over their limit; 37 could be read."
    for text in ("", "top 100", "find a"):
        answer = await answer_to(bot, text)
        assert sentence in answer["text"], text  # the notification
        assert sentence in all_text(answer["blocks"]), text  # the message
    await bot.command("export csv", user="U3")
    [upload] = await eventually(lambda: bot.slack.uploads)
    assert upload.initial_comment.endswith(sentence)


# --- names display as themselves -----------------------------------------------------------------


async def test_names_with_mrkdwn_markers_show_as_themselves(start_bot: StartBot) -> None:
    bot = await start_bot()
    answer = await answer_to(bot, "find ivy")
    mrkdwn = [o["text"] for o in _objects(answer) if o.get("type") == "mrkdwn"]
    assert any("∗Ivy∗ ˍLeagueˍ" in text for text in mrkdwn)
    assert not any("*Ivy*" in text or "_League_" in text for text in [*mrkdwn, answer["text"]])
    alarm = await answer_to(bot, "find alarm")
    assert "∶rotatingˍlight: Alarm Co" in all_text(alarm)
    assert ":rotating_light: Alarm" not in all_text(alarm)
    header = alarm["blocks"][0]["text"]
    assert header == {
        "type": "plain_text", "text": "Over-limit companies matching “alarm”", "emoji": False
    }  # fmt: skip


async def test_prices_per_plan_price_each_company_by_its_plan_and_count_the_unpriced(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(SEAT_PRICES="Full Suite=2.50", CURRENCY="EUR")
    listed = [c for c in flagged(bot) if c["isNumberOfUsersLimited"]]
    known = [c for c in listed if parse_limit(c["numberOfUsers"]) is not None]
    over = [c for c in known if c["targetUserCount"] > int(c["numberOfUsers"])]
    over += [c for c in listed if parse_limit(c["numberOfUsers"]) is None]  # limit unknown
    priced = [c for c in over if c["licenseTypeName"] == "Full Suite"]
    assert priced and len(priced) < len(over)  # the sandbox has other plans too
    seats = sum(c["targetUserCount"] - int(c["numberOfUsers"]) for c in priced if c in known)

    text = all_text(await answer_to(bot, ""))

    assert f"EUR {Decimal('2.50') * seats:,.2f}" in text
    assert f"{len(over) - len(priced):,} companies" in text  # no price set: never priced at zero
