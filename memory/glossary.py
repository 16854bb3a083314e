"""Project glossaries: the terms in the projects file plus the terms added at run time.

Terms added with ``glossary_add`` live in a small SQL table (SQLite ``glossary.sqlite`` in
the data directory by default), one row per project and term; adding a term again
updates it. ``project_glossary`` merges both sources, added terms winning.
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
    select,
)

from nova.glossary import Glossary, GlossaryEntry
from nova.projects import load_projects
from nova.settings import get_settings

_metadata = MetaData()
glossary_terms = Table(
    "glossary_terms",
    _metadata,
    Column("project", String(64), primary_key=True),
    Column("term_key", String(200), primary_key=True),
    Column("term", String(200), nullable=False),
    Column("translations", Text, nullable=False, default="{}"),
    Column("protected", Boolean, nullable=False, default=False),
    Column("note", Text, nullable=True),
    Column("added_by", String(100), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _engine(url: str) -> Engine:
    # Tool calls run in parallel threads: create each engine (and its table) exactly once.
    with _engines_lock:
        if url not in _engines:
            engine = create_engine(url)
            _metadata.create_all(engine)
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
        added_by: str | None = None,
    ) -> GlossaryEntry:
        """Add ``term`` to ``project``'s glossary, replacing an earlier entry for the same term.

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
        row = {
            "project": project,
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
                glossary_terms.delete().where(
                    glossary_terms.c.project == project,
                    glossary_terms.c.term_key == row["term_key"],
                )
            )
            connection.execute(glossary_terms.insert().values(**row))
        return GlossaryEntry(term, translations, protected, note, origin="added")

    def entries(self, project: str) -> list[GlossaryEntry]:
        """Return the terms added to ``project``, oldest first."""
        query = (
            select(glossary_terms)
            .where(glossary_terms.c.project == project)
            .order_by(glossary_terms.c.updated_at)
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


def project_glossary(project: str, store: GlossaryStore | None = None) -> Glossary:
    """Return ``project``'s glossary: the projects file's terms, then added terms (which win).

    A project the projects file does not define has only its added terms.
    """
    projects = load_projects()
    defined = list(projects.get(project).glossary) if project in projects else []
    added = (store or GlossaryStore()).entries(project)
    return Glossary.of([*(GlossaryEntry.of(term) for term in defined), *added])
