"""The digest's cases by what needs doing, as posted to the fake Slack by the digest use case
against the sandbox and real SQLite: every case resolved since the last digest is shown by
exactly one digest, whichever fetch closed it."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.app import Runtime
from bot.cases import Assign, Edit, MarkInvoiced, Surface
from bot.overage import parse_limit
from bot.sandbox import Sandbox
from tests.clock import Clock
from tests.fakes.slack_api import FakeSlack
from tests.runtime import running_fakes

PLAIN = re.compile(r"[A-Za-z .]+")
SLOT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CHANNEL = "C0GENERAL"


class Bed:
    def __init__(self, runtime: Runtime, sandbox: Sandbox, slack: FakeSlack, clock: Clock) -> None:
        self.runtime, self.sandbox, self.slack, self.clock = runtime, sandbox, slack, clock

    async def digest(self, week: int) -> str:
        """Post the digest `week` weeks after the first; its text."""
        slot = SLOT + timedelta(days=7 * week)
        self.clock.now = slot + timedelta(seconds=5)
        assert await self.runtime.services.run_slot(CHANNEL, slot)
        posted = [c for c in self.slack.posts if "metadata" in c.params][-1]
        return json.dumps(posted.params["blocks"], ensure_ascii=False)

    def over(self) -> list[dict[str, object]]:
        """The sandbox's companies over a readable limit with plain names, biggest first."""
        rows = [
            row
            for row in self.sandbox.companies
            if row.get("isNumberOfUsersLimited") is True
            and parse_limit(row.get("numberOfUsers")) is not None
            and int(str(row["targetUserCount"])) > (parse_limit(row["numberOfUsers"]) or 0)
            and PLAIN.fullmatch(str(row["companyName"]))
        ]
        return sorted(rows, key=lambda r: -(int(str(r["targetUserCount"])) - _limit(r)))

    def back_under(self, company_id: object) -> None:
        rows = copy.deepcopy(self.sandbox.companies)
        for row in rows:
            if row["companyResourceId"] == company_id:
                row["targetUserCount"] = _limit(row) - 1
        self.sandbox.companies = rows

    def case_id(self, company_id: object) -> int:
        history = self.runtime.store.company_case(str(company_id))
        assert history is not None and history.case.id is not None
        return history.case.id


def _limit(row: dict[str, object]) -> int:
    return parse_limit(row["numberOfUsers"]) or 0


@pytest.fixture
async def bed(tmp_path: Path) -> AsyncIterator[Bed]:
    database_url = f"sqlite:///{tmp_path / 'digest.db'}"
    async with running_fakes(database_url=database_url, over_limit=14, seed=9) as fakes:
        clock = Clock(SLOT + timedelta(seconds=5))
        settings = fakes.settings(DIGEST_CHANNEL=CHANNEL, DIGEST_ATTACH_EXPORT="false")
        runtime = await fakes.runtime(settings, now=clock)
        yield Bed(runtime, fakes.sandbox, fakes.slack, clock)


async def test_the_digest_groups_the_cases_by_what_needs_doing(bed: Bed) -> None:
    first = await bed.digest(0)
    over = bed.over()
    report = await bed.runtime.services.report()
    assert f"*Needs an owner* ({report.companies_over:,})" in first  # all new, nobody's yet
    assert "*In progress*" not in first and "*Invoiced" not in first
    store, at = bed.runtime.store, bed.clock.now
    owned, invoiced = over[0]["companyResourceId"], over[1]["companyResourceId"]
    store.change_case(bed.case_id(owned), Assign("U0ALICE"), Edit("U0ALICE", Surface.HOME, at))
    invoice = MarkInvoiced(10**6, Decimal("99.50"), "INV-42")
    store.change_case(bed.case_id(invoiced), invoice, Edit("U0BOB", Surface.MODAL, at))

    second = await bed.digest(1)

    assert f"{over[0]['companyName']} · over by" in second
    assert "*In progress* (1)" in second and "· <@U0ALICE>" in second
    assert "*Invoiced, limit not raised yet* (1)" in second
    # invoiced by U0BOB, owned by nobody: the owner is who is mentioned, not who clicked
    assert "invoiced for 1,000,000 seats 7 days ago (INV-42) · no owner" in second
    assert "<@U0BOB>" not in second
    assert "Resolved since last digest" not in second
    assert f"*Needs an owner* ({report.companies_over - 2:,})" in second


async def test_a_case_resolved_between_digests_is_shown_by_the_next_digest_only(bed: Bed) -> None:
    await bed.digest(0)
    gone, later = bed.over()[0], bed.over()[1]
    bed.runtime.store.change_case(
        bed.case_id(gone["companyResourceId"]),
        Assign("U0CAROL"),
        Edit("U0CAROL", Surface.MESSAGE, bed.clock.now),
    )
    bed.back_under(gone["companyResourceId"])
    bed.clock.now += timedelta(days=2)
    await bed.runtime.services.export_file("csv")  # a fetch between digests closes its case

    second = await bed.digest(1)
    bed.back_under(later["companyResourceId"])
    third = await bed.digest(2)
    fourth = await bed.digest(3)

    closed = (SLOT + timedelta(days=2)).date().isoformat()
    assert "*Resolved since last digest* (1)" in second
    assert f"{gone['companyName']} · back under its limit on {closed} · <@U0CAROL>" in second
    assert "*Resolved since last digest* (1)" in third
    assert f"{later['companyName']} · back under its limit on" in third
    assert str(gone["companyName"]) not in third.split("Resolved since last digest")[1]
    assert "Resolved since last digest" not in fourth
