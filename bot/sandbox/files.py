"""The sandbox's export files: the company list as the platform's CSV or Excel download."""

from __future__ import annotations

import csv
import io
from typing import Any

from aiohttp import web

Row = dict[str, Any]

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Company Name", "companyName"),
    ("Reseller", "resellerName"),
    ("Industry", "industryName"),
    ("License Type", "licenseTypeName"),
    ("License Limit", "numberOfUsers"),
    ("Target Users", "targetUserCount"),
    ("Inactive Users", "inactiveTargetUserCount"),
    ("Deleted Users", "deletedTargetUserCount"),
    ("Monthly Users", "monthlyActiveUserCount"),
    ("Licence Expired", "licenceExpired"),
    ("License End Date", "licenseEndDate"),
    ("Create Time", "createTime"),
    ("Tags", "tags"),
)


def file_response(
    content: bytes, filename: str, content_type: str, charset: str | None
) -> web.Response:
    disposition = f"attachment; filename={filename}; filename*=UTF-8''{filename}"
    headers = {"Content-Disposition": disposition}
    return web.Response(body=content, content_type=content_type, charset=charset, headers=headers)


def csv_file(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([title for title, _ in EXPORT_COLUMNS])
    for row in rows:
        writer.writerow([_cell(row, key) for _, key in EXPORT_COLUMNS])
    return out.getvalue()


def xlsx_file(rows: list[Row]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Companies")
    sheet.append([title for title, _ in EXPORT_COLUMNS])
    for row in rows:
        cells = []
        for _, key in EXPORT_COLUMNS:
            cell = WriteOnlyCell(sheet, value=_cell(row, key))
            if isinstance(cell.value, str):
                cell.data_type = "s"  # a name such as =HYPERLINK(...) is text, not a formula
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(row: Row, key: str) -> Any:
    value = row.get(key)
    if key == "tags":
        return ", ".join(str(tag) for tag in value or [])
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return "" if value is None else value
