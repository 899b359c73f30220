"""The workbook: the "Over limit", "Summary" and "Cases" sheets, streamed by xlsxwriter."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from xlsxwriter import Workbook

from bot.overage import Report
from bot.workbook.cells import _Styles
from bot.workbook.history import CASES_SHEET, _write_cases
from bot.workbook.over_limit import OVER_LIMIT_SHEET, _write_over_limit
from bot.workbook.rows import CaseRecord, _CaseColumns
from bot.workbook.summary import SUMMARY_SHEET, _write_summary

DEFAULT_FILTER = "isTargetUserCountExceededLimit = true"
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
