"""The workbook and CSV with the overage cases: State, Owner, Invoiced seats, Invoiced amount
and Last action on the list sheet, and a Cases sheet with every case's history, read back by
openpyxl and python-calamine."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from openpyxl.utils.escape import unescape
from python_calamine import CalamineWorkbook

from bot.cases import (
    AddNote,
    Assign,
    Case,
    CaseEvent,
    Edit,
    MarkContacted,
    MarkInvoiced,
    Snooze,
    Surface,
    apply,
    open_case,
    resolve,
)
from bot.overage import Company, Prices, Report, build_report
from bot.workbook import CASES_SHEET, CaseRecord, build_csv, build_xlsx
from tests.companies import filled_company

ZONE = ZoneInfo("Europe/Istanbul")  # UTC+3 all year
OPENED = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
FETCHED = datetime(2026, 12, 10, 8, 0, tzinfo=UTC)
CASE_HEADERS = ["State", "Owner", "Invoiced seats", "Invoiced amount (EUR)", "Last action"]
HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "@SUM(A1)",
    "+1",
    "-2",
    "<!channel> *bold* İstanbul 👨‍👩‍👧‍👦",
]


def report(companies: list[Company]) -> Report:
    prices = Prices(plans=(("Enterprise", Decimal("4.50")),))
    return build_report(companies, fetched_at=FETCHED, prices=prices, currency="EUR")


class Walk:
    """One company's case, walked through changes; its history kept as it goes."""

    def __init__(self, company: Company, *, case_id: int) -> None:
        case, opened = open_case(
            company.ref, company.name, seats_over=company.seats_over, at=OPENED
        )
        self.case: Case = replace(case, id=case_id)
        self.events: list[CaseEvent] = [opened]
        self.at = OPENED

    def do(self, change: Any, user: str = "U0ALICE", *, hours: int = 1) -> Walk:
        self.at += timedelta(hours=hours)
        self.case, event = apply(self.case, change, Edit(user, Surface.MODAL, self.at))
        self.events.append(event)
        return self

    def record(self) -> CaseRecord:
        return self.case, tuple(self.events)


def xlsx(rep: Report, cases: list[CaseRecord] | None) -> bytes:
    return build_xlsx(rep, generated_at=FETCHED, zone=ZONE, cases=cases)


def sheet(data: bytes, name: str) -> list[list[Any]]:
    ws = load_workbook(io.BytesIO(data))[name]
    return [list(row) for row in ws.iter_rows(values_only=True)]


def by_header(rows: list[list[Any]]) -> list[dict[str, Any]]:
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def invoiced_walk(company: Company, case_id: int = 1) -> Walk:
    walk = Walk(company, case_id=case_id)
    walk.do(Assign("U0ALICE")).do(MarkContacted())
    return walk.do(MarkInvoiced(40, Decimal("180.00"), "INV-2026-12-001"), "U0BOB")


def test_the_list_sheet_shows_each_companys_case_and_sums_what_was_invoiced() -> None:
    ent, other, bare = (
        filled_company("Ent", users=140),
        filled_company("Other", users=130),
        filled_company("Bare", users=110),
    )
    walks = [invoiced_walk(ent, 1), invoiced_walk(other, 2)]
    walks[1].case = replace(walks[1].case, invoiced_seats=30, invoiced_amount=Decimal("0.10"))
    data = xlsx(report([ent, other, bare]), [w.record() for w in walks])
    rows = sheet(data, "Over limit")
    found = {row["Company"]: row for row in by_header(rows)}

    assert rows[0][-5:] == CASE_HEADERS
    assert [found["Ent"][h] for h in CASE_HEADERS[:4]] == ["invoiced", "U0ALICE", 40, 180]
    # 10:00 UTC is 13:00 in Istanbul
    assert found["Ent"]["Last action"] == "invoiced by U0BOB, 2026-12-01 13:00"
    assert [found["Bare"][h] for h in CASE_HEADERS] == [None] * 5  # no case yet: empty
    assert [found["Total"][h] for h in CASE_HEADERS[2:4]] == [70, 180.10]
    ws = load_workbook(io.BytesIO(data))["Over limit"]
    amount = ws.cell(2, rows[0].index("Invoiced amount (EUR)") + 1)
    assert "EUR" in amount.number_format and "0.00" in amount.number_format
    assert ws.auto_filter.ref == f"A1:{ws.cell(1, len(rows[0])).column_letter}4"


def test_the_cases_sheet_lists_every_entry_typed_oldest_first_case_by_case() -> None:
    ent = filled_company("Ent", users=140)
    snoozy = filled_company("Snoozy", users=120)
    first = invoiced_walk(ent, 1)
    second = Walk(snoozy, case_id=2).do(Snooze(date(2027, 1, 15), "budget in January"))
    data = xlsx(report([ent, snoozy]), [first.record(), second.record()])
    rows = by_header(sheet(data, CASES_SHEET))

    assert [(r["Company"], r["Version"], r["Action"]) for r in rows] == [
        ("Ent", 1, "opened"),
        ("Ent", 2, "assigned"),
        ("Ent", 3, "contacted"),
        ("Ent", 4, "invoiced"),
        ("Snoozy", 1, "opened"),
        ("Snoozy", 2, "snoozed"),
    ]
    opened, invoiced, snoozed = rows[0], rows[3], rows[5]
    assert (opened["Who"], opened["Where"], opened["Seats"]) == ("the bot", "system", 40)
    assert opened["Case opened"] == opened["When"] == datetime(2026, 12, 1, 10, 0)  # Istanbul
    assert (invoiced["From"], invoiced["To"], invoiced["Who"]) == ("contacted", "invoiced", "U0BOB")
    assert (invoiced["Seats"], invoiced["Amount"]) == (40, 180)
    assert invoiced["Invoice reference"] == "INV-2026-12-001"
    assert rows[1]["Owner"] == "U0ALICE"
    assert snoozed["Snoozed until"] == datetime(2027, 1, 15)
    assert snoozed["Note or reason"] == "budget in January"
    ws = load_workbook(io.BytesIO(data))[CASES_SHEET]
    assert ws.freeze_panes == "B2"
    assert ws["E2"].number_format == "yyyy-mm-dd hh:mm"
    assert ws["O7"].number_format == "yyyy-mm-dd"


def test_a_resolved_case_and_an_unassignment_read_plainly() -> None:
    gone = filled_company("Gone", users=140)
    walk = Walk(gone, case_id=1).do(Assign("U0ALICE")).do(Assign(None))
    closed, event = resolve(walk.case, at=walk.at + timedelta(days=1))
    record: CaseRecord = (closed, (*walk.events, event))
    data = xlsx(report([]), [record])
    rows = by_header(sheet(data, CASES_SHEET))

    assert [(r["Action"], r["Owner"], r["To"]) for r in rows] == [
        ("opened", None, "new"),
        ("assigned", "U0ALICE", "new"),
        ("assigned", "nobody", "new"),
        ("resolved", None, "resolved"),
    ]
    assert by_header(sheet(data, "Over limit"))[-1]["Company"] == "Total"


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_names_owners_and_notes_stay_text_on_both_sheets(hostile: str) -> None:
    company = filled_company(hostile, company_id=hostile, users=140)
    walk = invoiced_walk(company).do(AddNote(hostile))
    data = xlsx(report([company]), [walk.record()])
    cases = load_workbook(io.BytesIO(data))[CASES_SHEET]
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    calamine = book.get_sheet_by_name(CASES_SHEET).to_python()

    for cell in (cases["A2"], cases["B2"], cases["P6"]):
        assert cell.data_type == "s"
        assert unescape(cell.value) == hostile
    assert calamine[5][15] == hostile


def test_without_cases_the_workbook_has_no_cases_sheet_or_columns() -> None:
    data = xlsx(report([filled_company()]), None)

    assert load_workbook(io.BytesIO(data)).sheetnames == ["Over limit", "Summary"]
    assert "State" not in sheet(data, "Over limit")[0]


def test_with_no_case_at_all_the_cases_sheet_is_its_header() -> None:
    data = xlsx(report([filled_company()]), [])

    assert load_workbook(io.BytesIO(data)).sheetnames == ["Over limit", "Summary", CASES_SHEET]
    assert len(sheet(data, CASES_SHEET)) == 1


def test_the_csv_carries_the_same_case_columns() -> None:
    ent = filled_company("=Ent", users=140)
    data = build_csv(report([ent]), cases=[invoiced_walk(ent).record()], zone=ZONE)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))

    assert rows[0][-5:] == CASE_HEADERS
    assert rows[1][0] == "'=Ent"
    assert rows[1][-5:] == [
        "invoiced",
        "U0ALICE",
        "40",
        "180.00",
        "invoiced by U0BOB, 2026-12-01 13:00",
    ]
