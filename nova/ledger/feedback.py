"""The feedback ledger: the user's word on a run, kept as a durable record.

``nova feedback RUN|THREAD good|bad [--agent A] [--answer TEXT] [--note TEXT]`` (and
``give_feedback`` from Python) stores one record per verdict, with what the run was: its
route decision, the agent versions it used, the user and the project. Blame reads it as
evidence (``nova.tracing.blame.feedback.FeedbackEvaluator``): "bad" makes a run fail
whatever its checks say, a corrected agent is a correction of the ``route`` step, and a
corrected answer's facts judge the replays. ``nova improve`` reads it as raw material.

The store is SQLAlchemy Core over ``settings.resolved_ledger_url`` (a SQLite file under
the data directory by default, PostgreSQL by URL), like the other ledgers.
"""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    Text,
    insert,
    or_,
    select,
)

from nova.ledger.db import SqlLedger, as_utc

Rating = Literal["good", "bad"]
FeedbackSource = Literal["cli", "server", "python", "import", "clarify"]


class FeedbackRecord(BaseModel):
    """One verdict of the user on a run, as stored in the ledger."""

    model_config = ConfigDict(frozen=True)

    id: str
    """Ledger id (a UUID4 hex string)."""
    created_at: datetime
    """When it was given (UTC)."""
    rating: Rating
    """The user's verdict on the run's answer."""
    run_id: str | None = None
    """The run judged (the trace's run id)."""
    thread_id: str | None = None
    """The run's thread (blame replays it from its checkpoints)."""
    agent: str | None = None
    """The agent that should have answered (a routing correction), if the user named one."""
    answer: str | None = None
    """The right answer, or the facts it must state ("the amount is 1,250.00"), if given."""
    note: str | None = None
    """Anything else the user said."""
    request: str | None = None
    """The request the run answered."""
    given_answer: str | None = None
    """The answer the user judged."""
    routed_agent: str | None = None
    """The agent the run was routed to."""
    route: dict[str, JsonValue] | None = None
    """The run's route decision."""
    agent_versions: dict[str, str] = Field(default_factory=dict)
    """Versions of the agents the run used (agent name to version label)."""
    user: str | None = None
    """Who gave the feedback (the run's user on the server; the local user on the CLI)."""
    project: str | None = None
    """The run's project."""
    source: FeedbackSource | None = None
    """How it was given (``None`` on records older than the field)."""
    catalog: str | None = None
    """The catalog folder a correction is about (``None``: Nova's own catalog)."""
    out_of_scope: bool | None = None
    """The user says no agent of the catalog should handle the request."""

    @property
    def corrects_route(self) -> bool:
        """Whether the feedback names another agent than the one the run was routed to."""
        return self.rating == "bad" and bool(self.agent) and self.agent != self.routed_agent

    @property
    def is_routing_correction(self) -> bool:
        """Whether this names where the request belongs: another agent, or none at all."""
        return bool(self.request) and (self.corrects_route or bool(self.out_of_scope))


class FeedbackImportError(ValueError):
    """A corrections file has bad lines; ``problems`` names each by line number."""

    def __init__(self, path: str, problems: builtins.list[str]) -> None:
        self.problems = problems
        listing = "\n  ".join(problems)
        super().__init__(
            f"{len(problems)} bad line(s) in {path}; nothing was imported:\n  {listing}"
        )


_metadata = MetaData()

feedback_table = Table(
    "nova_feedback",
    _metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("rating", String(8), nullable=False),
    Column("run_id", String(200)),
    Column("thread_id", String(200)),
    Column("agent", String(200)),
    Column("answer", Text),
    Column("note", Text),
    Column("request", Text),
    Column("given_answer", Text),
    Column("routed_agent", String(200)),
    Column("route", JSON),
    Column("agent_versions", JSON, nullable=False),
    Column("user", String(200)),
    Column("project", String(200)),
    Column("source", String(16)),
    Column("catalog", Text),
    Column("out_of_scope", Boolean),
    Index("ix_nova_feedback_created_at", "created_at"),
    Index("ix_nova_feedback_run_id", "run_id"),
    Index("ix_nova_feedback_thread_id", "thread_id"),
)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str)) if value is not None else None


class FeedbackLedger(SqlLedger):
    """Feedback records in a SQL database (SQLite by default, PostgreSQL by URL).

    Example:
        >>> ledger = FeedbackLedger()  # settings.resolved_ledger_url
        >>> ledger.record("bad", run_id="3f2a…", agent="erp_payments")  # doctest: +SKIP

    """

    metadata = _metadata

    def record(
        self,
        rating: Rating,
        *,
        run_id: str | None = None,
        thread_id: str | None = None,
        agent: str | None = None,
        answer: str | None = None,
        note: str | None = None,
        request: str | None = None,
        given_answer: str | None = None,
        routed_agent: str | None = None,
        route: Mapping[str, Any] | None = None,
        agent_versions: Mapping[str, str] | None = None,
        user: str | None = None,
        project: str | None = None,
        source: FeedbackSource | None = None,
        catalog: str | None = None,
        out_of_scope: bool | None = None,
    ) -> FeedbackRecord:
        """Store one verdict and return it.

        Raises:
            ValueError: ``rating`` is not good/bad, or neither a run nor a thread is named
                (a correction from the clarifying question or an import needs its request).

        """
        record = self._new(
            rating,
            run_id=run_id,
            thread_id=thread_id,
            agent=agent,
            answer=answer,
            note=note,
            request=request,
            given_answer=given_answer,
            routed_agent=routed_agent,
            route=route,
            agent_versions=agent_versions,
            user=user,
            project=project,
            source=source,
            catalog=catalog,
            out_of_scope=out_of_scope,
        )
        with self.engine.begin() as conn:
            conn.execute(insert(feedback_table).values(**record.model_dump()))
        return record

    @staticmethod
    def _new(
        rating: Rating,
        *,
        run_id: str | None = None,
        thread_id: str | None = None,
        agent: str | None = None,
        answer: str | None = None,
        note: str | None = None,
        request: str | None = None,
        given_answer: str | None = None,
        routed_agent: str | None = None,
        route: Mapping[str, Any] | None = None,
        agent_versions: Mapping[str, str] | None = None,
        user: str | None = None,
        project: str | None = None,
        source: FeedbackSource | None = None,
        catalog: str | None = None,
        out_of_scope: bool | None = None,
    ) -> FeedbackRecord:
        if rating not in ("good", "bad"):
            raise ValueError(f"Feedback is 'good' or 'bad', not {rating!r}")
        if not run_id and not thread_id and not (request and source in ("import", "clarify")):
            raise ValueError("Feedback needs the run or the thread it is about")
        if out_of_scope and agent:
            raise ValueError("A request is either out of scope or belongs to an agent, not both")
        return FeedbackRecord(
            id=uuid.uuid4().hex,
            created_at=datetime.now(UTC),
            rating=rating,
            run_id=run_id,
            thread_id=thread_id,
            agent=agent or None,
            answer=answer or None,
            note=note or None,
            request=request,
            given_answer=given_answer,
            routed_agent=routed_agent,
            route=_jsonable(dict(route)) if route else None,
            agent_versions=dict(agent_versions or {}),
            user=user,
            project=project,
            source=source,
            catalog=catalog,
            out_of_scope=out_of_scope or None,
        )

    def import_corrections(
        self,
        lines: Iterable[str],
        *,
        name: str = "<corrections>",
        agents: Collection[str] | None = None,
        catalog: str | None = None,
        user: str | None = None,
    ) -> builtins.list[FeedbackRecord]:
        """Store labelled corrections, one ``{"text": ..., "agent": ...}`` JSON object a line.

        ``"agent": null`` says the request is out of scope. Every line is checked before
        anything is written, and all are written in one transaction: a file with a bad
        line imports nothing.

        Args:
            lines: The file's lines (blank lines are skipped).
            name: The file's name, for messages.
            agents: The catalog's agent names; an unknown agent is a bad line.
            catalog: The catalog folder the corrections are about (``None``: Nova's).
            user: Who imports them.

        Raises:
            FeedbackImportError: naming every bad line by its number.

        """
        records: builtins.list[FeedbackRecord] = []
        problems: builtins.list[str] = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as error:
                problems.append(f"line {number}: not JSON ({error.msg})")
                continue
            if not isinstance(item, dict):
                problems.append(f"line {number}: expected an object with text and agent")
                continue
            text, agent = item.get("text"), item.get("agent", ...)
            if not isinstance(text, str) or not text.strip():
                problems.append(f"line {number}: text must be a non-empty string")
                continue
            if agent is ...:
                problems.append(f"line {number}: agent is missing (null means out of scope)")
                continue
            if agent is not None and not isinstance(agent, str):
                problems.append(f"line {number}: agent must be a name or null")
                continue
            if agent is not None and agents is not None and agent not in agents:
                problems.append(f"line {number}: no agent named {agent!r} in the catalog")
                continue
            records.append(
                self._new(
                    "bad",
                    request=text.strip(),
                    agent=agent,
                    out_of_scope=agent is None,
                    note=f"imported from {name} line {number}",
                    user=user,
                    source="import",
                    catalog=catalog,
                )
            )
        if problems:
            raise FeedbackImportError(name, problems)
        if records:
            with self.engine.begin() as conn:
                conn.execute(insert(feedback_table), [r.model_dump() for r in records])
        return records

    def corrections(
        self, *, catalog: str | None = None, since: datetime | None = None
    ) -> builtins.list[FeedbackRecord]:
        """Return the routing corrections about ``catalog`` (``None``: Nova's), oldest first."""
        table = feedback_table
        query = (
            select(table)
            .where(table.c.rating == "bad")
            .where(table.c.request.is_not(None))
            .where(or_(table.c.agent.is_not(None), table.c.out_of_scope.is_(True)))
            .where(table.c.catalog.is_(None) if catalog is None else table.c.catalog == catalog)
            .order_by(table.c.created_at, table.c.id)
        )
        if since is not None:
            query = query.where(table.c.created_at > since)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [r for r in map(self._record, rows) if r.is_routing_correction]

    def list(
        self,
        *,
        bad: bool | None = None,
        agent: str | None = None,
        run_id: str | None = None,
        thread_id: str | None = None,
        user: str | None = None,
        limit: int = 50,
    ) -> builtins.list[FeedbackRecord]:
        """Return feedback, newest first.

        Args:
            bad: Only bad (``True``) or only good (``False``) verdicts.
            agent: Only feedback about this agent: routed to it, or corrected to it.
            run_id: Only feedback on this run.
            thread_id: Only feedback on runs of this thread.
            user: Only feedback this user gave.
            limit: At most this many records.

        """
        query = select(feedback_table).order_by(feedback_table.c.created_at.desc()).limit(limit)
        if bad is not None:
            query = query.where(feedback_table.c.rating == ("bad" if bad else "good"))
        if agent is not None:
            query = query.where(
                or_(feedback_table.c.agent == agent, feedback_table.c.routed_agent == agent)
            )
        if run_id is not None:
            query = query.where(feedback_table.c.run_id == run_id)
        if thread_id is not None:
            query = query.where(feedback_table.c.thread_id == thread_id)
        if user is not None:
            query = query.where(feedback_table.c.user == user)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [self._record(row) for row in rows]

    def latest(
        self, *, run_id: str | None = None, thread_id: str | None = None
    ) -> FeedbackRecord | None:
        """Return the newest verdict on ``run_id`` (else on the newest run of ``thread_id``)."""
        if run_id is not None:
            found = self.list(run_id=run_id, limit=1)
            if found:
                return found[0]
        if thread_id is not None:
            found = self.list(thread_id=thread_id, limit=1)
            return found[0] if found else None
        return None

    @staticmethod
    def _record(row: Mapping[Any, Any]) -> FeedbackRecord:
        values = dict(row)
        if isinstance(values.get("created_at"), datetime):
            values["created_at"] = as_utc(values["created_at"])
        values["agent_versions"] = values.get("agent_versions") or {}
        return FeedbackRecord.model_validate(values)


def give_feedback(
    target: str,
    rating: Rating,
    *,
    agent: str | None = None,
    answer: str | None = None,
    note: str | None = None,
    user: str | None = None,
    ledger: FeedbackLedger | None = None,
    traces: Any = None,
    source: FeedbackSource = "python",
    may_judge: Callable[[str | None], bool] | None = None,
) -> FeedbackRecord:
    """Record the user's verdict on a run, named by run id or thread id (its newest run).

    The run's route decision, agent version, request, answer and project are copied from
    its trace, so the record stands on its own.

    Args:
        target: A run id or trace id (a unique prefix is enough), or a thread id.
        rating: ``good`` or ``bad``.
        agent: The agent that should have answered (a routing correction).
        answer: The right answer, or the facts it must state.
        note: Anything else.
        user: Who gives the feedback.
        ledger: Where to store it; the configured ledger by default.
        traces: The trace store to read the run from; the configured one by default.
        source: How the feedback came (``cli``, ``server``, ``python``).
        may_judge: Given the run's thread id, whether ``user`` may judge it (the server
            allows a caller only their own threads); a refused run reads as unknown.

    Raises:
        LookupError: no traced run has this id, and no thread either (or the caller may
            not see it).

    """
    from nova.tracing import TraceNotFound, TraceStore

    store = traces if traces is not None else TraceStore()
    try:
        trace = store.get(target, steps=False)
    except TraceNotFound:
        newest = store.list(thread_id=target, limit=1)
        if not newest:
            raise LookupError(
                f"No traced run or thread {target!r} (see `nova trace list`)"
            ) from None
        trace = newest[0]
    if may_judge is not None and not may_judge(trace.thread_id):
        raise LookupError(f"No traced run or thread {target!r} of yours")
    route = trace.route or None
    versions = {trace.agent: trace.agent_version} if trace.agent and trace.agent_version else {}
    return (ledger or FeedbackLedger()).record(
        rating,
        run_id=trace.run_id,
        thread_id=trace.thread_id,
        agent=agent,
        answer=answer,
        note=note,
        request=trace.request,
        given_answer=trace.answer,
        routed_agent=(route or {}).get("agent") or trace.agent,
        route=route,
        agent_versions=versions,
        user=user,
        project=trace.project,
        source=source,
    )
