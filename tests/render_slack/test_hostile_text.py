"""Hostile platform text stays inert in every rendering."""

from __future__ import annotations

from typing import Any

import pytest

from bot.digest import diff
from bot.render_slack import (
    escape,
    render_alert,
    render_company,
    render_digest,
    render_find,
    render_home,
    render_summary,
    render_top,
    to_text,
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


# --- mrkdwn markers and emoji codes: names display as themselves ------------------------------

MARKED = ("*Ivy* _League_", ":rotating_light: Alarm Co", "~Strike~ `Code` Ltd")
# what each would turn into in mrkdwn if its markers were live: bold, italics, an emoji, ...
# (our own alerts lead with the emoji :rotating_light:, never followed by "Alarm")
LIVE = ("*Ivy*", "_League_", ":rotating_light: Alarm", "~Strike~", "`Code`")
# how they show in mrkdwn: each marker a look-alike Slack does not act on
INERT = ("∗Ivy∗ ˍLeagueˍ", "∶rotatingˍlight: Alarm Co", "∼Strike∼ ˋCodeˋ Ltd")


def text_objects(value: Any, kind: str) -> list[dict[str, Any]]:
    """Every text object of one type ("mrkdwn", "plain_text", "raw_text") in value."""
    if isinstance(value, list):
        return [o for item in value for o in text_objects(item, kind)]
    if not isinstance(value, dict):
        return []
    own = [value] if value.get("type") == kind else []
    return own + [o for item in value.values() for o in text_objects(item, kind)]


def test_names_with_mrkdwn_markers_display_as_themselves_everywhere() -> None:
    companies = [
        company(n, name=name, reseller=name, license_type=name, tags=(name, "ok"))
        for n, name in enumerate(MARKED)
    ]
    report = report_of(companies)
    before = [company(n + 100, name=name) for n, name in enumerate(MARKED)]
    messages = [
        *all_renders(report, digest_with_everything(companies, before), "ivy"),
        render_find(report, "alarm", now=NOW),
        render_find(report, "strike", now=NOW),
        render_top(report_of([*companies, *(company(n) for n in range(3, 120))]), 100, now=NOW),
        render_alert(report.overages, report=report, now=NOW),
        render_alert(report.overages[:1], report=report, now=NOW),
        render_alert(report.overages, report=report, now=NOW, baseline=True),
    ]
    home = render_home(report, now=NOW, last_digest=None, next_digest=None)
    mrkdwn = [
        o["text"] for o in text_objects([[m.blocks, m.attachments] for m in messages], "mrkdwn")
    ]
    mrkdwn += [o["text"] for o in text_objects(home, "mrkdwn")]
    mrkdwn += [m.text for m in messages]  # the notification text is mrkdwn too
    for text in mrkdwn:
        assert not any(live in text for live in LIVE), text
    shown = "\n".join(mrkdwn)
    for inert in INERT:
        assert inert in shown
    assert "Tags: ∗Ivy∗ ˍLeagueˍ, ok" in shown and "*Reseller*\n∼Strike∼ ˋCodeˋ Ltd" in shown
    # where Slack does not parse text, the names are exactly themselves, with emoji codes off
    plain = text_objects([[m.blocks, m.attachments] for m in messages], "plain_text")
    cells = text_objects([m.attachments for m in messages], "raw_text")
    for name in MARKED:
        assert any(o["text"] == name for o in plain)  # the company's header
        assert any(o["text"] == name for o in cells)  # the ranking table
    assert all(o.get("emoji") is False for o in plain if ":" in o["text"])


def test_marker_look_alikes_still_read_as_the_name_in_plain_text() -> None:
    report = report_of([company(1, name="*Ivy* _League_", limit=None)])
    digest = diff(report, None)
    text = to_text(render_digest(digest, now=NOW))
    assert "*Ivy* _League_" in text  # the table's cell
    alert = to_text(render_alert(report.overages, report=report, now=NOW))
    assert "∗Ivy∗ ˍLeagueˍ is now flagged over its license limit" in alert
