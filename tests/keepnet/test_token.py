"""The Keepnet client's access token: one request shared by concurrent callers, renewed before it
expires and after a 401."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import (
    BadCredentials,
    PlatformDown,
)
from bot.keepnet import MAX_ATTEMPTS
from tests.keepnet.conftest import FastSleep, MakeClient, flagged_ids


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


async def test_token_expiring_mid_pagination_is_renewed_silently(make_client: MakeClient) -> None:
    client, sandbox = await make_client(companies=2000, over_limit=500)
    sandbox.switches.token_max_calls = 3
    fetch = await client.fetch_over_limit()
    assert {c.company_id for c in fetch.companies} == flagged_ids(sandbox)
    assert sandbox.token_requests >= 2
    assert ("/api/companies/search", 401) in sandbox.requests
