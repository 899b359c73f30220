"""One-shot commands for cron hosts and the terminal: `digest` and `export`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.app import build_runtime
from bot.config import Settings
from bot.crontab import make_trigger, previous_slot
from bot.errors import ConfigError
from bot.render_slack import to_text

# a cron host that runs `digest` at the DIGEST_SCHEDULE time shares that slot with `serve`
SAME_SLOT_WITHIN = timedelta(hours=1)


async def export(settings: Settings, *, fmt: str, output: str | None) -> int:
    runtime = await build_runtime(settings)
    try:
        exported = await runtime.services.export_file(fmt)
    finally:
        await runtime.close()
    target = Path(output) if output else Path.cwd()
    if target.is_dir():
        target = target / exported.filename
    target.write_bytes(exported.content)
    print(f"Wrote {target.resolve()} ({len(exported.content):,} bytes)")
    return 0


async def digest(settings: Settings, *, channel: str | None, dry_run: bool) -> int:
    channel = channel or settings.digest_channel
    if not channel and not dry_run:
        raise ConfigError("DIGEST_CHANNEL is not set: set it or pass --channel C0123456789")
    runtime = await build_runtime(settings)
    services = runtime.services
    try:
        if dry_run:
            _, message = await services.build_digest(channel or "dry-run")
            print(to_text(message))
            return 0
        trigger = make_trigger(settings.digest_schedule, settings.digest_timezone)
        slot = previous_slot(trigger, services.now(), within=SAME_SLOT_WITHIN)
        assert channel is not None
        if slot is not None:
            ts = await services.run_slot(channel, slot)
        else:
            ts = await services.post_digest_now(channel)
    finally:
        await runtime.close()
    print(f"Digest posted to {channel}." if ts else f"The digest for {channel} was already posted.")
    return 0
