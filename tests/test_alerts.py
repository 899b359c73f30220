"""Alerts: one message per episode of a company over its limit, over real storage and HTTP."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.app import Runtime
from bot.crontab import slot_key
from bot.errors import BotError
from bot.overage import Overage, Report, build_report, parse_limit
from bot.render_slack import (
    DETAILS_SELECT,
    EXPORT_BUTTON,
    MAX_BLOCKS,
    MAX_SECTION,
    render_alert,
    to_text,
)
from bot.sandbox import Sandbox, is_flagged
from bot.services import ALERT_EVENT, alert_key
from tests.clock import Clock
from tests.companies import company
from tests.fakes.slack_api import Call, FakeSlack
from tests.runtime import Fakes, running_fakes

ALERTS = "C0ALERTS"
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def _this_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass
class Bed:
    """The sandbox platform, the fake Slack, and runtimes sharing one database, whose clock
    starts at the top of the current hour."""

    fakes: Fakes
    start: datetime = field(default_factory=_this_hour)
    clock: Clock = field(init=False)

    def __post_init__(self) -> None:
        self.clock = Clock(self.start)

    @property
    def sandbox(self) -> Sandbox:
        return self.fakes.sandbox

    @property
    def slack(self) -> FakeSlack:
        return self.fakes.slack

    async def runtime(self, **env: str) -> Runtime:
        settings = self.fakes.settings(**{"CACHE_SECONDS": "0", **env})
        return await self.fakes.runtime(settings, now=self.clock)

    def slot(self, hours: int) -> datetime:
        """The hourly slot `hours` after the first; the clock is set just after it."""
        slot = self.start + timedelta(hours=hours)
        self.clock.now = slot + timedelta(minutes=1)
        return slot

    async def check(self, runtime: Runtime, hours: int) -> str | None:
        return await runtime.services.check_alerts(ALERTS, self.slot(hours))

    def alerts(self) -> list[Call]:
        return [call for call in self.slack.posts if call.params.get("channel") == ALERTS]

    def set_users(self, company_ids: list[str], *, over: bool) -> None:
        """Put these companies over their limit, or back under it."""
        rows = copy.deepcopy(self.sandbox.companies)
        for row in rows:
            if row["companyResourceId"] in company_ids:
                limit = parse_limit(row["numberOfUsers"]) or 0
                row["targetUserCount"] = limit + 7 if over else max(0, limit - 1)
        self.sandbox.companies = rows

    def under(self, count: int) -> list[str]:
        """IDs of companies under a readable limit, which can be pushed over."""
        ids = [
            str(row["companyResourceId"])
            for row in self.sandbox.companies
            if row.get("isNumberOfUsersLimited") is True
            and parse_limit(row.get("numberOfUsers")) is not None
            and not is_flagged(row)
        ]
        assert len(ids) >= count
        return ids[:count]

    def name_of(self, company_id: str) -> str:
        row = next(r for r in self.sandbox.companies if r["companyResourceId"] == company_id)
        return str(row["companyName"])


@pytest.fixture
async def bed(database_url: str) -> AsyncIterator[Bed]:
    platform = running_fakes(database_url=database_url, companies=120, over_limit=6, seed=11)
    async with platform as fakes:
        fakes.slack.add_channel(ALERTS, name="overage-alerts")
        yield Bed(fakes)


def _text(call: Call) -> str:
    return json.dumps(call.params.get("blocks"), ensure_ascii=False) + str(call.params.get("text"))


# --- episodes ----------------------------------------------------------------------------------


async def test_first_check_posts_one_baseline_message_then_nothing(bed: Bed) -> None:
    runtime = await bed.runtime()

    ts = await bed.check(runtime, 0)
    again = await bed.check(runtime, 1)

    assert ts is not None and again is None
    [baseline] = bed.alerts()
    assert "6 customers are over their license limit now" in _text(baseline)
    assert "one alert per customer that newly goes over" in _text(baseline)
    assert "just went over" not in _text(baseline)
    run = runtime.store.run(alert_key(ALERTS), bed.slot(1))
    assert run is not None and run.state == "posted" and run.message_ts is None


async def test_company_is_alerted_once_per_episode(bed: Bed) -> None:
    runtime = await bed.runtime()
    await bed.check(runtime, 0)
    [company] = bed.under(1)

    bed.set_users([company], over=True)
    went_over = await bed.check(runtime, 1)
    still_over = await bed.check(runtime, 2)
    bed.set_users([company], over=False)
    came_back = await bed.check(runtime, 3)
    bed.set_users([company], over=True)
    over_again = await bed.check(runtime, 4)

    assert went_over is not None and over_again is not None
    assert still_over is None and came_back is None
    _baseline, first, second = bed.alerts()
    for alert in (first, second):
        assert "just went over its license limit: over by 7" in _text(alert)
        assert bed.name_of(company) in str(alert.params["text"])
    assert runtime.store.unposted_alerts(ALERTS) == []


async def test_burst_of_new_companies_is_one_message(bed: Bed) -> None:
    runtime = await bed.runtime()
    await bed.check(runtime, 0)
    burst = bed.under(30)

    bed.set_users(burst, over=True)
    ts = await bed.check(runtime, 1)

    _baseline, alert = bed.alerts()
    assert ts == alert.response["ts"]
    assert "30 customers just went over their license limit" in _text(alert)
    assert "…and 10 more" in _text(alert)
    assert len(alert.params["blocks"]) <= MAX_BLOCKS
    assert runtime.store.unposted_alerts(ALERTS) == []


async def test_failed_post_is_recorded_and_posted_on_the_next_check(bed: Bed) -> None:
    runtime = await bed.runtime()
    await bed.check(runtime, 0)
    [company] = bed.under(1)
    bed.set_users([company], over=True)
    bed.slack.fail_next("chat.postMessage", "channel_not_found")

    with pytest.raises(BotError):
        await bed.check(runtime, 1)
    failed = runtime.store.run(alert_key(ALERTS), bed.slot(1))
    ts = await bed.check(runtime, 2)

    assert failed is not None and failed.state == "failed" and failed.error
    assert ts is not None
    _baseline, alert = bed.alerts()
    assert bed.name_of(company) in str(alert.params["text"])
    assert "just went over" in _text(alert)


async def test_failed_check_is_retried_in_the_same_slot(bed: Bed) -> None:
    runtime = await bed.runtime()
    bed.slack.fail_next("chat.postMessage", "not_authed")

    with pytest.raises(BotError):
        await bed.check(runtime, 0)
    slot = bed.slot(0)
    failed = runtime.store.run(alert_key(ALERTS), slot)
    # a refused token does not heal by waiting a minute: the next try is half an hour on
    assert failed is not None and failed.lease_until == bed.clock() + timedelta(minutes=30)
    assert failed.error is not None and "bot token" in failed.error
    bed.clock.now += timedelta(minutes=1)
    assert await runtime.services.check_alerts(ALERTS, slot) is None
    bed.clock.now += timedelta(minutes=30)  # the token was fixed meanwhile
    ts = await runtime.services.check_alerts(ALERTS, slot)

    run = runtime.store.run(alert_key(ALERTS), slot)
    assert run is not None and (run.state, run.attempts, run.message_ts) == ("posted", 2, ts)
    [baseline] = bed.alerts()
    assert "are over their license limit now" in _text(baseline)


async def _die_after_posting(
    bed: Bed, runtime: Runtime, slot: datetime, *, stamp: bool = True
) -> str:
    """What a check does up to its post, in a process that dies before recording it: claim
    the slot, open the episodes, note them as this check's (unless `stamp` is False, as an
    older version did), post."""
    store, services = runtime.store, runtime.services
    store.claim_slot(alert_key(ALERTS), slot, owner="gone-host", now=bed.clock(), lease_s=60)
    report = await services.report(fresh=True)
    ids = [o.company.company_id for o in report.overages]
    store.open_alert_episodes(ALERTS, ids, now=bed.clock())
    if stamp:
        store.stamp_alerts(ALERTS, ids, key=slot_key(slot))
    message = render_alert(report.overages, report=report, now=bed.clock(), baseline=True)
    metadata = {"event_type": ALERT_EVENT, "event_payload": {"key": slot_key(slot)}}
    return await services.poster.post(ALERTS, message, metadata=metadata)


@pytest.mark.parametrize("stamped", [True, False], ids=["stamped", "unstamped"])
async def test_check_that_died_after_posting_is_not_posted_again_by_the_next_slots_check(
    bed: Bed, stamped: bool
) -> None:
    runtime = await bed.runtime()
    posted = await _die_after_posting(bed, runtime, bed.slot(0), stamp=stamped)
    newcomer = bed.under(1)

    quiet = await bed.check(runtime, 1)  # restarted after the next hourly slot
    bed.set_users(newcomer, over=True)
    alert = await bed.check(runtime, 2)

    assert quiet is None and alert is not None
    baseline, went_over = bed.alerts()  # the dead check's baseline once, then the newcomer
    assert baseline.response["ts"] == posted
    assert "just went over" in _text(went_over) and bed.name_of(newcomer[0]) in _text(went_over)
    assert runtime.store.unposted_alerts(ALERTS) == []
    assert bed.slack.calls_to("conversations.history")  # found by the message's key


async def test_episodes_whose_check_died_before_posting_are_announced_by_the_next(
    bed: Bed,
) -> None:
    runtime = await bed.runtime()
    store = runtime.store
    slot = bed.slot(0)
    # a check set out to announce everyone, and died before its post reached Slack
    store.claim_slot(alert_key(ALERTS), slot, owner="gone-host", now=bed.clock(), lease_s=60)
    report = await runtime.services.report(fresh=True)
    ids = [o.company.company_id for o in report.overages]
    store.open_alert_episodes(ALERTS, ids, now=bed.clock())
    store.stamp_alerts(ALERTS, ids, key=slot_key(slot))

    ts = await bed.check(runtime, 1)

    [baseline] = bed.alerts()
    assert ts == baseline.response["ts"]
    assert "6 customers are over their license limit now" in _text(baseline)
    assert store.unposted_alerts(ALERTS) == []


async def test_episodes_of_a_check_still_running_elsewhere_are_left_to_it(bed: Bed) -> None:
    runtime = await bed.runtime()
    store = runtime.store
    slot = bed.slot(0)
    # another replica's check of the previous slot has stamped its episodes and is still
    # working on its post: its lease lasts well past the next slot
    store.claim_slot(alert_key(ALERTS), slot, owner="busy-host", now=bed.clock(), lease_s=7200)
    report = await runtime.services.report(fresh=True)
    ids = sorted(o.company.company_id for o in report.overages)
    store.open_alert_episodes(ALERTS, ids, now=bed.clock())
    store.stamp_alerts(ALERTS, ids, key=slot_key(slot))

    ts = await bed.check(runtime, 1)

    assert ts is None and bed.alerts() == []
    assert store.unposted_alerts(ALERTS) == ids  # that check posts or fails them itself
    run = store.run(alert_key(ALERTS), bed.slot(1))
    assert run is not None and (run.state, run.message_ts) == ("posted", None)


async def test_check_that_died_after_posting_is_recorded_not_posted_again(bed: Bed) -> None:
    runtime = await bed.runtime()
    store, services = runtime.store, runtime.services
    slot = bed.slot(0)
    # another process claimed the slot, opened the episodes, posted, and died before recording
    store.claim_slot(alert_key(ALERTS), slot, owner="gone-host", now=bed.clock(), lease_s=60)
    report = await services.report(fresh=True)
    for overage in report.overages:
        store.open_alert_episode(ALERTS, overage.company.company_id, now=bed.clock())
    metadata = {"event_type": ALERT_EVENT, "event_payload": {"key": slot_key(slot)}}
    message = render_alert(report.overages, report=report, now=bed.clock(), baseline=True)
    posted = await services.poster.post(ALERTS, message, metadata=metadata)
    bed.clock.now += timedelta(minutes=5)  # its lease ran out

    ts = await services.check_alerts(ALERTS, slot)

    assert ts == posted
    assert len(bed.alerts()) == 1
    assert store.unposted_alerts(ALERTS) == []
    run = store.run(alert_key(ALERTS), slot)
    assert run is not None and (run.state, run.message_ts) == ("posted", posted)


async def test_two_instances_on_one_database_post_one_message_per_slot(bed: Bed) -> None:
    first, second = await bed.runtime(), await bed.runtime()
    assert first.services.instance_id != second.services.instance_id
    newcomers = bed.under(2)

    slot = bed.slot(0)
    baseline = await asyncio.gather(
        first.services.check_alerts(ALERTS, slot),
        second.services.check_alerts(ALERTS, slot),
    )
    bed.set_users(newcomers, over=True)
    slot = bed.slot(1)
    alert = await asyncio.gather(
        first.services.check_alerts(ALERTS, slot),
        second.services.check_alerts(ALERTS, slot),
    )

    assert sum(ts is not None for ts in baseline) == 1
    assert sum(ts is not None for ts in alert) == 1
    assert len(bed.alerts()) == 2
    assert "2 customers just went over" in _text(bed.alerts()[1])


# --- the scheduler ------------------------------------------------------------------------------


async def test_scheduler_tick_runs_the_latest_alert_slot_once(bed: Bed) -> None:
    runtime = await bed.runtime(ALERT_CHANNEL=ALERTS, ALERT_SCHEDULE="0 * * * *")
    slot = bed.slot(0)
    bed.clock.now = slot + timedelta(minutes=20)

    await runtime.scheduler.tick()
    await runtime.scheduler.tick()

    [baseline] = bed.alerts()
    assert "are over their license limit now" in _text(baseline)
    run = runtime.store.run(alert_key(ALERTS), slot)
    assert run is not None and run.state == "posted"


async def test_scheduler_survives_a_failed_alert_check(bed: Bed) -> None:
    runtime = await bed.runtime(ALERT_CHANNEL=ALERTS)
    bed.slot(0)
    bed.slack.fail_next("chat.postMessage", "channel_not_found")

    await runtime.scheduler.tick()

    assert bed.alerts() == []
    [run] = runtime.store.runs(alert_key(ALERTS))
    assert run.state == "failed"


async def test_scheduler_retries_a_failed_check_until_it_is_posted(bed: Bed) -> None:
    runtime = await bed.runtime(ALERT_CHANNEL=ALERTS, ALERT_SCHEDULE="0 9 * * *")
    slot = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    bed.clock.now = slot + timedelta(seconds=30)
    bed.slack.fail_next("chat.postMessage", "fatal_error", times=3)

    for _ in range(3):  # each failed try waits longer for the next: 1, 2, 4 minutes
        await runtime.scheduler.tick()
        [run] = runtime.store.runs(alert_key(ALERTS))
        assert run.state == "failed"
        bed.clock.now = run.lease_until + timedelta(seconds=1)
    bed.clock.now = slot + timedelta(hours=3)  # past the two hours a new check may start in
    await runtime.scheduler.tick()

    [baseline] = bed.alerts()
    assert "are over their license limit now" in _text(baseline)
    [run] = runtime.store.runs(alert_key(ALERTS))
    assert (run.state, run.attempts, run.slot) == ("posted", 4, slot)


async def test_scheduler_does_not_start_a_check_missed_by_hours(bed: Bed) -> None:
    runtime = await bed.runtime(ALERT_CHANNEL=ALERTS, ALERT_SCHEDULE="0 9 * * *")
    slot = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    bed.clock.now = slot + timedelta(hours=3)

    await runtime.scheduler.tick()

    assert bed.alerts() == [] and runtime.store.runs(alert_key(ALERTS)) == []


async def test_scheduler_without_alert_channel_checks_nothing(bed: Bed) -> None:
    runtime = await bed.runtime()
    bed.slot(0)

    await runtime.scheduler.tick()

    assert bed.alerts() == []
    assert runtime.store.runs(alert_key(ALERTS)) == []


# --- the message --------------------------------------------------------------------------------


def _overage(name: str, *, limit: int | None = 100, users: int = 125, cid: str = "") -> Overage:
    one = company(name=name, company_id=cid or name.lower()[:20], limit=limit, users=users)
    return build_report([one], fetched_at=NOW).overages[0]


def _report(overages: list[Overage]) -> Report:
    return Report(overages=tuple(overages), fetched_at=NOW, seat_price=Decimal("4.50"))


def _sections(message: Any) -> list[str]:
    return [b["text"]["text"] for b in message.blocks if b["type"] == "section" and "text" in b]


def test_one_company_is_one_short_line() -> None:
    acme = _overage("Acme", limit=100, users=125)

    message = render_alert([acme], report=_report([acme]), now=NOW)

    expected = "Acme just went over its license limit: over by 25 (25.0%), limit 100, 125 users."
    assert message.text == expected
    assert expected in _sections(message)[0]
    assert "In total: 1 companies over their license limit" in to_text(message)


def test_company_with_unreadable_limit_says_limit_unknown() -> None:
    odd = _overage("Odd Co", limit=None, users=40)

    message = render_alert([odd], report=_report([odd]), now=NOW)

    assert message.text == "Odd Co is now flagged over its license limit (limit unknown, 40 users)."


def test_names_are_escaped() -> None:
    hostile = _overage("<!channel> Acme & <https://evil.example|Safe>", cid="h1")

    message = render_alert([hostile], report=_report([hostile]), now=NOW)

    flat = json.dumps(message.blocks) + message.text
    assert "<!channel>" not in flat and "<https://" not in flat
    assert "&lt;!channel&gt; Acme &amp;" in message.text


def test_many_companies_fit_one_message_within_slack_limits() -> None:
    many = [_overage(f"Company {n:03d} " + "X" * 200, cid=f"c{n}") for n in range(500)]

    message = render_alert(many, report=_report(many), now=NOW)

    assert len(message.blocks) <= MAX_BLOCKS
    assert all(len(text) <= MAX_SECTION for text in _sections(message))
    assert "500 customers just went over their license limit" in _sections(message)[0]
    assert "…and 480 more" in to_text(message)
    assert message.text.endswith("and 497 more.")
    actions = next(b for b in message.blocks if b["type"] == "actions")
    ids = [element["action_id"] for element in actions["elements"]]
    assert EXPORT_BUTTON in ids and DETAILS_SELECT in ids


def test_baseline_counts_the_companies_already_over() -> None:
    over = [_overage(f"Co {n}", users=101 + n, cid=f"c{n}") for n in range(12)]

    message = render_alert(over, report=_report(over), now=NOW, baseline=True)

    assert message.text.startswith(
        "12 customers are over their license limit now; from here on you get one alert "
        "per customer that newly goes over."
    )
    assert "…and 2 more" in to_text(message)
    assert "just went over" not in to_text(message)


async def test_an_alert_says_when_keepnet_counts_more_than_was_read(bed: Bed) -> None:
    bed.sandbox.switches.hidden_rows = 1  # counted by Keepnet, served on no page
    runtime = await bed.runtime()
    assert await bed.check(runtime, 0) is not None
    [baseline] = bed.alerts()
    sentence = "Keepnet counts 6 companies over their limit; 5 could be read."
    assert sentence in str(baseline.params["text"])
    assert sentence in json.dumps(baseline.params["blocks"], ensure_ascii=False)
    assert "5 customers are over their license limit now" in _text(baseline)
