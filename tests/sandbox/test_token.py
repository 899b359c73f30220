"""The sandbox's token endpoint: form-encoded, a JWT whose role claim reads as the platform's, and
the platform's refusals."""

from __future__ import annotations

import httpx

from bot.sandbox.server import Sandbox
from tests.sandbox.conftest import FORM, _body, _claims, _search, _token


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
