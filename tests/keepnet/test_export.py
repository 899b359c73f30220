"""The platform's own export, passed on as the file it sent."""

from __future__ import annotations

import httpx
import pytest

from bot.errors import (
    RequestRejected,
)
from tests.keepnet.conftest import MakeClient


@pytest.mark.parametrize(
    ("fmt", "filename"), [("csv", "Companies.csv"), ("xlsx", "Companies.xlsx")]
)
async def test_native_export_is_the_platform_file_unchanged(
    make_client: MakeClient, fmt: str, filename: str
) -> None:
    client, sandbox = await make_client()
    native = await client.export(fmt)
    assert native.filename == filename
    token = sandbox.issued_tokens[-1]
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


async def test_an_export_answered_with_an_envelope_is_not_a_file(make_client: MakeClient) -> None:
    client, sandbox = await make_client()
    sandbox.switches.export_envelope_next = 1
    with pytest.raises(RequestRejected) as caught:
        await client.export("xlsx")
    assert str(caught.value) == "The Keepnet platform rejected the request: Sandbox export fault."
    assert (await client.export("xlsx")).content[:2] == b"PK"
