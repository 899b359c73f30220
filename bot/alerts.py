"""Use case: alert a channel once per episode of a customer going over its license limit."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot import render_slack
from bot.crontab import slot_key
from bot.overage import Report
from bot.store import Run

if TYPE_CHECKING:
    from bot.services import Lease, Services

log = logging.getLogger(__name__)

ALERT_EVENT = "overage_alert"


def alert_key(channel: str) -> str:
    """The runs' channel key of a channel's alert checks, apart from its digests."""
    return f"alerts:{channel}"


async def check_new_overages(services: Services, channel: str, slot: datetime) -> str | None:
    """Run one scheduled alert check; the posted message's ts, or None when nothing was posted
    (another process has or is doing this slot, or no customer newly went over)."""
    now = services.now()
    run = await asyncio.to_thread(
        functools.partial(
            services.store.claim_slot, alert_key(channel), slot,
            owner=services.instance_id, now=now, lease_s=services.settings.digest_lease_s,
        )
    )  # fmt: skip
    if run is None:
        return None
    async with services.holding(run) as lease:
        try:
            return await _check(services, channel, run, lease)
        except Exception as exc:
            # the run must record its real outcome before the error travels on
            await asyncio.to_thread(services.record_failed, run, exc)
            raise


async def _check(services: Services, channel: str, run: Run, lease: Lease) -> str | None:
    key = slot_key(run.slot)
    # before any episode is opened: the unposted ones are those earlier checks set out to post
    own, in_flight = await _settle_earlier_posts(services, channel, run)
    if own is not None:  # this slot's own earlier attempt posted, then died
        await asyncio.to_thread(_mark_done, services, run, own)
        return own
    report = await services.report(fresh=True)
    unposted = await asyncio.to_thread(_update_episodes, services, channel, report)
    new = [o for o in report.overages if o.company.ref in unposted - in_flight]
    if not new:
        await asyncio.to_thread(_mark_done, services, run)
        return None
    # the first check of a channel sums up who is over already instead of one alert each
    baseline = await asyncio.to_thread(services.store.last_posted_run, run.channel) is None
    message = render_slack.render_alert(new, report=report, now=services.now(), baseline=baseline)
    metadata = {"event_type": ALERT_EVENT, "event_payload": {"key": key}}
    ids = [o.company.ref for o in new]
    # noted before posting: should this process die after the post, a later check finds the
    # message by this key instead of announcing these episodes again
    await asyncio.to_thread(functools.partial(services.store.stamp_alerts, channel, ids, key=key))
    if lease.lost:  # another process has the check now: it posts, not us
        return None
    ts = await services.poster.post(channel, message, metadata=metadata)
    await asyncio.to_thread(functools.partial(_record_posted, services, channel, run, ids, ts=ts))
    log.debug("alert for %d companies posted in %s (baseline: %s)", len(ids), channel, baseline)
    return ts


async def _settle_earlier_posts(
    services: Services, channel: str, run: Run
) -> tuple[str | None, set[str]]:
    """Record the posts of earlier checks whose process died before recording them, found
    in the channel by their key, so that no episode is announced twice.

    The keys looked for: those the unposted episodes were stamped with before their post,
    this slot's own when it is taken over, and, for episodes stamped by none (a check that
    died between opening and stamping them, or an older version), the checks whose process
    died. Returns this slot's own earlier post, if found, and the episodes of a check still
    running elsewhere, which are left to it.
    """
    store, own = services.store, slot_key(run.slot)
    stamps = await asyncio.to_thread(store.unposted_alert_keys, channel)
    # each check's key → its slot (a stamp is always a slot_key)
    checks = {key: datetime.fromisoformat(key) for key in stamps.values() if key is not None}
    if run.attempts > 1:
        checks[own] = run.slot
    unstamped = {company for company, stamp in stamps.items() if stamp is None}
    abandoned: dict[str, datetime] = {}
    if unstamped:
        abandoned = await asyncio.to_thread(_abandoned_checks, services, channel, run)
        checks |= abandoned
    own_post: str | None = None
    in_flight: set[str] = set()
    # the latest check first: it saw every episode
    for key, slot in sorted(checks.items(), reverse=True):
        stamped = {company for company, stamp in stamps.items() if stamp == key}
        maybe_running = key != own and key not in abandoned  # an abandoned one's lease ran out
        if maybe_running and await asyncio.to_thread(_is_running, services, channel, slot):
            in_flight |= stamped  # that check posts or fails them itself
            continue
        found = await services.find_earlier_post(
            channel, event_type=ALERT_EVENT, key=key, since=slot
        )
        if found is None:
            continue  # its post never reached Slack: these are announced again
        log.info("alert %s in %s was posted by a check that did not record it", key, channel)
        announced, unstamped = stamped | unstamped, set()
        await asyncio.to_thread(
            functools.partial(
                store.mark_alert_posted, channel, announced, ts=found, now=services.now()
            )
        )
        if key == own:
            own_post = found
    return own_post, in_flight


def _abandoned_checks(services: Services, channel: str, run: Run) -> dict[str, datetime]:
    """The last day's checks whose process died while holding them: key → slot."""
    now = services.now()
    pending = services.store.pending_runs(
        alert_key(channel), now=now, since=now - timedelta(days=1)
    )
    return {slot_key(r.slot): r.slot for r in pending if r.state == "claimed" and r.id != run.id}


def _is_running(services: Services, channel: str, slot: datetime) -> bool:
    earlier = services.store.run(alert_key(channel), slot)
    return (
        earlier is not None and earlier.state == "claimed" and earlier.lease_until >= services.now()
    )


def _update_episodes(services: Services, channel: str, report: Report) -> set[str]:
    """Close the episodes of companies back under, open those newly over; the unposted IDs."""
    store, now = services.store, services.now()
    over = sorted({o.company.ref for o in report.overages})
    closed = store.close_alert_episodes(channel, still_over=set(over), now=now)
    opened = store.open_alert_episodes(channel, over, now=now)
    if closed or opened:
        log.debug("alert episodes in %s: %d opened, %d closed", channel, len(opened), len(closed))
    return set(store.unposted_alerts(channel))


def _record_posted(
    services: Services,
    channel: str,
    run: Run,
    company_ids: Collection[str],
    *,
    ts: str,
) -> None:
    services.store.mark_alert_posted(channel, company_ids, ts=ts, now=services.now())
    _mark_done(services, run, ts)


def _mark_done(services: Services, run: Run, ts: str | None = None) -> None:
    """Record the check as done, with the message it posted, if any."""
    services.store.mark_done(run.id, owner=services.instance_id, now=services.now(), message_ts=ts)
