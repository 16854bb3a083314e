"""Engines and tables shared by Nova's ledgers (SQLAlchemy Core; SQLite or PostgreSQL).

Each ledger module declares its tables on its own ``MetaData`` and asks ``ledger_engine``
for an engine with those tables created; one engine per URL serves every ledger.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

_engines: dict[str, Engine] = {}
_created: set[tuple[str, int]] = set()
_lock = threading.Lock()


def normalise_url(url: str) -> str:
    """Return ``url`` with PostgreSQL pointed at psycopg 3 (Nova ships no psycopg2).

    Raises:
        ValueError: ``url`` is not a SQLAlchemy URL, with an example of one.

    """
    try:
        parsed = make_url(url)
    except Exception as error:
        raise ValueError(
            f"Not a database URL: {url!r} ({error}); use e.g. sqlite:///path/ledger.sqlite "
            "or postgresql://postgres@127.0.0.1:5432/nova"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the CLI read while a run writes; busy_timeout rides out short write locks.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    # As for the checkpoints (memory/checkpoint.py): in WAL mode NORMAL commits without an
    # fsync, which cost ~4% of a warm turn per ledger record. A record survives Nova being
    # killed; only an OS crash or power loss can roll back the latest ones (Postgres is the
    # durable path for that).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def ledger_engine(url: str, *tables_of: MetaData) -> Engine:
    """Return the process-wide engine for ``url``, creating the tables in ``tables_of``.

    Args:
        url: A SQLAlchemy URL (``sqlite:///…``, ``postgresql://…``).
        tables_of: Metadata collections whose tables must exist (created once per engine).

    Returns:
        A cached engine: the same URL always gives the same engine.

    """
    key = normalise_url(url)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            if key.startswith("sqlite"):
                database = make_url(key).database
                if database and database != ":memory:":
                    from pathlib import Path

                    Path(database).parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(key, connect_args={"check_same_thread": False})
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = create_engine(key, pool_pre_ping=True)
            _engines[key] = engine
        for metadata in tables_of:
            if (key, id(metadata)) not in _created:
                create_tables(engine, metadata)
                _created.add((key, id(metadata)))
    return engine


_DDL_LOCK = 0x4E4F5641  # "NOVA": one advisory lock id for every ledger's CREATE TABLE


def create_tables(engine: Engine, metadata: MetaData) -> None:
    """Create missing tables and columns, safely against other processes doing the same.

    Server workers starting together would otherwise race on the same CREATE TABLE: on
    Postgres they take an advisory lock. SQLite has no such lock, and its check-then-create
    is not atomic, so a process that loses the race (a CLI opening the store while the
    server writes its first trace) gets "already exists"; it checks again instead of
    failing (a trace store that failed here dropped the run's trace).
    """
    for attempt in (1, 2):
        try:
            with engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DDL_LOCK}
                    )
                metadata.create_all(connection, checkfirst=True)
                add_missing_columns(connection, metadata)
            return
        except OperationalError as error:
            message = str(error.orig).lower()
            if attempt == 2 or not ("already exists" in message or "duplicate column" in message):
                raise


def add_missing_columns(connection: Connection, metadata: MetaData) -> list[str]:
    """Add the nullable columns a ledger gained since its table was created.

    Ledgers only ever grow optional columns, so an ``ALTER TABLE … ADD COLUMN`` is the
    whole migration (a record written before has ``NULL`` there). Returns what was added.
    """
    inspector = inspect(connection)
    added = []
    for table in metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable:
                raise RuntimeError(
                    f"Ledger table {table.name} lacks the required column {column.name}; "
                    "new ledger columns must be nullable"
                )
            kind = column.type.compile(dialect=connection.dialect)
            preparer = connection.dialect.identifier_preparer
            connection.execute(
                text(
                    f"ALTER TABLE {preparer.quote(table.name)} "
                    f"ADD COLUMN {preparer.quote(column.name)} {kind}"
                )
            )
            added.append(f"{table.name}.{column.name}")
    return added


def as_utc(stamp: datetime) -> datetime:
    """Return ``stamp`` as an aware UTC datetime (SQLite hands back naive ones)."""
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


class SqlLedger:
    """Base of a ledger kept in the ledger database: open by URL (or engine), tables created.

    A subclass names its tables' ``metadata``; ``SqlLedger(url)`` opens the settings'
    ledger URL by default (SQLite under the data directory, PostgreSQL by URL) and adds
    the columns a newer version of the ledger has (``add_missing_columns``).
    """

    metadata: MetaData

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        """Open the ledger at ``url`` (default: the settings' ledger URL), or on ``engine``."""
        if engine is not None:
            self.engine = engine
            with engine.begin() as connection:
                self.metadata.create_all(connection, checkfirst=True)
                add_missing_columns(connection, self.metadata)
            return
        if url is None:
            from nova.settings import get_settings

            url = get_settings().resolved_ledger_url
        self.engine = ledger_engine(url, self.metadata)
