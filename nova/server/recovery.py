"""Abandoned runs: runs whose server died under them, as failure-ledger records.

``langgraph-runtime-pg`` keeps a Redis heartbeat per running run. When a server is killed
(``kill -9``, OOM, a lost machine), its heartbeats expire and the runtime's periodic sweep
takes the run over: back to ``pending`` while attempts remain (the next worker resumes it
from its last checkpoint, because LangGraph treats a re-entry with the same run id as a
resume, so finished nodes are not run again), or ``error`` once ``BG_JOB_MAX_RETRIES``
attempts are spent.

``record_abandoned_runs`` turns each run the sweep took over into one ``abandoned`` record
in ``nova.ledger.failures.FailureLedger``: thread, run, the checkpoint it resumes (or can be
resumed) from, the node that was in flight, the routed agent and its version, and whether
the run was resumed or marked failed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from uuid import UUID

from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, create_engine, select
from sqlalchemy.engine import Engine, make_url

from nova.ledger.failures import FailureLedger, FailureRecord

log = logging.getLogger(__name__)

Outcome = Literal["resumed", "failed"]

# The two runtime tables read here (langgraph-runtime-pg 0.11.1 schema; only these columns).
_runtime = MetaData()
_runs = Table(
    "runs",
    _runtime,
    Column("run_id", Uuid, primary_key=True),
    Column("thread_id", Uuid),
    Column("status", String),
)
_retry_counters = Table(
    "retry_counters", _runtime, Column("run_id", Uuid, primary_key=True), Column("count", Integer)
)


@dataclass(frozen=True, slots=True)
class TakenOverRun:
    """A run the runtime's sweep took over from a dead worker."""

    run_id: str
    thread_id: str | None
    status: str
    """Status right after the sweep: ``pending``/``running`` (resumed) or ``error`` (failed)."""
    attempts: int
    """Attempts started so far, including the abandoned one."""

    @property
    def outcome(self) -> Outcome:
        """Whether the run goes on from its checkpoint or was marked failed."""
        return "failed" if self.status == "error" else "resumed"


class ThreadStateReader(Protocol):
    """What this module needs from ``langgraph_sdk``'s thread client."""

    async def get_state(self, thread_id: str) -> Any:
        """Return the thread's latest state (values, next, checkpoint)."""
        ...


def runtime_engine(database_url: str) -> Engine:
    """Open a small synchronous engine on the runtime's database (psycopg 3)."""
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(url, pool_size=1, max_overflow=1, pool_pre_ping=True)


def taken_over_runs(engine: Engine, run_ids: Iterable[UUID | str]) -> list[TakenOverRun]:
    """Read status, thread and attempts of ``run_ids`` from the runtime's tables."""
    ids = [UUID(str(run_id)) for run_id in run_ids]
    if not ids:
        return []
    query = (
        select(_runs.c.run_id, _runs.c.thread_id, _runs.c.status, _retry_counters.c["count"])
        .select_from(_runs.outerjoin(_retry_counters, _runs.c.run_id == _retry_counters.c.run_id))
        .where(_runs.c.run_id.in_(ids))
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        TakenOverRun(
            run_id=str(run_id),
            thread_id=str(thread_id) if thread_id else None,
            status=status,
            attempts=int(count or 0),
        )
        for run_id, thread_id, status, count in rows
    ]


def _agent_version(values: dict[str, Any], agent: str | None) -> str | None:
    agent_run = values.get("agent_run") or {}
    if agent and agent_run.get("agent") == agent:
        return f"{agent_run.get('version')}+{agent_run.get('content_version')}"
    if agent is None:
        return None
    from nova.catalog import default_catalog

    catalog = default_catalog()
    return (
        f"{catalog[agent].version}+{catalog[agent].content_version}" if agent in catalog else None
    )


async def describe_and_record(
    runs: Sequence[TakenOverRun],
    *,
    threads: ThreadStateReader,
    ledger: FailureLedger,
    max_attempts: int,
) -> list[FailureRecord]:
    """Record one ``abandoned`` failure per run, with the state it stopped in.

    Args:
        runs: Runs the sweep took over (see ``taken_over_runs``).
        threads: Reads thread state (the in-process ``langgraph_sdk`` client's ``threads``).
        ledger: Where the records go.
        max_attempts: The server's attempt limit, quoted in the message.

    Returns:
        The stored records.

    """
    import asyncio

    records = []
    for run in runs:
        values: dict[str, Any] = {}
        checkpoint_id = node = None
        if run.thread_id:
            state = await threads.get_state(run.thread_id)
            values = state.get("values") or {}
            if not isinstance(values, dict):
                values = {}
            checkpoint_id = (state.get("checkpoint") or {}).get("checkpoint_id")
            node = ", ".join(state.get("next") or ()) or None
        route = values.get("route") or {}
        agent = route.get("agent") if isinstance(route, dict) else None
        where = f"while {node} was running" if node else "before its first checkpoint"
        if run.outcome == "failed":
            message = (
                f"The server running this run died {where}, and it had used all "
                f"{max_attempts} attempts, so it was marked failed. Its thread keeps "
                f"checkpoint {checkpoint_id}; resume it with a new run on the thread "
                "(input None) once the cause (crash, OOM, restart loop) is fixed."
            )
        else:
            message = (
                f"The server running this run died {where}; another worker resumes it from "
                f"checkpoint {checkpoint_id} (at most {max_attempts} attempts in all)."
            )
        record = await asyncio.to_thread(
            ledger.record,
            "abandoned",
            error_type="RunAbandoned",
            message=message,
            thread_id=run.thread_id,
            run_id=run.run_id,
            checkpoint_id=checkpoint_id,
            node=node,
            agent=agent,
            agent_version=_agent_version(values, agent),
            project=values.get("project") if isinstance(values.get("project"), str) else None,
            details={
                "outcome": run.outcome,
                "status": run.status,
                "attempts": run.attempts,
                "max_attempts": max_attempts,
            },
        )
        log.warning("Run %s abandoned by its server: %s", run.run_id, run.outcome)
        records.append(record)
    return records
