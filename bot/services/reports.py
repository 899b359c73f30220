"""Use case: the overage list, fetched from the platform and shared by requests close in time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.config import Settings
from bot.keepnet import KeepnetClient
from bot.overage import Prices, Report, build_report

log = logging.getLogger(__name__)


class ReportCache:
    """Commands within `cache_seconds` share one fetch; concurrent ones share the one in flight."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Report]],
        *,
        ttl_s: int,
        now: Callable[[], datetime],
    ) -> None:
        self._fetch = fetch
        self._ttl = timedelta(seconds=ttl_s)
        self._now = now
        self._report: Report | None = None
        self._inflight: asyncio.Future[Report] | None = None

    @property
    def latest(self) -> Report | None:
        return self._report

    async def get(self, *, max_age: timedelta | None = None) -> Report:
        limit = self._ttl if max_age is None else max_age
        report = self._report
        if report is not None and self._now() - report.fetched_at < limit:
            return report
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._refresh())
        return await asyncio.shield(self._inflight)

    async def _refresh(self) -> Report:
        try:
            report = await self._fetch()
            self._report = report
            return report
        finally:
            self._inflight = None


class Reports:
    """The overage list as a Report: fresh, or the one fetched within CACHE_SECONDS."""

    def __init__(
        self,
        settings: Settings,
        keepnet: KeepnetClient,
        *,
        now: Callable[[], datetime],
        fetched: Callable[[Report], Awaitable[None]] | None = None,
    ) -> None:
        self._settings = settings
        self._keepnet = keepnet
        self._fetched = fetched  # what every report fetched is shown to: the cases
        self._showing: asyncio.Task[None] | None = None  # the report being shown to it
        self._cache = ReportCache(self._fetch, ttl_s=settings.cache_seconds, now=now)

    @property
    def latest(self) -> Report | None:
        """The report fetched last, however old; None before the first fetch."""
        return self._cache.latest

    async def report(self, *, fresh: bool = False) -> Report:
        return await self._cache.get(max_age=timedelta(0) if fresh else None)

    async def _fetch(self) -> Report:
        fetch = await self._keepnet.fetch_over_limit()
        report = build_report(
            fetch.companies,
            fetched_at=fetch.fetched_at,
            source=self._keepnet.source,
            prices=Prices.configured(
                seat_price=self._settings.seat_price, seat_prices=self._settings.seat_prices
            ),
            currency=self._settings.currency,
            platform_count=fetch.platform_count,
        )
        if self._fetched is not None:
            self._showing = asyncio.ensure_future(self._show(report, after=self._showing))
        return report

    async def shown(self) -> None:
        """Wait until every report fetched so far has been shown to `fetched` (the cases):
        the answer that fetched it did not wait, a listing of the cases does."""
        if self._showing is not None:
            await asyncio.shield(self._showing)

    async def _show(self, report: Report, *, after: asyncio.Task[None] | None) -> None:
        """Show the report to `fetched` once the reports before it were, in their order, off
        the answer's path (opening thousands of cases takes a second)."""
        if after is not None:
            await asyncio.wait([after])
        assert self._fetched is not None
        try:
            await self._fetched(report)
        except Exception:  # the last net of a task nobody awaits: logged, not lost silently
            log.exception("a fetched report was not shown to the cases")
