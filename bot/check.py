"""`python -m bot check`: try both sides for real, change nothing, print a checklist with fixes."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import sqlalchemy as sa
import yaml
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.errors import BotError, ChannelNotFound, ConfigError, SlackBusy, SlackRefused
from bot.keepnet import KeepnetClient
from bot.publish import Publisher, error_code_and_status, make_client
from bot.schedule import make_trigger, next_slot
from bot.store import MIGRATIONS, Store

PASS, FAIL = "✓", "✗"
MANIFEST = Path(__file__).resolve().parents[1] / "manifest.yml"
# prefixes that say which kind of Slack token a value is, and nothing of the token itself
KNOWN_PREFIXES = ("xoxb-", "xapp-", "xoxp-")
PREFIX_NEEDS = 16  # characters after the prefix before the prefix is shown at all
APP_TOKEN_FIX = (
    "create an app-level token with connections:write under Basic Information → "
    "App-Level Tokens, turn on Socket Mode, and set SLACK_APP_TOKEN to it (xapp-...)"
)
SCOPES_FIX = (
    "add them under OAuth & Permissions → Bot Token Scopes (or create the app again from "
    "manifest.yml), then reinstall the app to the workspace"
)
SQLITE_FIX = "point DATABASE_URL at the bot's SQLite file, or at a new file to be created"
DATABASE_FIX = "check DATABASE_URL, and that the database server is running and accepts connections"


@dataclass(frozen=True, slots=True)
class Item:
    ok: bool
    what: str
    fix: str = ""
    warning: str = ""  # said under a passing item: something that may still go wrong

    def line(self) -> str:
        text = f"{PASS if self.ok else FAIL} {self.what}"
        if self.ok:
            return f"{text}\n    warning: {self.warning}" if self.warning else text
        return f"{text}\n    fix: {self.fix}" if self.fix else text


def mask(secret: str) -> str:
    """Enough to recognise a secret, never enough to use it: a known prefix and the length.

    Any other value, or a token too short to be real, shows only its length.
    """
    if not secret:
        return "(not set)"
    prefix = next((p for p in KNOWN_PREFIXES if secret.startswith(p)), "")
    if len(secret) - len(prefix) < PREFIX_NEEDS:
        prefix = ""
    return f"{prefix}… ({len(secret)} characters)"


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
    if settings.slack_app_token:
        shown += f", SLACK_APP_TOKEN={mask(settings.slack_app_token)}"
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
        claims: dict[str, Any] = {}

        async def token() -> str:
            settings.require_keepnet()
            claims.update(await client.claims())
            company = claims.get("user_company_name") or "unknown company"
            return f"role {claims.get('role', 'unknown')} at {company}"

        async def search() -> str:
            page = await client.search_page(1)
            return f"{page.total_records:,} companies over their limit"

        first = await _attempt(f"Keepnet token from {settings.keepnet_base_url}", token)
        if not first.ok:
            return [first, Item(False, "Keepnet overage search", "fix the token first")]
        first = dataclasses.replace(first, warning=_role_warning(claims))
        return [first, await _attempt("Keepnet overage search", search)]


def _role_warning(claims: Mapping[str, Any]) -> str:
    """A word on a role claim other than Reseller: only a hint (Keepnet has custom client
    roles), so the search below decides, and this passes when it works."""
    role = claims.get("role")
    roles = [str(r) for r in role] if isinstance(role, list) else [str(role)]
    if role is not None and "Reseller" in roles:
        return ""
    shown = f"'{' '.join(', '.join(roles).split())[:60]}'" if role is not None else "no role"
    return (
        f"the token names {shown}, not Reseller; the search below shows whether Keepnet "
        "lets this credential read the company list"
    )


# --- Slack ---------------------------------------------------------------------------------


async def _slack_items(settings: Settings) -> list[Item]:
    socket_mode = [await _socket_mode_item(settings)] if settings.slack_app_token else []
    if not settings.slack_bot_token:
        fix = "set SLACK_BOT_TOKEN (xoxb-...) from the app's OAuth & Permissions page"
        return [Item(False, "Slack bot token", fix), *socket_mode]
    publisher = Publisher(make_client(settings.slack_bot_token, settings.slack_api_url))
    try:
        me = await publisher.identity()
    except BotError as exc:
        return [Item(False, f"Slack auth.test: {exc}", exc.hint), *socket_mode]
    who = f"bot {me.about.get('user', '?')} in workspace {me.about.get('team', '?')}"
    auth = Item(True, f"Slack auth.test: {who}")
    zone = settings.digest_timezone
    channels = [
        await _channel_item(
            publisher,
            variable="DIGEST_CHANNEL",
            channel=settings.digest_channel,
            schedule=settings.digest_schedule,
            zone=zone,
            label="digest",
            upcoming="next digest",
            unset="no scheduled digest (commands still work)",
        ),
        await _channel_item(
            publisher,
            variable="ALERT_CHANNEL",
            channel=settings.alert_channel,
            schedule=settings.alert_schedule,
            zone=zone,
            label="alert",
            upcoming="next alert check",
            unset="no alerts when a customer goes over",
        ),
    ]
    return [auth, _scopes_item(me.scopes), *socket_mode, *channels]


def _manifest_scopes() -> frozenset[str] | None:
    try:
        manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    scopes = (((manifest or {}).get("oauth_config") or {}).get("scopes") or {}).get("bot") or []
    return frozenset(str(s) for s in scopes)


def _scopes_item(granted: frozenset[str] | None) -> Item:
    wanted = _manifest_scopes()
    if wanted is None:
        return Item(True, "bot token scopes: manifest.yml not found next to the bot, not compared")
    if granted is None:
        return Item(True, "bot token scopes: Slack did not list them, not compared")
    missing = sorted(wanted - granted)
    if missing:
        return Item(False, f"bot token scopes: missing {', '.join(missing)}", SCOPES_FIX)
    return Item(True, f"bot token scopes: all {len(wanted)} that manifest.yml lists")


async def _socket_mode_item(settings: Settings) -> Item:
    async def opened() -> str:
        client = AsyncWebClient(base_url=settings.slack_api_url)
        try:
            await client.apps_connections_open(app_token=settings.slack_app_token)
        except SlackApiError as exc:
            code, status = error_code_and_status(exc)
            code = code or f"HTTP {status}"
            raise SlackRefused(
                f"Slack did not open a Socket Mode connection with SLACK_APP_TOKEN ({code}).",
                hint=APP_TOKEN_FIX,
            ) from None
        except (aiohttp.ClientError, TimeoutError):
            raise SlackBusy("Slack could not be reached to open Socket Mode.") from None
        return "Slack accepted SLACK_APP_TOKEN"

    return await _attempt("Slack Socket Mode (apps.connections.open)", opened)


async def _channel_item(
    publisher: Publisher,
    *,
    variable: str,
    channel: str | None,
    schedule: str,
    zone: str,
    label: str,
    upcoming: str,
    unset: str,
) -> Item:
    """The channel `variable` names: reachable, and when `schedule` next fires in `zone`;
    `unset` says what leaving `variable` empty means."""
    if not channel:
        return Item(True, f"{variable} not set: {unset}")

    async def reachable() -> str:
        info = await _channel_info(publisher, channel, variable=variable)
        name = info.get("name", channel)
        if info.get("is_archived"):
            raise BotError(
                f"The channel {channel} (#{name}) is archived.",
                hint=f"Unarchive it in Slack, or set {variable} to another channel.",
            )
        if not info.get("is_member") and info.get("is_private"):
            raise BotError(
                f"The bot is not a member of the private channel {channel}.",
                hint="Invite it there with `/invite @Overage Bot`.",
            )
        slot = next_slot(make_trigger(schedule, zone), _now())
        return f"#{name} reachable, {upcoming} {slot:%Y-%m-%d %H:%M %Z}"

    return await _attempt(f"{label} channel {channel}", reachable)


async def _channel_info(publisher: Publisher, channel: str, *, variable: str) -> dict[str, Any]:
    try:
        return await publisher.channel_info(channel)
    except ChannelNotFound as exc:
        raise ChannelNotFound(
            str(exc),
            hint=f"Check {variable}: it takes the channel's ID (like C0123456789, at the bottom "
            "of the channel's About tab), not its name. If the channel is private, invite the "
            "bot there with `/invite @Overage Bot`.",
        ) from None


# --- database ------------------------------------------------------------------------------


def _database_item(settings: Settings) -> Item:
    """The database's schema revision against the code's, read only: nothing is created."""
    try:
        store = Store(settings.database_url)  # builds an engine, connects to nothing
    except BotError as exc:
        return Item(False, f"database: {exc}", exc.hint)
    try:
        if store.url.get_backend_name() != "sqlite":
            return _read_revision(store, store.engine, fix=DATABASE_FIX)
        missing = _missing_sqlite_file(store.url.database, store.where)
        if missing is not None:
            return missing
        # the store's own engine would set WAL mode on connect: a write
        engine = _read_only_sqlite(Path(str(store.url.database)))
        try:
            return _read_revision(store, engine, fix=SQLITE_FIX)
        finally:
            engine.dispose()
    finally:
        store.close()


def _read_revision(store: Store, engine: sa.Engine, *, fix: str) -> Item:
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except sa.exc.DBAPIError as exc:
        return Item(False, f"database: cannot use {store.where}: {store.describe(exc)}", fix)
    return _revision_item(store.where, current)


def _missing_sqlite_file(database: str | None, where: str) -> Item | None:
    """An item for a SQLite file that does not exist yet; None when there is one to read."""
    if not database or database == ":memory:":
        return Item(True, "database: SQLite in memory, empty at every start")
    path = Path(database)
    if path.exists():
        return None
    if not path.absolute().parent.is_dir():
        return Item(
            False,
            f"database: the folder for {where} does not exist",
            "create the folder, or point DATABASE_URL at a file in an existing one",
        )
    return Item(True, f"database: {where} will be created at first start")


def _read_only_sqlite(path: Path) -> sa.Engine:
    """An engine that opens the file read-only: no journal mode set, no file created."""
    # without a write-ahead log to read, `immutable` also keeps SQLite from creating one
    wal = path.with_name(path.name + "-wal")
    uri = f"{path.absolute().as_uri()}?{'mode=ro' if wal.exists() else 'immutable=1'}"
    return sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))


def _revision_item(where: str, current: str | None) -> Item:
    scripts = ScriptDirectory(str(MIGRATIONS))
    head = scripts.get_current_head()
    known = {script.revision for script in scripts.walk_revisions()}
    if current == head:
        return Item(True, f"database: {where} is up to date (schema {head})")
    if current is None:
        return Item(True, f"database: {where} has no tables yet; they will be created at start")
    if current in known:
        return Item(True, f"database: {where} has schema {current}; it will be upgraded at start")
    return Item(
        False,
        f"database: {where} has schema {current}, which this version of the bot does not know",
        "run the newest version of the bot, or point DATABASE_URL elsewhere",
    )


def _now() -> datetime:
    return datetime.now(UTC)
