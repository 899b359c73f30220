"""The exported workbook and CSV, read back by openpyxl, python-calamine and csv."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from openpyxl.utils.escape import unescape
from python_calamine import CalamineWorkbook

from bot.overage import Company, Prices, Report, build_report, parse_company
from bot.workbook import (
    build_csv,
    build_xlsx,
    export_filename,
)
from tests.companies import filled_company

ZONE = ZoneInfo("Europe/Istanbul")  # UTC+3 all year
FETCHED = datetime(2025, 1, 6, 8, 30, tzinfo=UTC)
GENERATED = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
HEADERS = [
    "Company",
    "Company ID",
    "Reseller",
    "License type",
    "License limit",
    "Target users",
    "Over by",
    "Over by %",
    "Inactive users",
    "Monthly active users",
    "License end date",
    "Licence expired",
    "Tags",
    "Created",
]
HOSTILE = [
    '=HYPERLINK("http://x","y")',
    "@SUM(1)",
    "+1",
    "-2",
    "=1+1",
    "#N/A",
    "#REF!",
    "\tTAB",
    "\rCR",
    " =spaced",
]


def report(companies: list[Company], **options: Any) -> Report:
    return build_report(companies, fetched_at=FETCHED, source="https://api.example", **options)


def xlsx(rep: Report, **options: Any) -> bytes:
    return build_xlsx(rep, generated_at=GENERATED, zone=ZONE, **options)


def sheet_rows(data: bytes, sheet: str = "Over limit") -> list[list[Any]]:
    ws = load_workbook(io.BytesIO(data))[sheet]
    return [list(row) for row in ws.iter_rows(values_only=True)]


def shown(value: Any) -> Any:
    """A cell value as Excel shows it: openpyxl leaves OOXML's _xHHHH_ escapes undecoded."""
    return unescape(value) if isinstance(value, str) else value


def calamine_rows(data: bytes, sheet: str = "Over limit") -> list[list[Any]]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return [list(row) for row in book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)]


def part(data: bytes, name: str) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(name).decode("utf-8")


def names_in(data: bytes) -> set[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return set(archive.namelist())


PRICED: dict[str, Any] = {"seat_price": Decimal("12.34"), "currency": "EUR"}
MIXED = [
    filled_company("Small", limit=100, users=110),
    filled_company("Unknown", limit=None, users=40),
    filled_company("Big", limit=50, users=150),
    filled_company("Under", limit=100, users=90),  # a stale flag: left out of the report
    filled_company("Middle", limit=10, users=30),
]


@pytest.mark.parametrize(
    ("companies", "names", "totals"),
    [
        ([], [], ("Total", 0, None, None, None, 0, 0)),
        ([filled_company("Solo")], ["Solo"], ("Total", 1, None, None, None, 125, 25)),
        (
            MIXED,
            ["Big", "Middle", "Small", "Unknown"],
            ("Total", 4, None, None, None, 150 + 30 + 110 + 40, 100 + 20 + 10),
        ),
    ],
    ids=["empty", "one", "mixed"],
)
@pytest.mark.parametrize("reader", [sheet_rows, calamine_rows], ids=["openpyxl", "calamine"])
def test_one_row_per_company_in_report_order_then_totals(
    companies: list[Company], names: list[str], totals: tuple[Any, ...], reader: Any
) -> None:
    rows = reader(xlsx(report(companies)))

    assert rows[0] == HEADERS
    assert [row[0] for row in rows[1:-1]] == names
    blank = None if reader is sheet_rows else ""
    assert tuple(blank if v is None else v for v in rows[-1][:7]) == tuple(
        blank if v is None else v for v in totals
    )
    assert len(rows) == len(names) + 2


@pytest.mark.parametrize(
    ("column", "expected", "number_format"),
    [
        ("Company", "Acme", "General"),
        ("Company ID", "id-Acme", "General"),
        ("Reseller", "Reseller One", "General"),
        ("License type", "Enterprise", "General"),
        ("License limit", 100, "#,##0"),
        ("Target users", 125, "#,##0"),
        ("Over by", 25, "#,##0"),
        ("Over by %", 0.25, "0.0%"),
        ("Inactive users", 3, "#,##0"),
        ("Monthly active users", 90, "#,##0"),
        # 23:00 UTC is already the next day in Istanbul: the platform's date is kept
        ("License end date", date(2025, 3, 31), "yyyy-mm-dd"),
        ("Licence expired", False, '"TRUE";"TRUE";"FALSE"'),
        ("Tags", "emea, gold", "General"),
        ("Created", date(2020, 5, 1), "yyyy-mm-dd"),
    ],
)
def test_each_column_is_typed(column: str, expected: Any, number_format: str) -> None:
    data = xlsx(report([filled_company()]))
    cell = load_workbook(io.BytesIO(data))["Over limit"].cell(2, HEADERS.index(column) + 1)
    calamine_value = calamine_rows(data)[1][HEADERS.index(column)]

    # openpyxl reads every date cell as a datetime; a date-only one is at midnight
    as_openpyxl = datetime.combine(expected, time()) if type(expected) is date else expected
    assert cell.value == as_openpyxl
    assert type(cell.value) is type(as_openpyxl)
    assert cell.number_format == number_format
    assert calamine_value == expected
    assert type(calamine_value) is (float if type(expected) is int else type(expected))


def test_counts_show_thousands_separators_in_rows_and_totals() -> None:
    big = filled_company("Big", limit=1_000, users=12_500, inactive_users=2_000)
    data = xlsx(report([big, filled_company("Other", limit=1_000, users=1_500)]))
    ws = load_workbook(io.BytesIO(data))["Over limit"]
    count_columns = ("License limit", "Target users", "Over by", "Inactive users")

    for column in (*count_columns, "Monthly active users"):
        assert ws.cell(2, HEADERS.index(column) + 1).number_format == "#,##0"
    for column in ("Target users", "Over by", "Inactive users", "Monthly active users"):
        assert ws.cell(4, HEADERS.index(column) + 1).number_format == "#,##0"  # totals
    assert [ws.cell(2, HEADERS.index(c) + 1).value for c in count_columns] == [
        1_000,
        12_500,
        11_500,
        2_000,
    ]
    assert ws.cell(4, HEADERS.index("Target users") + 1).value == 14_000


# the offset a renewal was sent with decides its date, not the digest zone nor UTC
PLATFORM_DATES = [
    ("2025-03-31T00:00:00Z", date(2025, 3, 31)),
    ("2025-03-31T23:30:00Z", date(2025, 3, 31)),
    ("2025-04-01T01:00:00+03:00", date(2025, 4, 1)),
    ("2025-03-31T22:00:00-05:00", date(2025, 3, 31)),
    ("2025-03-31T00:00:00", date(2025, 3, 31)),
]


@pytest.mark.parametrize(("sent", "day"), PLATFORM_DATES)
@pytest.mark.parametrize("zone", ["America/New_York", "Pacific/Auckland"])
def test_dates_are_the_platform_calendar_date_in_any_zone(sent: str, day: date, zone: str) -> None:
    raw = {"companyResourceId": "c1", "companyName": "Acme", "numberOfUsers": "10"}
    parsed = parse_company(
        {**raw, "targetUserCount": 20, "licenseEndDate": sent, "createTime": sent}
    )
    data = build_xlsx(report([parsed]), generated_at=GENERATED, zone=ZoneInfo(zone))
    end, created = HEADERS.index("License end date"), HEADERS.index("Created")
    ws = load_workbook(io.BytesIO(data))["Over limit"]

    for col in (end, created):
        cell = ws.cell(2, col + 1)
        assert cell.value == datetime.combine(day, time())  # no time of day
        assert cell.number_format == "yyyy-mm-dd"
        assert calamine_rows(data)[1][col] == day
        assert type(calamine_rows(data)[1][col]) is date
    # stored as a whole Excel day number, not a moment
    serial = (day - date(1899, 12, 30)).days
    assert re.search(rf'<c r="K2"[^>]*><v>{serial}</v>', part(data, "xl/worksheets/sheet1.xml"))
    row = csv_rows(build_csv(report([parsed])))[1]
    assert [row[end], row[created]] == [day.isoformat()] * 2


def test_summary_moments_stay_date_times_in_a_zone_behind_utc() -> None:
    renewal = filled_company(license_end=datetime(2025, 3, 31, 0, 0, tzinfo=UTC))
    data = build_xlsx(report([renewal]), generated_at=GENERATED, zone=ZoneInfo("America/New_York"))
    facts = summary_facts(data)

    assert facts["Generated at"] == (datetime(2025, 1, 6, 4, 0), "America/New_York")
    assert facts["Data fetched at"] == (datetime(2025, 1, 6, 3, 30), "America/New_York")
    summary = {row[0]: row[1:] for row in calamine_rows(data, "Summary") if row[0]}
    assert summary["Generated at"] == [datetime(2025, 1, 6, 4, 0), "America/New_York"]
    assert calamine_rows(data)[1][HEADERS.index("License end date")] == date(2025, 3, 31)


def test_licence_expired_is_a_boolean_cell() -> None:
    data = xlsx(report([filled_company(licence_expired=True)]))
    cell = load_workbook(io.BytesIO(data))["Over limit"]["L2"]

    assert cell.value is True
    assert cell.data_type == "b"
    assert calamine_rows(data)[1][11] is True


def test_limit_unknown_row_leaves_numbers_empty_and_says_so() -> None:
    unlimited = filled_company("Unlimited", limited=False, limit=None)  # never over: not listed
    data = xlsx(report([filled_company("Known"), filled_company("Unknown", limit=None), unlimited]))
    known, unknown = sheet_rows(data)[1:3]
    assert [row[0] for row in sheet_rows(data)[1:]] == ["Known", "Unknown", "Total"]

    assert unknown[HEADERS.index("License limit")] is None
    assert unknown[HEADERS.index("Over by")] == "limit unknown"
    assert unknown[HEADERS.index("Over by %")] is None
    assert unknown[HEADERS.index("Target users")] == 125
    assert known[HEADERS.index("Over by")] == 25
    assert sheet_rows(data)[-1][HEADERS.index("Over by")] == 25  # unknown not counted


def test_header_is_bold_frozen_and_filtered_over_the_data_only() -> None:
    data = xlsx(report(MIXED))
    ws = load_workbook(io.BytesIO(data))["Over limit"]

    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:N5"
    assert all(cell.font.bold for cell in ws[1])
    assert ws["A6"].value == "Total"
    assert ws["A6"].font.bold
    assert ws.column_dimensions["A"].width >= 20


def test_priced_report_has_exact_true_up_column_and_total() -> None:
    rep = report([filled_company("A", users=103), filled_company("B", users=101)], **PRICED)
    data = xlsx(rep)
    ws = load_workbook(io.BytesIO(data))["Over limit"]

    assert ws["O1"].value == "Est. monthly true-up (EUR)"
    assert [ws["O2"].value, ws["O3"].value, ws["O4"].value] == [37.02, 12.34, 49.36]
    assert "EUR" in ws["O2"].number_format
    assert "0.00" in ws["O2"].number_format
    assert "EUR" in ws["O4"].number_format
    sheet = part(data, "xl/worksheets/sheet1.xml")
    assert re.search(r'<c r="O2"[^>]*><v>37\.02</v>', sheet)
    assert calamine_rows(data)[3][14] == 49.36


def test_unpriced_report_has_no_true_up_column() -> None:
    rows = sheet_rows(xlsx(report([filled_company()])))

    assert rows[0] == HEADERS
    assert all(len(row) == len(HEADERS) for row in rows)


@pytest.mark.parametrize("hostile", HOSTILE)
def test_platform_text_is_stored_as_text_never_as_formula(hostile: str) -> None:
    hostile_company = filled_company(
        hostile, company_id=hostile, reseller=hostile, license_type=hostile, tags=(hostile,)
    )
    data = xlsx(report([hostile_company, filled_company("Plain", users=101)]))
    ws = load_workbook(io.BytesIO(data))["Over limit"]
    hostile_row = calamine_rows(data)[1]

    for column in ("A", "B", "C", "D", "M"):
        assert ws[f"{column}2"].data_type == "s"
        assert shown(ws[f"{column}2"].value) == hostile
    assert [hostile_row[i] for i in (0, 1, 2, 3, 12)] == [hostile] * 5
    assert "<f>" not in part(data, "xl/worksheets/sheet1.xml")
    assert "<f>" not in part(data, "xl/worksheets/sheet2.xml")
    summary = load_workbook(io.BytesIO(data))["Summary"]
    assert hostile in [shown(cell.value) for cell in summary["A"]]
    assert hostile in [row[0] for row in calamine_rows(data, "Summary")]


CHART = "{http://schemas.openxmlformats.org/drawingml/2006/chart}"


@pytest.mark.parametrize("hostile", [*HOSTILE, "<b>&amp;</b>", "x;=cmd|' /C calc'!A0;"])
def test_hostile_names_are_escaped_text_in_the_chart_cache(hostile: str) -> None:
    data = xlsx(report([filled_company(hostile), filled_company("Plain", users=101)]))
    chart = ElementTree.fromstring(part(data, "xl/charts/chart1.xml"))  # parses: escaped
    categories = chart.find(f".//{CHART}cat")

    assert categories is not None
    assert categories.find(f"{CHART}numRef") is None  # names are strings, not numbers
    cache = categories.find(f"{CHART}strRef/{CHART}strCache")
    assert cache is not None
    cached = [unescape(v.text or "") for v in cache.iter(f"{CHART}v")]
    assert cached == [hostile, "Plain"]
    # the only formulas in the chart are its references to the summary's cells
    formulas = [f.text or "" for f in chart.iter(f"{CHART}f")]
    assert len(formulas) == 3
    assert all(re.fullmatch(r"'Summary'!\$[AB]\$\d+(:\$[AB]\$\d+)?", f) for f in formulas)


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("a\x00b", "a\ufffdb"),
        ("bell\x07\x08", "bell\ufffd\ufffd"),
        ("vt\x0bff\x0c", "vt\ufffdff\ufffd"),
        ("esc\x1b[31m", "esc\ufffd[31m"),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
        ("not a char \uffff", "not a char \ufffd"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
        ("Şirket Ünlü 株式会社 😀", "Şirket Ünlü 株式会社 😀"),
    ],
)
def test_control_characters_are_replaced_not_fatal(name: str, stored: str) -> None:
    hostile = filled_company(name, company_id=name, reseller=name, license_type=name, tags=(name,))
    data = xlsx(report([hostile]))
    text_columns = [0, 1, 2, 3, 12]  # company, ID, reseller, license type, tags

    for rows in (sheet_rows(data), calamine_rows(data)):
        assert [rows[1][i] for i in text_columns] == [stored] * 5
    row = csv_rows(build_csv(report([hostile])))[1]
    assert [row[i] for i in text_columns] == [stored] * 5


@pytest.mark.parametrize(
    ("name", "prefix"),
    [("x" * 40_000, "x" * 1000), ("😀" * 20_000, "😀" * 1000)],
    ids=["ascii", "astral"],
)
def test_long_text_is_cut_to_the_excel_cell_limit(name: str, prefix: str) -> None:
    stored = sheet_rows(xlsx(report([filled_company(name)])))[1][0]

    assert stored.startswith(prefix)
    assert stored.endswith("…")
    assert len(stored.encode("utf-16-le")) // 2 <= 32_767
    assert len(stored.encode("utf-16-le")) // 2 >= 32_760


def test_empty_report_is_a_valid_workbook_with_zero_totals() -> None:
    data = xlsx(report([]))
    book = load_workbook(io.BytesIO(data))

    assert book.sheetnames == ["Over limit", "Summary"]
    assert book["Over limit"].auto_filter.ref == "A1:N1"
    assert sheet_rows(data)[1][:7] == ["Total", 0, None, None, None, 0, 0]
    facts = summary_facts(data)
    assert facts["Companies over limit"] == 0
    assert facts["Seats over in total"] == 0
    assert "xl/charts/chart1.xml" not in names_in(data)  # nothing to chart


def summary_facts(data: bytes) -> dict[str, Any]:
    ws = load_workbook(io.BytesIO(data))["Summary"]
    return {row[0]: row[1:] if row[2] else row[1] for row in ws.iter_rows(values_only=True) if row}


def calamine_facts(data: bytes) -> dict[str, Any]:
    rows = calamine_rows(data, "Summary")
    return {row[0]: tuple(row[1:]) if row[2] else row[1] for row in rows if row[0]}


def test_summary_states_totals_times_source_and_filter() -> None:
    data = xlsx(report(MIXED, **PRICED))
    facts = summary_facts(data)
    read_by_calamine = calamine_facts(data)

    for key in ("Companies over limit", "Seats over in total", "Source", "Filter"):
        assert read_by_calamine[key] == facts[key]
    assert read_by_calamine["Generated at"] == (datetime(2025, 1, 6, 12, 0), "Europe/Istanbul")
    assert read_by_calamine["of which limit unknown"] == 1

    assert facts["Companies over limit"] == 4
    assert facts["of which limit unknown"] == 1
    assert facts["Seats over in total"] == 130
    assert facts["Est. monthly true-up"] == pytest.approx(1604.2)
    assert facts["Generated at"] == (datetime(2025, 1, 6, 12, 0), "Europe/Istanbul")
    assert facts["Data fetched at"] == (datetime(2025, 1, 6, 11, 30), "Europe/Istanbul")
    assert facts["Source"] == "https://api.example"
    assert facts["Filter"] == "isTargetUserCountExceededLimit = true"


def test_summary_charts_the_ten_biggest_overages() -> None:
    companies = [filled_company(f"C{i:02d}", users=100 + i) for i in range(1, 15)]
    data = xlsx(report([*companies, filled_company("Unknown", limit=None)]))
    summary = sheet_rows(data, "Summary")
    start = next(i for i, row in enumerate(summary) if str(row[0]).startswith("Biggest"))

    assert [row[:2] for row in summary[start + 1 : start + 11]] == [
        [f"C{i:02d}", i] for i in range(14, 4, -1)
    ]
    assert "xl/charts/chart1.xml" in names_in(data)
    assert re.search(r"<(c:)?barChart>", part(data, "xl/charts/chart1.xml"))
    assert f"'Summary'!$A${start + 2}:$A${start + 11}" in part(data, "xl/charts/chart1.xml")
    assert "<drawing " in part(data, "xl/worksheets/sheet2.xml")
    assert "drawing1.xml" in part(data, "xl/worksheets/_rels/sheet2.xml.rels")
    assert "chart1.xml" in part(data, "xl/drawings/_rels/drawing1.xml.rels")
    assert "<drawing " not in part(data, "xl/worksheets/sheet1.xml")


@pytest.mark.parametrize(("points", "line_chart"), [(0, False), (1, False), (3, True)])
def test_trend_chart_needs_two_digests(points: int, line_chart: bool) -> None:
    trend = [(datetime(2025, 1, day, 6, 0, tzinfo=UTC), 10 * day) for day in range(1, points + 1)]
    data = xlsx(report([filled_company()]), trend=trend)
    summary = sheet_rows(data, "Summary")

    assert ("xl/charts/chart2.xml" in names_in(data)) is line_chart
    assert (["Digest date", "Seats over", None] in summary) is line_chart
    if line_chart:
        chart = part(data, "xl/charts/chart2.xml")
        assert re.search(r"<(c:)?lineChart>", chart)
        assert summary[-3:] == [[datetime(2025, 1, d, 9, 0), 10 * d, None] for d in (1, 2, 3)]
        # the values are cached in the chart, for viewers that draw without recalculating
        cached = re.findall(r"<c:pt idx=\"\d+\"><c:v>([^<]*)</c:v>", chart)
        assert [float(v) for v in cached[-3:]] == [10.0, 20.0, 30.0]
        assert float(cached[1]) == pytest.approx(45658.375)  # 2025-01-01 09:00 as an Excel date


def test_summary_says_under_its_title_when_rows_keepnet_counted_could_not_be_read() -> None:
    companies = [filled_company(f"C{i}") for i in range(139)]
    data = xlsx(report(companies, platform_count=141))
    note = "Keepnet counts 141 companies over their limit; 139 could be read."
    summary = sheet_rows(data, "Summary")
    assert summary[0][0] == "License overage"
    assert summary[1][0] == note
    assert load_workbook(io.BytesIO(data))["Summary"]["A2"].font.b
    assert calamine_rows(data, "Summary")[1][0] == note
    assert summary_facts(data)["Companies over limit"] == 139


@pytest.mark.parametrize("platform_count", [None, 2, 1])
def test_summary_has_no_note_when_every_counted_row_was_read(platform_count: int | None) -> None:
    data = xlsx(report([filled_company("A"), filled_company("B")], platform_count=platform_count))
    summary = sheet_rows(data, "Summary")
    assert summary[1] == [None, None, None]
    assert not any("could be read" in str(cell) for row in summary for cell in row)


def test_custom_filter_text_is_recorded() -> None:
    facts = summary_facts(xlsx(report([filled_company()]), filter_text="=reseller eq 'x'"))

    assert facts["Filter"] == "=reseller eq 'x'"


# --- prices per plan ---------------------------------------------------------------------------

CENT = Decimal("0.01")
PLAN_PRICES = Prices(
    plans=(("Enterprise", Decimal("4.50")), ("Professional", Decimal("3.20"))),
    rest=Decimal("4.05"),
)
NAMED_ONLY = Prices(plans=(("Enterprise", Decimal("4.50")),))


def cents(value: Any) -> Decimal:
    """A money cell read back, as Decimal to the cent (a cell holds a binary float)."""
    return Decimal(repr(value)).quantize(CENT)


def by_header(data: bytes) -> list[dict[str, Any]]:
    rows = sheet_rows(data)
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def plan_table(data: bytes) -> dict[str, list[Any]]:
    summary = sheet_rows(data, "Summary")
    start = next(i for i, row in enumerate(summary) if row[0] == "True-up per plan")
    end = next(i for i, row in enumerate(summary) if row[0] == "All plans")
    assert summary[start][:4] == [
        "True-up per plan",
        "Seat price per month",
        "Seats over",
        "True-up",
    ]
    return {str(row[0]): row[1:4] for row in summary[start + 1 : end + 1]}


def test_priced_per_plan_each_row_shows_its_seat_price_and_no_price_set_is_never_zero() -> None:
    rep = report(
        [
            filled_company("Ent", license_type="enterprise", users=103),
            filled_company("Basic", license_type="Basic", users=110),
            filled_company("Unknown", license_type="Enterprise", limit=None),
        ],
        prices=NAMED_ONLY,
        currency="EUR",
    )
    data = xlsx(rep)
    rows = {row["Company"]: row for row in by_header(data)}
    ws = load_workbook(io.BytesIO(data))["Over limit"]

    assert sheet_rows(data)[0] == [*HEADERS, "Seat price (EUR)", "Est. monthly true-up (EUR)"]
    assert (rows["Ent"]["Seat price (EUR)"], rows["Ent"]["Est. monthly true-up (EUR)"]) == (
        4.5,
        13.5,
    )
    assert rows["Basic"]["Seat price (EUR)"] is None  # empty, not 0
    assert rows["Basic"]["Est. monthly true-up (EUR)"] == "no price set"
    assert rows["Unknown"]["Seat price (EUR)"] == 4.5
    assert rows["Unknown"]["Est. monthly true-up (EUR)"] is None  # limit unknown: no seats
    assert rows["Total"]["Est. monthly true-up (EUR)"] == 13.5
    assert [row[0] for row in sheet_rows(data)[1:]] == ["Basic", "Ent", "Unknown", "Total"]
    assert "EUR" in ws["O3"].number_format and "EUR" in ws["P3"].number_format
    assert ws.auto_filter.ref == "A1:P4"
    facts = summary_facts(data)
    assert facts["Est. monthly true-up"] == 13.5
    assert facts["of which no price set"] == 1
    assert "Seat price per month" not in facts
    assert plan_table(data) == {
        "Enterprise": [4.5, 3, 13.5],
        "Basic": [None, 10, "no price set"],
        "All plans": [None, 13, 13.5],
    }


def test_workbook_true_ups_match_the_decimal_sums_per_plan_and_in_all_to_the_cent() -> None:
    plans = ["Enterprise", "ENTERPRISE", "Professional", "Basic", "Trial", ""]
    companies = [
        filled_company(
            f"C{i:03d}",
            license_type=plans[i % len(plans)],
            limit=10 + i,
            users=10 + i + (i * 7919) % 1013 + 1,
        )
        for i in range(240)
    ]
    rep = report(companies, prices=PLAN_PRICES, currency="EUR")
    data = xlsx(rep)
    rows = by_header(data)
    true_up = "Est. monthly true-up (EUR)"

    per_plan: dict[str, Decimal] = {}
    for row in rows[:-1]:
        plan = PLAN_PRICES.plan_of(row["License type"] or "")
        assert cents(row["Seat price (EUR)"]) == PLAN_PRICES.price_of(plan)
        per_plan[plan] = per_plan.get(plan, Decimal(0)) + cents(row[true_up])
    table = plan_table(data)
    expected = {t.plan: t.true_up for t in rep.plan_totals()}

    assert set(expected) == {"Enterprise", "Professional", "Basic", "Trial", "(no license type)"}
    assert per_plan == expected
    assert {plan: cents(cells[2]) for plan, cells in table.items() if plan != "All plans"} == (
        expected
    )
    assert rep.true_up == sum(expected.values(), Decimal(0))
    assert cents(table["All plans"][2]) == rep.true_up
    assert cents(rows[-1][true_up]) == rep.true_up
    assert cents(summary_facts(data)["Est. monthly true-up"]) == rep.true_up
    assert sum(per_plan.values(), Decimal(0)) == rep.true_up


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_plan_name_is_text_in_the_plan_table(hostile: str) -> None:
    data = xlsx(report([filled_company(license_type=hostile)], prices=NAMED_ONLY))
    summary = part(data, "xl/worksheets/sheet2.xml")

    assert hostile.strip() in {shown(plan) for plan in plan_table(data)}
    assert "<f>" not in summary


def test_priced_per_plan_the_charts_move_beside_the_wider_summary() -> None:
    one = xlsx(report([filled_company()], seat_price=Decimal(1)))
    per_plan = xlsx(report([filled_company()], prices=PLAN_PRICES))

    assert "<xdr:col>4</xdr:col>" in part(one, "xl/drawings/drawing1.xml")  # E
    assert "<xdr:col>5</xdr:col>" in part(per_plan, "xl/drawings/drawing1.xml")  # F
    assert "True-up per plan" not in [row[0] for row in sheet_rows(one, "Summary")]
    assert summary_facts(one)["Seat price per month"] == 1


def test_csv_priced_per_plan_has_the_seat_price_and_says_no_price_set() -> None:
    rep = report(
        [filled_company("Ent", users=103), filled_company("Basic", license_type="Basic")],
        prices=NAMED_ONLY,
    )
    rows = csv_rows(build_csv(rep))

    assert rows[0][-2:] == ["Seat price (USD)", "Est. monthly true-up (USD)"]
    assert [row[-2:] for row in rows[1:]] == [["", "no price set"], ["4.50", "13.50"]]


# --- csv ---------------------------------------------------------------------------------------


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_has_bom_header_and_crlf() -> None:
    data = build_csv(report([filled_company()]))

    assert data.startswith(b'\xef\xbb\xbf"Company","Company ID",')
    assert data.count(b"\r\n") == 2
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert csv_rows(data)[0] == HEADERS


@pytest.mark.parametrize("first", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_neutralises_each_dangerous_first_character(first: str) -> None:
    text = f"{first}HYPERLINK(1)"
    hostile = filled_company(text, company_id=text, reseller=text, license_type=text, tags=(text,))
    row = csv_rows(build_csv(report([hostile])))[1]

    assert [row[i] for i in (0, 1, 2, 3, 12)] == ["'" + text] * 5


@pytest.mark.parametrize("name", ["Acme", "O'Brien & Sons", 'Say "hi", ok', "a=b", "1-2"])
def test_csv_keeps_harmless_text_unchanged(name: str) -> None:
    assert csv_rows(build_csv(report([filled_company(name)])))[1][0] == name


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("x;=cmd|' /C calc'!A0;", "\"x;=cmd|' /C calc'!A0;\""),
        ("Acme;=1+1", '"Acme;=1+1"'),
        ("Acme,=1+1", '"Acme,=1+1"'),
        # OWASP's own examples: quoted, prefixed, inner quotes doubled
        ('=1+2";=1+2', '"\'=1+2"";=1+2"'),
        ("=1+2'\" ;,=1+2", '"\'=1+2\'"" ;,=1+2"'),
    ],
)
def test_csv_quotes_every_text_cell_so_a_separator_inside_cannot_start_a_cell(
    name: str, written: str
) -> None:
    hostile = filled_company(name, company_id="c1", reseller=name, tags=(name,))
    data = build_csv(report([hostile]))
    line = data.decode("utf-8-sig").split("\r\n")[1]
    read_back = "'" + name if name.startswith("=") else name

    assert line.startswith(f'{written},"c1",{written},"Enterprise",100,125,25,"25.0%",3,90,')
    assert line.endswith(f',"no",{written},"2020-05-01"')
    row = csv_rows(data)[1]
    assert [row[0], row[1], row[2], row[12]] == [read_back, "c1", read_back, read_back]


def test_csv_numbers_are_bare_and_text_quoted() -> None:
    big = filled_company(limit=1_000, users=2_500, inactive_users=3)
    data = build_csv(report([big], **PRICED))
    line = data.decode("utf-8-sig").split("\r\n")[1]

    assert line == (
        '"Acme","id-Acme","Reseller One","Enterprise",1000,2500,1500,"150.0%",3,90,'
        '"2025-03-31","no","emea, gold","2020-05-01",18510.00'
    )


def test_csv_rows_read_back_as_written() -> None:
    companies = [
        filled_company("Acme", licence_expired=True),
        filled_company("Unknown", limit=None, users=7, tags=(), license_end=None, created=None),
    ]
    data = build_csv(report(companies, **PRICED))

    acme = "Acme|id-Acme|Reseller One|Enterprise|100|125|25|25.0%|3|90|2025-03-31|yes|emea, gold"
    unknown = "Unknown|id-Unknown|Reseller One|Enterprise||7|limit unknown||3|90||no|"
    assert csv_rows(data) == [
        [*HEADERS, "Est. monthly true-up (EUR)"],
        [*acme.split("|"), "2020-05-01", "308.50"],
        [*unknown.split("|"), "", ""],
    ]


def test_csv_of_empty_report_is_the_header() -> None:
    assert csv_rows(build_csv(report([]))) == [HEADERS]


# --- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "today", "filename"),
    [
        ("xlsx", date(2025, 1, 6), "license-overage-2025-01-06.xlsx"),
        ("csv", date(2024, 12, 31), "license-overage-2024-12-31.csv"),
    ],
)
def test_export_filename_carries_the_date(fmt: str, today: date, filename: str) -> None:
    assert export_filename(fmt, today) == filename
