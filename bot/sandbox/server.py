"""The sandbox Keepnet API: token, company search and export on loopback, with fault switches.

Request binding lives in binding.py, row selection in selection.py, the answers in answers.py,
the switches in switches.py, tokens in tokens.py and the export files in files.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.sandbox import answers, tokens
from bot.sandbox.binding import Query, bind, is_json_type
from bot.sandbox.data import advance, generate_companies, is_flagged, new_company_id
from bot.sandbox.files import XLSX_TYPE, csv_file, file_response, xlsx_file
from bot.sandbox.selection import ordered, select
from bot.sandbox.switches import Switches

Row = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_COUNTERS = {
    "/connect/token": "token_requests",
    "/api/companies/search": "search_requests",
    "/api/companies/search/export": "export_requests",
}
_CACHE_LIMIT = 64


def _sorted_like(row: Row, other: Mapping[str, Any], order_by: str) -> None:
    """Give row the other row's sort value under order_by, and keep it over its limit."""
    row[order_by] = other.get(order_by)
    if order_by == "targetUserCount":
        row["numberOfUsers"] = str(max(0, int(other.get(order_by) or 1) - 1))
    elif order_by == "numberOfUsers" and not is_flagged(row):
        row["numberOfUsers"] = str(max(0, int(row.get("targetUserCount") or 1) - 1))


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

    def _ordered(self, query: Query) -> list[Row]:
        unlimited_too = self.switches.unlimited_in_answer and query.flagged_only
        key = (*query.selection, unlimited_too)
        rows = self._cache.get(key)
        if rows is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            rows = select(self._sorted(query.order_by, query.ascending), query,
                          unlimited_too=unlimited_too)  # fmt: skip
            self._cache[key] = rows
        return rows

    def _sorted(self, order_by: str, ascending: bool) -> list[Row]:
        key = ("sorted", order_by, ascending)
        rows = self._cache.get(key)
        if rows is None:
            rows = ordered(self._companies, order_by, ascending)
            self._cache[key] = rows
        return rows

    def _flagged_count(self, query: Query) -> int:
        """limitExceededCompanyCount: the companies over their limit among those query selects."""
        flagged = dataclasses.replace(query, flagged_only=True)
        return sum(1 for row in self._ordered(flagged) if is_flagged(row))

    def _shift(self, query: Query) -> None:
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
            _sorted_like(newcomer, top, query.order_by)
        self.companies = [newcomer, *self._companies]

    def _leave_and_join(self, query: Query) -> None:
        """The company on top leaves; a new flagged one joins last: the total stays the same."""
        rows = self._ordered(query)
        if not rows:
            return
        top, last = rows[0], rows[-1]
        joiner = generate_companies(1, seed=self._rng.randrange(2**31), over_limit=1)[0]
        # the last row's sort value and a larger ID than any: last under any orderBy
        _sorted_like(joiner, last, query.order_by)
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
            return answers.failure(self.switches, self.switches.fail_token_next.pop(0))
        if request.content_type != "application/x-www-form-urlencoded":
            # what the real server does with a JSON body
            return web.Response(status=500, text="Internal Server Error")
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        given_id, given_secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        if not (
            tokens.same(given_id, self.client_id) and tokens.same(given_secret, self.client_secret)
        ):
            return web.json_response({"error": "invalid_client"}, status=400)
        if "scope" not in form:  # the spec requires it
            return web.json_response({"error": "invalid_request"}, status=400)
        if str(form["scope"]).split() != ["api1"]:
            return web.json_response({"error": "invalid_scope"}, status=400)
        ttl = self.switches.token_ttl_s
        token, served = self._issue(ttl)
        body = {"access_token": token, "expires_in": ttl, "token_type": "Bearer",
                "scope": "api1", "permissions": tokens.permissions(served)}  # fmt: skip
        return web.json_response(body)

    def _issue(self, ttl_s: int) -> tuple[str, bool]:
        """A new token, and whether its role is one the search serves."""
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
        token = tokens.jwt(claims, self._signing_key)
        self._tokens[token] = _Issued(expires_at=now + ttl_s, role=role)
        return token, role in self.switches.served_roles

    # --- company search and export ------------------------------------------------------------

    async def _search(self, request: web.Request) -> web.StreamResponse:
        early = await self._gate(request)
        if early is not None:
            return early
        query, problems = await self._read_query(request, export=False)
        if query is None:
            return answers.rejected(self.switches, problems)
        flagged = self._flagged_count(query)
        response = answers.page(self._ordered(query), query, self.switches, flagged=flagged)
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
            return answers.rejected(self.switches, problems)
        if self.switches.export_envelope_next > 0:
            self.switches.export_envelope_next -= 1
            body = answers.envelope(self.switches, message="Sandbox export fault.", failed=True)
            return web.json_response(body)
        rows = self._ordered(query)
        if not query.all_pages:
            start = (query.page - 1) * query.size
            rows = rows[start : start + query.size]
        if query.export_type == "Csv":
            content = csv_file(rows).encode("utf-8")
            return file_response(content, "Companies.csv", "text/csv", "utf-8")
        workbook = await asyncio.to_thread(xlsx_file, rows)
        return file_response(workbook, "Companies.xlsx", XLSX_TYPE, None)

    async def _gate(self, request: web.Request) -> web.StreamResponse | None:
        """The faults first, then the token and its role; None lets the request through."""
        switches = self.switches
        if switches.hang_next > 0:
            switches.hang_next -= 1
            await self._pause(switches.hang_s)
        if switches.fail_next:
            return answers.failure(switches, switches.fail_next.pop(0))
        if switches.malformed_next > 0:
            switches.malformed_next -= 1
            text = '{"status": "Success", "data": {"resu'
            return web.Response(text=text, content_type=answers.JSON)
        issued = self._bearer(request)
        if issued is None:
            body = answers.envelope(switches, message="Unauthorized", failed=True)
            headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            return web.json_response(body, status=401, headers=headers)
        if issued.role not in switches.served_roles:
            message = "You are not authorized for this action."
            return web.json_response(answers.envelope(switches, message=message, failed=True),
                                     status=403)  # fmt: skip
        return None

    def _bearer(self, request: web.Request) -> _Issued | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        issued = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if issued is None or not tokens.signed(token.strip(), self._signing_key):
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
    ) -> tuple[Query | None, list[str]]:
        if not is_json_type(request.content_type):
            return None, [f"Content type '{request.content_type}' is not supported."]
        try:
            body = json.loads(await request.read())
        except ValueError:
            return None, ["The request body is not valid JSON."]
        if not isinstance(body, dict):
            return None, ["The request body must be a JSON object."]
        query, problems = bind(body, export=export)
        biggest = self.switches.max_page_size
        if query is not None and biggest is not None and query.size > biggest:
            return None, [f"'pageSize' must be at most {biggest}."]
        return query, problems

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
