"""A list short of Keepnet's own count says so, with both numbers, on every Slack surface,
and is never presented as the whole list."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.digest import diff, snapshot_of
from bot.overage import Report, build_report
from bot.render_slack import (
    Message,
    render_alert,
    render_digest,
    render_find,
    render_home,
    render_summary,
    render_top,
    render_upload_comment,
    to_text,
)
from tests.render_slack.conftest import (
    FETCHED,
    NOW,
    assert_fits,
    assert_message_fits,
    company,
    texts,
)

SHORT = "Keepnet counts 141 companies over their limit; 139 could be read."


def counted(read: int, platform_count: int | None) -> Report:
    companies = [company(n, users=101 + n) for n in range(read)]
    return build_report(companies, fetched_at=FETCHED, platform_count=platform_count)


def renders(report: Report) -> dict[str, Message]:
    previous = snapshot_of(build_report([company(1)], fetched_at=FETCHED - timedelta(days=7)))
    return {
        "summary": render_summary(report, now=NOW),
        "top": render_top(report, 100, now=NOW),
        "find": render_find(report, "company", now=NOW),
        "find nothing": render_find(report, "no such name", now=NOW),
        "digest": render_digest(diff(report, previous), now=NOW),
        "first digest": render_digest(diff(report, None), now=NOW),
        "alert": render_alert(report.overages[:1], report=report, now=NOW),
        "grouped alert": render_alert(report.overages[:5], report=report, now=NOW),
        "baseline alert": render_alert(report.overages, report=report, now=NOW, baseline=True),
    }


@pytest.mark.parametrize(
    "surface",
    ["summary", "top", "find", "find nothing", "digest", "first digest", "alert",
     "grouped alert", "baseline alert"],
)  # fmt: skip
def test_every_answer_from_a_short_fetch_says_so_with_both_numbers(surface: str) -> None:
    message = renders(counted(139, 141))[surface]
    assert_message_fits(message)
    assert SHORT in texts(message)  # in the message itself
    assert SHORT in message.text  # and in its notification
    assert SHORT in to_text(message)


def test_the_home_tab_and_the_upload_comment_say_so_too() -> None:
    report = counted(139, 141)
    home = render_home(report, now=NOW, last_digest=None, next_digest=None)
    assert_fits(home, max_blocks=100)
    assert SHORT in texts(Message("", home))
    assert render_upload_comment(report, user="U9").endswith(f"seats over in total. {SHORT}")


def test_a_complete_list_says_nothing_of_the_kind() -> None:
    for report in (counted(139, 139), counted(139, None), counted(139, 120)):
        for message in renders(report).values():
            assert "Keepnet counts" not in texts(message) + message.text
        home = render_home(report, now=NOW, last_digest=None, next_digest=None)
        assert "Keepnet counts" not in texts(Message("", home))
        assert "Keepnet counts" not in render_upload_comment(report, user="U9")


def test_nothing_read_of_what_keepnet_counts_is_never_an_all_clear() -> None:
    report = counted(0, 5)
    sentence = "Keepnet counts 5 companies over their limit; none could be read."
    messages = [
        render_summary(report, now=NOW),
        render_top(report, 10, now=NOW),
        render_digest(diff(report, None), now=NOW),
    ]
    home = Message("", render_home(report, now=NOW, last_digest=None, next_digest=None))
    for message in [*messages, home]:
        assert sentence in texts(message)
        assert "No customer is over" not in texts(message) + message.text
        assert "All clear" not in texts(message) + message.text
    assert sentence in messages[0].text and sentence in messages[2].text
    clear = render_summary(counted(0, 0), now=NOW)
    assert clear.text == "No customer is over its license limit."
