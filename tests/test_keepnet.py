"""The Keepnet client over real HTTP against the sandbox: paging, token, faults, errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import httpx
import pytest

from bot.config import Settings
from bot.errors import BadCredentials, NotReseller, PlatformDown, RequestRejected
from bot.keepnet import KeepnetClient, upstream_calls
from bot.sandbox import Sandbox, is_flagged

SECRET = "sandbox-secret"

MakeClient = Callable[..., Awaitable[tuple[KeepnetClient, Sandbox]]]


class FastSleep:
    """Records the back-off delays instead of waiting them out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
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
        sleep: Callable[[float], Awaitable[None]] | None = None,
        **settings: object,
    ) -> tuple[KeepnetClient, Sandbox]:
        sandbox = Sandbox(companies=companies, over_limit=over_limit, seed=5, role=role)
        url = await sandbox.start()
        base = Settings(
            keepnet_client_id="sandbox-client", keepnet_client_secret=secret, keepnet_base_url=url
        )
        config = replace(base, **settings)  # type: ignore[arg-type]
        http = httpx.AsyncClient(timeout=config.keepnet_timeout_s)
        opened.append((sandbox, http))
        client = KeepnetClient(config, http, sleep=sleep or FastSleep())
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
    pages = -(-over_limit // 100)
    assert sandbox.search_requests == max(pages, 1)


async def test_a_row_without_an_id_does_not_make_every_fetch_read_twice(
    make_client: MakeClient,
) -> None:
    client, sandbox = await make_client(companies=400, over_limit=150)
    nameless = next(c for c in sandbox.companies if is_flagged(c))
    nameless["companyResourceId"] = None  # counted in the total, but nothing to key it on
    fetch = await client.fetch_over_limit()
    assert len(fetch.companies) == 149
    assert fetch.passes == 1
    assert sandbox.search_requests == 2  # two pages, read once


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
    assert fetch.passes >= 2 or remove


async def test_fifty_concurrent_callers_share_one_token_request(make_client: MakeClient) -> None:
    client, sandbox = await make_client(companies=50)
    sandbox.switches.latency_s = 0.05
    await asyncio.gather(*(client.search_page(1) for _ in range(50)))
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


async def test_a_non_reseller_role_is_caught_from_the_token_before_any_search(
    make_client: MakeClient,
) -> None:
    client, sandbox = await make_client(role="Company Admin")
    with pytest.raises(NotReseller) as caught:
        await client.fetch_over_limit()
    assert "Company Admin" in str(caught.value)
    assert "Client Role = Reseller" in caught.value.for_user()
    assert sandbox.search_requests == 0


async def test_a_403_is_reported_as_not_reseller(make_client: MakeClient) -> None:
    client, sandbox = await make_client()
    sandbox.switches.fail_next = [403]
    with pytest.raises(NotReseller, match="403"):
        await client.fetch_over_limit()


async def test_a_rejected_request_carries_the_platform_messages(make_client: MakeClient) -> None:
    client, _ = await make_client(keepnet_page_size=5000)
    with pytest.raises(RequestRejected) as caught:
        await client.fetch_over_limit()
    assert "pageSize" in str(caught.value)


@pytest.mark.parametrize(
    ("fmt", "filename"), [("csv", "Companies.csv"), ("xlsx", "Companies.xlsx")]
)
async def test_native_export_is_the_platform_file_unchanged(
    make_client: MakeClient, fmt: str, filename: str
) -> None:
    client, sandbox = await make_client()
    native = await client.export(fmt)
    assert native.filename == filename
    token = (await client._current_token()).value
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


async def test_upstream_calls_are_counted_per_command(make_client: MakeClient) -> None:
    client, _ = await make_client(companies=2000, over_limit=250)
    counter = [0]
    upstream_calls.set(counter)
    await client.fetch_over_limit()
    assert counter[0] == 1 + 3  # token + three pages


async def test_secrets_never_reach_logs_or_errors(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, sandbox = await make_client()
    sandbox.switches.fail_next = [503]
    await client.fetch_over_limit()
    token = (await client._current_token()).value
    bad, _ = await make_client(secret="another-secret-xyz")
    with pytest.raises(BadCredentials) as caught:
        await bad.fetch_over_limit()
    texts = [caplog.text, str(caught.value), caught.value.for_user(), repr(caught.value)]
    for text in texts:
        assert SECRET not in text and "another-secret-xyz" not in text and token not in text
    assert "another-secret-xyz" not in repr(bad._settings)
