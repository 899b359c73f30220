"""Alembic environment: runs the migrations on the connection Store.upgrade() hands over."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

config = context.config


def _run(connection: sa.Connection) -> None:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # replicas starting together: the first migrates, the others wait, then find it done
            connection.execute(
                sa.text(
                    "SELECT pg_advisory_xact_lock(hashtext('overage-bot:' || current_schema()))"
                )
            )
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # `alembic -x` style use by a developer: sqlalchemy.url set on the Config
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as own_connection:
        _run(own_connection)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (--sql) migrations are not supported; use Store.upgrade().")
run_migrations_online()
