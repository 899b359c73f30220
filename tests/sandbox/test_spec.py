"""What the published spec allows, the sandbox accepts: any page size, orderBy field, request media
type and key casing."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.sandbox.conftest import FORM, OVER, _all_pages, _body, _search, _token


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
