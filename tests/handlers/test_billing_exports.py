"""The files billing works from, over signed requests to the running app: `/overage export
invoice` and the invoice button (the CSV uploaded into the channel, or the person's direct
message from the Home tab; one line per company to bill, the sandbox's hostile names
neutralised; those already invoiced this month, waived or uncountable left out and counted),
and the workbook's case columns and Cases sheet."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook

from bot.cases import Edit, MarkInvoiced, Surface, Waive
from bot.invoice import billing_period
from bot.overage import Overage, Report
from bot.render_slack import EXPORT_INVOICE_BUTTON
from bot.sandbox.data import HOSTILE_NAMES
from bot.workbook import CASES_SHEET, INVOICE_HEADERS
from tests.fakes.slack_api import Upload
from tests.handlers.conftest import Bot, StartBot, eventually

PRICES = "Full Suite=4.50,Phishing Simulator=3.20,*=2.00"


def rows(upload: Upload) -> list[list[str]]:
    assert upload.content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(upload.content.decode("utf-8-sig"), newline="")))


def case_id(bot: Bot, overage: Overage) -> int:
    history = bot.runtime.store.company_case(overage.company.ref)
    assert history is not None and history.case.id is not None
    return history.case.id


async def billed_report(bot: Bot) -> tuple[Report, list[Overage]]:
    """The report, its cases opened, and the countable overages, biggest first."""
    report = await bot.runtime.services.report()
    bot.runtime.store.sync_cases(report, at=datetime.now(UTC))
    return report, [o for o in report.overages if o.seats_over is not None]


def invoice(bot: Bot, overage: Overage, seats: int) -> None:
    change = MarkInvoiced(seats, Decimal("4.50") * seats, f"INV-{seats}")
    edit = Edit("U0ALICE", Surface.MODAL, datetime.now(UTC))
    bot.runtime.store.change_case(case_id(bot, overage), change, edit)


async def test_export_invoice_uploads_one_line_per_company_to_bill_and_says_who_was_left_out(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(SEAT_PRICES=PRICES)
    report, countable = await billed_report(bot)
    covered, short, waived = countable[0], countable[1], countable[2]
    invoice(bot, covered, covered.seats_over or 0)  # the seats over now: left out
    invoice(bot, short, (short.seats_over or 0) - 1)  # one seat short: billed again
    edit = Edit("U0BOB", Surface.MODAL, datetime.now(UTC))
    bot.runtime.store.change_case(case_id(bot, waived), Waive("a pilot"), edit)

    response = await bot.command("export invoice", user="U42")

    assert response.status_code == 200
    upload = (await eventually(lambda: bot.slack.uploads))[0]
    period = billing_period(report.fetched_at, UTC)
    assert upload.channel_id == "C0GENERAL"
    assert upload.filename == f"license-overage-invoice-{period}.csv"
    table = rows(upload)
    assert table[0] == list(INVOICE_HEADERS)
    billed = [o for o in countable if o not in (covered, waived)]
    assert [row[1] for row in table[1:]] == [o.company.company_id for o in billed]
    by_id = {row[1]: row for row in table[1:]}
    # invoiced one seat short, its case went back to contacted when the export synced it
    short_ref = f"INV-{(short.seats_over or 0) - 1}"
    assert by_id[short.company.company_id][10:] == ["contacted", "", short_ref]
    assert {row[9] for row in table[1:]} == {period}
    unknown = report.limit_unknown
    comment = upload.initial_comment
    asked = f"Invoice CSV for {period}, as <@U42> asked: {len(billed):,} companies to bill"
    assert asked in comment
    left_out = f"Left out: 1 already invoiced in {period} for as many seats or more; 1 waived"
    assert left_out in comment
    assert (f"; {unknown:,} with limit unknown" in comment) == bool(unknown)


async def test_invoice_amounts_follow_each_plan_and_add_up_to_the_cent(start_bot: StartBot) -> None:
    bot = await start_bot(SEAT_PRICES=PRICES)
    report, countable = await billed_report(bot)

    await bot.command("export invoice")

    table = rows((await eventually(lambda: bot.slack.uploads))[0])
    prices = report.prices
    assert prices is not None
    for overage, row in zip(countable, table[1:], strict=True):
        price = prices.price_of(overage.company.license_type)
        assert (Decimal(row[6]), Decimal(row[7])) == (price, price * (overage.seats_over or 0))
    total = sum(Decimal(row[7]) for row in table[1:])
    assert total == report.true_up  # nothing left out: the summary's true-up to the cent
    assert f"USD {total:,.2f} in all" in bot.slack.uploads[0].initial_comment


async def test_the_sandbox_hostile_names_stay_text_in_the_invoice(start_bot: StartBot) -> None:
    bot = await start_bot(SEAT_PRICES=PRICES)
    await billed_report(bot)

    await bot.command("export invoice")

    table = rows((await eventually(lambda: bot.slack.uploads))[0])
    names = [row[0] for row in table[1:]]
    report = await bot.runtime.services.report()
    over = {o.company.name for o in report.overages if o.seats_over is not None}
    hostile = [name for name in HOSTILE_NAMES if name in over]
    assert len(hostile) >= 3, "the sandbox names some companies over their limit hostile names"
    for name in hostile:
        formula = name.startswith(("=", "+", "-", "@", "\t", "\r"))
        assert ("'" + name if formula else name) in names
    assert not [name for name in names if name.startswith(("=", "+", "-", "@", "\t", "\r"))]


async def test_the_invoice_button_uploads_into_the_channel_or_the_direct_message(
    start_bot: StartBot,
) -> None:
    bot = await start_bot()

    await bot.action(EXPORT_INVOICE_BUTTON, value="invoice", user="U5")
    await eventually(lambda: len(bot.slack.uploads) == 1)
    await bot.action(EXPORT_INVOICE_BUTTON, value="invoice", user="U5", channel=None)
    uploads = await eventually(lambda: len(bot.slack.uploads) == 2 and bot.slack.uploads)

    assert uploads[0].channel_id == "C0GENERAL"
    opened = bot.slack.calls_to("conversations.open")
    assert [call.params["users"] for call in opened] == ["U5"]
    assert uploads[1].channel_id == opened[0].response["channel"]["id"]
    assert all(u.filename.startswith("license-overage-invoice-") for u in uploads)
    # unpriced: every line is billed with no amount, and the comment says so
    assert "have no price set for their plan and no amount" in uploads[0].initial_comment
    assert rows(uploads[0])[1][7] == "no price set"


def sheet(upload: Upload, name: str) -> list[dict[str, Any]]:
    rows = list(load_workbook(io.BytesIO(upload.content))[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


async def test_the_exported_workbook_shows_each_companys_case_and_their_history(
    start_bot: StartBot,
) -> None:
    bot = await start_bot(SEAT_PRICES=PRICES)
    report, countable = await billed_report(bot)
    invoice(bot, countable[0], countable[0].seats_over or 0)

    await bot.command("export", user="U42")

    upload = (await eventually(lambda: bot.slack.uploads))[0]
    listed = {row["Company ID"]: row for row in sheet(upload, "Over limit")}
    first = listed[countable[0].company.company_id]
    assert (first["State"], first["Invoiced seats"]) == ("invoiced", countable[0].seats_over)
    assert first["Last action"].startswith("invoiced by U0ALICE, ")
    assert {listed[o.company.company_id]["State"] for o in countable[1:]} == {"new"}
    history = sheet(upload, CASES_SHEET)
    assert len(history) == report.companies_over + 1  # each case opened, one invoiced
    assert [row["Action"] for row in history].count("invoiced") == 1
