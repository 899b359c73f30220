"""The sandbox's export: the file of every flagged company, as CSV or a workbook."""

from __future__ import annotations

import csv
import io

import httpx
import openpyxl
import pytest

from tests.sandbox.conftest import OVER, _search, _token


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
