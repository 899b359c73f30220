"""Hostile platform text stays inert in every rendering."""

from __future__ import annotations

import pytest

from bot.digest import diff
from bot.render_slack import (
    escape,
    render_company,
    render_digest,
    render_find,
    render_home,
    render_summary,
    render_top,
)
from tests.render_slack.conftest import (
    HOSTILE,
    LONG,
    NOW,
    all_renders,
    assert_fits,
    assert_message_fits,
    company,
    digest_with_everything,
    hostile_companies,
    report_of,
    strings,
    table_of,
    texts,
)


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
