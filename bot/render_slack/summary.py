"""The answers to `/overage`, `top`, `find` and a company's details."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.grammar import TOP_MAX
from bot.overage import Overage, Report
from bot.render_slack.blocks import (
    _ALL_CLEAR,
    _UNKNOWN,
    FIND_DETAILED,
    MAX_BLOCKS,
    MAX_HEADER,
    MAX_SECTION,
    Message,
    _actions,
    _context,
    _data_as_of,
    _details_select,
    _export_buttons,
    _fields,
    _header,
    _limit,
    _message,
    _more,
    _mrkdwn,
    _name,
    _over_by,
    _percent,
    _plain,
    _post_button,
    _ranking,
    _section,
    _totals,
    _totals_text,
)

# --- the answers to /overage -----------------------------------------------------------------


def render_summary(report: Report, *, top: int = 10, now: datetime) -> Message:
    """The answer to `/overage`: totals, the biggest overages, export and share buttons."""
    if not report.overages:
        return _all_clear(report, now=now)
    shown = report.top(max(1, min(top, TOP_MAX)))
    blocks = [
        _header("License overage"),
        _totals(report),
        *_ranking(shown, total=report.companies_over, max_blocks=MAX_BLOCKS - 8),
        _data_as_of(report, now=now),
        *_actions([*_export_buttons(), _post_button(), *_details_select(shown)]),
    ]
    return _message(f"License overage: {_totals_text(report)}", blocks)


def render_top(report: Report, count: int, *, now: datetime) -> Message:
    """The answer to `/overage top N`: up to 100 rows, within Slack's limits."""
    if not report.overages:
        return _all_clear(report, now=now)
    shown = report.top(max(1, min(count, TOP_MAX)))
    title = (
        "The biggest license overage"
        if len(shown) == 1
        else f"The {len(shown)} biggest license overages"
    )
    blocks = [
        _header(title),
        _context(_totals_text(report)),
        *_ranking(shown, total=report.companies_over, max_blocks=MAX_BLOCKS - 8),
        _data_as_of(report, now=now),
        *_actions([*_export_buttons(), *_details_select(shown)]),
    ]
    return _message(f"{title}: {_totals_text(report)}", blocks)


def render_find(report: Report, text: str, *, now: datetime) -> Message:
    """The answer to `/overage find TEXT`: the matching companies with their license details."""
    matches = report.find(text)
    echo = _name(text, 100)
    if not matches:
        sentence = f"No over-limit company has “{echo}” in its name."
        return _message(sentence, [_section(sentence), _data_as_of(report, now=now)])
    shown = matches[:FIND_DETAILED]
    blocks = [_header(f"Over-limit companies matching “{_plain(text, 100)}”")]
    for rank, overage in enumerate(shown, 1):
        section = _fields(_details(overage, now=now))
        section["text"] = _mrkdwn(f"*{rank}.* {_name(overage.company.name)}", MAX_SECTION)
        blocks.append(section)
    if len(matches) > len(shown):
        blocks.append(_context(_more(len(matches) - len(shown))))
    blocks += [_data_as_of(report, now=now), *_actions(_details_select(matches))]
    count = f"{len(matches):,} over-limit compan{'y' if len(matches) == 1 else 'ies'}"
    return _message(f"{count} with “{echo}” in the name.", blocks)


def render_company(overage: Overage, *, now: datetime) -> Message:
    """One company's license details, from the Details select."""
    company = overage.company
    blocks = [
        _header(_plain(company.name, MAX_HEADER)),
        _fields(_details(overage, now=now)),
        _context(f"Tags: {_tags(overage)} · Company ID: `{_company_id(overage)}`"),
    ]
    over = _UNKNOWN if overage.seats_over is None else f"over by {overage.seats_over:,}"
    return _message(f"{_name(company.name)}: {over}.", blocks)


def _all_clear(report: Report, *, now: datetime) -> Message:
    blocks = [
        _header("License overage"),
        _section(f":white_check_mark: {_ALL_CLEAR}"),
        _data_as_of(report, now=now),
    ]
    return _message(_ALL_CLEAR, blocks)


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
    return _name(overage.company.company_id, 100).replace("`", "'")


def upload_comment(report: Report, user: str) -> str:
    """The words our workbook or CSV is uploaded with: who asked, and the totals."""
    unknown = f" ({report.limit_unknown:,} with limit unknown)" if report.limit_unknown else ""
    return (
        f"License overage, as <@{user}> asked: {report.companies_over:,} companies over their "
        f"limit{unknown}, {report.seats_over:,} seats over in total."
    )


def native_upload_comment(user: str) -> str:
    """The words the platform's own export file is uploaded with."""
    return f"The platform's own export file, unchanged, as <@{user}> asked."


def render_shared_summary(report: Report, *, user: str, now: datetime) -> Message:
    """The summary posted for a whole channel: in the channel the buttons would act for
    everyone, so they are left out, and it says who shared it."""
    message = render_summary(report, now=now)
    blocks = [b for b in message.blocks if b.get("type") != "actions"]
    shared_by = {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"Shared by <@{user}>"}],
    }
    return Message(text=message.text, blocks=[*blocks, shared_by], attachments=message.attachments)
