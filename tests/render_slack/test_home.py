"""The App Home tab."""

from __future__ import annotations

from datetime import timedelta

from bot.render_slack import EXPORT_BUTTON, REFRESH_HOME_BUTTON, render_home
from tests.render_slack.conftest import NOW, assert_fits, company, report_of, strings


def test_home_shows_totals_top_five_digest_times_and_buttons() -> None:
    report = report_of([company(n) for n in range(8)], price="1")
    blocks = render_home(
        report, now=NOW, last_digest=NOW - timedelta(days=7), next_digest=NOW + timedelta(days=1)
    )
    body = "\n".join(strings(blocks))
    assert_fits(blocks, max_blocks=100)
    assert "*The 5 biggest overages*" in body and "*5.*" in body and "*6.*" not in body
    assert "Last digest: 2025-03-03 09:00 UTC · Next digest: 2025-03-11 09:00 UTC" in body
    assert "Data as of 08:53 UTC" in body
    ids = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert ids == [REFRESH_HOME_BUTTON, EXPORT_BUTTON]


def test_home_without_data_shows_the_error() -> None:
    blocks = render_home(
        None, now=NOW, last_digest=None, next_digest=None, error="The platform is down."
    )
    body = "\n".join(strings(blocks))
    assert "The platform is down." in body
    assert "Last digest: none yet · Next digest: not scheduled" in body
