"""The fake Slack Web API refuses what real Slack refuses, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.slack_api import FakeSlack

TOKEN = "xoxb-test-token"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    slack = FakeSlack(bot_token=TOKEN)
    slack.add_channel("C0SECRET", name="billing", private=True, member=False)
    slack.add_channel("G0INSIDE", name="finance", private=True, member=True)
    slack.add_channel("C0OUTSIDE", name="sales", member=False)
    await slack.start()
    yield slack
    await slack.stop()


@pytest.fixture
async def api(fake: FakeSlack) -> AsyncIterator[Any]:
    base = fake.base_url
    async with aiohttp.ClientSession() as session:

        async def call(method: str, token: str | None = TOKEN, **body: Any) -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with session.post(base + method, json=body, headers=headers) as response:
                answer: dict[str, Any] = await response.json()
                answer["_status"] = response.status
                answer["_retry_after"] = response.headers.get("Retry-After")
                return answer

        yield call


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _table(rows: int, cells: int, text: str = "x") -> dict[str, Any]:
    row = [{"type": "raw_text", "text": text}] * cells
    return {"type": "table", "rows": [row] * rows}


def _button(text: str, action_id: str = "go") -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id}


async def test_a_missing_token_is_not_authed_and_a_wrong_one_invalid_auth(api: Any) -> None:
    assert (await api("auth.test", token=None))["error"] == "not_authed"
    wrong = await api("chat.postMessage", token="xoxb-wrong", channel="C0GENERAL", text="hi")
    assert (wrong["_status"], wrong["ok"], wrong["error"]) == (200, False, "invalid_auth")
    me = await api("auth.test")
    assert me["ok"] and me["team_id"] == "T0001" and me["user_id"] == "U0BOT"


async def test_fifty_one_blocks_are_invalid_blocks(api: Any) -> None:
    blocks = [_section("row")] * 51
    answer = await api("chat.postMessage", channel="C0GENERAL", text="t", blocks=blocks)
    assert answer["error"] == "invalid_blocks"
    fifty = await api("chat.postMessage", channel="C0GENERAL", text="t", blocks=blocks[:50])
    assert fifty["ok"]


async def test_text_over_forty_thousand_chars_is_msg_too_long(api: Any) -> None:
    answer = await api("chat.postMessage", channel="C0GENERAL", text="x" * 40_001)
    assert answer["error"] == "msg_too_long"


async def test_a_message_needs_text_or_blocks(api: Any) -> None:
    assert (await api("chat.postMessage", channel="C0GENERAL"))["error"] == "no_text"


@pytest.mark.parametrize(
    ("channel", "error"),
    [
        ("C0NOPE", "channel_not_found"),
        ("C0OUTSIDE", "not_in_channel"),
        ("C0SECRET", "channel_not_found"),  # private and the bot not in it: hidden from it
    ],
)
async def test_post_needs_a_known_channel_the_bot_is_in(api: Any, channel: str, error: str) -> None:
    assert (await api("chat.postMessage", channel=channel, text="hi"))["error"] == error


@pytest.mark.parametrize(
    "blocks",
    [
        pytest.param(
            [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}], id="header"
        ),
        pytest.param([_section("s" * 3001)], id="section-text"),
        pytest.param(
            [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}], id="fields"
        ),
        pytest.param([{"type": "actions", "elements": [_button("b" * 76)]}], id="button-text"),
        pytest.param([{"type": "actions", "elements": [_button("ok", "a" * 256)]}], id="action-id"),
        pytest.param([{**_section("s"), "block_id": "b" * 256}], id="block-id"),
        pytest.param(
            [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}], id="context"
        ),
        pytest.param([_table(2, 2), _table(2, 2)], id="two-tables-in-blocks"),
        pytest.param([_table(101, 2)], id="table-rows-in-blocks"),
    ],
)
async def test_block_kit_limits_are_invalid_blocks(api: Any, blocks: list[dict[str, Any]]) -> None:
    answer = await api("chat.postMessage", channel="C0GENERAL", text="t", blocks=blocks)
    assert answer["error"] == "invalid_blocks"
    assert answer["response_metadata"]["messages"]


async def test_blocks_at_the_limits_are_accepted(api: Any, fake: FakeSlack) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}},
        _section("s" * 3000),
        {"type": "actions", "elements": [_button("b" * 75)] * 25},
    ]
    attachments = [{"blocks": [_table(100, 20, text="xxxxx")]}]  # 10,000 characters in all
    # each its own message: together they carry more text than a message may (below)
    answer = await api("chat.postMessage", channel="C0GENERAL", text="t", blocks=blocks)
    assert answer["ok"], answer
    answer = await api("chat.postMessage", channel="C0GENERAL", text="t", attachments=attachments)
    assert answer["ok"], answer
    assert fake.posts[0].params["blocks"] == blocks
    assert fake.posts[1].params["attachments"] == attachments


async def test_too_much_text_in_all_is_msg_blocks_too_long(api: Any, fake: FakeSlack) -> None:
    """Slack sums the text of every block and attachment, in UTF-16 units (an emoji is two),
    and refuses past its limit, although each block is within its own."""
    rockets = [_section("🚀" * 1000) for _ in range(6)]  # 6,000 characters, 12,000 units
    answer = await api("chat.postMessage", channel="C0GENERAL", text="t", blocks=rockets)
    assert answer["ok"], answer
    one_more = [{"blocks": [_section("x")]}]
    for params in (
        {"blocks": [*rockets, _section("x")]},
        {"blocks": rockets, "attachments": one_more},
    ):
        answer = await api("chat.postMessage", channel="C0GENERAL", text="t", **params)
        assert answer["error"] == "msg_blocks_too_long"
    assert len(fake.posts) == 1


@pytest.mark.parametrize(
    ("attachments", "detail"),
    [
        pytest.param([{"blocks": [_table(101, 2)]}], "100 rows", id="rows"),
        pytest.param([{"blocks": [_table(2, 21)]}], "20 cells", id="cells"),
        pytest.param([{"blocks": [_table(2, 2), _table(2, 2)]}], "only_one_table", id="two"),
        pytest.param(
            [{"blocks": [_table(2, 2)]}, {"blocks": [_table(2, 2)]}],
            "only_one_table",
            id="two-in-two",
        ),
        pytest.param([{"blocks": [_table(100, 20, text="x" * 5 + "y")]}], "10000", id="chars"),
        pytest.param([{"blocks": [_section("s" * 3001)]}], "3000", id="other-block"),
        pytest.param(
            [{"blocks": [{**_table(2, 2), "column_settings": [None] * 21}]}],
            "column_settings",
            id="column-settings",
        ),
        pytest.param(
            [{"blocks": [{"type": "table", "rows": [[{"type": "mrkdwn", "text": "*x*"}]]}]}],
            "raw_text, raw_number or rich_text",
            id="cell-type",
        ),
    ],
)
async def test_table_limits_in_attachments_are_invalid_attachments(
    api: Any, fake: FakeSlack, attachments: list[dict[str, Any]], detail: str
) -> None:
    answer = await api("chat.postMessage", channel="C0GENERAL", text="t", attachments=attachments)
    assert answer["error"] == "invalid_attachments"
    assert detail in answer["response_metadata"]["messages"][0]
    assert fake.posts == []


async def test_a_table_among_the_top_level_blocks_is_accepted(api: Any, fake: FakeSlack) -> None:
    """The table-block page: a table goes "in the `attachments` or `blocks` fields"."""
    blocks = [_section("Biggest overages"), _table(100, 20, text="xxxxx")]  # 10,000 characters
    answer = await api("chat.postMessage", channel="C0GENERAL", text="t", blocks=blocks)
    assert answer["ok"], answer
    assert fake.posts[0].params["blocks"] == blocks


async def test_one_table_a_message_counting_blocks_and_attachments(api: Any) -> None:
    answer = await api(
        "chat.postMessage",
        channel="C0GENERAL",
        text="t",
        blocks=[_table(2, 2)],
        attachments=[{"blocks": [_table(2, 2)]}],
    )
    assert answer["error"] == "invalid_attachments"
    assert "only_one_table_allowed" in answer["response_metadata"]["messages"][0]


async def test_a_table_in_attachments_needs_text_or_blocks_beside_it(api: Any) -> None:
    """The table-block page: "You must include a value for one of either the top-level
    blocks or text arguments in the message payload." """
    alone = [{"blocks": [_table(2, 2)]}]
    assert (await api("chat.postMessage", channel="C0GENERAL", attachments=alone))[
        "error"
    ] == "no_text"
    with_text = await api("chat.postMessage", channel="C0GENERAL", text="t", attachments=alone)
    assert with_text["ok"]


async def test_a_home_view_may_hold_a_table(api: Any, fake: FakeSlack) -> None:
    """The published Block Kit schema admits a table among a home view's blocks."""
    view = {"type": "home", "blocks": [_section("x"), _table(2, 2)]}
    assert (await api("views.publish", user_id="U1", view=view))["ok"]
    too_big = {"type": "home", "blocks": [_table(101, 2)]}
    assert (await api("views.publish", user_id="U1", view=too_big))["error"] == "invalid_blocks"
    assert len(fake.home_views) == 1


async def test_blocks_over_twelve_thousand_characters_of_text_are_msg_blocks_too_long(
    api: Any, fake: FakeSlack
) -> None:
    """Every text counts, the options of a select too; a table's cells do not."""
    options = [
        {"text": {"type": "plain_text", "text": "o" * 40}, "value": f"v{n}"} for n in range(100)
    ]
    select = {"type": "static_select", "action_id": "pick", "options": options}
    at_the_limit = [
        _section("s" * 3000),
        _section("s" * 3000),
        _section("s" * 2000),
        {"type": "actions", "elements": [select]},  # 4,000 characters of options
        _table(100, 20, text="xxxxx"),
    ]
    accepted = await api("chat.postMessage", channel="C0GENERAL", text="t", blocks=at_the_limit)
    assert accepted["ok"], accepted
    over = [*at_the_limit, {"type": "context", "elements": [{"type": "mrkdwn", "text": "!"}]}]
    refused = await api("chat.postMessage", channel="C0GENERAL", text="t", blocks=over)
    assert refused["error"] == "msg_blocks_too_long"
    assert "12001" in refused["response_metadata"]["messages"][0]
    update = await api("chat.update", channel="C0GENERAL", ts=accepted["ts"], text="t", blocks=over)
    assert update["error"] == "msg_blocks_too_long"
    assert len(fake.posts) == 1


async def test_a_response_url_answer_is_checked_like_a_post(fake: FakeSlack) -> None:
    good = {"text": "t", "blocks": [_section("ok")], "attachments": [{"blocks": [_table(2, 2)]}]}
    bad = [
        {"text": "t", "blocks": [_section("row")] * 51},
        {"text": "t", "blocks": [_table(2, 2), _table(2, 2)]},
        {"text": "x" * 40_001},
        {"text": "t", "attachments": [{"blocks": [_table(101, 2)]}]},
        {"response_type": "ephemeral"},
    ]
    async with aiohttp.ClientSession() as session:
        statuses = []
        for n, body in enumerate([good, *bad]):
            async with session.post(fake.response_url(f"r{n}"), json=body) as response:
                statuses.append(response.status)
    assert statuses == [200, 400, 400, 400, 400, 400]
    assert [r.error for r in fake.responses] == [
        None,
        "invalid_blocks",
        "invalid_blocks",
        "msg_too_long",
        "invalid_attachments",
        "no_text",
    ]
    assert [r.ok for r in fake.responses] == [True, False, False, False, False, False]


async def test_a_refused_answer_is_a_400_for_the_next_answer_only(fake: FakeSlack) -> None:
    fake.fail_response_next("expired_url")
    async with aiohttp.ClientSession() as session:
        statuses = []
        for n in range(2):
            async with session.post(fake.response_url(f"r{n}"), json={"text": "t"}) as response:
                statuses.append(response.status)
    assert statuses == [400, 200]
    assert [r.error for r in fake.responses] == ["expired_url", None]


async def test_a_held_reply_comes_only_after_release(api: Any, fake: FakeSlack) -> None:
    fake.hold_next("chat.postMessage")
    sent = asyncio.create_task(api("chat.postMessage", channel="C0GENERAL", text="held"))
    for _ in range(1000):
        if fake.holding("chat.postMessage"):
            break
        await asyncio.sleep(0.01)
    assert fake.holding("chat.postMessage") == 1
    assert not sent.done() and len(fake.posts) == 1  # carried out, its reply not sent yet
    fake.release()
    assert (await sent)["ok"] and fake.holding("chat.postMessage") == 0
    assert (await api("chat.postMessage", channel="C0GENERAL", text="next"))["ok"]  # not held


async def test_history_is_newest_first_with_metadata_only_when_asked(api: Any) -> None:
    first = await api("chat.postMessage", channel="C0GENERAL", text="one")
    metadata = {"event_type": "overage_digest", "event_payload": {"key": "2024-01-01"}}
    second = await api("chat.postMessage", channel="C0GENERAL", text="two", metadata=metadata)
    await api("chat.postMessage", channel="C0GENERAL", text="reply", thread_ts=second["ts"])
    assert float(second["ts"]) > float(first["ts"])

    plain = await api("conversations.history", channel="C0GENERAL")
    assert [m["text"] for m in plain["messages"]] == ["two", "one"]
    assert all("metadata" not in m for m in plain["messages"])

    full = await api(
        "conversations.history", channel="C0GENERAL", include_all_metadata=True, oldest=first["ts"]
    )
    assert [m["metadata"] for m in full["messages"]] == [metadata]


async def test_join_works_for_public_channels_only(api: Any, fake: FakeSlack) -> None:
    private = await api("conversations.join", channel="G0INSIDE")
    assert private["error"] == "method_not_supported_for_channel_type"
    dm = await api("conversations.join", channel=fake.add_dm("U1"))
    assert dm["error"] == "method_not_supported_for_channel_type"
    assert (await api("conversations.join", channel="C0OUTSIDE"))["channel"]["is_member"]
    assert (await api("chat.postMessage", channel="C0OUTSIDE", text="now in"))["ok"]
    info = await api("conversations.info", channel="G0INSIDE")
    assert info["channel"]["is_private"] and info["channel"]["is_member"]


async def test_a_private_channel_the_bot_is_not_in_is_channel_not_found(api: Any) -> None:
    """As real Slack answers a bot that is not a member of a private channel."""
    for method in ("conversations.info", "conversations.join", "conversations.history"):
        assert (await api(method, channel="C0SECRET"))["error"] == "channel_not_found"
    url = await api("files.getUploadURLExternal", filename="x.csv", length=1)
    complete = await api(
        "files.completeUploadExternal", files=[{"id": url["file_id"]}], channel_id="C0SECRET"
    )
    assert complete["error"] == "channel_not_found"


async def test_ratelimited_fault_answers_429_with_retry_after(api: Any, fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", "ratelimited", retry_after=3, http_status=429)
    limited = await api("chat.postMessage", channel="C0GENERAL", text="hi")
    assert (limited["_status"], limited["_retry_after"], limited["error"]) == (
        429,
        "3",
        "ratelimited",
    )
    assert (await api("chat.postMessage", channel="C0GENERAL", text="hi"))["ok"]
    assert [c.error for c in fake.calls_to("chat.postMessage")] == ["ratelimited", None]
    assert len(fake.posts) == 1


async def test_views_publish_allows_one_hundred_blocks(api: Any, fake: FakeSlack) -> None:
    view = {"type": "home", "blocks": [_section("x")] * 100}
    assert (await api("views.publish", user_id="U1", view=view))["ok"]
    too_many = {"type": "home", "blocks": [_section("x")] * 101}
    assert (await api("views.publish", user_id="U1", view=too_many))["error"] == "invalid_blocks"
    assert len(fake.home_views) == 1


def test_run_in_thread_records_and_takes_faults_from_the_test_thread() -> None:
    fake = FakeSlack()
    with fake.run_in_thread() as base_url:
        fake.fail_next("auth.test", "fatal_error", http_status=500)
        assert _post_sync(base_url + "auth.test", {})[0] == 500
        admin = base_url.replace("/api/", "/_fake/fail_next")
        _post_sync(admin, {"method": "auth.test", "error": "account_inactive"})
        assert _post_sync(base_url + "auth.test", {})[1]["error"] == "account_inactive"
        status, answer = _post_sync(
            base_url + "chat.postMessage", {"channel": "C0GENERAL", "text": "hi"}
        )
        assert (status, answer["ok"]) == (200, True)
        response_status, _ = _post_sync(fake.response_url("cmd"), {"text": "done"})
        assert response_status == 200
        assert [c.method for c in fake.calls] == ["auth.test", "auth.test", "chat.postMessage"]
        assert fake.responses[0].name == "cmd" and fake.responses[0].body == {"text": "done"}


def _post_sync(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


async def test_a_scope_the_token_lacks_is_missing_scope_naming_it() -> None:
    """Each method needs its scope; a conversation look-up the scope of the conversation's
    type, so conversations.info on a direct message needs im:read, which the manifest does
    not grant."""
    slack = FakeSlack(bot_token=TOKEN, scopes=("chat:write", "channels:read"))
    await slack.start()
    try:
        async with aiohttp.ClientSession() as session:

            async def call(method: str, **body: Any) -> dict[str, Any]:
                headers = {"Authorization": f"Bearer {TOKEN}"}
                async with session.post(slack.base_url + method, json=body, headers=headers) as r:
                    answer: dict[str, Any] = await r.json()
                    return answer

            dm = slack.add_dm("U1")
            refused = await call("conversations.info", channel=dm)
            assert (refused["error"], refused["needed"]) == ("missing_scope", "im:read")
            assert refused["provided"] == "chat:write,channels:read"
            assert (await call("conversations.info", channel="C0GENERAL"))["ok"]
            assert (await call("chat.postMessage", channel=dm, text="hi"))["ok"]
            upload = await call("files.getUploadURLExternal", filename="x.csv", length=1)
            assert (upload["error"], upload["needed"]) == ("missing_scope", "files:write")
            assert (await call("conversations.join", channel="C0GENERAL"))["needed"] == (
                "channels:join"
            )
    finally:
        await slack.stop()


async def test_the_manifest_grants_what_the_bot_does_and_no_im_read(
    api: Any, fake: FakeSlack
) -> None:
    dm = fake.add_dm("U1")
    assert (await api("conversations.info", channel="C0GENERAL"))["ok"]
    assert (await api("conversations.info", channel="G0INSIDE"))["ok"]
    assert (await api("conversations.info", channel=dm))["needed"] == "im:read"
    assert (await api("conversations.history", channel=dm))["needed"] == "im:history"
    assert (await api("chat.postMessage", channel=dm, text="in the DM"))["ok"]
    opened = await api("conversations.open", users="U1")
    assert (opened["channel"]["id"], opened["already_open"]) == (dm, True)


async def test_a_direct_message_with_im_read_reads_as_slack_im_object() -> None:
    slack = FakeSlack(bot_token=TOKEN, scopes=("im:read",))
    await slack.start()
    try:
        dm = slack.add_dm("U7")
        async with aiohttp.ClientSession() as session:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            body = {"channel": dm}
            url = slack.base_url + "conversations.info"
            async with session.post(url, json=body, headers=headers) as response:
                info = (await response.json())["channel"]
        assert (info["id"], info["is_im"], info["user"]) == (dm, True, "U7")
        assert "is_member" not in info and "name" not in info
    finally:
        await slack.stop()


async def test_an_archived_channel_refuses_posts_uploads_and_joins(
    api: Any, fake: FakeSlack
) -> None:
    fake.add_channel("C0OLD", name="old", archived=True)
    fake.add_channel("C0OLDOUT", name="old-out", archived=True, member=False)
    assert (await api("chat.postMessage", channel="C0OLD", text="hi"))["error"] == "is_archived"
    assert (await api("conversations.join", channel="C0OLDOUT"))["error"] == "is_archived"
    url = await api("files.getUploadURLExternal", filename="x.csv", length=1)
    complete = await api(
        "files.completeUploadExternal", files=[{"id": url["file_id"]}], channel_id="C0OLD"
    )
    assert complete["error"] == "is_archived"
    assert (await api("conversations.history", channel="C0OLD"))["ok"]  # still readable


async def test_every_post_of_a_files_bytes_is_counted(api: Any, fake: FakeSlack) -> None:
    url = await api("files.getUploadURLExternal", filename="x.csv", length=3)
    fake.fail_upload_next(status=500)
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            async with session.post(url["upload_url"], data=b"a,b") as response:
                await response.read()
    assert [(b.file_id, b.length) for b in fake.bytes_received] == [(url["file_id"], 3)] * 2
    complete = await api(
        "files.completeUploadExternal", files=[{"id": url["file_id"]}], channel_id="C0OUTSIDE"
    )
    assert complete["error"] == "not_in_channel"
    await api("conversations.join", channel="C0OUTSIDE")
    again = await api(
        "files.completeUploadExternal", files=[{"id": url["file_id"]}], channel_id="C0OUTSIDE"
    )
    assert again["ok"]  # the uploaded file waits for a completion that can share it
    assert [u.content for u in fake.uploads] == [b"a,b"]
