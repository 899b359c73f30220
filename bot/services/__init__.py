"""Use cases, one module each, behind one facade: the entry point of handlers and the timer.

reports        the overage list, fetched and cached
exports        the list into a channel: workbook, CSV, the platform's file, the summary
runs           the claim → heartbeat → record protocol of digests and alert checks
digests        the digest of what changed, once per slot
alerts         one alert per customer newly over its limit
subscriptions  digest subscriptions set from Slack
home           the App Home tab
reminders      a reminder per invoiced case still over its limit, once per period
cases          overage cases: synced from each report, listed, changed from Slack
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import grammar
from bot.config import Settings
from bot.digest import DigestDiff, TrendPoint
from bot.keepnet import KeepnetClient, NativeFile
from bot.overage import Report
from bot.publish import Interactive, Poster
from bot.render_slack import CaseAction, Message
from bot.services.alerts import ALERT_EVENT, Alerts, alert_key
from bot.services.cases import CaseOrigin, Cases, FormReply
from bot.services.digests import DIGEST_EVENT, LATE_AFTER, Digests, DigestSchedule
from bot.services.exports import ExportFile, Exports
from bot.services.home import Home
from bot.services.reminders import REMINDER_EVENT, Reminders, reminder_key
from bot.services.reports import Reports
from bot.services.runs import Runs
from bot.services.subscriptions import Subscriptions
from bot.store import Store

__all__ = [
    "ALERT_EVENT",
    "DIGEST_EVENT",
    "LATE_AFTER",
    "REMINDER_EVENT",
    "CaseOrigin",
    "DigestSchedule",
    "ExportFile",
    "FormReply",
    "Services",
    "alert_key",
    "reminder_key",
]


class Services:
    """Every use case of one process, sharing its clients, its store and its clock."""

    def __init__(
        self,
        settings: Settings,
        keepnet: KeepnetClient,
        store: Store,
        poster: Poster,
        *,
        instance_id: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        interactive: Interactive | None = None,
    ) -> None:
        self.settings = settings
        self.poster = poster
        self.instance_id = instance_id
        self.now = now
        runs = Runs(
            store, poster, instance_id=instance_id, lease_s=settings.digest_lease_s, now=now
        )
        self._reports = Reports(settings, keepnet, now=now, fetched=self._sync_cases)
        self._exports = Exports(settings, keepnet, store, poster, self._reports, now=now)
        self._digests = Digests(
            settings, store, poster, reports=self._reports, exports=self._exports, runs=runs,
            now=now,
        )  # fmt: skip
        self._alerts = Alerts(store, poster, reports=self._reports, runs=runs, now=now)
        self._subscriptions = Subscriptions(settings, store, poster, now=now)
        self._reminders = Reminders(
            settings, store, poster, reports=self._reports, runs=runs, now=now
        )
        self._home = Home(
            poster, reports=self._reports, digests=self._digests, now=now, store=store,
            settings=settings,
        )  # fmt: skip
        self._cases = Cases(
            settings, store, interactive, reports=self._reports, home=self._home, now=now
        )

    # --- the overage list and its files ------------------------------------------------------

    async def report(self, *, fresh: bool = False) -> Report:
        return await self._reports.report(fresh=fresh)

    async def settled(self) -> None:
        """Wait for the work a fetch left running (the cases brought in line with it)."""
        await self._reports.shown()

    async def any_report(self) -> Report:
        """The report fetched last, however old, else a fresh one: the company picker's
        options must reach Slack within 3 s."""
        return self._reports.latest or await self._reports.report()

    async def export_file(
        self, fmt: str, report: Report | None = None, *, trend: Sequence[TrendPoint] | None = None
    ) -> ExportFile:
        """The workbook or CSV; the workbook charts `trend`, by default DIGEST_CHANNEL's."""
        return await self._exports.export_file(fmt, report, trend=trend)

    async def native_file(self, fmt: str) -> NativeFile:
        return await self._exports.native_file(fmt)

    async def upload_export(self, channel: str, *, fmt: str, native: bool, user: str) -> None:
        await self._exports.upload(channel, fmt=fmt, native=native, user=user)

    async def upload_export_to_dm(self, user: str, *, fmt: str) -> None:
        await self._exports.upload_to_dm(user, fmt=fmt)

    async def post_summary(self, channel: str, *, user: str) -> str:
        return await self._exports.post_summary(channel, user=user)

    # --- billing: the invoice CSV, case reminders --------------------------------------------

    async def upload_invoice(self, channel: str, *, user: str) -> None:
        await self._exports.upload_invoice(channel, user=user)

    async def upload_invoice_to_dm(self, user: str) -> None:
        await self._exports.upload_invoice_to_dm(user)

    async def remind_cases(self, channel: str) -> list[str]:
        """Post the case reminders due now into `channel`, each once; the ts posted."""
        return await self._reminders.remind(channel)

    # --- digests and alerts ------------------------------------------------------------------

    async def build_digest(self, channel: str) -> tuple[DigestDiff, Message]:
        return await self._digests.build(channel)

    async def post_digest_now(self, channel: str) -> str | None:
        return await self._digests.post_now(channel)

    async def run_slot(
        self, channel: str, slot: datetime, *, as_of: datetime | None = None
    ) -> str | None:
        return await self._digests.run_slot(channel, slot, as_of=as_of)

    async def digest_times(self) -> tuple[datetime | None, datetime | None]:
        return await self._digests.times()

    async def subscribed_digests(self) -> list[DigestSchedule]:
        return await self._digests.subscribed()

    async def digest_channel_since(self, channel: str, *, now: datetime) -> datetime:
        return await self._digests.known_since(channel, now=now)

    async def failed_digests(
        self, channel: str, *, now: datetime, within: timedelta
    ) -> list[datetime]:
        return await self._digests.failed_slots(channel, now=now, within=within)

    async def check_alerts(self, channel: str, slot: datetime) -> str | None:
        return await self._alerts.check(channel, slot)

    async def alert_check_started(self, channel: str, slot: datetime) -> bool:
        return await self._alerts.was_started(channel, slot)

    # --- requests from Slack -----------------------------------------------------------------

    async def subscribe(self, request: grammar.Subscribe, *, channel: str, user: str) -> Message:
        return await self._subscriptions.subscribe(request, channel=channel, user=user)

    async def unsubscribe(self, *, channel: str, user: str) -> Message:
        return await self._subscriptions.unsubscribe(channel=channel, user=user)

    async def list_subscriptions(self) -> Message:
        return await self._subscriptions.listing()

    async def show_home(self, user: str, *, fresh: bool) -> None:
        await self._home.show(user, fresh=fresh)

    async def tell_on_home(self, user: str, sentence: str) -> None:
        await self._home.tell(user, sentence)

    async def refuse_home(self, user: str) -> None:
        await self._home.refuse(user)

    # --- overage cases -----------------------------------------------------------------------

    async def _sync_cases(self, report: Report) -> None:
        await self._cases.sync(report)

    async def case_listing(self, which: str, *, user: str) -> Message:
        return await self._cases.listing(which, user=user)

    async def case_card(self, text: str) -> Message:
        return await self._cases.card(text)

    async def company_details(self, company_id: str) -> Message | None:
        """A company's license details and its case; None when it is no longer over."""
        return await self._cases.details(company_id)

    async def case_clicked(
        self, action: CaseAction, company: str, origin: CaseOrigin, *, trigger_id: str
    ) -> None:
        """A case's action, clicked: made at once, or its form opened (the ones with `…`)."""
        if action.has_form:
            await self._cases.open_form(action, company, origin, trigger_id=trigger_id)
        else:
            await self._cases.click(action, company, origin)

    async def submit_case_form(
        self, user: str, metadata: str, values: Mapping[str, Any]
    ) -> FormReply:
        return await self._cases.submit_form(user, metadata, values)

    async def reopen_case_form(self, user: str, view_id: str, metadata: str) -> None:
        await self._cases.reopen_form(user, view_id, metadata)

    async def show_case_change(self, reply: FormReply) -> None:
        """After a form's change: the surface it was opened from, as the case is now."""
        if reply.origin is not None:
            await self._cases.refresh(reply.origin, reply.company)
