"""Use case: overage cases: opened and closed from every report fetched, listed and shown,
changed from Slack by the people allowed to, and every surface a change was made on brought
up to date for everyone who sees it."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from bot import render_slack
from bot.cases import (
    FILTERS,
    Assign,
    Case,
    CaseFilter,
    Change,
    Edit,
    MarkContacted,
    StaleCase,
    Surface,
    company_key,
    may_edit,
)
from bot.config import Settings
from bot.errors import (
    BotError,
    StoreUnavailable,
    UpstreamError,
    case_edit_refused,
    case_refused,
)
from bot.overage import Overage, Report
from bot.publish import Interactive
from bot.render_slack import CaseAction, Message, Prefill, Shown
from bot.services.case_forms import FieldErrors, FormState, read_form
from bot.services.home import Home
from bot.services.reports import Reports
from bot.store import CaseHistory, Store

log = logging.getLogger(__name__)

REFRESH_ROUNDS = 3  # a message is updated again while its cases change under it, this often


@dataclass(frozen=True, slots=True)
class CaseOrigin:
    """Where a person acted on a case: the surface, and how to reach what they see there (a
    message in a channel by its ts, an answer only they see by its response_url, or their
    Home tab)."""

    surface: str
    user: str
    channel: str | None = None
    ts: str | None = None
    ephemeral: bool = False
    response_url: str | None = None

    @property
    def on_home(self) -> bool:
        return self.surface == render_slack.HOME_SURFACE


class Cases:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        slack: Interactive | None,
        *,
        reports: Reports,
        home: Home,
        now: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._store = store
        self._slack = slack
        self._reports = reports
        self._home = home
        self._now = now
        self._updating: dict[tuple[str, str], asyncio.Lock] = {}
        # surfaces brought up to date after a change, one at a time: each reads the cases it
        # shows (a list may read thousands), and the forms and clicks still to be answered
        # must not wait behind them for the database or the interpreter
        self._refreshing = asyncio.Semaphore(1)

    def shown(self) -> Shown:
        settings = self._settings
        return Shown(
            now=self._now(),
            zone=settings.zone,
            zone_name=settings.digest_timezone,
            currency=settings.currency,
        )

    # --- from the platform's data ------------------------------------------------------------

    async def sync(self, report: Report) -> None:
        """Open a case for each company newly over, review the open ones, resolve those back
        under (bot.store.CaseQueries.sync_cases). A database that cannot be reached leaves the
        report as good as it was: the next fetch brings the cases in line."""
        at = self._now().astimezone(self._settings.zone)
        try:
            synced = await asyncio.to_thread(
                functools.partial(self._store.sync_cases, report, at=at)
            )
        except StoreUnavailable as exc:
            log.warning("cases not brought in line with the report: %s", exc)
            return
        if synced.opened or synced.returned or synced.resolved:
            log.info(
                "cases: %d opened, %d returned, %d resolved",
                len(synced.opened), len(synced.returned), len(synced.resolved),
            )  # fmt: skip

    # --- listing and showing -----------------------------------------------------------------

    async def listing(self, which: str, *, user: str) -> Message:
        """`/overage cases [filter]` for the person who asked."""
        listed = listing_filter(which)
        await self._in_line()
        read = functools.partial(
            self._store.listing, listed, user=user, first=render_slack.CASES_LISTED
        )
        cases, total = await asyncio.to_thread(read)
        return render_slack.render_cases(cases, which, shown=self.shown(), total=total)

    async def card(self, text: str) -> Message:
        """`/overage case TEXT`: the one company whose case matches, with its history; the
        matches to pick from when there are several, or none."""
        await self._in_line()
        found = await asyncio.to_thread(self._store.find_cases, text)
        companies = _by_company(found)
        exact = [c for c in companies.values() if _same_name(c.company_name, text)]
        if len(companies) != 1 and len(exact) == 1:
            companies = {exact[0].company_id: exact[0]}
        if len(companies) != 1:
            return render_slack.render_case_matches(
                list(companies.values()), text, shown=self.shown()
            )
        history = await self._history_of(next(iter(companies)))
        return render_slack.render_case(history.case, history.events, shown=self.shown())

    async def _in_line(self) -> None:
        """The cases as the last fetch left them (each fetch, by any command, the Home tab or
        the alert check, brings them in line): a list of thousands answers without waiting
        for the platform. Only a process that has fetched nothing yet fetches first; when the
        platform cannot be reached, the cases are listed as they are."""
        if self._reports.latest is None:
            try:
                await self._reports.report()
            except UpstreamError as exc:
                log.warning("cases listed as the last fetch left them: %s", exc)
        await self._reports.shown()

    async def _history_of(self, company: str) -> CaseHistory:
        await self._reports.shown()  # the case a fetch just opened is there to change
        history = await asyncio.to_thread(self._store.company_case, company)
        if history is None:
            raise case_refused("missing")
        return history

    # --- clicks ------------------------------------------------------------------------------

    async def click(self, action: CaseAction, company: str, origin: CaseOrigin) -> None:
        """A change made with one click (Assign to me, Contacted), recorded in the order the
        clicks arrive; then the surface it was made on is brought up to date."""
        self.require_editor(origin.user)
        case = (await self._history_of(company)).case
        change: Change = Assign(origin.user) if action is CaseAction.ASSIGN_ME else MarkContacted()
        await self._change(case.id, change, origin.user, surface=_surface_of(origin))
        await self.refresh(origin, company)

    # --- forms -------------------------------------------------------------------------------

    async def open_form(
        self, action: CaseAction, company: str, origin: CaseOrigin, *, trigger_id: str
    ) -> None:
        """Open the form of a change (Assign…, Invoiced…, Snooze…, Waive…, Add note…) on the
        case as it is now. Slack takes a form only within 3 s of the click: nothing is
        fetched first (the Invoiced… amount comes from the report fetched last)."""
        self.require_editor(origin.user)
        case = (await self._history_of(company)).case
        if not case.is_open and action is not CaseAction.NOTE:
            raise _resolved(case, self.shown())
        state = FormState(
            action,
            case.id or 0,  # a case read back from the store always has its ID
            case.version,
            company,
            origin.surface,
            channel=origin.channel,
            ts=origin.ts,
            ephemeral=origin.ephemeral,
            response_url=origin.response_url,
        )
        view = render_slack.render_case_form(
            action, case, metadata=state.dump(), shown=self.shown(), prefill=self._prefill(case)
        )
        await self._interactive().open_view(trigger_id, view)

    async def submit_form(self, user: str, metadata: str, values: Mapping[str, Any]) -> FormReply:
        """A submitted form: its change made on the version it was opened on, or what the form
        shows instead: a sentence under each field it cannot use, or, when the change is
        refused (someone changed the case meanwhile, or its state cannot take it), the case
        as it is now with a button that opens the form again."""
        state = FormState.load(metadata)
        shown = self.shown()
        try:
            self.require_editor(user)
            change = read_form(state.action, values, today=render_slack.today_in(shown))
            await self._change(
                state.case_id, change, user, surface=Surface.MODAL, version=state.version
            )
        except FieldErrors as invalid:
            return FormReply(errors=invalid.errors)
        except StaleCase as stale:
            fresh = replace(state, version=stale.current.version)
            return FormReply(view=self._notice(stale.current, stale, fresh, reopen=True))
        except BotError as refused:
            current = await asyncio.to_thread(self._store.case, state.case_id)
            return FormReply(view=self._notice(current, refused, state, reopen=False))
        origin = CaseOrigin(
            state.surface,
            user,
            channel=state.channel,
            ts=state.ts,
            ephemeral=state.ephemeral,
            response_url=state.response_url,
        )
        return FormReply(origin=origin, company=state.company)

    async def reopen_form(self, user: str, view_id: str, metadata: str) -> None:
        """The form again, in place of the notice of a refused change, on the case as it is."""
        state = FormState.load(metadata)
        self.require_editor(user)
        case = await asyncio.to_thread(self._store.case, state.case_id)
        if case is None:
            raise case_refused("missing")
        fresh = replace(state, version=case.version)
        prefill = self._prefill(case)
        view = render_slack.render_case_form(
            state.action, case, metadata=fresh.dump(), shown=self.shown(), prefill=prefill
        )
        await self._interactive().update_view(view_id, view)

    def _notice(
        self, case: Case | None, refused: BotError, state: FormState, *, reopen: bool
    ) -> dict[str, Any]:
        return render_slack.render_case_notice(
            case, refused.for_user(), metadata=state.dump(), shown=self.shown(), reopen=reopen
        )

    def _prefill(self, case: Case) -> Prefill:
        """The seats over and their amount at the company's price, from the report fetched
        last (or the one price, SEAT_PRICE, when no report is at hand)."""
        report = self._reports.latest
        found = None if report is None else _overage_of(report, case.company_id)
        if found is not None:
            return Prefill(found.seats_over, found.true_up)
        price = self._settings.seat_price
        seats = case.seats_over
        amount = None if price is None or seats is None else price * seats
        return Prefill(seats, amount)

    def _interactive(self) -> Interactive:
        if self._slack is None:
            raise BotError("Forms need Slack, and this process does not talk to it.")
        return self._slack

    def require_editor(self, user: str) -> None:
        """CASE_EDITOR_IDS decides who may change a case (unset: the allowed users)."""
        settings = self._settings
        if not may_edit(user, editors=settings.case_editor_ids, allowed=settings.allowed_user_ids):
            raise case_edit_refused()

    async def _change(
        self,
        case_id: int | None,
        change: Change,
        user: str,
        *,
        surface: Surface,
        version: int | None = None,
    ) -> None:
        """Make and record the change (bot.store.CaseQueries.change_case): a form passes the
        version it was opened on, a click none."""
        if case_id is None:
            raise case_refused("missing")
        edit = Edit(user, surface, self._now().astimezone(self._settings.zone))
        change_case = functools.partial(
            self._store.change_case, case_id, change, edit, expected_version=version
        )
        await asyncio.to_thread(change_case)

    # --- bringing surfaces up to date --------------------------------------------------------

    async def refresh(self, origin: CaseOrigin, company: str) -> None:
        """Show the case as it is now where the change was made: a message in a channel is
        updated for everyone in it, an answer only its person sees is replaced, a Home tab
        published again."""
        async with self._refreshing:
            await self._refresh(origin, company)

    async def _refresh(self, origin: CaseOrigin, company: str) -> None:
        if origin.on_home:
            await self._home.show(origin.user, fresh=False)
        elif origin.ephemeral and origin.response_url:
            message = await self._answer_again(origin, company)
            if message is not None and self._slack is not None:
                await self._slack.replace_answer(origin.response_url, message)
        elif origin.channel and origin.ts:
            await self.refresh_message(origin.channel, origin.ts)

    async def _answer_again(self, origin: CaseOrigin, company: str) -> Message | None:
        """The answer the person clicked in, made again from what is known now."""
        which = render_slack.CaseTarget(origin.surface, company).listing
        if which is not None:
            return await self.listing(which, user=origin.user)
        if origin.surface == render_slack.CARD_SURFACE:
            history = await self._history_of(company)
            return render_slack.render_case(history.case, history.events, shown=self.shown())
        if origin.surface == render_slack.DETAILS_SURFACE:
            return await self.details(company)
        return None

    async def details(self, company: str) -> Message | None:
        """A company's license details and its case, from the report (the cached one); None
        when the company is no longer over its limit."""
        report = await self._reports.report()
        key = company_key(company)
        overage = _overage_of(report, key)
        if overage is None:
            return None
        cases = await asyncio.to_thread(self._store.company_cases, [key])
        strip = render_slack.case_strip(
            render_slack.DETAILS_SURFACE, key, cases.get(key), shown=self.shown()
        )
        return render_slack.render_company(overage, now=self._now(), extra=strip)

    async def refresh_message(self, channel: str, ts: str) -> None:
        """Bring every case a channel's message shows up to date, for everyone in it. Changes
        made meanwhile (here or in another process) are caught by reading the cases again
        after the update: the message ends showing the latest."""
        if self._slack is None:
            return
        async with self._updating.setdefault((channel, ts), asyncio.Lock()):
            for _ in range(REFRESH_ROUNDS):
                if not await self._refresh_once(self._slack, channel, ts):
                    break
            self._updating.pop((channel, ts), None)

    async def _refresh_once(self, slack: Interactive, channel: str, ts: str) -> bool:
        """One update; whether a case changed while it was made."""
        message = await slack.message_at(channel, ts)
        if message is None:
            return False
        blocks = message.get("blocks") or []
        companies = render_slack.case_companies(blocks)
        if not companies:
            return False
        cases = await asyncio.to_thread(self._store.company_cases, companies)
        fresh = render_slack.refresh_cases(blocks, cases, shown=self.shown())
        await slack.update(channel, ts, Message(text=str(message.get("text") or ""), blocks=fresh))
        after = await asyncio.to_thread(self._store.company_cases, companies)
        return _versions(after) != _versions(cases)


@dataclass(frozen=True, slots=True)
class FormReply:
    """What a submitted form is answered with: a sentence under each field it cannot use, or
    a view in its place; with neither, the form closes, its change made, and `origin` is
    where the form was opened from, to show the change there."""

    errors: Mapping[str, str] | None = None
    view: dict[str, Any] | None = None
    origin: CaseOrigin | None = None
    company: str = ""

    @property
    def ack(self) -> dict[str, Any]:
        """What Slack is answered with, within its 3 s."""
        if self.errors:
            return {"response_action": "errors", "errors": dict(self.errors)}
        if self.view is not None:
            return {"response_action": "update", "view": self.view}
        return {}


def _resolved(case: Case, shown: Shown) -> BotError:
    closed = case.closed_at
    day = closed.astimezone(shown.zone).date().isoformat() if closed else "an earlier day"
    return case_refused("resolved", day=day)


def _overage_of(report: Report, company: str) -> Overage | None:
    return next((o for o in report.overages if company_key(o.company.ref) == company), None)


def listing_filter(which: str) -> CaseFilter:
    """A listing's filter as the store takes it (the grammar gives only these)."""
    if which not in FILTERS:
        raise ValueError(f"no listing {which!r}")
    return cast(CaseFilter, which)


def _surface_of(origin: CaseOrigin) -> Surface:
    return Surface.HOME if origin.on_home else Surface.MESSAGE


def _versions(cases: Mapping[str, Case]) -> dict[str, tuple[int | None, int]]:
    return {company: (case.id, case.version) for company, case in cases.items()}


def _by_company(cases: Sequence[Case]) -> dict[str, Case]:
    """One case a company: its open one, else its latest."""
    found: dict[str, Case] = {}
    for case in cases:
        known = found.get(case.company_id)
        if known is None or (
            not known.is_open and (case.is_open or case.opened_at > known.opened_at)
        ):
            found[case.company_id] = case
    return found


def _same_name(name: str, text: str) -> bool:
    return " ".join(name.casefold().split()) == " ".join(text.casefold().split())
