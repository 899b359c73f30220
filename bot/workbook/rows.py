"""The rows both exports share: the list's columns, one company's typed fields (text from
the platform cleaned), its case's columns and the list's totals."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal

from bot.cases import SYSTEM, Case, CaseEvent, company_key
from bot.overage import Overage, Report
from bot.workbook.formats import _BOOLEAN, _DATE, _PERCENT, _THOUSANDS, _currency

LIMIT_UNKNOWN = "limit unknown"
NO_PRICE = "no price set"  # a true-up cell of a company whose plan has no price: never 0
MAX_CELL_CHARS = 32_767  # Excel's limit, counted in UTF-16 code units
# characters XML 1.0 cannot carry, and lone surrogates no UTF-8 encoder accepts
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

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
