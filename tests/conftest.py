"""Shared fixtures: a clean environment for every test."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's Slack or Keepnet settings."""
    for name in list(os.environ):
        if name.startswith(("SLACK_", "KEEPNET_", "DIGEST_", "ALLOWED_")) or name in (
            "DATABASE_URL",
            "SEAT_PRICE",
            "CACHE_SECONDS",
        ):
            monkeypatch.delenv(name, raising=False)
