"""The sandbox's search: the overage filter, pages and their totals, name and reseller filters, and
the bodies it refuses."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bot.overage import parse_company
from bot.sandbox.data import HOSTILE_NAMES, is_flagged
from bot.sandbox.server import Sandbox
from tests.sandbox.conftest import DTO_KEYS, OVER, _all_pages, _search, _token


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
