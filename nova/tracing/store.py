"""The local trace store: every run's tree of steps in SQL (SQLAlchemy Core; SQLite by default).

One row per run in ``nova_traces`` (thread, project, route, agent and version, status,
timing, request and answer) and one row per step in ``nova_trace_steps`` (node, graph
path, LangGraph step and task, timing, inputs, outputs, error). ``nova_trace_blame`` keeps
the latest attribution computed for a run, so reports can highlight the blamed step.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    insert,
    select,
)

from nova.ledger.db import create_tables, normalise_url
from nova.tracing.serialize import hydrate

StepStatus = Literal["ok", "error", "interrupted", "running"]

_metadata = MetaData()

traces_table = Table(
    "nova_traces",
    _metadata,
    Column("trace_id", String(64), primary_key=True),
    Column("run_id", String(64), nullable=False),
    Column("thread_id", String(200)),
    Column("graph", String(200), nullable=False),
    Column("project", String(200)),
    Column("request", Text),
    Column("answer", Text),
    Column("status", String(16), nullable=False),
    Column("error_type", String(200)),
    Column("error", Text),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("duration_ms", Float),
    Column("route", JSON),
    Column("agent", String(200)),
    Column("agent_version", String(200)),
    Column("checks", JSON, nullable=False),
    Column("step_count", Integer, nullable=False),
    Column("messages", Text),
    Index("ix_nova_traces_started_at", "started_at"),
    Index("ix_nova_traces_thread_id", "thread_id"),
    Index("ix_nova_traces_run_id", "run_id"),
)

steps_table = Table(
    "nova_trace_steps",
    _metadata,
    Column("step_id", String(64), primary_key=True),
    Column("trace_id", String(64), nullable=False),
    Column("parent_id", String(64)),
    Column("position", Integer, nullable=False),
    Column("depth", Integer, nullable=False),
    Column("name", String(300), nullable=False),
    Column("run_type", String(32), nullable=False),
    Column("node", String(200)),
    Column("path", String(1000), nullable=False),
    Column("langgraph_step", Integer),
    Column("checkpoint_ns", String(1000)),
    Column("task_id", String(64)),
    Column("agent", String(200)),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("duration_ms", Float),
    Column("status", String(16), nullable=False),
    Column("error", Text),
    Column("inputs", Text),
    Column("outputs", Text),
    Column("meta", Text, nullable=False),
    Index("ix_nova_trace_steps_trace", "trace_id", "position"),
)

blame_table = Table(
    "nova_trace_blame",
    _metadata,
    Column("trace_id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("result", JSON, nullable=False),
)


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One step of a run: a graph node, a model call, a tool call or a nested runnable."""

    step_id: str
    trace_id: str
    parent_id: str | None
    position: int
    depth: int
    name: str
    run_type: str
    node: str | None
    path: str
    """Graph path of the node, e.g. ``erp/agent`` (empty for the root)."""
    langgraph_step: int | None
    checkpoint_ns: str | None
    task_id: str | None
    """LangGraph task id: links the step to its checkpoint task."""
    agent: str | None
    started_at: datetime
    ended_at: datetime | None
    duration_ms: float | None
    status: StepStatus
    error: str | None
    inputs: Any
    outputs: Any
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """One traced run: its summary, and its steps when loaded with ``steps=True``."""

    trace_id: str
    run_id: str
    thread_id: str | None
    graph: str
    project: str | None
    request: str | None
    answer: str | None
    status: StepStatus
    error_type: str | None
    error: str | None
    started_at: datetime
    ended_at: datetime | None
    duration_ms: float | None
    route: dict[str, Any] | None
    agent: str | None
    agent_version: str | None
    checks: list[dict[str, Any]]
    step_count: int
    steps: tuple[TraceStep, ...] = ()


_SAME = {"$same_as_parent": True}


class TraceNotFound(LookupError):
    """No trace, or more than one, matches the id given."""


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _load_json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


class TraceStore:
    """Read and write traces (SQLAlchemy Core; SQLite by default, PostgreSQL accepted)."""

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        """Open the store at ``url`` (default: ``resolve_traces_url()``)."""
        self.engine = engine or traces_engine(url or resolve_traces_url())
        if engine is not None:
            _metadata.create_all(engine, checkfirst=True)

    # --- writing ---------------------------------------------------------------------------
    def write(self, trace: Mapping[str, Any], steps: Sequence[Mapping[str, Any]]) -> None:
        """Store one run and its steps, replacing an earlier copy of the same run."""
        self.write_many([(trace, steps)])

    def write_many(
        self, traces: Sequence[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]]
    ) -> None:
        """Store several runs in one transaction (replacing earlier copies of the same runs)."""
        if not traces:
            return
        ids = [trace["trace_id"] for trace, _ in traces]
        with self.engine.begin() as conn:
            conn.execute(delete(steps_table).where(steps_table.c.trace_id.in_(ids)))
            conn.execute(delete(traces_table).where(traces_table.c.trace_id.in_(ids)))
            conn.execute(insert(traces_table), [dict(trace) for trace, _ in traces])
            rows = [dict(step) for _, steps in traces for step in steps]
            if rows:
                conn.execute(insert(steps_table), rows)

    def save_blame(self, trace_id: str, result: Mapping[str, Any]) -> None:
        """Keep ``result`` as the latest attribution for ``trace_id``."""
        with self.engine.begin() as conn:
            conn.execute(delete(blame_table).where(blame_table.c.trace_id == trace_id))
            conn.execute(
                insert(blame_table).values(
                    trace_id=trace_id, created_at=datetime.now(UTC), result=dict(result)
                )
            )

    # --- reading ---------------------------------------------------------------------------
    def list(
        self,
        *,
        thread_id: str | None = None,
        status: StepStatus | None = None,
        limit: int = 20,
    ) -> list[TraceRecord]:
        """Return the newest traces (without steps), optionally for one thread or status."""
        query = select(traces_table).order_by(traces_table.c.started_at.desc()).limit(limit)
        if thread_id is not None:
            query = query.where(traces_table.c.thread_id == thread_id)
        if status is not None:
            query = query.where(traces_table.c.status == status)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [self._record(row) for row in rows]

    def get(self, id_or_prefix: str, *, steps: bool = True) -> TraceRecord:
        """Return the trace whose trace id or run id is, or starts with, ``id_or_prefix``.

        Raises:
            TraceNotFound: none matches, or the prefix is ambiguous.

        """
        if not id_or_prefix:
            raise TraceNotFound("Give a run id (see `nova trace list`).")
        columns = (traces_table.c.trace_id, traces_table.c.run_id)
        with self.engine.connect() as conn:
            row = None
            for column in columns:
                row = (
                    conn.execute(select(traces_table).where(column == id_or_prefix))
                    .mappings()
                    .first()
                )
                if row is not None:
                    break
            if row is None:
                candidates = {
                    r["trace_id"]: r
                    for column in columns
                    for r in conn.execute(
                        select(traces_table)
                        .where(column.startswith(id_or_prefix, autoescape=True))
                        .limit(2)
                    ).mappings()
                }
                if not candidates:
                    raise TraceNotFound(
                        f"No traced run with id {id_or_prefix!r}; `nova trace list` shows them."
                    )
                if len(candidates) > 1:
                    raise TraceNotFound(
                        f"Run id prefix {id_or_prefix!r} is ambiguous; give more characters."
                    )
                row = next(iter(candidates.values()))
            step_rows = (
                conn.execute(
                    select(steps_table)
                    .where(steps_table.c.trace_id == row["trace_id"])
                    .order_by(steps_table.c.position)
                )
                .mappings()
                .all()
                if steps
                else []
            )
        return self._record(row, step_rows)

    def latest_blame(self, trace_id: str) -> dict[str, Any] | None:
        """Return the latest attribution saved for ``trace_id``, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(blame_table.c.result).where(blame_table.c.trace_id == trace_id)
            ).first()
        return dict(row[0]) if row is not None else None

    def list_blames(
        self, *, since: datetime | None = None, limit: int = 1000
    ) -> Sequence[tuple[str, datetime, dict[str, Any]]]:
        """Return saved attributions as ``(trace_id, when, result)``, newest first.

        ``nova improve`` reads them: a blamed agent step is evidence for that agent's prompt.
        """
        query = select(blame_table).order_by(blame_table.c.created_at.desc()).limit(limit)
        if since is not None:
            query = query.where(blame_table.c.created_at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            (row["trace_id"], _utc(row["created_at"]) or row["created_at"], dict(row["result"]))
            for row in rows
        ]

    @staticmethod
    def _record(row: Mapping[Any, Any], step_rows: Sequence[Mapping[Any, Any]] = ()) -> TraceRecord:
        messages = _load_json(row.get("messages")) if step_rows else None
        messages = messages if isinstance(messages, dict) else {}
        payloads: dict[str, tuple[Any, Any]] = {}
        for s in step_rows:
            parent = payloads.get(s["parent_id"] or "", (None, None))
            inputs = hydrate(_load_json(s["inputs"]), messages)
            outputs = hydrate(_load_json(s["outputs"]), messages)
            # A subgraph's run shares its node's payloads; they are stored once, on the node.
            payloads[s["step_id"]] = (
                parent[0] if inputs == _SAME else inputs,
                parent[1] if outputs == _SAME else outputs,
            )
        steps = tuple(
            TraceStep(
                step_id=s["step_id"],
                trace_id=s["trace_id"],
                parent_id=s["parent_id"],
                position=s["position"],
                depth=s["depth"],
                name=s["name"],
                run_type=s["run_type"],
                node=s["node"],
                path=s["path"],
                langgraph_step=s["langgraph_step"],
                checkpoint_ns=s["checkpoint_ns"],
                task_id=s["task_id"],
                agent=s["agent"],
                started_at=_utc(s["started_at"]),  # type: ignore[arg-type]
                ended_at=_utc(s["ended_at"]),
                duration_ms=s["duration_ms"],
                status=s["status"],
                error=s["error"],
                inputs=payloads[s["step_id"]][0],
                outputs=payloads[s["step_id"]][1],
                meta=dict(_load_json(s["meta"]) or {}),
            )
            for s in step_rows
        )
        return TraceRecord(
            trace_id=row["trace_id"],
            run_id=row["run_id"],
            thread_id=row["thread_id"],
            graph=row["graph"],
            project=row["project"],
            request=row["request"],
            answer=row["answer"],
            status=row["status"],
            error_type=row["error_type"],
            error=row["error"],
            started_at=_utc(row["started_at"]),  # type: ignore[arg-type]
            ended_at=_utc(row["ended_at"]),
            duration_ms=row["duration_ms"],
            route=row["route"],
            agent=row["agent"],
            agent_version=row["agent_version"],
            checks=list(row["checks"] or []),
            step_count=row["step_count"],
            steps=steps,
        )


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    # Traces may lose their last writes in a power cut, never their integrity; skipping the
    # fsync per commit is what keeps tracing cheap next to a fast run.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def traces_engine(url: str) -> Engine:
    """Return the process-wide engine for a trace store URL (SQLite or PostgreSQL)."""
    key = normalise_url(url)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            if key.startswith("sqlite"):
                engine = create_engine(key, connect_args={"check_same_thread": False})
                event.listen(engine, "connect", _sqlite_pragmas)
            else:
                engine = create_engine(key, pool_pre_ping=True)
            create_tables(engine, _metadata)
            _engines[key] = engine
    return engine


def resolve_traces_url() -> str:
    """Return the trace store URL: ``NOVA_TRACES_URL``, else the ledger URL, else a SQLite file."""
    from nova.settings import get_settings
    from nova.tracing.config import get_tracing_settings

    settings = get_settings()
    return (
        get_tracing_settings().traces_url
        or settings.ledger_url
        or settings.sqlite_url("traces.sqlite")
    )
