"""The connection every query shares: the engine, one transaction at a time, database
failures as StoreUnavailable, and the migrations run to head."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url

from bot.errors import StoreUnavailable
from bot.store.schema import MIGRATIONS, READ_ONLY, _make_engine

# alembic's `context` is one module-level proxy: two upgrades in one process must take turns
# (other processes are kept apart by the database itself, see migrations/env.py)
_MIGRATING = threading.Lock()


class Database:
    """A SQLAlchemy engine on DATABASE_URL; the query mixins of Store build on it."""

    def __init__(self, url: str) -> None:
        try:
            self.url = make_url(url)
            self.engine = _make_engine(self.url)
        except sa.exc.ArgumentError:
            raise StoreUnavailable(
                "DATABASE_URL is not a database URL the bot can use.",
                hint="Use sqlite:///path/to/file.db or postgresql+psycopg://user@host/db.",
            ) from None

    @property
    def where(self) -> str:
        """Where the database is, for messages: never the password."""
        url = self.url
        if url.get_backend_name() == "sqlite":
            return f"the SQLite file {url.database or ':memory:'}"
        port = f":{url.port}" if url.port else ""
        name = "PostgreSQL" if url.get_backend_name() == "postgresql" else url.get_backend_name()
        return f"the {name} server at {url.host or 'localhost'}{port} (database {url.database!r})"

    def upgrade(self) -> None:
        """Run the bundled migrations to head; safe to call again and from several processes."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
        try:
            with _MIGRATING, self.engine.begin() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except sa.exc.DBAPIError as exc:
            raise self._unavailable(exc) from exc
        except CommandError as exc:
            raise StoreUnavailable(
                f"The database ({self.where}) has a schema this version cannot use "
                f"({_first_line(exc)}).",
                hint="Run the newest version of the bot, or point DATABASE_URL elsewhere.",
            ) from exc

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        with self._failures(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A transaction that only reads: on SQLite it holds no lock, so a long read (a list
        of thousands) never keeps a writer waiting."""
        with self._failures(), self.engine.connect() as conn:
            conn.execution_options(**{READ_ONLY: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _failures(self) -> Iterator[None]:
        """Database failures as StoreUnavailable; our own mistakes stay loud."""
        try:
            yield
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise self._unavailable(exc) from exc
        except sa.exc.DatabaseError as exc:  # e.g. a SQLite file that is not a database
            if isinstance(exc, sa.exc.IntegrityError | sa.exc.ProgrammingError):
                raise  # our own mistakes stay loud
            raise self._unavailable(exc) from exc

    def describe(self, exc: sa.exc.DBAPIError) -> str:
        """The driver's reason for a failure, on one line, without the password."""
        reason = " ".join(_first_line(exc.orig if exc.orig is not None else exc).split())
        return reason.replace(self.url.password, "***") if self.url.password else reason

    def _unavailable(self, exc: sa.exc.DBAPIError) -> StoreUnavailable:
        reason = self.describe(exc)
        hint = (
            "Check DATABASE_URL, and that the file's folder exists and the bot may write there."
            if self.url.get_backend_name() == "sqlite"
            else None
        )
        return StoreUnavailable(f"Cannot use {self.where}: {reason}.", hint=hint)

    def _insert(self, table: sa.Table) -> Any:
        """INSERT with ON CONFLICT support, which both of our dialects have."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0].strip().rstrip(".")
