"""Use case: alert a channel once per episode of a customer going over its license limit."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING

from bot import render_slack
from bot.overage import Report
from bot.schedule import slot_key
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
    if run.attempts > 1:  # taken over: an earlier attempt may have posted, then died
        found = await _already_posted(services, channel, run)
        if found is not None:
            return found
    report = await services.report(fresh=True)
    unposted = await asyncio.to_thread(_update_episodes, services, channel, report)
    new = [o for o in report.overages if o.company.company_id in unposted]
    if not new:
        await asyncio.to_thread(
            functools.partial(
                services.store.mark_done, run.id, owner=services.instance_id, now=services.now()
            )
        )
        return None
    # the first check of a channel sums up who is over already instead of one alert each
    baseline = await asyncio.to_thread(services.store.last_posted_run, run.channel) is None
    message = render_slack.render_alert(new, report=report, now=services.now(), baseline=baseline)
    metadata = {"event_type": ALERT_EVENT, "event_payload": {"key": slot_key(run.slot)}}
    if lease.lost:  # another process has the check now: it posts, not us
        return None
    ts = await services.poster.post(channel, message, metadata=metadata)
    ids = [o.company.company_id for o in new]
    await asyncio.to_thread(functools.partial(_record_posted, services, channel, run, ids, ts=ts))
    log.debug("alert for %d companies posted in %s (baseline: %s)", len(ids), channel, baseline)
    return ts


async def _already_posted(services: Services, channel: str, run: Run) -> str | None:
    """The message of an earlier attempt at this slot, recorded now if there is one."""
    found = await services.find_earlier_post(
        channel, run, event_type=ALERT_EVENT, key=slot_key(run.slot)
    )
    if found is None:
        return None
    log.info("alert %s in %s was already posted", slot_key(run.slot), channel)
    # checked before any new episode is opened, so the unposted ones are the ones it announced
    unposted = await asyncio.to_thread(services.store.unposted_alerts, channel)
    await asyncio.to_thread(
        functools.partial(_record_posted, services, channel, run, unposted, ts=found)
    )
    return found


def _update_episodes(services: Services, channel: str, report: Report) -> set[str]:
    """Close the episodes of companies back under, open those newly over; the unposted IDs."""
    store, now = services.store, services.now()
    over = sorted({o.company.company_id for o in report.overages})
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
    now = services.now()
    services.store.mark_alert_posted(channel, company_ids, ts=ts, now=now)
    services.store.mark_done(run.id, owner=services.instance_id, now=now, message_ts=ts)
