"""The fake's HTTP server: the Web API endpoint, uploads, response_urls, Socket Mode and
the /_fake/ admin routes."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from aiohttp import web

from tests.fakes.slack_api.checks import _check_message, _Refusal
from tests.fakes.slack_api.methods import WebApiMethods
from tests.fakes.slack_api.records import BytesReceived, Call, Params, ResponsePost, _Fault

# values that arrive JSON-encoded inside form or query parameters
_JSON_PARAMS = ("blocks", "attachments", "metadata", "view", "files")


class FakeSlack(WebApiMethods):
    """The Slack Web API methods the bot uses, with Slack's checks, faults and a call record.

    Faults and channels are set from Python (safe from any thread) or, for a bot running in
    another process, by POSTing JSON to /_fake/fail_next, /_fake/fail_upload_next,
    /_fake/delay_next or /_fake/channels with the same fields as the methods.
    """

    # --- server ----------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 = any free port); returns the API base URL ending in /api/."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._on_api)
        app.router.add_post("/upload/v1/{file_id}", self._on_upload)
        app.router.add_post("/_response/{name}", self._on_response)
        app.router.add_post("/_fake/fail_next", self._on_admin_fail_next)
        app.router.add_post("/_fake/fail_upload_next", self._on_admin_fail_upload)
        app.router.add_post("/_fake/delay_next", self._on_admin_delay_next)
        app.router.add_post("/_fake/channels", self._on_admin_channel)
        app.router.add_get("/_socket", self._on_socket)
        self._loop = asyncio.get_running_loop()
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self._root = f"http://{bound_host}:{bound_port}/"
        return self.base_url

    async def stop(self) -> None:
        self.release()
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @contextmanager
    def run_in_thread(self) -> Iterator[str]:
        """Serve from a background thread with its own loop; yields the API base URL."""
        loop = asyncio.new_event_loop()
        started: concurrent.futures.Future[str] = concurrent.futures.Future()

        def serve() -> None:
            try:
                started.set_result(loop.run_until_complete(self.start()))
                loop.run_forever()
                loop.run_until_complete(self.stop())
            except BaseException as exc:  # reported to the test thread through `started`
                if not started.done():
                    started.set_exception(exc)
            finally:
                loop.close()

        thread = threading.Thread(target=serve, name="fake-slack", daemon=True)
        thread.start()
        try:
            base_url = started.result(timeout=10)
        except BaseException:
            thread.join(timeout=10)
            raise
        try:
            yield base_url
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)

    # --- Socket Mode ------------------------------------------------------------------------

    @property
    def socket_connections(self) -> int:
        """WebSocket connections open now (Socket Mode)."""
        return sum(not socket.closed for socket in self._sockets)

    def socket_ack(self, envelope_id: str) -> Params | None:
        """What the app acknowledged for an envelope, once it has."""
        with self._lock:
            return self._socket_acks.get(envelope_id)

    async def send_envelope(self, kind: str, payload: Params) -> str:
        """Push an event to the connected app as Slack does in Socket Mode; the envelope id."""
        open_sockets = [socket for socket in self._sockets if not socket.closed]
        if not open_sockets:
            raise RuntimeError("no app is connected over Socket Mode")
        envelope_id = f"env-{next(self._ids)}"
        await open_sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return envelope_id

    def send_envelope_threadsafe(self, kind: str, payload: Params) -> str:
        """send_envelope from a thread other than the fake's (the fake runs in a thread)."""
        if self._loop is None:
            raise RuntimeError("the fake is not started")
        future = asyncio.run_coroutine_threadsafe(self.send_envelope(kind, payload), self._loop)
        return future.result(timeout=10)

    async def _on_socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "connection_info": {"app_id": "A0001"},
            }
        )
        async for message in socket:
            if message.type is not web.WSMsgType.TEXT:
                continue
            with contextlib.suppress(ValueError, AttributeError):
                body = json.loads(message.data)
                with self._lock:
                    self._socket_acks[str(body["envelope_id"])] = body
        return socket

    # --- HTTP handlers ---------------------------------------------------------------------

    async def _on_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _read_params(request)
        token = _token_of(request, params)
        with self._lock:
            status, headers, body, error = self._answer(method, params, token)
            self._calls.append(Call(method, params, token, time.time(), error, body))
            delays = self._delays.get(method)
            hold = delays.pop(0) if delays else 0.0
            gates = self._holds.get(method)
            gate = gates.pop(0) if gates else None
        if hold:
            await asyncio.sleep(hold)
        if gate is not None:
            await self._wait_for(method, gate)
        return web.json_response(body, status=status, headers=headers)

    async def _wait_for(self, method: str, gate: asyncio.Event) -> None:
        with self._lock:
            self._holding[method] = self._holding.get(method, 0) + 1
        try:
            await gate.wait()
        finally:
            with self._lock:
                self._holding[method] -= 1

    def _answer(
        self, method: str, params: Params, token: str | None
    ) -> tuple[int, dict[str, str], Params, str | None]:
        if not token:
            return 200, {}, {"ok": False, "error": "not_authed"}, "not_authed"
        if method == "apps.connections.open":  # Socket Mode: the app-level token, not the bot's
            if token != self.app_token:
                return 200, {}, {"ok": False, "error": "invalid_auth"}, "invalid_auth"
            return (
                200,
                {},
                {"ok": True, "url": self._root.replace("http", "ws", 1) + "_socket"},
                None,
            )
        if token != self.bot_token:
            return 200, {}, {"ok": False, "error": "invalid_auth"}, "invalid_auth"
        fault = self._take_fault(method)
        if fault is not None:
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            return fault.http_status, headers, {"ok": False, "error": fault.error}, fault.error
        canned = self._canned.get(method)
        if canned:
            return 200, {}, {"ok": True, **canned.pop(0)}, None
        handler = self._handlers().get(method)
        if handler is None:
            return 200, {}, {"ok": False, "error": "unknown_method"}, "unknown_method"
        try:
            self._require_scope(method)
            scopes = {"x-oauth-scopes": ",".join(self.scopes)} if method == "auth.test" else {}
            return 200, scopes, {"ok": True, **handler(params)}, None
        except _Refusal as refusal:
            body: Params = {"ok": False, "error": refusal.code, **refusal.fields}
            if refusal.detail:
                body["response_metadata"] = {"messages": [f"[ERROR] {refusal.detail}"]}
            return 200, {}, body, refusal.code

    def _take_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        return fault

    async def _on_upload(self, request: web.Request) -> web.Response:
        content = await _read_upload_body(request)
        file_id = request.match_info["file_id"]
        with self._lock:
            self._bytes_received.append(BytesReceived(file_id, len(content)))
            if self._upload_faults:
                status = self._upload_faults.pop(0)
                return web.Response(status=status, text="upload failed", content_type="text/plain")
            pending = self._pending.get(file_id)
            if pending is None:
                return web.Response(status=404, text="unknown upload", content_type="text/plain")
            pending.content = content
        return web.Response(text=f"OK - {len(content)}", content_type="text/plain")

    async def _on_response(self, request: web.Request) -> web.Response:
        """Slack checks an answer like a chat.postMessage and refuses a bad one with HTTP 400."""
        body = await request.json()
        error: str | None = None
        try:
            _check_message(body if isinstance(body, dict) else {})
        except _Refusal as refusal:
            error = refusal.code
        with self._lock:
            if self._response_faults:
                error = error or self._response_faults.pop(0)
            name = request.match_info["name"]
            self._responses.append(ResponsePost(name, body, time.time(), error))
        if error is not None:
            return web.Response(status=400, text=error, content_type="text/plain")
        return web.json_response({"ok": True})

    async def _on_admin_fail_next(self, request: web.Request) -> web.Response:
        spec = await request.json()
        self.fail_next(
            spec["method"],
            spec["error"],
            times=int(spec.get("times", 1)),
            retry_after=spec.get("retry_after"),
            http_status=int(spec.get("http_status", 200)),
        )
        return web.json_response({"ok": True})

    async def _on_admin_fail_upload(self, request: web.Request) -> web.Response:
        spec = await request.json()
        self.fail_upload_next(status=int(spec.get("status", 500)), times=int(spec.get("times", 1)))
        return web.json_response({"ok": True})

    async def _on_admin_delay_next(self, request: web.Request) -> web.Response:
        spec = await request.json()
        self.delay_next(spec["method"], float(spec["seconds"]))
        return web.json_response({"ok": True})

    async def _on_admin_channel(self, request: web.Request) -> web.Response:
        spec = await request.json()
        self.add_channel(
            spec["id"],
            name=spec["name"],
            private=bool(spec.get("private", False)),
            member=bool(spec.get("member", True)),
            archived=bool(spec.get("archived", False)),
        )
        return web.json_response({"ok": True})


# --- request parsing ---------------------------------------------------------------------------


async def _read_params(request: web.Request) -> Params:
    params: Params = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            params.update(await request.json())
        else:
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    for key in _JSON_PARAMS:
        if isinstance(params.get(key), str):
            # text that is not JSON stays text: the method's checks refuse it like Slack does
            with contextlib.suppress(ValueError):
                params[key] = json.loads(params[key])
    return params


def _token_of(request: web.Request, params: Params) -> str | None:
    in_params = params.pop("token", None)  # never recorded among the params
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header.removeprefix("Bearer ").strip() or None
    return str(in_params) if in_params else None


async def _read_upload_body(request: web.Request) -> bytes:
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        part = form.get("file")
        if isinstance(part, web.FileField):
            return part.file.read()
        return str(part or "").encode()
    return await request.read()
