"""The sandbox's switches, set by the tests or over its admin endpoints: faults, records that move,
envelopes, roles, page-size caps and date-time forms."""

from __future__ import annotations

import asyncio
import json
import math
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from bot.sandbox.data import is_flagged
from bot.sandbox.server import Sandbox
from tests.sandbox.conftest import FORM, OVER, _all_pages, _body, _claims, _search, _token


async def test_fail_next_answers_each_status_once(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    token = await _token(client)
    sandbox.switches.fail_next = [503, 503]
    statuses = [(await _search(client, token)).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert sandbox.requests[-3:] == [("/api/companies/search", s) for s in statuses]


async def test_429_carries_retry_after(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    token = await _token(client)
    sandbox.switches.fail_next = [429]
    sandbox.switches.retry_after_s = 7
    response = await _search(client, token)
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"


async def test_fail_token_next_applies_to_the_token_endpoint(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.switches.fail_token_next = [502]
    assert (await client.post("/connect/token", data=FORM)).status_code == 502
    assert (await client.post("/connect/token", data=FORM)).status_code == 200
    assert sandbox.token_requests == 2


async def test_token_dies_after_its_allowed_calls(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.switches.token_max_calls = 2
    token = await _token(client)
    statuses = [(await _search(client, token)).status_code for _ in range(3)]
    assert statuses == [200, 200, 401]
    assert (await _search(client, await _token(client))).status_code == 200


async def test_expired_token_is_401(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.switches.token_ttl_s = 0
    token = await _token(client)
    assert (await _search(client, token)).status_code == 401


async def test_malformed_answer_is_200_without_json(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    token = await _token(client)
    sandbox.switches.malformed_next = 1
    response = await _search(client, token)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    assert (await _search(client, token)).json()["status"] == "Success"


async def test_hang_outlasts_a_client_timeout(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    token = await _token(client)
    sandbox.switches.hang_next = 1
    with pytest.raises(httpx.ReadTimeout):
        await client.post(
            "/api/companies/search",
            json=_body(),
            headers={"Authorization": f"Bearer {token}"},
            timeout=0.2,
        )
    assert (await _search(client, token)).status_code == 200


async def test_concurrent_requests_are_counted(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    token = await _token(client)
    sandbox.switches.latency_s = 0.5
    responses = await asyncio.gather(*(_search(client, token) for _ in range(4)))
    assert {r.status_code for r in responses} == {200}
    assert sandbox.max_in_flight == 4 and sandbox.search_requests == 4


async def test_shift_slides_the_last_row_of_page_one_onto_page_two(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    token = await _token(client)
    sandbox.switches.shift_every = 1
    page_one = (await _search(client, token, pageSize=10)).json()["data"]
    page_two = (await _search(client, token, pageSize=10, pageNumber=2)).json()["data"]
    assert page_two["results"][0] == page_one["results"][-1]
    assert page_two["totalNumberOfRecords"] == OVER + 1


async def test_shift_remove_makes_a_row_skip_page_two(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    token = await _token(client)
    steady = await _all_pages(client, token, pageSize=10)
    sandbox.switches.shift_every, sandbox.switches.shift_remove = 1, True
    page_one = (await _search(client, token, pageSize=10)).json()["data"]
    page_two = (await _search(client, token, pageSize=10, pageNumber=2)).json()["data"]
    assert page_one["results"] == steady[:10]
    assert page_two["results"][0] == steady[11]  # steady[10] slid to page one, unseen
    assert page_two["totalNumberOfRecords"] == OVER - 1


async def test_leave_join_keeps_the_total_and_slides_a_row_past_page_two(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    token = await _token(client)
    steady = await _all_pages(client, token, pageSize=10)
    sandbox.switches.leave_join_after_page = 1
    page_one = (await _search(client, token, pageSize=10)).json()["data"]
    page_two = (await _search(client, token, pageSize=10, pageNumber=2)).json()["data"]
    assert page_one["results"] == steady[:10]
    assert page_two["results"][0] == steady[11]  # steady[10] slid to page one, unseen
    assert page_two["totalNumberOfRecords"] == OVER  # one left, one joined
    now = await _all_pages(client, token, pageSize=10)
    assert now[:-1] == steady[1:]  # it happened once, and the newcomer is last
    assert is_flagged(now[-1]) and now[-1]["companyResourceId"] not in {
        r["companyResourceId"] for r in steady
    }
    assert sandbox.switches.leave_join_after_page is None


async def test_leave_join_waits_for_its_page(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    token = await _token(client)
    before = {c["companyResourceId"] for c in sandbox.companies}
    sandbox.switches.leave_join_after_page = 3
    for page in (1, 2):
        await _search(client, token, pageSize=10, pageNumber=page)
    assert {c["companyResourceId"] for c in sandbox.companies} == before
    await _search(client, token, pageSize=10, pageNumber=3)
    after = {c["companyResourceId"] for c in sandbox.companies}
    assert len(after - before) == len(before - after) == 1


@pytest.mark.parametrize("total", [math.nan, math.inf, 1e9])
async def test_reported_total_replaces_the_counts(
    client: httpx.AsyncClient, sandbox: Sandbox, total: float
) -> None:
    token = await _token(client)
    sandbox.switches.reported_total = total
    answer = await _search(client, token, pageSize=10)
    data = json.loads(answer.text)  # the json module reads NaN and Infinity too
    reported = repr(total)
    assert repr(data["data"]["totalNumberOfRecords"]) == reported
    assert repr(data["data"]["totalNumberOfPages"]) == reported
    assert len(data["data"]["results"]) == 10
    rejected = await client.post("/_sandbox/switches", json={"reported_total": "many"})
    assert rejected.status_code == 400


async def test_export_envelope_next_answers_200_with_a_failed_envelope(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    token = await _token(client)
    sandbox.switches.export_envelope_next = 1
    body = {"exportType": "Csv", "reportAllPages": True}
    failed = await _search(client, token, "/api/companies/search/export", **body)
    assert failed.status_code == 200 and failed.headers["Content-Type"].startswith(
        "application/json"
    )
    assert failed.json()["status"] == "Failed"
    file = await _search(client, token, "/api/companies/search/export", **body)
    assert file.headers["Content-Type"].startswith("text/csv")


async def test_a_credential_without_a_role_gets_a_token_without_one(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.switches.role = ""
    token = await _token(client)
    claims = _claims(token)
    assert "role" not in claims and claims["reseller_access"] == "false"
    assert (await _search(client, token)).status_code == 403
    assert sandbox.issued_tokens == [token]


async def test_is_success_envelope(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    sandbox.switches.use_is_success_envelope = True
    token = await _token(client)
    good = (await _search(client, token)).json()
    bad = (await _search(client, token, filter=None)).json()
    assert good["isSuccess"] is True and "status" not in good and good["data"]["results"]
    assert bad["isSuccess"] is False and bad["messages"]


async def test_page_size_cap_serves_fewer_rows_and_says_so(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    token = await _token(client)
    steady = await _all_pages(client, token, pageSize=15)
    sandbox.switches.page_size_cap = 15
    first = (await _search(client, token, pageSize=100)).json()["data"]
    second = (await _search(client, token, pageSize=100, pageNumber=2)).json()["data"]
    assert (first["pageSize"], first["totalNumberOfPages"]) == (15, 3)
    assert first["results"] + second["results"] == steady[:30]
    assert (await _search(client, token, pageSize=10)).json()["data"]["pageSize"] == 10


async def test_max_page_size_refuses_a_bigger_page(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    token = await _token(client)
    sandbox.switches.max_page_size = 50
    refused = await _search(client, token, pageSize=51)
    assert refused.status_code == 400
    assert refused.json()["validationMessages"] == ["'pageSize' must be at most 50."]
    assert (await _search(client, token, pageSize=50)).status_code == 200


async def test_hidden_rows_are_counted_but_never_served(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    token = await _token(client)
    steady = await _all_pages(client, token, pageSize=15)
    sandbox.switches.hidden_rows = 3
    rows = await _all_pages(client, token, pageSize=15)
    data = (await _search(client, token, pageSize=15)).json()["data"]
    assert rows == steady[:-3]
    assert data["totalNumberOfRecords"] == data["limitExceededCompanyCount"] == OVER


@pytest.mark.parametrize("status", ["SUCCESS", "success", "Ok"])
async def test_envelope_status_spells_the_status_of_a_success(
    client: httpx.AsyncClient, sandbox: Sandbox, status: str
) -> None:
    token = await _token(client)
    sandbox.switches.envelope_status = status
    assert (await _search(client, token)).json()["status"] == status
    assert (await _search(client, token, filter=None)).json()["status"] == "Failed"


async def test_served_roles_decide_the_search_and_the_permissions_listed(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    sandbox.switches.role = "Billing Partner"
    refused = (await client.post("/connect/token", data=FORM)).json()
    assert "companies/search|POST" not in refused["permissions"]
    assert (await _search(client, refused["access_token"])).status_code == 403
    sandbox.switches.served_roles = ["Reseller", "Billing Partner"]
    served = (await client.post("/connect/token", data=FORM)).json()
    assert "companies/search|POST" in served["permissions"]
    assert _claims(served["access_token"])["role"] == "Billing Partner"
    assert (await _search(client, served["access_token"])).status_code == 200


async def test_unlimited_in_answer_lets_unlimited_licences_through_the_filter(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    token = await _token(client)
    sandbox.switches.unlimited_in_answer = True
    rows = await _all_pages(client, token, pageSize=50)
    unlimited = [r for r in sandbox.companies if r["isNumberOfUsersLimited"] is False]
    data = (await _search(client, token)).json()["data"]
    assert unlimited and len(rows) == OVER + len(unlimited)
    assert data["totalNumberOfRecords"] == OVER + len(unlimited)
    assert data["limitExceededCompanyCount"] == OVER


async def test_time_switches_send_the_instant_in_an_offset_with_a_fraction(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    token = await _token(client)
    plain = (await _search(client, token, pageSize=5)).json()["data"]["results"]
    sandbox.switches.time_offset_minutes = -330
    sandbox.switches.time_fraction_digits = 4
    sent = (await _search(client, token, pageSize=5)).json()["data"]["results"]
    assert plain[0]["createTime"].endswith("Z")
    for before, after in zip(plain, sent, strict=True):
        moment = datetime.fromisoformat(before["createTime"].replace("Z", "+00:00"))
        local = moment.astimezone(timezone(timedelta(hours=-5, minutes=-30)))
        assert after["createTime"] == f"{local:%Y-%m-%dT%H:%M:%S}.1234-05:30"


async def test_admin_endpoints_steer_the_sandbox(
    client: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    token = await _token(client)
    answer = await client.post("/_sandbox/switches", json={"fail_next": [503], "latency_s": 0})
    assert answer.json()["fail_next"] == [503]
    assert (await _search(client, token)).status_code == 503
    unknown = await client.post("/_sandbox/switches", json={"bogus": 1})
    wrong_type = await client.post("/_sandbox/switches", json={"hang_next": "many"})
    assert unknown.status_code == wrong_type.status_code == 400
    before = {c["companyResourceId"] for c in sandbox.companies if is_flagged(c)}
    moved = await client.post("/_sandbox/advance", json={"seed": 9})
    assert moved.json()["companies"] == 300
    assert before != {c["companyResourceId"] for c in sandbox.companies if is_flagged(c)}
    stats = (await client.get("/_sandbox/stats")).json()
    assert (stats["token_requests"], stats["search_requests"]) == (1, 1)
    assert stats["requests"][-1] == ["/api/companies/search", 503]


def test_run_in_thread_serves_sync_callers() -> None:
    box = Sandbox(companies=25, over_limit=5)
    with box.run_in_thread() as url, httpx.Client(base_url=url) as http:
        token = http.post("/connect/token", data=FORM).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        http.post("/_sandbox/switches", json={"fail_next": [500]})
        assert http.post("/api/companies/search", json=_body(), headers=headers).status_code == 500
        data = http.post("/api/companies/search", json=_body(), headers=headers).json()["data"]
    assert data["totalNumberOfRecords"] == 5
    assert box.search_requests == 2
