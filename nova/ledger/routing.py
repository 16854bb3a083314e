"""The routing ledger: every routing decision as a durable, queryable record.

Each decision keeps the request, the candidates with their calibrated scores, the margin,
the thresholds in force, the chosen agent and how it was chosen, the router and catalog
versions and the decision's latency, so ``nova route explain ID`` can say why a request
went where it went. SQLAlchemy Core over ``settings.resolved_ledger_url`` (SQLite under
the data directory by default; a PostgreSQL URL is accepted).
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    MetaData,
    RowMapping,
    String,
    Table,
    Text,
    func,
    insert,
    select,
)

from nova.ledger.db import as_utc, ledger_engine
from nova.route_types import RouteMethod, Subgraph

if TYPE_CHECKING:
    from nova.state import RouteDecision

LOW_CONFIDENCE_METHODS: frozenset[str] = frozenset({"llm", "clarify", "fallback"})
"""Methods that mean the classifier was not sure enough to decide alone."""

_REQUEST_LIMIT = 8000

metadata = MetaData()

routing_table = Table(
    "nova_routing_decisions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("thread_id", String(200)),
    Column("project", String(200)),
    Column("request", Text, nullable=False),
    Column("agent", String(200)),
    Column("subgraph", String(32)),
    Column("method", String(16), nullable=False),
    Column("confidence", Float, nullable=False),
    Column("margin", Float, nullable=False),
    Column("candidates", JSON, nullable=False),
    Column("reason", Text, nullable=False),
    Column("question", Text),
    Column("thresholds", JSON, nullable=False),
    Column("catalog_version", String(64), nullable=False),
    Column("router_version", String(128), nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("low_confidence", Boolean, nullable=False),
    Index("ix_nova_routing_created_at", "created_at"),
    Index("ix_nova_routing_agent", "agent"),
    Index("ix_nova_routing_thread_id", "thread_id"),
)


class Candidate(BaseModel):
    """One agent the router considered, with its calibrated score."""

    model_config = ConfigDict(frozen=True)

    agent: str
    score: float


class RoutingRecord(BaseModel):
    """One routing decision as stored in the ledger."""

    model_config = ConfigDict(frozen=True)

    id: str
    """The decision's id (``RouteDecision.id``); ``nova route explain`` accepts a unique prefix."""
    created_at: datetime
    """When it was recorded (UTC)."""
    thread_id: str | None = None
    """LangGraph thread of the run, if any."""
    project: str | None = None
    """Project scope of the request."""
    request: str
    """The request text that was routed."""
    agent: str | None
    """Chosen agent; ``None`` when Nova asked the user to clarify."""
    subgraph: Subgraph | None = None
    """Subgraph that runs the chosen agent."""
    method: RouteMethod
    """How the agent was chosen (semantic, llm, clarify, fallback, explicit)."""
    confidence: float
    """Calibrated probability of the best candidate."""
    margin: float
    """Best candidate's score minus the second best."""
    candidates: list[Candidate]
    """Top-k agents with their calibrated scores, best first."""
    reason: str
    """Why, in words (thresholds compared, model consulted…)."""
    question: str | None = None
    """Clarifying question asked, for ``method == "clarify"``."""
    thresholds: dict[str, float] = Field(default_factory=dict)
    """Thresholds in force (fitted on the catalog's validation split)."""
    catalog_version: str
    """Hash of the catalog the router was fitted on."""
    router_version: str
    """Router algorithm and fitted-state version."""
    latency_ms: float
    """Time the decision took, model tie-break included."""
    low_confidence: bool
    """The classifier did not decide alone (llm, clarify or fallback)."""


class RouteNotFound(LookupError):
    """No routing decision, or more than one, matches the id given."""


def _row_to_record(row: RowMapping) -> RoutingRecord:
    values = dict(row)
    values["created_at"] = as_utc(values["created_at"])
    return RoutingRecord.model_validate(values)


class RoutingLedger:
    """Durable store of routing decisions (SQLite by default, PostgreSQL accepted).

    Example:
        >>> ledger = RoutingLedger("sqlite:///:memory:")
        >>> record = ledger.append(decision, request="Which invoices are overdue?")
        >>> ledger.find(record.id[:8]).agent == decision["agent"]
        True

    """

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        """Open the ledger at ``url`` (default: ``settings.resolved_ledger_url``).

        Args:
            url: SQLAlchemy URL of the ledger database.
            engine: An engine to use instead of ``url`` (its tables are created).

        """
        if engine is not None:
            metadata.create_all(engine, checkfirst=True)
            self.engine = engine
            return
        if url is None:
            from nova.settings import get_settings

            url = get_settings().resolved_ledger_url
        self.engine = ledger_engine(url, metadata)

    def append(
        self,
        decision: RouteDecision,
        *,
        request: str,
        thread_id: str | None = None,
        project: str | None = None,
        thresholds: Mapping[str, float] | None = None,
    ) -> RoutingRecord:
        """Store one decision and return the stored record.

        Args:
            decision: The router's decision (its ``id`` becomes the record id).
            request: The routed request text.
            thread_id: LangGraph thread id of the run, if any.
            project: Project scope of the request.
            thresholds: The router's fitted thresholds, kept for ``explain``.

        Returns:
            The stored record.

        """
        record = RoutingRecord(
            id=decision.get("id") or uuid.uuid4().hex,
            created_at=datetime.now(UTC),
            thread_id=thread_id,
            project=project,
            request=request[:_REQUEST_LIMIT],
            agent=decision["agent"],
            subgraph=decision.get("subgraph"),
            method=decision["method"],
            confidence=float(decision["confidence"]),
            margin=float(decision["margin"]),
            candidates=[
                Candidate(agent=c["agent"], score=float(c["score"])) for c in decision["candidates"]
            ],
            reason=decision["reason"],
            question=decision.get("question"),
            thresholds={k: float(v) for k, v in (thresholds or {}).items()},
            catalog_version=decision["catalog_version"],
            router_version=decision["router_version"],
            latency_ms=float(decision["latency_ms"]),
            low_confidence=decision["method"] in LOW_CONFIDENCE_METHODS,
        )
        with self.engine.begin() as conn:
            conn.execute(insert(routing_table).values(**record.model_dump()))
        return record

    def list(
        self,
        *,
        agent: str | None = None,
        since: datetime | None = None,
        low_confidence: bool = False,
        method: RouteMethod | None = None,
        thread_id: str | None = None,
        limit: int = 50,
    ) -> builtins.list[RoutingRecord]:
        """Return decisions matching every filter given, newest first.

        Args:
            agent: Only decisions that chose this agent.
            since: Only decisions recorded at or after this time.
            low_confidence: Only decisions the classifier did not make alone.
            method: Only decisions made this way.
            thread_id: Only this thread.
            limit: At most this many (newest kept).

        Returns:
            The matching records.

        """
        query = select(routing_table).order_by(routing_table.c.created_at.desc()).limit(limit)
        if agent is not None:
            query = query.where(routing_table.c.agent == agent)
        if since is not None:
            query = query.where(routing_table.c.created_at >= as_utc(since))
        if low_confidence:
            query = query.where(routing_table.c.low_confidence.is_(True))
        if method is not None:
            query = query.where(routing_table.c.method == method)
        if thread_id is not None:
            query = query.where(routing_table.c.thread_id == thread_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_row_to_record(row) for row in rows]

    def unanswered_questions(
        self, *, thread_ids: Collection[str] | None = None, limit: int = 100
    ) -> tuple[builtins.list[RoutingRecord], int]:
        """Return clarifying questions never answered, newest first, and how many there are.

        A question is answered once its thread has a later routing decision (the user's
        reply was routed); a decision without a thread cannot be answered in place and is
        left out.

        Args:
            thread_ids: Only these threads (a server caller's own threads).
            limit: At most this many records (the count covers all of them).

        Returns:
            ``(records newest first, total count)``: one query for each.

        """
        later = routing_table.alias("later")
        answered = (
            select(later.c.id)
            .where(later.c.thread_id == routing_table.c.thread_id)
            .where(later.c.created_at > routing_table.c.created_at)
            .exists()
        )
        waiting = (
            (routing_table.c.method == "clarify")
            & routing_table.c.thread_id.is_not(None)
            & ~answered
        )
        if thread_ids is not None:
            waiting = waiting & routing_table.c.thread_id.in_(list(thread_ids))
        query = (
            select(routing_table)
            .where(waiting)
            .order_by(routing_table.c.created_at.desc())
            .limit(limit)
        )
        count = select(func.count()).select_from(routing_table).where(waiting)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
            total = int(conn.execute(count).scalar_one())
        return [_row_to_record(row) for row in rows], total

    def get(self, decision_id: str) -> RoutingRecord | None:
        """Return the decision with exactly this id, or ``None``."""
        query = select(routing_table).where(routing_table.c.id == decision_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _row_to_record(row) if row is not None else None

    def find(self, id_or_prefix: str) -> RoutingRecord:
        """Return the one decision whose id is, or starts with, ``id_or_prefix``.

        Raises:
            RouteNotFound: none matches, or the prefix matches several (they are listed).

        """
        prefix = id_or_prefix.strip()
        if not prefix:
            raise RouteNotFound(
                "Give a decision id (or its first characters) from `nova route log`"
            )
        exact = self.get(prefix)
        if exact is not None:
            return exact
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = (
            select(routing_table)
            .where(routing_table.c.id.like(f"{escaped}%", escape="\\"))
            .order_by(routing_table.c.created_at.desc())
            .limit(6)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        if not rows:
            raise RouteNotFound(
                f"No routing decision with id {prefix!r}; `nova route log` lists recent ones"
            )
        if len(rows) > 1:
            ids = ", ".join(str(row["id"]) for row in rows[:5])
            raise RouteNotFound(
                f"{prefix!r} matches several decisions ({ids}); give more characters"
            )
        return _row_to_record(rows[0])
