"""Shared builders for the Block Kit rendering tests, and Slack's limits as assertions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.digest import DigestDiff, TrendPoint, diff, snapshot_of
from bot.overage import Company, Report, build_report
from bot.render_slack import (
    Block,
    Message,
    render_company,
    render_digest,
    render_error,
    render_find,
    render_help,
    render_refusal,
    render_summary,
    render_top,
    render_working,
)
from tests.companies import company

NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
FETCHED = NOW - timedelta(minutes=7)
LONG = "L" * 300
HOSTILE = (
    "<!channel>",
    "<!here> please",
    "<https://evil.example|Click me>",
    "<@U123ABC>",
    "Tom & Jerry",
    LONG,
    "Line one\nLine two <!everyone>",
    "*bold* _it_ `code` ~strike~",
    "\u202eevil\u0000tab\there",
    "",
    "https://evil.example/login",
    "@here",
    "<@U123>",
    "#general",
)


def report_of(
    companies: list[Company], *, price: str | None = None, currency: str = "USD"
) -> Report:
    return build_report(
        companies,
        fetched_at=FETCHED,
        seat_price=Decimal(price) if price is not None else None,
        currency=currency,
    )


def hostile_companies() -> list[Company]:
    return [
        company(
            n,
            name=name,
            reseller=name,
            license_type=name,
            tags=(name, "ok"),
            limit=None if n == 3 else 100,
        )
        for n, name in enumerate(HOSTILE)
    ]


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


BUDGET = 10_000  # the text of a whole message, in UTF-16 units


def u16(text: str) -> int:
    """A length as Slack counts it: UTF-16 code units (an emoji outside the BMP is two)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def text_units(value: Any) -> int:
    """Every string under a "text" key, summed in UTF-16 units: what a message carries."""
    if isinstance(value, dict):
        return sum(
            u16(item) if key == "text" and isinstance(item, str) else text_units(item)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return sum(text_units(item) for item in value)
    return 0


def assert_fits(blocks: list[Block], *, max_blocks: int = 50) -> None:
    """Slack's Block Kit limits for every block we use; a table never among the blocks."""
    assert 0 < len(blocks) <= max_blocks
    assert all(b["type"] != "table" for b in blocks)
    for block in blocks:
        CHECKS[block["type"]](block)
    assert_verbatim(blocks)
    assert text_units(blocks) <= BUDGET


def assert_verbatim(value: Any) -> None:
    """Every mrkdwn text object is verbatim: no bare URL, #channel or @here is linked."""
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn":
            assert value.get("verbatim") is True, value
        for item in value.values():
            assert_verbatim(item)
    elif isinstance(value, list):
        for item in value:
            assert_verbatim(item)


def _check_section(block: Block) -> None:
    assert "text" in block or "fields" in block
    if "text" in block:
        assert 0 < u16(block["text"]["text"]) <= 3000
    assert len(block.get("fields", [])) <= 10
    assert all(0 < u16(f["text"]) <= 2000 for f in block.get("fields", []))


def _check_header(block: Block) -> None:
    assert block["text"]["type"] == "plain_text"
    assert 0 < u16(block["text"]["text"]) <= 150


def _check_table(block: Block) -> None:
    assert 0 < len(block["rows"]) <= 100
    assert len(block["column_settings"]) <= 20
    assert all(s["align"] in ("left", "center", "right") for s in block["column_settings"])
    for row in block["rows"]:
        assert 0 < len(row) <= 20
        assert all(cell["type"] == "raw_text" and cell["text"] for cell in row)
    assert sum(u16(cell["text"]) for row in block["rows"] for cell in row) <= 10_000


def _check_context(block: Block) -> None:
    assert 0 < len(block["elements"]) <= 10
    assert all(0 < u16(e["text"]) <= 3000 for e in block["elements"])


def _check_actions(block: Block) -> None:
    assert 0 < len(block["elements"]) <= 25
    for element in block["elements"]:
        if element["type"] == "button":
            assert 0 < u16(element["text"]["text"]) <= 75
            assert len(element["value"]) <= 2000
        else:  # the company picker: its options are served on demand, none in the message
            assert element["type"] == "external_select"
            assert 0 < u16(element["placeholder"]["text"]) <= 150
            assert element["min_query_length"] >= 0
            assert "options" not in element


def assert_options_fit(options: list[Block]) -> None:
    """What an external select may be served: at most 100 options, each text within 75
    UTF-16 units, each value 1 to 150, no value twice."""
    assert len(options) <= 100
    for option in options:
        assert option["text"]["type"] == "plain_text"
        assert 0 < u16(option["text"]["text"]) <= 75
        assert 0 < len(option["value"]) <= 150
    values = [option["value"] for option in options]
    assert len(values) == len(set(values))


CHECKS: dict[str, Callable[[Block], None]] = {
    "section": _check_section,
    "header": _check_header,
    "context": _check_context,
    "actions": _check_actions,
}


def assert_message_fits(message: Message) -> None:
    """Slack's limits; a table goes in the attachments, one a message, with at most its
    "…and N more" line after it."""
    assert 0 < u16(message.text) <= 40_000
    assert_fits(message.blocks)
    assert text_units([message.blocks, message.attachments]) <= BUDGET
    attached = [b for a in message.attachments for b in a["blocks"]]
    types = [b["type"] for b in attached]
    assert types in ([], ["table"], ["table", "context"], ["section", "table"],
                     ["section", "table", "context"])  # fmt: skip
    for block in attached:
        if block["type"] == "table":
            _check_table(block)
        else:
            assert_fits([block])


def table_of(message: Message) -> Block | None:
    attached = [b for a in message.attachments for b in a["blocks"] if b["type"] == "table"]
    return attached[0] if attached else None


def texts(message: Message) -> str:
    return "\n".join(strings([message.blocks, message.attachments]))


def digest_with_everything(companies: list[Company], before: list[Company]) -> DigestDiff:
    previous = snapshot_of(build_report(before, fetched_at=FETCHED - timedelta(days=7)))
    history = (TrendPoint(FETCHED - timedelta(days=14), 1, 10),)
    return diff(report_of(companies, price="2"), previous, history=history)


def all_renders(report: Report, digest: DigestDiff, find: str) -> list[Message]:
    overage = report.overages[0]
    return [
        render_summary(report, now=NOW),
        render_top(report, 100, now=NOW),
        render_top(report, 10, now=NOW),
        render_find(report, find, now=NOW),
        render_find(report, "<!channel> nowhere", now=NOW),
        *(render_company(o, now=NOW) for o in report.overages),
        render_company(overage, now=NOW),
        render_digest(digest, now=NOW),
        render_help(f"I didn't understand '{find}'."),
        render_error(f"Slack said {find}."),
        render_working(find),
        render_refusal(),
    ]
