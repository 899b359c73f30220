"""to_text: a message as readable plain text."""

from __future__ import annotations

from bot.digest import diff
from bot.render_slack import render_digest, render_help, render_summary, to_text
from tests.render_slack.conftest import NOW, company, report_of


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


def test_table_columns_line_up_on_screen_with_emoji_and_wide_names() -> None:
    # the columns each name takes on screen: a family or a flag two, however many code points
    # make it, a CJK character two, a combining accent none
    on_screen = {
        "👨\u200d👩\u200d👧\u200d👦🇹🇷 Family": 2 + 2 + 7,
        "株式会社 Tokyo": 8 + 6,
        "Cafe\u0301 Plain": 10,
        "Plain Name": 10,
    }
    report = report_of([company(n, name=name) for n, name in enumerate(on_screen)])
    lines = to_text(render_summary(report, now=NOW)).splitlines()
    title = next(line for line in lines if line.lstrip().startswith("#"))
    limit_ends = title.index("Limit") + len("Limit")
    for name, columns in on_screen.items():
        row = next(line for line in lines if name in line)
        after_name = row.index(name) + len(name)
        limit_end = row.index("100", after_name) + len("100")  # as Python counts characters
        assert limit_end - len(name) + columns == limit_ends  # as the screen shows them
