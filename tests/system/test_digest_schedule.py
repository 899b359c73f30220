"""The scheduled digest from real `serve` processes: once per slot, across two replicas and
across a SIGKILL.

A crontab has minute resolution and the scheduler ticks every 60 s, so each scenario takes
a minute or so: each starts on a database that has known the digest channel since the day
before, so the start-up tick posts the latest slot at once instead of waiting for the next.
The scenarios are independent: a module fixture starts them all at once on background
threads, and each test waits for its own. What does not need real processes and real minutes
(a failed post retried, restarts, late notes) is in tests/test_schedule.py on an injected clock.
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import advance
from bot.services import ALERT_EVENT
from bot.store import Run, Store
from tests.databases import POSTGRES_SKIP, POSTGRES_URL, postgres_schema
from tests.fakes.slack_api import FakeSlack
from tests.system.conftest import (
    TALLY,
    Processes,
    digest_keys,
    free_port,
    running_sandbox,
    running_slack,
    serve_env,
    wait_for,
)

# The module's fixtures start every scenario at once, so its tests share one xdist worker:
# `make test` keeps each file on one worker (--dist loadfile); the group says so for
# --dist loadgroup, which pytest 9.2's node IDs break for now (pytest-xdist issue 1386).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("schedule")]

CHANNEL = "C0GENERAL"
ALERTS = "C0ALERTS"
EVERY_MINUTE = {
    "DIGEST_CHANNEL": CHANNEL,
    "DIGEST_SCHEDULE": "* * * * *",
    "DIGEST_ATTACH_EXPORT": "false",
}
SCENARIO_LIMIT_S = 240.0  # the longest scenario takes about a minute and a half
MIDKILL_LEASE_S = 30  # the dead process's claim runs out this soon after the kill


def _parse(key: str) -> datetime:
    return datetime.strptime(key, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> datetime:
    return datetime.now(UTC)


def duplicates(keys: list[str]) -> list[str]:
    return sorted(key for key, count in Counter(keys).items() if count > 1)


def gaps(keys: list[str]) -> list[str]:
    """Minutes between the first and the last slot posted that have no digest."""
    if not keys:
        return []
    slots = sorted({_parse(k) for k in keys})
    missing, moment = [], slots[0]
    while moment < slots[-1]:
        if moment not in slots:
            missing.append(_key(moment))
        moment += timedelta(minutes=1)
    return missing


def recent_slot() -> datetime:
    """A whole minute two minutes ago: a daily slot at that time is the latest one due, and
    on a database that knew the channel before it the start-up tick posts it at once."""
    return _now().replace(second=0, microsecond=0) - timedelta(minutes=2)


def known_since_yesterday(database_url: str) -> None:
    """The database (migrated here) has known the digest channel since a day ago, as if the
    bot had run then: the latest slot is due at the first tick, not at the next minute."""
    store = Store(database_url)
    try:
        store.upgrade()
        store.first_seen(CHANNEL, now=_now() - timedelta(days=1))
    finally:
        store.close()


def run_of(database_url: str, slot: datetime) -> Run | None:
    store = Store(database_url)
    try:
        return store.run(CHANNEL, slot)
    finally:
        store.close()


def daily_at(slot: datetime) -> str:
    return f"{slot.minute} {slot.hour} * * *"


def slots_after(keys: list[str], moment: datetime) -> set[str]:
    return {k for k in keys if _parse(k) > moment}


# --- the scenarios, each on its own thread -----------------------------------------------------


class Scenario:
    def __init__(self, name: str, run: Callable[[], dict[str, Any]]) -> None:
        self.name = name
        self.result: dict[str, Any] | None = None
        self.error: str | None = None
        self.thread = threading.Thread(target=self._run, name=f"scenario-{name}", daemon=True)
        self._run_fn = run

    def _run(self) -> None:
        try:
            self.result = self._run_fn()
        except BaseException:
            self.error = traceback.format_exc()

    def outcome(self) -> dict[str, Any]:
        self.thread.join(SCENARIO_LIMIT_S)
        if self.thread.is_alive():
            raise AssertionError(f"scenario {self.name} still running after {SCENARIO_LIMIT_S}s")
        if self.error is not None:
            raise AssertionError(f"scenario {self.name} failed:\n{self.error}")
        assert self.result is not None
        return self.result


def replicas(procs: Processes, database_url: str, label: str) -> dict[str, Any]:
    """Two replicas on one database, every-minute digests and alert checks: both start-up
    ticks go for the same latest slot, then the crontab's next slot comes; between them
    three customers go over their limit."""
    known_since_yesterday(database_url)
    with running_sandbox(companies=300) as sandbox, running_slack() as slack:
        slack.add_channel(ALERTS, name="billing-alerts")
        env = serve_env(
            slack=slack, keepnet_url=sandbox.url, database_url=database_url, **EVERY_MINUTE,
            ALERT_CHANNEL=ALERTS, ALERT_SCHEDULE="* * * * *",
        )  # fmt: skip
        a = procs.make(f"{label}-a", env)
        b = procs.make(f"{label}-b", {**env, "PORT": str(free_port())})
        a.start(wait=False)
        b.start(wait=False)
        a.wait_healthy()
        b.wait_healthy()
        wait_for(lambda: alert_posts(slack), timeout_s=60, what="the first alert check")
        sandbox.companies = advance(sandbox.companies, seed=5)  # three customers go over
        wait_for(
            lambda: (
                len(set(digest_keys(slack))) >= 2
                and any("just went over" in text for _, text in alert_posts(slack))
            ),
            timeout_s=150,
            what=f"two scheduled digests and an alert from {label}",
            every_s=0.5,
        )
        # SIGTERM lets the work in flight finish: once both exited, nothing more can land
        codes = [a.terminate(), b.terminate()]
        return {
            "keys": digest_keys(slack),
            "alerts": alert_posts(slack),
            "label": label,
            "exit_codes": codes,
            "logs": a.log() + b.log(),
        }


def alert_posts(slack: FakeSlack) -> list[tuple[str, str]]:
    """(slot key, text) of every alert message Slack accepted in the alert channel."""
    found = []
    for call in slack.posts:
        metadata = call.params.get("metadata") or {}
        if call.params.get("channel") == ALERTS and metadata.get("event_type") == ALERT_EVENT:
            found.append((str(metadata["event_payload"]["key"]), str(call.params.get("text"))))
    return found


def restart_after_sigkill(procs: Processes, database_url: str) -> dict[str, Any]:
    """SIGKILL right after a digest went out and was recorded, start again at once, let the
    next slot pass."""
    known_since_yesterday(database_url)
    with running_sandbox(companies=300) as sandbox, running_slack() as slack:
        env = serve_env(
            slack=slack, keepnet_url=sandbox.url, database_url=database_url, **EVERY_MINUTE
        )
        a = procs.make("restart", env).start()
        first = _parse(wait_for(lambda: digest_keys(slack), timeout_s=90, what="a digest")[0])
        wait_for(
            lambda: (run := run_of(database_url, first)) and run.state == "posted",
            timeout_s=30,
            what="the first digest recorded as posted",
        )
        a.kill()
        killed = _now()
        before = digest_keys(slack)
        a.start()
        wait_for(
            lambda: slots_after(digest_keys(slack), killed),
            timeout_s=150,
            what="a digest after the restart",
            every_s=0.5,
        )
        code = a.terminate()  # its work in flight finishes first: nothing more can land
        return {"keys": digest_keys(slack), "before_kill": before, "exit_code": code}


def _kill_env(slack: Any, sandbox: Any, database_url: str, slot: datetime) -> dict[str, str]:
    """One daily slot, no workbook, and a dead process's claim that runs out soon."""
    return serve_env(
        slack=slack,
        keepnet_url=sandbox.url,
        database_url=database_url,
        DIGEST_CHANNEL=CHANNEL,
        DIGEST_SCHEDULE=daily_at(slot),
        DIGEST_ATTACH_EXPORT="false",
        DIGEST_LEASE_SECONDS=str(MIDKILL_LEASE_S),
    )


def sigkill_mid_digest(procs: Processes, database_url: str) -> dict[str, Any]:
    """A daily slot due at the start; the platform is slow, the process is killed mid-fetch
    and started again at once."""
    slot = recent_slot()
    known_since_yesterday(database_url)
    with running_sandbox(companies=300) as sandbox, running_slack() as slack:
        env = _kill_env(slack, sandbox, database_url, slot)
        sandbox.switches.update({"latency_s": 40.0})
        a = procs.make("midkill", env).start()
        wait_for(
            lambda: sandbox.token_requests + sandbox.search_requests,
            timeout_s=60,
            what="the slot's fetch to begin",
        )
        a.kill()  # the slot was claimed before the fetch began
        killed = _now()
        held = run_of(database_url, slot)
        sandbox.switches.update({"latency_s": 0.0})
        a.start()
        wait_for(
            lambda: _key(slot) in digest_keys(slack),
            timeout_s=150,
            what="the killed slot's digest after the lease ran out",
            every_s=0.5,
        )
        posted_at = _now()
        code = a.terminate()  # its work in flight finishes first: nothing more can land
        return {
            "slot": _key(slot),
            "keys": digest_keys(slack),
            "held_after_kill": held,
            "first_post_at": min(c.at for c in slack.posts),
            "killed_at": killed,
            "posted_after_kill_s": (posted_at - killed).total_seconds(),
            "exit_code": code,
            "late_note": any(
                "late" in str(c.params).lower()
                for c in slack.posts
                if (c.params.get("metadata") or {}).get("event_payload", {}).get("key")
                == _key(slot)
            ),
        }


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Scenario]]:
    root: Path = tmp_path_factory.mktemp("schedule")
    procs = Processes(root)
    cleanup = contextlib.ExitStack()
    pg_url = cleanup.enter_context(postgres_schema()) if POSTGRES_URL else None

    def sqlite(name: str) -> str:
        return f"sqlite:///{root / name}.db"

    runs: dict[str, Callable[[], dict[str, Any]]] = {
        "replicas-sqlite": lambda: replicas(procs, sqlite("replicas"), "sqlite"),
        "restart": lambda: restart_after_sigkill(procs, sqlite("restart")),
        "midkill": lambda: sigkill_mid_digest(procs, sqlite("midkill")),
        "heldpost": lambda: sigkill_before_the_post_is_answered(procs, sqlite("heldpost")),
    }
    if pg_url is not None:
        runs["replicas-postgres"] = lambda: replicas(procs, pg_url, "postgres")
    found = {name: Scenario(name, run) for name, run in runs.items()}
    for scenario in found.values():
        scenario.thread.start()
    try:
        yield found
    finally:
        for scenario in found.values():
            scenario.thread.join(SCENARIO_LIMIT_S)
        procs.close()
        cleanup.close()


def _count(keys: list[str], *, lost: list[str]) -> None:
    with TALLY.lock:
        TALLY.used = True
        TALLY.slots_checked += len(set(keys) | set(lost))
        TALLY.posts_duplicated += sum(n - 1 for n in Counter(keys).values())
        TALLY.posts_lost += len(lost)


def _assert_replicas(outcome: dict[str, Any]) -> None:
    keys = outcome["keys"]
    missing = gaps(keys)
    _count(keys, lost=missing)
    assert len(set(keys)) >= 2, keys  # the latest slot at the start, then the next one
    assert duplicates(keys) == [], f"a slot posted twice: {keys}"
    assert missing == [], f"slots with no digest: {missing} in {keys}"
    alert_keys = [key for key, _ in outcome["alerts"]]
    went_over = [text for _, text in outcome["alerts"] if "just went over" in text]
    TALLY.note(
        f"alerts from two replicas on {outcome['label']}: {len(alert_keys)} messages, "
        f"{len(duplicates(alert_keys))} duplicated, went-over alerts: {len(went_over)}"
    )
    assert duplicates(alert_keys) == [], f"an alert check posted twice: {alert_keys}"
    assert len(went_over) == 1, f"the customers who went over were alerted {went_over}"
    assert outcome["exit_codes"] == [0, 0]
    assert "Traceback" not in outcome["logs"]


def test_two_replicas_on_sqlite_post_each_slot_exactly_once(
    scenarios: dict[str, Scenario],
) -> None:
    _assert_replicas(scenarios["replicas-sqlite"].outcome())


def test_two_replicas_on_postgresql_post_each_slot_exactly_once(
    scenarios: dict[str, Scenario],
) -> None:
    if "replicas-postgres" not in scenarios:
        pytest.skip(POSTGRES_SKIP)
    _assert_replicas(scenarios["replicas-postgres"].outcome())


def test_sigkill_and_restart_neither_duplicates_nor_misses_a_slot(
    scenarios: dict[str, Scenario],
) -> None:
    outcome = scenarios["restart"].outcome()
    keys = outcome["keys"]
    missing = gaps(keys)
    _count(keys, lost=missing)
    assert outcome["before_kill"], "nothing was posted before the kill"
    assert len(set(keys)) >= 2, keys  # the slot posted before the kill, and one after
    assert duplicates(keys) == [], f"a slot posted twice: {keys}"
    assert missing == [], f"slots with no digest: {missing} in {keys}"
    assert outcome["exit_code"] == 0


def test_sigkill_during_a_digest_posts_that_slot_once_after_restart(
    scenarios: dict[str, Scenario],
) -> None:
    outcome = scenarios["midkill"].outcome()
    keys, slot = outcome["keys"], outcome["slot"]
    _count(keys, lost=[] if slot in keys else [slot])
    held = outcome["held_after_kill"]
    TALLY.note(
        f"SIGKILL mid-digest: the dead process's claim (state={getattr(held, 'state', None)}, "
        f"lease until {getattr(held, 'lease_until', None)}) held the slot after an immediate "
        f"restart; posted {outcome['posted_after_kill_s']:.0f}s after the kill, late note: "
        f"{outcome['late_note']}"
    )
    assert held is not None and held.state == "claimed", held
    first_post = datetime.fromtimestamp(outcome["first_post_at"], UTC)
    assert first_post > held.lease_until, "posted while the dead process held the claim"
    assert keys.count(slot) == 1, f"slot {slot} posted {keys.count(slot)} times: {keys}"
    assert duplicates(keys) == [], keys
    assert outcome["exit_code"] == 0


# --- SIGKILL after Slack stored the post, before the process heard back -------------------------

HOLD_S = 20.0  # the fake holds the post's reply this long (the client gives up after 30 s)


def sigkill_before_the_post_is_answered(procs: Processes, database_url: str) -> dict[str, Any]:
    """A daily slot due at the start whose chat.postMessage Slack has carried out (the message
    is in the channel) but not yet answered when the process is SIGKILLed; started again at
    once, it must find that message once the dead claim runs out, and record it instead of
    posting."""
    slot = recent_slot()
    known_since_yesterday(database_url)
    with running_sandbox(companies=300) as sandbox, running_slack() as slack:
        env = _kill_env(slack, sandbox, database_url, slot)
        slack.delay_next("chat.postMessage", HOLD_S)  # the first post is the slot's
        a = procs.make("heldpost", env).start()
        wait_for(
            lambda: _key(slot) in digest_keys(slack),
            timeout_s=60,
            what="the slot's post to reach Slack",
            every_s=0.05,
        )
        stored = [c for c in slack.posts if _key(slot) in str(c.params.get("metadata"))]
        a.kill()  # well inside the hold: the process has not heard back
        killed_at = _now()
        history_before = len(slack.calls_to("conversations.history"))
        a.start()
        run = wait_for(
            lambda: (found := run_of(database_url, slot)) and found.state == "posted" and found,
            timeout_s=150,
            what="the killed slot recorded as posted after the restart",
            every_s=0.5,
        )
        recorded_after_s = (_now() - killed_at).total_seconds()
        code = a.terminate()  # its work in flight finishes first: a second post lands by now
        return {
            "slot": _key(slot),
            "keys": digest_keys(slack),
            "stored_ts": [str(c.response.get("ts")) for c in stored],
            "run": run,
            "history_lookups": len(slack.calls_to("conversations.history")) - history_before,
            "recorded_after_s": recorded_after_s,
            "exit_code": code,
            "log": a.log(),
        }


def test_sigkill_while_slack_holds_the_reply_of_the_post_posts_the_slot_once(
    scenarios: dict[str, Scenario],
) -> None:
    outcome = scenarios["heldpost"].outcome()
    keys, slot, run = outcome["keys"], outcome["slot"], outcome["run"]
    _count(keys, lost=[] if slot in keys else [slot])
    TALLY.fault(survived=keys.count(slot) == 1)
    TALLY.note(
        f"SIGKILL with the post's reply held: the restart found the earlier post through "
        f"{outcome['history_lookups']} history lookup(s) and recorded it "
        f"{outcome['recorded_after_s']:.0f}s after the kill; the slot was posted "
        f"{keys.count(slot)} time(s)"
    )
    assert len(outcome["stored_ts"]) == 1, "the post did not reach Slack before the kill"
    assert keys.count(slot) == 1, f"slot {slot} posted {keys.count(slot)} times: {keys}"
    assert duplicates(keys) == [], keys
    assert run.message_ts == outcome["stored_ts"][0], (run, outcome["stored_ts"])
    assert run.attempts == 2, run  # taken over from the dead process, not posted by it
    assert outcome["history_lookups"] >= 1
    assert outcome["exit_code"] == 0
    assert "Traceback" not in outcome["log"]
