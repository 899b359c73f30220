"""Shared fixtures and hooks: a clean environment for every test, a database of its own, and
the system tier's tally printed at the end (gathered from every xdist worker)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.store import Store
from tests.databases import BACKENDS, postgres_schema
from tests.system.tally import TALLY, summary_lines

_TALLY_KEY = "system_tally"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's Slack or Keepnet settings."""
    for name in list(os.environ):
        if name.startswith(("SLACK_", "KEEPNET_", "DIGEST_", "ALLOWED_", "CASE_")) or name in (
            "DATABASE_URL",
            "SEAT_PRICE",
            "SEAT_PRICES",
            "CACHE_SECONDS",
        ):
            monkeypatch.delenv(name, raising=False)


# times acks under load: started after the other system files, not beside their process starts
SYSTEM_LAST = ("test_load.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The system tests first (a stable sort): in a parallel run their waits for processes and
    real minutes start at once and overlap the rest, instead of starting last."""
    items.sort(
        key=lambda item: (item.get_closest_marker("slow") is None, item.path.name in SYSTEM_LAST)
    )


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of this test's own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bot.db'}"
        return
    with postgres_schema() as url:
        yield url


MakeStore = Callable[[], Store]


@pytest.fixture
def make_store(database_url: str) -> Iterator[MakeStore]:
    """Separate Store instances on one database, like separate processes; all closed after."""
    stores: list[Store] = []

    def make() -> Store:
        store = Store(database_url)
        store.upgrade()
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


@pytest.fixture
def store(make_store: MakeStore) -> Store:
    return make_store()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker hands its tally to the process that prints the summary."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[_TALLY_KEY] = TALLY.counts()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist: a worker finished; add its tally to ours."""
    counts = getattr(node, "workeroutput", {}).get(_TALLY_KEY)
    if counts:
        TALLY.add(counts)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not TALLY.used:
        return
    terminalreporter.section("system tier summary")
    for line in summary_lines():
        terminalreporter.write_line(line)
