"""Databases for tests: a SQLite file, or a PostgreSQL schema of the test's own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "")
POSTGRES_SKIP = "TEST_POSTGRES_URL is not set: PostgreSQL tests skipped"
BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.skipif(not POSTGRES_URL, reason=POSTGRES_SKIP)),
]


@contextmanager
def postgres_schema(base: str = POSTGRES_URL) -> Iterator[str]:
    """A URL whose connections work in a fresh schema of their own, dropped on the way out."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()
