"""Help, errors, short notes, the refusal and the list of subscriptions."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.render_slack import (
    Message,
    render_error,
    render_help,
    render_home_refused,
    render_refusal,
    render_subscriptions,
    render_working,
)
from tests.render_slack.conftest import NOW, assert_message_fits, strings, texts


def test_help_lists_every_command() -> None:
    body = texts(render_help())
    for command in (
        "`/overage`",
        "`/overage top [N]`",
        "`/overage find TEXT`",
        "`/overage export [xlsx|csv]`",
        "`/overage export native [xlsx|csv]`",
        "`/overage digest`",
        "`/overage subscribe weekly mon 09:00 [zone]`",
        "`/overage unsubscribe`",
        "`/overage subscriptions`",
        "`/overage help`",
    ):
        assert command in body


def test_help_leads_with_the_escaped_problem() -> None:
    message = render_help("I didn't understand '<!channel> & co'.")
    first = message.blocks[0]["text"]["text"]
    assert "I didn't understand '&lt;!channel&gt; &amp; co'." in first
    assert message.text.startswith("I didn't understand '&lt;!channel&gt; &amp; co'.")


@pytest.mark.parametrize(
    ("render", "words"),
    [
        (
            lambda: render_error("The platform is down. Try again in a few minutes."),
            "platform is down",
        ),
        (render_refusal, "Sorry, the overage bot isn't available"),
        (lambda: render_working("Fetching the overage list…"), "Fetching the overage list…"),
    ],
)
def test_short_notes(render: Callable[[], Message], words: str) -> None:
    message = render()
    assert_message_fits(message)
    assert words in message.text and words in texts(message)


def test_refusal_points_to_the_slack_admin() -> None:
    assert "Slack admin" in render_refusal().text
    assert "Slack admin" in "\n".join(strings(render_home_refused()))


@pytest.mark.parametrize("count", [3, 5_000])
def test_a_long_subscription_list_fits_and_counts_what_it_leaves_out(count: int) -> None:
    entries = [
        (f"C{n:08d}", "weekly on Monday at 09:00 (Europe/Istanbul)", "U1") for n in range(count)
    ]
    message = render_subscriptions(entries, now=NOW)
    assert_message_fits(message)
    shown = texts(message)
    listed = shown.count("<#C")
    if count == 3:
        assert listed == 3 and "more" not in shown
    else:
        assert 0 < listed < count
        assert shown.rstrip().endswith(f"…and {count - listed:,} more.")
