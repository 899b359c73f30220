"""Lengths counted as Slack counts them, in UTF-16 code units; cuts keep what shows as one
character whole."""

from __future__ import annotations

import pytest

from bot.render_slack import render_company, render_options, render_summary, render_top, units
from bot.render_slack.lengths import cut
from tests.render_slack.conftest import (
    NOW,
    assert_message_fits,
    assert_options_fit,
    company,
    report_of,
    texts,
    u16,
)

FAMILY = "👨\u200d👩\u200d👧\u200d👦"  # one emoji: four people joined by zero-width joiners
FLAG = "🇹🇷"  # one flag: two regional indicators


@pytest.mark.parametrize("text", ["plain", "é", "🚀", FAMILY, FLAG, "e\u0301", "\ud800", ""])
def test_units_are_utf16_code_units(text: str) -> None:
    assert units(text) == u16(text)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("🚀" * 10, 7, "🚀🚀🚀…"),  # 3 rockets are 6 units; a 4th would split in two
        ("ab" + FAMILY + "cd", 8, "ab…"),  # the family (11 units) is never cut apart
        ("ab" + FAMILY + "cd", 14, "ab" + FAMILY + "…"),
        ("x" + FLAG + FLAG, 6, "x" + FLAG + "…"),  # never half a flag
        ("x" + FLAG + FLAG, 7, "x" + FLAG + "…"),
        ("cafe\u0301 bar", 5, "caf…"),  # a letter keeps its accent
        ("👍🏽👍🏽", 5, "👍🏽…"),  # an emoji keeps its skin tone
        ("short", 5, "short"),
    ],
)
def test_cut_keeps_what_shows_as_one_character_whole(text: str, limit: int, expected: str) -> None:
    assert cut(text, limit) == expected
    assert u16(cut(text, limit)) <= limit


def test_a_header_of_emoji_stays_within_150_units() -> None:
    name = "🚀" * 100 + " Rocket Holding"  # 115 characters, 215 units
    report = report_of([company(1, name=name, reseller=name)])
    header = render_company(report.overages[0], now=NOW).blocks[0]["text"]["text"]
    assert len(name) <= 150 < u16(name)  # short enough as Python counts, not as Slack does
    assert u16(header) <= 150 and header.endswith("…") and header.startswith("🚀" * 74)
    assert_message_fits(render_company(report.overages[0], now=NOW))


def test_an_option_of_emoji_stays_within_75_units() -> None:
    name = (FAMILY + " Family " + FLAG) * 6
    report = report_of([company(n, name=name, users=101 + n) for n in range(3)])
    options = render_options(report, "family")
    assert_options_fit(options)
    for option in options:
        text = option["text"]["text"]
        assert u16(text) <= 75 < u16(name) and text.endswith(")")
        assert FAMILY in text and "\u200d…" not in text and "…" in text


def test_the_table_counts_its_cells_in_units() -> None:
    # names of 60 emoji: 60 characters as Python counts them, 120 units as Slack does
    report = report_of([company(n, name="🚀" * 60 + str(n)) for n in range(100)])
    message = render_top(report, 99, now=NOW)
    assert_message_fits(message)  # the table's cells within 10,000 units, names within 80
    body = texts(message)
    assert "🚀" * 39 + "…" in body and "🚀" * 40 not in body


def test_list_lines_pack_sections_by_units() -> None:
    report = report_of([company(n, name="🚀" * 79 + str(n)) for n in range(40)])
    for message in (render_top(report, 40, now=NOW), render_summary(report, top=40, now=NOW)):
        assert_message_fits(message)  # every section within 3,000 units
