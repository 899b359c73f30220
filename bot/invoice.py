"""PURE: the invoice of a billing period: one line per company over its limit to bill, and how
many were left out and why.

A billing period is a calendar month in DIGEST_TIMEZONE. A company is left out when its seats
over cannot be counted (limit unknown), when its case is waived, or when it was invoiced in
the period for as many seats as it is over now, or more; the rest are billed at their plan's
seat price (none where the plan has no price: never at zero).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from decimal import Decimal

from bot.cases import Case, CaseEvent, State, company_key
from bot.overage import NO_LICENSE_TYPE, Overage, Report


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One company to bill: its overage, its plan's seat price and the amount (None when the
    plan has no price), and its case, when it has one."""

    overage: Overage
    plan: str
    unit_price: Decimal | None
    amount: Decimal | None
    case: Case | None

    @property
    def seats_over(self) -> int:
        return self.overage.seats_over or 0


@dataclass(frozen=True, slots=True)
class Invoice:
    """The lines to bill in one period, in the report's order, and the companies left out."""

    period: str  # the month, "2026-12"
    currency: str
    lines: tuple[InvoiceLine, ...]
    already_invoiced: int = 0  # invoiced in the period for as many seats or more
    waived: int = 0
    limit_unknown: int = 0

    @property
    def total(self) -> Decimal:
        """The sum of the amounts of the lines that have one (exact)."""
        return sum((line.amount for line in self.lines if line.amount is not None), Decimal(0))

    @property
    def unpriced(self) -> int:
        """Lines whose plan has no price: billed with no amount, never at zero."""
        return sum(1 for line in self.lines if line.amount is None)

    @property
    def left_out(self) -> int:
        return self.already_invoiced + self.waived + self.limit_unknown


def billing_period(moment: datetime, zone: tzinfo) -> str:
    """The month `moment` falls in, in `zone`: "2026-12"."""
    return f"{moment.astimezone(zone):%Y-%m}"


def period_start(moment: datetime, zone: tzinfo) -> datetime:
    """The first instant of the month `moment` falls in, in `zone` (aware)."""
    local = moment.astimezone(zone)
    return datetime.combine(local.date().replace(day=1), time(), tzinfo=zone)


def most_invoiced(invoices: Iterable[tuple[str, CaseEvent]]) -> dict[str, int]:
    """The most seats each company was invoiced for, by company ID, of (company ID, invoiced
    entry) pairs."""
    most: dict[str, int] = {}
    for company_id, event in invoices:
        if event.seats is not None:
            most[company_id] = max(most.get(company_id, 0), event.seats)
    return most


def invoice_of(
    report: Report,
    *,
    period: str,
    cases: Mapping[str, Case],
    invoiced: Mapping[str, int],
) -> Invoice:
    """The invoice of `report` for `period`: `cases` are the open cases by company ID,
    `invoiced` the most seats each company was invoiced for in the period (most_invoiced)."""
    lines: list[InvoiceLine] = []
    unknown = waived = covered = 0
    for overage in report.overages:
        key = company_key(overage.company.ref)
        case = cases.get(key)
        seats = overage.seats_over
        if seats is None:
            unknown += 1
        elif case is not None and case.state is State.WAIVED:
            waived += 1
        elif invoiced.get(key, 0) >= seats:
            covered += 1
        else:
            lines.append(_line(overage, report, case))
    return Invoice(
        period=period,
        currency=report.currency,
        lines=tuple(lines),
        already_invoiced=covered,
        waived=waived,
        limit_unknown=unknown,
    )


def _line(overage: Overage, report: Report, case: Case | None) -> InvoiceLine:
    license_type = overage.company.license_type
    prices = report.prices
    if prices is None:
        plan = " ".join(license_type.split()) or NO_LICENSE_TYPE
        return InvoiceLine(overage, plan, None, None, case)
    price = prices.price_of(license_type)
    amount = None if price is None else price * (overage.seats_over or 0)
    return InvoiceLine(overage, prices.plan_of(license_type), price, amount, case)
