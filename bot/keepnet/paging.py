"""The over-limit list, read page by page: one page of the search, or the whole list as
one consistent read while records move between pages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.keepnet.answers import _envelope_data, _json
from bot.keepnet.token import Tokens
from bot.overage import Company, parse_company, parse_limit

log = logging.getLogger(__name__)

EXTRA_PASSES = 3
MAX_PAGES = 10_000  # whatever totalNumberOfRecords claims


@dataclass(frozen=True, slots=True)
class Page:
    number: int
    total_records: int  # when not total_known: the rows up to this page, a lower bound
    total_pages: int
    rows: tuple[Company, ...]
    total_known: bool = True  # False when totalNumberOfRecords was missing or not a count
    size: int = 100  # the page size the server used (its pageSize), not the one asked for
    over_count: int | None = None  # limitExceededCompanyCount, when it sent a count

    @property
    def platform_count(self) -> int | None:
        """Keepnet's count of companies over their limit: limitExceededCompanyCount, else
        totalNumberOfRecords; None when it sent neither."""
        if self.over_count is not None:
            return self.over_count
        return self.total_records if self.total_known else None


@dataclass(frozen=True, slots=True)
class Fetch:
    """The over-limit list as one consistent read of the platform."""

    companies: tuple[Company, ...]
    fetched_at: datetime
    total_records: int  # the platform's count; the companies read when it sent none
    passes: int
    # Keepnet's own count of companies over their limit, as last read (see Page)
    platform_count: int | None = None


class Search(Tokens):
    """The search part of KeepnetClient."""

    def _search_body(self, page: int, text: str) -> dict[str, Any]:
        # every field explicit: the real server rejects a null filter or a missing orderBy
        return {
            "pageNumber": page,
            "pageSize": self._settings.keepnet_page_size,
            "orderBy": "CreateTime",
            "ascending": False,
            "isTargetUserCountExceededLimit": True,
            "filter": {"Condition": "AND", "SearchInputTextValue": text},
        }

    async def search_page(self, page: int, *, text: str = "") -> Page:
        return await self._search_page(page, text, self._deadline())

    async def _search_page(self, page: int, text: str, deadline: float) -> Page:
        answer = await self._api("/api/companies/search", self._search_body(page, text), deadline)
        data = _envelope_data(_json(answer))
        rows = data.get("results")
        listed = rows if isinstance(rows, list) else []
        # paged by the size the server says it used: it may serve fewer rows than asked
        served = parse_limit(data.get("pageSize"))
        size = served if served else self._settings.keepnet_page_size
        # counts as parse_limit reads them: NaN, Infinity or 1e400 are no count at all
        reported = parse_limit(data.get("totalNumberOfRecords"))
        total = (page - 1) * size + len(listed) if reported is None else reported
        listed_pages = parse_limit(data.get("totalNumberOfPages"))
        pages = _pages_for(total, size) if listed_pages is None else listed_pages
        companies = tuple(parse_company(r) for r in listed if isinstance(r, Mapping))
        return Page(
            page,
            total,
            pages,
            companies,
            total_known=reported is not None,
            size=size,
            over_count=parse_limit(data.get("limitExceededCompanyCount")),
        )

    async def fetch_over_limit(self) -> Fetch:
        """Every over-limit company, once, even while records move between pages.

        The first pass reads page 1, then the other pages concurrently, then page 1 again.
        Another pass (bounded) follows any sign that the list changed meanwhile: totals or
        page sizes that differ, a short page before the last, a company on two pages, a
        different page 1, or fewer companies than the total while a pass still finds new ones.
        Pages are counted by the page size the server reports, whatever KEEPNET_PAGE_SIZE asks.
        """
        deadline = self._deadline()
        first = await self._search_page(1, "", deadline)
        count = _page_count(first)
        if count == MAX_PAGES and first.total_known:
            log.warning("the platform reports %d records; reading at most %d pages",
                        first.total_records, MAX_PAGES)  # fmt: skip
        pages, again = await self._pass(first, range(2, count + 1), deadline)
        seen: dict[str, Company] = {}
        passes = 1
        while True:
            new, moved = _absorb(pages, again, seen)
            total = max((page.total_records for page in pages if page.total_known), default=0)
            short = len(seen) < total
            if not (moved or (short and new)) or passes > EXTRA_PASSES:
                break
            passes += 1
            count = max(_page_count(page) for page in pages)
            pages, again = await self._pass(None, range(1, count + 1), deadline)
        counted = _last_count([*pages, *([again] if again else [])])
        _log_outcome(len(seen), total, counted, passes=passes, moved=moved)
        return Fetch(tuple(seen.values()), self._now(), total or len(seen), passes, counted)

    async def _pass(
        self, first: Page | None, numbers: range, deadline: float
    ) -> tuple[list[Page], Page | None]:
        """Read the pages, then page 1 again: the pages in order, and that second page 1.

        The second read of page 1 is queued last, so it takes the free slot of the last wave.
        """
        again = [1] if len(numbers) + (first is not None) > 1 else []
        read = await self._read([*numbers, *again], deadline)
        pages = [page for page in read[: len(numbers)] if page is not None]
        if first is not None:
            pages.insert(0, first)
        return pages, read[-1] if again else None

    async def _read(self, numbers: Sequence[int], deadline: float) -> list[Page | None]:
        """Read pages in the order given, at most KEEPNET_CONCURRENCY at a time. A page after
        the end is not requested (None in its place): after an empty page, or after a short
        one when the platform gave no record count."""
        read: list[Page | None] = [None] * len(numbers)
        queue = iter(enumerate(numbers))
        end = MAX_PAGES + 1

        async def worker() -> None:
            nonlocal end
            for index, number in queue:
                if number > end:
                    continue
                page = await self._search_page(number, "", deadline)
                read[index] = page
                if not page.rows or (not page.total_known and len(page.rows) < page.size):
                    end = min(end, number)

        try:
            async with asyncio.TaskGroup() as group:  # one failure cancels the other pages
                for _ in range(min(self._settings.keepnet_concurrency, len(numbers))):
                    group.create_task(worker())
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None
        return read


def _pages_for(records: int, size: int) -> int:
    return -(-records // max(size, 1))


def _page_count(page: Page) -> int:
    """Pages to read: from the record count, one more if totalNumberOfPages says so;
    without a count, up to MAX_PAGES (reading stops at the first short page)."""
    if not page.total_known:
        return MAX_PAGES if len(page.rows) >= page.size else page.number
    by_records = _pages_for(page.total_records, page.size)
    return min(max(1, by_records, min(page.total_pages, by_records + 1)), MAX_PAGES)


def _absorb(pages: list[Page], again: Page | None, seen: dict[str, Company]) -> tuple[bool, bool]:
    """Add one pass's rows to seen: whether any was new, and whether the list moved."""
    before = len(seen)
    on_pages: set[str] = set()
    twice = False
    for page in pages:
        for company in page.rows:
            key = company.ref
            twice = twice or key in on_pages
            on_pages.add(key)
            seen.setdefault(key, company)
    read = [*pages, *([again] if again else [])]
    totals = {page.total_records for page in read if page.total_known}
    sizes = {page.size for page in read}  # a server that changed its page size mid-pass
    short = any(
        page.total_known
        and len(page.rows) < page.size
        and page.number < _pages_for(page.total_records, page.size)
        for page in pages
    )
    one = next((page for page in pages if page.number == 1), None)
    changed = again is not None and one is not None and _keys(again.rows) != _keys(one.rows)
    moved = len(totals) > 1 or len(sizes) > 1 or short or twice or changed
    return len(seen) > before, moved


def _last_count(read: Sequence[Page]) -> int | None:
    """The platform's count from the last page read that carried one."""
    return next((p.platform_count for p in reversed(read) if p.platform_count is not None), None)


def _log_outcome(unique: int, total: int, counted: int | None, *, passes: int, moved: bool) -> None:
    """One warning line when the list is not complete, or was still changing at the end."""
    if counted is not None and unique < counted:
        log.warning(
            "over-limit list incomplete after %d passes: Keepnet counts %d companies over "
            "their limit; %d could be read",
            passes, counted, unique,
        )  # fmt: skip
    elif moved or unique < total:
        log.warning(
            "over-limit list: %d unique of %d reported after %d passes%s",
            unique, total, passes, " (still changing)" if moved else "",
        )  # fmt: skip


def _keys(rows: Iterable[Company]) -> list[str]:
    return [company.ref for company in rows]
