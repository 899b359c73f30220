"""The fake's state: set-up and faults from the test, and what it received."""

from __future__ import annotations

import asyncio
import itertools
import threading
from pathlib import Path

import yaml
from aiohttp import web

from tests.fakes.slack_api.records import (
    BytesReceived,
    Call,
    Channel,
    Params,
    ResponsePost,
    Upload,
    _Fault,
    _PendingFile,
)


class SlackState:
    """Channels, faults and the call record, guarded by one lock (tests read it from any
    thread)."""

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
        self._bytes_received: list[BytesReceived] = []
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
        self._views: dict[str, Params] = {}  # the modals open, by view ID
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

    def add_dm(self, user: str) -> str:
        """The direct message between the bot and `user` (the app's Messages tab); its ID."""
        with self._lock:
            return self._dm_of(user)

    def _dm_of(self, user: str) -> str:
        if user not in self._dms:
            dm = self._dms[user] = f"D{next(self._ids):08d}"
            self._channels[dm] = Channel(dm, user, private=True, member=True, im_user=user)
            self._messages.setdefault(dm, [])
        return self._dms[user]

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
    def opened_views(self) -> list[Call]:
        """The views.open calls Slack accepted (each a modal)."""
        return self._delivered("views.open")

    def view(self, view_id: str) -> Params:
        """A modal as it shows now, after any views.update."""
        with self._lock:
            return dict(self._views[view_id])

    @property
    def responses(self) -> list[ResponsePost]:
        with self._lock:
            return list(self._responses)

    @property
    def uploads(self) -> list[Upload]:
        with self._lock:
            return list(self._uploads)

    @property
    def bytes_received(self) -> list[BytesReceived]:
        """Every POST of a file's bytes to an upload URL, refused ones included."""
        with self._lock:
            return list(self._bytes_received)

    def messages(self, channel: str) -> list[Params]:
        """The messages in a channel, oldest first, as conversations.history would hold them."""
        with self._lock:
            return [dict(message) for message in self._messages.get(channel, [])]


def _manifest_scopes() -> tuple[str, ...]:
    manifest = yaml.safe_load((Path(__file__).resolve().parents[3] / "manifest.yml").read_text())
    return tuple(manifest["oauth_config"]["scopes"]["bot"])
