"""Shared fixtures: a clean environment for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import BACKENDS, postgres_schema


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


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of this test's own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bot.db'}"
        return
    with postgres_schema() as url:
        yield url
