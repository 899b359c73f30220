"""The "Over limit" sheet: one typed row per company, its case's columns, the totals."""

from __future__ import annotations

from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from bot.overage import Report
from bot.workbook.cells import _print_setup, _Styles, _write_row, _write_rows
from bot.workbook.formats import _COUNT, _currency
from bot.workbook.rows import (
    _CASE_COLUMNS,
    _COLUMNS,
    _INVOICED_SEATS,
    _MONEY,
    Field,
    _by_plan,
    _case_header,
    _CaseColumns,
    _headers,
    _row_fields,
    _totals,
)

OVER_LIMIT_SHEET = "Over limit"


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
