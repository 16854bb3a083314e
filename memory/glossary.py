"""Project glossaries: the terms in the projects file plus the terms added at run time.

Terms added with ``glossary_add`` live in a small SQL table (SQLite ``glossary.sqlite`` in
the data directory by default), one row per project, owner and term; adding a term again
updates it. ``project_glossary`` merges both sources, added terms winning.

Owners: like memories, what a user teaches Nova at run time is theirs. The projects file's
terms are every user's; a term added in an authenticated user's run (``NovaContext.user_id``
on the durable server) is that user's only; the local owner (CLI, scripts, ``nova serve
--dev``) is stored as ``""``. Tables written before owners existed (``glossary_terms``) are
copied into the local owner's rows on first open.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    inspect,
    select,
)

from nova.glossary import Glossary, GlossaryEntry
from nova.projects import load_projects
from nova.settings import get_settings

LOCAL_OWNER = ""
"""The ``owner`` value of the local owner's terms (a primary key column cannot be NULL)."""

_metadata = MetaData()
glossary_entries = Table(
    "glossary_entries",
    _metadata,
    Column("project", String(64), primary_key=True),
    Column("owner", String(200), primary_key=True),
    Column("term_key", String(200), primary_key=True),
    Column("term", String(200), nullable=False),
    Column("translations", Text, nullable=False, default="{}"),
    Column("protected", Boolean, nullable=False, default=False),
    Column("note", Text, nullable=True),
    Column("added_by", String(100), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
_LEGACY_TABLE = "glossary_terms"
"""The table before owners: (project, term_key) keys, every row the local owner's."""
_COPIED = (
    "project",
    "term_key",
    "term",
    "translations",
    "protected",
    "note",
    "added_by",
    "updated_at",
)


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _adopt_legacy_terms(engine: Engine) -> None:
    """Copy a pre-owner ``glossary_terms`` table into the local owner's rows, then drop it."""
    if not inspect(engine).has_table(_LEGACY_TABLE):
        return
    legacy = Table(_LEGACY_TABLE, MetaData(), autoload_with=engine)
    with engine.begin() as connection:
        rows = connection.execute(select(*(legacy.c[name] for name in _COPIED))).mappings()
        known = {
            (row.project, row.term_key)
            for row in connection.execute(
                select(glossary_entries.c.project, glossary_entries.c.term_key).where(
                    glossary_entries.c.owner == LOCAL_OWNER
                )
            )
        }
        fresh = [
            {**row, "owner": LOCAL_OWNER}
            for row in rows
            if (row["project"], row["term_key"]) not in known
        ]
        if fresh:
            connection.execute(glossary_entries.insert(), fresh)
        legacy.drop(connection)


def _engine(url: str) -> Engine:
    # Tool calls run in parallel threads: create each engine (and its table) exactly once.
    with _engines_lock:
        if url not in _engines:
            engine = create_engine(url)
            _metadata.create_all(engine)
            _adopt_legacy_terms(engine)
            _engines[url] = engine
        return _engines[url]


class GlossaryStore:
    """Terms added to project glossaries at run time, in a SQL table."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or get_settings().sqlite_url("glossary.sqlite")
        self.engine = _engine(self.url)

    def add(
        self,
        project: str,
        term: str,
        *,
        translations: dict[str, str] | None = None,
        protected: bool = False,
        note: str | None = None,
        owner: str | None = None,
        added_by: str | None = None,
    ) -> GlossaryEntry:
        """Add ``term`` to ``owner``'s glossary of ``project``, replacing their earlier entry.

        ``owner`` is the run's user (``None``: the local owner); other users never see it.

        Raises:
            ValueError: the entry is neither protected nor has a translation.

        """
        term = term.strip()
        translations = {code.lower(): text.strip() for code, text in (translations or {}).items()}
        if not term:
            raise ValueError("A glossary term must not be blank")
        if not protected and not translations:
            raise ValueError(
                f"Glossary entry {term!r} needs approved translations (e.g. {{'en': '...'}}) "
                "or protected=true for a term that is never translated"
            )
        owner_value = _owner_value(owner)
        row = {
            "project": project,
            "owner": owner_value,
            "term_key": term.casefold(),
            "term": term,
            "translations": json.dumps(translations, ensure_ascii=False, sort_keys=True),
            "protected": protected,
            "note": note,
            "added_by": added_by,
            "updated_at": datetime.now(UTC),
        }
        with self.engine.begin() as connection:
            connection.execute(
                glossary_entries.delete().where(
                    glossary_entries.c.project == project,
                    glossary_entries.c.owner == owner_value,
                    glossary_entries.c.term_key == row["term_key"],
                )
            )
            connection.execute(glossary_entries.insert().values(**row))
        return GlossaryEntry(term, translations, protected, note, origin="added")

    def entries(self, project: str, owner: str | None = None) -> list[GlossaryEntry]:
        """Return the terms ``owner`` added to ``project``, oldest first."""
        query = (
            select(glossary_entries)
            .where(
                glossary_entries.c.project == project,
                glossary_entries.c.owner == _owner_value(owner),
            )
            .order_by(glossary_entries.c.updated_at)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [
            GlossaryEntry(
                term=row["term"],
                translations=json.loads(row["translations"]),
                protected=bool(row["protected"]),
                note=row["note"],
                origin="added",
            )
            for row in rows
        ]


def _owner_value(owner: str | None) -> str:
    from memory.chroma import check_owner

    return check_owner(owner) or LOCAL_OWNER


def project_glossary(
    project: str, store: GlossaryStore | None = None, *, owner: str | None = None
) -> Glossary:
    """Return ``project``'s glossary as ``owner`` sees it: shared terms, then their own.

    The projects file's terms come first, then the terms ``owner`` added (which win).
    ``owner`` is the run's user; ``None`` is the local owner. A project the projects file
    does not define has only its added terms.
    """
    projects = load_projects()
    defined = list(projects.get(project).glossary) if project in projects else []
    added = (store or GlossaryStore()).entries(project, owner)
    return Glossary.of([*(GlossaryEntry.of(term) for term in defined), *added])
