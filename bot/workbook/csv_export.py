"""The overage list and the invoice as CSV: UTF-8 with BOM, CRLF, every text cell quoted
and neutralised against formulas, numbers bare."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import UTC, date, tzinfo
from decimal import Decimal

from bot.invoice import Invoice, InvoiceLine
from bot.overage import Report
from bot.workbook.formats import _PERCENT
from bot.workbook.rows import (
    _COLUMNS,
    NO_PRICE,
    CaseRecord,
    Field,
    _CaseColumns,
    _clean,
    _headers,
    _row_fields,
)

_CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

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
