"""The answers to `/overage`, `top`, `find` and a company's details."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from bot.grammar import TOP_MAX
from bot.overage import Overage, Report
from bot.render_slack.blocks import (
    _UNKNOWN,
    FIND_DETAILED,
    MAX_BLOCKS,
    MAX_HEADER,
    MAX_SECTION,
    Block,
    Message,
    _actions,
    _context,
    _cut,
    _data_as_of,
    _export_buttons,
    _fields,
    _fitted,
    _header,
    _limit,
    _message,
    _more,
    _mrkdwn,
    _name,
    _nobody_over,
    _one_line,
    _over_by,
    _percent,
    _plain,
    _plan_totals,
    _post_button,
    _ranking,
    _section,
    _shortfall,
    _totals,
    _totals_text,
    _with_shortfall,
    escape,
)
from bot.render_slack.picker import _company_picker

# --- the answers to /overage -----------------------------------------------------------------


def render_summary(report: Report, *, top: int = 10, now: datetime) -> Message:
    """The answer to `/overage`: totals, the biggest overages, export and share buttons."""
    if not report.overages:
        return _all_clear(report, now=now)

    def build(rows: int) -> Message:
        blocks = [
            _header("License overage"),
            _totals(report),
            *_plan_totals(report),
            *_shortfall(report),
            *_ranking(report.top(rows), total=report.companies_over, max_blocks=MAX_BLOCKS - 10),
            _data_as_of(report, now=now),
            *_actions([*_export_buttons(), _post_button(), *_company_picker(report.overages)]),
        ]
        return _message(_with_shortfall(f"License overage: {_totals_text(report)}", report), blocks)

    return _fitted(build, max(1, min(top, TOP_MAX)))


def render_top(report: Report, count: int, *, now: datetime) -> Message:
    """The answer to `/overage top N`: up to 100 rows, within Slack's limits."""
    if not report.overages:
        return _all_clear(report, now=now)

    def build(rows: int) -> Message:
        shown = report.top(rows)
        title = _top_title(len(shown))
        blocks = [
            _header(title),
            _context(_totals_text(report)),
            *_shortfall(report),
            *_ranking(shown, total=report.companies_over, max_blocks=MAX_BLOCKS - 9),
            _data_as_of(report, now=now),
            *_actions([*_export_buttons(), *_company_picker(report.overages)]),
        ]
        return _message(_with_shortfall(f"{title}: {_totals_text(report)}", report), blocks)

    return _fitted(build, max(1, min(count, TOP_MAX)))


def _top_title(shown: int) -> str:
    if shown == 1:
        return "The biggest license overage"
    return f"The {shown} biggest license overages" if shown else "The biggest license overages"


def render_find(report: Report, text: str, *, now: datetime) -> Message:
    """The answer to `/overage find TEXT`: the matching companies with their license details."""
    matches = report.find(text)
    echo = _name(text, 100)
    if not matches:
        sentence = f"No over-limit company has “{echo}” in its name."
        blocks = [_section(sentence), *_shortfall(report), _data_as_of(report, now=now)]
        return _message(_with_shortfall(sentence, report), blocks)
    count = f"{len(matches):,} over-limit compan{'y' if len(matches) == 1 else 'ies'}"

    def build(rows: int) -> Message:
        blocks = [_header(f"Over-limit companies matching “{_plain(text, 100)}”")]
        blocks += _shortfall(report)
        blocks += [_found(rank, o, now=now) for rank, o in enumerate(matches[:rows], 1)]
        if len(matches) > rows:
            blocks.append(_context(_more(len(matches) - rows)))
        blocks += [_data_as_of(report, now=now), *_actions(_company_picker(matches))]
        return _message(_with_shortfall(f"{count} with “{echo}” in the name.", report), blocks)

    return _fitted(build, min(FIND_DETAILED, len(matches)))


def _found(rank: int, overage: Overage, *, now: datetime) -> Block:
    section = _fields(_details(overage, now=now))
    section["text"] = _mrkdwn(f"*{rank}.* {_name(overage.company.name)}", MAX_SECTION)
    return section


def render_company(overage: Overage, *, now: datetime, extra: Sequence[Block] = ()) -> Message:
    """One company's license details, from the Details select; `extra` follows them (the
    company's case and its actions)."""
    company = overage.company
    blocks = [
        _header(_plain(company.name, MAX_HEADER)),
        _fields(_details(overage, now=now)),
        _context(f"Tags: {_tags(overage)} · Company ID: `{_company_id(overage)}`"),
        *extra,
    ]
    over = _UNKNOWN if overage.seats_over is None else f"over by {overage.seats_over:,}"
    return _message(f"{_name(company.name)}: {over}.", blocks)


def render_shared(message: Message, *, user: str) -> Message:
    """A summary posted into the channel for everyone: without its buttons, which would act
    for whoever clicks, and saying who shared it; its smaller versions alike."""

    def shared(one: Message) -> Message:
        blocks = [b for b in one.blocks if b.get("type") != "actions"]
        return replace(one, blocks=[*blocks, _context(f"Shared by <@{escape(user)}>")])

    return replace(shared(message), smaller=tuple(shared(one) for one in message.smaller))


def _all_clear(report: Report, *, now: datetime) -> Message:
    emoji, sentence = _nobody_over(report)
    blocks = [
        _header("License overage"),
        _section(f"{emoji} {sentence}"),
        _data_as_of(report, now=now),
    ]
    return _message(sentence, blocks)


# --- one company's details -------------------------------------------------------------------


def _license_end(overage: Overage, *, now: datetime) -> str:
    end = overage.company.license_end
    if end is None:
        return "—"
    days = (end.astimezone(UTC).date() - now.astimezone(UTC).date()).days
    if days == 0:
        return f"{end:%Y-%m-%d} (today)"
    relative = f"in {days:,} days" if days > 0 else f"{-days:,} days ago"
    return f"{end:%Y-%m-%d} ({relative})"


def _details(overage: Overage, *, now: datetime) -> list[tuple[str, str]]:
    company = overage.company
    return [
        ("License type", _name(company.license_type) if company.license_type else "—"),
        ("License limit", _limit(overage)),
        ("Target users", f"{company.target_users:,}"),
        ("Over by", _over_by(overage)),
        ("Over by %", _percent(overage.ratio)),
        ("Inactive users", f"{company.inactive_users:,}"),
        ("Monthly active users", f"{company.monthly_active_users:,}"),
        ("License end date", _license_end(overage, now=now)),
        ("Licence expired", "yes" if company.licence_expired else "no"),
        ("Reseller", _name(company.reseller) if company.reseller else "—"),
    ]


def _tags(overage: Overage) -> str:
    tags = ", ".join(_name(tag, 40) for tag in overage.company.tags[:20] if tag.strip())
    more = len(overage.company.tags) - 20
    return (tags or "none") + (f" and {more:,} more" if more > 0 else "")


def _company_id(overage: Overage) -> str:
    # in a code span Slack applies no marker: only a backtick would end it early; the ID
    # keeps its underscores, so that it can be copied
    flat = " ".join(_one_line(overage.company.company_id).split())
    return escape(_cut(flat, 100)).replace("`", "'") or "—"


def native_upload_comment(user: str) -> str:
    """The words the platform's own export file is uploaded with."""
    return f"The platform's own export file, unchanged, as <@{escape(user)}> asked."
