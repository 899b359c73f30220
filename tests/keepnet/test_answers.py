"""What the Keepnet client reads in the platform's answers: either envelope, success as a 2xx with
data whatever its status says, RFC 3339 date-times."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.errors import (
    RequestRejected,
)
from tests.keepnet.conftest import MakeClient, flagged_ids


async def test_the_other_envelope_is_read_too(make_client: MakeClient) -> None:
    client, sandbox = await make_client()
    sandbox.switches.use_is_success_envelope = True
    fetch = await client.fetch_over_limit()
    assert len(fetch.companies) == len(flagged_ids(sandbox))


@pytest.mark.parametrize("status", ["Success", "SUCCESS", "success", "Succeeded", "OK", ""])
async def test_a_2xx_with_data_is_success_whatever_its_status_spelling(
    make_client: MakeClient, status: str
) -> None:
    client, sandbox = await make_client()
    sandbox.switches.envelope_status = status
    fetch = await client.fetch_over_limit()
    assert {c.company_id for c in fetch.companies} == flagged_ids(sandbox)


@pytest.mark.parametrize("status", ["FAILED", "failed", "Error", " Failure "])
async def test_an_explicit_failure_status_in_any_letter_case_is_a_refusal(
    make_client: MakeClient, status: str
) -> None:
    client, sandbox = await make_client()
    sandbox.switches.envelope_status = status
    with pytest.raises(RequestRejected, match="rejected the request: no reason given"):
        await client.fetch_over_limit()
    assert sandbox.search_requests == 1


@pytest.mark.parametrize(
    ("offset", "digits", "added_us"),
    [(180, 3, 123_000), (180, 7, 123_456), (-330, 12, 123_456), (None, 1, 100_000), (0, 0, 0)],
)
async def test_date_times_with_fractions_and_offsets_are_the_right_instants(
    make_client: MakeClient, offset: int | None, digits: int, added_us: int
) -> None:
    client, sandbox = await make_client(companies=200, over_limit=30)
    sandbox.switches.time_offset_minutes = offset
    sandbox.switches.time_fraction_digits = digits
    rows = {c["companyResourceId"]: c for c in sandbox.companies}
    fetch = await client.fetch_over_limit()
    assert len(fetch.companies) == 30
    added = timedelta(microseconds=added_us)
    for company in fetch.companies:
        raw = rows[company.company_id]
        assert company.created == datetime.fromisoformat(raw["createTime"]) + added
        assert company.license_end == datetime.fromisoformat(raw["licenseEndDate"]) + added
        assert company.created is not None
        assert company.created.utcoffset() == timedelta(minutes=offset or 0)
