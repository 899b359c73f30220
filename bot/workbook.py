"""Pure export: a Report as xlsx or csv bytes, with text from the platform always kept as text."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart.data_source import AxDataSource, StrRef
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from bot.overage import Overage, Report

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv"
DEFAULT_FILTER = "isTargetUserCountExceededLimit = true"
OVER_LIMIT_SHEET = "Over limit"
SUMMARY_SHEET = "Summary"
LIMIT_UNKNOWN = "limit unknown"
MAX_CELL_CHARS = 32_767  # Excel's limit, counted in UTF-16 code units
TOP_COUNT = 10

_PERCENT = "0.0%"
_DATE = "yyyy-mm-dd"
_DATETIME = "yyyy-mm-dd hh:mm"
_COUNT = '#,##0 "companies"'
_BOLD = Font(bold=True)
# characters XML 1.0 cannot carry (openpyxl raises on most of them, lxml on the rest)
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# openpyxl reads a str starting with "=" as a formula and "#N/A" and kin as error values
_READ_AS_CODE = ("=", "#")
_CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

# header, number format (None = General or text), width in characters
_COLUMNS: tuple[tuple[str, str | None, float], ...] = (
    ("Company", None, 36),
    ("Company ID", None, 38),
    ("Reseller", None, 24),
    ("License type", None, 16),
    ("License limit", None, 13),
    ("Target users", None, 13),
    ("Over by", None, 13),
    ("Over by %", _PERCENT, 11),
    ("Inactive users", None, 14),
    ("Monthly active users", None, 21),
    ("License end date", _DATE, 17),
    ("Licence expired", None, 16),
    ("Tags", None, 30),
    ("Created", _DATE, 12),
)
_TOTALLED = ("Target users", "Over by", "Inactive users", "Monthly active users")

Field = str | int | float | bool | datetime | Decimal | None


def export_filename(fmt: str, today: date) -> str:
    return f"license-overage-{today.isoformat()}.{fmt}"


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


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    """Wall-clock time in zone, without tzinfo: Excel has no zones."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone).replace(tzinfo=None)


def _headers(report: Report) -> list[str]:
    headers = [header for header, _, _ in _COLUMNS]
    if report.seat_price is not None:
        headers.append(f"Est. monthly true-up ({_currency(report)})")
    return headers


def _currency(report: Report) -> str:
    return "".join(c for c in report.currency if c.isalnum())[:8] or "CUR"


def _fields(overage: Overage, zone: ZoneInfo, *, priced: bool) -> list[Field]:
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
        _local(company.license_end, zone),
        company.licence_expired,
        _clean(", ".join(company.tags)),
        _local(company.created, zone),
    ]
    if priced:
        fields.append(overage.true_up)
    return fields


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
) -> bytes:
    """The workbook: an "Over limit" sheet of typed rows, and a "Summary" sheet with charts."""
    book = Workbook(write_only=True)
    _write_over_limit(book.create_sheet(OVER_LIMIT_SHEET), report, zone)
    summary = book.create_sheet(SUMMARY_SHEET)
    _write_summary(
        summary, report, generated_at=generated_at, zone=zone, filter_text=filter_text, trend=trend
    )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _text_cell(ws: Any, text: str, *, bold: bool = False) -> Any:
    """Text stored as a string, never as a formula or an error value, whatever it starts with."""
    if not bold and not text.startswith(_READ_AS_CODE):
        return text  # openpyxl stores any other str as an inline string as it is
    cell = WriteOnlyCell(ws, text)
    cell.data_type = "s"
    if bold:
        cell.font = _BOLD
    return cell


def _cell(ws: Any, value: Field, number_format: str | None = None, *, bold: bool = False) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return _text_cell(ws, value, bold=bold)
    if number_format is None and not bold:
        return value
    cell = WriteOnlyCell(ws, value)
    if number_format is not None:
        cell.number_format = number_format
    if bold:
        cell.font = _BOLD
    return cell


def _money_format(report: Report) -> str:
    return f'#,##0.00 "{_currency(report)}"'


def _write_over_limit(ws: Any, report: Report, zone: ZoneInfo) -> None:
    headers = _headers(report)
    priced = report.seat_price is not None
    formats = [fmt for _, fmt, _ in _COLUMNS] + ([_money_format(report)] if priced else [])
    for index, width in enumerate(_widths(report), start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    ws.append([_cell(ws, header, bold=True) for header in headers])
    for overage in report.overages:
        fields = _fields(overage, zone, priced=priced)
        ws.append([_cell(ws, value, fmt) for value, fmt in zip(fields, formats, strict=True)])
    last_row = 1 + len(report.overages)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{last_row}"
    ws.append(_totals_row(ws, report, headers, formats))


def _totals_row(
    ws: Any, report: Report, headers: list[str], formats: list[str | None]
) -> list[Any]:
    """Totals computed here, not formulas: every reader shows them, not only a recalculating one."""
    values: dict[str, Field] = {
        headers[0]: "Total",
        headers[1]: report.companies_over,
        **_totals(report),
    }
    if report.seat_price is not None:
        values[headers[-1]] = report.true_up
    row_formats = [formats[0], _COUNT, *formats[2:]]
    return [
        _cell(ws, values.get(header), fmt, bold=True)
        for header, fmt in zip(headers, row_formats, strict=True)
    ]


def _widths(report: Report) -> list[float]:
    """Fixed widths, widened for long names, capped so one odd name cannot swamp the sheet."""
    longest = max((len(o.company.name) for o in report.overages), default=0)
    widths = [width for _, _, width in _COLUMNS]
    widths[0] = float(min(max(widths[0], longest + 2), 60))
    if report.seat_price is not None:
        widths.append(26)
    return widths


# --- summary sheet -----------------------------------------------------------------------------


def _write_summary(
    ws: Any,
    report: Report,
    *,
    generated_at: datetime,
    zone: ZoneInfo,
    filter_text: str,
    trend: Sequence[tuple[datetime, int]],
) -> None:
    for letter, width in zip("ABCD", (34, 22, 18, 4), strict=True):
        ws.column_dimensions[letter].width = width
    rows: list[list[Any]] = [[_cell(ws, "License overage", bold=True)], []]
    rows += _facts(ws, report, generated_at=generated_at, zone=zone, filter_text=filter_text)
    rows.append([])
    top_start = len(rows) + 1
    rows += _top_table(ws, report)
    trend_start = len(rows) + 2
    if len(trend) >= 2:
        rows.append([])
        rows += _trend_table(ws, trend, zone)
    for row in rows:
        ws.append(row)
    _add_top_chart(ws, report, header_row=top_start)
    if len(trend) >= 2:
        _add_trend_chart(ws, header_row=trend_start, points=len(trend))


def _facts(
    ws: Any, report: Report, *, generated_at: datetime, zone: ZoneInfo, filter_text: str
) -> list[list[Any]]:
    zone_name = _clean(str(zone.key))
    facts: list[tuple[str, Field, str | None]] = [
        ("Companies over limit", report.companies_over, None),
        ("of which limit unknown", report.limit_unknown, None),
        ("Seats over in total", report.seats_over, None),
    ]
    if report.seat_price is not None:
        money = _money_format(report)
        facts.append(("Est. monthly true-up", report.true_up, money))
        facts.append(("Seat price per month", report.seat_price, money))
    rows = [[_cell(ws, label), _cell(ws, value, fmt)] for label, value, fmt in facts]
    rows.append(_moment_row(ws, "Generated at", _local(generated_at, zone), zone_name))
    rows.append(_moment_row(ws, "Data fetched at", _local(report.fetched_at, zone), zone_name))
    rows.append([_cell(ws, "Source"), _cell(ws, _clean(report.source) or "not recorded")])
    rows.append([_cell(ws, "Filter"), _cell(ws, _clean(filter_text))])
    return rows


def _moment_row(ws: Any, label: str, moment: datetime | None, zone_name: str) -> list[Any]:
    return [_cell(ws, label), _cell(ws, moment, _DATETIME), _cell(ws, zone_name)]


def _top_table(ws: Any, report: Report) -> list[list[Any]]:
    known = [o for o in report.overages if o.seats_over is not None][:TOP_COUNT]
    header = [_cell(ws, f"Biggest overages (top {TOP_COUNT})", bold=True)]
    header.append(_cell(ws, "Seats over", bold=True))
    return [header] + [[_cell(ws, _clean(o.company.name)), o.seats_over] for o in known]


def _trend_table(ws: Any, trend: Sequence[tuple[datetime, int]], zone: ZoneInfo) -> list[list[Any]]:
    header = [_cell(ws, "Digest date", bold=True), _cell(ws, "Seats over", bold=True)]
    return [header] + [[_cell(ws, _local(moment, zone), _DATE), seats] for moment, seats in trend]


def _add_top_chart(ws: Any, report: Report, *, header_row: int) -> None:
    count = min(TOP_COUNT, report.companies_over - report.limit_unknown)
    if count == 0:
        return
    chart = BarChart()
    chart.type = "bar"  # horizontal bars: long company names stay readable
    chart.title = "Biggest overages (seats over)"
    chart.legend = None
    last = header_row + count
    chart.add_data(
        Reference(ws, min_col=2, min_row=header_row, max_row=last), titles_from_data=True
    )
    names = Reference(ws, min_col=1, min_row=header_row + 1, max_row=last)
    chart.series[0].cat = AxDataSource(strRef=StrRef(f=str(names)))  # names are text, not numbers
    chart.x_axis.scaling.orientation = "maxMin"  # biggest at the top, as in the table
    chart.y_axis.crosses = "max"  # which keeps the seat axis at the bottom
    _show_axes(chart)
    chart.height, chart.width = 9, 18
    ws.add_chart(chart, "E3")


def _add_trend_chart(ws: Any, *, header_row: int, points: int) -> None:
    chart = LineChart()
    chart.title = "Seats over, last digests"
    chart.legend = None
    last = header_row + points
    chart.add_data(
        Reference(ws, min_col=2, min_row=header_row, max_row=last), titles_from_data=True
    )
    chart.set_categories(Reference(ws, min_col=1, min_row=header_row + 1, max_row=last))
    chart.x_axis.number_format = _DATE
    _show_axes(chart)
    chart.height, chart.width = 7.5, 18
    ws.add_chart(chart, "E22")


def _show_axes(chart: Any) -> None:
    # openpyxl leaves `delete` unset, which Excel reads as "hide the axis"
    chart.x_axis.delete = False
    chart.y_axis.delete = False


# --- csv ---------------------------------------------------------------------------------------


def build_csv(report: Report, *, zone: ZoneInfo) -> bytes:
    """UTF-8 with BOM (Excel reads it as UTF-8), CRLF, text neutralised against CSV injection."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(_headers(report))
    priced = report.seat_price is not None
    formatters = _csv_formatters(priced=priced)
    for overage in report.overages:
        fields = _fields(overage, zone, priced=priced)
        writer.writerow([format_(value) for value, format_ in zip(fields, formatters, strict=True)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _csv_formatters(*, priced: bool) -> list[Callable[[Field], str]]:
    formatters: list[Callable[[Field], str]] = [
        _csv_percent if fmt == _PERCENT else _csv_value for _, fmt, _ in _COLUMNS
    ]
    return formatters + ([_csv_value] if priced else [])


def _csv_percent(value: Field) -> str:
    return f"{value * 100:.1f}%" if isinstance(value, float) else _csv_value(value)


def _csv_value(value: Field) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, str):
        return _neutralise(value)
    return str(value)


def _neutralise(text: str) -> str:
    """OWASP CSV injection: a leading quote makes a spreadsheet read the cell as text."""
    return "'" + text if text.startswith(_CSV_TRIGGERS) else text
