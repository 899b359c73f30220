"""The invoice of a billing period (bot.invoice) and its CSV (bot.workbook): who is billed,
who is left out and why, and a file as safe as the other CSV against hostile names."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.cases import (
    Case,
    CaseEvent,
    Edit,
    MarkInvoiced,
    Surface,
    Waive,
    apply,
    open_case,
)
from bot.invoice import Invoice, billing_period, invoice_of, most_invoiced, period_start
from bot.overage import Company, Prices, Report, build_report
from bot.workbook import INVOICE_HEADERS, build_invoice_csv, build_xlsx, invoice_filename
from tests.companies import filled_company

ZONE = ZoneInfo("Europe/Istanbul")  # UTC+3 all year
FETCHED = datetime(2026, 12, 10, 8, 0, tzinfo=UTC)
PRICES = Prices(plans=(("Enterprise", Decimal("4.50")), ("Basic", Decimal("1.25"))))
HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "@SUM(A1:A9)",
    "+1+1",
    "-2",
    "\tTAB",
    "\rCR",
    'Acme;=1+1,"x"',
    "<!channel> *bold* İstanbul 👨‍👩‍👧‍👦",
]


def report(companies: list[Company], *, prices: Prices | None = PRICES) -> Report:
    return build_report(companies, fetched_at=FETCHED, prices=prices, currency="EUR")


def case_of(company: Company) -> Case:
    case, _ = open_case(company.ref, company.name, seats_over=company.seats_over, at=FETCHED)
    return case


def invoiced(case: Case, seats: int, *, at: datetime = FETCHED) -> tuple[Case, CaseEvent]:
    change = MarkInvoiced(seats, Decimal("4.50") * seats, "INV-7")
    return apply(case, change, Edit("U0ALICE", Surface.MODAL, at))


def rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


# --- who is billed -----------------------------------------------------------------------------


def test_each_company_over_is_billed_at_its_plans_price_in_report_order() -> None:
    companies = [
        filled_company("Ent", users=140),  # 40 over
        filled_company("Bas", license_type="basic ", users=110),  # 10 over, any letter case
        filled_company("Other", license_type="Legacy", users=103),  # no price for its plan
    ]
    invoice = invoice_of(report(companies), period="2026-12", cases={}, invoiced={})

    assert [(line.overage.company.name, line.plan) for line in invoice.lines] == [
        ("Ent", "Enterprise"),
        ("Bas", "Basic"),
        ("Other", "Legacy"),
    ]
    assert [line.amount for line in invoice.lines] == [Decimal("180.00"), Decimal("12.50"), None]
    assert [line.unit_price for line in invoice.lines] == [Decimal("4.50"), Decimal("1.25"), None]
    assert invoice.total == Decimal("192.50")
    assert (invoice.unpriced, invoice.left_out) == (1, 0)


def test_left_out_are_the_covered_the_waived_and_the_uncountable_each_counted() -> None:
    full = filled_company("Full", users=140)  # 40 over, invoiced for 40
    more = filled_company("More", users=130)  # 30 over, invoiced for 50
    fewer = filled_company("Fewer", users=160)  # 60 over, invoiced for 40 only: billed
    waived = filled_company("Waived", users=120)
    unknown = filled_company("Unknown", limit=None, users=500)
    cases = {c.ref: case_of(c) for c in (full, more, fewer, waived, unknown)}
    cases[waived.ref], _ = apply(
        cases[waived.ref], Waive("a pilot"), Edit("U0BOB", Surface.MODAL, FETCHED)
    )
    entries = [
        (full.ref, invoiced(cases[full.ref], 40)[1]),
        (more.ref, invoiced(cases[more.ref], 20)[1]),
        (more.ref, invoiced(cases[more.ref], 50)[1]),
        (fewer.ref, invoiced(cases[fewer.ref], 40)[1]),
    ]
    rep = report([full, more, fewer, waived, unknown])

    invoice = invoice_of(rep, period="2026-12", cases=cases, invoiced=most_invoiced(entries))

    assert [line.overage.company.name for line in invoice.lines] == ["Fewer"]
    assert invoice.lines[0].amount == Decimal("270.00")  # all 60 seats over at 4.50
    assert (invoice.already_invoiced, invoice.waived, invoice.limit_unknown) == (2, 1, 1)
    assert invoice.lines[0].case is cases[fewer.ref]


def test_an_unpriced_report_bills_every_line_without_an_amount() -> None:
    invoice = invoice_of(
        report([filled_company(license_type="")], prices=None),
        period="2026-12",
        cases={},
        invoiced={},
    )

    assert [(line.plan, line.unit_price, line.amount) for line in invoice.lines] == [
        ("(no license type)", None, None)
    ]
    assert (invoice.total, invoice.unpriced) == (Decimal(0), 1)


@pytest.mark.parametrize(
    ("moment", "period", "start"),
    [
        # 22:00 UTC on the last day of November is already December in Istanbul
        (datetime(2026, 11, 30, 22, 0, tzinfo=UTC), "2026-12", datetime(2026, 11, 30, 21, 0)),
        (datetime(2026, 11, 30, 20, 59, tzinfo=UTC), "2026-11", datetime(2026, 10, 31, 21, 0)),
        (datetime(2027, 1, 1, 0, 0, tzinfo=UTC), "2027-01", datetime(2026, 12, 31, 21, 0)),
    ],
)
def test_the_period_is_the_month_in_the_digest_zone(
    moment: datetime, period: str, start: datetime
) -> None:
    assert billing_period(moment, ZONE) == period
    assert period_start(moment, ZONE) == start.replace(tzinfo=UTC)
    assert billing_period(period_start(moment, ZONE), ZONE) == period
    assert billing_period(period_start(moment, ZONE) - timedelta(microseconds=1), ZONE) != period


# --- the CSV -----------------------------------------------------------------------------------


def test_csv_has_bom_crlf_the_columns_and_one_line_per_company_to_bill() -> None:
    ent = filled_company("Ent", users=140)
    case, _ = invoiced(case_of(ent), 10)
    case = replace(case, owner="U0ALICE")
    invoice = invoice_of(
        report([ent, filled_company("Legacy", license_type="Legacy")]),
        period="2026-12",
        cases={ent.ref: case},
        invoiced={ent.ref: 10},
    )
    data = build_invoice_csv(invoice)

    assert data.startswith(b'\xef\xbb\xbf"Company","Company ID","Plan",')
    assert data.count(b"\r\n") == 3
    assert b"\n" not in data.replace(b"\r\n", b"")
    ent_row = "Ent|id-Ent|Enterprise|100|140|40|4.50|180.00|EUR|2026-12|invoiced|U0ALICE|INV-7"
    legacy_row = "Legacy|id-Legacy|Legacy|100|125|25||no price set|EUR|2026-12|||"
    assert rows(data) == [list(INVOICE_HEADERS), ent_row.split("|"), legacy_row.split("|")]
    line = data.decode("utf-8-sig").split("\r\n")[1]
    assert line.startswith('"Ent","id-Ent","Enterprise",100,140,40,4.50,180.00,"EUR","2026-12",')


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_is_quoted_and_never_a_formula(hostile: str) -> None:
    company = filled_company(hostile, company_id=hostile, license_type=hostile, users=101)
    prices = Prices(plans=((hostile, Decimal("2")),))
    invoice = invoice_of(report([company], prices=prices), period="2026-12", cases={}, invoiced={})
    data = build_invoice_csv(invoice)
    row = rows(data)[1]
    neutral = "'" + hostile if hostile.startswith(("=", "+", "-", "@", "\t", "\r")) else hostile

    assert row[:3] == [neutral, neutral, neutral]  # a plan is named as the settings spell it
    assert row[5:8] == ["1", "2", "2"]
    line = data.decode("utf-8-sig").split("\r\n", 1)[1]
    assert line.startswith('"' + neutral.replace('"', '""') + '",')  # quoted as text


def test_an_empty_invoice_is_the_header_and_its_file_is_named_by_period() -> None:
    empty = Invoice(period="2026-12", currency="USD", lines=())

    assert rows(build_invoice_csv(empty)) == [list(INVOICE_HEADERS)]
    assert invoice_filename("2026-12") == "license-overage-invoice-2026-12.csv"


def test_amounts_are_exact_decimals_that_add_up_to_the_cent() -> None:
    companies = [filled_company(f"C{i}", users=100 + i) for i in range(1, 41)]
    prices = Prices(plans=(("Enterprise", Decimal("0.0333")),))
    invoice = invoice_of(report(companies, prices=prices), period="2026-12", cases={}, invoiced={})
    read = [Decimal(row[7]) for row in rows(build_invoice_csv(invoice))[1:]]

    assert sum(read) == invoice.total == Decimal("0.0333") * sum(range(1, 41))


def test_the_invoice_per_plan_matches_the_workbooks_true_up_per_plan_to_the_cent() -> None:
    plans = ["Enterprise", "ENTERPRISE", "Basic", "basic ", "Legacy"]
    companies = [
        filled_company(f"C{i}", license_type=plans[i % len(plans)], users=100 + (i * 37) % 997 + 1)
        for i in range(120)
    ]
    prices = Prices(plans=(("Enterprise", Decimal("4.1234")), ("Basic", Decimal("0.0333"))))
    rep = report(companies, prices=prices)
    invoice = invoice_of(rep, period="2026-12", cases={}, invoiced={})
    book = load_workbook(io.BytesIO(build_xlsx(rep, generated_at=FETCHED, zone=ZONE)))
    summary = [list(row) for row in book["Summary"].iter_rows(values_only=True)]
    start = next(i for i, row in enumerate(summary) if row[0] == "True-up per plan")
    in_workbook = {row[0]: row[3] for row in summary[start + 1 :] if row[0]}
    by_plan: dict[str, Decimal] = {}
    for row in rows(build_invoice_csv(invoice))[1:]:
        if row[7] != "no price set":
            by_plan[row[2]] = by_plan.get(row[2], Decimal(0)) + Decimal(row[7])

    cent = Decimal("0.01")
    for plan, amount in by_plan.items():
        assert Decimal(repr(in_workbook[plan])).quantize(cent) == amount.quantize(cent)
    assert Decimal(repr(in_workbook["All plans"])).quantize(cent) == invoice.total.quantize(cent)
    assert invoice.total == rep.true_up  # exact: nothing left out
    assert in_workbook["Legacy"] == "no price set"
    assert set(by_plan) == {"Enterprise", "Basic"}
