"""Typed xlsx cells: the workbook's cell formats, and values written by their type, text
always as text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from xlsxwriter import Workbook
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from bot.overage import Report
from bot.workbook.formats import _BOOLEAN, _money_format
from bot.workbook.rows import Field


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
