"""Alembic, run programmatically: the ERP schema is created and changed only by migrations."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, exc, text

if TYPE_CHECKING:
    from alembic.config import Config

ALEMBIC_INI = Path(__file__).parent / "alembic.ini"

# Any constant works; it only has to be the same in every process that migrates.
_PG_MIGRATION_LOCK = 0x4E4F5641

SHIPPED_HEAD = "0001"
"""The newest shipped revision, so that opening an up-to-date database needs no Alembic
import (half a second) on every CLI call; a test keeps it equal to Alembic's own head."""


def alembic_config() -> Config:
    """Return the Alembic configuration shipped inside the package."""
    from alembic.config import Config

    return Config(str(ALEMBIC_INI))


def head_revision() -> str:
    """Return the newest revision of the shipped migrations."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"No Alembic revisions found next to {ALEMBIC_INI}")
    return head


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database at ``engine`` is on (``None`` before the first)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _is_at_shipped_head(engine: Engine) -> bool:
    # One plain query on Alembic's own table; anything unexpected falls back to Alembic.
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except exc.DBAPIError:
        return False
    return [row[0] for row in rows] == [SHIPPED_HEAD]


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Upgrade the database to ``revision`` and return the revision it ends on.

    Cheap when nothing is to do (one query), so it runs every time a process first
    opens a database. On Postgres an advisory lock keeps two processes from
    migrating at once.
    """
    if revision == "head" and _is_at_shipped_head(engine):
        return SHIPPED_HEAD
    if revision == "head" and current_revision(engine) == head_revision():
        return head_revision()
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
            )
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return current_revision(engine)
