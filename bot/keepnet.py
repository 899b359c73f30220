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
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

import httpx

from bot.config import Settings
from bot.errors import (
    BadCredentials,
    NotReseller,
    PageSizeRefused,
    PlatformDown,
    RequestRejected,
    WrongAddress,
    list_refused,
)
from bot.overage import Company, parse_company, parse_limit

log = logging.getLogger(__name__)

# Counts upstream requests per command, for the command's log line.
upstream_calls: ContextVar[list[int] | None] = ContextVar("upstream_calls", default=None)

MAX_ATTEMPTS = 5
RETRY_BUDGET_S = 60.0  # per operation: a whole fetch, export or token request
MAX_BACKOFF_S = 8.0
EXTRA_PASSES = 3
MAX_PAGES = 10_000  # whatever totalNumberOfRecords claims
MAX_TOKEN_LIFETIME_S = 86_400.0
_TRANSIENT = frozenset({429, 500, 502, 503, 504})
# envelope statuses that say the request failed, read in any letter case; the spec gives
# ResultStatus no values, so any other status on a 2xx with data is a success
_FAILED_STATUSES = frozenset({"failed", "failure", "fail", "error", "unsuccessful"})
# the permission each call needs, as the token answer lists them
_PERMISSIONS = {
    "/api/companies/search": "companies/search|POST",
    "/api/companies/search/export": "companies/search/export|POST",
}


@dataclass(frozen=True, slots=True)
class Page:
    number: int
    total_records: int  # when not total_known: the rows up to this page, a lower bound
    total_pages: int
    rows: tuple[Company, ...]
    total_known: bool = True  # False when totalNumberOfRecords was missing or not a count
    size: int = 100  # the page size the server used (its pageSize), not the one asked for
    over_count: int | None = None  # limitExceededCompanyCount, when it sent a count

    @property
    def platform_count(self) -> int | None:
        """Keepnet's count of companies over their limit: limitExceededCompanyCount, else
        totalNumberOfRecords; None when it sent neither."""
        if self.over_count is not None:
            return self.over_count
        return self.total_records if self.total_known else None


@dataclass(frozen=True, slots=True)
class Fetch:
    """The over-limit list as one consistent read of the platform."""

    companies: tuple[Company, ...]
    fetched_at: datetime
    total_records: int  # the platform's count; the companies read when it sent none
    passes: int
    # Keepnet's own count of companies over their limit, as last read (see Page)
    platform_count: int | None = None


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
    permissions: frozenset[str] | None = None  # as the token answer listed them, folded


class KeepnetClient:
    """One per process: shares the token and the connection pool between all commands."""

    def __init__(
        self,
        settings: Settings,
        http: httpx.AsyncClient,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._http = http
        self._now = now
        self._sleep = sleep
        self._clock = clock  # seconds, for retry deadlines and token renewal
        self._token: _Token | None = None
        self._token_flight: asyncio.Task[_Token] | None = None
        self._slots = asyncio.Semaphore(settings.keepnet_concurrency)
        self._base = settings.keepnet_base_url.rstrip("/")

    @property
    def source(self) -> str:
        return self._base

    def _deadline(self) -> float:
        """When one operation stops retrying."""
        return self._clock() + RETRY_BUDGET_S

    # --- token ------------------------------------------------------------------------------

    async def claims(self) -> dict[str, Any]:
        """The access token's claims (role, company...), fetching a token if needed."""
        token = await self._current_token(self._deadline())
        return dict(token.claims)

    async def _current_token(self, deadline: float) -> _Token:
        token = self._token
        if token is not None and self._clock() < token.renew_at:
            return token
        flight = self._token_flight
        if flight is None:
            # single flight: every caller that arrives meanwhile shares this one request,
            # and its failure, instead of starting its own
            flight = asyncio.get_running_loop().create_task(self._fly(deadline))
            flight.add_done_callback(_settle)
            self._token_flight = flight
        return await asyncio.shield(flight)

    async def _fly(self, deadline: float) -> _Token:
        try:
            token = await self._request_token(deadline)
            self._token = token
            return token
        finally:
            self._token_flight = None

    def _forget_token(self, stale: _Token) -> None:
        if self._token is stale:
            self._token = None

    async def _request_token(self, deadline: float) -> _Token:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._settings.keepnet_client_id,
            "client_secret": self._settings.keepnet_client_secret,
            "scope": "api1",
        }
        # form-encoded on purpose: the token endpoint answers 500 to JSON
        answer = await self._send("POST", "/connect/token", deadline, data=form, token=False)
        if answer.response.status_code in (400, 401):
            raise BadCredentials("Keepnet did not accept the bot's client ID and secret.")
        self._raise_for_status(answer)
        body = _json(answer)
        value = str(body.get("access_token") or "")
        if not value:
            raise PlatformDown("The Keepnet platform sent a token answer without a token.")
        lifetime = min(_finite(body.get("expires_in"), default=3600.0), MAX_TOKEN_LIFETIME_S)
        # the role claim is only a hint (custom roles exist): a 403 is what proves it wrong
        claims = _jwt_claims(value)
        margin = min(60.0, lifetime * 0.1)  # renew shortly before it expires
        renew_at = self._clock() + max(lifetime - margin, 1.0)
        return _Token(value, renew_at, claims, _permissions(body.get("permissions")))

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
        return await self._search_page(page, text, self._deadline())

    async def _search_page(self, page: int, text: str, deadline: float) -> Page:
        answer = await self._api("/api/companies/search", self._search_body(page, text), deadline)
        data = _envelope_data(_json(answer))
        rows = data.get("results")
        listed = rows if isinstance(rows, list) else []
        # paged by the size the server says it used: it may serve fewer rows than asked
        served = parse_limit(data.get("pageSize"))
        size = served if served else self._settings.keepnet_page_size
        # counts as parse_limit reads them: NaN, Infinity or 1e400 are no count at all
        reported = parse_limit(data.get("totalNumberOfRecords"))
        total = (page - 1) * size + len(listed) if reported is None else reported
        listed_pages = parse_limit(data.get("totalNumberOfPages"))
        pages = _pages_for(total, size) if listed_pages is None else listed_pages
        companies = tuple(parse_company(r) for r in listed if isinstance(r, Mapping))
        return Page(
            page,
            total,
            pages,
            companies,
            total_known=reported is not None,
            size=size,
            over_count=parse_limit(data.get("limitExceededCompanyCount")),
        )

    async def fetch_over_limit(self) -> Fetch:
        """Every over-limit company, once, even while records move between pages.

        The first pass reads page 1, then the other pages concurrently, then page 1 again.
        Another pass (bounded) follows any sign that the list changed meanwhile: totals or
        page sizes that differ, a short page before the last, a company on two pages, a
        different page 1, or fewer companies than the total while a pass still finds new ones.
        Pages are counted by the page size the server reports, whatever KEEPNET_PAGE_SIZE asks.
        """
        deadline = self._deadline()
        first = await self._search_page(1, "", deadline)
        count = _page_count(first)
        if count == MAX_PAGES and first.total_known:
            log.warning("the platform reports %d records; reading at most %d pages",
                        first.total_records, MAX_PAGES)  # fmt: skip
        pages, again = await self._pass(first, range(2, count + 1), deadline)
        seen: dict[str, Company] = {}
        passes = 1
        while True:
            new, moved = _absorb(pages, again, seen)
            total = max((page.total_records for page in pages if page.total_known), default=0)
            short = len(seen) < total
            if not (moved or (short and new)) or passes > EXTRA_PASSES:
                break
            passes += 1
            count = max(_page_count(page) for page in pages)
            pages, again = await self._pass(None, range(1, count + 1), deadline)
        counted = _last_count([*pages, *([again] if again else [])])
        _log_outcome(len(seen), total, counted, passes=passes, moved=moved)
        return Fetch(tuple(seen.values()), self._now(), total or len(seen), passes, counted)

    async def _pass(
        self, first: Page | None, numbers: range, deadline: float
    ) -> tuple[list[Page], Page | None]:
        """Read the pages, then page 1 again: the pages in order, and that second page 1.

        The second read of page 1 is queued last, so it takes the free slot of the last wave.
        """
        again = [1] if len(numbers) + (first is not None) > 1 else []
        read = await self._read([*numbers, *again], deadline)
        pages = [page for page in read[: len(numbers)] if page is not None]
        if first is not None:
            pages.insert(0, first)
        return pages, read[-1] if again else None

    async def _read(self, numbers: Sequence[int], deadline: float) -> list[Page | None]:
        """Read pages in the order given, at most KEEPNET_CONCURRENCY at a time. A page after
        the end is not requested (None in its place): after an empty page, or after a short
        one when the platform gave no record count."""
        read: list[Page | None] = [None] * len(numbers)
        queue = iter(enumerate(numbers))
        end = MAX_PAGES + 1

        async def worker() -> None:
            nonlocal end
            for index, number in queue:
                if number > end:
                    continue
                page = await self._search_page(number, "", deadline)
                read[index] = page
                if not page.rows or (not page.total_known and len(page.rows) < page.size):
                    end = min(end, number)

        try:
            async with asyncio.TaskGroup() as group:  # one failure cancels the other pages
                for _ in range(min(self._settings.keepnet_concurrency, len(numbers))):
                    group.create_task(worker())
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        return read

    # --- export ---------------------------------------------------------------------------

    async def export(self, fmt: str) -> NativeFile:
        """The platform's own file of the overage list, exactly as it sent it."""
        export_type = "Csv" if fmt == "csv" else "Excel"
        body = {**self._search_body(1, ""), "exportType": export_type, "reportAllPages": True}
        answer = await self._api("/api/companies/search/export", body, self._deadline())
        response = answer.response
        content_type = response.headers.get("content-type", "application/octet-stream")
        if "json" in content_type:
            # an envelope, not the file: its refusal is the sentence
            _envelope_data(_json(answer))
            raise PlatformDown("The Keepnet platform answered the export with data, not a file.")
        default = "Companies.csv" if fmt == "csv" else "Companies.xlsx"
        return NativeFile(
            content=response.content,
            filename=_filename(response.headers.get("content-disposition", ""), default),
            content_type=content_type,
        )

    # --- transport ------------------------------------------------------------------------

    async def _api(self, path: str, body: dict[str, Any], deadline: float) -> _Answer:
        """An authorised call: one silent retry with a fresh token after a 401."""
        for attempt in (1, 2):
            token = await self._current_token(deadline)  # outside the slots: one shared flight
            async with self._slots:
                answer = await self._send("POST", path, deadline, json=body, token=token.value)
            if answer.response.status_code != 401:
                break
            self._forget_token(token)
            if attempt == 2:
                raise BadCredentials("Keepnet refused the bot's access token twice.")
        if answer.response.status_code == 403:
            raise _refusal(token, _PERMISSIONS.get(path, ""))
        self._raise_for_status(answer)
        return answer

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


def _settle(flight: asyncio.Task[_Token]) -> None:
    """Mark a token request's failure as seen even when every caller went away."""
    if not flight.cancelled():
        flight.exception()


# --- paging -----------------------------------------------------------------------------------


def _pages_for(records: int, size: int) -> int:
    return -(-records // max(size, 1))


def _page_count(page: Page) -> int:
    """Pages to read: from the record count, one more if totalNumberOfPages says so;
    without a count, up to MAX_PAGES (reading stops at the first short page)."""
    if not page.total_known:
        return MAX_PAGES if len(page.rows) >= page.size else page.number
    by_records = _pages_for(page.total_records, page.size)
    return min(max(1, by_records, min(page.total_pages, by_records + 1)), MAX_PAGES)


def _absorb(pages: list[Page], again: Page | None, seen: dict[str, Company]) -> tuple[bool, bool]:
    """Add one pass's rows to seen: whether any was new, and whether the list moved."""
    before = len(seen)
    on_pages: set[str] = set()
    twice = False
    for page in pages:
        for company in page.rows:
            key = company.ref
            twice = twice or key in on_pages
            on_pages.add(key)
            seen.setdefault(key, company)
    read = [*pages, *([again] if again else [])]
    totals = {page.total_records for page in read if page.total_known}
    sizes = {page.size for page in read}  # a server that changed its page size mid-pass
    short = any(
        page.total_known
        and len(page.rows) < page.size
        and page.number < _pages_for(page.total_records, page.size)
        for page in pages
    )
    one = next((page for page in pages if page.number == 1), None)
    changed = again is not None and one is not None and _keys(again.rows) != _keys(one.rows)
    moved = len(totals) > 1 or len(sizes) > 1 or short or twice or changed
    return len(seen) > before, moved


def _last_count(read: Sequence[Page]) -> int | None:
    """The platform's count from the last page read that carried one."""
    return next((p.platform_count for p in reversed(read) if p.platform_count is not None), None)


def _log_outcome(unique: int, total: int, counted: int | None, *, passes: int, moved: bool) -> None:
    """One warning line when the list is not complete, or was still changing at the end."""
    if counted is not None and unique < counted:
        log.warning(
            "over-limit list incomplete after %d passes: Keepnet counts %d companies over "
            "their limit; %d could be read",
            passes, counted, unique,
        )  # fmt: skip
    elif moved or unique < total:
        log.warning(
            "over-limit list: %d unique of %d reported after %d passes%s",
            unique, total, passes, " (still changing)" if moved else "",
        )  # fmt: skip


# --- pure helpers -------------------------------------------------------------------------


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


def _keys(rows: Iterable[Company]) -> list[str]:
    return [company.ref for company in rows]


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
    """Read both envelopes: status/validationMessages and isSuccess/messages. Only an explicit
    failure is a refusal: isSuccess false, or a status such as "Failed" or "ERROR" in any
    letter case; "Success", "SUCCESS" or a status never seen before, with data, is success."""
    status = body.get("status")
    said_failed = isinstance(status, str) and status.strip().casefold() in _FAILED_STATUSES
    if said_failed or body.get("isSuccess") is False:
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
    reason = _join(found).rstrip(" .") if found else ""
    return reason or "no reason given"  # the sentence adds its own full stop


def _join(messages: object) -> str:
    if isinstance(messages, list):
        text = "; ".join(str(m) for m in messages if m)
    else:
        text = str(messages or "no reason given")
    return text[:300]


def _finite(value: object, *, default: float) -> float:
    """A finite, non-negative JSON number; anything else (NaN, Infinity, text) is default."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    if isinstance(value, float) and not math.isfinite(value):
        return default
    return float(value) if value >= 0 else default


def _jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, read without verifying: we only need the role."""
    try:
        payload = token.split(".")[1]
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(decoded)
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _permissions(listed: object) -> frozenset[str] | None:
    """The token answer's permissions, folded; None when it listed none."""
    if not isinstance(listed, list):
        return None
    return frozenset(str(p).strip().casefold() for p in listed if isinstance(p, str))


def _refusal(token: _Token, needed: str) -> NotReseller:
    """A 403, said as precisely as the token allows: its role claim, or its permissions."""
    claims = token.claims
    role = claims.get("role")
    roles = [str(r) for r in role] if isinstance(role, list) else [str(role)]
    shown = " ".join(", ".join(roles).split())[:60]
    odd_role = shown if role is not None and "Reseller" not in roles else None
    access = str(claims.get("reseller_access", "")).casefold()
    roleless = role is None and access == "false"
    lacking = (
        bool(needed)
        and token.permissions is not None
        and needed.casefold() not in token.permissions
    )
    return list_refused(role=odd_role, roleless=roleless, missing=needed if lacking else None)


_FILENAME_STAR = re.compile(r"filename\*\s*=\s*(?:UTF-8'')?\"?([^\";]+)\"?", re.IGNORECASE)
_FILENAME = re.compile(r"filename\s*=\s*\"?([^\";]+)\"?", re.IGNORECASE)


def _filename(disposition: str, default: str) -> str:
    from urllib.parse import unquote

    match = _FILENAME_STAR.search(disposition) or _FILENAME.search(disposition)
    if not match:
        return default
    name = unquote(match.group(1)).strip().replace("/", "_").replace("\\", "_")
    return name[:120] or default
