"""The over-limit list read page by page: every company once while records move, however the server
pages it; complete, or said to be incomplete."""

from __future__ import annotations

import logging
import math

import pytest

from bot.keepnet import EXTRA_PASSES
from bot.overage import build_report, shortfall_note
from bot.sandbox import is_flagged
from tests.keepnet.conftest import MakeClient, flagged_ids


@pytest.mark.parametrize(
    ("companies", "over_limit"),
    [(10, 0), (10, 1), (400, 100), (400, 101), (20_000, 3_000)],
    ids=["none", "one", "exactly-one-page", "one-page-plus-one", "three-thousand"],
)
async def test_fetches_every_over_limit_company_once(
    make_client: MakeClient, companies: int, over_limit: int
) -> None:
    client, sandbox = await make_client(companies=companies, over_limit=over_limit)
    fetch = await client.fetch_over_limit()
    ids = [c.company_id for c in fetch.companies]
    assert len(ids) == len(set(ids)) == over_limit
    assert set(ids) == flagged_ids(sandbox)
    assert fetch.passes == 1
    pages = -(-over_limit // 100)
    # every page once, and page 1 once more when there are several
    assert sandbox.search_requests == (pages + 1 if pages > 1 else 1)


async def test_rows_without_an_id_are_counted_and_read_once(make_client: MakeClient) -> None:
    client, sandbox = await make_client(companies=400, over_limit=150)
    flagged = [c for c in sandbox.companies if is_flagged(c)]
    for row in flagged[:2]:
        row["companyResourceId"] = None  # listed with the flag, but nothing to key it on
    fetch = await client.fetch_over_limit()
    assert len(fetch.companies) == 150
    assert {c.name for c in fetch.companies if not c.company_id} == {
        str(row["companyName"]) for row in flagged[:2]
    }
    assert fetch.passes == 1
    assert sandbox.search_requests == 3  # two pages, and page 1 again


async def test_a_row_without_an_id_seen_on_two_pages_counts_once(make_client: MakeClient) -> None:
    client, sandbox = await make_client(companies=600, over_limit=150, keepnet_page_size=50)
    last_of_page_one = (await client.search_page(1)).rows[-1]
    rows = [dict(row) for row in sandbox.companies]
    nameless = next(r for r in rows if r["companyResourceId"] == last_of_page_one.company_id)
    nameless["companyResourceId"] = None
    sandbox.companies = rows
    sandbox.switches.shift_every = 1  # a newcomer on top pushes it onto page 2
    fetch = await client.fetch_over_limit()
    without_id = [c for c in fetch.companies if not c.company_id]
    assert [c.name for c in without_id] == [nameless["companyName"]]
    assert fetch.passes >= 2


async def test_the_request_body_is_the_one_the_real_server_accepts(
    make_client: MakeClient,
) -> None:
    client, sandbox = await make_client()
    page = await client.search_page(1, text="a")
    assert page.number == 1
    assert ("/api/companies/search", 200) in sandbox.requests


@pytest.mark.parametrize("remove", [False, True], ids=["inserted", "removed"])
async def test_records_shifting_between_pages_lose_no_company(
    make_client: MakeClient, remove: bool
) -> None:
    client, sandbox = await make_client(companies=3000, over_limit=450, keepnet_page_size=50)
    before = flagged_ids(sandbox)
    sandbox.switches.shift_every = 1
    sandbox.switches.shift_remove = remove
    fetch = await client.fetch_over_limit()
    got = {c.company_id for c in fetch.companies}
    over_whole_run = before & flagged_ids(sandbox)
    assert over_whole_run <= got
    assert len(got) == len(fetch.companies)
    assert 2 <= fetch.passes <= 1 + EXTRA_PASSES


async def test_a_company_leaving_while_another_joins_loses_no_company(
    make_client: MakeClient,
) -> None:
    client, sandbox = await make_client(companies=600, over_limit=150, keepnet_page_size=50)
    before = flagged_ids(sandbox)
    # after page 1: the top company leaves, a new one joins last; the total stays 150
    sandbox.switches.leave_join_after_page = 1
    fetch = await client.fetch_over_limit()
    after = flagged_ids(sandbox)
    over_whole_run = before & after
    assert len(over_whole_run) == 149 and len(after) == 150
    got = {c.company_id for c in fetch.companies}
    assert over_whole_run <= got
    assert after <= got
    assert fetch.passes == 2
    assert sandbox.search_requests == 1 + 3 + 4  # page 1; pages 2, 3, 1; then all again


@pytest.mark.parametrize("reported", [math.nan, math.inf, -math.inf, -5.0, 12.5])
async def test_a_total_that_is_not_a_count_still_reads_every_page(
    make_client: MakeClient, reported: float
) -> None:
    client, sandbox = await make_client(companies=300, over_limit=45, keepnet_page_size=20)
    sandbox.switches.reported_total = reported
    fetch = await client.fetch_over_limit()
    assert {c.company_id for c in fetch.companies} == flagged_ids(sandbox)
    assert fetch.passes == 1
    assert fetch.total_records == 45
    # pages 1, 2, 3 (short: the end), the ones already asked for meanwhile, page 1 again
    assert sandbox.search_requests <= 3 + 4 + 1


async def test_a_huge_total_reads_a_bounded_number_of_pages(make_client: MakeClient) -> None:
    client, sandbox = await make_client(
        companies=300, over_limit=45, keepnet_page_size=20, keepnet_concurrency=4
    )
    sandbox.switches.reported_total = 1e9  # 50 million pages, if it were believed
    fetch = await client.fetch_over_limit()
    assert {c.company_id for c in fetch.companies} == flagged_ids(sandbox)
    assert fetch.passes == 1 + EXTRA_PASSES
    # each pass stops at the first empty page: a few pages beyond it at most
    assert sandbox.search_requests <= (1 + EXTRA_PASSES) * (4 + 4 + 1)


async def test_concurrency_never_exceeds_the_setting(make_client: MakeClient) -> None:
    client, sandbox = await make_client(
        companies=2000, over_limit=1000, keepnet_page_size=50, keepnet_concurrency=3
    )
    sandbox.switches.latency_s = 0.02
    fetch = await client.fetch_over_limit()
    assert len(fetch.companies) == 1000
    assert sandbox.max_in_flight <= 3
    assert sandbox.max_in_flight >= 2  # the pages after the first really run in parallel


@pytest.mark.parametrize(("over", "cap"), [(450, 50), (451, 50), (450, 7), (49, 50)])
async def test_a_server_serving_fewer_rows_than_asked_yields_every_company_once(
    make_client: MakeClient, over: int, cap: int
) -> None:
    client, sandbox = await make_client(companies=3000, over_limit=over, keepnet_page_size=100)
    sandbox.switches.page_size_cap = cap
    fetch = await client.fetch_over_limit()
    ids = [c.company_id for c in fetch.companies]
    assert len(ids) == len(set(ids)) == over
    assert set(ids) == flagged_ids(sandbox)
    assert fetch.passes == 1 and fetch.platform_count == over
    pages = -(-over // cap)
    assert sandbox.search_requests == (pages + 1 if pages > 1 else 1)


async def test_a_capped_server_whose_list_moves_loses_no_company(make_client: MakeClient) -> None:
    client, sandbox = await make_client(companies=3000, over_limit=450, keepnet_page_size=100)
    sandbox.switches.page_size_cap = 50
    before = flagged_ids(sandbox)
    sandbox.switches.leave_join_after_page = 3
    fetch = await client.fetch_over_limit()
    got = {c.company_id for c in fetch.companies}
    assert (before & flagged_ids(sandbox)) <= got and flagged_ids(sandbox) <= got
    assert fetch.passes == 2


async def test_a_page_size_beyond_the_old_ceiling_is_asked_for(make_client: MakeClient) -> None:
    client, sandbox = await make_client(companies=3000, over_limit=1500, keepnet_page_size=5000)
    fetch = await client.fetch_over_limit()
    assert len(fetch.companies) == 1500
    assert sandbox.search_requests == 1


async def test_rows_counted_but_never_served_are_said_once_in_the_log_and_the_report(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.keepnet")
    client, sandbox = await make_client(companies=3000, over_limit=450, keepnet_page_size=50)
    sandbox.switches.hidden_rows = 2
    fetch = await client.fetch_over_limit()
    assert len(fetch.companies) == 448 and fetch.platform_count == 450
    assert 2 <= fetch.passes <= 1 + EXTRA_PASSES  # re-read, bounded, then said
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].endswith("Keepnet counts 450 companies over their limit; 448 could be read")
    report = build_report(fetch.companies, fetched_at=fetch.fetched_at,
                          platform_count=fetch.platform_count)  # fmt: skip
    assert shortfall_note(report) == (
        "Keepnet counts 450 companies over their limit; 448 could be read."
    )


async def test_a_complete_fetch_carries_the_platform_count_and_no_note(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.keepnet")
    client, _ = await make_client(companies=3000, over_limit=450)
    fetch = await client.fetch_over_limit()
    report = build_report(fetch.companies, fetched_at=fetch.fetched_at,
                          platform_count=fetch.platform_count)  # fmt: skip
    assert (fetch.platform_count, report.rows_read) == (450, 450)
    assert shortfall_note(report) is None
    assert not caplog.records


async def test_unlimited_rows_in_the_over_limit_answer_are_left_out_and_make_no_note(
    make_client: MakeClient,
) -> None:
    client, sandbox = await make_client(companies=600, over_limit=90)
    sandbox.switches.unlimited_in_answer = True
    unlimited = {c["companyResourceId"] for c in sandbox.companies
                 if c["isNumberOfUsersLimited"] is False}  # fmt: skip
    fetch = await client.fetch_over_limit()
    read = {c.company_id for c in fetch.companies}
    assert unlimited and unlimited <= read  # the filter did return them
    report = build_report(fetch.companies, fetched_at=fetch.fetched_at,
                          platform_count=fetch.platform_count)  # fmt: skip
    assert {o.company.company_id for o in report.overages} == flagged_ids(sandbox)
    assert report.companies_over == 90 and fetch.platform_count == 90
    assert shortfall_note(report) is None
