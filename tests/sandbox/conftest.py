"""The sandbox Keepnet API behaves like the platform described in keepnet-api.md, over HTTP: a
sandbox per test, a client to it, and the calls the tests make."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

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
