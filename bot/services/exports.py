"""Use case: the overage list taken into a channel: our workbook or CSV, the platform's own
file, the invoice CSV, or the summary posted for everyone there."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot import render_slack, workbook
from bot.cases import Case
from bot.config import Settings
from bot.digest import TrendPoint
from bot.invoice import Invoice, billing_period, invoice_of, most_invoiced, period_start
from bot.keepnet import KeepnetClient, NativeFile
from bot.overage import Report
from bot.publish import Poster
from bot.services.reports import Reports
from bot.store import Store

TREND_POINTS = 8  # the workbook's chart: the channel's last digests, then now


@dataclass(frozen=True, slots=True)
class ExportFile:
    content: bytes
    filename: str
    title: str


class Exports:
    def __init__(
        self,
        settings: Settings,
        keepnet: KeepnetClient,
        store: Store,
        poster: Poster,
        reports: Reports,
        *,
        now: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._keepnet = keepnet
        self._store = store
        self._poster = poster
        self._reports = reports
        self._now = now

    async def export_file(
        self, fmt: str, report: Report | None = None, *, trend: Sequence[TrendPoint] | None = None
    ) -> ExportFile:
        """The workbook or CSV; the workbook charts `trend`, by default DIGEST_CHANNEL's."""
        report = report or await self._reports.report()
        zone = self._settings.zone
        today = report.fetched_at.astimezone(zone).date()
        filename = workbook.export_filename(fmt, today)
        cases = await asyncio.to_thread(self._case_records, report)
        if fmt == "csv":
            content = await asyncio.to_thread(
                functools.partial(workbook.build_csv, report, cases=cases, zone=zone)
            )
        else:
            if trend is None:
                trend = await asyncio.to_thread(self._trend_for_workbook, report)
            points = [(p.taken_at, p.seats_over) for p in trend]
            content = await asyncio.to_thread(
                functools.partial(
                    workbook.build_xlsx, report, generated_at=self._now(), zone=zone,
                    trend=points, cases=cases,
                )
            )  # fmt: skip
        return ExportFile(content, filename, f"License overage {today.isoformat()}")

    def _case_records(self, report: Report) -> list[workbook.CaseRecord]:
        """The cases the files show, synced with the report first (idempotent): the open
        ones, and those closed since the month began (in DIGEST_TIMEZONE), with history."""
        zone = self._settings.zone
        self._store.sync_cases(report, at=self._now().astimezone(zone))
        since = period_start(report.fetched_at, zone)
        return [(h.case, h.events) for h in self._store.case_histories(closed_since=since)]

    def _trend_for_workbook(self, report: Report) -> tuple[TrendPoint, ...]:
        """Seats over at DIGEST_CHANNEL's last digests, then now: the summary sheet's chart."""
        channel = self._settings.digest_channel
        if not channel:
            return ()
        points = self._store.trend(channel, TREND_POINTS)
        if not points or points[-1].taken_at < report.fetched_at:
            now = TrendPoint(report.fetched_at, report.companies_over, report.seats_over)
            points = (*points, now)
        return points[-TREND_POINTS:]

    async def native_file(self, fmt: str) -> NativeFile:
        return await self._keepnet.export(fmt)

    async def upload(self, channel: str, *, fmt: str, native: bool, user: str) -> None:
        """Upload the workbook (ours or the platform's own) into the channel."""
        if native:
            native_file = await self.native_file(fmt)
            content, filename = native_file.content, native_file.filename
            title = filename
            comment = render_slack.native_upload_comment(user)
        else:
            report = await self._reports.report()
            exported = await self.export_file(fmt, report)
            content, filename, title = exported.content, exported.filename, exported.title
            comment = render_slack.render_upload_comment(report, user=user)
        await self._poster.upload(
            channel, content=content, filename=filename, title=title, initial_comment=comment
        )

    async def upload_to_dm(self, user: str, *, fmt: str) -> None:
        """Our workbook or CSV into the person's direct message with the bot."""
        dm = await self._poster.open_dm(user)
        await self.upload(dm, fmt=fmt, native=False, user=user)

    async def post_summary(self, channel: str, *, user: str) -> str:
        report = await self._reports.report()
        message = render_slack.render_summary(report, now=self._now())
        return await self._poster.post(channel, render_slack.render_shared(message, user=user))

    # --- the invoice CSV ---------------------------------------------------------------------

    async def invoice_file(self, report: Report | None = None) -> tuple[Invoice, ExportFile]:
        """The invoice CSV of the month the report was fetched in (in DIGEST_TIMEZONE), with
        each company's case as it stands after this report (cases opened and closed first)."""
        report = report or await self._reports.report()
        zone = self._settings.zone
        period = billing_period(report.fetched_at, zone)
        cases, invoiced = await asyncio.to_thread(
            self._cases_to_bill, report, period_start(report.fetched_at, zone)
        )
        invoice = invoice_of(report, period=period, cases=cases, invoiced=invoiced)
        content = await asyncio.to_thread(workbook.build_invoice_csv, invoice)
        exported = ExportFile(
            content, workbook.invoice_filename(period), f"License overage invoice {period}"
        )
        return invoice, exported

    def _cases_to_bill(
        self, report: Report, since: datetime
    ) -> tuple[dict[str, Case], dict[str, int]]:
        """The open cases by company, after syncing them with the report (idempotent), and
        the most seats each company was invoiced for since `since`."""
        self._store.sync_cases(report, at=self._now().astimezone(self._settings.zone))
        cases = {case.company_id: case for case in self._store.cases("open")}
        return cases, most_invoiced(self._store.invoiced_since(since))

    async def upload_invoice(self, channel: str, *, user: str) -> None:
        """`/overage export invoice`: the invoice CSV into the channel, saying what it holds
        and what it leaves out."""
        report = await self._reports.report()
        invoice, exported = await self.invoice_file(report)
        comment = render_slack.render_invoice_comment(invoice, report, user=user)
        await self._poster.upload(
            channel,
            content=exported.content,
            filename=exported.filename,
            title=exported.title,
            initial_comment=comment,
        )

    async def upload_invoice_to_dm(self, user: str) -> None:
        """The invoice CSV into the person's direct message with the bot (from the Home tab)."""
        await self.upload_invoice(await self._poster.open_dm(user), user=user)
