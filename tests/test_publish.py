"""Publisher against the fake Slack Web API: deliveries, joins, retries and error mapping."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from bot.errors import (
    BotError,
    ChannelNotFound,
    NotInChannel,
    SlackAuthError,
    SlackBusy,
    SlackDeliveryError,
)
from bot.overage import Company, Report, build_report
from bot.publish import Publisher, make_client
from bot.render_slack import Message, render_summary, render_top
from tests.companies import company
from tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-1111-secret-token-value"
MESSAGE = Message(
    text="3 companies are over their limit",
    blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*3* companies over"}}],
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    slack = FakeSlack(bot_token=TOKEN)
    slack.add_channel("C0PUBLIC", name="billing", member=False)
    slack.add_channel("C0PRIVATE", name="finance", private=True, member=False)
    slack.add_channel("G0INSIDE", name="board", private=True, member=True)
    await slack.start()
    yield slack
    await slack.stop()


def _publisher(fake: FakeSlack, token: str = TOKEN) -> Publisher:
    return Publisher(make_client(token, fake.base_url, retry_wait_s=0))


async def test_post_returns_the_ts_and_slack_received_the_blocks(fake: FakeSlack) -> None:
    ts = await _publisher(fake).post("C0GENERAL", MESSAGE)
    [post] = fake.posts
    assert post.response["ts"] == ts
    assert post.params["blocks"] == MESSAGE.blocks
    assert post.params["text"] == MESSAGE.text
    assert post.token == TOKEN


async def test_upload_shares_the_file_in_the_channel(fake: FakeSlack) -> None:
    await _publisher(fake).upload(
        "C0GENERAL",
        content=b"PK\x03\x04 workbook bytes",
        filename="license-overage-2024-05-06.xlsx",
        title="License overage 2024-05-06",
        initial_comment="3 companies over their limit.",
        thread_ts="1700000000.000100",
    )
    [upload] = fake.uploads
    assert upload.content == b"PK\x03\x04 workbook bytes"
    assert upload.filename == "license-overage-2024-05-06.xlsx"
    assert upload.title == "License overage 2024-05-06"
    assert upload.channel_id == "C0GENERAL"
    assert upload.initial_comment == "3 companies over their limit."
    assert upload.thread_ts == "1700000000.000100"


async def test_not_in_a_public_channel_joins_it_and_delivers(fake: FakeSlack) -> None:
    publisher = _publisher(fake)
    await publisher.post("C0PUBLIC", MESSAGE)
    assert [c.method for c in fake.calls] == [
        "chat.postMessage",
        "conversations.join",
        "chat.postMessage",
    ]
    assert fake.posts[0].params["channel"] == "C0PUBLIC"


async def test_upload_into_a_public_channel_joins_it_and_sends_the_bytes_once(
    fake: FakeSlack,
) -> None:
    """Slack refuses to share the uploaded file where the bot is not a member; the bot joins
    and shares the same file again, without uploading its bytes a second time."""
    await _publisher(fake).upload("C0PUBLIC", content=b"a,b\n", filename="x.csv", title="x")
    assert [(c.method, c.error) for c in fake.calls] == [
        ("files.getUploadURLExternal", None),
        ("files.completeUploadExternal", "not_in_channel"),
        ("conversations.join", None),
        ("files.completeUploadExternal", None),
    ]
    assert [b.length for b in fake.bytes_received] == [4]
    assert [(u.channel_id, u.content) for u in fake.uploads] == [("C0PUBLIC", b"a,b\n")]


async def test_an_upload_into_the_persons_direct_message_looks_nothing_up(
    fake: FakeSlack,
) -> None:
    """The manifest grants no im:read: a look-up of a direct message would be refused."""
    dm = fake.add_dm("U0USER")
    await _publisher(fake).upload(dm, content=b"a,b\n", filename="x.csv", title="x")
    await _publisher(fake).post(dm, MESSAGE)
    assert [u.channel_id for u in fake.uploads] == [dm]
    assert not [c for c in fake.calls if c.method.startswith("conversations.")]
    assert "im:read" not in fake.scopes


@pytest.mark.parametrize(
    ("refuse", "code"),
    [
        pytest.param("scope", "missing_scope", id="no-channels-join"),
        pytest.param("archived", "is_archived", id="archived"),
        pytest.param("direct-message", "method_not_supported_for_channel_type", id="dm"),
        pytest.param("restricted_action", "restricted_action", id="restricted"),
        pytest.param("channel_not_found", "channel_not_found", id="not-found"),
        pytest.param("user_is_restricted", "user_is_restricted", id="any-other-code"),
    ],
)
async def test_a_join_refused_for_any_reason_asks_for_an_invite_and_logs_slacks_code(
    fake: FakeSlack, caplog: pytest.LogCaptureFixture, refuse: str, code: str
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.publish")
    channel = "C0PUBLIC"
    if refuse == "scope":
        fake.scopes = tuple(s for s in fake.scopes if s != "channels:join")
    elif refuse == "archived":
        fake.add_channel(channel := "C0OLD", name="old", archived=True, member=False)
    elif refuse == "direct-message":
        channel = fake.add_dm("U0USER")
        fake.fail_next("files.completeUploadExternal", "not_in_channel")
    else:
        fake.fail_next("conversations.join", refuse)
    with pytest.raises(NotInChannel) as caught:
        await _publisher(fake).upload(channel, content=b"a,b\n", filename="x.csv", title="x")
    assert "/invite @Overage Bot" in caught.value.for_user() and channel in str(caught.value)
    assert [c.error for c in fake.calls_to("conversations.join")] == [code]
    assert fake.calls_to("conversations.info") == []
    assert any(code in r.getMessage() for r in caplog.records), caplog.text
    assert fake.uploads == [] and len(fake.bytes_received) == 1


@pytest.mark.parametrize(
    "code",
    ["is_archived", "restricted_action", "method_not_supported_for_channel_type"],
)
async def test_a_post_refused_for_a_channel_reason_asks_for_an_invite_without_joining(
    fake: FakeSlack, caplog: pytest.LogCaptureFixture, code: str
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.publish")
    fake.fail_next("chat.postMessage", code)
    with pytest.raises(NotInChannel) as caught:
        await _publisher(fake).post("C0GENERAL", MESSAGE)
    assert "/invite @Overage Bot" in caught.value.for_user()
    assert [c.method for c in fake.calls] == ["chat.postMessage"]
    assert any(code in r.getMessage() for r in caplog.records), caplog.text


async def test_a_private_channel_the_bot_is_not_in_is_not_found(fake: FakeSlack) -> None:
    """Slack hides such a channel from the bot; for the configured digest or alert channel
    the hint points at DIGEST_CHANNEL (the handlers turn it into /invite for a channel the
    person typed in)."""
    with pytest.raises(ChannelNotFound) as caught:
        await _publisher(fake).post("C0PRIVATE", MESSAGE)
    assert "DIGEST_CHANNEL" in caught.value.for_user()
    assert "C0PRIVATE" in str(caught.value)
    assert [c.method for c in fake.calls] == ["chat.postMessage"]
    assert fake.posts == []


async def test_unknown_channel_fails_at_once(fake: FakeSlack) -> None:
    with pytest.raises(ChannelNotFound):
        await _publisher(fake).post("C0MISSING", MESSAGE)
    assert len(fake.calls) == 1


async def test_wrong_token_fails_at_once(fake: FakeSlack) -> None:
    with pytest.raises(SlackAuthError) as caught:
        await _publisher(fake, token="xoxb-9999-wrong-token").post("C0GENERAL", MESSAGE)
    assert "SLACK_BOT_TOKEN" in caught.value.for_user()
    assert len(fake.calls) == 1


async def test_revoked_token_is_an_auth_error(fake: FakeSlack) -> None:
    fake.fail_next("auth.test", "token_revoked")
    with pytest.raises(SlackAuthError):
        await _publisher(fake).identity()


async def test_ratelimited_once_is_delivered_after_retry_after(fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", "ratelimited", retry_after=1, http_status=429)
    ts = await _publisher(fake).post("C0GENERAL", MESSAGE)
    assert [c.error for c in fake.calls_to("chat.postMessage")] == ["ratelimited", None]
    assert fake.posts[0].response["ts"] == ts


async def test_server_error_once_is_delivered_on_retry(fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", "service_unavailable", http_status=503)
    await _publisher(fake).post("C0GENERAL", MESSAGE)
    assert len(fake.calls_to("chat.postMessage")) == 2
    assert len(fake.posts) == 1


async def test_server_error_that_persists_says_slack_is_busy(fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", "service_unavailable", times=10, http_status=503)
    with pytest.raises(SlackBusy) as caught:
        await _publisher(fake).post("C0GENERAL", MESSAGE)
    assert "busy" in str(caught.value)
    assert len(fake.calls_to("chat.postMessage")) == 3  # the first try and two retries


async def test_failing_upload_url_is_a_delivery_error(fake: FakeSlack) -> None:
    fake.fail_upload_next(status=500, times=10)
    with pytest.raises(SlackDeliveryError):
        await _publisher(fake).upload("C0GENERAL", content=b"x", filename="x.csv", title="x")
    assert fake.uploads == []
    assert fake.calls_to("files.completeUploadExternal") == []


async def test_other_slack_errors_name_the_code(fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", "invalid_blocks")
    with pytest.raises(SlackDeliveryError) as caught:
        await _publisher(fake).post("C0GENERAL", MESSAGE)
    assert "invalid_blocks" in str(caught.value)


async def test_no_error_reveals_the_token(fake: FakeSlack) -> None:
    wrong = "xoxb-2222-another-secret"
    # three answers each: the first try and the client's two retries
    fake.fail_next("chat.postMessage", "service_unavailable", times=3, http_status=503)
    fake.fail_upload_next(status=500, times=3)
    attempts = [
        lambda: _publisher(fake).post("C0GENERAL", MESSAGE),
        lambda: _publisher(fake).post("C0PRIVATE", MESSAGE),
        lambda: _publisher(fake).post("C0MISSING", MESSAGE),
        lambda: _publisher(fake, token=wrong).identity(),
        lambda: _publisher(fake).upload("C0GENERAL", content=b"x", filename="x.csv", title="x"),
    ]
    raised: list[type[BotError]] = []
    for attempt in attempts:
        with pytest.raises(BotError) as caught:
            await attempt()
        chain = [caught.value, caught.value.__cause__, caught.value.__context__]
        told = caught.value.for_user() + "".join(str(e) for e in chain if e is not None)
        assert TOKEN not in told and wrong not in told
        raised.append(type(caught.value))
    assert raised == [
        SlackBusy,
        ChannelNotFound,
        ChannelNotFound,
        SlackAuthError,
        SlackDeliveryError,
    ]


async def test_find_message_finds_a_posted_digest_by_its_metadata_key(fake: FakeSlack) -> None:
    publisher = _publisher(fake)
    metadata = {"event_type": "overage_digest", "event_payload": {"key": "2024-05-06T09:00"}}
    await publisher.post("C0GENERAL", Message(text="older"))
    ts = await publisher.post("C0GENERAL", MESSAGE, metadata=metadata)
    await publisher.post("C0GENERAL", Message(text="workbook note"), thread_ts=ts)

    found = await publisher.find_message(
        "C0GENERAL", event_type="overage_digest", key="2024-05-06T09:00", oldest=0
    )
    other = await publisher.find_message(
        "C0GENERAL", event_type="overage_digest", key="2024-05-13T09:00", oldest=0
    )
    later = await publisher.find_message(
        "C0GENERAL", event_type="overage_digest", key="2024-05-06T09:00", oldest=float(ts)
    )
    assert (found, other, later) == (ts, None, None)


async def test_identity_channel_info_and_home(fake: FakeSlack) -> None:
    publisher = _publisher(fake)
    me = await publisher.identity()
    assert me.about["user_id"] == "U0BOT"
    assert me.scopes == frozenset(fake.scopes) and "chat:write" in me.scopes
    assert (await publisher.channel_info("G0INSIDE"))["is_private"] is True
    await publisher.publish_home("U0USER", MESSAGE.blocks)
    assert fake.home_views[0].params["view"] == {"type": "home", "blocks": MESSAGE.blocks}


async def test_identity_without_a_scopes_header_lists_no_scopes(fake: FakeSlack) -> None:
    fake.answer_next("auth.test", {"user_id": "U0BOT", "user": "overage_bot"})
    me = await _publisher(fake).identity()
    assert (me.about["user_id"], me.scopes) == ("U0BOT", None)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_any_server_error_is_retried(fake: FakeSlack, status: int) -> None:
    fake.fail_next("chat.postMessage", "internal_error", times=2, http_status=status)
    await _publisher(fake).post("C0GENERAL", MESSAGE)
    assert [c.error for c in fake.calls_to("chat.postMessage")] == [
        "internal_error",
        "internal_error",
        None,
    ]


async def test_a_post_with_metadata_is_not_sent_again_after_a_server_error(
    fake: FakeSlack,
) -> None:
    """A digest or alert: a 500 may come after Slack posted it; the scheduler retries it
    after looking for it by its metadata, so the client must not post it a second time."""
    metadata = {"event_type": "overage_digest", "event_payload": {"key": "2024-05-06T09:00"}}
    fake.fail_next("chat.postMessage", "internal_error", http_status=500)
    with pytest.raises(SlackBusy):
        await _publisher(fake).post("C0GENERAL", MESSAGE, metadata=metadata)
    assert len(fake.calls_to("chat.postMessage")) == 1
    fake.fail_next("chat.postMessage", "ratelimited", retry_after=0, http_status=429)
    await _publisher(fake).post("C0GENERAL", MESSAGE, metadata=metadata)
    assert [c.error for c in fake.calls_to("chat.postMessage")][1:] == ["ratelimited", None]


async def test_a_long_retry_after_fails_at_once_with_the_wait(fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", "ratelimited", retry_after=120, http_status=429)
    with pytest.raises(SlackBusy) as caught:
        await _publisher(fake).post("C0GENERAL", MESSAGE)
    told = caught.value.for_user()
    assert told.startswith("Slack is rate-limiting us") and "try again in 120 s" in told.lower()
    assert len(fake.calls_to("chat.postMessage")) == 1


async def test_slack_out_of_reach_is_busy_after_the_retries() -> None:
    slack = FakeSlack(bot_token=TOKEN)
    base_url = await slack.start()
    await slack.stop()  # nothing listens there any more
    with pytest.raises(SlackBusy) as caught:
        await Publisher(make_client(TOKEN, base_url, retry_wait_s=0)).post("C0GENERAL", MESSAGE)
    assert "could not be reached" in str(caught.value)


async def test_a_table_of_long_hostile_names_is_accepted_by_slack(fake: FakeSlack) -> None:
    """The renders of 100 rows of long hostile names, posted and answered at a response_url,
    pass the fake's checks (50 blocks, the table in the attachments, 10,000 cell characters)."""
    hostile = ["<!channel>", "https://evil.example/login", "@here", "<@U123>", "#general"]
    companies = [
        company(
            n,
            name=f"{hostile[n % 5]} {'&<>' * 60} {n}",
            limit=None if n % 3 else 100,
            users=1_234_567 + n,
        )
        for n in range(150)
    ]
    report = build_report(companies, fetched_at=datetime.now(UTC))
    now = datetime.now(UTC)
    messages = [render_top(report, count, now=now) for count in (10, 50, 99, 100)]
    messages.append(render_summary(report, now=now))
    publisher = _publisher(fake)
    async with aiohttp.ClientSession() as session:
        for n, message in enumerate(messages):
            await publisher.post("C0GENERAL", message)
            body = {"response_type": "ephemeral", "text": message.text, "blocks": message.blocks}
            if message.attachments:
                body["attachments"] = message.attachments
            async with session.post(fake.response_url(f"r{n}"), json=body) as response:
                assert response.status == 200, await response.text()
    assert len(fake.posts) == len(messages)
    assert any(p.params.get("attachments") for p in fake.posts)  # some carried a table
    assert all(r.ok for r in fake.responses)


# --- a message Slack refuses as too long or invalid: a smaller one -------------------------------


def _ranked(params: dict[str, object]) -> int:
    """The rows of the ranking table a posted message carried."""
    attachments = params.get("attachments") or []
    assert isinstance(attachments, list)
    tables = [b for a in attachments for b in a["blocks"] if b["type"] == "table"]
    return len(tables[0]["rows"]) - 1 if tables else 0


def _report(count: int) -> Report:
    companies = [
        Company(company_id=f"c{n:05d}", name=f"Company {n}", limit=100, target_users=101 + n)
        for n in range(count)
    ]
    return build_report(companies, fetched_at=datetime.now(UTC))


async def test_slack_refuses_a_message_with_too_much_text_in_all(fake: FakeSlack) -> None:
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "🚀" * 1400}} for _ in range(5)
    ]  # 2,800 characters a block, within Slack's 3,000; 14,000 UTF-16 units in all
    with pytest.raises(SlackDeliveryError) as caught:
        await _publisher(fake).post("C0GENERAL", Message(text="many rockets", blocks=blocks))
    assert "msg_blocks_too_long" in str(caught.value)
    assert [c.error for c in fake.calls_to("chat.postMessage")] == ["msg_blocks_too_long"]


@pytest.mark.parametrize("code", ["msg_blocks_too_long", "invalid_blocks", "invalid_attachments"])
async def test_a_message_refused_as_too_long_or_invalid_is_posted_smaller(
    fake: FakeSlack, code: str
) -> None:
    message = render_top(_report(150), 40, now=datetime.now(UTC))
    fake.fail_next("chat.postMessage", code)
    ts = await _publisher(fake).post("C0GENERAL", message)
    refused, posted = fake.calls_to("chat.postMessage")
    assert refused.error == code and posted.ok and posted.response["ts"] == ts
    assert (_ranked(refused.params), _ranked(posted.params)) == (40, 20)
    assert "…and 130 more" in str(posted.params["attachments"])
    assert len(fake.messages("C0GENERAL")) == 1


async def test_the_smallest_refused_too_fails_after_two_smaller_tries(fake: FakeSlack) -> None:
    message = render_top(_report(150), 40, now=datetime.now(UTC))
    fake.fail_next("chat.postMessage", "msg_blocks_too_long", times=5)
    with pytest.raises(SlackDeliveryError):
        await _publisher(fake).post("C0GENERAL", message)
    calls = fake.calls_to("chat.postMessage")
    assert [_ranked(c.params) for c in calls] == [40, 20, 10]  # never the same payload twice


async def test_another_refusal_is_not_posted_smaller(fake: FakeSlack) -> None:
    message = render_top(_report(150), 40, now=datetime.now(UTC))
    fake.fail_next("chat.postMessage", "restricted_action")
    with pytest.raises(SlackDeliveryError):
        await _publisher(fake).post("C0GENERAL", message)
    assert len(fake.calls_to("chat.postMessage")) == 1
