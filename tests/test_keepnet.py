"""The Keepnet client over real HTTP against the sandbox: paging, token, faults, errors."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta

import httpx
import pytest

from bot.config import Settings
from bot.errors import (
    BadCredentials,
    BotError,
    NotReseller,
    PageSizeRefused,
    PlatformDown,
    RequestRejected,
    WrongAddress,
)
from bot.keepnet import EXTRA_PASSES, MAX_ATTEMPTS, KeepnetClient, upstream_calls
from bot.overage import build_report, shortfall_note
from bot.sandbox import Sandbox, is_flagged

SECRET = "sandbox-secret"

MakeClient = Callable[..., Awaitable[tuple[KeepnetClient, Sandbox]]]


class FastSleep:
    """Records the back-off delays instead of waiting them out, and keeps the client's clock:
    each wait moves it on by the delay, and a test may move it on too."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        self.now += delay
        await asyncio.sleep(0)


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    opened: list[tuple[Sandbox, httpx.AsyncClient]] = []

    async def make(
        *,
        companies: int = 300,
        over_limit: int | None = None,
        role: str = "Reseller",
        secret: str = SECRET,
        sleep: FastSleep | None = None,
        path: str = "",
        **settings: object,
    ) -> tuple[KeepnetClient, Sandbox]:
        sandbox = Sandbox(companies=companies, over_limit=over_limit, seed=5, role=role)
        url = await sandbox.start() + path
        base = Settings(
            keepnet_client_id="sandbox-client", keepnet_client_secret=secret, keepnet_base_url=url
        )
        config = replace(base, **settings)  # type: ignore[arg-type]
        http = httpx.AsyncClient(timeout=config.keepnet_timeout_s)
        opened.append((sandbox, http))
        sleep = sleep or FastSleep()
        client = KeepnetClient(config, http, sleep=sleep, clock=sleep.clock)
        return client, sandbox

    yield make
    for sandbox, http in opened:
        await http.aclose()
        await sandbox.stop()


def flagged_ids(sandbox: Sandbox) -> set[str]:
    return {c["companyResourceId"] for c in sandbox.companies if is_flagged(c)}


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


async def test_fifty_concurrent_callers_share_one_token_request(make_client: MakeClient) -> None:
    client, sandbox = await make_client(companies=50)
    sandbox.switches.latency_s = 0.05
    await asyncio.gather(*(client.search_page(1) for _ in range(50)))
    assert sandbox.token_requests == 1


async def test_concurrent_callers_share_one_failed_token_request(make_client: MakeClient) -> None:
    client, sandbox = await make_client(secret="wrong-secret-value")
    results = await asyncio.gather(
        *(client.search_page(1) for _ in range(20)), return_exceptions=True
    )
    assert all(isinstance(r, BadCredentials) for r in results)
    assert sandbox.token_requests == 1
    assert sandbox.search_requests == 0


async def test_concurrent_callers_share_one_retry_cycle_for_the_token(
    make_client: MakeClient,
) -> None:
    sleep = FastSleep()
    client, sandbox = await make_client(sleep=sleep)
    sandbox.switches.fail_token_next = [503] * 50
    results = await asyncio.gather(
        *(client.search_page(1) for _ in range(20)), return_exceptions=True
    )
    assert all(isinstance(r, PlatformDown) for r in results)
    assert sandbox.token_requests == MAX_ATTEMPTS
    assert len(sleep.delays) == MAX_ATTEMPTS - 1


async def test_a_failed_token_request_is_not_remembered(make_client: MakeClient) -> None:
    client, sandbox = await make_client()
    sandbox.switches.fail_token_next = [400]
    with pytest.raises(BadCredentials):
        await client.search_page(1)
    page = await client.search_page(1)
    assert page.rows
    assert sandbox.token_requests == 2


async def test_a_token_close_to_expiry_is_renewed_before_use(make_client: MakeClient) -> None:
    sleep = FastSleep()
    client, sandbox = await make_client(sleep=sleep)
    sandbox.switches.token_ttl_s = 30  # renewed in its last 3 seconds
    await client.search_page(1)
    sleep.now += 20
    await client.search_page(1)
    assert sandbox.token_requests == 1
    sleep.now += 8
    await client.search_page(1)
    assert sandbox.token_requests == 2
    assert len(set(sandbox.issued_tokens)) == 2
    assert all(status == 200 for _, status in sandbox.requests)  # no 401 on the way


async def test_a_401_from_the_token_endpoint_is_bad_credentials(make_client: MakeClient) -> None:
    client, sandbox = await make_client()
    sandbox.switches.fail_token_next = [401]
    with pytest.raises(BadCredentials) as caught:
        await client.fetch_over_limit()
    assert "KEEPNET_CLIENT_SECRET" in caught.value.for_user()
    assert sandbox.token_requests == 1


async def test_concurrency_never_exceeds_the_setting(make_client: MakeClient) -> None:
    client, sandbox = await make_client(
        companies=2000, over_limit=1000, keepnet_page_size=50, keepnet_concurrency=3
    )
    sandbox.switches.latency_s = 0.02
    fetch = await client.fetch_over_limit()
    assert len(fetch.companies) == 1000
    assert sandbox.max_in_flight <= 3
    assert sandbox.max_in_flight >= 2  # the pages after the first really run in parallel


async def test_token_expiring_mid_pagination_is_renewed_silently(make_client: MakeClient) -> None:
    client, sandbox = await make_client(companies=2000, over_limit=500)
    sandbox.switches.token_max_calls = 3
    fetch = await client.fetch_over_limit()
    assert {c.company_id for c in fetch.companies} == flagged_ids(sandbox)
    assert sandbox.token_requests >= 2
    assert ("/api/companies/search", 401) in sandbox.requests


@pytest.mark.parametrize("status", [429, 503, 502, 500])
async def test_bursts_of_transient_errors_are_retried(make_client: MakeClient, status: int) -> None:
    sleep = FastSleep()
    client, sandbox = await make_client(sleep=sleep)
    sandbox.switches.retry_after_s = 2
    sandbox.switches.fail_next = [status, status, status]
    fetch = await client.fetch_over_limit()
    assert {c.company_id for c in fetch.companies} == flagged_ids(sandbox)
    assert len(sleep.delays) == 3
    if status == 429:
        assert sleep.delays == [2.0, 2.0, 2.0]  # Retry-After is honoured


async def test_one_retry_deadline_covers_the_whole_fetch(make_client: MakeClient) -> None:
    sleep = FastSleep()
    client, sandbox = await make_client(sleep=sleep)
    sandbox.switches.retry_after_s = 25
    sandbox.switches.fail_token_next = [429]  # the token waits 25 s of the budget
    sandbox.switches.fail_next = [429, 429]  # the page another 25 s, then 25 s more is too long
    with pytest.raises(PlatformDown) as caught:
        await client.fetch_over_limit()
    assert sleep.delays == [25.0, 25.0]
    assert "asked the bot to wait 25 s" in str(caught.value)
    assert sandbox.search_requests == 2


async def test_a_retry_after_longer_than_the_budget_fails_at_once(
    make_client: MakeClient,
) -> None:
    sleep = FastSleep()
    client, sandbox = await make_client(sleep=sleep)
    sandbox.switches.retry_after_s = 600
    sandbox.switches.fail_next = [429]
    with pytest.raises(PlatformDown) as caught:
        await client.fetch_over_limit()
    assert sleep.delays == []
    assert sandbox.search_requests == 1
    assert caught.value.for_user() == (
        "The Keepnet platform answered 429 and asked the bot to wait 600 s, longer than the bot "
        "waits for an answer. Try again in 10 minutes."
    )


async def test_a_platform_that_stays_down_gives_a_plain_sentence(make_client: MakeClient) -> None:
    sleep = FastSleep()
    client, sandbox = await make_client(sleep=sleep)
    sandbox.switches.fail_next = [503] * 20
    with pytest.raises(PlatformDown) as caught:
        await client.fetch_over_limit()
    assert caught.value.for_user().startswith("The Keepnet platform answered 503.")
    assert len(sleep.delays) == 4  # bounded: five attempts in all
    assert all(0 <= d <= 8 for d in sleep.delays)


async def test_a_hung_connection_times_out_and_is_retried(make_client: MakeClient) -> None:
    client, sandbox = await make_client(keepnet_timeout_s=0.3)
    sandbox.switches.hang_next = 1
    sandbox.switches.hang_s = 5
    fetch = await client.fetch_over_limit()
    assert len(fetch.companies) == len(flagged_ids(sandbox))


async def test_a_connection_that_always_hangs_is_reported(make_client: MakeClient) -> None:
    client, sandbox = await make_client(keepnet_timeout_s=0.2)
    await client.claims()
    sandbox.switches.hang_next = 10
    sandbox.switches.hang_s = 3
    with pytest.raises(PlatformDown, match="did not answer in time"):
        await client.search_page(1)


async def test_connection_refused_is_platform_unavailable() -> None:
    settings = Settings(
        keepnet_client_id="x", keepnet_client_secret=SECRET, keepnet_base_url="http://127.0.0.1:9"
    )
    async with httpx.AsyncClient() as http:
        client = KeepnetClient(settings, http, sleep=FastSleep())
        with pytest.raises(PlatformDown, match="could not be reached"):
            await client.fetch_over_limit()


async def test_malformed_json_is_retried(make_client: MakeClient) -> None:
    client, sandbox = await make_client()
    sandbox.switches.malformed_next = 2
    fetch = await client.fetch_over_limit()
    assert len(fetch.companies) == len(flagged_ids(sandbox))


async def test_the_other_envelope_is_read_too(make_client: MakeClient) -> None:
    client, sandbox = await make_client()
    sandbox.switches.use_is_success_envelope = True
    fetch = await client.fetch_over_limit()
    assert len(fetch.companies) == len(flagged_ids(sandbox))


async def test_wrong_credentials_are_reported_without_retry(make_client: MakeClient) -> None:
    client, sandbox = await make_client(secret="wrong-secret-value")
    with pytest.raises(BadCredentials) as caught:
        await client.fetch_over_limit()
    assert "client ID and secret" in caught.value.for_user()
    assert "REST API" in caught.value.for_user()
    assert sandbox.token_requests == 1


async def test_a_role_the_search_refuses_is_named_when_its_403_comes(
    make_client: MakeClient,
) -> None:
    client, sandbox = await make_client(role="Company Admin")
    assert (await client.claims())["role"] == "Company Admin"  # the token itself is fine
    with pytest.raises(NotReseller) as caught:
        await client.fetch_over_limit()
    assert str(caught.value) == (
        "Keepnet refused the company list to this credential (403): its role is "
        "'Company Admin', not Reseller, and its permissions do not include "
        "companies/search|POST."
    )
    assert "Client Role = Reseller" in caught.value.for_user()
    assert sandbox.requests[-1] == ("/api/companies/search", 403)  # the search decided
    assert sandbox.search_requests == 1


async def test_a_token_without_a_role_or_reseller_access_reads_plainly(
    make_client: MakeClient,
) -> None:
    client, sandbox = await make_client(role="")
    with pytest.raises(NotReseller) as caught:
        await client.fetch_over_limit()
    assert str(caught.value) == (
        "Keepnet refused the company list to this credential (403): it has no role and no "
        "reseller access, and its permissions do not include companies/search|POST."
    )
    assert "Client Role = Reseller" in caught.value.for_user()
    assert sandbox.search_requests == 1


@pytest.mark.parametrize("role", ["Billing Partner", "reseller", "Company Admin"])
async def test_a_credential_the_api_serves_works_whatever_its_role_says(
    make_client: MakeClient, role: str
) -> None:
    client, sandbox = await make_client(role=role, companies=400, over_limit=150)
    sandbox.switches.served_roles = ["Reseller", role]  # a custom client role with search
    fetch = await client.fetch_over_limit()
    assert {c.company_id for c in fetch.companies} == flagged_ids(sandbox)
    assert (await client.claims())["role"] == role


async def test_a_reseller_token_without_the_search_permission_says_which_it_lacks(
    make_client: MakeClient,
) -> None:
    client, sandbox = await make_client()
    sandbox.switches.served_roles = []
    with pytest.raises(NotReseller) as caught:
        await client.export("csv")
    assert str(caught.value) == (
        "Keepnet refused the company list to this credential (403): its permissions do not "
        "include companies/search/export|POST."
    )


STATUSES = [
    (301, "301 Moved Permanently"),  # e.g. http:// sent on to https://: not followed
    (404, "404 Not Found"),
    (405, "405 Method Not Allowed"),
    (501, "501 Not Implemented"),
]


@pytest.mark.parametrize(("status", "said"), STATUSES)
async def test_an_answer_the_api_never_gives_points_at_the_base_url(
    make_client: MakeClient, status: int, said: str
) -> None:
    client, sandbox = await make_client()
    sandbox.switches.fail_next = [status]
    with pytest.raises(WrongAddress) as caught:
        await client.fetch_over_limit()
    assert str(caught.value) == f"The Keepnet API at {sandbox.url} answered {said}."
    assert "Check KEEPNET_BASE_URL" in caught.value.for_user()
    assert sandbox.search_requests == 1  # not retried


async def test_a_wrong_base_url_is_named_in_the_sentence(make_client: MakeClient) -> None:
    client, sandbox = await make_client(path="/not-the-api")
    with pytest.raises(WrongAddress) as caught:
        await client.fetch_over_limit()
    assert f"{sandbox.url}/not-the-api answered 404 Not Found" in str(caught.value)
    assert "KEEPNET_BASE_URL" in caught.value.for_user()


async def test_the_base_url_in_a_sentence_carries_no_query_or_credentials(
    make_client: MakeClient,
) -> None:
    client, sandbox = await make_client(path="/not-the-api?key=hunter2")
    with pytest.raises(WrongAddress) as caught:
        await client.fetch_over_limit()
    assert f"{sandbox.url}/not-the-api answered" in str(caught.value)
    assert "hunter2" not in caught.value.for_user() and "hunter2" not in repr(caught.value)


async def test_a_403_is_reported_as_not_reseller(make_client: MakeClient) -> None:
    client, sandbox = await make_client()
    sandbox.switches.fail_next = [403]
    with pytest.raises(NotReseller, match="403"):
        await client.fetch_over_limit()


async def test_a_rejected_request_carries_the_platform_messages(make_client: MakeClient) -> None:
    client, sandbox = await make_client()
    sandbox.switches.fail_next = [400]
    with pytest.raises(RequestRejected) as caught:
        await client.fetch_over_limit()
    assert str(caught.value) == "The Keepnet platform rejected the request: Sandbox fault 400."
    assert not isinstance(caught.value, PageSizeRefused)


async def test_a_server_that_refuses_the_page_size_gives_a_sentence(
    make_client: MakeClient,
) -> None:
    client, sandbox = await make_client(keepnet_page_size=5000)
    sandbox.switches.max_page_size = 500
    with pytest.raises(PageSizeRefused) as caught:
        await client.fetch_over_limit()
    assert str(caught.value) == (
        "The Keepnet platform rejected the request: 'pageSize' must be at most 500."
    )
    assert caught.value.for_user().endswith(
        "Set KEEPNET_PAGE_SIZE to a smaller number, such as the default 100."
    )
    assert isinstance(caught.value, RequestRejected)


@pytest.mark.parametrize(
    ("fmt", "filename"), [("csv", "Companies.csv"), ("xlsx", "Companies.xlsx")]
)
async def test_native_export_is_the_platform_file_unchanged(
    make_client: MakeClient, fmt: str, filename: str
) -> None:
    client, sandbox = await make_client()
    native = await client.export(fmt)
    assert native.filename == filename
    token = sandbox.issued_tokens[-1]
    body = {
        "pageNumber": 1, "pageSize": 100, "orderBy": "CreateTime", "ascending": False,
        "isTargetUserCountExceededLimit": True, "reportAllPages": True,
        "exportType": "Csv" if fmt == "csv" else "Excel",
        "filter": {"Condition": "AND", "SearchInputTextValue": ""},
    }  # fmt: skip
    async with httpx.AsyncClient() as http:
        direct = await http.post(
            sandbox.url + "/api/companies/search/export",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
    if fmt == "csv":
        assert native.content == direct.content
    else:
        assert native.content[:2] == b"PK" and len(native.content) > 1000


async def test_an_export_answered_with_an_envelope_is_not_a_file(make_client: MakeClient) -> None:
    client, sandbox = await make_client()
    sandbox.switches.export_envelope_next = 1
    with pytest.raises(RequestRejected) as caught:
        await client.export("xlsx")
    assert str(caught.value) == "The Keepnet platform rejected the request: Sandbox export fault."
    assert (await client.export("xlsx")).content[:2] == b"PK"


async def test_upstream_calls_are_counted_per_command(make_client: MakeClient) -> None:
    client, _ = await make_client(companies=2000, over_limit=250)
    counter = [0]
    upstream_calls.set(counter)
    await client.fetch_over_limit()
    assert counter[0] == 1 + 3 + 1  # token, three pages, page 1 again


async def test_secrets_never_reach_logs_or_errors(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("bot", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    client, sandbox = await make_client()
    sandbox.switches.fail_next = [503]
    await client.fetch_over_limit()
    failures: list[BotError] = []
    sandbox.switches.fail_next = [503] * MAX_ATTEMPTS
    with pytest.raises(PlatformDown) as down:
        await client.fetch_over_limit()
    failures.append(down.value)
    sandbox.switches.fail_next = [400]
    with pytest.raises(RequestRejected) as rejected:
        await client.fetch_over_limit()
    failures.append(rejected.value)
    bad, _ = await make_client(secret="another-secret-xyz")
    with pytest.raises(BadCredentials) as refused:
        await bad.fetch_over_limit()
    failures.append(refused.value)
    tokens = sandbox.issued_tokens
    assert tokens
    texts = [caplog.text]
    texts += [text for e in failures for text in (str(e), e.for_user(), repr(e))]
    assert "DEBUG" in caplog.text and "keepnet POST" in caplog.text
    for text in texts:
        assert SECRET not in text and "another-secret-xyz" not in text
        assert all(token not in text for token in tokens)
    assert "another-secret-xyz" not in repr(bad._settings)


# --- success is a 2xx with data ------------------------------------------------------------


@pytest.mark.parametrize("status", ["Success", "SUCCESS", "success", "Succeeded", "OK", ""])
async def test_a_2xx_with_data_is_success_whatever_its_status_spelling(
    make_client: MakeClient, status: str
) -> None:
    client, sandbox = await make_client()
    sandbox.switches.envelope_status = status
    fetch = await client.fetch_over_limit()
    assert {c.company_id for c in fetch.companies} == flagged_ids(sandbox)


@pytest.mark.parametrize("status", ["FAILED", "failed", "Error", " Failure "])
async def test_an_explicit_failure_status_in_any_letter_case_is_a_refusal(
    make_client: MakeClient, status: str
) -> None:
    client, sandbox = await make_client()
    sandbox.switches.envelope_status = status
    with pytest.raises(RequestRejected, match="rejected the request: no reason given"):
        await client.fetch_over_limit()
    assert sandbox.search_requests == 1


# --- paged by what the server answers ------------------------------------------------------


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


# --- complete or say so --------------------------------------------------------------------


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


# --- unlimited licences are never over -----------------------------------------------------


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


# --- RFC 3339 date-times -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "digits", "added_us"),
    [(180, 3, 123_000), (180, 7, 123_456), (-330, 12, 123_456), (None, 1, 100_000), (0, 0, 0)],
)
async def test_date_times_with_fractions_and_offsets_are_the_right_instants(
    make_client: MakeClient, offset: int | None, digits: int, added_us: int
) -> None:
    client, sandbox = await make_client(companies=200, over_limit=30)
    sandbox.switches.time_offset_minutes = offset
    sandbox.switches.time_fraction_digits = digits
    rows = {c["companyResourceId"]: c for c in sandbox.companies}
    fetch = await client.fetch_over_limit()
    assert len(fetch.companies) == 30
    added = timedelta(microseconds=added_us)
    for company in fetch.companies:
        raw = rows[company.company_id]
        assert company.created == datetime.fromisoformat(raw["createTime"]) + added
        assert company.license_end == datetime.fromisoformat(raw["licenseEndDate"]) + added
        assert company.created is not None
        assert company.created.utcoffset() == timedelta(minutes=offset or 0)
