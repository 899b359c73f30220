"""The Web API client the bot uses, and its retries: a 429 after Retry-After, a 5xx or a
dropped connection a bounded number of times (never again for a post that must not go
twice)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
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

MAX_RETRIES = 2
MAX_RETRY_AFTER_S = 30  # a longer Retry-After fails now with "try again in N s"


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
