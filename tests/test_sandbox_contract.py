"""Every kind of sandbox answer is valid under Keepnet's published OpenAPI document, so the
sandbox cannot drift from the contract the bot is built against.

The spec is OpenAPI 3.0: its `nullable` becomes a JSON-schema type that admits null, and its
formats are checked (`int32` by range, `date-time` as RFC 3339). What the spec leaves open is
not checked: the error answers of the search and export (it documents none), and the export's
file. Two switches send answers the spec does not allow on purpose, to prove the client copes:
`use_is_success_envelope` (another Keepnet service's envelope) and `reported_total` (counts
that are not counts); they are left out here.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from bot.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = ROOT.parent / "shared" / "reference" / "keepnet" / "openapi-extract.json"
FORM = {
    "grant_type": "client_credentials",
    "client_id": "sandbox-client",
    "client_secret": "sandbox-secret",
    "scope": "api1",
}
SEARCH = "/api/companies/search"
TOKEN = "/connect/token"
INT32 = (-(2**31), 2**31 - 1)
_RFC3339 = re.compile(
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:"
    r"([0-5][0-9]|60)(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
)


def _openapi_to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0's schema dialect as JSON Schema: nullable becomes a null type."""
    if isinstance(node, list):
        return [_openapi_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _openapi_to_json_schema(value) for key, value in node.items()}
    if converted.pop("nullable", False) is True and "type" in converted:
        converted["type"] = [converted["type"], "null"]
    return converted


def _rfc3339(value: object) -> bool:
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        return False
    try:  # the calendar too: no 31 June, no 29 February in 2025
        datetime.fromisoformat(value[:10])
    except ValueError:
        return False
    return True


def _int32(value: object) -> bool:
    if not isinstance(value, int) or isinstance(value, bool):
        return True  # the type keyword judges non-integers
    return INT32[0] <= value <= INT32[1]


CHECKER = FormatChecker(formats=())
CHECKER.checks("date-time")(_rfc3339)
CHECKER.checks("int32")(_int32)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return dict(json.loads(SPEC_PATH.read_text(encoding="utf-8")))


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    components = _openapi_to_json_schema(spec["components"])
    document = {**_openapi_to_json_schema(schema), "components": components}
    Draft202012Validator.check_schema(document)
    return Draft202012Validator(document, format_checker=CHECKER)


def component(spec: dict[str, Any], name: str) -> Draft202012Validator:
    return validator(spec, {"$ref": f"#/components/schemas/{name}"})


def token_answer(spec: dict[str, Any]) -> Draft202012Validator:
    responses = spec["paths"][TOKEN]["post"]["responses"]
    return validator(spec, responses["200"]["content"]["application/json"]["schema"])


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    box = Sandbox(companies=400, seed=8, over_limit=60)
    await box.start()
    yield box
    await box.stop()


@pytest.fixture
async def client(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as http:
        yield http


def body(**changes: Any) -> dict[str, Any]:
    return {
        "pageNumber": 1,
        "pageSize": 25,
        "orderBy": "CreateTime",
        "ascending": False,
        "isTargetUserCountExceededLimit": True,
        "filter": {"Condition": "AND", "SearchInputTextValue": ""},
        **changes,
    }


async def bearer(client: httpx.AsyncClient) -> dict[str, str]:
    answer = await client.post(TOKEN, data=FORM)
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def every_page(client: httpx.AsyncClient, **changes: Any) -> list[dict[str, Any]]:
    """Each page of one list, and the page after its end."""
    headers = await bearer(client)
    first = (await client.post(SEARCH, json=body(**changes), headers=headers)).json()
    pages = [first]
    for number in range(2, int(first["data"]["totalNumberOfPages"]) + 2):
        answer = await client.post(SEARCH, json=body(pageNumber=number, **changes), headers=headers)
        assert answer.status_code == 200
        pages.append(answer.json())
    return pages


# --- token --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["Reseller", "Billing Partner", ""])
async def test_the_token_answer_is_the_published_one(
    spec: dict[str, Any], sandbox: Sandbox, client: httpx.AsyncClient, role: str
) -> None:
    sandbox.switches.role = role
    answer = await client.post(TOKEN, data=FORM)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    token_answer(spec).validate(answer.json())


@pytest.mark.parametrize(
    "form",
    [
        {**FORM, "client_secret": "wrong"},
        {**FORM, "scope": "api2"},
        {name: value for name, value in FORM.items() if name != "scope"},
        {**FORM, "grant_type": "password"},
    ],
    ids=["wrong-secret", "wrong-scope", "no-scope", "wrong-grant"],
)
async def test_a_refused_token_request_answers_a_status_the_spec_lists(
    spec: dict[str, Any], client: httpx.AsyncClient, form: dict[str, str]
) -> None:
    listed = spec["paths"][TOKEN]["post"]["responses"]
    answer = await client.post(TOKEN, data=form)
    assert str(answer.status_code) in listed and answer.status_code != 200


async def test_the_token_request_the_client_sends_is_the_published_form(
    spec: dict[str, Any],
) -> None:
    form = spec["paths"][TOKEN]["post"]["requestBody"]["content"]
    schema = form["application/x-www-form-urlencoded"]["schema"]
    validator(spec, schema).validate(FORM)


# --- search -------------------------------------------------------------------------------------

SWITCHED: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("plain", {}, {}),
    ("every company", {}, {"isTargetUserCountExceededLimit": False}),
    ("name search", {}, {"filter": {"condition": "AND", "searchInputTextValue": "a"}}),
    ("nothing found", {}, {"filter": {"Condition": "AND", "SearchInputTextValue": "§§"}}),
    ("camelCase order", {}, {"orderBy": "targetUserCount", "ascending": True}),
    ("page-size cap", {"page_size_cap": 10}, {}),
    ("hidden rows", {"hidden_rows": 7}, {}),
    ("unlimited rows in the answer", {"unlimited_in_answer": True}, {}),
    ("offsets and fractions", {"time_offset_minutes": 180, "time_fraction_digits": 7}, {}),
    ("negative offset", {"time_offset_minutes": -570, "time_fraction_digits": 1}, {}),
    ("fractions in UTC", {"time_fraction_digits": 12}, {}),
    ("status in capitals", {"envelope_status": "SUCCESS"}, {}),
]


@pytest.mark.parametrize(
    ("switches", "changes"), [(s, c) for _, s, c in SWITCHED], ids=[w for w, _, _ in SWITCHED]
)
async def test_every_search_page_is_the_published_envelope(
    spec: dict[str, Any],
    sandbox: Sandbox,
    client: httpx.AsyncClient,
    switches: dict[str, Any],
    changes: dict[str, Any],
) -> None:
    sandbox.switches.update(switches)
    check = component(spec, "ServiceResultOfCompanyPage")
    pages = await every_page(client, **changes)
    for page in pages:
        check.validate(page)
    assert pages[-1]["data"]["results"] == []  # the page after the end is valid too


async def test_the_validator_refuses_what_the_spec_forbids(spec: dict[str, Any]) -> None:
    """The checks above can fail: answers off the contract are caught."""
    check = component(spec, "ServiceResultOfCompanyPage")
    row = {"companyName": None, "targetUserCount": 5, "createTime": "2025-06-30T00:00:00.5Z"}
    good = {"status": "Success", "data": {"pageNumber": 1, "results": [row]}}
    check.validate(good)
    broken = [
        {**good, "isSuccess": True},  # the other envelope: not this schema
        {**good, "data": {"results": [{**row, "extra": 1}]}},
        {**good, "data": {"results": [{**row, "createTime": "2025-06-30T00:00:00"}]}},
        {**good, "data": {"results": [{**row, "createTime": "2025-06-31T00:00:00Z"}]}},
        {**good, "data": {"results": [{**row, "targetUserCount": 2**31}]}},
        {**good, "data": {"results": [{**row, "targetUserCount": None}]}},
        {**good, "data": {"totalNumberOfRecords": 1.5}},
    ]
    for answer in broken:
        with pytest.raises(ValidationError):
            check.validate(answer)


@pytest.mark.parametrize(
    ("name", "sent"),
    [
        ("CompanySearchBody", body()),
        ("CompanySearchRequest", body(filter={"condition": "AND", "searchInputTextValue": ""})),
        ("CompanyExportBody", body(exportType="CSV", reportAllPages=True)),
    ],
)
async def test_the_sandbox_accepts_bodies_the_spec_describes(
    spec: dict[str, Any], client: httpx.AsyncClient, name: str, sent: dict[str, Any]
) -> None:
    component(spec, name).validate(sent)
    path = "/api/companies/search/export" if "exportType" in sent else SEARCH
    answer = await client.post(path, json=sent, headers=await bearer(client))
    assert answer.status_code == 200
