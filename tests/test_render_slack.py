"""Block Kit rendering: hostile names stay inert, Slack's limits hold, numbers read well."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.digest import DigestDiff, TrendPoint, diff, snapshot_of
from bot.overage import Company, Report, build_report
from bot.render_slack import (
    DETAILS_SELECT,
    EXPORT_BUTTON,
    EXPORT_CSV_BUTTON,
    POST_TO_CHANNEL_BUTTON,
    REFRESH_HOME_BUTTON,
    Block,
    Message,
    escape,
    render_company,
    render_digest,
    render_error,
    render_find,
    render_help,
    render_home,
    render_home_refused,
    render_refusal,
    render_subscriptions,
    render_summary,
    render_top,
    render_working,
    sparkline,
    to_text,
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


def assert_fits(blocks: list[Block], *, max_blocks: int = 50) -> None:
    """Slack's Block Kit limits for every block we use; a table never among the blocks."""
    assert 0 < len(blocks) <= max_blocks
    assert all(b["type"] != "table" for b in blocks)
    for block in blocks:
        CHECKS[block["type"]](block)
    assert_verbatim(blocks)


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
        assert 0 < len(block["text"]["text"]) <= 3000
    assert len(block.get("fields", [])) <= 10
    assert all(0 < len(f["text"]) <= 2000 for f in block.get("fields", []))


def _check_header(block: Block) -> None:
    assert block["text"]["type"] == "plain_text"
    assert 0 < len(block["text"]["text"]) <= 150


def _check_table(block: Block) -> None:
    assert 0 < len(block["rows"]) <= 100
    assert len(block["column_settings"]) <= 20
    assert all(s["align"] in ("left", "center", "right") for s in block["column_settings"])
    for row in block["rows"]:
        assert 0 < len(row) <= 20
        assert all(cell["type"] == "raw_text" and cell["text"] for cell in row)
    assert sum(len(cell["text"]) for row in block["rows"] for cell in row) <= 10_000


def _check_context(block: Block) -> None:
    assert 0 < len(block["elements"]) <= 10
    assert all(0 < len(e["text"]) <= 3000 for e in block["elements"])


def _check_actions(block: Block) -> None:
    assert 0 < len(block["elements"]) <= 25
    for element in block["elements"]:
        if element["type"] == "button":
            assert 0 < len(element["text"]["text"]) <= 75
            assert len(element["value"]) <= 2000
        else:
            assert element["type"] == "static_select"
            assert len(element["placeholder"]["text"]) <= 150
            assert 0 < len(element["options"]) <= 100
            for option in element["options"]:
                assert 0 < len(option["text"]["text"]) <= 75
                assert 0 < len(option["value"]) <= 150
            values = [option["value"] for option in element["options"]]
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
    assert 0 < len(message.text) <= 40_000
    assert_fits(message.blocks)
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


# --- hostile text ----------------------------------------------------------------------------


def test_hostile_names_never_reach_slack_unescaped() -> None:
    companies = hostile_companies()
    before = [company(n + 100, name=name) for n, name in enumerate(HOSTILE)]
    before += [companies[4]]
    report = report_of(companies, price="3.5")
    messages = all_renders(report, digest_with_everything(companies, before), "<!channel>")
    home = render_home(report, now=NOW, last_digest=None, next_digest=None, error="<!here>")
    for message in messages:
        assert_message_fits(message)
        for text in [message.text, *strings([message.blocks, message.attachments])]:
            assert "<!" not in text and "<http" not in text and "<@" not in text
            assert "\n" not in text or "Line one\nLine two" not in text
            assert LONG not in text
            assert "\u202e" not in text and "\u0000" not in text
    assert_fits(home, max_blocks=100)
    assert all("<!" not in text and "<http" not in text for text in strings(home))


def test_bare_urls_channels_and_mentions_stay_plain_text() -> None:
    names = ["https://evil.example/login", "@here", "<@U123>", "#general"]
    report = report_of([company(n, name=name, reseller=name) for n, name in enumerate(names)])
    messages = [
        render_summary(report, now=NOW),
        render_top(report_of([company(n, name=names[n % 4]) for n in range(120)]), 100, now=NOW),
        render_find(report, "@", now=NOW),
        *(render_company(o, now=NOW) for o in report.overages if "U123" in o.company.name),
        render_digest(diff(report, None), now=NOW),
    ]
    for message in messages:
        assert_message_fits(message)  # every mrkdwn object is verbatim
        body = texts(message)
        assert "&lt;@U123&gt;" in body or "‹@U123›" in body
        assert "<@U123>" not in body
    listed = texts(messages[1])
    assert "https://evil.example/login" in listed and "#general" in listed and "@here" in listed
    home = render_home(report, now=NOW, last_digest=None, next_digest=None)
    assert_fits(home, max_blocks=100)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<https://evil|x>", "&lt;https://evil|x&gt;"),
        ("Tom & Jerry", "Tom &amp; Jerry"),
        ("&lt;", "&amp;lt;"),
        ("two\nlines\tand\rmore", "two lines and more"),
        ("plain", "plain"),
    ],
)
def test_escape_makes_mrkdwn_inert(raw: str, escaped: str) -> None:
    assert escape(raw) == escaped


def test_long_names_are_cut_with_an_ellipsis() -> None:
    report = report_of([company(1, name="N" * 300)])
    summary = texts(render_summary(report, now=NOW))
    assert "N" * 80 not in summary and "N" * 79 + "…" in summary
    header = render_company(report.overages[0], now=NOW).blocks[0]["text"]["text"]
    assert len(header) == 150 and header.endswith("…")


def test_names_in_plain_text_keep_no_markup_and_mrkdwn_shows_them_escaped() -> None:
    report = report_of([company(1, name="A&B <Ltd>")])
    summary = render_summary(report, now=NOW)
    table = table_of(summary)
    assert table is not None
    assert table["rows"][1][1]["text"] == "A&B ‹Ltd›"
    top = render_top(
        report_of([company(n) for n in range(100)] + [company(200, name="A&B")]), 100, now=NOW
    )
    assert "A&amp;B" in texts(top)


# --- Slack's limits --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_report() -> Report:
    companies = [
        company(n, name=f"<!channel> {'W' * 120} {n}", users=100 + n + 1) for n in range(5000)
    ]
    companies += [company(n, limit=None) for n in range(5000, 5050)]
    return report_of(companies, price="4.50")


def test_a_report_of_five_thousand_companies_fits_every_message(big_report: Report) -> None:
    before = [company(n, users=100 + (n % 7) + 1) for n in range(2500, 7500)]
    digest = digest_with_everything(list(c.company for c in big_report.overages), before)
    home = render_home(big_report, now=NOW, last_digest=NOW, next_digest=NOW, error=None)
    for message in all_renders(big_report, digest, "channel"):
        assert_message_fits(message)
    assert_fits(home, max_blocks=100)


@pytest.mark.parametrize("count", [1, 10, 50, 99, 100, 1000])
def test_top_n_fits_and_shows_every_row(big_report: Report, count: int) -> None:
    message = render_top(big_report, count, now=NOW)
    assert_message_fits(message)
    shown = min(count, 100)
    table = table_of(message)
    if count <= 50:
        assert table is not None
    if table is not None:
        assert len(table["rows"]) == shown + 1
    else:  # past 100 rows (one is the titles) or 10,000 characters the list takes over
        assert count >= 99
        assert f"*{shown}.*" in texts(message)
    assert f"…and {5050 - shown:,} more: `/overage export` for all" in texts(message)


def test_the_table_travels_in_the_attachments_with_the_text_and_blocks_kept() -> None:
    message = render_summary(report_of([company(n) for n in range(12)]), now=NOW)
    assert [a["blocks"][0]["type"] for a in message.attachments] == ["table"]
    assert all(b["type"] != "table" for b in message.blocks)
    assert message.text.startswith("License overage:")
    assert [b["type"] for b in message.blocks][:2] == ["header", "section"]
    # Slack shows the attachment below the message: the table's "…and N more" goes with it
    attached = [b["type"] for b in message.attachments[0]["blocks"]]
    assert attached == ["table", "context"]
    assert "…and 2 more: `/overage export` for all" in "\n".join(strings(message.attachments))


def test_one_hundred_rows_of_very_long_hostile_names_fall_back_to_the_list() -> None:
    hostile = ["<!channel>", "https://evil.example/login", "@here", "<@U123>", "#general"]
    names = [f"{hostile[n % 5]} {'&<>' * 60} {n}" for n in range(150)]
    report = report_of(
        [company(n, name=name, limit=None, users=1_234_567 + n) for n, name in enumerate(names)]
    )
    for count in (99, 100):
        message = render_top(report, count, now=NOW)
        assert_message_fits(message)
        assert table_of(message) is None  # over 10,000 characters in the cells
        assert f"*{count}.*" in texts(message)
        assert f"…and {150 - count} more: `/overage export` for all" in texts(message)
    short = render_top(report, 20, now=NOW)
    assert_message_fits(short)
    table = table_of(short)
    assert table is not None and len(table["rows"]) == 21


def test_the_home_tab_never_holds_a_table() -> None:
    report = report_of([company(n) for n in range(30)])
    blocks = render_home(report, now=NOW, last_digest=None, next_digest=None)
    assert_fits(blocks, max_blocks=100)
    assert "table" not in {b["type"] for b in blocks}


def test_top_100_of_hostile_long_names_still_fits() -> None:
    companies = [company(n, name=("&<>" * 100) + str(n)) for n in range(150)]
    message = render_top(report_of(companies), 100, now=NOW)
    assert_message_fits(message)
    assert "*100.*" in texts(message)
    assert "…and 50 more" in texts(message)


def test_table_has_the_summary_columns() -> None:
    message = render_summary(report_of([company(1)]), now=NOW)
    table = table_of(message)
    assert table is not None
    titles = [cell["text"] for cell in table["rows"][0]]
    assert titles == ["#", "Company", "Limit", "Users", "Over by", "Over %"]
    assert [cell["text"] for cell in table["rows"][1]] == [
        "1",
        "Company 00001",
        "100",
        "102",
        "2",
        "2.0%",
    ]


# --- numbers, money, totals ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "currency", "seats", "expected"),
    [
        ("4.50", "USD", 1234, "USD 5,553.00"),
        ("0.125", "EUR", 3, "EUR 0.38"),
        ("1000", "TRY", 1500, "TRY 1,500,000.00"),
        ("2", "GBP", 1, "GBP 2.00"),
    ],
)
def test_true_up_is_money_with_currency(
    price: str, currency: str, seats: int, expected: str
) -> None:
    report = report_of([company(1, limit=1000, users=1000 + seats)], price=price, currency=currency)
    summary = render_summary(report, now=NOW)
    assert f"*Estimated monthly true-up*\n{expected}" in texts(summary)
    assert expected in summary.text


def test_no_true_up_without_a_price() -> None:
    summary = render_summary(report_of([company(1)]), now=NOW)
    assert "true-up" not in texts(summary) and "true-up" not in summary.text


def test_numbers_have_thousands_separators() -> None:
    report = report_of([company(1, limit=1000, users=2234), company(2, limit=12000, users=13500)])
    summary = render_summary(report, now=NOW)
    body = texts(summary)
    for number in ("1,500", "12,000", "13,500", "1,234", "1,000", "2,234", "2,734", "123.4%"):
        assert number in body
    assert "*Seats over in total*\n2,734" in body


def test_summary_has_totals_data_age_and_actions() -> None:
    companies = [company(n) for n in range(15)] + [company(99, limit=None, users=50)]
    summary = render_summary(report_of(companies), now=NOW)
    body = texts(summary)
    assert summary.blocks[0]["text"]["text"] == "License overage"
    assert "*Companies over limit*\n16" in body and "*Of which limit unknown*\n1" in body
    assert "…and 6 more: `/overage export` for all" in body
    assert "Data as of 08:53 UTC (7 minutes ago)" in body
    actions = next(b for b in summary.blocks if b["type"] == "actions")["elements"]
    ids = [e["action_id"] for e in actions]
    assert ids == [EXPORT_BUTTON, EXPORT_CSV_BUTTON, POST_TO_CHANNEL_BUTTON, DETAILS_SELECT]
    assert actions[0]["value"] == "xlsx" and actions[0]["text"]["text"] == "Export workbook"
    assert [o["value"] for o in actions[3]["options"]][:2] == ["c00014", "c00013"]


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (timedelta(seconds=20), "(just now)"),
        (timedelta(minutes=1), "(1 minute ago)"),
        (timedelta(minutes=45), "(45 minutes ago)"),
        (timedelta(hours=5), "(5 hours ago)"),
        (timedelta(days=3), "(3 days ago)"),
    ],
)
def test_data_age_reads_naturally(age: timedelta, expected: str) -> None:
    report = build_report([company(1)], fetched_at=NOW - age)
    assert expected in texts(render_summary(report, now=NOW))


def test_an_empty_report_is_an_all_clear() -> None:
    for message in (
        render_summary(report_of([]), now=NOW),
        render_top(report_of([]), 10, now=NOW),
    ):
        assert_message_fits(message)
        assert message.text == "No customer is over its license limit."
        assert "No customer is over its license limit." in texts(message)
        assert all(b["type"] != "actions" for b in message.blocks)


def test_limit_unknown_rows_are_shown_as_such() -> None:
    report = report_of([company(1), company(2, limit=None, users=77)])
    table = table_of(render_top(report, 10, now=NOW))
    assert table is not None
    assert [c["text"] for c in table["rows"][2]][1:] == [
        "Company 00002",
        "limit unknown",
        "77",
        "—",
        "—",
    ]
    assert "limit unknown" in render_summary(report, now=NOW).text
    details = texts(render_company(report.overages[1], now=NOW))
    assert "*License limit*\nlimit unknown" in details


# --- find and company details ----------------------------------------------------------------


def test_find_lists_matches_with_license_details() -> None:
    report = report_of(
        [
            company(1, name="Acme Corp", license_type="Enterprise", reseller="Rex"),
            company(2, name="ACME Labs"),
            company(3, name="Other"),
        ]
    )
    message = render_find(report, "acme", now=NOW)
    body = texts(message)
    assert "Acme Corp" in body and "ACME Labs" in body and "Other" not in body
    assert "*License type*\nEnterprise" in body and "*Reseller*\nRex" in body
    assert message.text == "2 over-limit companies with “acme” in the name."
    assert_message_fits(message)


def test_find_without_matches_says_so_with_the_escaped_text() -> None:
    message = render_find(report_of([company(1)]), "<b>&", now=NOW)
    assert message.text == "No over-limit company has “&lt;b&gt;&amp;” in its name."
    assert message.text in texts(message)


def test_find_with_many_matches_ends_with_and_more() -> None:
    report = report_of([company(n, name=f"Acme {n}") for n in range(40)])
    message = render_find(report, "acme", now=NOW)
    assert_message_fits(message)
    assert "…and 25 more: `/overage export` for all" in texts(message)


def test_company_details_show_every_license_fact() -> None:
    overage = report_of(
        [
            company(
                1,
                name="Acme",
                limit=1000,
                users=1250,
                license_type="Enterprise",
                reseller="Rex & Co",
                inactive_users=30,
                monthly_active_users=1100,
                licence_expired=True,
                license_end=datetime(2025, 3, 1, tzinfo=UTC),
                tags=("gold", "<!here>"),
            )
        ]
    ).overages[0]
    message = render_company(overage, now=NOW)
    body = texts(message)
    for fact in (
        "*License type*\nEnterprise",
        "*License limit*\n1,000",
        "*Target users*\n1,250",
        "*Over by*\n250",
        "*Over by %*\n25.0%",
        "*Inactive users*\n30",
        "*Monthly active users*\n1,100",
        "*License end date*\n2025-03-01 (9 days ago)",
        "*Licence expired*\nyes",
        "*Reseller*\nRex &amp; Co",
        "Tags: gold, &lt;!here&gt;",
        "`c00001`",
    ):
        assert fact in body
    assert message.blocks[0]["text"]["text"] == "Acme"
    assert message.text == "Acme: over by 250."


# --- the digest ------------------------------------------------------------------------------


def test_first_digest_says_there_is_nothing_to_compare() -> None:
    digest = diff(report_of([company(1), company(2)]), None)
    message = render_digest(digest, now=NOW)
    body = texts(message)
    assert message.blocks[0]["text"]["text"] == "Weekly license overage digest"
    assert "This is the first digest: nothing to compare with yet." in body
    assert "▲" not in body and "▼" not in body and "Seats over," not in body
    assert "*Companies over limit*\n2" in body
    assert_message_fits(message)


def test_digest_shows_changes_since_the_previous_one() -> None:
    before = [company(1, users=110), company(2, users=150), company(3, users=104), company(4)]
    now = [company(1, users=120), company(2, users=130), company(3, users=104), company(5)]
    previous = snapshot_of(build_report(before, fetched_at=FETCHED - timedelta(days=7)))
    message = render_digest(diff(report_of(now, price="10"), previous), now=NOW)
    body = texts(message)
    assert "*Companies over limit*\n4  no change" in body
    assert "*Seats over in total*\n60  ▼ −9" in body
    assert "*Went over since last digest* (1)\n*1.* Company 00005" in body
    assert "*Back under their limit* (1)\nCompany 00004 · was over by 5" in body
    assert "*Grew* (1)\nCompany 00001 · over by 10 → 20 (▲ +10)" in body
    assert "*Shrank* (1)\nCompany 00002 · over by 50 → 30 (▼ −20)" in body
    assert "*Estimated monthly true-up*\nUSD 600.00" in body
    assert message.text == (
        "Weekly license overage digest: 4 companies over their license limit (no change), "
        "60 seats over (▼ −9)."
    )
    ids = [e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    assert ids == [EXPORT_BUTTON, EXPORT_CSV_BUTTON, DETAILS_SELECT]


def test_digest_growth_is_marked_up() -> None:
    previous = snapshot_of(build_report([company(1)], fetched_at=FETCHED - timedelta(days=7)))
    report = report_of([company(1), company(2), company(3, limit=None)])
    body = texts(render_digest(diff(report, previous), now=NOW))
    assert "*Companies over limit*\n3  ▲ +2" in body
    assert "*Seats over in total*\n5  ▲ +3" in body


def test_all_clear_digest_is_one_line_plus_who_came_back() -> None:
    previous = snapshot_of(build_report([company(1, name="Back & Co")], fetched_at=FETCHED))
    message = render_digest(diff(report_of([]), previous), now=NOW)
    body = texts(message)
    assert "No customer is over its license limit. (All clear.)" in body
    assert "*Back under their limit* (1)\nBack &amp; Co · was over by 2" in body
    assert all(b["type"] != "actions" for b in message.blocks)
    assert "Biggest overages" not in body


def test_late_digest_names_the_missed_slot_in_the_zone() -> None:
    digest = diff(report_of([company(1)]), None, late_by=timedelta(hours=2, minutes=30))
    utc = texts(render_digest(digest, now=NOW))
    assert "Posted late: the bot was offline at the scheduled time (06:30 UTC)." in utc
    istanbul = texts(render_digest(digest, now=NOW, zone_name="Europe/Istanbul"))
    assert "(09:30 Europe/Istanbul)" in istanbul
    on_time = texts(render_digest(diff(report_of([company(1)]), None), now=NOW))
    assert "Posted late" not in on_time


def test_digest_trend_is_a_sparkline_with_first_and_last() -> None:
    history = (
        TrendPoint(NOW - timedelta(days=21), 1, 10),
        TrendPoint(NOW - timedelta(days=14), 2, 1500),
        TrendPoint(NOW - timedelta(days=7), 3, 800),
    )
    report = report_of([company(1, limit=1000, users=3000)])
    body = texts(render_digest(diff(report, None, history=history), now=NOW))
    assert "Seats over, last 4 digests: `▁▆▄█` 10 → 2,000" in body


@pytest.mark.parametrize(
    ("values", "line"),
    [([1, 2], "▁█"), ([5, 5, 5], "▄▄▄"), ([0, 7, 14], "▁▅█"), ([], "")],
)
def test_sparkline(values: list[int], line: str) -> None:
    assert sparkline(values) == line


def test_digest_lists_are_capped_with_and_more() -> None:
    previous = snapshot_of(build_report([company(1)], fetched_at=FETCHED))
    report = report_of([company(n) for n in range(2, 40)])
    message = render_digest(diff(report, previous), now=NOW)
    assert "*Went over since last digest* (38)" in texts(message)
    assert "…and 28 more: `/overage export` for all" in texts(message)
    assert_message_fits(message)


# --- help, errors, notes, home ---------------------------------------------------------------


def test_help_lists_every_command() -> None:
    body = texts(render_help())
    for command in (
        "`/overage`",
        "`/overage top [N]`",
        "`/overage find TEXT`",
        "`/overage export [xlsx|csv]`",
        "`/overage export native [xlsx|csv]`",
        "`/overage digest`",
        "`/overage subscribe weekly mon 09:00 [zone]`",
        "`/overage unsubscribe`",
        "`/overage subscriptions`",
        "`/overage help`",
    ):
        assert command in body


def test_help_leads_with_the_escaped_problem() -> None:
    message = render_help("I didn't understand '<!channel> & co'.")
    first = message.blocks[0]["text"]["text"]
    assert "I didn't understand '&lt;!channel&gt; &amp; co'." in first
    assert message.text.startswith("I didn't understand '&lt;!channel&gt; &amp; co'.")


@pytest.mark.parametrize(
    ("render", "words"),
    [
        (
            lambda: render_error("The platform is down. Try again in a few minutes."),
            "platform is down",
        ),
        (render_refusal, "Sorry, the overage bot isn't available"),
        (lambda: render_working("Fetching the overage list…"), "Fetching the overage list…"),
    ],
)
def test_short_notes(render: Callable[[], Message], words: str) -> None:
    message = render()
    assert_message_fits(message)
    assert words in message.text and words in texts(message)


def test_refusal_points_to_the_slack_admin() -> None:
    assert "Slack admin" in render_refusal().text
    assert "Slack admin" in "\n".join(strings(render_home_refused()))


def test_home_shows_totals_top_five_digest_times_and_buttons() -> None:
    report = report_of([company(n) for n in range(8)], price="1")
    blocks = render_home(
        report, now=NOW, last_digest=NOW - timedelta(days=7), next_digest=NOW + timedelta(days=1)
    )
    body = "\n".join(strings(blocks))
    assert_fits(blocks, max_blocks=100)
    assert "*The 5 biggest overages*" in body and "*5.*" in body and "*6.*" not in body
    assert "Last digest: 2025-03-03 09:00 UTC · Next digest: 2025-03-11 09:00 UTC" in body
    assert "Data as of 08:53 UTC" in body
    ids = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert ids == [REFRESH_HOME_BUTTON, EXPORT_BUTTON]


def test_home_without_data_shows_the_error() -> None:
    blocks = render_home(
        None, now=NOW, last_digest=None, next_digest=None, error="The platform is down."
    )
    body = "\n".join(strings(blocks))
    assert "The platform is down." in body
    assert "Last digest: none yet · Next digest: not scheduled" in body


# --- plain text ------------------------------------------------------------------------------


def test_to_text_is_readable_and_keeps_the_numbers() -> None:
    report = report_of(
        [company(1, name="Tom & Jerry", limit=1000, users=2234), company(2, limit=None, users=5)],
        price="4.50",
    )
    text = to_text(render_summary(report, now=NOW))
    assert text.startswith("License overage\n===============\n")
    assert "Companies over limit: 2" in text
    assert "Seats over in total: 1,234" in text
    assert "Estimated monthly true-up: USD 5,553.00" in text
    assert "Tom & Jerry" in text and "&amp;" not in text
    assert "[ Export workbook ]  [ CSV ]  [ Post to channel ]" in text
    lines = text.splitlines()
    title = next(n for n, line in enumerate(lines) if line.lstrip().startswith("#"))
    assert lines[title].split() == ["#", "Company", "Limit", "Users", "Over", "by", "Over", "%"]
    assert set(lines[title + 1].replace(" ", "")) == {"-"}
    assert "1,234" in lines[title + 2] and "limit unknown" in lines[title + 3]
    # the columns line up: each row's "Over by" ends where the header's does
    assert lines[title + 2].index("1,234") + len("1,234") == lines[title].index("by") + 2


def test_to_text_of_a_digest_and_help() -> None:
    digest = diff(report_of([company(1, limit=2000, users=3500)]), None)
    text = to_text(render_digest(digest, now=NOW))
    assert "1,500" in text and "first digest" in text
    assert "/overage top [N]" in to_text(render_help())


@pytest.mark.parametrize("count", [3, 5_000])
def test_a_long_subscription_list_fits_and_counts_what_it_leaves_out(count: int) -> None:
    entries = [
        (f"C{n:08d}", "weekly on Monday at 09:00 (Europe/Istanbul)", "U1") for n in range(count)
    ]
    message = render_subscriptions(entries, now=NOW)
    assert_message_fits(message)
    shown = texts(message)
    listed = shown.count("<#C")
    if count == 3:
        assert listed == 3 and "more" not in shown
    else:
        assert 0 < listed < count
        assert shown.rstrip().endswith(f"…and {count - listed:,} more.")
