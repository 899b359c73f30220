"""Every message keeps its text within 10,000 UTF-16 units in all, dropping rows and saying
how many, and carries smaller versions to send should Slack still refuse it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot.digest import DigestDiff, diff, snapshot_of
from bot.overage import Report, build_report
from bot.render_slack import (
    TEXT_BUDGET,
    Message,
    render_alert,
    render_digest,
    render_find,
    render_home,
    render_shared,
    render_subscriptions,
    render_summary,
    render_top,
    text_size,
)
from tests.render_slack.conftest import (
    BUDGET,
    FETCHED,
    NOW,
    assert_fits,
    assert_message_fits,
    company,
    report_of,
    table_of,
    text_units,
    texts,
)

COMPANIES = 150


def long_name(n: int) -> str:
    """200 characters with emoji outside the BMP (two UTF-16 units each) and a unique tail."""
    return (f"{n:03d} 🚀 Ünïcödé Glass & <Holding> 👩‍💻 " * 10)[:197] + f"{n:03d}"


@pytest.fixture(scope="module")
def report() -> Report:
    companies = [
        company(n, name=long_name(n), reseller=long_name(n), license_type=long_name(n),
                tags=tuple(long_name(t) for t in range(20)), users=100 + n + 1)
        for n in range(COMPANIES)
    ]  # fmt: skip
    return report_of(companies, price="4.50")


@pytest.fixture(scope="module")
def busy_week() -> DigestDiff:
    """Every list of the digest full: 30 went over, 30 came back, 30 shrank, 30 grew, 20
    limits readable again, 20 limits now unknown."""
    now = [company(n, name=long_name(n), limit=None if n >= 130 else 100) for n in range(150)]
    before = [company(1000 + n, name=long_name(n)) for n in range(30)]  # came back
    before += [company(n, name=long_name(n), users=100 + n + 20) for n in range(30, 60)]
    before += [company(n, name=long_name(n), users=101) for n in range(60, 90)]
    before += [company(n, name=long_name(n), limit=None) for n in range(90, 110)]
    before += [company(n, name=long_name(n)) for n in range(110, 150)]
    previous = snapshot_of(build_report(before, fetched_at=FETCHED - timedelta(days=7)))
    busy = diff(report_of(now, price="4.50"), previous)
    lists = (busy.went_over, busy.came_back, busy.shrank, busy.grew, busy.limit_known_again,
             busy.limit_now_unknown)  # fmt: skip
    assert [len(items) for items in lists] == [30, 30, 30, 30, 20, 20]
    return busy


def ranked(message: Message) -> int:
    """The rows a message lists: in its table, else as numbered lines (*1.* …)."""
    table = table_of(message)
    if table is not None:
        return len(table["rows"]) - 1
    return len(re.findall(r"^\*\d+\.\*", texts(message), flags=re.MULTILINE))


def more(message: Message) -> int:
    """The N of the message's "…and N more" (0 when it has none)."""
    found = re.findall(r"…and ([\d,]+) more", texts(message))
    return int(found[-1].replace(",", "")) if found else 0


def test_text_size_counts_every_text_in_utf16_units_and_nothing_else() -> None:
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "a🚀b"}, "block_id": "x" * 50},
        {"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "value": "v" * 90,
             "action_id": "y" * 40},
        ]},
    ]  # fmt: skip
    table = {"type": "table", "rows": [[{"type": "raw_text", "text": "é👩‍💻"}]]}
    assert text_size(blocks) == 4 + 2
    assert text_size([blocks, [{"blocks": [table]}]]) == 6 + 1 + 5
    assert TEXT_BUDGET == BUDGET


def test_the_worst_cases_fit_the_budget_and_say_what_they_leave_out(
    report: Report, busy_week: DigestDiff
) -> None:
    top = render_top(report, 100, now=NOW)
    summary = render_summary(report, top=100, now=NOW)
    for message in (top, summary):
        assert_message_fits(message)
        assert 0 < ranked(message) < 100  # 100 rows of such names do not fit
        assert more(message) == COMPANIES - ranked(message)
    find = render_find(report, "glass", now=NOW)
    assert_message_fits(find)
    detailed = len(re.findall(r"^\*\d+\.\* ", texts(find), flags=re.MULTILINE))
    assert 0 < detailed <= 15 and more(find) == COMPANIES - detailed
    digest = render_digest(busy_week, now=NOW)
    assert_message_fits(digest)
    assert "…and" in texts(digest)
    alert = render_alert(report.overages, report=report, now=NOW)
    assert_message_fits(alert)
    assert more(alert) == COMPANIES - ranked(alert)
    home = render_home(report, now=NOW, last_digest=NOW, next_digest=NOW)
    assert_fits(home, max_blocks=100)


def test_a_long_list_of_subscriptions_fits_the_budget() -> None:
    entries = [(f"C{n:08d}", "every Monday at 09:00 (Europe/Istanbul)", "U1") for n in range(300)]
    message = render_subscriptions(entries, now=NOW)
    assert_message_fits(message)
    listed = texts(message).count("<#C")
    assert 0 < listed < 300 and more(message) == 300 - listed


def test_rows_are_dropped_only_for_the_budget() -> None:
    report = report_of([company(n) for n in range(150)])
    message = render_top(report, 100, now=NOW)
    assert ranked(message) == 100 and more(message) == 50
    assert text_units([message.blocks, message.attachments]) <= BUDGET


@pytest.mark.parametrize("count", [100, 10, 2, 1])
def test_smaller_versions_have_fewer_rows_and_say_how_many_more(count: int) -> None:
    report = report_of([company(n, name=long_name(n)) for n in range(COMPANIES)])
    message = render_top(report, count, now=NOW)
    versions = [message, *message.smaller]
    rows = [ranked(m) for m in versions]
    assert 2 <= len(versions) <= 3  # retried once or twice, never the same payload
    assert rows == sorted(set(rows), reverse=True) and rows[-1] < rows[0]
    for version, shown in zip(versions, rows, strict=True):
        assert_message_fits(version)
        assert more(version) == COMPANIES - shown
    assert all(version.smaller == () for version in message.smaller)


def test_the_digest_and_the_alert_have_smaller_versions(busy_week: DigestDiff) -> None:
    digest = render_digest(busy_week, now=NOW)
    sizes = [text_units([m.blocks, m.attachments]) for m in (digest, *digest.smaller)]
    assert len(sizes) == 3 and sizes == sorted(sizes, reverse=True)
    report = busy_week.report
    alert = render_alert(report.overages[:12], report=report, now=NOW)
    assert [ranked(m) for m in (alert, *alert.smaller)] == [12, 6, 3]
    assert [more(m) for m in (alert, *alert.smaller)] == [0, 6, 9]


def test_a_shared_summary_keeps_its_smaller_versions() -> None:
    report = report_of([company(n) for n in range(30)])
    shared = render_shared(render_summary(report, now=NOW), user="U7")
    assert len(shared.smaller) == 2
    for version in (shared, *shared.smaller):
        assert all(b["type"] != "actions" for b in version.blocks)
        assert "Shared by <@U7>" in texts(version)
