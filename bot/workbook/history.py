"""The "Cases" sheet: every entry of each overage case's history."""

from __future__ import annotations

from datetime import tzinfo

from xlsxwriter.worksheet import Worksheet

from bot.cases import SYSTEM, Action, Case, CaseEvent
from bot.workbook.cells import _print_setup, _Styles, _write_row, _write_rows
from bot.workbook.formats import _DATE, _DATETIME, _THOUSANDS
from bot.workbook.rows import _MONEY, Field, _CaseColumns, _clean, _local

CASES_SHEET = "Cases"
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
