"""The Web API calls the bot makes: post, upload, join, history, App Home, direct messages."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.web.file_upload_v2_result import FileUploadV2Result
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.errors import (
    ChannelNotFound,
    NotInChannel,
    SlackBusy,
    SlackDeliveryError,
    SlackRefused,
    refused_as_too_big,
)
from bot.publish.codes import _slack_code, error_code_and_status, slack_error
from bot.publish.retries import _without_server_retries, retry_after_s
from bot.publish.smaller import posting_smaller
from bot.render_slack import Block, Message

log = logging.getLogger(__name__)

HISTORY_PAGE_SIZE = 200
HISTORY_MAX_PAGES = 5

T = TypeVar("T")
Send = Callable[[], Awaitable[AsyncSlackResponse]]


class Poster(Protocol):
    """What the services need of Slack: Publisher below, or the demo's console."""

    async def post(
        self,
        channel: str,
        message: Message,
        *,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str: ...

    async def upload(
        self,
        channel: str,
        *,
        content: bytes,
        filename: str,
        title: str,
        initial_comment: str = "",
        thread_ts: str | None = None,
    ) -> None: ...

    async def find_message(
        self, channel: str, *, event_type: str, key: str, oldest: float
    ) -> str | None: ...

    async def ensure_member(self, channel: str) -> None: ...

    async def publish_home(self, user_id: str, blocks: list[Block]) -> None: ...

    async def open_dm(self, user_id: str) -> str: ...


class Interactive(Protocol):
    """What the overage cases need of Slack beyond posting: the messages and forms people
    act in, brought up to date after a change."""

    async def update(self, channel: str, ts: str, message: Message) -> None: ...

    async def message_at(self, channel: str, ts: str) -> dict[str, Any] | None: ...

    async def replace_answer(self, response_url: str, message: Message) -> None: ...

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> None: ...

    async def update_view(self, view_id: str, view: dict[str, Any]) -> None: ...


@dataclass(frozen=True, slots=True)
class TokenIdentity:
    """What auth.test says of the bot token: whose it is, and what it may do."""

    about: dict[str, Any]  # user, user_id, team, team_id, bot_id, url
    scopes: frozenset[str] | None  # from the x-oauth-scopes header; None if Slack sent none


class Publisher:
    """Posts, uploads and App Home views through one AsyncWebClient.

    A post that carries metadata (a digest, an alert) goes through a copy of the client that
    never re-sends it after a 5xx: its caller finds an earlier copy by that metadata and
    retries itself, and a 500 can come after Slack accepted the message.
    """

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client

    @functools.cached_property
    def _once(self) -> AsyncWebClient:
        return _without_server_retries(self._client)

    async def post(
        self,
        channel: str,
        message: Message,
        *,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Post to a channel (joining it first if it is public); returns the message ts. A
        message Slack refuses as too long or invalid goes again smaller (`posting_smaller`)."""
        client = self._client if metadata is None else self._once

        async def post_one(candidate: Message) -> str:
            def send() -> Awaitable[AsyncSlackResponse]:
                return client.chat_postMessage(
                    channel=channel, thread_ts=thread_ts, metadata=metadata, **_content(candidate)
                )

            response = await self._joining(send, action="message", channel=channel)
            return str(response["ts"])

        return await posting_smaller(post_one, message)

    async def upload(
        self,
        channel: str,
        *,
        content: bytes,
        filename: str,
        title: str,
        initial_comment: str = "",
        thread_ts: str | None = None,
    ) -> None:
        """Upload a file into the channel (or its thread), joining a public channel first.

        The file's bytes go to Slack once: when the channel turns out to need a join, only the
        completion that shares the uploaded file is sent again.
        """
        action = f"upload of {filename}"
        file_id = await self._send_file(content, filename=filename, action=action)

        def complete() -> Awaitable[AsyncSlackResponse]:
            # without `channel_id` the file is uploaded but stays private to the bot
            return self._client.files_completeUploadExternal(
                files=[{"id": file_id, "title": title}],
                channel_id=channel,
                initial_comment=initial_comment or None,
                thread_ts=thread_ts,
            )

        await self._joining(complete, action=action, channel=channel)

    async def _send_file(self, content: bytes, *, filename: str, action: str) -> str:
        """Slack's upload steps 1 and 2: a URL for the file, then its bytes there; the file ID."""

        def ask() -> Awaitable[AsyncSlackResponse]:
            return self._client.files_getUploadURLExternal(filename=filename, length=len(content))

        answer = await self._call(ask, action=action)
        url, file_id = answer["upload_url"], answer["file_id"]
        if not isinstance(url, str) or not isinstance(file_id, str):
            raise TypeError("files.getUploadURLExternal answered without a URL or a file ID")

        def send() -> Awaitable[FileUploadV2Result]:
            # the step files_upload_v2 takes, with the client's retries, timeout, proxy and TLS
            return self._client._upload_file(
                url=url,
                data=content,
                logger=log,
                timeout=self._client.timeout,
                proxy=self._client.proxy,
                ssl=self._client.ssl,
            )

        sent = await self._call(send, action=action)
        if sent.status != 200:
            log.warning("Slack %s failed: the upload URL answered HTTP %s", action, sent.status)
            raise SlackDeliveryError(f"Slack did not accept the {action}.")
        return file_id

    async def publish_home(self, user_id: str, blocks: list[Block]) -> None:
        def send() -> Awaitable[AsyncSlackResponse]:
            view = {"type": "home", "blocks": blocks}
            return self._client.views_publish(user_id=user_id, view=view)

        await self._call(send, action="App Home update")

    async def open_dm(self, user_id: str) -> str:
        """The ID of the bot's direct message with a person, opened if need be."""

        def send() -> Awaitable[AsyncSlackResponse]:
            return self._client.conversations_open(users=user_id)

        response = await self._call(send, action="direct message")
        return str(response["channel"]["id"])

    # --- the messages and forms of overage cases (Interactive) --------------------------------

    async def update(self, channel: str, ts: str, message: Message) -> None:
        """Replace a message's text and blocks for everyone in the channel; its attachments
        (a table) stay as they are."""

        def send() -> Awaitable[AsyncSlackResponse]:
            return self._client.chat_update(
                channel=channel, ts=ts, text=message.text, blocks=message.blocks
            )

        await self._call(send, action="message update", channel=channel)

    async def message_at(self, channel: str, ts: str) -> dict[str, Any] | None:
        """The top-level message posted at ts, as the channel holds it now; None if gone."""

        def send() -> Awaitable[AsyncSlackResponse]:
            return self._client.conversations_history(
                channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1
            )

        page = await self._call(send, action="history lookup", channel=channel)
        found = [m for m in page.get("messages") or [] if m.get("ts") == ts]
        return dict(found[0]) if found else None

    async def replace_answer(self, response_url: str, message: Message) -> None:
        """Replace an answer only its person sees (an ephemeral message) through the
        response_url of a click on it; a refusal as too long sends the smaller ones."""
        for candidate in (message, *message.smaller):
            try:
                answered = await AsyncWebhookClient(response_url).send(
                    text=candidate.text,
                    blocks=candidate.blocks,
                    response_type="ephemeral",
                    replace_original=True,
                )
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("a replaced answer did not reach Slack: %s", type(exc).__name__)
                return
            if answered.status_code == 200:
                return
            code = refused_as_too_big(str(answered.body or ""))
            log.warning("Slack refused a replaced answer: HTTP %s %s", answered.status_code, code)
            if code is None:
                return

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        """Open a modal; Slack takes it only within 3 s of the click that gave trigger_id."""

        def send() -> Awaitable[AsyncSlackResponse]:
            return self._client.views_open(trigger_id=trigger_id, view=view)

        await self._call(send, action="form")

    async def update_view(self, view_id: str, view: dict[str, Any]) -> None:
        def send() -> Awaitable[AsyncSlackResponse]:
            return self._client.views_update(view_id=view_id, view=view)

        await self._call(send, action="form update")

    async def identity(self) -> TokenIdentity:
        """auth.test: who the token belongs to, and the scopes it was granted."""
        response = await self._call(self._client.auth_test, action="token check")
        about = dict(response.data) if isinstance(response.data, dict) else {}
        return TokenIdentity(about, _granted_scopes(response.headers))

    async def channel_info(self, channel: str) -> dict[str, Any]:
        def send() -> Awaitable[AsyncSlackResponse]:
            return self._client.conversations_info(channel=channel)

        response = await self._call(send, action="channel lookup", channel=channel)
        return dict(response["channel"])

    async def find_message(
        self, channel: str, *, event_type: str, key: str, oldest: float
    ) -> str | None:
        """The ts of a top-level message since `oldest` whose metadata carries this key."""
        cursor: str | None = None
        for _ in range(HISTORY_MAX_PAGES):
            page = await self._history_page(channel, oldest=oldest, cursor=cursor)
            found = _matching_ts(page.get("messages") or [], event_type=event_type, key=key)
            if found is not None:
                return found
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return None
        log.warning("stopped looking for %s %s after %d pages", event_type, key, HISTORY_MAX_PAGES)
        return None

    async def _history_page(
        self, channel: str, *, oldest: float, cursor: str | None
    ) -> AsyncSlackResponse:
        def send() -> Awaitable[AsyncSlackResponse]:
            return self._client.conversations_history(
                channel=channel,
                oldest=f"{oldest:.6f}",
                include_all_metadata=True,
                limit=HISTORY_PAGE_SIZE,
                cursor=cursor,
            )

        return await self._joining(send, action="history lookup", channel=channel)

    async def ensure_member(self, channel: str) -> None:
        """Make sure the bot can post in the channel: join it when public, else NotInChannel."""
        if (await self.channel_info(channel)).get("is_member"):
            return
        await self._join(channel)

    async def _joining(self, send: Send, *, action: str, channel: str) -> AsyncSlackResponse:
        """Send; if the bot is not in the channel, join it and send once more. Nothing is
        looked up first: a post where the bot is a member (a channel it was invited to, the
        person's direct message with it) needs no scope beyond the post's own."""
        try:
            return await self._call(send, action=action, channel=channel)
        except NotInChannel as exc:
            if _slack_code(exc) != "not_in_channel":
                raise  # archived, restricted, a direct message: joining cannot help
            await self._join(channel)
        return await self._call(send, action=action, channel=channel)

    async def _join(self, channel: str) -> None:
        """Join a public channel. Whatever Slack refuses the join with (a private channel or a
        direct message, a missing channels:join, an archived channel), only an invitation can
        let the bot in; the log line of the refusal names Slack's code."""

        def send() -> Awaitable[AsyncSlackResponse]:
            return self._client.conversations_join(channel=channel)

        try:
            await self._call(send, action="channel join", channel=channel)
        except (NotInChannel, ChannelNotFound, SlackRefused) as exc:
            raise NotInChannel.cannot_join(channel) from exc
        log.info("joined the public channel %s", channel)

    async def _call(
        self, send: Callable[[], Awaitable[T]], *, action: str, channel: str | None = None
    ) -> T:
        try:
            return await send()
        except SlackApiError as exc:
            code, status = error_code_and_status(exc)
            log.warning("Slack %s failed: %s (HTTP %s)", action, code, status)
            wait = retry_after_s(getattr(exc.response, "headers", None))
            raise slack_error(
                code, status=status, action=action, channel=channel, retry_after=wait
            ) from exc
        except SlackRequestError as exc:  # the SDK refused to send it (a malformed argument)
            log.warning("Slack %s failed before it was sent", action)
            raise SlackDeliveryError(f"Slack did not accept the {action}.") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("Slack %s failed: %s", action, type(exc).__name__)
            raise SlackBusy(f"Slack could not be reached for the {action}.") from exc


def _content(message: Message) -> dict[str, Any]:
    return {
        "text": message.text,
        "blocks": message.blocks or None,
        "attachments": message.attachments or None,
    }


def _granted_scopes(headers: Mapping[str, Any]) -> frozenset[str] | None:
    """The token's scopes from auth.test's x-oauth-scopes header; None if Slack sent none."""
    for name, value in headers.items():
        if name.lower() == "x-oauth-scopes":
            text = value if isinstance(value, str) else ",".join(map(str, value))
            return frozenset(s.strip() for s in text.split(",") if s.strip())
    return None


def _matching_ts(messages: list[dict[str, Any]], *, event_type: str, key: str) -> str | None:
    for message in messages:
        metadata = message.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        if metadata.get("event_type") == event_type and payload.get("key") == key:
            return str(message["ts"])
    return None
