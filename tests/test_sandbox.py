"""The sandbox Keepnet API behaves like the platform described in keepnet-api.md, over HTTP."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import math
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import openpyxl
import pytest

from bot.overage import parse_company
from bot.sandbox.data import HOSTILE_NAMES, advance, generate_companies, is_flagged, is_over
from bot.sandbox.server import Sandbox

OVER = 40
FORM = {
    "grant_type": "client_credentials",
    "client_id": "sandbox-client",
    "client_secret": "sandbox-secret",
    "scope": "api1",
}
DTO_KEYS = {
    "companyName", "companyResourceId", "resellerName", "industryName", "industryResourceId",
    "licenseTypeName", "licenseTypeResourceId", "isNumberOfUsersLimited", "numberOfUsers",
    "targetUserCount", "inactiveTargetUserCount", "deletedTargetUserCount",
    "monthlyActiveUserCount", "licenceExpired", "licenseEndDate", "createTime", "tags",
    "privacyDurationId",
}  # fmt: skip


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    box = Sandbox(companies=300, seed=3, over_limit=OVER)
    await box.start()
    yield box
    await box.stop()


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as http:
        yield http


def _body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "pageNumber": 1,
        "pageSize": 100,
        "orderBy": "CreateTime",
        "ascending": False,
        "isTargetUserCountExceededLimit": True,
        "filter": {"Condition": "AND", "SearchInputTextValue": ""},
    }
    body.update(changes)
    return {name: value for name, value in body.items() if value is not ...}


async def _token(client: httpx.AsyncClient) -> str:
    response = await client.post("/connect/token", data=FORM)
    assert response.status_code == 200
    return str(response.json()["access_token"])


async def _search(
    client: httpx.AsyncClient, token: str, path: str = "/api/companies/search", **changes: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return await client.post(path, json=_body(**changes), headers=headers)


async def _all_pages(client: httpx.AsyncClient, token: str, **changes: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        data = (await _search(client, token, pageNumber=page, **changes)).json()["data"]
        rows += data["results"]
        if page >= data["totalNumberOfPages"]:
            return rows
        page += 1


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


# --- token ------------------------------------------------------------------------------------


async def test_token_sent_as_json_gets_500(client: httpx.AsyncClient) -> None:
    response = await client.post("/connect/token", json=FORM)
    assert response.status_code == 500


async def test_wrong_secret_gets_400_invalid_client(client: httpx.AsyncClient) -> None:
    response = await client.post("/connect/token", data={**FORM, "client_secret": "nope"})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_client"}


async def test_token_is_a_jwt_whose_role_claim_reads_reseller(client: httpx.AsyncClient) -> None:
    body = (await client.post("/connect/token", data=FORM)).json()
    assert body["token_type"] == "Bearer" and body["scope"] == "api1"
    assert body["expires_in"] == 3600 and body["permissions"]
    claims = _claims(body["access_token"])
    assert claims["role"] == "Reseller" and claims["reseller_access"] == "true"
    assert claims["client_id"] == "sandbox-client"
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["user_company_resourceid"] and claims["user_company_name"]


async def test_search_without_a_valid_token_is_401(client: httpx.AsyncClient) -> None:
    missing = await client.post("/api/companies/search", json=_body())
    forged = await _search(client, "eyJhbGciOiJIUzI1NiJ9.e30.c2ln")
    assert missing.status_code == forged.status_code == 401
    assert missing.json()["status"] == "Failed"


async def test_company_admin_credential_gets_403() -> None:
    box = Sandbox(companies=30, role="Company Admin")
    await box.start()
    async with httpx.AsyncClient(base_url=box.url) as http:
        token = await _token(http)
        response = await _search(http, token)
    await box.stop()
    assert _claims(token)["role"] == "Company Admin"
    assert _claims(token)["reseller_access"] == "false"
    assert response.status_code == 403


# --- search -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"orderBy": ...}, "orderBy"),
        ({"orderBy": None}, "orderBy"),
        ({"orderBy": "Popularity"}, "orderBy"),
        ({"ascending": ...}, "ascending"),
        ({"filter": None}, "filter"),
        ({"filter": ...}, "filter"),
        ({"filter": {"Condition": "AND", "SearchInputTextValue": None}}, "SearchInputTextValue"),
        ({"filter": {"Condition": "XOR", "SearchInputTextValue": ""}}, "Condition"),
        ({"pageNumber": 0}, "pageNumber"),
        ({"pageSize": 0}, "pageSize"),
        ({"pageSize": 2**31}, "pageSize"),  # beyond the spec's int32
    ],
)
async def test_invalid_search_body_is_400_naming_the_field(
    client: httpx.AsyncClient, changes: dict[str, Any], named: str
) -> None:
    response = await _search(client, await _token(client), **changes)
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "Failed" and body["data"] is None
    assert any(named in message for message in body["validationMessages"])


async def test_overage_filter_returns_exactly_the_flagged_companies(
    client: httpx.AsyncClient,
) -> None:
    rows = await _all_pages(client, await _token(client), pageSize=15)
    assert len(rows) == len({r["companyResourceId"] for r in rows}) == OVER
    companies = [parse_company(r) for r in rows]
    assert all(c.seats_over is None or c.seats_over > 0 for c in companies)
    assert 1 <= sum(1 for c in companies if c.limit is None) <= 2  # the "limit unknown" rows
    assert set(HOSTILE_NAMES) & {c.name for c in companies}
    assert all(set(r) == DTO_KEYS for r in rows)


async def test_pages_report_their_totals_and_split_the_rows(client: httpx.AsyncClient) -> None:
    token = await _token(client)
    first = (await _search(client, token, pageSize=7)).json()["data"]
    last = (await _search(client, token, pageSize=7, pageNumber=6)).json()["data"]
    beyond = (await _search(client, token, pageSize=7, pageNumber=7)).json()["data"]
    assert (first["pageNumber"], first["pageSize"]) == (1, 7)
    assert first["totalNumberOfRecords"] == first["limitExceededCompanyCount"] == OVER
    assert first["totalNumberOfPages"] == 6
    assert (len(first["results"]), len(last["results"]), beyond["results"]) == (7, 5, [])
    times = [r["createTime"] for r in first["results"]]
    assert times == sorted(times, reverse=True)


async def test_without_the_flag_every_company_is_listed(client: httpx.AsyncClient) -> None:
    token = await _token(client)
    data = (await _search(client, token, isTargetUserCountExceededLimit=False)).json()["data"]
    assert data["totalNumberOfRecords"] == 300
    assert data["limitExceededCompanyCount"] == OVER


async def test_name_search_ignores_case(client: httpx.AsyncClient, sandbox: Sandbox) -> None:
    word = sandbox.companies[0]["companyName"].split()[0]
    search = {"Condition": "AND", "SearchInputTextValue": word.swapcase()}
    rows = await _all_pages(client, await _token(client), filter=search)
    expected = [c for c in sandbox.companies if is_flagged(c) and word in c["companyName"]]
    assert {r["companyResourceId"] for r in rows} == {c["companyResourceId"] for c in expected}


async def test_filter_items_select_by_reseller(client: httpx.AsyncClient) -> None:
    item = {"FieldName": "ResellerName", "Operator": "=", "Value": "Nordic Cyber Partners"}
    search = {"Condition": "AND", "SearchInputTextValue": "", "FilterGroups": [
        {"Condition": "AND", "FilterItems": [item]}]}  # fmt: skip
    rows = await _all_pages(client, await _token(client), filter=search)
    assert rows and {r["resellerName"] for r in rows} == {"Nordic Cyber Partners"}


# --- what the published spec allows is accepted -----------------------------------------------


async def test_no_page_size_is_too_big(client: httpx.AsyncClient) -> None:
    data = (await _search(client, await _token(client), pageSize=100_000)).json()["data"]
    assert (data["pageSize"], data["totalNumberOfPages"], len(data["results"])) == (
        100_000,
        1,
        OVER,
    )


@pytest.mark.parametrize(
    ("order_by", "field"),
    [
        ("createTime", "createTime"),
        ("CREATETIME", "createTime"),
        ("targetUserCount", "targetUserCount"),
        ("MonthlyActiveUserCount", "monthlyActiveUserCount"),
        ("licenseTypeName", "licenseTypeName"),
        ("companyResourceId", "companyResourceId"),
        ("licenceExpired", "licenceExpired"),
    ],
)
async def test_order_by_takes_any_dto_field_in_any_letter_case(
    client: httpx.AsyncClient, order_by: str, field: str
) -> None:
    token = await _token(client)
    rows = await _all_pages(client, token, orderBy=order_by, ascending=True, pageSize=15)
    assert len(rows) == OVER
    values = [row[field] for row in rows]
    key = (lambda v: v.casefold()) if isinstance(values[0], str) else (lambda v: v)
    assert [key(v) for v in values] == sorted(key(v) for v in values)


@pytest.mark.parametrize(
    "media_type",
    ["application/json-patch+json", "application/json", "text/json", "application/merge+json",
     "application/json; charset=utf-8"],
)  # fmt: skip
async def test_every_request_media_type_of_the_spec_is_read(
    client: httpx.AsyncClient, media_type: str
) -> None:
    headers = {"Authorization": f"Bearer {await _token(client)}", "Content-Type": media_type}
    answer = await client.post(
        "/api/companies/search", content=json.dumps(_body()), headers=headers
    )
    assert answer.status_code == 200
    assert answer.json()["data"]["totalNumberOfRecords"] == OVER


async def test_a_body_that_is_not_json_by_its_media_type_is_refused(
    client: httpx.AsyncClient,
) -> None:
    headers = {"Authorization": f"Bearer {await _token(client)}", "Content-Type": "text/plain"}
    answer = await client.post(
        "/api/companies/search", content=json.dumps(_body()), headers=headers
    )
    assert answer.status_code == 400
    assert "text/plain" in answer.json()["validationMessages"][0]


async def test_camel_case_keys_bind_like_pascal_case(client: httpx.AsyncClient) -> None:
    item = {"FieldName": "ResellerName", "Operator": "=", "Value": "Nordic Cyber Partners"}
    pascal = {"Condition": "AND", "SearchInputTextValue": "a",
              "FilterGroups": [{"Condition": "AND", "FilterItems": [item]}]}  # fmt: skip
    camel_item = {"fieldName": "resellerName", "operator": "=", "value": "Nordic Cyber Partners"}
    nested = {"condition": "and", "filterGroups": [{"filterItems": [camel_item]}]}
    camel = {"condition": "AND", "searchInputTextValue": "a", "filterGroups": [nested]}
    token = await _token(client)
    expected = await _all_pages(client, token, filter=pascal)
    got = await _all_pages(client, token, filter=camel)
    assert expected and got == expected
    assert {r["resellerName"] for r in got} == {"Nordic Cyber Partners"}
    body = {"PageNumber": 1, "PAGESIZE": 5, "OrderBy": "createTime", "Ascending": False,
            "IsTargetUserCountExceededLimit": True, "Filter": camel}  # fmt: skip
    answer = await client.post(
        "/api/companies/search", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.json()["data"]["results"] == expected[:5]


async def test_the_token_request_needs_its_scope(client: httpx.AsyncClient) -> None:
    without = {name: value for name, value in FORM.items() if name != "scope"}
    missing = await client.post("/connect/token", data=without)
    wrong = await client.post("/connect/token", data={**FORM, "scope": "api2"})
    assert (missing.status_code, wrong.status_code) == (400, 400)
    assert wrong.json() == {"error": "invalid_scope"}
    assert (await client.post("/connect/token", data=FORM)).status_code == 200


# --- export -----------------------------------------------------------------------------------


async def test_csv_export_is_the_file_of_every_flagged_company(client: httpx.AsyncClient) -> None:
    export = "/api/companies/search/export"
    token = await _token(client)
    response = await _search(client, token, export, exportType="Csv", reportAllPages=True)
    assert response.headers["content-type"].startswith("text/csv")
    assert "filename=Companies.csv" in response.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8"))))
    assert table[0][:2] == ["Company Name", "Reseller"] and "License Limit" in table[0]
    assert len(table) == OVER + 1
    one_page = await _search(client, token, export, exportType="Csv", pageSize=10)
    assert len(list(csv.reader(io.StringIO(one_page.text)))) == 11


async def test_excel_export_is_a_workbook_keeping_names_as_text(
    client: httpx.AsyncClient,
) -> None:
    export = "/api/companies/search/export"
    response = await _search(
        client, await _token(client), export, exportType="Excel", reportAllPages=True
    )
    assert response.status_code == 200
    assert "filename=Companies.xlsx" in response.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    book.close()
    assert rows[0][0] == "Company Name" and len(rows) == OVER + 1
    assert '=HYPERLINK("http://evil.example","click")' in {row[0] for row in rows}


@pytest.mark.parametrize(
    ("export_type", "kind"),
    [("CSV", "text/csv"), ("csv", "text/csv"), ("EXCEL", "application/vnd.openxmlformats")],
)
async def test_export_type_is_read_in_any_letter_case(
    client: httpx.AsyncClient, export_type: str, kind: str
) -> None:
    export = "/api/companies/search/export"
    answer = await _search(client, await _token(client), export, exportType=export_type)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(kind)


async def test_unknown_export_type_is_400(client: httpx.AsyncClient) -> None:
    export = "/api/companies/search/export"
    response = await _search(client, await _token(client), export, exportType="Pdf")
    assert response.status_code == 400
    assert any("exportType" in m for m in response.json()["validationMessages"])


# --- switches ---------------------------------------------------------------------------------


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


# --- data -------------------------------------------------------------------------------------


def test_generate_companies_is_deterministic_per_seed() -> None:
    first, again = generate_companies(200, seed=5), generate_companies(200, seed=5)
    other = generate_companies(200, seed=6)
    assert first == again and first != other
    assert len({c["companyResourceId"] for c in first}) == 200
    assert sum(1 for c in first if is_flagged(c)) == 30  # 15 % by default


def test_generated_rows_look_like_the_platform() -> None:
    rows = generate_companies(120, seed=2, over_limit=32)
    assert all(set(r) == DTO_KEYS for r in rows)
    assert all(r["numberOfUsers"] is None or isinstance(r["numberOfUsers"], str) for r in rows)
    assert all(r["createTime"].endswith("Z") for r in rows)
    assert any(not r["isNumberOfUsersLimited"] for r in rows)
    assert any(r["tags"] for r in rows) and any(not r["tags"] for r in rows)
    assert sum(1 for r in rows if is_flagged(r)) == 32
    assert set(HOSTILE_NAMES) <= {r["companyName"] for r in rows if is_over(r)}
    assert len(HOSTILE_NAMES[8]) == 300


def test_advance_moves_companies_over_and_back() -> None:
    week_one = generate_companies(300, seed=4)
    week_two = advance(week_one, seed=2)
    assert advance(week_one, seed=2) == week_two
    before = {c["companyResourceId"] for c in week_one if is_over(c)}
    after = {c["companyResourceId"] for c in week_two if is_over(c)}
    assert after - before and before - after
    names = {c["companyResourceId"]: c["companyName"] for c in week_one}
    renamed = [c for c in week_two if names[c["companyResourceId"]] != c["companyName"]]
    assert len(renamed) == 1 and is_over(renamed[0])
    assert week_one == generate_companies(300, seed=4)  # the input is left as it was
