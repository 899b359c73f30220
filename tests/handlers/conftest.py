"""The running app on a real port, the sandbox platform, the fake Slack, and a signed client."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from openpyxl import load_workbook

from bot.app import Runtime
from bot.sandbox import Sandbox, is_flagged
from tests.fakes.slack_api import FakeSlack, Upload
from tests.runtime import Fakes, running_fakes, serving
from tests.slack_requests import signed_headers, slash_command


@dataclass
class Bot:
    """Plays Slack's side: sends signed commands, clicks and events to the running app."""

    url: str
    http: httpx.AsyncClient
    fakes: Fakes
    runtime: Runtime
    sent: list[str] = field(default_factory=list)

    @property
    def slack(self) -> FakeSlack:
        return self.fakes.slack

    @property
    def sandbox(self) -> Sandbox:
        return self.fakes.sandbox

    async def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return await self.http.post(self.url + "/slack/events", content=body, headers=headers)

    def command_body(self, text: str, *, user: str = "U1", channel: str = "C0GENERAL") -> bytes:
        name = f"cmd-{uuid.uuid4().hex[:8]}"
        self.sent.append(name)
        form = slash_command(text, self.slack.response_url(name), user=user, channel=channel)
        return urlencode(form).encode()

    async def command(
        self, text: str, *, user: str = "U1", channel: str = "C0GENERAL"
    ) -> httpx.Response:
        body = self.command_body(text, user=user, channel=channel)
        return await self.post(body, signed_headers(body))

    async def action(
        self, action_id: str, *, value: str = "", selected: str | None = None,
        user: str = "U1", channel: str | None = "C0GENERAL",
    ) -> httpx.Response:  # fmt: skip
        name = f"act-{uuid.uuid4().hex[:8]}"
        self.sent.append(name)
        element: dict[str, Any] = {"action_id": action_id, "block_id": "b1", "action_ts": "1"}
        if selected is None:
            element.update(type="button", value=value)
        else:
            element.update(type="external_select", selected_option={"value": selected})
        payload: dict[str, Any] = {
            "type": "block_actions", "user": {"id": user}, "team": {"id": "T0001"},
            "api_app_id": "A0001", "trigger_id": "1.2.3", "actions": [element],
        }  # fmt: skip
        if channel:
            payload["channel"] = {"id": channel}
            payload["container"] = {"type": "message", "channel_id": channel}
            payload["response_url"] = self.slack.response_url(name)
        else:  # a button in the Home tab's view: Slack sends no response_url for it
            payload["container"] = {"type": "view", "view_id": "V1"}
            payload["view"] = {"id": "V1", "type": "home"}
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.post(body, signed_headers(body))

    async def interact(self, payload: dict[str, Any]) -> httpx.Response:
        """Any interaction payload (a click, a form submitted), signed as Slack sends it."""
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.post(body, signed_headers(body))

    def new_response_url(self) -> str:
        """A response_url of its own, for a payload built by the test (see `answers`)."""
        name = f"act-{uuid.uuid4().hex[:8]}"
        self.sent.append(name)
        return self.slack.response_url(name)

    async def suggest(
        self, action_id: str, typed: str, *, user: str = "U1", channel: str = "C0GENERAL"
    ) -> httpx.Response:
        """What Slack sends as the person types into an external select (block_suggestion);
        the app answers the options in the HTTP response itself."""
        payload = {
            "type": "block_suggestion", "user": {"id": user}, "team": {"id": "T0001"},
            "api_app_id": "A0001", "action_id": action_id, "block_id": "b1", "value": typed,
            "container": {"type": "message", "message_ts": "1.2", "channel_id": channel},
            "channel": {"id": channel},
        }  # fmt: skip
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self.post(body, signed_headers(body))

    async def event(self, event: dict[str, Any]) -> httpx.Response:
        envelope = {
            "token": "legacy", "team_id": "T0001", "api_app_id": "A0001",
            "type": "event_callback", "event_id": f"Ev{uuid.uuid4().hex[:8]}",
            "event_time": int(time.time()), "event": event,
        }  # fmt: skip
        body = json.dumps(envelope).encode()
        return await self.post(body, signed_headers(body, content_type="application/json"))

    def answers(self, name: str | None = None) -> list[dict[str, Any]]:
        """What the app sent back to the response_url of one request (default: the last),
        each answer one that Slack accepted."""
        wanted = name or self.sent[-1]
        posted = [r for r in self.slack.responses if r.name == wanted]
        refused = [r.error for r in posted if not r.ok]
        assert not refused, f"Slack refused the answer: {refused}"
        return [r.body for r in posted]


async def eventually(check: Callable[[], Any], *, timeout_s: float = 15.0) -> Any:
    """Wait until check() returns something truthy (work continues after the ack)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("the expected Slack call never came")
        await asyncio.sleep(0.02)


StartBot = Callable[..., Awaitable[Bot]]


@pytest.fixture
async def start_bot(tmp_path: Path) -> AsyncIterator[StartBot]:
    """Start the real app (web server + Bolt) on port 0 with its own sandbox and fake Slack."""
    async with AsyncExitStack() as stack:

        async def start(*, companies: int = 300, over_limit: int | None = None,
                        role: str = "Reseller", **env: str) -> Bot:  # fmt: skip
            database_url = f"sqlite:///{tmp_path / f'bot-{uuid.uuid4().hex[:6]}.db'}"
            fakes = await stack.enter_async_context(
                running_fakes(
                    database_url=database_url,
                    companies=companies,
                    over_limit=over_limit,
                    role=role,
                )
            )
            runtime = await fakes.runtime(fakes.settings(**env))
            url = await stack.enter_async_context(serving(runtime))
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=30))
            return Bot(url, http, fakes, runtime)

        yield start


# --- what the tests read back -------------------------------------------------------------------


def all_text(value: Any) -> str:
    """Everything in an answer or a view as one text, to look for a word in."""
    return json.dumps(value, ensure_ascii=False)


def flagged(bot: Bot) -> list[dict[str, Any]]:
    """The sandbox's companies that the overage filter returns."""
    return [c for c in bot.sandbox.companies if is_flagged(c)]


async def answer_to(bot: Bot, text: str, **kwargs: Any) -> dict[str, Any]:
    """Send `/overage TEXT` and wait for its answer at the response_url."""
    response = await bot.command(text, **kwargs)
    assert response.status_code == 200
    answers = await eventually(bot.answers)
    return answers[-1]


def check_export_upload(bot: Bot, upload: Upload, suffix: str, *, user: str) -> None:
    """An export uploaded into the channel: dated name, who asked, one row per company."""
    assert upload.channel_id == "C0GENERAL"
    assert re.fullmatch(r"license-overage-\d{4}-\d{2}-\d{2}" + re.escape(suffix), upload.filename)
    assert f"<@{user}>" in upload.initial_comment
    if suffix == ".xlsx":
        sheet = load_workbook(BytesIO(upload.content), read_only=True).worksheets[0]
        assert sheet.max_row == len(flagged(bot)) + 2  # header + rows + totals
    else:
        assert upload.content.startswith(b"\xef\xbb\xbf")
