"""The Slack Web API calls the bot makes, with Slack's error codes mapped to our errors."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import (
    BackoffRetryIntervalCalculator,
    FixedValueRetryIntervalCalculator,
)
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.errors import (
    ChannelNotFound,
    NotInChannel,
    SlackAuthError,
    SlackBusy,
    SlackDeliveryError,
    SlackRefused,
)
from bot.render_slack import Block, Message

log = logging.getLogger(__name__)

MAX_RETRIES = 2
MAX_RETRY_AFTER_S = 30  # a longer Retry-After fails now with "try again in N s"
HISTORY_PAGE_SIZE = 200
HISTORY_MAX_PAGES = 5

_AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked"})
_BUSY_ERRORS = frozenset(
    {"service_unavailable", "fatal_error", "internal_error", "request_timeout"}
)

Send = Callable[[], Awaitable[AsyncSlackResponse]]


class SlackRetry(AsyncRetryHandler):
    """Retries a Web API call a bounded number of times: after a 429 when Retry-After is at
    most MAX_RETRY_AFTER_S (waiting that long), and, with `server_errors`, after any 5xx or
    a dropped connection. Without it only a connection that never opened is retried: a 500
    can come after Slack accepted a message, and sending it again would post it twice."""

    def __init__(
        self,
        max_retry_count: int = MAX_RETRIES,
        interval_calculator: RetryIntervalCalculator | None = None,
        *,
        server_errors: bool = True,
    ) -> None:
        super().__init__(max_retry_count, interval_calculator or BackoffRetryIntervalCalculator())
        self.server_errors = server_errors

    def without_server_errors(self) -> SlackRetry:
        return SlackRetry(self.max_retry_count, self.interval_calculator, server_errors=False)

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is not None:
            if response.status_code == 429:
                wait = retry_after_s(response.headers)
                return wait is None or wait <= MAX_RETRY_AFTER_S
            return self.server_errors and response.status_code >= 500
        if isinstance(error, aiohttp.ClientConnectorError):  # nothing reached Slack
            return True
        return self.server_errors and isinstance(
            error, aiohttp.ClientConnectionError | aiohttp.ClientOSError
        )

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is not None and response.status_code == 429:
            wait = retry_after_s(response.headers)
            duration = 1.0 if wait is None else float(wait)
        else:
            duration = self.interval_calculator.calculate_sleep_duration(state.current_attempt)
        state.next_attempt_requested = True
        await asyncio.sleep(duration)
        state.increment_current_attempt()


def retry_after_s(headers: Mapping[str, Any] | None) -> int | None:
    """Slack's Retry-After in whole seconds, from headers whose values may be lists."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            first = value[0] if isinstance(value, list | tuple) and value else value
            text = str(first).strip()
            return int(text) if text.isdigit() else None
    return None


def make_client(
    token: str, base_url: str, *, max_retries: int = MAX_RETRIES, retry_wait_s: float | None = None
) -> AsyncWebClient:
    """A client that retries connection errors, any 5xx and 429 (after Retry-After).

    `retry_wait_s` fixes the wait before a server-error retry; None backs off with jitter.
    """
    interval: RetryIntervalCalculator = (
        BackoffRetryIntervalCalculator()
        if retry_wait_s is None
        else FixedValueRetryIntervalCalculator(retry_wait_s)
    )
    handler = SlackRetry(max_retries, interval)
    return AsyncWebClient(token=token or None, base_url=base_url, retry_handlers=[handler])


def _without_server_retries(client: AsyncWebClient) -> AsyncWebClient:
    """The same client, but a 5xx or a dropped connection is final (429 is still retried)."""
    handlers: list[AsyncRetryHandler] = [
        h.without_server_errors() for h in client.retry_handlers if isinstance(h, SlackRetry)
    ]
    return AsyncWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        retry_handlers=handlers,
    )


def slack_error(
    code: str | None,
    *,
    status: int,
    action: str,
    channel: str | None = None,
    retry_after: int | None = None,
) -> SlackDeliveryError:
    """The one place that turns a Slack error code (or HTTP status) into our error."""
    where = f" in {channel}" if channel else ""
    if code in _AUTH_ERRORS:
        return SlackAuthError("Slack did not accept the bot token.")
    if code == "channel_not_found":
        return ChannelNotFound(
            f"Slack cannot find the channel {channel}, or it is private and the bot is not in it."
        )
    if code == "not_in_channel":
        return NotInChannel(f"The bot is not a member of the channel {channel}.")
    if status == 429 or code == "ratelimited":
        when = f"in {retry_after} s" if retry_after else "in a minute"
        return SlackBusy(
            f"Slack is rate-limiting us and did not complete the {action}{where}.",
            hint=f"Try again {when}.",
        )
    if code in _BUSY_ERRORS or status >= 500:
        return SlackBusy(f"Slack is busy and did not complete the {action}{where}.")
    return SlackRefused(f"Slack refused the {action}{where} ({code or f'HTTP {status}'}).")


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
        """Upload a file into the channel (or its thread), joining a public channel first."""

        def send() -> Awaitable[AsyncSlackResponse]:
            # without `channel` the file is uploaded but stays private to the bot
            return self._client.files_upload_v2(
                channel=channel,
                content=content,
                filename=filename,
                title=title,
                initial_comment=initial_comment or None,
                thread_ts=thread_ts,
            )

        await self._joining(send, action=f"upload of {filename}", channel=channel)

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
        """Send; if the bot is not in the channel and it is public, join and send once more."""
        try:
            return await self._call(send, action=action, channel=channel)
        except NotInChannel:
            await self._join(channel)
        return await self._call(send, action=action, channel=channel)

    async def _join(self, channel: str) -> None:
        info = await self.channel_info(channel)
        if info.get("is_private"):
            raise NotInChannel(f"The bot is not a member of the private channel {channel}.")

        def send() -> Awaitable[AsyncSlackResponse]:
            return self._client.conversations_join(channel=channel)

        await self._call(send, action="channel join", channel=channel)
        log.info("joined the public channel %s", channel)

    async def _call(
        self, send: Send, *, action: str, channel: str | None = None
    ) -> AsyncSlackResponse:
        try:
            return await send()
        except SlackApiError as exc:
            code, status = error_code_and_status(exc)
            log.warning("Slack %s failed: %s (HTTP %s)", action, code, status)
            wait = retry_after_s(getattr(exc.response, "headers", None))
            raise slack_error(
                code, status=status, action=action, channel=channel, retry_after=wait
            ) from exc
        except SlackRequestError as exc:  # the upload URL refused the file's bytes
            log.warning("Slack %s failed before completing", action)
            raise SlackDeliveryError(f"Slack did not accept the {action}.") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("Slack %s failed: %s", action, type(exc).__name__)
            raise SlackBusy(f"Slack could not be reached for the {action}.") from exc


# --- a message Slack refuses as too long or invalid: a smaller one instead --------------------

# what Slack answers for a message whose blocks carry too much text, or that it cannot take
TOO_BIG = frozenset(
    {
        "msg_blocks_too_long",
        "msg_too_long",
        "invalid_blocks",
        "invalid_blocks_format",
        "invalid_attachments",
        "too_many_attachments",
    }
)


def refused_as_too_big(answer: str) -> str | None:
    """Slack's too-long-or-invalid code in an error answer (a code, or a response_url's body
    that holds one); None for any other refusal."""
    return next((code for code in sorted(TOO_BIG) if code in answer), None)


async def posting_smaller(post: Callable[[Message], Awaitable[str]], message: Message) -> str:
    """Post the message; when Slack refuses it as too long or invalid, post each of its
    smaller versions (fewer rows, "…and N more") in turn, never the same payload again. Any
    other refusal, or the smallest refused too, travels on."""
    *larger, smallest = [message, *message.smaller]
    for candidate in larger:
        try:
            return await post(candidate)
        except SlackRefused as exc:
            code = _too_big_code(exc)
            if code is None:
                raise
            log.warning("Slack refused a message (%s): posting a smaller one", code)
    return await post(smallest)


def _too_big_code(exc: SlackRefused) -> str | None:
    cause = exc.__cause__
    if not isinstance(cause, SlackApiError):
        return None
    code, _ = error_code_and_status(cause)
    return code if code in TOO_BIG else None


def _content(message: Message) -> dict[str, Any]:
    return {
        "text": message.text,
        "blocks": message.blocks or None,
        "attachments": message.attachments or None,
    }


def error_code_and_status(exc: SlackApiError) -> tuple[str | None, int]:
    """Slack's error code (None when the answer was not Slack's JSON, a proxy's 404 page)
    and the HTTP status."""
    response = exc.response
    data = getattr(response, "data", None)
    code = data.get("error") if isinstance(data, dict) else None
    return (str(code) if code else None), int(getattr(response, "status_code", 0) or 0)


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
