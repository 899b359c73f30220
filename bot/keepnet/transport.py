"""The Keepnet transport: one request with bounded retries (429, 5xx, timeouts, dropped
connections, honouring Retry-After) within an operation's deadline, and HTTP statuses mapped
to our errors."""

from __future__ import annotations

import logging
import math
import random
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

import httpx

from bot.config import Settings
from bot.errors import PageSizeRefused, PlatformDown, RequestRejected, WrongAddress, list_refused
from bot.keepnet.answers import _Answer, _parse, _reason
from bot.logs import upstream_calls

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_BUDGET_S = 60.0  # per operation: a whole fetch, export or token request
MAX_BACKOFF_S = 8.0
_TRANSIENT = frozenset({429, 500, 502, 503, 504})


class Transport:
    """The connection to the platform that KeepnetClient is built on (it sets these)."""

    _settings: Settings
    _http: httpx.AsyncClient
    _now: Callable[[], datetime]
    _sleep: Callable[[float], Awaitable[None]]
    _clock: Callable[[], float]  # seconds, for retry deadlines and token renewal
    _base: str

    @property
    def source(self) -> str:
        return self._base

    def _deadline(self) -> float:
        """When one operation stops retrying."""
        return self._clock() + RETRY_BUDGET_S

    async def _send(
        self, method: str, path: str, deadline: float, *, token: str | bool, **kwargs: Any
    ) -> _Answer:
        """One request, with bounded retries on 429, 5xx, timeouts and connection errors;
        the retries stop at the operation's deadline."""
        headers = {"Authorization": f"Bearer {token}"} if isinstance(token, str) else {}
        for attempt in range(1, MAX_ATTEMPTS + 1):
            _count_call()
            asked: float | None = None
            try:
                response = await self._http.request(
                    method, self._base + path, headers=headers, **kwargs
                )
            except httpx.TimeoutException:
                failure: str = "did not answer in time"
            except httpx.TransportError as exc:
                failure = "could not be reached"
                log.debug("keepnet %s %s: %s", method, path, type(exc).__name__)
            else:
                log.debug("keepnet %s %s -> %d", method, path, response.status_code)
                body, readable = _parse(response)
                if response.status_code not in _TRANSIENT and readable:
                    return _Answer(response, body)
                failure = f"answered {response.status_code}"
                if response.status_code == 200:
                    failure = "sent an answer the bot could not read"
                asked = _retry_after(response, self._now())
            if attempt == MAX_ATTEMPTS:
                break
            delay = _backoff(attempt) if asked is None else asked
            if self._clock() + delay > deadline:
                if asked is not None:
                    raise _asked_to_wait(failure, asked)
                break
            log.info("keepnet %s %s %s; retry %d in %.1fs", method, path, failure, attempt, delay)
            await self._sleep(delay)
        raise PlatformDown(f"The Keepnet platform {failure}.")

    def _raise_for_status(self, answer: _Answer) -> None:
        """403 and 400 as their sentences; 401 is handled by the callers, who know which one;
        any other refusal, or a redirect, means the address is not the Keepnet API."""
        status = answer.response.status_code
        if status < 300:
            return
        if status == 403:
            raise list_refused()
        if status == 400:
            reason = _reason(answer.body)
            # a server that sets its own bound on the page size says so here
            refused = PageSizeRefused if "pagesize" in reason.casefold() else RequestRejected
            raise refused(f"The Keepnet platform rejected the request: {reason}.")
        raise WrongAddress(f"The Keepnet API at {_shown(self._base)} answered {_status(status)}.")


def _count_call() -> None:
    counter = upstream_calls.get()
    if counter is not None:
        counter[0] += 1


def _backoff(attempt: int) -> float:
    # exponential with full jitter: spreads retries of many callers apart
    return random.uniform(0, min(MAX_BACKOFF_S, 0.25 * 2**attempt))


def _retry_after(response: httpx.Response, now: datetime) -> float | None:
    """Seconds the platform asks us to wait (Retry-After: seconds or an HTTP date)."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if re.fullmatch(r"[0-9]{1,9}(?:\.[0-9]{1,6})?", value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def _asked_to_wait(failure: str, seconds: float) -> PlatformDown:
    wait = math.ceil(seconds)
    later = f"{wait} seconds" if wait < 120 else f"{math.ceil(wait / 60)} minutes"
    return PlatformDown(
        f"The Keepnet platform {failure} and asked the bot to wait {wait} s, "
        "longer than the bot waits for an answer.",
        hint=f"Try again in {later}.",
    )


def _status(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _shown(base: str) -> str:
    """The base URL as a person may see it: no user name, password, query or fragment."""
    try:
        url = httpx.URL(base)
    except httpx.InvalidURL:
        return "KEEPNET_BASE_URL"
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{url.path.rstrip('/')}"
