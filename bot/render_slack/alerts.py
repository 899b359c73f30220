"""Alerts: customers newly over their license limit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.cases import company_key
from bot.overage import Overage, Report
from bot.render_slack.blocks import (
    _UNKNOWN,
    DIGEST_LIST,
    Block,
    Message,
    _actions,
    _clock,
    _context,
    _export_buttons,
    _fitted,
    _limit,
    _line,
    _message,
    _more,
    _name,
    _percent,
    _section,
    _shortfall,
    _totals_text,
    _with_shortfall,
)
from bot.render_slack.cases import ALERT_SURFACE, Shown, case_row, case_strip
from bot.render_slack.picker import _company_picker

ALERT_LIST = 20


def render_alert(
    new: Sequence[Overage], *, report: Report, now: datetime, baseline: bool = False
) -> Message:
    """The companies newly over their limit, in one message however many there are.

    `baseline` is the first check of a channel: the companies already over are counted, and
    the biggest listed, rather than each announced as new.
    """
    if baseline:
        return _baseline_alert(new, report=report, now=now)
    if len(new) == 1:
        return _single_alert(new[0], report=report, now=now)
    count = f"{len(new):,} customers"
    title = f":rotating_light: *{count} just went over their license limit*"
    return _grouped_alert(f"{count} just went over their license limit", title, new, report, now)


def _single_alert(overage: Overage, *, report: Report, now: datetime) -> Message:
    sentence = _went_over(overage)
    company = company_key(overage.company.ref)
    blocks = [
        _section(f":rotating_light: {sentence}"),
        *case_strip(ALERT_SURFACE, company, None, shown=Shown(now=now)),
        _alert_footer(report, now=now),
        *_shortfall(report),
        *_actions([*_export_buttons(), *_company_picker([overage])]),
    ]
    return _message(_with_shortfall(sentence, report), blocks)


def _baseline_alert(new: Sequence[Overage], *, report: Report, now: datetime) -> Message:
    count = f"{len(new):,} customer{'' if len(new) == 1 else 's'}"
    verb = "is" if len(new) == 1 else "are"
    sentence = (
        f"{count} {verb} over their license limit now; from here on you get one alert "
        "per customer that newly goes over."
    )
    title = f":information_source: {sentence}"
    return _grouped_alert(sentence, title, new, report, now, limit=DIGEST_LIST)


def _grouped_alert(
    text: str,
    title: str,
    overages: Sequence[Overage],
    report: Report,
    now: datetime,
    *,
    limit: int = ALERT_LIST,
) -> Message:
    names = ", ".join(_name(o.company.name, 40) for o in overages[:3])
    more = f" and {len(overages) - 3:,} more" if len(overages) > 3 else ""
    notification = _with_shortfall(f"{text}: {names}{more}." if names else text, report)

    def build(rows: int) -> Message:
        shown = overages[:rows]
        more = [_context(_more(len(overages) - rows))] if len(overages) > rows else []
        blocks = [
            _section(title),
            *(_alert_row(rank, o) for rank, o in enumerate(shown, 1)),
            *more,
            _alert_footer(report, now=now),
            *_shortfall(report),
            *_actions([*_export_buttons(), *_company_picker(overages)]),
        ]
        return _message(notification, blocks)

    return _fitted(build, min(limit, len(overages)))


def _alert_row(rank: int, overage: Overage) -> Block:
    """One company of a grouped alert: its line, and the menu of its case's actions."""
    return case_row(ALERT_SURFACE, company_key(overage.company.ref), _line(rank, overage))


def _went_over(overage: Overage) -> str:
    name = _name(overage.company.name)
    users = f"{overage.company.target_users:,} users"
    if overage.seats_over is None:
        return f"{name} is now flagged over its license limit ({_UNKNOWN}, {users})."
    return (
        f"{name} just went over its license limit: over by {overage.seats_over:,} "
        f"({_percent(overage.ratio)}), limit {_limit(overage)}, {users}."
    )


def _alert_footer(report: Report, *, now: datetime) -> Block:
    when = _clock(report.fetched_at, now=now)
    return _context(f"In total: {_totals_text(report)} Data as of {when}.")
