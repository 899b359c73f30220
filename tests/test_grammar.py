"""The /overage text grammar: every row of the command table, and odd input never raises."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cases import FILTERS
from bot.grammar import (
    CASE_FILTERS,
    Cases,
    Digest,
    Export,
    Find,
    Help,
    OneCase,
    Request,
    Subscribe,
    Subscriptions,
    Summary,
    Top,
    Unsubscribe,
    parse_overage_text,
)

TOP_PROBLEM = "`top` takes a whole number from 1 to 100, not {}."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Summary()),
        ("   ", Summary()),
        ("\t\n", Summary()),
        ("summary", Summary()),
        ("SUMMARY", Summary()),
        ("  Summary  ", Summary()),
        ("top", Top(10)),
        ("Top", Top(10)),
        ("top 5", Top(5)),
        ("top   25", Top(25)),
        ("top\t7", Top(7)),
        ("\u00a0top\u00a03\u00a0", Top(3)),
        ("top 1", Top(1)),
        ("top 100", Top(100)),
        ("top 007", Top(7)),
        ("top 101", Top(100)),
        ("top 100000", Top(100)),
        ("top " + "9" * 5000, Top(100)),
        ("find acme", Find("acme")),
        ("FIND Acme", Find("Acme")),
        ("find   Acme   Corp  ", Find("Acme Corp")),
        ("find Acme\t\u00a0 Corp", Find("Acme Corp")),
        ("find\nAcme Ltd.", Find("Acme Ltd.")),
        ("find A&amp;B", Find("A&B")),
        ("find &lt;!channel&gt;", Find("<!channel>")),
        ("find ÇAĞRI Bilişim", Find("ÇAĞRI Bilişim")),
        ("export", Export("xlsx")),
        ("Export", Export("xlsx")),
        ("export xlsx", Export("xlsx")),
        ("export csv", Export("csv")),
        ("export CSV", Export("csv")),
        ("export native", Export("xlsx", native=True)),
        ("export native csv", Export("csv", native=True)),
        ("export native xlsx", Export("xlsx", native=True)),
        ("export  csv  native", Export("csv", native=True)),
        ("digest", Digest()),
        ("DIGEST", Digest()),
        ("help", Help()),
        ("Help", Help()),
        ("help me please", Help()),
        ("unsubscribe", Unsubscribe()),
        ("subscriptions", Subscriptions()),
        ("Subscriptions  ", Subscriptions()),
    ],
)
def test_parses_each_command(text: str, expected: Request) -> None:
    assert parse_overage_text(text) == expected


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("top 0", "'0'"),
        ("top 000", "'000'"),
        ("top -5", "'-5'"),
        ("top abc", "'abc'"),
        ("top 1.5", "'1.5'"),
        ("top 5 6", "'5 6'"),
        ("top ５", "'５'"),
        ("top " + "x" * 200, "'" + "x" * 39 + "…'"),
    ],
)
def test_top_with_a_bad_number_explains_the_range(text: str, bad: str) -> None:
    assert parse_overage_text(text) == Help(problem=TOP_PROBLEM.format(bad))


@pytest.mark.parametrize("text", ["find", "find   ", "FIND\t\n"])
def test_find_without_text_asks_for_a_name(text: str) -> None:
    result = parse_overage_text(text)
    assert isinstance(result, Help)
    assert result.problem is not None and "`find` needs" in result.problem


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("export pdf", "'pdf'"),
        ("export csv xlsx", "'csv xlsx'"),
        ("export native native", "'native native'"),
        ("export native pdf", "'native pdf'"),
    ],
)
def test_export_with_an_unknown_format_names_it(text: str, bad: str) -> None:
    result = parse_overage_text(text)
    assert isinstance(result, Help)
    assert result.problem is not None
    assert result.problem.startswith("`export` takes xlsx, csv, native or invoice")
    assert result.problem.endswith(f"not {bad}.")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("subscribe weekly mon 09:00", Subscribe("weekly", "mon", "09:00", None)),
        (
            "subscribe weekly mon 09:00 Europe/Istanbul",
            Subscribe("weekly", "mon", "09:00", "Europe/Istanbul"),
        ),
        (
            "SUBSCRIBE Weekly FRI 17:45 europe/istanbul",
            Subscribe("weekly", "fri", "17:45", "Europe/Istanbul"),
        ),
        ("subscribe weekly Sunday 9:05 UTC", Subscribe("weekly", "sun", "09:05", "UTC")),
        ("subscribe daily 08:30", Subscribe("daily", None, "08:30", None)),
        ("subscribe daily 00:00 UTC", Subscribe("daily", None, "00:00", "UTC")),
        ("subscribe daily 23:59", Subscribe("daily", None, "23:59", None)),
        (
            "subscribe  daily\t08:30  America/New_York ",
            Subscribe("daily", None, "08:30", "America/New_York"),
        ),
    ],
)
def test_subscribe_accepts_a_schedule(text: str, expected: Subscribe) -> None:
    assert parse_overage_text(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("subscribe", "needs a schedule"),
        ("subscribe hourly 09:00", "weekly or daily, not 'hourly'"),
        ("subscribe weekly", "needs a day and a time"),
        ("subscribe weekly xyz 09:00", "The day 'xyz' is not one of mon"),
        ("subscribe weekly mon", "needs a time as HH:MM"),
        ("subscribe weekly mon 24:00", "The time '24:00' is not a time from 00:00 to 23:59"),
        ("subscribe daily 9", "The time '9' is not a time"),
        ("subscribe daily 09:60", "The time '09:60' is not a time"),
        ("subscribe daily 9am", "The time '9am' is not a time"),
        ("subscribe daily 08:30 Mars/Olympus", "The time zone 'Mars/Olympus' is not an IANA"),
        ("subscribe daily 08:30 ../../etc/passwd", "The time zone '../../etc/passwd'"),
        ("subscribe daily 08:30 UTC extra", "nothing after the zone, not 'extra'"),
    ],
)
def test_subscribe_with_a_bad_part_says_which(text: str, words: str) -> None:
    result = parse_overage_text(text)
    assert isinstance(result, Help)
    assert result.problem is not None and words in result.problem
    assert "subscribe weekly mon 09:00" in result.problem or "extra" in result.problem


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("xyz", "I didn't understand 'xyz'."),
        ("  Hello   there ", "I didn't understand 'Hello there'."),
        ("line\none", "I didn't understand 'line one'."),
        ("tops 5", "I didn't understand 'tops 5'."),
        ("a" * 300, "I didn't understand '" + "a" * 39 + "…'."),
        ("summary please", "`summary` takes nothing after it, not 'please'."),
        ("digest now", "`digest` takes nothing after it, not 'now'."),
        ("unsubscribe all", "`unsubscribe` takes nothing after it, not 'all'."),
    ],
)
def test_anything_else_is_help_quoting_what_was_not_understood(text: str, problem: str) -> None:
    assert parse_overage_text(text) == Help(problem=problem)


def test_requests_are_frozen_values() -> None:
    request = parse_overage_text("top 5")
    with pytest.raises(AttributeError):
        request.count = 6  # type: ignore[union-attr,misc]


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_never_raises_on_any_text(text: str) -> None:
    result = parse_overage_text(text)
    assert isinstance(
        result,
        Summary | Top | Find | Export | Digest | Help | Subscribe | Unsubscribe | Subscriptions,
    )
    if isinstance(result, Top):
        assert 1 <= result.count <= 100
    if isinstance(result, Help) and result.problem is not None:
        assert "\n" not in result.problem and len(result.problem) < 400


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["top", "find", "export", "subscribe weekly", "subscribe daily", "help"]),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=60),
)
def test_never_raises_after_any_keyword(keyword: str, rest: str) -> None:
    parse_overage_text(f"{keyword} {rest}")


# --- overage cases


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cases", Cases("open")),
        ("CASES", Cases("open")),
        ("cases open", Cases("open")),
        ("cases mine", Cases("mine")),
        ("cases  Invoiced ", Cases("invoiced")),
        *((f"cases {which}", Cases(which)) for which in CASE_FILTERS),
        ("case acme", OneCase("acme")),
        ("case   Acme \t Corp ", OneCase("Acme Corp")),
        ("case &lt;!channel&gt;", OneCase("<!channel>")),
    ],
)
def test_case_commands(text: str, expected: Request) -> None:
    assert parse_overage_text(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("cases everything", "`cases` takes one of mine, new, contacted"),
        ("cases mine new", "not 'mine new'"),
        ("case", "`case` needs part of a company name"),
    ],
)
def test_case_commands_that_are_not_understood_say_why(text: str, problem: str) -> None:
    request = parse_overage_text(text)
    assert isinstance(request, Help) and request.problem is not None
    assert problem in request.problem


def test_the_listings_are_the_filters_the_store_knows() -> None:
    assert set(CASE_FILTERS) == set(FILTERS)
