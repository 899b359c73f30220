"""Case reminders: one per invoiced case still over its limit and reminder period, exactly
once across replicas and restarts, over real storage (SQLite and, with TEST_POSTGRES_URL,
PostgreSQL), the sandbox platform and the fake Slack over HTTP."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bot.app import Runtime
from bot.cases import Assign, Edit, MarkInvoiced, Surface
from bot.crontab import slot_key
from bot.errors import BotError
from bot.overage import parse_limit
from bot.publish import Publisher
from bot.render_slack import Message
from bot.services import REMINDER_EVENT, reminder_key
from bot.services.reminders import due_slot
from tests.clock import Clock
from tests.fakes.slack_api import Call
from tests.runtime import Fakes, running_fakes

ALERTS = "C0ALERTS"
DIGESTS = "C0DIGESTS"
START = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@dataclass
class Bed:
    """The sandbox, the fake Slack and runtimes on one database; a clock they all read."""

    fakes: Fakes
    clock: Clock = field(default_factory=lambda: Clock(START))

    async def runtime(self, **env: str) -> Runtime:
        settings = self.fakes.settings(**{"ALERT_CHANNEL": ALERTS, "CACHE_SECONDS": "0", **env})
        return await self.fakes.runtime(settings, now=self.clock)

    def reminders(self) -> list[Call]:
        return [
            call
            for call in self.fakes.slack.posts
            if (call.params.get("metadata") or {}).get("event_type") == REMINDER_EVENT
        ]

    async def invoiced(self, runtime: Runtime, count: int, *, owner: str = "U0ALICE") -> list[int]:
        """Invoice the `count` biggest known overages now, each owned by `owner`; their
        case IDs."""
        report = await runtime.services.report()
        store, now = runtime.store, self.clock.now
        store.sync_cases(report, at=now)
        ids = []
        for overage in [o for o in report.overages if o.seats_over is not None][:count]:
            history = store.company_case(overage.company.ref)
            assert history is not None and history.case.id is not None
            case_id = history.case.id
            store.change_case(case_id, Assign(owner), Edit(owner, Surface.HOME, now))
            seats = overage.seats_over or 0
            change = MarkInvoiced(seats, Decimal("4.50") * seats, f"INV-{case_id}")
            store.change_case(case_id, change, Edit(owner, Surface.MODAL, now))
            ids.append(case_id)
        return ids

    def back_under(self, runtime: Runtime, case_id: int) -> None:
        case = runtime.store.case(case_id)
        assert case is not None
        rows = copy.deepcopy(self.fakes.sandbox.companies)
        for row in rows:
            if row["companyResourceId"] == case.company_id:
                row["targetUserCount"] = (parse_limit(row["numberOfUsers"]) or 0) - 1
        self.fakes.sandbox.companies = rows


@pytest.fixture
async def bed(database_url: str) -> AsyncIterator[Bed]:
    platform = running_fakes(database_url=database_url, companies=120, over_limit=8, seed=11)
    async with platform as fakes:
        fakes.slack.add_channel(ALERTS, name="overage-alerts")
        fakes.slack.add_channel(DIGESTS, name="overage-digests")
        yield Bed(fakes)


def text_of(call: Call) -> str:
    return json.dumps(call.params.get("blocks"), ensure_ascii=False) + str(call.params["text"])


# --- when a reminder is due --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("elapsed", "due"),
    [
        (timedelta(days=13, hours=23), None),
        (timedelta(days=14), timedelta(days=14)),
        (timedelta(days=27), timedelta(days=14)),
        (timedelta(days=28, minutes=1), timedelta(days=28)),
        (timedelta(days=100), timedelta(days=98)),
        (-DAY, None),
    ],
)
def test_the_reminder_period_starts_every_period_after_the_invoice(
    elapsed: timedelta, due: timedelta | None
) -> None:
    slot = due_slot(START, now=START + elapsed, every=timedelta(days=14))
    assert slot == (None if due is None else START + due)


# --- once per case and period ------------------------------------------------------------------


async def test_an_invoiced_case_still_over_is_reminded_once_per_period(bed: Bed) -> None:
    runtime = await bed.runtime()
    [case_id] = await bed.invoiced(runtime, 1)
    searches = bed.fakes.sandbox.search_requests

    bed.clock.now = START + 13 * DAY
    assert await runtime.services.remind_cases(ALERTS) == []
    assert bed.fakes.sandbox.search_requests == searches  # nothing due: nothing fetched
    bed.clock.now = START + 15 * DAY
    first = await runtime.services.remind_cases(ALERTS)
    again = await runtime.services.remind_cases(ALERTS)
    bed.clock.now = START + 27 * DAY
    still = await runtime.services.remind_cases(ALERTS)
    bed.clock.now = START + 29 * DAY
    second = await runtime.services.remind_cases(ALERTS)

    assert (len(first), again, still, len(second)) == (1, [], [], 1)
    reminders = bed.reminders()
    assert [r.params["channel"] for r in reminders] == [ALERTS, ALERTS]
    text = text_of(reminders[0])
    assert "<@U0ALICE>, is its limit raised yet?" in text
    assert f"(INV-{case_id}, USD " in text and "15 days ago" in text
    assert "29 days ago" in text_of(reminders[1])
    keys = [r.params["metadata"]["event_payload"]["key"] for r in reminders]
    assert keys == [
        f"{reminder_key(case_id)}/{slot_key(START + 14 * DAY)}",
        f"{reminder_key(case_id)}/{slot_key(START + 28 * DAY)}",
    ]


async def test_a_company_back_under_or_a_case_no_longer_invoiced_is_not_reminded(
    bed: Bed,
) -> None:
    runtime = await bed.runtime(CASE_REMINDER_DAYS="7")
    gone, grew = await bed.invoiced(runtime, 2)
    bed.back_under(runtime, gone)
    store = runtime.store
    case = store.case(grew)
    assert case is not None and case.invoiced_seats
    # invoiced for fewer seats than it is over now: the invoice no longer covers it
    change = MarkInvoiced(case.invoiced_seats - 1, Decimal(1), "INV-SHORT")
    store.change_case(grew, change, Edit("U0ALICE", Surface.MODAL, bed.clock.now))
    bed.clock.now = START + 8 * DAY

    assert await runtime.services.remind_cases(ALERTS) == []
    assert bed.reminders() == []
    closed = store.case(gone)
    assert closed is not None and closed.state.value == "resolved"
    moved = store.case(grew)
    assert moved is not None and moved.state.value == "contacted"


async def test_a_case_nobody_owns_is_reminded_to_the_channel(bed: Bed) -> None:
    runtime = await bed.runtime(ALERT_CHANNEL="", DIGEST_CHANNEL=DIGESTS)
    [case_id] = await bed.invoiced(runtime, 1)
    runtime.store.change_case(case_id, Assign(None), Edit("U0ALICE", Surface.HOME, bed.clock.now))
    bed.clock.now = START + 15 * DAY

    await runtime.scheduler.tick()  # no ALERT_CHANNEL: the digest channel gets it

    [reminder] = bed.reminders()
    assert reminder.params["channel"] == DIGESTS
    assert "Nobody owns this case" in text_of(reminder)
    assert "<@" not in text_of(reminder)


# --- exactly once across replicas and restarts -------------------------------------------------


async def test_two_replicas_at_once_post_each_reminder_once(bed: Bed) -> None:
    first, second = await bed.runtime(), await bed.runtime()
    cases = await bed.invoiced(first, 3)
    bed.clock.now = START + 15 * DAY

    posted = await asyncio.gather(
        first.services.remind_cases(ALERTS),
        second.services.remind_cases(ALERTS),
        first.scheduler.tick(),
        second.scheduler.tick(),
    )

    assert sum(len(ts) for ts in posted[:2]) <= 3
    reminders = bed.reminders()
    keys = sorted(r.params["metadata"]["event_payload"]["key"] for r in reminders)
    slot = slot_key(START + 14 * DAY)
    assert keys == sorted(f"{reminder_key(c)}/{slot}" for c in cases)
    for case_id in cases:
        run = first.store.run(reminder_key(case_id), START + 14 * DAY)
        assert run is not None and run.state == "posted" and run.message_ts


async def test_a_reminder_posted_by_a_process_that_died_is_recorded_not_posted_again(
    bed: Bed,
) -> None:
    runtime = await bed.runtime()
    [case_id] = await bed.invoiced(runtime, 1)
    slot, key = START + 14 * DAY, reminder_key(case_id)
    bed.clock.now = START + 15 * DAY
    # another process claimed the reminder, posted it, and died before recording it
    runtime.store.claim_slot(key, slot, owner="gone-host", now=bed.clock.now, lease_s=60)
    metadata = {"event_type": REMINDER_EVENT, "event_payload": {"key": f"{key}/{slot_key(slot)}"}}
    ts = await Publisher(runtime.slack).post(ALERTS, Message(text="reminder"), metadata=metadata)

    assert await runtime.services.remind_cases(ALERTS) == []  # its lease still holds
    bed.clock.now += timedelta(minutes=2)
    found = await runtime.services.remind_cases(ALERTS)
    restarted = await bed.runtime()
    again = await restarted.services.remind_cases(ALERTS)

    assert (found, again) == ([ts], [])
    assert len(bed.reminders()) == 1
    run = runtime.store.run(key, slot)
    assert run is not None and (run.state, run.attempts, run.message_ts) == ("posted", 2, ts)


async def test_a_failed_reminder_is_recorded_and_posted_once_when_its_retry_is_due(
    bed: Bed,
) -> None:
    runtime = await bed.runtime()
    [case_id] = await bed.invoiced(runtime, 1)
    bed.clock.now = START + 15 * DAY
    bed.fakes.slack.fail_next("chat.postMessage", "not_authed")

    with pytest.raises(BotError):
        await runtime.services.remind_cases(ALERTS)
    failed = runtime.store.run(reminder_key(case_id), START + 14 * DAY)
    searches = bed.fakes.sandbox.search_requests
    bed.clock.now += timedelta(minutes=5)
    waiting = await runtime.services.remind_cases(ALERTS)
    fetched_while_waiting = bed.fakes.sandbox.search_requests - searches
    bed.clock.now += timedelta(minutes=30)
    await runtime.scheduler.tick()
    await runtime.scheduler.tick()

    assert failed is not None and failed.state == "failed" and failed.error
    assert waiting == []
    assert fetched_while_waiting == 0  # its retry not due yet: nothing fetched
    assert len(bed.reminders()) == 1
    run = runtime.store.run(reminder_key(case_id), START + 14 * DAY)
    assert run is not None and (run.state, run.attempts) == ("posted", 2)


async def test_without_an_alert_or_digest_channel_no_reminder_is_posted(bed: Bed) -> None:
    runtime = await bed.runtime(ALERT_CHANNEL="")
    await bed.invoiced(runtime, 1)
    bed.clock.now = START + 15 * DAY

    await runtime.scheduler.tick()

    assert bed.reminders() == []
