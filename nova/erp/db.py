"""Engines for the ERP database: read-write for approved writes, read-only for skills.

SQLite (the default, ``settings.resolved_erp_url``) is opened read-only through a
``mode=ro`` URI, so the file itself refuses writes; Postgres connections of the read-only
engine start every transaction ``READ ONLY``. Either way a read skill cannot write, even
by mistake. The schema is brought to the newest Alembic revision when a database is
first opened (see ``nova.erp.migrate``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TypeVar, cast

from sqlalchemy import Engine, create_engine, event, func, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from nova.erp.models import Customer, ErpMeta, Product

AS_OF_KEY = "as_of"
"""``erp_meta`` key holding the business date of a sample database (see ``business_date``)."""


class ErpConfigError(ValueError):
    """The ERP database URL cannot be used; the message says how to fix it."""


def normalise_url(url: str | URL) -> URL:
    """Return a SQLAlchemy URL with an installed driver (psycopg 3 for Postgres).

    Raises:
        ErpConfigError: for an unsupported scheme or an in-memory SQLite database.

    """
    parsed = make_url(url) if isinstance(url, str) else url
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ErpConfigError(
                "The ERP database must be a file: an in-memory SQLite database cannot be "
                "opened read-only by a second connection. Use sqlite:///path/erp.sqlite."
            )
        return parsed.set(drivername="sqlite+pysqlite")
    raise ErpConfigError(
        f"Unsupported ERP database {parsed.render_as_string(hide_password=True)!r}: "
        "use sqlite:///path/erp.sqlite or postgresql://user@host:5432/dbname "
        "(NOVA_ERP_DATABASE_URL)."
    )


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_erp_engine(url: str | URL, *, read_only: bool = False) -> Engine:
    """Create an engine for the ERP database at ``url``.

    Args:
        url: SQLAlchemy URL of a SQLite file or a Postgres database.
        read_only: Open connections that cannot write: SQLite through a ``mode=ro`` URI,
            Postgres with ``default_transaction_read_only`` on.

    Returns:
        A new engine (callers own it and should ``dispose()`` it when done).

    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "").expanduser().resolve()
        if read_only:
            # uri=true makes pysqlite pass the file: URI through; mode=ro is enforced by SQLite.
            parsed = parsed.set(database=f"file:{path}", query={"mode": "ro", "uri": "true"})
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            parsed = parsed.set(database=str(path))
        engine = create_engine(parsed, connect_args={"timeout": 15, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = {"options": "-c default_transaction_read_only=on"} if read_only else {}
    return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)


class ErpDatabase:
    """One ERP database: a read-write engine, a read-only engine and their sessions."""

    def __init__(self, url: str | URL, *, migrate: bool = True) -> None:
        """Open the database at ``url``, bringing its schema up to date unless ``migrate=False``."""
        self.url = normalise_url(url)
        self.engine = create_erp_engine(self.url)
        if migrate:
            from nova.erp.migrate import upgrade

            upgrade(self.engine)
        self.read_engine = create_erp_engine(self.url, read_only=True)
        self._writer = sessionmaker(self.engine, expire_on_commit=False)
        self._reader = sessionmaker(self.read_engine)
        self._has_data = False

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.url.get_backend_name()

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return self.url.render_as_string(hide_password=True)

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """Yield a session on the read-only engine; objects stay readable after it closes."""
        # close() (not rollback) ends the transaction without expiring loaded objects, so a
        # write plan can keep using the rows it read; the pool rolls the connection back.
        with self._reader() as session:
            yield session

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        """Yield a session in one transaction: committed on success, rolled back on error."""
        with self._writer.begin() as session:
            yield session

    def setup_problem(self) -> str | None:
        """Say why nothing can be answered from this database yet: no tables, or no data.

        A database that was never migrated or never seeded otherwise answers every lookup
        with "not found", which sends the user checking numbers that are right. ``None``
        when it holds customers or products (remembered: data does not disappear by itself;
        an empty database is looked at again, so seeding it takes effect at once).
        """
        if self._has_data:
            return None
        fix = "or point NOVA_ERP_DATABASE_URL at your ERP database"
        missing_file = (
            self.dialect == "sqlite"
            and self.url.database not in (None, "", ":memory:")
            and not Path(str(self.url.database)).exists()
        )
        try:
            if missing_file or not inspect(self.read_engine).has_table(Customer.__tablename__):
                return (
                    f"The ERP database {self.display_url} has no ERP tables (never migrated): "
                    f"run `nova erp migrate` then `nova erp seed` (or `nova setup`), {fix}."
                )
            with self.read_session() as session:
                rows = session.scalar(select(func.count()).select_from(Customer)) or 0
                rows += session.scalar(select(func.count()).select_from(Product)) or 0
        except SQLAlchemyError as error:
            return (
                f"The ERP database {self.display_url} cannot be read "
                f"({type(error).__name__}: {str(error).splitlines()[0]}): check that it is "
                f"up, then run `nova erp status`, {fix}."
            )
        if rows == 0:
            return (
                f"The ERP database {self.display_url} is empty (never seeded): run "
                f"`nova erp seed` for the sample business (or `nova setup`), {fix}."
            )
        self._has_data = True
        return None

    def dispose(self) -> None:
        """Close every pooled connection of both engines."""
        self.engine.dispose()
        self.read_engine.dispose()


_T = TypeVar("_T")


def per_session(session: Session, key: Hashable, compute: Callable[[], _T]) -> _T:
    """Return ``compute()``, computed once per session (kept in ``session.info``).

    One request's parse and skill read the same small facts several times (the business
    date, each name index's row signature, the product categories): within one session
    — one transaction — they cannot change, so each is asked once.
    """
    memo = session.info.setdefault("nova_memo", {})
    if key not in memo:
        memo[key] = compute()
    return cast(_T, memo[key])


def business_date(session: Session) -> date:
    """Return the ERP's "today": the sample's frozen date if it has one, else the real date.

    A seeded sample business ends at its anchor date and stores it as ``erp_meta.as_of``,
    so "overdue" and "last month" mean the same thing whenever the sample is queried.
    A real database has no ``as_of`` and runs on the calendar.
    """

    def read() -> date:
        value = session.scalar(select(ErpMeta.value).where(ErpMeta.key == AS_OF_KEY))
        return date.fromisoformat(value) if value else date.today()  # noqa: DTZ011 - local business day

    return per_session(session, "business_date", read)


_databases: dict[str, ErpDatabase] = {}
_lock = threading.Lock()


def get_erp_database(url: str | None = None) -> ErpDatabase:
    """Return the process-wide database for ``url`` (default: settings), migrated on first use."""
    if url is None:
        from nova.settings import get_settings

        url = get_settings().resolved_erp_url
    with _lock:
        database = _databases.get(url)
        if database is None:
            database = _databases[url] = ErpDatabase(url)
        return database


def close_erp_databases() -> None:
    """Dispose of every database opened by ``get_erp_database`` (tests, shutdown)."""
    with _lock:
        for database in _databases.values():
            database.dispose()
        _databases.clear()


@functools.cache
def migrations_dir() -> Path:
    """Folder of the Alembic migration scripts shipped in the package."""
    return Path(__file__).parent / "migrations"
