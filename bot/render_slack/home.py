"""The App Home tab."""

from __future__ import annotations

from datetime import datetime

from bot.overage import Report
from bot.render_slack.blocks import (
    _ALL_CLEAR,
    _REFUSAL,
    EXPORT_BUTTON,
    HOME_TOP,
    MAX_HOME_BLOCKS,
    REFRESH_HOME_BUTTON,
    Block,
    _actions,
    _button,
    _context,
    _data_as_of,
    _fit,
    _header,
    _line,
    _list_blocks,
    _section,
    _totals,
    _when,
    escape,
)


def render_home(
    report: Report | None,
    *,
    now: datetime,
    last_digest: datetime | None,
    next_digest: datetime | None,
    error: str | None = None,
) -> list[Block]:
    """The App Home tab: the state at a glance, the digest times, refresh and export."""
    blocks = [_header("License overage")]
    if error:
        blocks.append(_section(f":warning: {escape(error)}"))
    if report is not None:
        blocks += _home_report(report, now=now)
    elif not error:
        blocks.append(_section("No data yet: press Refresh to fetch the overage list."))
    last = _when(last_digest, missing="none yet")
    upcoming = _when(next_digest, missing="not scheduled")
    blocks.append(_context(f"Last digest: {last} · Next digest: {upcoming}"))
    refresh = _button("Refresh", REFRESH_HOME_BUTTON, "refresh")
    blocks += _actions([refresh, _button("Export workbook", EXPORT_BUTTON, "xlsx")])
    return _fit(blocks, MAX_HOME_BLOCKS)


def _home_report(report: Report, *, now: datetime) -> list[Block]:
    if not report.overages:
        return [_section(f":white_check_mark: {_ALL_CLEAR}"), _data_as_of(report, now=now)]
    lines = [_line(rank, o) for rank, o in enumerate(report.top(HOME_TOP), 1)]
    title = f"*The {min(HOME_TOP, report.companies_over)} biggest overages*"
    return [
        _totals(report),
        *_list_blocks(lines, total=report.companies_over, max_blocks=3, title=title),
        _data_as_of(report, now=now),
    ]


def render_home_refused() -> list[Block]:
    return [_header("License overage"), _section(f":no_entry: {_REFUSAL}")]
