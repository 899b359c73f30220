"""PURE: Report/DigestDiff -> Block Kit messages; action_id constants; to_text()."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.digest import Change, DigestDiff, SnapshotRow
from bot.grammar import TOP_MAX, unescape
from bot.overage import Overage, Report

Block = dict[str, Any]

EXPORT_BUTTON = "overage_export"
EXPORT_CSV_BUTTON = "overage_export_csv"
POST_TO_CHANNEL_BUTTON = "overage_post_to_channel"
DETAILS_SELECT = "overage_company_details"
REFRESH_HOME_BUTTON = "overage_refresh_home"

# Slack's limits (docs.slack.dev/reference/block-kit); going over one fails the whole post
MAX_BLOCKS = 50
MAX_HOME_BLOCKS = 100
MAX_TEXT = 40_000
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_FIELDS = 10
MAX_FIELD = 2000
MAX_BUTTON = 75
MAX_OPTION = 75
MAX_OPTION_VALUE = 150
MAX_OPTIONS = 100
MAX_TABLE_ROWS = 100  # our column titles take one of them
MAX_TABLE_CELL_CHARS = 10_000  # summed over every cell of the table, titles included

NAME_IN_LIST = 80
FIND_DETAILED = 15
DIGEST_LIST = 10
HOME_TOP = 5
_SECTION_ROOM = MAX_SECTION - 100  # leaves room for an "…and N more" line
_SPARKS = "▁▂▃▄▅▆▇█"
_UNKNOWN = "limit unknown"
_ALL_CLEAR = "No customer is over its license limit."
_REFUSAL = (
    "Sorry, the overage bot isn't available in this channel or for you. "
    "Ask your Slack admin to add this channel or you to the bot's allowed list."
)
_USAGE = (
    ("/overage", "summary: companies over limit, seats over, the biggest overages"),
    ("/overage top [N]", "the N biggest overages (default 10, at most 100)"),
    ("/overage find TEXT", "over-limit companies whose name contains TEXT, with details"),
    ("/overage export [xlsx|csv]", "uploads the workbook (default xlsx) into this channel"),
    ("/overage export native [xlsx|csv]", "uploads the platform's own export file"),
    ("/overage digest", "posts the digest into this channel now"),
    ("/overage subscribe weekly mon 09:00 [zone]", "posts the digest here every week"),
    ("/overage subscribe daily 08:30 [zone]", "posts the digest here every day"),
    ("/overage unsubscribe", "stops this channel's scheduled digest"),
    ("/overage subscriptions", "lists the scheduled digests"),
    ("/overage help", "this help"),
)
_TABLE_COLUMNS = (
    ("#", "right"),
    ("Company", "left"),
    ("Limit", "right"),
    ("Users", "right"),
    ("Over by", "right"),
    ("Over %", "right"),
)
_FIELD_LABEL = re.compile(r"\A\*([^*\n]+)\*\n")


@dataclass(frozen=True, slots=True)
class Message:
    """A Slack message: notification text plus Block Kit blocks; a table block travels in
    `attachments` (Slack refuses it among the top-level blocks)."""

    text: str
    blocks: list[Block] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)


# --- text from the platform ------------------------------------------------------------------


def escape(text: str) -> str:
    """Text made inert for mrkdwn: no mention, link or entity; control characters as spaces."""
    flat = _one_line(text)
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _one_line(text: str) -> str:
    # newlines, tabs, bidi overrides and other invisible characters would reshape a line
    return "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _cut_mrkdwn(text: str, limit: int) -> str:
    """Cut escaped text without splitting an entity such as &amp; in two."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    amp = head.rfind("&")
    if amp >= 0 and ";" not in head[amp:]:
        head = head[:amp]
    return head + "…"


def _name(text: str, limit: int = NAME_IN_LIST) -> str:
    """A platform name for mrkdwn: one line, cut to length, escaped."""
    return escape(_cut(" ".join(_one_line(text).split()), limit)) or "(no name)"


def _plain(text: str, limit: int) -> str:
    """A platform name for plain_text/raw_text: Slack does not parse these, but the text
    travels on (copied, quoted, logged), so it keeps nothing that looks like markup."""
    flat = " ".join(_one_line(text).split()).replace("<", "‹").replace(">", "›")
    return _cut(flat, limit) or "—"


# --- numbers and times -----------------------------------------------------------------------


def _percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:,.1f}%"


def _money(amount: Decimal, currency: str) -> str:
    try:
        cents = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except ArithmeticError:
        return f"{escape(currency)} {amount}"
    return f"{escape(currency)} {cents:,.2f}"


def _delta(change: int | None) -> str:
    if change is None:
        return ""
    if change > 0:
        return f"▲ +{change:,}"
    if change < 0:
        return f"▼ −{-change:,}"
    return "no change"


def _zone(zone_name: str) -> tzinfo:
    try:
        return ZoneInfo(zone_name)
    except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return UTC


def _clock(moment: datetime, *, now: datetime, zone: tzinfo = UTC, zone_name: str = "UTC") -> str:
    """HH:MM in the zone, with the date in front when it is not today's."""
    local = moment.astimezone(zone)
    day = "" if local.date() == now.astimezone(zone).date() else f"{local:%Y-%m-%d} "
    return f"{day}{local:%H:%M} {zone_name}"


def _age(moment: datetime, *, now: datetime) -> str:
    minutes = int((now - moment).total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 120:
        return f"{minutes} minute{'' if minutes == 1 else 's'} ago"
    hours = minutes // 60
    return f"{hours} hours ago" if hours < 48 else f"{hours // 24} days ago"


def _when(moment: datetime | None, *, missing: str) -> str:
    return missing if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


# --- blocks ----------------------------------------------------------------------------------


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": _cut(text, MAX_HEADER)}}


def _mrkdwn(text: str, limit: int) -> Block:
    """A mrkdwn text object. `verbatim` keeps Slack from turning a bare URL, #channel or
    @here in a platform name into a link or a mention; our own <@U…> and <#C…> still work."""
    return {"type": "mrkdwn", "text": _cut_mrkdwn(text, limit), "verbatim": True}


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(text, MAX_SECTION)}


def _fields(pairs: Sequence[tuple[str, str]]) -> Block:
    fields = [_mrkdwn(f"*{label}*\n{value}", MAX_FIELD) for label, value in pairs]
    return {"type": "section", "fields": fields[:MAX_FIELDS]}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(text, MAX_SECTION)]}


def _actions(elements: Sequence[Block]) -> list[Block]:
    return [{"type": "actions", "elements": list(elements)}] if elements else []


def _button(label: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": _cut(label, MAX_BUTTON)},
        "action_id": action_id,
        "value": value,
    }
    if style is not None:
        button["style"] = style
    return button


def _export_buttons() -> list[Block]:
    return [
        _button("Export workbook", EXPORT_BUTTON, "xlsx", style="primary"),
        _button("CSV", EXPORT_CSV_BUTTON, "csv"),
    ]


def _post_button() -> Block:
    return _button("Post to channel", POST_TO_CHANNEL_BUTTON, "summary")


def _details_select(overages: Sequence[Overage]) -> list[Block]:
    usable = [o for o in overages if 0 < len(o.company.company_id) <= MAX_OPTION_VALUE]
    options = [_option(o) for o in usable[:MAX_OPTIONS]]
    if not options:
        return []
    placeholder = {"type": "plain_text", "text": "Details of a company…"}
    return [
        {
            "type": "static_select",
            "action_id": DETAILS_SELECT,
            "placeholder": placeholder,
            "options": options,
        }
    ]


def _option(overage: Overage) -> Block:
    over = _UNKNOWN if overage.seats_over is None else f"+{overage.seats_over:,}"
    suffix = f" ({over})"
    name = _plain(overage.company.name, MAX_OPTION - len(suffix))
    return {
        "text": {"type": "plain_text", "text": _cut(name + suffix, MAX_OPTION)},
        "value": overage.company.company_id,
    }


def _fit(blocks: list[Block], limit: int) -> list[Block]:
    """A last guard: never more blocks than Slack takes; the closing context/actions stay."""
    if len(blocks) <= limit:
        return blocks
    tail: list[Block] = []
    while blocks[: len(blocks) - len(tail)] and len(tail) < 2:
        last = blocks[len(blocks) - len(tail) - 1]
        if last["type"] not in ("context", "actions"):
            break
        tail.insert(0, last)
    head = blocks[: len(blocks) - len(tail)][: limit - len(tail) - 1]
    return [*head, _context("…more than fits in one message: `/overage export` for all"), *tail]


_TABLE_TITLE = "overage_table_title"
_TABLE_MORE = "overage_table_more"


def _message(text: str, blocks: list[Block]) -> Message:
    """The message; a table among the blocks moves into the attachments, where Slack takes it
    (one table a message)."""
    fallback = _cut_mrkdwn(text, MAX_TEXT) or "License overage"
    # the table's title and "…and N more" go with it: Slack shows the attachment below the
    # message
    tabled = any(b["type"] == "table" for b in blocks)
    attached = [
        b
        for b in blocks
        if b["type"] == "table" or (tabled and b.get("block_id") in (_TABLE_TITLE, _TABLE_MORE))
    ]
    rest = [b for b in blocks if b not in attached]
    attachments = [{"blocks": attached}] if attached else []
    return Message(text=fallback, blocks=_fit(rest, MAX_BLOCKS), attachments=attachments)


# --- overage rows: table, lines, details -----------------------------------------------------


def _limit(overage: Overage) -> str:
    limit = overage.company.limit
    return _UNKNOWN if overage.seats_over is None or limit is None else f"{limit:,}"


def _over_by(overage: Overage) -> str:
    return "—" if overage.seats_over is None else f"{overage.seats_over:,}"


def _cell(text: str) -> Block:
    return {"type": "raw_text", "text": text or "—"}  # a cell may not be empty


def _overage_table(overages: Sequence[Overage]) -> Block | None:
    """The ranking as a table block; None when it does not fit one, in rows or in characters
    summed over the cells (the caller lists it instead)."""
    if not overages or len(overages) + 1 > MAX_TABLE_ROWS:
        return None
    titles = [_cell(title) for title, _ in _TABLE_COLUMNS]
    rows = [
        [
            _cell(str(rank)),
            _cell(_plain(o.company.name, NAME_IN_LIST)),
            _cell(_limit(o)),
            _cell(f"{o.company.target_users:,}"),
            _cell(_over_by(o)),
            _cell(_percent(o.ratio)),
        ]
        for rank, o in enumerate(overages, 1)
    ]
    if sum(len(cell["text"]) for row in [titles, *rows] for cell in row) > MAX_TABLE_CELL_CHARS:
        return None
    settings = [
        {"align": align, "is_wrapped": title == "Company"} for title, align in _TABLE_COLUMNS
    ]
    return {"type": "table", "column_settings": settings, "rows": [titles, *rows]}


def _line(rank: int, overage: Overage) -> str:
    users = f"{overage.company.target_users:,} users"
    head = f"*{rank}.* {_name(overage.company.name)}"
    if overage.seats_over is None:
        return f"{head} · {_UNKNOWN} · {users}"
    return (
        f"{head} · over by {overage.seats_over:,} ({_percent(overage.ratio)})"
        f" · limit {_limit(overage)} · {users}"
    )


def _more(count: int) -> str:
    return f"…and {count:,} more: `/overage export` for all"


def _list_blocks(
    lines: Sequence[str],
    *,
    total: int,
    max_blocks: int,
    title: str = "",
    more: Callable[[int], str] = _more,
) -> list[Block]:
    """Lines packed into sections of at most 3000 characters; what does not fit is counted
    in a closing "…and N more" line instead of failing the post."""
    texts = [title] if title else []
    shown = 0
    for line in lines:
        line = _cut_mrkdwn(line, _SECTION_ROOM)
        if texts and len(texts[-1]) + 1 + len(line) <= _SECTION_ROOM:
            texts[-1] += "\n" + line
        elif len(texts) < max_blocks:
            texts.append(line)
        else:
            break
        shown += 1
    if total > shown:
        if texts:
            texts[-1] += "\n" + more(total - shown)
        else:
            texts.append(more(total - shown))
    return [_section(text) for text in texts]


def _ranking(overages: Sequence[Overage], *, total: int, max_blocks: int) -> list[Block]:
    """The biggest overages: one table block when it fits, else mrkdwn lines."""
    table = _overage_table(overages)
    if table is None:
        lines = [_line(rank, o) for rank, o in enumerate(overages, 1)]
        return _list_blocks(lines, total=total, max_blocks=max_blocks)
    more = total - len(overages)
    return [table, *([{**_context(_more(more)), "block_id": _TABLE_MORE}] if more > 0 else [])]


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


# --- totals and the data's age ---------------------------------------------------------------


def _totals(report: Report) -> Block:
    pairs = [("Companies over limit", f"{report.companies_over:,}")]
    if report.limit_unknown:
        pairs.append(("Of which limit unknown", f"{report.limit_unknown:,}"))
    pairs.append(("Seats over in total", f"{report.seats_over:,}"))
    if report.true_up is not None:
        pairs.append(("Estimated monthly true-up", _money(report.true_up, report.currency)))
    return _fields(pairs)


def _totals_text(report: Report) -> str:
    unknown = f" ({report.limit_unknown:,} with {_UNKNOWN})" if report.limit_unknown else ""
    text = (
        f"{report.companies_over:,} companies over their license limit{unknown}, "
        f"{report.seats_over:,} seats over in total"
    )
    if report.true_up is not None:
        text += f", estimated true-up {_money(report.true_up, report.currency)} a month"
    return text + "."


def _data_as_of(
    report: Report, *, now: datetime, zone: tzinfo = UTC, zone_name: str = "UTC"
) -> Block:
    when = _clock(report.fetched_at, now=now, zone=zone, zone_name=zone_name)
    return _context(f"Data as of {when} ({_age(report.fetched_at, now=now)})")


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


# --- the digest ------------------------------------------------------------------------------


def render_digest(
    diff: DigestDiff, *, now: datetime, zone_name: str = "UTC", cadence: str | None = "weekly"
) -> Message:
    """The digest (weekly, daily, or for a schedule that is neither, cadence None): totals
    with their change, who went over or came back, the trend."""
    zone = _zone(zone_name)
    title = (
        f"{cadence.capitalize()} license overage digest" if cadence else "License overage digest"
    )
    blocks = [_header(title), *_late_note(diff, now, zone, zone_name)]
    if diff.all_clear:
        blocks += _digest_all_clear(diff)
    else:
        blocks += _digest_body(diff)
    blocks += [*_trend(diff), _data_as_of(diff.report, now=now, zone=zone, zone_name=zone_name)]
    if not diff.all_clear:
        blocks += _actions([*_export_buttons(), *_details_select(diff.report.top(MAX_OPTIONS))])
    return _message(_digest_text(diff, title), blocks)


def _digest_text(diff: DigestDiff, title: str) -> str:
    report = diff.report
    if diff.all_clear:
        return f"{title}: {_ALL_CLEAR}"
    companies = f"{report.companies_over:,} companies over their license limit"
    seats = f"{report.seats_over:,} seats over"
    if not diff.first:
        companies += f" ({_delta(diff.companies_delta)})"
        seats += f" ({_delta(diff.seats_delta)})"
    return f"{title}: {companies}, {seats}."


def _late_note(diff: DigestDiff, now: datetime, zone: tzinfo, zone_name: str) -> list[Block]:
    if diff.late_by is None:
        return []
    due = diff.due or now - diff.late_by
    slot = _clock(due, now=now, zone=zone, zone_name=zone_name)
    if diff.retried:
        return [
            _context(
                f":hourglass: Posted late, on a retry after a failed attempt: it was due at {slot}."
            )
        ]
    return [
        _context(f":hourglass: Posted late: the bot was offline at the scheduled time ({slot}).")
    ]


def _digest_all_clear(diff: DigestDiff) -> list[Block]:
    blocks = [_section(f":white_check_mark: {_ALL_CLEAR} (All clear.)")]
    if diff.first:
        blocks.append(_context("This is the first digest: nothing to compare with yet."))
    return blocks + _digest_list(
        "Back under their limit", [_came_back_line(r) for r in diff.came_back]
    )


def _digest_body(diff: DigestDiff) -> list[Block]:
    report = diff.report
    pairs = [
        ("Companies over limit", _with_delta(report.companies_over, diff.companies_delta)),
        ("Seats over in total", _with_delta(report.seats_over, diff.seats_delta)),
    ]
    if report.limit_unknown:
        pairs.append(("Of which limit unknown", f"{report.limit_unknown:,}"))
    if report.true_up is not None:
        pairs.append(("Estimated monthly true-up", _money(report.true_up, report.currency)))
    blocks = [_fields(pairs)]
    if diff.first:
        blocks.append(_context("This is the first digest: nothing to compare with yet."))
    blocks += _digest_list(
        "Went over since last digest", [_line(n, o) for n, o in enumerate(diff.went_over, 1)]
    )
    blocks += _digest_list("Back under their limit", [_came_back_line(r) for r in diff.came_back])
    blocks += _digest_list("Grew", [_change_line(c) for c in diff.grew])
    blocks += _digest_list("Shrank", [_change_line(c) for c in diff.shrank])
    blocks += _digest_list("Limit now unknown", [_unknown_line(c) for c in diff.limit_now_unknown])
    blocks += _digest_list(
        "Limit readable again", [_change_line(c) for c in diff.limit_known_again]
    )
    blocks.append({**_section("*Biggest overages*"), "block_id": _TABLE_TITLE})
    return blocks + _ranking(
        report.top(DIGEST_LIST), total=report.companies_over, max_blocks=DIGEST_LIST
    )


def _with_delta(value: int, delta: int | None) -> str:
    return f"{value:,}" if delta is None else f"{value:,}  {_delta(delta)}"


def _digest_list(title: str, lines: Sequence[str]) -> list[Block]:
    if not lines:
        return []
    heading = f"*{title}* ({len(lines):,})"
    return _list_blocks(lines[:DIGEST_LIST], total=len(lines), max_blocks=2, title=heading)


def _came_back_line(row: SnapshotRow) -> str:
    was = _UNKNOWN if row.seats_over is None else f"was over by {row.seats_over:,}"
    return f"{_name(row.name)} · {was}"


def _change_line(change: Change) -> str:
    name = _name(change.overage.company.name)
    after = _over_by(change.overage)
    if change.previous_seats_over is None:  # the limit is readable again: no delta to show
        return f"{name} · {_UNKNOWN} → over by {after}"
    return f"{name} · over by {change.previous_seats_over:,} → {after} ({_delta(change.delta)})"


def _unknown_line(change: Change) -> str:
    # only a change from a known overage lands here: the previous value is never None
    was, users = change.previous_seats_over, change.overage.company.target_users
    return (
        f"{_name(change.overage.company.name)} · was over by {was:,} → {_UNKNOWN} ({users:,} users)"
    )


def _trend(diff: DigestDiff) -> list[Block]:
    if len(diff.trend) < 2:
        return []
    values = [point.seats_over for point in diff.trend]
    line = f"`{sparkline(values)}` {values[0]:,} → {values[-1]:,}"
    return [_context(f"Seats over, last {len(values)} digests: {line}")]


def sparkline(values: Sequence[int]) -> str:
    """A compact text chart: one block character per value, low to high."""
    if not values:
        return ""
    low, high = min(values), max(values)
    if high == low:
        return _SPARKS[3] * len(values)
    steps = len(_SPARKS) - 1
    return "".join(_SPARKS[round((v - low) * steps / (high - low))] for v in values)


# --- help, errors, short notes ---------------------------------------------------------------


def render_help(problem: str | None = None) -> Message:
    """Usage of every command, led by what was not understood when there is something."""
    usage = "\n".join(f"`{command}`  {what}" for command, what in _USAGE)
    blocks = [_section(f"*How to use `/overage`*\n{usage}")]
    if problem:
        blocks.insert(0, _section(f":thinking_face: {escape(problem)}"))
        return _message(f"{escape(problem)} Type `/overage help` for usage.", blocks)
    return _message("How to use /overage: summary, top, find, export, digest, help.", blocks)


def render_error(sentence: str) -> Message:
    text = escape(sentence) or "Something went wrong. Try again in a few minutes."
    return _message(text, [_section(f":warning: {text}")])


def render_refusal() -> Message:
    return _message(_REFUSAL, [_section(f":no_entry: {_REFUSAL}")])


def render_working(what: str) -> Message:
    """A short note while slow work goes on, e.g. "Fetching the overage list…"."""
    text = escape(what) or "Working on it…"
    return _message(text, [_context(f":hourglass_flowing_sand: {text}")])


# --- App Home --------------------------------------------------------------------------------


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


# --- plain text for terminals and the README -------------------------------------------------


def to_text(message: Message) -> str:
    """A readable plain-text rendering of a message's blocks."""
    attached = [b for a in message.attachments for b in a.get("blocks", [])]
    parts = [_block_text(block) for block in [*message.blocks, *attached]]
    text = "\n".join(part for part in parts if part) or message.text
    return unescape(text)


def _block_text(block: Block) -> str:
    kind = block.get("type")
    if kind == "header":
        title = str(block["text"]["text"])
        return f"{title}\n{'=' * len(title)}"
    if kind == "section":
        return _section_text(block)
    if kind == "table":
        return _table_text(block)
    if kind == "context":
        return "  ".join(str(e.get("text", e.get("alt_text", ""))) for e in block["elements"])
    if kind == "actions":
        return "  ".join(_element_text(e) for e in block["elements"])
    if kind == "divider":
        return "-" * 40
    return ""


def _section_text(block: Block) -> str:
    parts = [str(block["text"]["text"])] if "text" in block else []
    fields = [_FIELD_LABEL.sub(r"\1: ", str(f["text"])) for f in block.get("fields", [])]
    return "\n".join([*parts, *fields])


def _element_text(element: Block) -> str:
    if element.get("type") == "button":
        return f"[ {element['text']['text']} ]"
    placeholder = element.get("placeholder", {}).get("text", "choose")
    return f"[ {placeholder} ▾ ]"


def _cell_text(cell: Block) -> str:
    if cell.get("type") == "raw_text":
        return str(cell.get("text", ""))
    found: list[str] = []
    stack = list(cell.get("elements", []))
    while stack:
        item = stack.pop(0)
        found.append(str(item.get("text", "")))
        stack[:0] = item.get("elements", [])
    return "".join(found)


def _table_text(block: Block) -> str:
    rows = [[_cell_text(cell) for cell in row] for row in block.get("rows", [])]
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(width)]
    settings = list(block.get("column_settings", [])) + [{}] * width
    right = [(s or {}).get("align") == "right" for s in settings[:width]]
    lines = []
    for row in rows:
        cells = [
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --- subscriptions --------------------------------------------------------------------------


def render_notice(text: str) -> Message:
    """A plain confirmation, e.g. "Subscribed: …"; text is ours, values in it are escaped."""
    return _message(text, [_section(f":white_check_mark: {text}")])


def describe_schedule(cadence: str, weekday: str | None, time: str, zone: str) -> str:
    day = f"every {weekday.capitalize()}" if cadence == "weekly" and weekday else "every day"
    return f"{day} at {time} ({escape(zone)})"


def render_subscriptions(
    entries: Sequence[tuple[str, str, str | None]], *, now: datetime
) -> Message:
    """Each entry: channel ID, schedule description, who set it up (None: the settings)."""
    if not entries:
        text = "No digest subscriptions yet. Add one with `/overage subscribe weekly mon 09:00`."
        return _message(text, [_section(text)])
    lines = [
        f"• <#{escape(channel)}>: {schedule}"
        + (f", set up by <@{escape(user)}>" if user else " (from DIGEST_CHANNEL)")
        for channel, schedule, user in entries
    ]
    sections = _list_blocks(
        lines, total=len(entries), max_blocks=MAX_BLOCKS - 1, more=lambda n: f"…and {n:,} more."
    )
    return _message(
        f"{len(entries)} digest subscription(s).", [_header("Digest subscriptions"), *sections]
    )


# --- alerts: a customer newly over its limit -------------------------------------------------

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
    blocks = [
        _section(f":rotating_light: {sentence}"),
        _alert_footer(report, now=now),
        *_actions([*_export_buttons(), *_details_select([overage])]),
    ]
    return _message(sentence, blocks)


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
    lines = [_line(rank, o) for rank, o in enumerate(overages[:limit], 1)]
    blocks = [
        *_list_blocks(lines, total=len(overages), max_blocks=3, title=title),
        _alert_footer(report, now=now),
        *_actions([*_export_buttons(), *_details_select(overages)]),
    ]
    names = ", ".join(_name(o.company.name, 40) for o in overages[:3])
    more = f" and {len(overages) - 3:,} more" if len(overages) > 3 else ""
    return _message(f"{text}: {names}{more}." if names else text, blocks)


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


# --- moved from services ---


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


def describe_crontab(crontab: str, zone: str) -> str:
    """DIGEST_CHANNEL's schedule in the subscriptions listing: the crontab as it is set."""
    return f"`{crontab}` ({zone})"


def render_subscribed(cadence: str, weekday: str | None, time: str, zone: str) -> Message:
    when = describe_schedule(cadence, weekday, time, zone)
    return render_notice(f"Subscribed: this channel gets the digest {when}.")


def render_unsubscribed(*, removed: bool) -> Message:
    if removed:
        return render_notice("This channel's digest subscription is removed.")
    return render_notice("This channel has no digest subscription to remove.")
