"""The case reminder: what was invoiced when, how far over the company still is, its owner as
the one mention; hostile text inert."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from bot.cases import Case, State, open_case
from bot.render_slack import render_reminder
from tests.render_slack.conftest import HOSTILE, NOW, assert_message_fits, strings, texts


def invoiced_case(**fields: object) -> Case:
    case, _ = open_case("c1", "Sapphire Clinics", seats_over=52, at=NOW - timedelta(days=30))
    values: dict[str, object] = {
        "id": 7,
        "state": State.INVOICED,
        "owner": "U0ALICE",
        "invoiced_seats": 40,
        "invoiced_amount": Decimal("180"),
        "invoice_ref": "INV-7",
        **fields,
    }
    return replace(case, **values)  # type: ignore[arg-type]


def remind(case: Case) -> str:
    message = render_reminder(
        case, invoiced_at=NOW - timedelta(days=15, hours=2), now=NOW, every_days=14, currency="EUR"
    )
    assert_message_fits(message)
    return texts(message) + message.text


def test_the_reminder_says_what_was_invoiced_when_and_mentions_the_owner() -> None:
    text = remind(invoiced_case())

    assert (
        ":bell: *Reminder:* Sapphire Clinics was invoiced for 40 seats (INV-7, EUR 180.00) "
        "15 days ago and is still over its limit by 52."
    ) in text
    assert "<@U0ALICE>, is its limit raised yet?" in text
    assert "Reminded every 14 days" in text


@pytest.mark.parametrize("owner", [None, "<!channel>", "U1 <!here>", "@here"])
def test_without_an_owner_id_nobody_is_mentioned(owner: str | None) -> None:
    text = remind(invoiced_case(owner=owner))

    assert "Nobody owns this case" in text
    assert "<@" not in text and "<!" not in text


@pytest.mark.parametrize("hostile", [h for h in HOSTILE if h])
def test_hostile_names_and_references_stay_inert(hostile: str) -> None:
    message = render_reminder(
        invoiced_case(company_name=hostile, invoice_ref=hostile, seats_over=None),
        invoiced_at=NOW,
        now=NOW,
        every_days=14,
        currency="<!here>",
    )
    assert_message_fits(message)

    for text in [message.text, *strings(message.blocks)]:
        assert "<!" not in text and "<http" not in text
        assert text.count("<@") == text.count("<@U0ALICE>")
    assert "limit unknown" in message.text
