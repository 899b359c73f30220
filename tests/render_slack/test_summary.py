"""The answers to `/overage`, `top`, `find` and a company's details: numbers, money,
totals, license facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.overage import build_report
from bot.render_slack import (
    DETAILS_SELECT,
    EXPORT_BUTTON,
    EXPORT_CSV_BUTTON,
    POST_TO_CHANNEL_BUTTON,
    render_company,
    render_find,
    render_options,
    render_summary,
    render_top,
)
from tests.render_slack.conftest import (
    NOW,
    assert_message_fits,
    company,
    report_of,
    table_of,
    texts,
)

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
    report = report_of(companies)
    summary = render_summary(report, now=NOW)
    body = texts(summary)
    assert summary.blocks[0]["text"]["text"] == "License overage"
    assert "*Companies over limit*\n16" in body and "*Of which limit unknown*\n1" in body
    assert "…and 6 more: `/overage export` for all" in body
    assert "Data as of 08:53 UTC (7 minutes ago)" in body
    actions = next(b for b in summary.blocks if b["type"] == "actions")["elements"]
    ids = [e["action_id"] for e in actions]
    assert ids == [EXPORT_BUTTON, EXPORT_CSV_BUTTON, POST_TO_CHANNEL_BUTTON, DETAILS_SELECT]
    assert actions[0]["value"] == "xlsx" and actions[0]["text"]["text"] == "Export workbook"
    # the picker carries no options: the bot serves them as the person types
    assert actions[3]["type"] == "external_select" and "options" not in actions[3]
    assert [o["value"] for o in render_options(report, "")][:2] == ["c00014", "c00013"]


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
