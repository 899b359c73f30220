"""The Slack edge: the Web API calls the bot makes, who the bot is, the Socket Mode connection;
Slack's error codes mapped to our errors, once."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
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
from slack_sdk.web.file_upload_v2_result import FileUploadV2Result
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.errors import (
    TOO_BIG,
    ChannelNotFound,
    NotInChannel,
    SlackAuthError,
    SlackBusy,
    SlackDeliveryError,
    SlackRefused,
    refused_as_too_big,
)
from bot.render_slack import Block, Message

log = logging.getLogger(__name__)

LEARN_TIMEOUT_S = 10.0  # how long the start waits for auth.test before going on without it
MAX_RETRIES = 2
MAX_RETRY_AFTER_S = 30  # a longer Retry-After fails now with "try again in N s"
HISTORY_PAGE_SIZE = 200
HISTORY_MAX_PAGES = 5

_AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked"})
_BUSY_ERRORS = frozenset(
    {"service_unavailable", "fatal_error", "internal_error", "request_timeout"}
)
# Slack's answers to a post, an upload or a join that only someone in the channel can cure,
# by inviting the bot there (the error lists of chat.postMessage, files.completeUploadExternal
# and conversations.join); a join refused for any other reason is told the same way
# (Publisher._join), and Slack's own code goes to the log
_CHANNEL_ERRORS = frozenset(
    {
        "not_in_channel",
        "is_archived",
        "method_not_supported_for_channel_type",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "team_access_not_granted",
    }
)

T = TypeVar("T")
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


# Slack's answers to apps.connections.open that say the app-level token will not do
_APP_TOKEN_ERRORS = _AUTH_ERRORS | {"missing_scope", "not_allowed_token_type", "no_permission"}


async def open_socket_mode(client: AsyncWebClient, app_token: str) -> str:
    """The WebSocket URL of a new Socket Mode connection, asked of Slack once: slack_sdk
    asks again forever for a refused token, and a bad one must stop the start."""
    try:
        opened = await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        code, status = error_code_and_status(exc)
        if code in _APP_TOKEN_ERRORS:
            raise SlackAuthError.app_token_refused(code) from None
        raise SlackRefused(
            f"Slack did not open a Socket Mode connection ({code or f'HTTP {status}'})."
        ) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise SlackBusy(
            f"Slack could not be reached to open Socket Mode ({type(exc).__name__})."
        ) from None
    return str(opened["url"])


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
        return ChannelNotFound.unknown(channel)
    if code in ("expired_trigger_id", "exchanged_trigger_id"):
        return SlackDeliveryError.form_too_late()
    if code in _CHANNEL_ERRORS:
        if code == "not_in_channel":
            return NotInChannel.public(channel)
        return NotInChannel.refused(channel)
    if status == 429 or code == "ratelimited":
        when = f"in {retry_after} s" if retry_after else "in a minute"
        return SlackBusy(
            f"Slack is rate-limiting us and did not complete the {action}{where}.",
            hint=f"Try again {when}.",
        )
    if code in _BUSY_ERRORS or status >= 500:
        return SlackBusy(f"Slack is busy and did not complete the {action}{where}.")
    return SlackRefused(f"Slack refused the {action}{where} ({code or f'HTTP {status}'}).")


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


class Identity:
    """Who the bot is, asked of Slack once (auth.test) and kept. Bolt's default asks again
    for every request that arrives before the first answer, 50 calls for a burst of 50."""

    def __init__(self, slack: AsyncWebClient) -> None:
        self._slack = slack
        self._lock = asyncio.Lock()
        self._known: AuthorizeResult | None = None

    async def authorize(self) -> AuthorizeResult:
        async with self._lock:
            if self._known is None:
                response = await self._slack.auth_test()
                self._known = AuthorizeResult.from_auth_test_response(
                    auth_test_response=response, bot_token=self._slack.token
                )
        return self._known

    async def learn(self) -> None:
        """Ask now, before any request waits on the answer; if Slack cannot be asked yet,
        the first request asks again."""
        try:
            async with asyncio.timeout(LEARN_TIMEOUT_S):
                await self.authorize()
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
            log.warning("auth.test at start failed (%s): asked again on the first request",
                        type(exc).__name__)  # fmt: skip


class SocketMode:
    """Bolt's Socket Mode connection: Slack pushes requests over it instead of HTTP."""

    def __init__(self, handler: AsyncSocketModeHandler) -> None:
        self._handler = handler

    @classmethod
    async def connect(cls, bolt: AsyncApp, client: AsyncWebClient, app_token: str) -> SocketMode:
        """Connect with a URL asked of Slack once (see open_socket_mode)."""
        handler = AsyncSocketModeHandler(bolt, app_token)
        handler.client.wss_uri = await open_socket_mode(client, app_token)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        return cls(handler)

    async def is_connected(self) -> bool:
        return bool(await self._handler.client.is_connected())

    async def close(self) -> None:
        await self._handler.close_async()  # type: ignore[no-untyped-call]


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


# --- a message Slack refuses as too long or invalid: a smaller one instead --------------------


# what Slack answers for a message whose blocks carry too much text, or that it cannot take
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


def _slack_code(exc: BaseException) -> str | None:
    """The Slack error code behind one of our errors, from the exception it was raised from."""
    cause = exc.__cause__
    return error_code_and_status(cause)[0] if isinstance(cause, SlackApiError) else None


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
