"""Use case: the App Home tab: the list at a glance, the person's own cases and the digest
times, published per person."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from datetime import datetime

from bot import render_slack
from bot.cases import Case
from bot.config import Settings
from bot.errors import BotError
from bot.overage import Report
from bot.publish import Poster
from bot.services.digests import Digests
from bot.services.reports import Reports
from bot.store import Store


class Home:
    def __init__(
        self,
        poster: Poster,
        *,
        reports: Reports,
        digests: Digests,
        now: Callable[[], datetime],
        store: Store | None = None,
        settings: Settings | None = None,
    ) -> None:
        self._poster = poster
        self._reports = reports
        self._digests = digests
        self._now = now
        self._store = store  # the person's own cases come from it, when given
        self._settings = settings or Settings()

    async def show(self, user: str, *, fresh: bool) -> None:
        """Publish the person's tab; a failed fetch is shown at its top, over the data last
        fetched, instead of leaving the tab blank."""
        try:
            report: Report | None = await self._reports.report(fresh=fresh)
            error: str | None = None
        except BotError as exc:
            report, error = self._reports.latest, exc.for_user()
        await self._publish(user, report, error)

    async def tell(self, user: str, sentence: str) -> None:
        """How a failure reaches a person on the tab, where Slack gives no response_url: the
        tab is published again with the sentence at its top, over the data last fetched."""
        await self._publish(user, self._reports.latest, sentence)

    async def refuse(self, user: str) -> None:
        """The tab of a person the allow-lists do not admit."""
        await self._poster.publish_home(user, render_slack.render_home_refused())

    async def _publish(self, user: str, report: Report | None, error: str | None) -> None:
        last, upcoming = await self._digests.times()
        cases = await self._cases_of(user)
        settings = self._settings
        shown = render_slack.Shown(
            now=self._now(),
            zone=settings.zone,
            zone_name=settings.digest_timezone,
            currency=settings.currency,
        )
        blocks = render_slack.render_home(
            report, now=shown.now, last_digest=last, next_digest=upcoming, error=error,
            cases=cases, shown=shown,
        )  # fmt: skip
        await self._poster.publish_home(user, blocks)

    async def _cases_of(self, user: str) -> list[Case] | None:
        """The open cases the person owns ("Your cases"); None without a store."""
        if self._store is None:
            return None
        await self._reports.shown()
        return await asyncio.to_thread(functools.partial(self._store.cases, "mine", user=user))
