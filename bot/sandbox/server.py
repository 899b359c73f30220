"""The sandbox Keepnet API: token, company search and export on loopback, with fault switches."""

from __future__ import annotations

import asyncio
import base64
import csv
import dataclasses
import hashlib
import hmac
import io
import json
import math
import random
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.sandbox.data import advance, generate_companies, is_flagged, new_company_id

Row = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ORDER_FIELDS: dict[str, str] = {
    "CreateTime": "createTime",
    "CompanyName": "companyName",
    "TargetUserCount": "targetUserCount",
    "ResellerName": "resellerName",
    "LicenseEndDate": "licenseEndDate",
}
FILTER_FIELDS: dict[str, str] = {
    "CompanyName": "companyName",
    "ResellerName": "resellerName",
    "IndustryResourceId": "industryResourceId",
    "LicenseTypeResourceId": "licenseTypeResourceId",
    "TargetUserCount": "targetUserCount",
    "MonthlyActiveUser": "monthlyActiveUserCount",
    "LicenseEndDate": "licenseEndDate",
    "CreateTime": "createTime",
    "LicenceExpired": "licenceExpired",
}
OPERATORS = ("=", "!=", "Contains", ">", "<", ">=", "<=")
EXPORT_TYPES = ("Csv", "Excel")
MAX_PAGE_SIZE = 1000
PERMISSIONS = (
    "companies/search|POST",
    "companies/search/export|POST",
    "companies|GET",
    "target-users/search|POST",
)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Company Name", "companyName"),
    ("Reseller", "resellerName"),
    ("Industry", "industryName"),
    ("License Type", "licenseTypeName"),
    ("License Limit", "numberOfUsers"),
    ("Target Users", "targetUserCount"),
    ("Inactive Users", "inactiveTargetUserCount"),
    ("Deleted Users", "deletedTargetUserCount"),
    ("Monthly Users", "monthlyActiveUserCount"),
    ("Licence Expired", "licenceExpired"),
    ("License End Date", "licenseEndDate"),
    ("Create Time", "createTime"),
    ("Tags", "tags"),
)
_COUNTERS = {
    "/connect/token": "token_requests",
    "/api/companies/search": "search_requests",
    "/api/companies/search/export": "export_requests",
}
_CACHE_LIMIT = 64


@dataclass
class Switches:
    """Faults and behaviours a test turns on; read on every request, so change them any time."""

    latency_s: float = 0.0
    token_ttl_s: int = 3600
    token_max_calls: int | None = None
    fail_next: list[int] = field(default_factory=list)
    retry_after_s: float = 1
    fail_token_next: list[int] = field(default_factory=list)
    hang_next: int = 0
    hang_s: float = 30
    malformed_next: int = 0
    shift_every: int | None = None
    shift_remove: bool = False
    # once, right after page K is answered: the top company leaves, a new one joins at the end
    leave_join_after_page: int | None = None
    # sent as totalNumberOfRecords and totalNumberOfPages (NaN and Infinity as JSON spells them)
    reported_total: float | None = None
    export_envelope_next: int = 0  # exports answered 200 with a JSON "Failed" envelope
    role: str = "Reseller"
    use_is_success_envelope: bool = False

    def update(self, changes: Mapping[str, Any]) -> None:
        """Set the named switches, checking each name and value type first."""
        checked = {name: _switch_value(name, value) for name, value in changes.items()}
        for name, value in checked.items():
            setattr(self, name, value)


def _sorted_like(row: dict[str, Any], other: Mapping[str, Any], query: _Query) -> None:
    """Give row the other row's sort value under query's orderBy, and keep it over its limit."""
    name = ORDER_FIELDS[query.order_by]
    row[name] = other.get(name)
    if name == "targetUserCount":
        row["numberOfUsers"] = str(max(0, int(other.get(name) or 1) - 1))


def _switch_value(name: str, value: Any) -> Any:
    kinds = {f.name: f.type for f in dataclasses.fields(Switches)}
    if name not in kinds:
        raise ValueError(f"unknown switch: {name}")
    kind = str(kinds[name])
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "float" and number:
        return float(value)
    if kind.startswith("int") and _whole(value):
        return value
    if kind in ("int | None", "float | None") and value is None:
        return None
    if kind == "float | None" and number:
        return float(value)
    if kind == "list[int]" and isinstance(value, list) and all(_whole(v) for v in value):
        return list(value)
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "str" and isinstance(value, str):
        return value
    raise ValueError(f"switch {name} must be {kind}, got {value!r}")


@dataclass(frozen=True, slots=True)
class _Query:
    """A validated search or export body."""

    page: int
    size: int
    order_by: str
    ascending: bool
    flagged_only: bool
    text: str
    condition: str
    groups: tuple[tuple[str, tuple[tuple[str, str, Any], ...]], ...]
    export_type: str = ""
    all_pages: bool = False

    @property
    def selection(self) -> tuple[Any, ...]:
        """What decides the rows and their order, paging aside."""
        return (self.order_by, self.ascending, self.flagged_only, self.text, self.condition,
                self.groups)  # fmt: skip


@dataclass(slots=True)
class _Issued:
    """A token the sandbox handed out."""

    expires_at: float
    role: str
    calls: int = 0


class Sandbox:
    """A Keepnet platform on loopback, faithful to docs/keepnet-api.md, errors included."""

    def __init__(
        self,
        *,
        companies: int = 500,
        seed: int = 1,
        over_limit: int | None = None,
        client_id: str = "sandbox-client",
        client_secret: str = "sandbox-secret",
        role: str = "Reseller",
    ) -> None:
        self.switches = Switches(role=role)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_requests = 0
        self.search_requests = 0
        self.export_requests = 0
        self.max_in_flight = 0
        self.requests: list[tuple[str, int]] = []
        self._companies = generate_companies(companies, seed=seed, over_limit=over_limit)
        self._cache: dict[tuple[Any, ...], list[Row]] = {}
        self._rng = random.Random(seed * 7919 + 1)
        self._signing_key = secrets.token_bytes(32)
        self._company_id = f"sbx-reseller-{seed}"
        self._tokens: dict[str, _Issued] = {}
        self._in_flight = 0
        self._answered_searches = 0
        self._shifts = 0
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self._url = ""

    # --- data ---------------------------------------------------------------------------------

    @property
    def companies(self) -> list[Row]:
        """The current rows; assign a new list to change them (edits in place are not seen)."""
        return self._companies

    @companies.setter
    def companies(self, rows: list[Row]) -> None:
        self._companies = list(rows)
        self._cache.clear()

    def _ordered(self, query: _Query) -> list[Row]:
        key = query.selection
        rows = self._cache.get(key)
        if rows is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            rows = _select(self._sorted(query.order_by, query.ascending), query)
            self._cache[key] = rows
        return rows

    def _sorted(self, order_by: str, ascending: bool) -> list[Row]:
        key = ("sorted", order_by, ascending)
        rows = self._cache.get(key)
        if rows is None:
            name = ORDER_FIELDS[order_by]
            rows = sorted(self._companies, key=lambda r: str(r.get("companyResourceId") or ""))
            rows.sort(key=lambda r: _sort_value(r.get(name)), reverse=not ascending)
            self._cache[key] = rows
        return rows

    def _flagged_count(self, query: _Query) -> int:
        return len(self._ordered(dataclasses.replace(query, flagged_only=True)))

    def _shift(self, query: _Query) -> None:
        """Slide records between pages: a new flagged company on top, or the top one gone."""
        top = next(iter(self._ordered(query)), None)
        if self.switches.shift_remove:
            if top is not None:
                self.companies = [r for r in self._companies if r is not top]
            return
        taken = {str(r.get("companyResourceId")) for r in self._companies}
        newcomer = generate_companies(1, seed=self._rng.randrange(2**31), over_limit=1)[0]
        # a smaller ID than any before it wins every tie, so copying the top's sort value
        # puts the newcomer first under any orderBy
        newcomer["companyResourceId"] = self._shift_id(taken)
        if top is not None:
            _sorted_like(newcomer, top, query)
        self.companies = [newcomer, *self._companies]

    def _leave_and_join(self, query: _Query) -> None:
        """The company on top leaves; a new flagged one joins last: the total stays the same."""
        rows = self._ordered(query)
        if not rows:
            return
        top, last = rows[0], rows[-1]
        joiner = generate_companies(1, seed=self._rng.randrange(2**31), over_limit=1)[0]
        # the last row's sort value and a larger ID than any: last under any orderBy
        _sorted_like(joiner, last, query)
        ids = [str(r.get("companyResourceId") or "") for r in self._companies]
        joiner["companyResourceId"] = max(ids, default="") + "z"
        self.companies = [*(r for r in self._companies if r is not top), joiner]

    def _shift_id(self, taken: set[str]) -> str:
        self._shifts += 1
        candidate = f"0{999_999 - self._shifts:06d}" + new_company_id(self._rng, set())[:9]
        return candidate if candidate not in taken else new_company_id(self._rng, taken)

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def issued_tokens(self) -> list[str]:
        """Every access token handed out so far, oldest first."""
        return list(self._tokens)

    @property
    def url(self) -> str:
        """Base URL once started, e.g. http://127.0.0.1:54321 (no trailing slash)."""
        if not self._url:
            raise RuntimeError("the sandbox is not running")
        return self._url

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._runner is not None:
            raise RuntimeError("the sandbox is already running")
        self._stopping = asyncio.Event()
        runner = web.AppRunner(
            self._app(), access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port, backlog=1024)
        await site.start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        self._url = f"http://{bound_host}:{bound_port}"
        return self._url

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stopping.set()  # wakes hanging requests so shutdown is quick
        await runner.cleanup()
        self._url = ""

    @contextmanager
    def run_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve on a background thread's own event loop; yields the base URL."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="keepnet-sandbox", daemon=True)
        thread.start()
        try:
            yield asyncio.run_coroutine_threadsafe(self.start(host, port), loop).result(30)
        finally:
            with suppress(Exception):
                asyncio.run_coroutine_threadsafe(self.stop(), loop).result(30)
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def serve_forever(self, host: str = "127.0.0.1", port: int = 8081) -> None:
        """Serve until interrupted (Ctrl-C), printing the URL and the credentials to use."""
        with suppress(KeyboardInterrupt):
            asyncio.run(self._serve(host, port))

    async def _serve(self, host: str, port: int) -> None:
        url = await self.start(host, port)
        print(f"Keepnet sandbox serving {len(self._companies)} companies at {url}", flush=True)
        print(f"  KEEPNET_BASE_URL={url}", flush=True)
        print(f"  KEEPNET_CLIENT_ID={self.client_id}", flush=True)
        print(f"  KEEPNET_CLIENT_SECRET={self.client_secret}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._observe])
        app.router.add_post("/connect/token", self._token)
        app.router.add_post("/api/companies/search", self._search)
        app.router.add_post("/api/companies/search/export", self._export)
        app.router.add_post("/_sandbox/switches", self._set_switches)
        app.router.add_post("/_sandbox/advance", self._advance)
        app.router.add_get("/_sandbox/stats", self._stats)
        return app

    @web.middleware
    async def _observe(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Count, record and delay every platform request; admin requests pass untouched."""
        if request.path.startswith("/_sandbox/"):
            return await handler(request)
        counter = _COUNTERS.get(request.path)
        if counter:
            setattr(self, counter, getattr(self, counter) + 1)
        api = request.path.startswith("/api/")
        self._enter(api=api)
        status = 499  # stays so when the client goes away first
        try:
            await self._pause(self.switches.latency_s)
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except Exception:
            status = 500
            raise
        finally:
            self._in_flight -= int(api)
            self.requests.append((request.path, status))

    def _enter(self, *, api: bool) -> None:
        if api:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    async def _pause(self, seconds: float) -> None:
        if seconds > 0:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)

    # --- token --------------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.StreamResponse:
        if self.switches.fail_token_next:
            return self._failure(self.switches.fail_token_next.pop(0))
        if request.content_type != "application/x-www-form-urlencoded":
            # what the real server does with a JSON body
            return web.Response(status=500, text="Internal Server Error")
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        given_id, given_secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        if not (_same(given_id, self.client_id) and _same(given_secret, self.client_secret)):
            return web.json_response({"error": "invalid_client"}, status=400)
        if str(form.get("scope") or "api1").split() != ["api1"]:
            return web.json_response({"error": "invalid_scope"}, status=400)
        ttl = self.switches.token_ttl_s
        token = self._issue(ttl)
        body = {"access_token": token, "expires_in": ttl, "token_type": "Bearer",
                "scope": "api1", "permissions": list(PERMISSIONS)}  # fmt: skip
        return web.json_response(body)

    def _issue(self, ttl_s: int) -> str:
        now = time.time()
        role = self.switches.role
        claims = {
            "iss": "https://api.keepnetlabs.com",
            "aud": "api1",
            "nbf": int(now),
            "iat": int(now),
            "exp": int(now) + ttl_s,
            "jti": secrets.token_hex(8),
            "client_id": self.client_id,
            "role": role,
            "reseller_access": "true" if role == "Reseller" else "false",
            "user_company_resourceid": self._company_id,
            "user_company_name": "Keepnet Sandbox Reseller",
            "scope": ["api1"],
        }
        if not role:
            del claims["role"]  # a credential with no role at all
        token = _jwt(claims, self._signing_key)
        self._tokens[token] = _Issued(expires_at=now + ttl_s, role=role)
        return token

    # --- company search and export ------------------------------------------------------------

    async def _search(self, request: web.Request) -> web.StreamResponse:
        early = await self._gate(request)
        if early is not None:
            return early
        query, problems = await self._read_query(request, export=False)
        if query is None:
            return self._rejected(problems)
        rows = self._ordered(query)
        start = (query.page - 1) * query.size
        data = {
            "pageNumber": query.page,
            "pageSize": query.size,
            "totalNumberOfPages": math.ceil(len(rows) / query.size),
            "totalNumberOfRecords": len(rows),
            "limitExceededCompanyCount": self._flagged_count(query),
            "results": rows[start : start + query.size],
        }
        if self.switches.reported_total is not None:
            reported = self.switches.reported_total
            data["totalNumberOfPages"] = data["totalNumberOfRecords"] = reported
        response = web.json_response(self._envelope(data=data), dumps=json.dumps)
        self._answered_searches += 1
        every = self.switches.shift_every
        if every and self._answered_searches % every == 0:
            self._shift(query)
        if self.switches.leave_join_after_page == query.page:
            self.switches.leave_join_after_page = None
            self._leave_and_join(query)
        return response

    async def _export(self, request: web.Request) -> web.StreamResponse:
        early = await self._gate(request)
        if early is not None:
            return early
        query, problems = await self._read_query(request, export=True)
        if query is None:
            return self._rejected(problems)
        if self.switches.export_envelope_next > 0:
            self.switches.export_envelope_next -= 1
            body = self._envelope(message="Sandbox export fault.", failed=True)
            return web.json_response(body)
        rows = self._ordered(query)
        if not query.all_pages:
            start = (query.page - 1) * query.size
            rows = rows[start : start + query.size]
        if query.export_type == "Csv":
            return _file(_csv(rows).encode("utf-8"), "Companies.csv", "text/csv", "utf-8")
        workbook = await asyncio.to_thread(_xlsx, rows)
        return _file(workbook, "Companies.xlsx", XLSX_TYPE, None)

    async def _gate(self, request: web.Request) -> web.StreamResponse | None:
        """The faults first, then the token and its role; None lets the request through."""
        switches = self.switches
        if switches.hang_next > 0:
            switches.hang_next -= 1
            await self._pause(switches.hang_s)
        if switches.fail_next:
            return self._failure(switches.fail_next.pop(0))
        if switches.malformed_next > 0:
            switches.malformed_next -= 1
            return web.Response(text='{"status": "Success", "data": {"resu', content_type=_JSON)
        issued = self._bearer(request)
        if issued is None:
            body = self._envelope(message="Unauthorized", failed=True)
            headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            return web.json_response(body, status=401, headers=headers)
        if issued.role != "Reseller":
            body = self._envelope(message="You are not authorized for this action.", failed=True)
            return web.json_response(body, status=403)
        return None

    def _bearer(self, request: web.Request) -> _Issued | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        issued = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if issued is None or not _signed(token.strip(), self._signing_key):
            return None
        if time.time() >= issued.expires_at:
            return None
        issued.calls += 1
        limit = self.switches.token_max_calls
        if limit is not None and issued.calls > limit:
            return None
        return issued

    async def _read_query(
        self, request: web.Request, *, export: bool
    ) -> tuple[_Query | None, list[str]]:
        if request.content_type != _JSON:
            return None, [f"Content type '{request.content_type}' is not supported."]
        try:
            body = json.loads(await request.read())
        except ValueError:
            return None, ["The request body is not valid JSON."]
        if not isinstance(body, dict):
            return None, ["The request body must be a JSON object."]
        problems = _check_body(body, export=export)
        if problems:
            return None, problems
        return _query(body), []

    def _failure(self, status: int) -> web.Response:
        headers = {"Retry-After": _seconds(self.switches.retry_after_s)} if status == 429 else {}
        if status >= 500:
            return web.Response(status=status, text=f"{status} sandbox fault", headers=headers)
        body = self._envelope(message=f"Sandbox fault {status}.", failed=True)
        return web.json_response(body, status=status, headers=headers)

    def _rejected(self, problems: list[str]) -> web.Response:
        body = self._envelope(message="Validation failed.", messages=problems, failed=True)
        return web.json_response(body, status=400)

    def _envelope(
        self,
        *,
        data: Any = None,
        message: str | None = None,
        messages: list[str] | None = None,
        failed: bool = False,
    ) -> dict[str, Any]:
        if self.switches.use_is_success_envelope:
            return {"isSuccess": not failed, "message": message, "messages": messages,
                    "data": data}  # fmt: skip
        status = "Failed" if failed else "Success"
        return {"status": status, "message": message, "validationMessages": messages,
                "data": data}  # fmt: skip

    # --- admin --------------------------------------------------------------------------------

    async def _set_switches(self, request: web.Request) -> web.Response:
        try:
            changes = json.loads(await request.read())
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object of switch names and values")
            self.switches.update(changes)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response(dataclasses.asdict(self.switches))

    async def _advance(self, request: web.Request) -> web.Response:
        try:
            seed = json.loads(await request.read() or b"{}").get("seed", 2)
        except (ValueError, AttributeError):
            seed = None
        if not isinstance(seed, int) or isinstance(seed, bool):
            return web.json_response({"error": "seed must be a whole number"}, status=400)
        self.companies = advance(self._companies, seed=seed)
        flagged = sum(1 for row in self._companies if is_flagged(row))
        return web.json_response({"companies": len(self._companies), "flagged": flagged})

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    def stats(self) -> dict[str, Any]:
        """The counters, as GET /_sandbox/stats reports them."""
        return {
            "token_requests": self.token_requests,
            "search_requests": self.search_requests,
            "export_requests": self.export_requests,
            "max_in_flight": self.max_in_flight,
            "in_flight": self._in_flight,
            "companies": len(self._companies),
            "flagged": len([r for r in self._companies if is_flagged(r)]),
            "requests": [list(entry) for entry in self.requests],
        }


_JSON = "application/json"


# --- validation, as the real server does it ---------------------------------------------------


def _check_body(body: Mapping[str, Any], *, export: bool) -> list[str]:
    problems = _check_paging(body) + _check_order(body) + _check_filter(body.get("filter", ...))
    for name in ("isTargetUserCountExceededLimit", "isClustered", "reportAllPages"):
        if body.get(name) is not None and not isinstance(body[name], bool):
            problems.append(f"'{name}' must be true or false.")
    if export and body.get("exportType") not in EXPORT_TYPES:
        problems.append(f"'exportType' must be one of {', '.join(EXPORT_TYPES)}.")
    return problems


def _check_paging(body: Mapping[str, Any]) -> list[str]:
    problems = []
    page, size = body.get("pageNumber"), body.get("pageSize")
    if not isinstance(page, int) or isinstance(page, bool) or page < 1:
        problems.append("'pageNumber' must be a whole number greater than or equal to 1.")
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_PAGE_SIZE:
        problems.append(f"'pageSize' must be a whole number from 1 to {MAX_PAGE_SIZE}.")
    return problems


def _check_order(body: Mapping[str, Any]) -> list[str]:
    problems = []
    order_by = body.get("orderBy")
    if order_by is None:
        problems.append("'orderBy' is required and must not be null.")
    elif order_by not in ORDER_FIELDS:
        problems.append(f"'orderBy' must be one of {', '.join(ORDER_FIELDS)}; got {order_by!r}.")
    if "ascending" not in body:
        problems.append("'ascending' is required.")
    elif not isinstance(body["ascending"], bool):
        problems.append("'ascending' must be true or false.")
    return problems


def _check_filter(given: Any) -> list[str]:
    if given is ...:
        return ["'filter' is required."]
    if given is None:
        return ["'filter' must not be null."]
    if not isinstance(given, dict):
        return ["'filter' must be an object."]
    problems = [f"'filter.{name}' must not be null." for name, v in given.items() if v is None]
    if given.get("Condition") not in (None, "AND", "OR"):
        problems.append("'filter.Condition' must be AND or OR.")
    text = given.get("SearchInputTextValue")
    if text is not None and not isinstance(text, str):
        problems.append("'filter.SearchInputTextValue' must be a string.")
    groups = given.get("FilterGroups")
    if groups is not None and not isinstance(groups, list):
        return [*problems, "'filter.FilterGroups' must be a list."]
    for index, group in enumerate(groups or []):
        problems += _check_group(group, f"filter.FilterGroups[{index}]")
    return problems


def _check_group(group: Any, where: str) -> list[str]:
    if not isinstance(group, dict):
        return [f"'{where}' must be an object."]
    problems = [f"'{where}.{name}' must not be null." for name, v in group.items() if v is None]
    if group.get("Condition") not in (None, "AND", "OR"):
        problems.append(f"'{where}.Condition' must be AND or OR.")
    items = group.get("FilterItems")
    if items is not None and not isinstance(items, list):
        return [*problems, f"'{where}.FilterItems' must be a list."]
    for index, item in enumerate(items or []):
        problems += _check_item(item, f"{where}.FilterItems[{index}]")
    return problems


def _check_item(item: Any, where: str) -> list[str]:
    if not isinstance(item, dict):
        return [f"'{where}' must be an object."]
    problems = [f"'{where}.{name}' must not be null." for name, v in item.items() if v is None]
    if item.get("FieldName") not in FILTER_FIELDS:
        problems.append(f"'{where}.FieldName' must be one of {', '.join(FILTER_FIELDS)}.")
    if item.get("Operator") not in OPERATORS:
        problems.append(f"'{where}.Operator' must be one of {', '.join(OPERATORS)}.")
    if "Value" not in item or isinstance(item.get("Value"), dict | list):
        problems.append(f"'{where}.Value' must be a string, number or boolean.")
    return problems


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _query(body: Mapping[str, Any]) -> _Query:
    given = body["filter"]
    groups = tuple(
        (
            str(group.get("Condition") or "AND"),
            tuple(
                (item["FieldName"], item["Operator"], item["Value"])
                for item in group.get("FilterItems") or []
            ),
        )
        for group in given.get("FilterGroups") or []
    )
    return _Query(
        page=body["pageNumber"],
        size=body["pageSize"],
        order_by=body["orderBy"],
        ascending=body["ascending"],
        flagged_only=body.get("isTargetUserCountExceededLimit") is True,
        text=str(given.get("SearchInputTextValue") or "").strip().casefold(),
        condition=str(given.get("Condition") or "AND"),
        groups=groups,
        export_type=str(body.get("exportType") or ""),
        all_pages=body.get("reportAllPages") is True,
    )


# --- selecting and ordering rows --------------------------------------------------------------


def _select(rows: list[Row], query: _Query) -> list[Row]:
    return [row for row in rows if _matches(row, query)]


def _matches(row: Row, query: _Query) -> bool:
    if query.flagged_only and not is_flagged(row):
        return False
    if query.text and query.text not in str(row.get("companyName") or "").casefold():
        return False
    if not query.groups:
        return True
    verdicts = (_group_matches(row, condition, items) for condition, items in query.groups)
    return all(verdicts) if query.condition == "AND" else any(verdicts)


def _group_matches(row: Row, condition: str, items: tuple[tuple[str, str, Any], ...]) -> bool:
    verdicts = (_item_matches(row.get(FILTER_FIELDS[name]), op, value) for name, op, value in items)
    return all(verdicts) if condition == "AND" else any(verdicts)


def _item_matches(actual: Any, operator: str, wanted: Any) -> bool:
    if operator == "Contains":
        return str(wanted).casefold() in str(actual if actual is not None else "").casefold()
    left, right = _comparable(actual, wanted)
    if operator == "=":
        return bool(left == right)
    if operator == "!=":
        return bool(left != right)
    if left is None or right is None:
        return False
    comparisons = {">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}
    return bool(comparisons[operator])


def _comparable(actual: Any, wanted: Any) -> tuple[Any, Any]:
    """Both sides as numbers, booleans or folded text, whichever the row's value is."""
    if isinstance(actual, bool):
        return actual, str(wanted).strip().lower() == "true"
    if isinstance(actual, int | float):
        try:
            return actual, float(wanted)
        except (TypeError, ValueError):
            return actual, None
    if actual is None:
        return None, str(wanted).casefold()
    return str(actual).casefold(), str(wanted).casefold()


def _sort_value(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, bool | int | float):
        return (1, float(value))
    return (2, str(value).casefold())


# --- tokens -----------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _jwt(claims: Mapping[str, Any], key: bytes) -> str:
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def _signed(token: str, key: bytes) -> bool:
    head, _, signature = token.rpartition(".")
    expected = _b64(hmac.new(key, head.encode(), hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# --- files ------------------------------------------------------------------------------------


def _file(content: bytes, filename: str, content_type: str, charset: str | None) -> web.Response:
    disposition = f"attachment; filename={filename}; filename*=UTF-8''{filename}"
    headers = {"Content-Disposition": disposition}
    return web.Response(body=content, content_type=content_type, charset=charset, headers=headers)


def _cell(row: Row, key: str) -> Any:
    value = row.get(key)
    if key == "tags":
        return ", ".join(str(tag) for tag in value or [])
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return "" if value is None else value


def _csv(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([title for title, _ in EXPORT_COLUMNS])
    for row in rows:
        writer.writerow([_cell(row, key) for _, key in EXPORT_COLUMNS])
    return out.getvalue()


def _xlsx(rows: list[Row]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Companies")
    sheet.append([title for title, _ in EXPORT_COLUMNS])
    for row in rows:
        cells = []
        for _, key in EXPORT_COLUMNS:
            cell = WriteOnlyCell(sheet, value=_cell(row, key))
            if isinstance(cell.value, str):
                cell.data_type = "s"  # a name such as =HYPERLINK(...) is text, not a formula
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
