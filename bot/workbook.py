"""Pure export: a Report as xlsx or csv bytes, with text from the platform always kept as text.

The workbook is written with xlsxwriter rather than openpyxl: its constant_memory mode streams
rows with less time and memory per cell than openpyxl's write-only mode, and write_string keeps
text from ever becoming a formula. openpyxl remains the reader in the tests and the sandbox.
The only I/O is xlsxwriter's temporary files for that streaming, in the system's temporary
folder.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from xlsxwriter import Workbook
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from bot.cases import SYSTEM, Action, Case, CaseEvent, company_key
from bot.invoice import Invoice, InvoiceLine
from bot.overage import Overage, PlanTotal, Report, shortfall_note

DEFAULT_FILTER = "isTargetUserCountExceededLimit = true"
OVER_LIMIT_SHEET = "Over limit"
SUMMARY_SHEET = "Summary"
CASES_SHEET = "Cases"
LIMIT_UNKNOWN = "limit unknown"
NO_PRICE = "no price set"  # a true-up cell of a company whose plan has no price: never 0
MAX_CELL_CHARS = 32_767  # Excel's limit, counted in UTF-16 code units
TOP_COUNT = 10

_PERCENT = "0.0%"
_DATE = "yyyy-mm-dd"
_DATETIME = "yyyy-mm-dd hh:mm"
_THOUSANDS = "#,##0"
# booleans show TRUE/FALSE in every reader (LibreOffice shows 0 for a General boolean)
_BOOLEAN = '"TRUE";"TRUE";"FALSE"'
_COUNT = '#,##0 "companies"'
# characters XML 1.0 cannot carry, and lone surrogates no UTF-8 encoder accepts
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_WORKBOOK_OPTIONS = {
    # rows go to a temporary file per sheet (in the system's temporary folder) as they are
    # written, not held in memory; this needs the sheets' XML on disk (in_memory would switch
    # it off) and rows in order
    "constant_memory": True,
    "in_memory": False,
    # write() would turn some text into formulas, links or numbers; write_string never does,
    # and these keep any other path from doing it either
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}

# header, number format (None = General or text), width in characters
_COLUMNS: tuple[tuple[str, str | None, float], ...] = (
    ("Company", None, 36),
    ("Company ID", None, 38),
    ("Reseller", None, 24),
    ("License type", None, 16),
    ("License limit", _THOUSANDS, 13),
    ("Target users", _THOUSANDS, 13),
    ("Over by", _THOUSANDS, 13),
    ("Over by %", _PERCENT, 11),
    ("Inactive users", _THOUSANDS, 14),
    ("Monthly active users", _THOUSANDS, 21),
    ("License end date", _DATE, 17),
    ("Licence expired", _BOOLEAN, 16),
    ("Tags", None, 30),
    ("Created", _DATE, 12),
)
_TOTALLED = ("Target users", "Over by", "Inactive users", "Monthly active users")

Field = str | int | float | bool | datetime | date | Decimal | None

# an overage case and its history, oldest entry first, as the workbook shows it
CaseRecord = tuple[Case, Sequence[CaseEvent]]
_MONEY = "money"  # stands for the report's money format, which names its currency
_INVOICED_SEATS = "Invoiced seats"
# the list sheet's columns of each company's case, after the price columns: header, format,
# width
_CASE_COLUMNS: tuple[tuple[str, str | None, float], ...] = (
    ("State", None, 11),
    ("Owner", None, 14),
    (_INVOICED_SEATS, _THOUSANDS, 14),
    ("Invoiced amount", _MONEY, 18),
    ("Last action", None, 40),
)
# the Cases sheet: one row per entry of each case's history
_HISTORY_COLUMNS: tuple[tuple[str, str | None, float], ...] = (
    ("Company", None, 36),
    ("Company ID", None, 24),
    ("Case opened", _DATETIME, 17),
    ("Version", None, 8),
    ("When", _DATETIME, 17),
    ("Who", None, 14),
    ("Where", None, 10),
    ("Action", None, 11),
    ("From", None, 11),
    ("To", None, 11),
    ("Owner", None, 14),
    ("Seats", _THOUSANDS, 10),
    ("Amount", _MONEY, 16),
    ("Invoice reference", None, 20),
    ("Snoozed until", _DATE, 13),
    ("Note or reason", None, 50),
)


def export_filename(fmt: str, today: date) -> str:
    return f"license-overage-{today.isoformat()}.{fmt}"


def invoice_filename(period: str) -> str:
    """The invoice CSV's name, by its billing period ("2026-12")."""
    return f"license-overage-invoice-{period}.csv"


# --- shared row model ------------------------------------------------------------------------


def _clean(text: str) -> str:
    """Text a workbook can hold: XML-illegal characters replaced, cut to Excel's cell limit."""
    text = _ILLEGAL_XML.sub("\ufffd", text)
    if len(text) * 2 <= MAX_CELL_CHARS:
        return text
    units = text.encode("utf-16-le")
    if len(units) <= 2 * MAX_CELL_CHARS:
        return text
    # "ignore" drops a surrogate pair cut in half
    return units[: 2 * (MAX_CELL_CHARS - 1)].decode("utf-16-le", "ignore") + "…"


def _local(moment: datetime | None, zone: tzinfo) -> datetime | None:
    """Wall-clock time in zone, without tzinfo: Excel has no zones."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone).replace(tzinfo=None)


def _platform_date(moment: datetime | None) -> date | None:
    """The calendar date as the platform wrote it, in the offset it was sent with: a renewal
    sent as 2025-03-31T00:00Z is due on 2025-03-31 wherever the reader is."""
    return None if moment is None else moment.date()


def _headers(report: Report, cases: _CaseColumns | None = None) -> list[str]:
    headers = [header for header, _, _ in _COLUMNS]
    if _by_plan(report):
        headers.append(f"Seat price ({_currency(report)})")
    if report.priced:
        headers.append(f"Est. monthly true-up ({_currency(report)})")
    if cases is not None:
        headers += [_case_header(header, report) for header, _, _ in _CASE_COLUMNS]
    return headers


def _case_header(header: str, report: Report) -> str:
    return f"{header} ({_currency(report)})" if header == "Invoiced amount" else header


def _by_plan(report: Report) -> bool:
    """Priced per license type: each row shows its own seat price, the summary each plan's."""
    return report.prices is not None and report.prices.by_plan


def _currency(report: Report) -> str:
    return "".join(c for c in report.currency if c.isalnum())[:8] or "CUR"


def _fields(overage: Overage, report: Report) -> list[Field]:
    """One row in column order; text is the platform's (cleaned), the rest is typed."""
    company = overage.company
    fields: list[Field] = [
        _clean(company.name),
        _clean(company.company_id),
        _clean(company.reseller),
        _clean(company.license_type),
        company.limit if company.limited else None,
        company.target_users,
        LIMIT_UNKNOWN if overage.seats_over is None else overage.seats_over,
        overage.ratio,
        company.inactive_users,
        company.monthly_active_users,
        _platform_date(company.license_end),
        company.licence_expired,
        _clean(", ".join(company.tags)),
        _platform_date(company.created),
    ]
    return fields + _price_fields(overage, report)


def _price_fields(overage: Overage, report: Report) -> list[Field]:
    """The seat price (per plan only) and the true-up; NO_PRICE where the plan has none."""
    if report.prices is None:
        return []
    price = report.prices.price_of(overage.company.license_type)
    true_up: Field = NO_PRICE if price is None else overage.true_up
    return [price, true_up] if report.prices.by_plan else [true_up]


class _CaseColumns:
    """Each company's open case on the list sheet, by the company's key, with the zone the
    time of its last action is shown in."""

    def __init__(self, records: Sequence[CaseRecord], zone: tzinfo) -> None:
        self.records = records
        self.zone = zone
        self.by_company = {case.company_id: case for case, _ in records if case.is_open}

    def case_of(self, overage: Overage) -> Case | None:
        return self.by_company.get(company_key(overage.company.ref))

    def fields(self, overage: Overage) -> list[Field]:
        """State, owner, invoiced seats and amount, last action; empty without a case."""
        case = self.case_of(overage)
        if case is None:
            return [None] * len(_CASE_COLUMNS)
        return [
            case.state.value,
            None if case.owner is None else _clean(case.owner),
            case.invoiced_seats,
            case.invoiced_amount,
            _last_action(case, self.zone),
        ]

    def totals(self, report: Report) -> tuple[int, Decimal]:
        """The invoiced seats and amounts of the list's cases, in all."""
        cases = [c for c in map(self.case_of, report.overages) if c is not None]
        seats = sum(c.invoiced_seats or 0 for c in cases)
        return seats, sum((c.invoiced_amount or Decimal(0) for c in cases), Decimal(0))


def _last_action(case: Case, zone: tzinfo) -> str:
    """What was done to the case last, by whom and when: "invoiced by U0ALICE, 2026-12-01
    10:00"."""
    who = "the bot" if case.updated_by == SYSTEM else _clean(case.updated_by)
    when = case.updated_at.astimezone(zone)
    return f"{case.last_action.value} by {who}, {when:%Y-%m-%d %H:%M}"


def _row_fields(overage: Overage, report: Report, cases: _CaseColumns | None) -> list[Field]:
    fields = _fields(overage, report)
    return fields if cases is None else fields + cases.fields(overage)


def _totals(report: Report) -> dict[str, Field]:
    rows = [o.company for o in report.overages]
    return {
        "Target users": sum(c.target_users for c in rows),
        "Over by": report.seats_over,
        "Inactive users": sum(c.inactive_users for c in rows),
        "Monthly active users": sum(c.monthly_active_users for c in rows),
    }


# --- xlsx --------------------------------------------------------------------------------------


def build_xlsx(
    report: Report,
    *,
    generated_at: datetime,
    zone: ZoneInfo,
    filter_text: str = DEFAULT_FILTER,
    trend: Sequence[tuple[datetime, int]] = (),
    cases: Sequence[CaseRecord] | None = None,
) -> bytes:
    """The workbook: an "Over limit" sheet of typed rows, and a "Summary" sheet with charts;
    with `cases`, each company's case on the list and a "Cases" sheet of their history.

    The rows are streamed through temporary files in the system's temporary folder, removed
    before this returns."""
    buffer = io.BytesIO()
    columns = None if cases is None else _CaseColumns(cases, zone)
    # constant_memory: each sheet is written top to bottom, a row at a time, and each row goes
    # to that sheet's temporary file once the next row starts
    with Workbook(buffer, _WORKBOOK_OPTIONS) as book:
        styles = _Styles(book, report)
        _write_over_limit(book.add_worksheet(OVER_LIMIT_SHEET), report, styles, columns)
        _write_summary(
            book,
            book.add_worksheet(SUMMARY_SHEET),
            report,
            styles,
            generated_at=generated_at,
            zone=zone,
            filter_text=filter_text,
            trend=trend,
        )
        if columns is not None:
            _write_cases(book.add_worksheet(CASES_SHEET), columns, styles)
    return buffer.getvalue()


class _Styles:
    """The workbook's cell formats, by the number format they show (None = General)."""

    def __init__(self, book: Workbook, report: Report) -> None:
        self._book = book
        self._plain: dict[str, Format] = {}
        self.bold = book.add_format({"bold": True})
        self._bold: dict[str, Format] = {}
        self.money = _money_format(report)

    def get(self, number_format: str | None, *, bold: bool = False) -> Format | None:
        if number_format is None:
            return self.bold if bold else None
        formats = self._bold if bold else self._plain
        if number_format not in formats:
            properties: dict[str, Any] = {"num_format": number_format}
            if bold:
                properties["bold"] = True
            if number_format == _BOOLEAN:
                properties["align"] = "center"
            formats[number_format] = self._book.add_format(properties)
        return formats[number_format]


def _put(ws: Worksheet, row: int, col: int, value: Field, style: Format | None = None) -> None:
    """One typed cell; text always through write_string, so it never becomes a formula."""
    if value is None:
        return
    kind = type(value)
    if kind is str:
        if value:
            ws.write_string(row, col, value, style)
    elif kind is bool:
        ws.write_boolean(row, col, value, style)
    elif kind is datetime or kind is date:
        ws.write_datetime(row, col, value, style)
    else:
        ws.write_number(row, col, value, style)


def _write_row(
    ws: Worksheet, row: int, values: Sequence[Field], styles: Sequence[Format | None]
) -> None:
    for col, (value, style) in enumerate(zip(values, styles, strict=True)):
        _put(ws, row, col, value, style)


def _print_setup(ws: Worksheet) -> None:
    """Printed or turned into a PDF, the list reads across one page width, header repeated."""
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)


def _money_format(report: Report) -> str:
    return f'#,##0.00 "{_currency(report)}"'


def _write_over_limit(
    ws: Worksheet, report: Report, styles: _Styles, cases: _CaseColumns | None
) -> None:
    headers = _headers(report, cases)
    prices = len(_headers(report)) - len(_COLUMNS)
    formats = [fmt for _, fmt, _ in _COLUMNS] + [styles.money] * prices
    if cases is not None:
        formats += [styles.money if fmt == _MONEY else fmt for _, fmt, _ in _CASE_COLUMNS]
    for col, width in enumerate(_widths(report, cases)):
        ws.set_column(col, col, width)
    ws.freeze_panes(1, 0)
    _print_setup(ws)
    last_row = len(report.overages)  # zero-based: the header is row 0
    ws.autofilter(0, 0, last_row, len(headers) - 1)
    _write_row(ws, 0, headers, [styles.bold] * len(headers))
    _write_data_rows(ws, report, [styles.get(fmt) for fmt in formats], cases)
    totals = _totals(report)
    if cases is not None:
        seats, amount = cases.totals(report)
        totals |= {_INVOICED_SEATS: seats, _case_header("Invoiced amount", report): amount}
    _write_totals_row(ws, last_row + 1, report, headers, formats, styles, totals)


def _write_data_rows(
    ws: Worksheet, report: Report, cell_styles: list[Format | None], cases: _CaseColumns | None
) -> None:
    """The company rows, in order."""
    rows = (_row_fields(overage, report, cases) for overage in report.overages)
    _write_rows(ws, rows, cell_styles)


def _write_rows(
    ws: Worksheet, rows: Iterable[Sequence[Field]], cell_styles: list[Format | None]
) -> int:
    """Typed rows from the second row on: _put inlined, as this loop writes nearly every cell
    of the workbook. The last row written (0 when none was)."""
    write_string, write_number = ws.write_string, ws.write_number
    write_boolean, write_datetime = ws.write_boolean, ws.write_datetime
    row = 0
    for row, fields in enumerate(rows, start=1):
        for col, value in enumerate(fields):
            if value is None:
                continue
            kind = type(value)
            if kind is str:
                if value:
                    write_string(row, col, value, cell_styles[col])
            elif kind is bool:
                write_boolean(row, col, value, cell_styles[col])
            elif kind is date or kind is datetime:
                write_datetime(row, col, value, cell_styles[col])
            else:
                write_number(row, col, value, cell_styles[col])
    return row


def _write_totals_row(
    ws: Worksheet,
    row: int,
    report: Report,
    headers: list[str],
    formats: list[str | None],
    styles: _Styles,
    totals: dict[str, Field],
) -> None:
    """Totals computed here, not formulas: every reader shows them, not only a recalculating one."""
    values: dict[str, Field] = {headers[0]: "Total", headers[1]: report.companies_over, **totals}
    if report.priced:
        values[f"Est. monthly true-up ({_currency(report)})"] = report.true_up
    row_formats = [formats[0], _COUNT, *formats[2:]]
    _write_row(
        ws,
        row,
        [values.get(header) for header in headers],
        [styles.get(fmt, bold=True) for fmt in row_formats],
    )


def _widths(report: Report, cases: _CaseColumns | None) -> list[float]:
    """Fixed widths, widened for long names, capped so one odd name cannot swamp the sheet."""
    longest = max((len(o.company.name) for o in report.overages), default=0)
    widths = [width for _, _, width in _COLUMNS]
    widths[0] = float(min(max(widths[0], longest + 2), 60))
    if _by_plan(report):
        widths.append(16)
    if report.priced:
        widths.append(26)
    if cases is not None:
        widths += [width for _, _, width in _CASE_COLUMNS]
    return widths


# --- cases sheet -------------------------------------------------------------------------------


def _write_cases(ws: Worksheet, cases: _CaseColumns, styles: _Styles) -> None:
    """Every entry of each case's history, case by case (open ones in listing order, then
    those closed lately), oldest entry first."""
    headers = [header for header, _, _ in _HISTORY_COLUMNS]
    formats = [styles.money if fmt == _MONEY else fmt for _, fmt, _ in _HISTORY_COLUMNS]
    cell_styles = [styles.get(fmt) for fmt in formats]
    for col, (_, _, width) in enumerate(_HISTORY_COLUMNS):
        ws.set_column(col, col, width)
    ws.freeze_panes(1, 1)
    _print_setup(ws)
    _write_row(ws, 0, headers, [styles.bold] * len(headers))
    entries = (
        _history_fields(case, event, cases.zone)
        for case, events in cases.records
        for event in events
    )
    last = _write_rows(ws, entries, cell_styles)
    ws.autofilter(0, 0, last, len(headers) - 1)


def _history_fields(case: Case, event: CaseEvent, zone: tzinfo) -> list[Field]:
    nobody = "nobody" if event.action is Action.ASSIGNED else None
    return [
        _clean(case.company_name),
        _clean(case.company_id),
        _local(case.opened_at, zone),
        event.version,
        _local(event.at, zone),
        "the bot" if event.actor == SYSTEM else _clean(event.actor),
        event.surface.value,
        event.action.value,
        event.before.value,
        event.after.value,
        nobody if event.owner is None else _clean(event.owner),
        event.seats,
        event.amount,
        _clean(event.reference),
        event.until,
        _clean(event.text),
    ]


# --- summary sheet -----------------------------------------------------------------------------

# one summary row: (value, number format, bold) per cell; an empty list is an empty row
_Row = list[tuple[Field, str | None, bool]]


def _write_summary(
    book: Workbook,
    ws: Worksheet,
    report: Report,
    styles: _Styles,
    *,
    generated_at: datetime,
    zone: ZoneInfo,
    filter_text: str,
    trend: Sequence[tuple[datetime, int]],
) -> None:
    # priced per plan, the plan table takes a fourth column and the charts move one over
    widths, charts_at = ((34, 22, 18, 22, 3), "F") if _by_plan(report) else ((34, 22, 18, 4), "E")
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 1)  # the figures and both charts on one printed page
    rows: list[_Row] = [[("License overage", None, True)]]
    note = shortfall_note(report)
    if note:  # right under the title: the list below is not the whole list
        rows.append([(note, None, True)])
    rows.append([])
    rows += _facts(report, styles, generated_at=generated_at, zone=zone, filter_text=filter_text)
    rows.append([])
    if _by_plan(report):
        rows += _plan_table(report, styles)
        rows.append([])
    top_start = len(rows) + 1
    top = _biggest(report)
    rows += _top_table(top)
    trend_start = len(rows) + 2
    if len(trend) >= 2:
        rows.append([])
        rows += _trend_table(trend, zone)
    for index, cells in enumerate(rows):
        for col, (value, fmt, bold) in enumerate(cells):
            _put(ws, index, col, value, styles.get(fmt, bold=bold))
    _add_top_chart(book, ws, top, header_row=top_start, column=charts_at)
    if len(trend) >= 2:
        _add_trend_chart(book, ws, trend, zone, header_row=trend_start, column=charts_at)


def _facts(
    report: Report, styles: _Styles, *, generated_at: datetime, zone: ZoneInfo, filter_text: str
) -> list[_Row]:
    zone_name = _clean(str(zone.key))
    facts: list[tuple[str, Field, str | None]] = [
        ("Companies over limit", report.companies_over, _THOUSANDS),
        ("of which limit unknown", report.limit_unknown, _THOUSANDS),
        ("Seats over in total", report.seats_over, _THOUSANDS),
    ]
    if report.priced:
        facts.append(("Est. monthly true-up", report.true_up, styles.money))
    if report.seat_price is not None:
        facts.append(("Seat price per month", report.seat_price, styles.money))
    if report.unpriced:
        facts.append(("of which no price set", len(report.unpriced), _COUNT))
    rows: list[_Row] = [[(label, None, False), (value, fmt, False)] for label, value, fmt in facts]
    rows.append(_moment_row("Generated at", _local(generated_at, zone), zone_name))
    rows.append(_moment_row("Data fetched at", _local(report.fetched_at, zone), zone_name))
    rows.append([("Source", None, False), (_clean(report.source) or "not recorded", None, False)])
    rows.append([("Filter", None, False), (_clean(filter_text), None, False)])
    return rows


def _plan_table(report: Report, styles: _Styles) -> list[_Row]:
    """The true-up per plan and in all; a plan with no price shows none, and NO_PRICE."""
    header: _Row = [
        (label, None, True)
        for label in ("True-up per plan", "Seat price per month", "Seats over", "True-up")
    ]
    rows = [header] + [_plan_row(total, styles) for total in report.plan_totals()]
    rows.append(
        [
            ("All plans", None, True),
            (None, None, True),
            (report.seats_over, _THOUSANDS, True),
            (report.true_up, styles.money, True),
        ]
    )
    return rows


def _plan_row(total: PlanTotal, styles: _Styles) -> _Row:
    return [
        (_clean(total.plan), None, False),
        (total.price, styles.money, False),
        (total.seats_over, _THOUSANDS, False),
        (NO_PRICE, None, False) if total.true_up is None else (total.true_up, styles.money, False),
    ]


def _moment_row(label: str, moment: datetime | None, zone_name: str) -> _Row:
    return [(label, None, False), (moment, _DATETIME, False), (zone_name, None, False)]


def _biggest(report: Report) -> list[Overage]:
    """The TOP_COUNT biggest known overages: the report is sorted by overage already."""
    return [o for o in report.overages if o.seats_over is not None][:TOP_COUNT]


def _top_table(top: list[Overage]) -> list[_Row]:
    header: _Row = [(f"Biggest overages (top {TOP_COUNT})", None, True), ("Seats over", None, True)]
    return [header] + [
        [(_clean(o.company.name), None, False), (o.seats_over, _THOUSANDS, False)] for o in top
    ]


def _trend_table(trend: Sequence[tuple[datetime, int]], zone: ZoneInfo) -> list[_Row]:
    header: _Row = [("Digest date", None, True), ("Seats over", None, True)]
    return [header] + [
        [(_local(moment, zone), _DATE, False), (seats, _THOUSANDS, False)]
        for moment, seats in trend
    ]


def _summary_range(column: str, first: int, last: int) -> str:
    """A range on the Summary sheet, rows one-based, as a chart formula."""
    return f"='{SUMMARY_SHEET}'!${column}${first}:${column}${last}"


def _add_top_chart(
    book: Workbook, ws: Worksheet, top: list[Overage], *, header_row: int, column: str
) -> None:
    if not top:
        return
    chart = book.add_chart({"type": "bar"})  # horizontal bars: long company names stay readable
    if chart is None:
        raise RuntimeError("xlsxwriter has no bar chart")
    last = header_row + len(top)
    chart.add_series(
        {
            "name": f"='{SUMMARY_SHEET}'!$B${header_row}",
            "categories": _summary_range("A", header_row + 1, last),
            "values": _summary_range("B", header_row + 1, last),
            # the cells' values, as the chart's cache: rows streamed to disk cannot be read
            # back, and text categories make the names a string reference, not a numeric one
            "name_data": ["Seats over"],
            "categories_data": [_clean(o.company.name) for o in top],
            "values_data": [o.seats_over for o in top],
        }
    )
    chart.set_title({"name": "Biggest overages (seats over)"})
    chart.set_legend({"none": True})
    # in a bar chart the y axis holds the categories: biggest at the top, as in the table,
    # with the seat axis kept at the bottom
    chart.set_y_axis({"reverse": True, "crossing": "max"})
    chart.set_size({"width": _cm_to_px(18), "height": _cm_to_px(9)})
    ws.insert_chart(f"{column}3", chart)


def _add_trend_chart(
    book: Workbook,
    ws: Worksheet,
    trend: Sequence[tuple[datetime, int]],
    zone: ZoneInfo,
    *,
    header_row: int,
    column: str,
) -> None:
    chart = book.add_chart({"type": "line"})
    if chart is None:
        raise RuntimeError("xlsxwriter has no line chart")
    last = header_row + len(trend)
    chart.add_series(
        {
            "name": f"='{SUMMARY_SHEET}'!$B${header_row}",
            "categories": _summary_range("A", header_row + 1, last),
            "values": _summary_range("B", header_row + 1, last),
            # the chart's cache, as for the top chart: dates as Excel serial numbers
            "name_data": ["Seats over"],
            "categories_data": [_excel_serial(m, zone) for m, _ in trend],
            "values_data": [seats for _, seats in trend],
        }
    )
    chart.set_title({"name": "Seats over, last digests"})
    chart.set_legend({"none": True})
    chart.set_x_axis({"num_format": _DATE, "text_axis": True})  # one tick per digest
    chart.set_size({"width": _cm_to_px(18), "height": _cm_to_px(7.5)})
    ws.insert_chart(f"{column}22", chart)


def _excel_serial(moment: datetime, zone: ZoneInfo) -> float:
    """The wall-clock time in zone as Excel stores it: days since 1899-12-30."""
    local = _local(moment, zone)
    return 0.0 if local is None else (local - _EXCEL_EPOCH).total_seconds() / 86400


_EXCEL_EPOCH = datetime(1899, 12, 30)


def _cm_to_px(cm: float) -> int:
    return round(cm / 2.54 * 96)  # Excel's 96 pixels to the inch


# --- csv ---------------------------------------------------------------------------------------

# a CSV cell: numbers are written bare, everything else (str) inside double quotes
_CsvCell = str | int | float | Decimal


def build_csv(
    report: Report, *, cases: Sequence[CaseRecord] | None = None, zone: tzinfo = UTC
) -> bytes:
    """UTF-8 with BOM (Excel reads it as UTF-8), CRLF, text neutralised against CSV injection;
    with `cases`, each company's case in the last columns, as on the workbook's list sheet.

    Every text cell is quoted, as OWASP advises, so a `,` or `;` inside it is part of the text,
    not a cell boundary, to a reader that honours the quotes; a text cell that starts with a
    formula character also gets a leading `'`. Numbers are bare and never prefixed.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC)
    columns = None if cases is None else _CaseColumns(cases, zone)
    headers = _headers(report, columns)
    writer.writerow(headers)
    formatters = _csv_formatters(len(headers))
    for overage in report.overages:
        fields = _row_fields(overage, report, columns)
        writer.writerow([format_(value) for value, format_ in zip(fields, formatters, strict=True)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _csv_formatters(columns: int) -> list[Callable[[Field], _CsvCell]]:
    formatters: list[Callable[[Field], _CsvCell]] = [
        _csv_percent if fmt == _PERCENT else _csv_value for _, fmt, _ in _COLUMNS
    ]
    return formatters + [_csv_value] * (columns - len(_COLUMNS))  # the money columns


def _csv_percent(value: Field) -> _CsvCell:
    return f"{value * 100:.1f}%" if isinstance(value, float) else _csv_value(value)


def _csv_value(value: Field) -> _CsvCell:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return _neutralise(value)
    return value


def _neutralise(text: str) -> str:
    """OWASP CSV injection: a leading quote makes a spreadsheet read the cell as text."""
    return "'" + text if text.startswith(_CSV_TRIGGERS) else text


# --- the invoice csv ---------------------------------------------------------------------------

INVOICE_HEADERS = (
    "Company",
    "Company ID",
    "Plan",
    "Limit",
    "Users",
    "Seats over",
    "Unit price",
    "Amount",
    "Currency",
    "Period",
    "Case state",
    "Owner",
    "Invoice reference",
)


def build_invoice_csv(invoice: Invoice) -> bytes:
    """The invoice-ready CSV: one line per company to bill, safe as build_csv is (BOM, CRLF,
    every text cell quoted, formulas neutralised, numbers bare). A plan with no price has no
    unit price and NO_PRICE as its amount, never 0."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(INVOICE_HEADERS)
    for line in invoice.lines:
        writer.writerow([_csv_value(value) for value in _invoice_fields(line, invoice)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _invoice_fields(line: InvoiceLine, invoice: Invoice) -> list[Field]:
    company, case = line.overage.company, line.case
    return [
        _clean(company.name),
        _clean(company.company_id),
        _clean(line.plan),
        company.limit,
        company.target_users,
        line.seats_over,
        line.unit_price,
        NO_PRICE if line.amount is None else line.amount,
        _clean(invoice.currency),
        invoice.period,
        "" if case is None else case.state.value,
        "" if case is None or case.owner is None else _clean(case.owner),
        "" if case is None else _clean(case.invoice_ref),
    ]
