"""Faults between the Keepnet client and the platform: transient answers, hangs and refused
connections retried within one deadline, then one plain sentence; calls counted, secrets never
shown."""

from __future__ import annotations

import logging

import httpx
import pytest

from bot.config import Settings
from bot.errors import (
    BadCredentials,
    BotError,
    PlatformDown,
    RequestRejected,
)
from bot.keepnet import MAX_ATTEMPTS, KeepnetClient
from bot.logs import upstream_calls
from tests.keepnet.conftest import SECRET, FastSleep, MakeClient, flagged_ids


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
