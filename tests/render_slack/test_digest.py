"""The digest: changes since the previous one, the trend, the late note, capped lists."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.digest import TrendPoint, diff, snapshot_of
from bot.overage import build_report
from bot.render_slack import (
    DETAILS_SELECT,
    EXPORT_BUTTON,
    EXPORT_CSV_BUTTON,
    render_digest,
    sparkline,
)
from tests.render_slack.conftest import FETCHED, NOW, assert_message_fits, company, report_of, texts


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
