"""The failure ledger: every failure Nova meets becomes a durable, queryable record.

A node's exception after its retries, a timeout, a recursion limit, an abandoned run,
a router abstain or fallback, a failed assumption check and a model or tool fallback
all land here with enough context to find and resume the run: thread, run, checkpoint,
node, agent and version, error type and message, time.

The store is SQLAlchemy Core over ``settings.resolved_ledger_url`` (a SQLite file under
the data directory by default; a PostgreSQL URL is accepted for the hosted server).
"""

from __future__ import annotations

import builtins
import json
import traceback
import uuid
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Index,
    MetaData,
    Select,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from nova.ledger.db import as_utc, ledger_engine

# Nova's source tree: the folder holding the ``nova`` package (graphs/, nodes/, tools/ …).
_SOURCE_ROOT = Path(__file__).resolve().parents[2]

FailureKind = Literal[
    "node_error",
    "timeout",
    "recursion_limit",
    "abandoned",
    "route_abstain",
    "route_fallback",
    "check_failed",
    "model_fallback",
    "tool_fallback",
    "tool_error",
    "step_failed",
    "budget_exceeded",
]
"""What went wrong, as a closed set a person can filter on."""

FAILURE_KINDS: tuple[str, ...] = get_args(FailureKind)

_MESSAGE_LIMIT = 4000


class FailureRecord(BaseModel):
    """One failure, as stored in the ledger."""

    model_config = ConfigDict(frozen=True)

    id: str
    """Ledger id (a UUID4 hex string); ``nova failures show`` accepts a unique prefix."""
    kind: FailureKind
    """What went wrong."""
    created_at: datetime
    """When it was recorded (UTC)."""
    error_type: str
    """Exception class name, or a short code such as ``CheckFailed`` or ``RouterAbstain``."""
    message: str
    """Human-readable description of what failed (truncated to 4000 characters)."""
    thread_id: str | None = None
    """LangGraph thread the run belonged to."""
    run_id: str | None = None
    """Run id (the root run's id in the trace store, or the server's run id)."""
    checkpoint_id: str | None = None
    """Checkpoint to resume from (the last one saved before the failure)."""
    checkpoint_ns: str = ""
    """Checkpoint namespace ('' for the root graph)."""
    node: str | None = None
    """Graph node that failed or produced the failing output."""
    agent: str | None = None
    """Catalog agent involved, if any."""
    agent_version: str | None = None
    """Catalog version hash of that agent."""
    project: str | None = None
    """Project scope of the request."""
    details: dict[str, JsonValue] = Field(default_factory=dict)
    """Anything else worth keeping: check name and evidence, fallback model, attempts…"""
    retried_run_id: str | None = None
    """Run that retried this failure, once ``nova failures retry`` was used."""
    retried_at: datetime | None = None
    """When the retry started."""
    dismissed_at: datetime | None = None
    """When the owner dismissed it (``nova failures dismiss``): it needs nothing more."""
    dismissed_by: str | None = None
    """Who dismissed it."""


_metadata = MetaData()

failures_table = Table(
    "nova_failures",
    _metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("error_type", String(200), nullable=False),
    Column("message", Text, nullable=False),
    Column("thread_id", String(200)),
    Column("run_id", String(200)),
    Column("checkpoint_id", String(200)),
    Column("checkpoint_ns", String(500), nullable=False, default=""),
    Column("node", String(200)),
    Column("agent", String(200)),
    Column("agent_version", String(200)),
    Column("project", String(200)),
    Column("details", JSON, nullable=False),
    Column("retried_run_id", String(200)),
    Column("retried_at", DateTime(timezone=True)),
    Index("ix_nova_failures_created_at", "created_at"),
    Index("ix_nova_failures_thread_id", "thread_id"),
    Index("ix_nova_failures_run_id", "run_id"),
)

# A dismissal is its own table, not a column of ``nova_failures``: ``create_all`` adds a
# missing table to an existing ledger but never a missing column, and ledgers outlive releases.
dismissals_table = Table(
    "nova_failure_dismissals",
    _metadata,
    Column("failure_id", String(32), primary_key=True),
    Column("dismissed_at", DateTime(timezone=True), nullable=False),
    Column("dismissed_by", String(200), nullable=False),
    Column("reason", Text, nullable=False, default=""),
)


def _jsonable(details: Mapping[str, Any] | None) -> dict[str, JsonValue]:
    # Round-trip through json so a stray datetime or Path is stored as text, not rejected.
    if not details:
        return {}
    return json.loads(json.dumps(dict(details), default=str))


def _row_to_record(row: Mapping[Any, Any]) -> FailureRecord:
    values = {key: value for key, value in dict(row).items() if key not in ("failure_id", "reason")}
    for key in ("created_at", "retried_at", "dismissed_at"):
        if isinstance(values.get(key), datetime):
            values[key] = as_utc(values[key])
    return FailureRecord.model_validate(values)


def source_frames(error: BaseException, limit: int = 5) -> list[str]:
    """Where in Nova's own code ``error`` was raised: ``path:line`` frames, innermost last.

    Frames in installed libraries are left out; ``nova review-code`` reads these to find the
    files that fail most (the failure ledger's hot spots).
    """
    frames = []
    for frame in traceback.extract_tb(error.__traceback__):
        path = Path(frame.filename)
        if "site-packages" in path.parts or not path.is_absolute():
            continue
        try:
            relative = path.resolve().relative_to(_SOURCE_ROOT)
        except ValueError:
            continue
        frames.append(f"{relative.as_posix()}:{frame.lineno}")
    return frames[-limit:]


def new_failure(
    kind: FailureKind,
    *,
    error: BaseException | None = None,
    error_type: str | None = None,
    message: str | None = None,
    thread_id: str | None = None,
    run_id: str | None = None,
    checkpoint_id: str | None = None,
    checkpoint_ns: str = "",
    node: str | None = None,
    agent: str | None = None,
    agent_version: str | None = None,
    project: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> FailureRecord:
    """Make (not store) a failure record; ``FailureLedger.record`` documents the arguments.

    Raises:
        ValueError: ``kind`` is unknown, or neither ``error`` nor ``error_type`` is given.

    """
    if kind not in FAILURE_KINDS:
        raise ValueError(f"Unknown failure kind {kind!r}; use one of: {', '.join(FAILURE_KINDS)}")
    if error is None and not error_type:
        raise ValueError("FailureLedger.record needs an exception (error=) or an error_type=")
    from nova.secrets import current_redactor

    # Error texts quote what the failing call saw (URLs, headers, an endpoint echoing a key):
    # secrets are masked before the record exists, so no copy of it ever holds them.
    redactor = current_redactor()
    resolved_type = error_type or type(error).__name__
    resolved_message = message if message is not None else (str(error) or resolved_type)
    resolved_message = redactor.text(resolved_message)
    if error is not None and error.__traceback__ is not None and "source" not in (details or {}):
        frames = source_frames(error)
        if frames:
            details = {**(details or {}), "source": frames}
    return FailureRecord(
        id=uuid.uuid4().hex,
        kind=kind,
        created_at=datetime.now(UTC),
        error_type=resolved_type[:200],
        message=resolved_message[:_MESSAGE_LIMIT],
        thread_id=thread_id,
        run_id=run_id,
        checkpoint_id=checkpoint_id,
        checkpoint_ns=checkpoint_ns or "",
        node=node,
        agent=agent,
        agent_version=agent_version,
        project=project,
        details=redactor(_jsonable(details)),
    )


def _with_dismissal() -> Select[Any]:
    """Select every failure column plus its dismissal (if any), one row per failure."""
    return select(
        failures_table, dismissals_table.c.dismissed_at, dismissals_table.c.dismissed_by
    ).select_from(
        failures_table.outerjoin(
            dismissals_table, dismissals_table.c.failure_id == failures_table.c.id
        )
    )


class FailureNotFound(LookupError):
    """No failure, or more than one, matches the id given."""


class FailureLedger:
    """Durable store of failures (SQLAlchemy Core; SQLite by default, PostgreSQL accepted).

    Example:
        >>> ledger = FailureLedger()  # settings.resolved_ledger_url
        >>> rec = ledger.record("node_error", error=err, thread_id="t1", node="erp")
        >>> ledger.list(thread_id="t1")[0].id == rec.id
        True

    """

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        """Open the ledger at ``url`` (default: the settings' ledger URL)."""
        if engine is not None:
            _metadata.create_all(engine, checkfirst=True)
            self.engine = engine
        else:
            if url is None:
                from nova.settings import get_settings

                url = get_settings().resolved_ledger_url
            # One engine per URL serves every ledger (nova.ledger.db).
            self.engine = ledger_engine(url, _metadata)

    def record(
        self,
        kind: FailureKind,
        *,
        error: BaseException | None = None,
        error_type: str | None = None,
        message: str | None = None,
        thread_id: str | None = None,
        run_id: str | None = None,
        checkpoint_id: str | None = None,
        checkpoint_ns: str = "",
        node: str | None = None,
        agent: str | None = None,
        agent_version: str | None = None,
        project: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> FailureRecord:
        """Store one failure and return it.

        Args:
            kind: What went wrong (one of ``FAILURE_KINDS``).
            error: The exception, if there is one; fills ``error_type`` and ``message``.
            error_type: Short code when there is no exception (``CheckFailed``…).
            message: What failed, in words; defaults to ``str(error)``.
            thread_id: LangGraph thread id.
            run_id: Run id.
            checkpoint_id: Checkpoint to resume from.
            checkpoint_ns: Checkpoint namespace of that checkpoint.
            node: Node that failed.
            agent: Catalog agent involved.
            agent_version: Its version hash.
            project: Project scope.
            details: Extra JSON-serialisable facts.

        Returns:
            The stored record.

        Raises:
            ValueError: ``kind`` is unknown, or neither ``error`` nor ``error_type`` is given.

        """
        record = new_failure(
            kind,
            error=error,
            error_type=error_type,
            message=message,
            thread_id=thread_id,
            run_id=run_id,
            checkpoint_id=checkpoint_id,
            checkpoint_ns=checkpoint_ns,
            node=node,
            agent=agent,
            agent_version=agent_version,
            project=project,
            details=details,
        )
        self.save(record)
        return record

    def save(self, record: FailureRecord) -> None:
        """Store a record made by ``new_failure`` (``record`` does both)."""
        with self.engine.begin() as conn:
            conn.execute(
                insert(failures_table).values(
                    **record.model_dump(exclude={"dismissed_at", "dismissed_by"})
                )
            )

    def list(
        self,
        *,
        thread_id: str | None = None,
        run_id: str | None = None,
        kind: FailureKind | None = None,
        node: str | None = None,
        agent: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> builtins.list[FailureRecord]:
        """Return failures matching every filter given, newest first.

        Args:
            thread_id: Only this thread.
            run_id: Only this run.
            kind: Only this kind.
            node: Only this node.
            agent: Only this agent.
            since: Only failures recorded at or after this time.
            limit: At most this many (newest kept).

        Returns:
            The matching records.

        """
        query = _with_dismissal().order_by(failures_table.c.created_at.desc()).limit(limit)
        filters = {
            "thread_id": thread_id,
            "run_id": run_id,
            "kind": kind,
            "node": node,
            "agent": agent,
        }
        for column, value in filters.items():
            if value is not None:
                query = query.where(failures_table.c[column] == value)
        if since is not None:
            query = query.where(failures_table.c.created_at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_row_to_record(row) for row in rows]

    def get(self, failure_id: str) -> FailureRecord | None:
        """Return the failure with this exact id, or ``None``."""
        query = _with_dismissal().where(failures_table.c.id == failure_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _row_to_record(row) if row is not None else None

    def find(self, id_or_prefix: str) -> FailureRecord:
        """Return the one failure whose id is, or starts with, ``id_or_prefix``.

        Raises:
            FailureNotFound: None matches, or the prefix is ambiguous.

        """
        exact = self.get(id_or_prefix)
        if exact is not None:
            return exact
        if not id_or_prefix:
            raise FailureNotFound("Give a failure id (see `nova failures list`).")
        query = (
            _with_dismissal()
            .where(failures_table.c.id.startswith(id_or_prefix, autoescape=True))
            .limit(2)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        if not rows:
            raise FailureNotFound(
                f"No failure with id {id_or_prefix!r}; `nova failures list` shows the ids."
            )
        if len(rows) > 1:
            raise FailureNotFound(
                f"Failure id prefix {id_or_prefix!r} is ambiguous; give more characters."
            )
        return _row_to_record(rows[0])

    def mark_retried(self, failure_id: str, retried_run_id: str) -> None:
        """Note that ``failure_id`` was retried by run ``retried_run_id``."""
        with self.engine.begin() as conn:
            conn.execute(
                update(failures_table)
                .where(failures_table.c.id == failure_id)
                .values(retried_run_id=retried_run_id, retried_at=datetime.now(UTC))
            )

    def dismiss(self, failure_id: str, *, by: str, reason: str = "") -> FailureRecord:
        """Mark a failure as needing nothing more (it leaves the inbox); return it.

        Dismissing twice keeps the first dismissal.

        Raises:
            FailureNotFound: No failure has this id (a unique prefix is accepted).

        """
        record = self.find(failure_id)
        if record.dismissed_at is None:
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        insert(dismissals_table).values(
                            failure_id=record.id,
                            dismissed_at=datetime.now(UTC),
                            dismissed_by=by[:200],
                            reason=reason[:_MESSAGE_LIMIT],
                        )
                    )
            except IntegrityError:
                pass  # dismissed at the same moment by another caller: the first one stands
        return self.find(record.id)

    def open_failures(
        self, *, thread_ids: Collection[str] | None = None, limit: int = 100
    ) -> tuple[builtins.list[FailureRecord], int]:
        """Return the newest failures neither retried nor dismissed, and how many there are.

        Args:
            thread_ids: Only failures of these threads (a server caller's own threads).
            limit: At most this many records (the count covers all of them).

        Returns:
            ``(records newest first, total count)``: one query for each.

        """
        open_rows = dismissals_table.c.failure_id.is_(None) & failures_table.c.retried_run_id.is_(
            None
        )
        if thread_ids is not None:
            open_rows = open_rows & failures_table.c.thread_id.in_(list(thread_ids))
        joined = failures_table.outerjoin(
            dismissals_table, dismissals_table.c.failure_id == failures_table.c.id
        )
        query = (
            _with_dismissal()
            .where(open_rows)
            .order_by(failures_table.c.created_at.desc())
            .limit(limit)
        )
        count = select(func.count()).select_from(joined).where(open_rows)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
            total = int(conn.execute(count).scalar_one())
        return [_row_to_record(row) for row in rows], total
