"""`python -m bot check`: try both sides for real and print a checklist with fixes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from bot.config import Settings
from bot.errors import BotError, ConfigError
from bot.keepnet import KeepnetClient
from bot.publish import Publisher, make_client
from bot.schedule import make_trigger, next_slot
from bot.store import Store

PASS, FAIL = "✓", "✗"


@dataclass(frozen=True, slots=True)
class Item:
    ok: bool
    what: str
    fix: str = ""

    def line(self) -> str:
        text = f"{PASS if self.ok else FAIL} {self.what}"
        return text if self.ok or not self.fix else f"{text}\n    fix: {self.fix}"


def mask(secret: str) -> str:
    """Enough to recognise a secret, never enough to use it."""
    if not secret:
        return "(not set)"
    return f"{secret[:4]}… ({len(secret)} characters)"


async def run(settings: Settings, *, out: Callable[[str], None] = print) -> int:
    out("Overage bot: checking the configuration and both connections")
    items = [_settings_item(settings)]
    items += await _keepnet_items(settings)
    items += await _slack_items(settings)
    items.append(await asyncio.to_thread(_database_item, settings))
    for item in items:
        out(item.line())
    failed = sum(not i.ok for i in items)
    out("All checks passed." if not failed else f"{failed} check(s) failed.")
    return 0 if not failed else 1


def _settings_item(settings: Settings) -> Item:
    shown = (
        f"settings read: KEEPNET_CLIENT_ID={settings.keepnet_client_id or '(not set)'}, "
        f"KEEPNET_CLIENT_SECRET={mask(settings.keepnet_client_secret)}, "
        f"SLACK_BOT_TOKEN={mask(settings.slack_bot_token)}, "
        f"SLACK_SIGNING_SECRET={mask(settings.slack_signing_secret)}"
    )
    if not settings.socket_mode and not settings.slack_signing_secret:
        return Item(
            False,
            shown,
            "set SLACK_SIGNING_SECRET from the app's Basic Information page: `serve` refuses "
            "HTTP requests without it (or set SLACK_APP_TOKEN to use Socket Mode)",
        )
    return Item(True, shown)


async def _attempt(what: str, step: Callable[[], Awaitable[str]]) -> Item:
    try:
        detail = await step()
    except BotError as exc:
        return Item(False, f"{what}: {exc}", exc.hint)
    except ConfigError as exc:
        return Item(False, what, str(exc))
    return Item(True, f"{what}: {detail}" if detail else what)


async def _keepnet_items(settings: Settings) -> list[Item]:
    async with httpx.AsyncClient(timeout=settings.keepnet_timeout_s) as http:
        client = KeepnetClient(settings, http)

        async def token() -> str:
            settings.require_keepnet()
            claims = await client.claims()
            company = claims.get("user_company_name") or "unknown company"
            return f"role {claims.get('role', 'unknown')} at {company}"

        async def search() -> str:
            page = await client.search_page(1)
            return f"{page.total_records:,} companies over their limit"

        first = await _attempt(f"Keepnet token from {settings.keepnet_base_url}", token)
        if not first.ok:
            return [first, Item(False, "Keepnet overage search", "fix the token first")]
        return [first, await _attempt("Keepnet overage search", search)]


async def _slack_items(settings: Settings) -> list[Item]:
    if not settings.slack_bot_token:
        fix = "set SLACK_BOT_TOKEN (xoxb-...) from the app's OAuth & Permissions page"
        return [Item(False, "Slack bot token", fix)]
    publisher = Publisher(make_client(settings.slack_bot_token, settings.slack_api_url))

    async def identity() -> str:
        me = await publisher.identity()
        return f"bot {me.get('user', '?')} in workspace {me.get('team', '?')}"

    items = [await _attempt("Slack auth.test", identity)]
    if items[0].ok:
        items.append(await _channel_item(settings, publisher))
    return items


async def _channel_item(settings: Settings, publisher: Publisher) -> Item:
    channel = settings.digest_channel
    if not channel:
        return Item(True, "DIGEST_CHANNEL not set: no scheduled digest (commands still work)")

    async def reachable() -> str:
        info = await publisher.channel_info(channel)
        trigger = make_trigger(settings.digest_schedule, settings.digest_timezone)
        upcoming = next_slot(trigger, _now())
        when = f"next digest {upcoming:%Y-%m-%d %H:%M %Z}"
        if info.get("is_member") or not info.get("is_private"):
            return f"#{info.get('name', channel)} reachable, {when}"
        raise BotError(
            f"The bot is not a member of the private channel {channel}.",
            hint="Invite it there with `/invite @Overage Bot`.",
        )

    return await _attempt(f"digest channel {channel}", reachable)


def _database_item(settings: Settings) -> Item:
    store = Store(settings.database_url)
    try:
        store.upgrade()
    except BotError as exc:
        return Item(False, f"database: {exc}", exc.hint)
    finally:
        store.close()
    return Item(True, "database reachable and up to date")


def _now() -> datetime:
    return datetime.now(UTC)
