"""Async Keepnet client: token, search paging, export; raw JSON stops here and becomes Company."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from bot.config import Settings
from bot.errors import BadCredentials, NotReseller, PlatformDown, RequestRejected, UpstreamError
from bot.overage import Company, parse_company

log = logging.getLogger(__name__)

# Counts upstream requests per command, for the command's log line.
upstream_calls: ContextVar[list[int] | None] = ContextVar("upstream_calls", default=None)

MAX_ATTEMPTS = 5
RETRY_BUDGET_S = 60.0
MAX_BACKOFF_S = 8.0
MAX_RETRY_AFTER_S = 30.0
EXTRA_PASSES = 3
_TRANSIENT = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Page:
    number: int
    total_records: int
    total_pages: int
    rows: tuple[Company, ...]
    without_id: int = 0  # rows counted in the total that have no companyResourceId to key on


@dataclass(frozen=True, slots=True)
class Fetch:
    """The over-limit list as one consistent read of the platform."""

    companies: tuple[Company, ...]
    fetched_at: datetime
    total_records: int
    passes: int


@dataclass(frozen=True, slots=True)
class NativeFile:
    content: bytes
    filename: str
    content_type: str


@dataclass(frozen=True, slots=True)
class _Answer:
    """A response, with its JSON body parsed once (None when it is not JSON)."""

    response: httpx.Response
    body: Any = None


@dataclass(slots=True)
class _Token:
    value: str = field(repr=False)
    renew_at: float
    claims: dict[str, Any]


class KeepnetClient:
    """One per process: shares the token and the connection pool between all commands."""

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._http = http
        self._now = now
        self._sleep = sleep
        self._token: _Token | None = None
        self._token_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(settings.keepnet_concurrency)
        self._base = settings.keepnet_base_url.rstrip("/")

    @property
    def source(self) -> str:
        return self._base

    # --- token ------------------------------------------------------------------------------

    async def claims(self) -> dict[str, Any]:
        """The access token's claims (role, company...), fetching a token if needed."""
        token = await self._current_token()
        return dict(token.claims)

    async def _current_token(self) -> _Token:
        token = self._token
        if token is not None and time.monotonic() < token.renew_at:
            return token
        async with self._token_lock:  # single flight: one request for many callers
            token = self._token
            if token is None or time.monotonic() >= token.renew_at:
                token = await self._request_token()
                self._token = token
            return token

    def _forget_token(self, stale: _Token) -> None:
        if self._token is stale:
            self._token = None

    async def _request_token(self) -> _Token:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._settings.keepnet_client_id,
            "client_secret": self._settings.keepnet_client_secret,
            "scope": "api1",
        }
        # form-encoded on purpose: the token endpoint answers 500 to JSON
        answer = await self._send("POST", "/connect/token", data=form, token=False)
        if answer.response.status_code in (400, 401):
            raise BadCredentials("Keepnet did not accept the bot's client ID and secret.")
        _raise_for_status(answer)
        body = _json(answer)
        value = str(body.get("access_token") or "")
        if not value:
            raise PlatformDown("The Keepnet platform sent a token answer without a token.")
        lifetime = _number(body.get("expires_in"), default=3600)
        claims = _jwt_claims(value)
        _require_reseller(claims)
        margin = min(60.0, lifetime * 0.1)
        return _Token(value, time.monotonic() + max(lifetime - margin, 1.0), claims)

    # --- search ---------------------------------------------------------------------------

    def _search_body(self, page: int, text: str) -> dict[str, Any]:
        # every field explicit: the real server rejects a null filter or a missing orderBy
        return {
            "pageNumber": page,
            "pageSize": self._settings.keepnet_page_size,
            "orderBy": "CreateTime",
            "ascending": False,
            "isTargetUserCountExceededLimit": True,
            "filter": {"Condition": "AND", "SearchInputTextValue": text},
        }

    async def search_page(self, page: int, *, text: str = "") -> Page:
        answer = await self._api("/api/companies/search", self._search_body(page, text))
        data = _envelope_data(_json(answer))
        rows = data.get("results") or []
        total = int(_number(data.get("totalNumberOfRecords"), default=len(rows)))
        pages = int(_number(data.get("totalNumberOfPages"), default=self._pages_for(total)))
        companies = [parse_company(r) for r in rows if isinstance(r, Mapping)]
        keyed = tuple(c for c in companies if c.company_id)
        return Page(page, total, pages, keyed, without_id=len(companies) - len(keyed))

    async def fetch_over_limit(self) -> Fetch:
        """Every over-limit company, once, even while records move between pages."""
        first = await self.search_page(1)
        seen = {c.company_id: c for c in first.rows}
        # trust the record count over totalNumberOfPages: pages are derived from it
        by_records = self._pages_for(first.total_records)
        rest = range(2, max(by_records, min(first.total_pages, by_records + 1)) + 1)
        total, without_id = await self._pass(rest, seen, first.total_records)
        without_id += first.without_id
        passes = 1
        while len(seen) + without_id < total and passes <= EXTRA_PASSES:
            # a record slid past us while we paged: read every page again until none is new
            passes += 1
            before = len(seen)
            total, without_id = await self._pass(range(1, self._pages_for(total) + 1), seen, total)
            if len(seen) == before:
                break
        if len(seen) + without_id < total:
            log.warning("over-limit list: %d unique of %d reported", len(seen), total)
        return Fetch(tuple(seen.values()), self._now(), total, passes)

    def _pages_for(self, records: int) -> int:
        return math.ceil(records / self._settings.keepnet_page_size)

    async def _pass(self, pages: range, seen: dict[str, Company], total: int) -> tuple[int, int]:
        """Read `pages` into `seen`; the largest total reported, and the rows without an ID."""
        try:
            async with asyncio.TaskGroup() as group:  # one failure cancels the other pages
                tasks = [group.create_task(self.search_page(n)) for n in pages]
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        without_id = 0
        for page in (task.result() for task in tasks):
            total = max(total, page.total_records)
            without_id += page.without_id
            for company in page.rows:
                seen.setdefault(company.company_id, company)
        return total, without_id

    # --- export ---------------------------------------------------------------------------

    async def export(self, fmt: str) -> NativeFile:
        """The platform's own file of the overage list, exactly as it sent it."""
        export_type = "Csv" if fmt == "csv" else "Excel"
        body = {**self._search_body(1, ""), "exportType": export_type, "reportAllPages": True}
        response = (await self._api("/api/companies/search/export", body)).response
        default = "Companies.csv" if fmt == "csv" else "Companies.xlsx"
        return NativeFile(
            content=response.content,
            filename=_filename(response.headers.get("content-disposition", ""), default),
            content_type=response.headers.get("content-type", "application/octet-stream"),
        )

    # --- transport ------------------------------------------------------------------------

    async def _api(self, path: str, body: dict[str, Any]) -> _Answer:
        """An authorised call: one silent retry with a fresh token after a 401."""
        async with self._slots:
            for attempt in (1, 2):
                token = await self._current_token()
                answer = await self._send("POST", path, json=body, token=token.value)
                if answer.response.status_code != 401:
                    break
                self._forget_token(token)
                if attempt == 2:
                    raise BadCredentials("Keepnet refused the bot's access token twice.")
        _raise_for_status(answer)
        return answer

    async def _send(self, method: str, path: str, *, token: str | bool, **kwargs: Any) -> _Answer:
        """One request, with bounded retries on 429, 5xx, timeouts and connection errors."""
        headers = {"Authorization": f"Bearer {token}"} if isinstance(token, str) else {}
        deadline = time.monotonic() + RETRY_BUDGET_S
        for attempt in range(1, MAX_ATTEMPTS + 1):
            _count_call()
            try:
                response = await self._http.request(
                    method, self._base + path, headers=headers, **kwargs
                )
            except httpx.TimeoutException:
                failure: str = "did not answer in time"
                delay = _backoff(attempt)
            except httpx.TransportError as exc:
                failure = "could not be reached"
                delay = _backoff(attempt)
                log.debug("keepnet %s %s: %s", method, path, type(exc).__name__)
            else:
                log.debug("keepnet %s %s -> %d", method, path, response.status_code)
                body, readable = _parse(response)
                if response.status_code not in _TRANSIENT and readable:
                    return _Answer(response, body)
                failure = f"answered {response.status_code}"
                delay = _retry_after(response) or _backoff(attempt)
                if response.status_code == 200:
                    failure = "sent an answer the bot could not read"
            if attempt == MAX_ATTEMPTS or time.monotonic() + delay > deadline:
                break
            log.info("keepnet %s %s %s; retry %d in %.1fs", method, path, failure, attempt, delay)
            await self._sleep(delay)
        raise PlatformDown(f"The Keepnet platform {failure}.")


def _raise_for_status(answer: _Answer) -> None:
    """403 and 400 as their sentences; 401 is handled by the callers, who know which one."""
    status = answer.response.status_code
    if status < 400:
        return
    if status == 403:
        raise NotReseller("Keepnet refused the company list to this credential (403).")
    if status == 400:
        reason = _reason(answer.body)
        raise RequestRejected(f"The Keepnet platform rejected the request: {reason}.")
    raise UpstreamError(f"The Keepnet platform answered with an error ({status}).")


# --- pure helpers -------------------------------------------------------------------------


def _count_call() -> None:
    counter = upstream_calls.get()
    if counter is not None:
        counter[0] += 1


def _backoff(attempt: int) -> float:
    # exponential with full jitter: spreads retries of many callers apart
    return random.uniform(0, min(MAX_BACKOFF_S, 0.25 * 2**attempt))


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        return None


def _parse(response: httpx.Response) -> tuple[Any, bool]:
    """The JSON body, once, and whether the answer is usable: a 200 from an API route whose
    JSON does not parse is a transient fault; a file (the export) is not parsed at all."""
    if "json" not in response.headers.get("content-type", ""):
        return None, True
    try:
        return json.loads(response.content), True
    except ValueError:
        return None, response.status_code != 200


def _json(answer: _Answer) -> dict[str, Any]:
    if not isinstance(answer.body, dict):
        raise PlatformDown("The Keepnet platform sent an answer the bot could not read.")
    return answer.body


def _envelope_data(body: dict[str, Any]) -> dict[str, Any]:
    """Read both envelopes: status/validationMessages and isSuccess/messages."""
    failed = body.get("status") not in (None, "Success") or body.get("isSuccess") is False
    if failed:
        raise RequestRejected(f"The Keepnet platform rejected the request: {_reason(body)}.")
    data = body.get("data")
    if not isinstance(data, dict):
        raise PlatformDown("The Keepnet platform sent an answer without data.")
    return data


def _reason(body: Any) -> str:
    """The platform's own words for a refusal, from either envelope."""
    if not isinstance(body, dict):
        return "no reason given"
    found = body.get("validationMessages") or body.get("messages") or body.get("message")
    return _join(found) if found else "no reason given"


def _join(messages: object) -> str:
    if isinstance(messages, list):
        text = "; ".join(str(m) for m in messages if m)
    else:
        text = str(messages or "no reason given")
    return text[:300]


def _number(value: object, *, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return default


def _jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, read without verifying: we only need the role."""
    try:
        payload = token.split(".")[1]
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(decoded)
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _require_reseller(claims: Mapping[str, Any]) -> None:
    role = claims.get("role")
    if role is None:
        access = str(claims.get("reseller_access", "")).lower()
        if access in ("", "true"):
            return  # nothing says otherwise; a 403 will tell if it is wrong
        role = "not Reseller"
    roles = role if isinstance(role, list) else [role]
    if "Reseller" not in [str(r) for r in roles]:
        shown = ", ".join(str(r) for r in roles)[:60]
        raise NotReseller(f"The Keepnet credential's role is '{shown}', not Reseller.")


_FILENAME_STAR = re.compile(r"filename\*\s*=\s*(?:UTF-8'')?\"?([^\";]+)\"?", re.IGNORECASE)
_FILENAME = re.compile(r"filename\s*=\s*\"?([^\";]+)\"?", re.IGNORECASE)


def _filename(disposition: str, default: str) -> str:
    from urllib.parse import unquote

    match = _FILENAME_STAR.search(disposition) or _FILENAME.search(disposition)
    if not match:
        return default
    name = unquote(match.group(1)).strip().replace("/", "_").replace("\\", "_")
    return name[:120] or default
