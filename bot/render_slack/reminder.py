"""A reminder about a case invoiced a while ago whose company is still over its limit."""

from __future__ import annotations

from datetime import datetime

from bot.cases import Case
from bot.render_slack.blocks import _UNKNOWN, Message, _context, _message, _money, _name, _section


def render_reminder(
    case: Case, *, invoiced_at: datetime, now: datetime, every_days: int, currency: str
) -> Message:
    """The reminder: which company, what was invoiced when, how far over it still is, and its
    owner mentioned (the only mention: a user ID from our own database), or that it has none."""
    days = max(0, (now - invoiced_at).days)
    invoice = _invoice(case, currency)
    seats = case.seats_over
    over = f"over its limit ({_UNKNOWN})" if seats is None else f"over its limit by {seats:,}"
    name = _name(case.company_name)
    fact = f"{name} was invoiced{invoice} {days:,} days ago and is still {over}."
    owner = case.owner
    if owner is not None and owner.isascii() and owner.isalnum():
        ask = f"<@{owner}>, is its limit raised yet? If not, follow up or invoice it again."
    else:
        ask = "Nobody owns this case: assign it from `/overage cases invoiced`."
    blocks = [
        _section(f":bell: *Reminder:* {fact}\n{ask}"),
        _context(
            f"Reminded every {every_days:,} days after the invoice while the company stays over "
            "its limit (CASE_REMINDER_DAYS)."
        ),
    ]
    return _message(f"Reminder: {fact} {ask}", blocks)


def _invoice(case: Case, currency: str) -> str:
    """What was invoiced, as much as the case holds: for 40 seats (INV-7, USD 180.00)."""
    seats = "" if case.invoiced_seats is None else f" for {case.invoiced_seats:,} seats"
    details = []
    if case.invoice_ref:
        details.append(_name(case.invoice_ref, 40))
    if case.invoiced_amount is not None:
        details.append(_money(case.invoiced_amount, currency))
    return seats + (f" ({', '.join(details)})" if details else "")
