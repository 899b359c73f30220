"""The platform's refusals as the Keepnet client says them: bad credentials, a role or permission
the search refuses, an address that is not the Keepnet API, a rejected request."""

from __future__ import annotations

import pytest

from bot.errors import (
    BadCredentials,
    NotReseller,
    PageSizeRefused,
    RequestRejected,
    WrongAddress,
)
from tests.keepnet.conftest import MakeClient, flagged_ids


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
