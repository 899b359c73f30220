"""PURE: a Report as xlsx or csv bytes, with text from the platform always kept as text.

The workbook is written with xlsxwriter rather than openpyxl: its constant_memory mode streams
rows with less time and memory per cell than openpyxl's write-only mode, and write_string keeps
text from ever becoming a formula. openpyxl remains the reader in the tests and the sandbox.
The only I/O is xlsxwriter's temporary files for that streaming, in the system's temporary
folder.

`formats` holds the number formats; `rows` the rows both exports share (columns, a company's
typed fields, its case's columns, totals); `cells` writes typed xlsx cells; `over_limit`,
`summary` and `history` write one sheet each, `xlsx` the workbook; `csv_export` writes the
overage CSV and the invoice CSV. Everything public is re-exported here, so callers import from
`bot.workbook`.
"""

from __future__ import annotations

from datetime import date

from bot.workbook.csv_export import INVOICE_HEADERS, build_csv, build_invoice_csv
from bot.workbook.history import CASES_SHEET
from bot.workbook.over_limit import OVER_LIMIT_SHEET
from bot.workbook.rows import (
    LIMIT_UNKNOWN,
    MAX_CELL_CHARS,
    NO_PRICE,
    CaseRecord,
    Field,
)
from bot.workbook.rows import _fields as _fields
from bot.workbook.rows import _headers as _headers
from bot.workbook.summary import SUMMARY_SHEET, TOP_COUNT
from bot.workbook.xlsx import DEFAULT_FILTER, build_xlsx

__all__ = [
    "CASES_SHEET",
    "DEFAULT_FILTER",
    "INVOICE_HEADERS",
    "LIMIT_UNKNOWN",
    "MAX_CELL_CHARS",
    "NO_PRICE",
    "OVER_LIMIT_SHEET",
    "SUMMARY_SHEET",
    "TOP_COUNT",
    "CaseRecord",
    "Field",
    "build_csv",
    "build_invoice_csv",
    "build_xlsx",
    "export_filename",
    "invoice_filename",
]


def export_filename(fmt: str, today: date) -> str:
    return f"license-overage-{today.isoformat()}.{fmt}"


def invoice_filename(period: str) -> str:
    """The invoice CSV's name, by its billing period ("2026-12")."""
    return f"license-overage-invoice-{period}.csv"
