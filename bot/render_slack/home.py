"""The App Home tab."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.cases import Case
from bot.overage import Report
from bot.render_slack.blocks import (
    _REFUSAL,
    EXPORT_BUTTON,
    HOME_TOP,
    MAX_HOME_BLOCKS,
    MAX_MESSAGE_TEXT,
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
    _most_rows,
    _nobody_over,
    _plan_totals,
    _section,
    _shortfall,
    _totals,
    _when,
    escape,
)
from bot.render_slack.cases import Shown, render_your_cases
from bot.render_slack.lengths import text_size


def render_home(
    report: Report | None,
    *,
    now: datetime,
    last_digest: datetime | None,
    next_digest: datetime | None,
    error: str | None = None,
    cases: Sequence[Case] | None = None,
    shown: Shown | None = None,
) -> list[Block]:
    """The App Home tab: the state at a glance, the person's own cases (`cases`, when given)
    with their actions, the digest times, refresh and export; its text within the budget of
    a message, like every surface."""

    def build(rows: int) -> list[Block]:
        blocks = [_header("License overage")]
        if error:
            blocks.append(_section(f":warning: {escape(error)}"))
        if report is not None:
            blocks += _home_report(report, rows, now=now)
        elif not error:
            blocks.append(_section("No data yet: press Refresh to fetch the overage list."))
        if cases is not None:
            blocks += render_your_cases(cases, shown=shown or Shown(now=now))
        last = _when(last_digest, missing="none yet")
        upcoming = _when(next_digest, missing="not scheduled")
        blocks.append(_context(f"Last digest: {last} · Next digest: {upcoming}"))
        refresh = _button("Refresh", REFRESH_HOME_BUTTON, "refresh")
        blocks += _actions([refresh, _button("Export workbook", EXPORT_BUTTON, "xlsx")])
        return _fit(blocks, MAX_HOME_BLOCKS)

    return build(_most_rows(lambda rows: text_size(build(rows)) <= MAX_MESSAGE_TEXT, HOME_TOP))


def _home_report(report: Report, rows: int, *, now: datetime) -> list[Block]:
    if not report.overages:
        emoji, sentence = _nobody_over(report)
        return [_section(f"{emoji} {sentence}"), _data_as_of(report, now=now)]
    shown = report.top(rows)
    lines = [_line(rank, o) for rank, o in enumerate(shown, 1)]
    title = f"*The {len(shown)} biggest overages*" if shown else "*The biggest overages*"
    return [
        _totals(report),
        *_plan_totals(report),
        *_shortfall(report),
        *_list_blocks(lines, total=report.companies_over, max_blocks=3, title=title),
        _data_as_of(report, now=now),
    ]


def render_home_refused() -> list[Block]:
    return [_header("License overage"), _section(f":no_entry: {_REFUSAL}")]
