"""Shared pieces of every Slack surface: Message, Block, Slack's limits, action IDs,
escaping and cutting platform text, block builders, overage rows and totals."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.overage import Overage, PlanTotal, Report, shortfall_note
from bot.render_slack.lengths import TEXT_BUDGET, cut, head, text_size, units

Block = dict[str, Any]

EXPORT_BUTTON = "overage_export"
EXPORT_CSV_BUTTON = "overage_export_csv"
POST_TO_CHANNEL_BUTTON = "overage_post_to_channel"
DETAILS_SELECT = "overage_company_details"
REFRESH_HOME_BUTTON = "overage_refresh_home"
EXPORT_INVOICE_BUTTON = "overage_export_invoice"

# Slack's limits (docs.slack.dev/reference/block-kit), in UTF-16 code units as Slack counts
# them; going over one fails the whole post
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
# the text of a whole message (see lengths.TEXT_BUDGET)
MAX_MESSAGE_TEXT = TEXT_BUDGET

NAME_IN_LIST = 80
FIND_DETAILED = 15
DIGEST_LIST = 10
HOME_TOP = 5
_SECTION_ROOM = MAX_SECTION - 100  # leaves room for an "…and N more" line
_UNKNOWN = "limit unknown"
_ALL_CLEAR = "No customer is over its license limit."
_REFUSAL = (
    "Sorry, the overage bot isn't available in this channel or for you. "
    "Ask your Slack admin to add this channel or you to the bot's allowed list."
)

_TABLE_COLUMNS = (
    ("#", "right"),
    ("Company", "left"),
    ("Limit", "right"),
    ("Users", "right"),
    ("Over by", "right"),
    ("Over %", "right"),
)


@dataclass(frozen=True, slots=True)
class Message:
    """A Slack message: notification text plus Block Kit blocks; a table block travels in
    `attachments` (Slack refuses it among the top-level blocks).

    `smaller` holds the same message with fewer rows, smallest last, each saying how many
    more there are: what to send instead when Slack refuses this one as too long or invalid.
    """

    text: str
    blocks: list[Block] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    smaller: tuple[Message, ...] = ()


# --- text from the platform ------------------------------------------------------------------


def escape(text: str) -> str:
    """Text made inert for mrkdwn: no mention, link or entity; control characters as spaces."""
    flat = _one_line(text)
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _one_line(text: str) -> str:
    # newlines, tabs, bidi overrides and other invisible characters would reshape a line; a
    # zero-width joiner only joins emoji into one (a family, a profession) and stays
    return "".join(" " if unicodedata.category(c)[0] in "CZ" and c != "\u200d" else c for c in text)


# mrkdwn has no escape for its markers: in platform text each becomes a look-alike that Slack
# does not parse, so "*Ivy* _League_" shows as itself rather than bold and italic
_MARKERS = str.maketrans({"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"})
# the colon that opens an emoji code such as :rotating_light: (a colon, then no space or
# colon up to the next colon)
_EMOJI_CODE = re.compile(r":(?=[^\s:]+:)")


def _inert(text: str) -> str:
    """Platform text whose mrkdwn markers and emoji codes Slack will not act on."""
    return _EMOJI_CODE.sub("∶", text.translate(_MARKERS))


def _cut(text: str, limit: int) -> str:
    return cut(text, limit)


def _cut_mrkdwn(text: str, limit: int) -> str:
    """Cut escaped text without splitting an entity such as &amp; in two."""
    if units(text) <= limit:
        return text
    start = head(text, limit - 1)
    amp = start.rfind("&")
    if amp >= 0 and ";" not in start[amp:]:
        start = start[:amp]
    return start + "…"


def _name(text: str, limit: int = NAME_IN_LIST) -> str:
    """A platform name for mrkdwn: one line, cut to length, markers inert, escaped."""
    return escape(_inert(_cut(" ".join(_one_line(text).split()), limit))) or "(no name)"


def _plain(text: str, limit: int) -> str:
    """A platform name for plain_text/raw_text: Slack does not parse these, but the text
    travels on (copied, quoted, logged), so it keeps nothing that looks like markup."""
    flat = " ".join(_one_line(text).split()).replace("<", "‹").replace(">", "›")
    return _cut(flat, limit) or "—"


def _plain_text(text: str) -> Block:
    """A plain_text object; `emoji` off, so an emoji code in a platform name stays text."""
    return {"type": "plain_text", "text": text, "emoji": False}


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
    return {"type": "header", "text": _plain_text(_cut(text, MAX_HEADER))}


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


def invoice_button() -> Block:
    """The button that uploads the invoice CSV, for the case list."""
    return _button("Invoice CSV", EXPORT_INVOICE_BUTTON, "invoice")


def _post_button() -> Block:
    return _button("Post to channel", POST_TO_CHANNEL_BUTTON, "summary")


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


def _fitted(build: Callable[[int], Message], rows: int) -> Message:
    """The message `build` makes with as many of `rows` rows as keep its text within the
    budget (build says "…and N more" for the rows left out), with the smaller ones to send
    instead should Slack refuse it: half the rows, then a quarter."""

    def fits(count: int) -> bool:
        message = build(count)
        return text_size([message.blocks, message.attachments]) <= MAX_MESSAGE_TEXT

    shown = count = _most_rows(fits, rows)
    fewer: list[int] = []
    while count > 0 and len(fewer) < 2:
        count //= 2
        fewer.append(count)
    return replace(build(shown), smaller=tuple(build(count) for count in fewer))


def _most_rows(fits: Callable[[int], bool], rows: int) -> int:
    """The most rows, up to `rows`, that fit (0 when none do); more rows never fit better."""
    if fits(rows):
        return rows
    low, high = 0, rows - 1
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


# --- overage rows: table, lines, ranking -----------------------------------------------------


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
    if sum(units(cell["text"]) for row in [titles, *rows] for cell in row) > MAX_TABLE_CELL_CHARS:
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
        if texts and units(texts[-1]) + 1 + units(line) <= _SECTION_ROOM:
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


# --- totals and the data's age ---------------------------------------------------------------


def _totals(report: Report) -> Block:
    pairs = [("Companies over limit", f"{report.companies_over:,}")]
    if report.limit_unknown:
        pairs.append(("Of which limit unknown", f"{report.limit_unknown:,}"))
    pairs.append(("Seats over in total", f"{report.seats_over:,}"))
    return _fields([*pairs, *_true_up_pairs(report)])


def _true_up_pairs(report: Report) -> list[tuple[str, str]]:
    """The true-up, and how many companies it leaves out because their plan has no price
    (SEAT_PRICES without `*`): they are never priced at zero."""
    if report.true_up is None:
        return []
    pairs = [("Estimated monthly true-up", _money(report.true_up, report.currency))]
    if report.unpriced:
        pairs.append(("No price set for their plan", f"{len(report.unpriced):,} companies"))
    return pairs


def _plan_totals(report: Report) -> list[Block]:
    """The true-up per plan, when plans are priced apart (SEAT_PRICES): one line a plan, the
    priced ones first; a plan with no price says so and is never priced at zero."""
    if report.prices is None or not report.prices.by_plan:
        return []
    totals = report.plan_totals()
    lines = [_plan_line(total, report.currency) for total in totals]
    return _list_blocks(
        lines,
        total=len(totals),
        max_blocks=1,
        title="*True-up per plan*",
        more=lambda n: f"…and {n:,} more plans: `/overage export` for all",
    )


def _plan_line(total: PlanTotal, currency: str) -> str:
    companies = f"{total.companies:,} compan{'y' if total.companies == 1 else 'ies'}"
    head = f"{_name(total.plan)} · {companies} · {total.seats_over:,} seats over"
    if total.price is None or total.true_up is None:
        return f"{head} · no price set"
    price = f"{escape(currency)} {total.price:,}"  # as set, not rounded: 0.0333 stays so
    return f"{head} · {price} a seat · {_money(total.true_up, currency)}"


def _totals_text(report: Report) -> str:
    unknown = f" ({report.limit_unknown:,} with {_UNKNOWN})" if report.limit_unknown else ""
    text = (
        f"{report.companies_over:,} companies over their license limit{unknown}, "
        f"{report.seats_over:,} seats over in total"
    )
    if report.true_up is not None:
        text += f", estimated true-up {_money(report.true_up, report.currency)} a month"
    if report.unpriced:
        text += f" ({len(report.unpriced):,} companies with no price set)"
    return text + "."


def _shortfall(report: Report) -> list[Block]:
    """The sentence saying the list is short of Keepnet's own count, when it is."""
    note = shortfall_note(report)
    return [] if note is None else [_context(f":warning: {escape(note)}")]


def _nobody_over(report: Report) -> tuple[str, str]:
    """The emoji and sentence of a report with nobody over: all clear, unless Keepnet counted
    companies over their limit that could not be read."""
    note = shortfall_note(report)
    return (":white_check_mark:", _ALL_CLEAR) if note is None else (":warning:", escape(note))


def _with_shortfall(text: str, report: Report) -> str:
    """A notification text, followed by the shortfall sentence when the list is short."""
    note = shortfall_note(report)
    return text if note is None else f"{text} {escape(note)}"


def _data_as_of(
    report: Report, *, now: datetime, zone: tzinfo = UTC, zone_name: str = "UTC"
) -> Block:
    when = _clock(report.fetched_at, now=now, zone=zone, zone_name=zone_name)
    return _context(f"Data as of {when} ({_age(report.fetched_at, now=now)})")
