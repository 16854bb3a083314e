"""The candidate store: every change ``nova improve`` proposed, with its gate results.

SQLAlchemy Core over ``settings.resolved_ledger_url`` (a SQLite file in the data directory
by default, PostgreSQL by URL), like the other ledgers. A candidate keeps its parent
version, the version it would make, the reason, the evidence (feedback and run ids), the
change itself and what the gate measured; its status moves from ``passed``/``failed`` to
``promoted`` or ``rejected`` (gap reports stay ``reported``).
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from nova.ledger.db import SqlLedger, as_utc

if TYPE_CHECKING:
    from nova.settings import NovaSettings

CandidateKind = Literal["routing", "prompt", "gap"]
CandidateStatus = Literal["passed", "failed", "promoted", "rejected", "reported", "superseded"]

_metadata = MetaData()

candidates_table = Table(
    "nova_improve_candidates",
    _metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("catalog", Text),
    Column("kind", String(16), nullable=False),
    Column("agent", String(200)),
    Column("parent_version", String(64)),
    Column("version", String(64)),
    Column("reason", Text, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("change", JSON, nullable=False),
    Column("gate", JSON),
    Column("status", String(16), nullable=False),
    Column("decided_at", DateTime(timezone=True)),
    Column("decided_by", String(200)),
    Index("ix_nova_improve_candidates_created_at", "created_at"),
    Index("ix_nova_improve_candidates_status", "status"),
)


class CandidateRecord(BaseModel):
    """One proposed change, as stored."""

    model_config = ConfigDict(frozen=True)

    id: str
    """Candidate id (UUID4 hex); a unique prefix names it on the command line."""
    created_at: datetime
    catalog: str | None = None
    """The catalog folder it changes (``None``: Nova's own)."""
    kind: CandidateKind
    agent: str | None = None
    """The agent a prompt candidate rewrites (``None`` for catalog-wide routing changes)."""
    parent_version: str | None = None
    """The catalog (routing) or agent (prompt) version it was made from."""
    version: str | None = None
    """The version it makes (a content hash)."""
    reason: str
    evidence: builtins.list[str] = Field(default_factory=list)
    """Feedback and run ids it answers."""
    change: dict[str, Any] = Field(default_factory=dict)
    """What it changes: examples and out-of-scope requests added, or the new prompt."""
    gate: dict[str, Any] | None = None
    """The gate's figures and verdict."""
    status: CandidateStatus
    decided_at: datetime | None = None
    decided_by: str | None = None

    @property
    def passed(self) -> bool:
        """Whether the gate let it through."""
        return bool(self.gate and self.gate.get("passed"))


class CandidateNotFound(LookupError):
    """No candidate has this id (or the prefix is ambiguous)."""


class CandidateStore(SqlLedger):
    """Candidates in a SQL database (SQLite by default, PostgreSQL by URL)."""

    metadata = _metadata

    def add(
        self,
        *,
        kind: CandidateKind,
        catalog: str | None,
        reason: str,
        evidence: Sequence[str],
        change: Mapping[str, Any],
        gate: Mapping[str, Any] | None,
        agent: str | None = None,
        parent_version: str | None = None,
        version: str | None = None,
    ) -> CandidateRecord:
        """Store a new candidate; its status follows from the gate (``reported`` for gaps)."""
        status: CandidateStatus
        if kind == "gap":
            status = "reported"
        else:
            status = "passed" if gate and gate.get("passed") else "failed"
        record = CandidateRecord(
            id=uuid.uuid4().hex,
            created_at=datetime.now(UTC),
            catalog=catalog,
            kind=kind,
            agent=agent,
            parent_version=parent_version,
            version=version,
            reason=reason,
            evidence=list(evidence),
            change=dict(change),
            gate=dict(gate) if gate is not None else None,
            status=status,
        )
        with self.engine.begin() as conn:
            conn.execute(insert(candidates_table).values(**record.model_dump()))
        return record

    def get(self, prefix: str) -> CandidateRecord:
        """Return the candidate whose id starts with ``prefix``.

        Raises:
            CandidateNotFound: none, or several, match.

        """
        prefix = prefix.strip().lower()
        if not prefix:
            raise CandidateNotFound("Name a candidate id (see `nova improve`)")
        query = select(candidates_table).where(candidates_table.c.id.startswith(prefix)).limit(2)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        if not rows:
            raise CandidateNotFound(f"No candidate {prefix!r} (see `nova improve`)")
        if len(rows) > 1:
            raise CandidateNotFound(f"Candidate id {prefix!r} is ambiguous; give more of it")
        return self._record(rows[0])

    def list(
        self,
        *,
        catalog: str | Literal["any"] | None = "any",
        status: Sequence[CandidateStatus] | None = None,
        kind: CandidateKind | None = None,
        limit: int = 200,
    ) -> builtins.list[CandidateRecord]:
        """Return candidates, newest first."""
        table = candidates_table
        query = select(table).order_by(table.c.created_at.desc()).limit(limit)
        if catalog != "any":
            query = query.where(
                table.c.catalog.is_(None) if catalog is None else table.c.catalog == catalog
            )
        if status:
            query = query.where(table.c.status.in_(list(status)))
        if kind is not None:
            query = query.where(table.c.kind == kind)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [self._record(row) for row in rows]

    def used_evidence(self, *, catalog: str | None) -> set[str]:
        """Return the evidence ids promoted candidates of ``catalog`` already answered."""
        table = candidates_table
        query = (
            select(table.c.evidence, table.c.kind)
            .where(table.c.status == "promoted")
            .where(table.c.catalog.is_(None) if catalog is None else table.c.catalog == catalog)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        used: set[str] = set()
        for evidence, _kind in rows:
            used.update(evidence or ())
        return used

    def last_promotion(self, *, catalog: str | None) -> datetime | None:
        """Return when a candidate of ``catalog`` was last promoted."""
        found = self.list(catalog=catalog, status=["promoted"], limit=1)
        return found[0].decided_at if found else None

    def set_status(
        self, candidate_id: str, status: CandidateStatus, *, by: str | None = None
    ) -> CandidateRecord:
        """Record a decision on a candidate and return it as stored."""
        with self.engine.begin() as conn:
            conn.execute(
                update(candidates_table)
                .where(candidates_table.c.id == candidate_id)
                .values(status=status, decided_at=datetime.now(UTC), decided_by=by)
            )
        return self.get(candidate_id)

    def supersede(self, *, catalog: str | None, kind: CandidateKind, agent: str | None) -> int:
        """Mark the undecided candidates of the same kind and target as superseded."""
        table = candidates_table
        query = (
            update(table)
            .where(table.c.status.in_(["passed", "failed"]))
            .where(table.c.kind == kind)
            .where(table.c.catalog.is_(None) if catalog is None else table.c.catalog == catalog)
            .where(table.c.agent.is_(None) if agent is None else table.c.agent == agent)
            .values(status="superseded", decided_at=datetime.now(UTC), decided_by="nova improve")
        )
        with self.engine.begin() as conn:
            return int(conn.execute(query).rowcount or 0)

    @staticmethod
    def _record(row: Mapping[Any, Any]) -> CandidateRecord:
        values = dict(row)
        for key in ("created_at", "decided_at"):
            if isinstance(values.get(key), datetime):
                values[key] = as_utc(values[key])
        values["evidence"] = values.get("evidence") or []
        values["change"] = values.get("change") or {}
        return CandidateRecord.model_validate(values)


def pending_candidates(settings: NovaSettings | None = None) -> list[CandidateRecord]:
    """Return the proposals waiting for the owner, newest first (for ``nova inbox``).

    These are candidates that passed the gate and are undecided (``nova improve accept|
    reject ID``), and gap reports not yet dismissed (``nova improve reject ID``).

    Args:
        settings: Whose ledger to read; default: the configured settings.

    """
    url = settings.resolved_ledger_url if settings is not None else None
    return CandidateStore(url).list(status=["passed", "reported"])
