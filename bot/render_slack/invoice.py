"""The invoice CSV's upload comment: who asked, what is to bill, and what was left out and why."""

from __future__ import annotations

from bot.invoice import Invoice
from bot.overage import Report
from bot.render_slack.blocks import _money, _with_shortfall, escape


def render_invoice_comment(invoice: Invoice, report: Report, *, user: str) -> str:
    """The words the invoice CSV is uploaded with: the period, who asked, the companies to
    bill and their sum, those with no price, and how many were left out and why."""
    period = escape(invoice.period)
    count = len(invoice.lines)
    text = (
        f"Invoice CSV for {period}, as <@{escape(user)}> asked: "
        f"{_companies(count)} to bill, {_money(invoice.total, invoice.currency)} in all."
    )
    if invoice.unpriced:
        text += (
            f" {_companies(invoice.unpriced).capitalize()} {_have(invoice.unpriced)} no price set"
            " for their plan and no amount."
        )
    reasons = _left_out(invoice)
    if reasons:
        text += f" Left out: {'; '.join(reasons)}."
    return _with_shortfall(text, report)


def _left_out(invoice: Invoice) -> list[str]:
    reasons = []
    if invoice.already_invoiced:
        reasons.append(
            f"{invoice.already_invoiced:,} already invoiced in {escape(invoice.period)} "
            "for as many seats or more"
        )
    if invoice.waived:
        reasons.append(f"{invoice.waived:,} waived")
    if invoice.limit_unknown:
        reasons.append(
            f"{invoice.limit_unknown:,} with limit unknown, whose seats over cannot be counted"
        )
    return reasons


def _companies(count: int) -> str:
    return f"{count:,} compan{'y' if count == 1 else 'ies'}"


def _have(count: int) -> str:
    return "has" if count == 1 else "have"
