"""Slack's limits hold for any report, however large or hostile."""

from __future__ import annotations

import re

import pytest

from bot.overage import Report
from bot.render_slack import Message, render_home, render_summary, render_top
from tests.render_slack.conftest import (
    NOW,
    all_renders,
    assert_fits,
    assert_message_fits,
    company,
    digest_with_everything,
    report_of,
    strings,
    table_of,
    texts,
)


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


def ranked_rows(message: Message) -> int:
    """How many ranked rows a message shows: in its table, else as numbered lines."""
    table = table_of(message)
    if table is not None:
        return len(table["rows"]) - 1
    return len(re.findall(r"^\*\d+\.\*", texts(message), flags=re.MULTILINE))


@pytest.mark.parametrize("count", [1, 10, 50, 99, 100, 1000])
def test_top_n_fits_and_counts_every_row_it_leaves_out(big_report: Report, count: int) -> None:
    message = render_top(big_report, count, now=NOW)
    assert_message_fits(message)
    shown = ranked_rows(message)
    if count <= 50:  # 50 rows of these long names are well within the budget
        assert shown == count and table_of(message) is not None
    else:  # 100 rows of them are not: fewer, and the title and "…and N more" say so
        assert 80 <= shown < min(count, 100)
    assert message.blocks[0]["text"]["text"] == (
        "The biggest license overage" if shown == 1 else f"The {shown} biggest license overages"
    )
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


def test_one_hundred_rows_of_very_long_hostile_names_show_what_fits() -> None:
    hostile = ["<!channel>", "https://evil.example/login", "@here", "<@U123>", "#general"]
    names = [f"{hostile[n % 5]} {'&<>' * 60} {n}" for n in range(150)]
    report = report_of(
        [company(n, name=name, limit=None, users=1_234_567 + n) for n, name in enumerate(names)]
    )
    for count in (99, 100):
        message = render_top(report, count, now=NOW)
        assert_message_fits(message)
        shown = ranked_rows(message)
        assert 0 < shown < count
        assert f"…and {150 - shown} more: `/overage export` for all" in texts(message)
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
    shown = ranked_rows(message)
    assert 0 < shown < 100
    assert f"…and {150 - shown} more" in texts(message)


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
