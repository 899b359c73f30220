"""A local fake of the Slack Web API over real HTTP that records every call it receives."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

Params = dict[str, Any]

# values that arrive JSON-encoded inside form or query parameters
_JSON_PARAMS = ("blocks", "attachments", "metadata", "view", "files")

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT_CHARS = 40_000
MAX_TABLE_ROWS = 100
MAX_TABLE_CELLS = 20  # in one row
MAX_TABLE_CHARS = 10_000  # summed over every cell of the table


@dataclass(frozen=True, slots=True)
class Call:
    """One request to a Web API method, and how the fake answered it."""

    method: str
    params: Params
    token: str | None
    at: float
    error: str | None = None
    response: Params = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class ResponsePost:
    """One JSON body POSTed to a `response_url`, and the error Slack refused it with."""

    name: str
    body: Params
    at: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Upload:
    """A file whose upload was completed with files.completeUploadExternal."""

    file_id: str
    channel_id: str | None
    filename: str
    title: str
    initial_comment: str
    thread_ts: str | None
    content: bytes


@dataclass(slots=True)
class Channel:
    id: str
    name: str
    private: bool = False
    member: bool = True
    archived: bool = False


@dataclass(slots=True)
class _Fault:
    error: str
    times: int
    retry_after: int | None
    http_status: int


@dataclass(slots=True)
class _PendingFile:
    filename: str
    length: int
    content: bytes | None = None


class _Refusal(Exception):
    """Slack's `{"ok": false, "error": code}`, with the detail Slack gives for block errors."""

    def __init__(self, code: str, detail: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.detail = detail


class FakeSlack:
    """The Slack Web API methods the bot uses, with Slack's checks, faults and a call record.

    Faults and channels are set from Python (safe from any thread) or, for a bot running in
    another process, by POSTing JSON to /_fake/fail_next, /_fake/fail_upload_next,
    /_fake/delay_next or /_fake/channels with the same fields as the methods.
    """

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-token",
        app_token: str = "xapp-test-token",
        team_id: str = "T0001",
        bot_user_id: str = "U0BOT",
        scopes: tuple[str, ...] | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        # the bot token's scopes, sent in auth.test's x-oauth-scopes header (default: the manifest)
        self.scopes = _manifest_scopes() if scopes is None else scopes
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._responses: list[ResponsePost] = []
        self._uploads: list[Upload] = []
        self._messages: dict[str, list[Params]] = {}
        self._channels: dict[str, Channel] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._upload_faults: list[int] = []
        self._response_faults: list[str] = []
        self._delays: dict[str, list[float]] = {}
        self._holds: dict[str, list[asyncio.Event]] = {}
        self._gates: list[asyncio.Event] = []
        self._holding: dict[str, int] = {}
        self._pending: dict[str, _PendingFile] = {}
        self._ids = itertools.count(1)
        self._dms: dict[str, str] = {}
        self._canned: dict[str, list[Params]] = {}
        self._last_us = 0
        self._root = ""
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_acks: dict[str, Params] = {}
        self.add_channel("C0GENERAL", name="general")

    # --- set-up ----------------------------------------------------------------------------

    def add_channel(
        self,
        id: str,
        *,
        name: str,
        private: bool = False,
        member: bool = True,
        archived: bool = False,
    ) -> None:
        with self._lock:
            self._channels[id] = Channel(id, name, private, member, archived)
            self._messages.setdefault(id, [])

    def fail_next(
        self,
        method: str,
        error: str,
        *,
        times: int = 1,
        retry_after: int | None = None,
        http_status: int = 200,
    ) -> None:
        """Answer the next `times` calls of `method` with `error` (and that HTTP status)."""
        with self._lock:
            fault = _Fault(error, times, retry_after, http_status)
            self._faults.setdefault(method, []).append(fault)

    def answer_next(self, method: str, body: Params) -> None:
        """Answer the next call of `method` with `{"ok": true, **body}` and do nothing else:
        an answer that is well-formed JSON but lacks what the method normally returns."""
        with self._lock:
            self._canned.setdefault(method, []).append(dict(body))

    def delay_next(self, method: str, seconds: float) -> None:
        """Carry out the next call of `method` at once (a post is stored) but hold its reply
        for `seconds`: the window in which the caller does not yet know it succeeded."""
        with self._lock:
            self._delays.setdefault(method, []).append(float(seconds))

    def fail_response_next(self, error: str = "expired_url", *, times: int = 1) -> None:
        """Refuse the next `times` answers POSTed to any response_url with HTTP 400 `error`."""
        with self._lock:
            self._response_faults.extend([error] * times)

    def hold_next(self, method: str) -> None:
        """Carry out the next call of `method` at once (a post is stored) but hold its reply
        until `release()`: a wait as long as the test needs, timed by nothing."""
        with self._lock:
            gate = asyncio.Event()  # waited on in the fake's loop, set through that loop
            self._gates.append(gate)
            self._holds.setdefault(method, []).append(gate)

    def release(self) -> None:
        """Send every reply held by `hold_next`, and any whose call has not arrived yet."""
        with self._lock:
            gates, self._gates = self._gates, []
        for gate in gates:
            if self._loop is None:
                gate.set()
            else:  # safe from any thread
                self._loop.call_soon_threadsafe(gate.set)

    def holding(self, method: str) -> int:
        """How many calls of `method` are waiting now for `release()` to get their reply."""
        with self._lock:
            return self._holding.get(method, 0)

    def fail_upload_next(self, *, status: int = 500, times: int = 1) -> None:
        """Answer the next `times` POSTs to an upload URL with `status`."""
        with self._lock:
            self._upload_faults.extend([status] * times)

    @property
    def base_url(self) -> str:
        """The API base URL (ending in /api/) once started."""
        if not self._root:
            raise RuntimeError("the fake is not started")
        return f"{self._root}api/"

    def response_url(self, name: str) -> str:
        """A URL on the fake that records what is POSTed to it (a slash command's response_url)."""
        if not self._root:
            raise RuntimeError("start the fake before asking for a response_url")
        return f"{self._root}_response/{name}"

    # --- what was received (safe to read from another thread) ------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        """Every call of `method`, refused ones included (see `Call.ok`)."""
        return [call for call in self.calls if call.method == method]

    def _delivered(self, method: str) -> list[Call]:
        return [call for call in self.calls_to(method) if call.ok]

    @property
    def posts(self) -> list[Call]:
        """The chat.postMessage calls Slack accepted."""
        return self._delivered("chat.postMessage")

    @property
    def ephemerals(self) -> list[Call]:
        return self._delivered("chat.postEphemeral")

    @property
    def updates(self) -> list[Call]:
        return self._delivered("chat.update")

    @property
    def home_views(self) -> list[Call]:
        return self._delivered("views.publish")

    @property
    def responses(self) -> list[ResponsePost]:
        with self._lock:
            return list(self._responses)

    @property
    def uploads(self) -> list[Upload]:
        with self._lock:
            return list(self._uploads)

    def messages(self, channel: str) -> list[Params]:
        """The messages in a channel, oldest first, as conversations.history would hold them."""
        with self._lock:
            return [dict(message) for message in self._messages.get(channel, [])]

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
            scopes = {"x-oauth-scopes": ",".join(self.scopes)} if method == "auth.test" else {}
            return 200, scopes, {"ok": True, **handler(params)}, None
        except _Refusal as refusal:
            body: Params = {"ok": False, "error": refusal.code}
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
        with self._lock:
            if self._upload_faults:
                status = self._upload_faults.pop(0)
                return web.Response(status=status, text="upload failed", content_type="text/plain")
            pending = self._pending.get(request.match_info["file_id"])
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

    # --- Web API methods (called with the lock held) ---------------------------------------

    def _handlers(self) -> dict[str, Callable[[Params], Params]]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._update,
            "conversations.info": self._conversation_info,
            "conversations.join": self._join,
            "conversations.history": self._history,
            "conversations.open": self._open,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "views.publish": self._publish_view,
        }

    def _auth_test(self, params: Params) -> Params:
        return {
            "url": "https://fake-workspace.slack.com/",
            "team": "Fake Workspace",
            "user": "overage_bot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": "B0BOT",
            "is_enterprise_install": False,
        }

    def _channel(self, params: Params, key: str = "channel") -> Channel:
        """The channel named by `key`; a private one the bot is not in is hidden from it."""
        channel = self._channels.get(str(params.get(key) or ""))
        if channel is None or (channel.private and not channel.member):
            raise _Refusal("channel_not_found")
        return channel

    def _member_channel(self, params: Params, key: str = "channel") -> Channel:
        channel = self._channel(params, key)
        if not channel.member:
            raise _Refusal("not_in_channel")
        return channel

    def _post_message(self, params: Params) -> Params:
        channel = self._member_channel(params)
        _check_message(params)
        metadata = params.get("metadata")
        if metadata is not None:
            _check_metadata(metadata)
        message = self._store(channel.id, params, metadata=metadata)
        return {"channel": channel.id, "ts": message["ts"], "message": dict(message)}

    def _store(self, channel: str, params: Params, *, metadata: Any = None) -> Params:
        ts = self._next_ts()
        message: Params = {"type": "message", "user": self.bot_user_id, "ts": ts}
        message["text"] = params.get("text") or ""
        for key in ("blocks", "attachments", "thread_ts", "files"):
            if params.get(key):
                message[key] = params[key]
        if metadata is not None:
            message["metadata"] = metadata
        self._messages[channel].append(message)
        return message

    def _next_ts(self) -> str:
        # whole microseconds, so that every ts is unique and later than the one before
        self._last_us = max(time.time_ns() // 1000, self._last_us + 1)
        seconds, micros = divmod(self._last_us, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def _post_ephemeral(self, params: Params) -> Params:
        self._member_channel(params)
        if not params.get("user"):
            raise _Refusal("user_not_in_channel")
        _check_message(params)
        return {"message_ts": self._next_ts()}

    def _update(self, params: Params) -> Params:
        channel = self._member_channel(params)
        _check_message(params)
        ts = str(params.get("ts") or "")
        for message in self._messages[channel.id]:
            if message["ts"] == ts:
                message["text"] = params.get("text") or ""
                message["blocks"] = params.get("blocks") or []
                return {"channel": channel.id, "ts": ts, "text": message["text"]}
        raise _Refusal("message_not_found")

    def _conversation_info(self, params: Params) -> Params:
        channel = self._channel(params)
        return {"channel": _channel_json(channel)}

    def _join(self, params: Params) -> Params:
        channel = self._channel(params)
        if channel.private:
            raise _Refusal("method_not_supported_for_channel_type")
        channel.member = True
        return {"channel": _channel_json(channel)}

    def _open(self, params: Params) -> Params:
        """A direct message with one user: the same D-channel each time, the bot a member."""
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            raise _Refusal("users_list_not_supplied")
        if len(users) > 1:
            raise _Refusal("not_implemented", "the fake opens direct messages with one user only")
        already_open = users[0] in self._dms
        if not already_open:
            dm = self._dms[users[0]] = f"D{next(self._ids):08d}"
            self._channels[dm] = Channel(dm, users[0], private=True, member=True)
            self._messages.setdefault(dm, [])
        return {"channel": {"id": self._dms[users[0]]}, "already_open": already_open}

    def _history(self, params: Params) -> Params:
        channel = self._member_channel(params)
        oldest = float(params.get("oldest") or 0)
        with_metadata = _truthy(params.get("include_all_metadata"))
        top_level = [
            m
            for m in reversed(self._messages[channel.id])
            if float(m["ts"]) > oldest and m.get("thread_ts", m["ts"]) == m["ts"]
        ]
        start = int(params.get("cursor") or 0)
        limit = min(int(params.get("limit") or 100), 1000)
        page = top_level[start : start + limit]
        more = start + limit < len(top_level)
        messages = [_without_metadata(m) if not with_metadata else dict(m) for m in page]
        return {
            "messages": messages,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _get_upload_url(self, params: Params) -> Params:
        filename = params.get("filename")
        length = str(params.get("length") or "")
        if not filename or not length.isdigit():
            raise _Refusal("invalid_arguments")
        file_id = f"F{next(self._ids):08d}"
        self._pending[file_id] = _PendingFile(str(filename), int(length))
        return {"upload_url": f"{self._root}upload/v1/{file_id}", "file_id": file_id}

    def _complete_upload(self, params: Params) -> Params:
        files = params.get("files")
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) for f in files):
            raise _Refusal("invalid_arguments")
        channel_id = params.get("channel_id") or None
        if channel_id is not None:
            self._member_channel(params, "channel_id")
        for item in files:
            self._check_pending(str(item.get("id")))
        uploads = [self._finish_upload(item, params) for item in files]
        self._uploads.extend(uploads)
        shared = [{"id": u.file_id, "name": u.filename, "title": u.title} for u in uploads]
        if channel_id is not None:
            comment = {"text": params.get("initial_comment"), "thread_ts": params.get("thread_ts")}
            self._store(channel_id, {**comment, "files": shared})
        return {"files": shared}

    def _check_pending(self, file_id: str) -> None:
        pending = self._pending.get(file_id)
        if pending is None or pending.content is None:
            raise _Refusal("file_not_found")
        if len(pending.content) != pending.length:
            raise _Refusal("file_upload_size_mismatch")

    def _finish_upload(self, item: Params, params: Params) -> Upload:
        file_id = str(item.get("id"))
        pending = self._pending.pop(file_id)
        return Upload(
            file_id=file_id,
            channel_id=params.get("channel_id") or None,
            filename=pending.filename,
            title=str(item.get("title") or pending.filename),
            initial_comment=str(params.get("initial_comment") or ""),
            thread_ts=params.get("thread_ts") or None,
            content=pending.content or b"",
        )

    def _publish_view(self, params: Params) -> Params:
        view = params.get("view")
        if not params.get("user_id"):
            raise _Refusal("invalid_arguments")
        if not isinstance(view, dict) or view.get("type") != "home":
            raise _Refusal("invalid_arguments")
        _check_blocks(view.get("blocks", []), limit=MAX_VIEW_BLOCKS)  # a view holds no table
        return {"view": {"id": f"V{next(self._ids):08d}", **view}}


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


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _channel_json(channel: Channel) -> Params:
    return {
        "id": channel.id,
        "name": channel.name,
        "is_channel": not channel.private,
        "is_group": channel.private,
        "is_private": channel.private,
        "is_member": channel.member,
        "is_archived": channel.archived,
    }


def _manifest_scopes() -> tuple[str, ...]:
    manifest = yaml.safe_load((Path(__file__).resolve().parents[2] / "manifest.yml").read_text())
    return tuple(manifest["oauth_config"]["scopes"]["bot"])


def _without_metadata(message: Params) -> Params:
    return {k: v for k, v in message.items() if k != "metadata"}


# --- Slack's checks on messages ----------------------------------------------------------------


def _check_message(params: Params) -> None:
    text = params.get("text")
    blocks = params.get("blocks")
    if not text and not blocks and not params.get("attachments"):
        raise _Refusal("no_text")
    if isinstance(text, str) and len(text) > MAX_TEXT_CHARS:
        raise _Refusal("msg_too_long")
    if blocks is not None:
        _check_blocks(blocks, limit=MAX_MESSAGE_BLOCKS)
    if params.get("attachments") is not None:
        _check_attachments(params["attachments"])


def _check_attachments(attachments: Any) -> None:
    """Attachments may carry blocks; a table block is published only here, one a message."""
    if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
        raise _Refusal("invalid_attachments")
    blocks = [block for a in attachments for block in (a.get("blocks") or [])]
    tables = [b for b in blocks if isinstance(b, dict) and b.get("type") == "table"]
    if len(tables) > 1:
        raise _Refusal("invalid_attachments", "only_one_table_allowed")
    for index, block in enumerate(blocks):
        is_table = isinstance(block, dict) and block.get("type") == "table"
        problem = _table_problem(block) if is_table else _block_problem(block)
        if problem is not None:
            raise _Refusal(
                "invalid_attachments", f"{problem} [json-pointer:/attachments/blocks/{index}]"
            )


def _check_metadata(metadata: Any) -> None:
    if not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str):
        raise _Refusal("invalid_metadata_format")
    if not isinstance(metadata.get("event_payload"), dict):
        raise _Refusal("invalid_metadata_format")


def _check_blocks(blocks: Any, *, limit: int) -> None:
    if not isinstance(blocks, list):
        raise _Refusal("invalid_blocks_format")
    if len(blocks) > limit:
        raise _Refusal(
            "invalid_blocks", f"no more than {limit} items allowed [json-pointer:/blocks]"
        )
    for index, block in enumerate(blocks):
        if isinstance(block, dict) and block.get("type") == "table":
            raise _Refusal(
                "invalid_blocks",
                f"a table block goes in attachments, not blocks [json-pointer:/blocks/{index}]",
            )
        problem = _block_problem(block)
        if problem is not None:
            raise _Refusal("invalid_blocks", f"{problem} [json-pointer:/blocks/{index}]")


def _block_problem(block: Any) -> str | None:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise _Refusal("invalid_blocks_format")
    if len(str(block.get("block_id", ""))) > 255:
        return "block_id must be at most 255 characters"
    check = _BLOCK_CHECKS.get(block["type"])
    return check(block) if check is not None else None


def _too_long(obj: Any, limit: int) -> bool:
    return isinstance(obj, dict) and len(str(obj.get("text", ""))) > limit


def _section_problem(block: Params) -> str | None:
    fields = block.get("fields") or []
    if not block.get("text") and not fields:
        return "section needs text or fields"
    if _too_long(block.get("text"), 3000):
        return "section text must be at most 3000 characters"
    if len(fields) > 10:
        return "section fields must be at most 10 items"
    if any(_too_long(f, 2000) for f in fields):
        return "section field text must be at most 2000 characters"
    accessory = block.get("accessory")
    return _element_problem(accessory) if isinstance(accessory, dict) else None


def _header_problem(block: Params) -> str | None:
    text = block.get("text")
    if not isinstance(text, dict) or text.get("type") != "plain_text":
        return "header text must be plain_text"
    return "header text must be at most 150 characters" if _too_long(text, 150) else None


def _context_problem(block: Params) -> str | None:
    elements = block.get("elements") or []
    if not elements or len(elements) > 10:
        return "context needs 1 to 10 elements"
    return None


def _actions_problem(block: Params) -> str | None:
    elements = block.get("elements") or []
    if not elements or len(elements) > 25:
        return "actions needs 1 to 25 elements"
    return next((p for p in map(_element_problem, elements) if p is not None), None)


def _element_problem(element: Any) -> str | None:
    if not isinstance(element, dict):
        return "element must be an object"
    if len(str(element.get("action_id", ""))) > 255:
        return "action_id must be at most 255 characters"
    if element.get("type") == "button" and _too_long(element.get("text"), 75):
        return "button text must be at most 75 characters"
    return None


def _table_problem(block: Params) -> str | None:
    rows = block.get("rows")
    if not isinstance(rows, list) or not rows:
        return "table needs rows"
    if len(rows) > MAX_TABLE_ROWS:
        return f"table must have at most {MAX_TABLE_ROWS} rows"
    if any(not isinstance(row, list) or len(row) > MAX_TABLE_CELLS for row in rows):
        return f"table rows must have at most {MAX_TABLE_CELLS} cells"
    chars = sum(len(_cell_text(cell)) for row in rows for cell in row)
    if chars > MAX_TABLE_CHARS:
        return f"table cells must hold at most {MAX_TABLE_CHARS} characters in all, not {chars}"
    return None


def _cell_text(cell: Any) -> str:
    """The text of a raw_text cell, or of every element of a rich_text one."""
    if not isinstance(cell, dict):
        return ""
    nested = cell.get("elements")
    own = str(cell.get("text", "")) if isinstance(cell.get("text"), str) else ""
    return own + "".join(_cell_text(e) for e in nested) if isinstance(nested, list) else own


_BLOCK_CHECKS: dict[str, Callable[[Params], str | None]] = {
    "section": _section_problem,
    "header": _header_problem,
    "context": _context_problem,
    "actions": _actions_problem,
}
