"""The number formats the workbook's cells show, and the currency they name."""

from __future__ import annotations

from bot.overage import Report

_PERCENT = "0.0%"
_DATE = "yyyy-mm-dd"
_DATETIME = "yyyy-mm-dd hh:mm"
_THOUSANDS = "#,##0"
# booleans show TRUE/FALSE in every reader (LibreOffice shows 0 for a General boolean)
_BOOLEAN = '"TRUE";"TRUE";"FALSE"'
_COUNT = '#,##0 "companies"'


def _currency(report: Report) -> str:
    return "".join(c for c in report.currency if c.isalnum())[:8] or "CUR"


def _money_format(report: Report) -> str:
    return f'#,##0.00 "{_currency(report)}"'
