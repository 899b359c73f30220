"""The demo's walk of one overage case through its states: assigned, contacted, invoiced with
what the Invoiced… form would hold, the invoice CSV, the reminder, and resolved when the
platform's count comes back under the limit. Changes go through the store as a form's
submission would; what Slack would show is printed after each."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bot.app import Runtime
from bot.cases import Assign, Case, Change, Edit, MarkContacted, MarkInvoiced, Surface
from bot.invoice import billing_period
from bot.overage import Overage, Report, parse_limit
from bot.render_slack import Message, to_text
from bot.sandbox.server import Sandbox

OWNER = "U0ALICE"
RULE = "─" * 78


@dataclass(frozen=True, slots=True)
class Walk:
    """What the walk needs of the demo: its runtime, platform, clock and channels."""

    runtime: Runtime
    sandbox: Sandbox
    advance: Callable[[timedelta], None]  # moves the demo's clock on
    now: Callable[[], datetime]
    digest_channel: str
    alert_channel: str
    folder: Path


async def walk_one_case(walk: Walk) -> None:
    report = await walk.runtime.services.report()
    overage = _pick(report)
    store = walk.runtime.store
    store.sync_cases(report, at=walk.now())  # the fetch opened it; idempotent
    history = store.company_case(overage.company.ref)
    assert history is not None and history.case.id is not None
    case_id = history.case.id
    print(f"\n{RULE}\nOne overage case, worked from Slack: {overage.company.name}\n{RULE}")
    _change(walk, case_id, Assign(OWNER), "Assign to me", Surface.MESSAGE)
    _change(walk, case_id, MarkContacted(), "Contacted", Surface.MESSAGE)
    invoiced = _invoiced_form(walk, report, overage)
    _change(walk, case_id, invoiced, "Invoiced… (the form submitted)", Surface.MODAL)
    print("\n/overage export invoice: the invoiced company is left out, the comment says so")
    await walk.runtime.services.upload_invoice(walk.digest_channel, user=OWNER)
    _print_invoice_head(walk, report)
    walk.advance(timedelta(days=walk.runtime.settings.case_reminder_days + 1))
    print("\nCASE_REMINDER_DAYS later the company is still over: one reminder, once")
    await walk.runtime.services.remind_cases(walk.alert_channel)
    await walk.runtime.services.remind_cases(walk.alert_channel)  # posts nothing again
    _lower_users(walk.sandbox, overage)
    walk.advance(timedelta(days=1))
    print("\nThe platform now counts fewer users than the limit: the next digest resolves it")
    await walk.runtime.services.post_digest_now(walk.digest_channel)
    _print_history(walk, case_id)


def _pick(report: Report) -> Overage:
    """A company over a known limit whose plan has a price and whose name is plain text."""
    prices = report.prices
    for overage in report.overages:
        name, plan = overage.company.name, overage.company.license_type
        priced = prices is not None and prices.price_of(plan) is not None
        if overage.seats_over and priced and name.replace(" ", "").isalpha():
            return overage
    return report.overages[0]


def _change(walk: Walk, case_id: int, change: Change, clicked: str, surface: Surface) -> None:
    case, _ = walk.runtime.store.change_case(case_id, change, Edit(OWNER, surface, walk.now()))
    _show(f'After "{clicked}" by <@{OWNER}>, the message shows, for everyone', _card(case))


def _invoiced_form(walk: Walk, report: Report, overage: Overage) -> MarkInvoiced:
    """The Invoiced… form as submitted: prefilled with the seats over and the amount at the
    company's price; the reference typed."""
    seats = overage.seats_over or 0
    price = report.prices.price_of(overage.company.license_type) if report.prices else None
    amount = (price or Decimal(0)) * seats
    reference = f"INV-{billing_period(walk.now(), walk.runtime.settings.zone)}-001"
    print(
        f"\nThe Invoiced… form opens prefilled: seats {seats:,}, amount {report.currency} "
        f"{amount:,.2f} ({seats:,} × {price} for {overage.company.license_type}); "
        f"the reference typed: {reference}"
    )
    return MarkInvoiced(seats, amount, reference)


def _card(case: Case) -> Message:
    over = "limit unknown" if case.seats_over is None else f"over by {case.seats_over:,}"
    owner = f"<@{case.owner}>" if case.owner else "nobody"
    who = "the bot" if case.updated_by == "system" else f"<@{case.updated_by}>"
    line = (
        f"{case.company_name} · {over} · *{case.state.value}* · owner {owner} · "
        f"{case.last_action.value} by {who}"
    )
    return Message(line, [{"type": "section", "text": {"type": "mrkdwn", "text": line}}])


def _print_invoice_head(walk: Walk, report: Report) -> None:
    period = billing_period(report.fetched_at, walk.runtime.settings.zone)
    path = walk.folder / f"license-overage-invoice-{period}.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    print(f"\nThe first lines of {path.name}:")
    print("\n".join(lines[:6]))
    if len(lines) > 6:
        print(f"…and {len(lines) - 6:,} more lines")


def _lower_users(sandbox: Sandbox, overage: Overage) -> None:
    rows = copy.deepcopy(sandbox.companies)
    for row in rows:
        if row["companyResourceId"] == overage.company.company_id:
            row["targetUserCount"] = (parse_limit(row.get("numberOfUsers")) or 0) - 5
    sandbox.companies = rows


def _print_history(walk: Walk, case_id: int) -> None:
    history = walk.runtime.store.case_history(case_id)
    assert history is not None
    zone = walk.runtime.settings.zone
    lines = [
        f"{event.at.astimezone(zone):%Y-%m-%d %H:%M} · {event.action.value} by "
        f"{'the bot' if event.actor == 'system' else '<@' + event.actor + '>'}"
        f" ({event.surface.value}) · {event.before.value} → {event.after.value}"
        for event in history.events
    ]
    _show("The case's history, as the workbook's Cases sheet lists it", Message("\n".join(lines)))


def _show(title: str, message: Message) -> None:
    print(f"\n{RULE}\n{title}\n{RULE}\n{to_text(message)}")
