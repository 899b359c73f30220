"""`python -m bot demo`: the real code paths against the bundled sandbox, printed as text."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot import render_slack
from bot.app import build_runtime
from bot.config import Settings
from bot.demo_walk import Walk, walk_one_case
from bot.render_slack import Block, Message, to_text
from bot.sandbox.data import advance
from bot.sandbox.server import Sandbox

DEMO_CHANNEL = "C0DEMO"
ALERT_CHANNEL = "C0ALERTS"
RULE = "─" * 78

CONNECT = """\
To connect it to your Slack: create an app from manifest.yml at https://api.slack.com/apps
("Create New App" → "From an app manifest"), install it, then set SLACK_BOT_TOKEN,
SLACK_SIGNING_SECRET, KEEPNET_CLIENT_ID and KEEPNET_CLIENT_SECRET (a Keepnet REST API
credential with Client Role = Reseller) and DIGEST_CHANNEL, run `python -m bot check`, then
`python -m bot serve`. The README has every setting and the deployment notes."""


class ConsolePoster:
    """Plays Slack for the demo: prints each message, writes each upload to a folder."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._keys: dict[str, str] = {}

    async def post(
        self,
        channel: str,
        message: Message,
        *,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        ts = f"{time.time():.6f}"
        where = f"thread of {thread_ts}" if thread_ts else f"#{channel}"
        print(f"\n{RULE}\nPosted to {where}:\n{RULE}\n{to_text(message)}")
        if metadata:
            self._keys[str(metadata.get("event_payload", {}).get("key"))] = ts
        return ts

    async def upload(
        self,
        channel: str,
        *,
        content: bytes,
        filename: str,
        title: str,
        initial_comment: str = "",
        thread_ts: str | None = None,
    ) -> None:
        path = self._folder / filename
        path.write_bytes(content)
        print(f"\n[file uploaded to #{channel}: {filename}, {len(content):,} bytes → {path}]")
        if initial_comment:
            print(f"[its comment: {to_text(Message(initial_comment))}]")

    async def find_message(
        self, channel: str, *, event_type: str, key: str, oldest: float
    ) -> str | None:
        return self._keys.get(key)

    async def ensure_member(self, channel: str) -> None:
        """The demo's console is every channel."""

    async def publish_home(self, user_id: str, blocks: list[Block]) -> None:
        _show(f"The App Home tab of {user_id}", Message("", blocks))

    async def open_dm(self, user_id: str) -> str:
        return f"D{user_id}"


class _Clock:
    """The demo's time: the second digest happens a week after the first."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, by: timedelta) -> None:
        self.offset += by


# what a demo run writes into its folder; anything else there is left alone
DEMO_DB = "demo.db"
DEMO_EXPORTS = ("license-overage-*.xlsx", "license-overage-*.csv")
DEMO_FILES = (f"{DEMO_DB}*", *DEMO_EXPORTS)


def _clear_previous_run(folder: Path) -> None:
    """Remove what an earlier run wrote (its database and workbooks), and nothing else."""
    folder.mkdir(parents=True, exist_ok=True)
    for pattern in DEMO_FILES:
        for path in folder.glob(pattern):
            if path.is_file():
                path.unlink()


def _exports_written(folder: Path) -> list[Path]:
    """The workbooks in the folder: all this run's, as _clear_previous_run removed the rest."""
    return sorted(path for pattern in DEMO_EXPORTS for path in folder.glob(pattern))


def _show(title: str, message: Message) -> None:
    print(f"\n{RULE}\n{title}\n{RULE}\n{to_text(message)}")


async def run(folder: Path) -> int:
    started = time.monotonic()
    await asyncio.to_thread(_clear_previous_run, folder)
    sandbox = Sandbox(companies=600, seed=7)
    url = await sandbox.start()
    clock = _Clock()
    settings = Settings.from_env(
        {
            "KEEPNET_BASE_URL": url,
            "KEEPNET_CLIENT_ID": "sandbox-client",
            "KEEPNET_CLIENT_SECRET": "sandbox-secret",
            "DATABASE_URL": f"sqlite:///{folder / DEMO_DB}",
            "DIGEST_CHANNEL": DEMO_CHANNEL,
            "ALERT_CHANNEL": ALERT_CHANNEL,
            "SEAT_PRICES": "Full Suite=6.00,Phishing Simulator=3.20,Awareness Educator=2.50,"
            "Incident Responder=4.50",
            "CACHE_SECONDS": "0",
        }
    )
    poster = ConsolePoster(folder)
    runtime = await build_runtime(settings, poster=poster, now=clock)
    services = runtime.services
    try:
        print(f"Sandbox Keepnet API on {url} ({len(sandbox.companies)} companies)")
        report = await services.report()
        _show("/overage  (ephemeral answer)", render_slack.render_summary(report, now=clock()))
        _show("/overage top 5", render_slack.render_top(report, 5, now=clock()))
        exported = await services.export_file("xlsx", report)
        workbook_path = folder / exported.filename
        workbook_path.write_bytes(exported.content)
        csv_file = await services.export_file("csv", report)
        (folder / csv_file.filename).write_bytes(csv_file.content)
        print(f"\nWorkbook written: {workbook_path}")
        print("\nFirst weekly digest (nothing to compare with yet):")
        await services.post_digest_now(DEMO_CHANNEL)
        print("\nThe first alert check sums up who is over already:")
        await services.check_alerts(ALERT_CHANNEL, clock())
        sandbox.companies = advance(sandbox.companies, seed=8)
        clock.offset = timedelta(days=7)
        print("\nA week later, with the platform's data changed, the second digest:")
        await services.post_digest_now(DEMO_CHANNEL)
        print("\nThe next alert check announces the customers that newly went over:")
        await services.check_alerts(ALERT_CHANNEL, clock())
        await walk_one_case(
            Walk(
                runtime, sandbox, advance=clock.advance, now=clock, digest_channel=DEMO_CHANNEL,
                alert_channel=ALERT_CHANNEL, folder=folder,
            )
        )  # fmt: skip
        last, upcoming = await services.digest_times()
        home = render_slack.render_home(
            await services.report(), now=clock(), last_digest=last, next_digest=upcoming
        )
        _show("The App Home tab (what a user sees when opening the app)", Message("", home))
    finally:
        await runtime.close()
        await sandbox.stop()
    print(f"\n{RULE}\nFiles in {folder}:")
    for path in await asyncio.to_thread(_exports_written, folder):
        print(f"  {path}")
    print(f"\nDemo finished in {time.monotonic() - started:.1f} s.\n\n{CONNECT}")
    return 0
