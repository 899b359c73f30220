"""Use case: digest subscriptions set from Slack: subscribe, unsubscribe, list."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from datetime import datetime

from bot import grammar, render_slack
from bot.config import Settings
from bot.errors import NotAllowed
from bot.publish import Poster
from bot.render_slack import Message
from bot.store import Store

log = logging.getLogger(__name__)


class Subscriptions:
    def __init__(
        self, settings: Settings, store: Store, poster: Poster, *, now: Callable[[], datetime]
    ) -> None:
        self._settings = settings
        self._store = store
        self._poster = poster
        self._now = now

    async def subscribe(self, request: grammar.Subscribe, *, channel: str, user: str) -> Message:
        self._require_settable(channel, user)
        zone = request.zone or self._settings.digest_timezone
        # a digest the bot could never post is refused now, not found out at its first slot
        await self._poster.ensure_member(channel)
        await asyncio.to_thread(
            functools.partial(
                self._store.add_subscription, channel, cadence=request.cadence,
                weekday=request.weekday, time=request.time, zone=zone, created_by=user,
                now=self._now(),
            )
        )  # fmt: skip
        day = f" {request.weekday}" if request.cadence == "weekly" and request.weekday else ""
        log.info(
            "subscription of %s set by %s: %s%s %s %s",
            channel, user, request.cadence, day, request.time, zone,
        )  # fmt: skip
        return render_slack.render_subscribed(request.cadence, request.weekday, request.time, zone)

    async def unsubscribe(self, *, channel: str, user: str) -> Message:
        self._require_settable(channel, user)
        removed = await asyncio.to_thread(self._store.remove_subscription, channel)
        log.info(
            "subscription of %s removed by %s%s",
            channel, user, "" if removed else " (there was none)",
        )  # fmt: skip
        return render_slack.render_unsubscribed(removed=removed)

    async def listing(self) -> Message:
        """DIGEST_CHANNEL's schedule, then each subscription set from Slack."""
        stored = await asyncio.to_thread(self._store.subscriptions)
        entries: list[tuple[str, str, str | None]] = []
        settings = self._settings
        if settings.digest_channel:
            schedule = render_slack.describe_crontab(
                settings.digest_schedule, settings.digest_timezone
            )
            entries.append((settings.digest_channel, schedule, None))
        for sub in stored:
            if sub.channel == settings.digest_channel:  # DIGEST_CHANNEL's schedule is the one
                continue
            zone = sub.zone or settings.digest_timezone
            when = render_slack.describe_schedule(sub.cadence, sub.weekday, sub.time, zone)
            entries.append((sub.channel, when, sub.created_by))
        return render_slack.render_subscriptions(entries, now=self._now())

    def _require_settable(self, channel: str, user: str) -> None:
        """DIGEST_CHANNEL's digest is the settings' to change; the others, the admins'."""
        if channel == self._settings.digest_channel:
            raise NotAllowed.digest_channel_in_settings()
        admins = self._settings.admin_user_ids or self._settings.allowed_user_ids
        if admins and user not in admins:
            raise NotAllowed.admins_only()
