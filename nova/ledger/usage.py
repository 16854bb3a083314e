"""The usage ledger: what every model call cost, and which answers needed no model at all.

One row per model call (prompt, completion and cached tokens, model, agent, node, latency,
thread and run) and one per model-free answer (an ERP or calculator fast path, a pipeline
without model steps), so ``nova stats`` can say what Nova costs per answer and how many
answers cost nothing. SQLAlchemy Core over ``settings.resolved_ledger_url`` (SQLite under
the data directory by default; a PostgreSQL URL is accepted), beside the routing and
failure ledgers.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    case,
    func,
    insert,
    select,
)

from nova.ledger.db import as_utc, ledger_engine

UsageKind = Literal["model", "model_free"]
"""``model``: one model call. ``model_free``: one answer given without any model call."""

_metadata = MetaData()

usage_table = Table(
    "nova_model_usage",
    _metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("thread_id", String(200)),
    Column("run_id", String(200)),
    Column("project", String(200)),
    Column("agent", String(200)),
    Column("node", String(200)),
    Column("model", String(200)),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("cached_tokens", Integer, nullable=False),
    Column("total_tokens", Integer, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Index("ix_nova_usage_created_at", "created_at"),
    Index("ix_nova_usage_project_created", "project", "created_at"),
    Index("ix_nova_usage_run_id", "run_id"),
)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One model call (or one model-free answer) as stored in the ledger."""

    id: str
    created_at: datetime
    kind: UsageKind
    status: Literal["ok", "error"]
    """``error``: the call raised (its tokens are unknown and counted as 0)."""
    thread_id: str | None
    run_id: str | None
    project: str | None
    agent: str | None
    """Catalog agent that made the call; ``router`` for the tie-break, ``summarizer``…"""
    node: str | None
    model: str | None
    prompt_tokens: int = 0
    """Input tokens, cached ones included."""
    completion_tokens: int = 0
    cached_tokens: int = 0
    """Input tokens the endpoint served from its prompt cache."""
    total_tokens: int = 0
    latency_ms: float = 0.0


def new_usage(
    kind: UsageKind,
    *,
    status: Literal["ok", "error"] = "ok",
    thread_id: str | None = None,
    run_id: str | None = None,
    project: str | None = None,
    agent: str | None = None,
    node: str | None = None,
    model: str | None = None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    cached_tokens: int = 0,
    latency_ms: float = 0.0,
) -> UsageRecord:
    """Make (not store) a usage record stamped now."""
    return UsageRecord(
        id=uuid.uuid4().hex,
        created_at=datetime.now(UTC),
        kind=kind,
        status=status,
        thread_id=thread_id,
        run_id=run_id,
        project=project,
        agent=agent,
        node=node,
        model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cached_tokens=cached_tokens,
        total_tokens=prompt_tokens + completion_tokens,
        latency_ms=latency_ms,
    )


@dataclass(frozen=True, slots=True)
class UsageRow:
    """Totals of one (agent, model) group, as ``nova stats`` prints them."""

    agent: str | None
    model: str | None
    calls: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    latency_ms_mean: float


@dataclass(frozen=True, slots=True)
class UsageSummary:
    """Model calls grouped by agent and model, plus the answers that needed no model."""

    rows: list[UsageRow]
    model_free_answers: int
    model_free_by_agent: dict[str, int]


class UsageLedger:
    """Durable store of model usage (SQLite by default, PostgreSQL accepted).

    Example:
        >>> ledger = UsageLedger("sqlite:///:memory:")
        >>> _ = ledger.save(new_usage("model", project="p", prompt_tokens=10))
        >>> ledger.tokens_since(datetime(2000, 1, 1, tzinfo=UTC), project="p")
        10

    """

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        """Open the ledger at ``url`` (default: ``settings.resolved_ledger_url``).

        Args:
            url: SQLAlchemy URL of the ledger database.
            engine: An engine to use instead of ``url`` (its table is created).

        """
        if engine is not None:
            _metadata.create_all(engine, checkfirst=True)
            self.engine = engine
            return
        if url is None:
            from nova.settings import get_settings

            url = get_settings().resolved_ledger_url
        self.engine = ledger_engine(url, _metadata)

    def save(self, record: UsageRecord) -> UsageRecord:
        """Store ``record`` and return it."""
        values = {name: getattr(record, name) for name in record.__slots__}
        with self.engine.begin() as conn:
            conn.execute(insert(usage_table).values(**values))
        return record

    def tokens_since(self, since: datetime, *, project: str | None) -> int:
        """Return the tokens (prompt + completion) model calls of ``project`` used since then."""
        column = usage_table.c
        query = select(func.coalesce(func.sum(column.total_tokens), 0)).where(
            column.kind == "model", column.created_at >= as_utc(since), column.project == project
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def list(
        self, *, run_id: str | None = None, thread_id: str | None = None, limit: int = 200
    ) -> builtins.list[UsageRecord]:
        """Return records of one run or thread (or the latest ones), oldest first."""
        query = select(usage_table).order_by(usage_table.c.created_at.desc()).limit(limit)
        if run_id is not None:
            query = query.where(usage_table.c.run_id == run_id)
        if thread_id is not None:
            query = query.where(usage_table.c.thread_id == thread_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_record(row) for row in reversed(rows)]

    def summary(
        self,
        *,
        since: datetime | None = None,
        project: str | None = None,
        agent: str | None = None,
    ) -> UsageSummary:
        """Return model calls grouped by agent and model, and the model-free answers.

        Args:
            since: Only records at or after this time.
            project: Only this project.
            agent: Only this agent.

        """
        c = usage_table.c
        filters = []
        if since is not None:
            filters.append(c.created_at >= as_utc(since))
        if project is not None:
            filters.append(c.project == project)
        if agent is not None:
            filters.append(c.agent == agent)
        calls = (
            select(
                c.agent,
                c.model,
                func.count().label("calls"),
                func.sum(case((c.status == "error", 1), else_=0)).label("errors"),
                func.sum(c.prompt_tokens).label("prompt_tokens"),
                func.sum(c.completion_tokens).label("completion_tokens"),
                func.sum(c.cached_tokens).label("cached_tokens"),
                func.avg(c.latency_ms).label("latency_ms_mean"),
            )
            .where(c.kind == "model", *filters)
            .group_by(c.agent, c.model)
            .order_by(func.sum(c.total_tokens).desc())
        )
        free = (
            select(c.agent, func.count().label("answers"))
            .where(c.kind == "model_free", *filters)
            .group_by(c.agent)
        )
        with self.engine.connect() as conn:
            rows = [
                UsageRow(
                    agent=row["agent"],
                    model=row["model"],
                    calls=int(row["calls"]),
                    errors=int(row["errors"] or 0),
                    prompt_tokens=int(row["prompt_tokens"] or 0),
                    completion_tokens=int(row["completion_tokens"] or 0),
                    cached_tokens=int(row["cached_tokens"] or 0),
                    latency_ms_mean=float(row["latency_ms_mean"] or 0.0),
                )
                for row in conn.execute(calls).mappings()
            ]
            by_agent = {
                str(row["agent"]): int(row["answers"]) for row in conn.execute(free).mappings()
            }
        return UsageSummary(
            rows=rows, model_free_answers=sum(by_agent.values()), model_free_by_agent=by_agent
        )


def _record(row: Mapping[Any, Any]) -> UsageRecord:
    values = dict(row)
    stamp = values["created_at"]
    assert isinstance(stamp, datetime)
    values["created_at"] = as_utc(stamp)
    return UsageRecord(**values)
