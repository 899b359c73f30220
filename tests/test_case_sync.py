"""Cases follow every fetch without holding up the answer that fetched it."""

from __future__ import annotations

from pathlib import Path

from bot.store import Store
from tests.runtime import running_fakes


async def test_closing_the_runtime_writes_the_cases_of_its_last_fetch(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'cases.db'}"
    async with running_fakes(database_url=database_url, over_limit=40) as fakes:
        runtime = await fakes.runtime(fakes.settings())
        report = await runtime.services.report()  # the cases are opened after the answer
        await runtime.close()

    store = Store(database_url)
    try:
        opened = {case.company_id for case in store.cases("open")}
    finally:
        store.close()
    assert report.overages and opened == {o.company.company_id for o in report.overages}
