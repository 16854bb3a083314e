"""Read what waits in the local checkpointer without loading every thread's state.

``BaseCheckpointSaver`` can only hand back whole checkpoints, one thread at a time: with a
thousand threads that is a thousand state decodes to find the few that wait. These queries
read the savers' own tables (langgraph-checkpoint-sqlite's ``checkpoints``/``writes``,
langgraph-checkpoint-postgres's ``checkpoints``/``checkpoint_writes``) once per question:

* the latest root checkpoint of every thread (one ``GROUP BY`` over the primary key);
* its ``__interrupt__`` writes not yet answered by a ``__resume__`` write of the same task
  (LangGraph writes the resume under the interrupted task's id before the run continues);
* which threads are pipeline runs (``nova_pipeline`` in the checkpoint metadata, set by
  ``graphs.pipeline.PipelineRunner``).

Only the interrupt values themselves are decoded (with the saver's serializer), and only the
pipeline threads' latest checkpoints are loaded in full, through the saver's public API.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from nova.ledger.db import ledger_engine

PIPELINE_METADATA_KEY = "nova_pipeline"
"""Checkpoint metadata naming the pipeline a thread runs (``PipelineRunner`` sets it)."""

_GREGORIAN_TO_UNIX_100NS = 0x01B21DD213814000


@dataclass(frozen=True, slots=True)
class PendingInterrupt:
    """One unanswered interrupt of a thread's latest checkpoint."""

    thread_id: str
    checkpoint_id: str
    interrupt_id: str | None
    value: Any
    """The interrupt payload (for an ERP write: the exact change)."""
    pipeline: str | None
    """The pipeline this thread runs, or ``None`` for a supervisor thread."""
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LatestCheckpoint:
    """A thread's latest root checkpoint id, with the pipeline it runs."""

    thread_id: str
    checkpoint_id: str
    pipeline: str
    created_at: datetime


def checkpoint_time(checkpoint_id: str) -> datetime:
    """Return when a checkpoint was written, from its UUIDv6 id (LangGraph's ids are v6)."""
    try:
        hex_id = uuid.UUID(checkpoint_id).hex
    except ValueError:
        return datetime.fromtimestamp(0, UTC)
    ticks = int(hex_id[0:8] + hex_id[8:12] + hex_id[13:16], 16)
    return datetime.fromtimestamp((ticks - _GREGORIAN_TO_UNIX_100NS) / 1e7, UTC)


def _engine(url: str) -> Engine:
    # The ledger module's engine cache serves any SQLAlchemy URL (WAL, busy timeout on SQLite).
    return ledger_engine(url)


def _tables(engine: Engine) -> tuple[str, str, str, str]:
    """Return (checkpoints, writes, value column, metadata-as-text expression) for ``engine``."""
    if engine.dialect.name == "postgresql":
        return "checkpoints", "checkpoint_writes", "blob", f"c.metadata->>'{PIPELINE_METADATA_KEY}'"
    return (
        "checkpoints",
        "writes",
        "value",
        f"json_extract(CAST(c.metadata AS TEXT), '$.{PIPELINE_METADATA_KEY}')",
    )


def _has_tables(engine: Engine, *names: str) -> bool:
    from sqlalchemy import inspect

    existing = set(inspect(engine).get_table_names())
    return all(name in existing for name in names)


def pending_interrupts(url: str) -> list[PendingInterrupt]:
    """Return every unanswered interrupt at the latest root checkpoint of each thread.

    Args:
        url: The checkpointer's SQLAlchemy URL (SQLite or PostgreSQL).

    Returns:
        Pending interrupts, newest checkpoint first; empty when no thread was ever saved.

    """
    engine = _engine(url)
    checkpoints, writes, value, pipeline = _tables(engine)
    if not _has_tables(engine, checkpoints, writes):
        return []
    query = text(
        f"""
        WITH latest AS (
            SELECT thread_id, MAX(checkpoint_id) AS checkpoint_id
            FROM {checkpoints} WHERE checkpoint_ns = '' GROUP BY thread_id
        )
        SELECT w.thread_id, w.checkpoint_id, w.task_id, w.idx, w.channel, w.type,
               w.{value} AS value, {pipeline} AS pipeline
        FROM latest l
        JOIN {writes} w ON w.thread_id = l.thread_id AND w.checkpoint_ns = ''
             AND w.checkpoint_id = l.checkpoint_id
             AND w.channel IN ('__interrupt__', '__resume__')
        JOIN {checkpoints} c ON c.thread_id = l.thread_id AND c.checkpoint_ns = ''
             AND c.checkpoint_id = l.checkpoint_id
        """
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    resumed = {(r["thread_id"], r["task_id"]) for r in rows if r["channel"] == "__resume__"}
    found: list[PendingInterrupt] = []
    for row in rows:
        if row["channel"] != "__interrupt__" or (row["thread_id"], row["task_id"]) in resumed:
            continue
        for interrupt_id, value in _interrupts(row["type"], bytes(row["value"])):
            found.append(
                PendingInterrupt(
                    thread_id=row["thread_id"],
                    checkpoint_id=row["checkpoint_id"],
                    interrupt_id=interrupt_id,
                    value=value,
                    pipeline=row["pipeline"],
                    created_at=checkpoint_time(row["checkpoint_id"]),
                )
            )
    found.sort(key=lambda item: item.checkpoint_id, reverse=True)
    return found


_CONSTRUCTOR_EXT = (0, 1, 2, 3, 4, 5)
"""LangGraph's msgpack extension codes for "build this object from these arguments"
(constructor with one, positional or keyword arguments, a class method with one argument,
a pydantic v1 or v2 model from its fields: ``langgraph.checkpoint.serde.jsonplus``); the
arguments are always the third item. Other codes (numpy arrays, delta snapshots) are not
plain data, and their checkpoints are read by the saver."""


def _as_data(code: int, data: bytes) -> Any:
    """Return a msgpack extension as plain data: a constructor's arguments, never an object."""
    import ormsgpack

    inner = ormsgpack.unpackb(data, ext_hook=_as_data, option=ormsgpack.OPT_NON_STR_KEYS)
    if code in _CONSTRUCTOR_EXT and isinstance(inner, list | tuple) and len(inner) >= 3:
        if (inner[0], inner[1]) == ("langgraph.types", "Interrupt") and isinstance(inner[2], dict):
            return {"__interrupt__": True, **inner[2]}
        return inner[2]
    raise ValueError(f"msgpack extension {code} is not plain data")


_NOT_PLAIN = object()
"""What ``_plain`` returns for a blob that is not plain data."""


def _plain(type_: str, blob: bytes) -> Any:
    """Decode a checkpointer blob as plain data (``_as_data``), or return ``_NOT_PLAIN``."""
    if type_ != "msgpack":
        return _NOT_PLAIN  # another serializer's format: only the saver reads it
    import ormsgpack

    try:
        return ormsgpack.unpackb(blob, ext_hook=_as_data, option=ormsgpack.OPT_NON_STR_KEYS)
    except (ValueError, TypeError, ormsgpack.MsgpackDecodeError):
        return _NOT_PLAIN


def _interrupts(type_: str, blob: bytes) -> list[tuple[str | None, Any]]:
    """Return ``(interrupt id, value)`` of each interrupt an ``__interrupt__`` write holds.

    Read as plain data (the common case, and the cheap one: LangGraph's serializer would
    import ``langgraph.types`` and langchain-core to build ``Interrupt`` objects only to be
    read here); anything else goes through the checkpointer's own serializer.
    """
    plain = _plain(type_, blob)
    if plain is not _NOT_PLAIN:
        items = plain if isinstance(plain, list) else [plain]
        if all(isinstance(i, dict) and i.get("__interrupt__") for i in items):
            return [(i.get("id"), i.get("value")) for i in items]
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    decoded = JsonPlusSerializer().loads_typed((type_, blob))
    return [
        (getattr(i, "id", None), getattr(i, "value", i))
        for i in (decoded if isinstance(decoded, list | tuple) else [decoded])
    ]


def waiting_threads(url: str) -> set[str]:
    """Return the threads with an unanswered interrupt (no value decoded)."""
    engine = _engine(url)
    checkpoints, writes, _value, _pipeline = _tables(engine)
    if not _has_tables(engine, checkpoints, writes):
        return set()
    query = text(
        f"""
        WITH latest AS (
            SELECT thread_id, MAX(checkpoint_id) AS checkpoint_id
            FROM {checkpoints} WHERE checkpoint_ns = '' GROUP BY thread_id
        )
        SELECT w.thread_id, w.task_id, w.channel
        FROM latest l
        JOIN {writes} w ON w.thread_id = l.thread_id AND w.checkpoint_ns = ''
             AND w.checkpoint_id = l.checkpoint_id
             AND w.channel IN ('__interrupt__', '__resume__')
        """
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    resumed = {(thread, task) for thread, task, channel in rows if channel == "__resume__"}
    return {
        thread
        for thread, task, channel in rows
        if channel == "__interrupt__" and (thread, task) not in resumed
    }


def pipeline_threads(url: str) -> list[LatestCheckpoint]:
    """Return the latest root checkpoint of every thread that runs a pipeline."""
    engine = _engine(url)
    checkpoints, _writes, _value, pipeline = _tables(engine)
    if not _has_tables(engine, checkpoints):
        return []
    query = text(
        f"""
        WITH latest AS (
            SELECT thread_id, MAX(checkpoint_id) AS checkpoint_id
            FROM {checkpoints} WHERE checkpoint_ns = '' GROUP BY thread_id
        )
        SELECT l.thread_id, l.checkpoint_id, {pipeline} AS pipeline
        FROM latest l
        JOIN {checkpoints} c ON c.thread_id = l.thread_id AND c.checkpoint_ns = ''
             AND c.checkpoint_id = l.checkpoint_id
        WHERE {pipeline} IS NOT NULL
        """
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        LatestCheckpoint(
            thread_id=row["thread_id"],
            checkpoint_id=row["checkpoint_id"],
            pipeline=row["pipeline"],
            created_at=checkpoint_time(row["checkpoint_id"]),
        )
        for row in rows
    ]


def latest_values(url: str, threads: list[str]) -> dict[str, dict[str, Any]]:
    """Return the state values of each thread's latest root checkpoint (only these threads).

    On SQLite the values live inside the checkpoint row: they are read as plain msgpack data
    (a message or other object comes back as its constructor's arguments), which spares a
    cold ``nova inbox`` importing LangGraph's saver and langchain-core (~0.4 s). Postgres
    keeps values in a blob table, and any checkpoint the plain reading cannot decode goes
    through the saver's public ``get_tuple``.
    """
    if not threads:
        return {}
    values: dict[str, dict[str, Any]] = {}
    engine = _engine(url)
    if engine.dialect.name == "sqlite":
        values = _plain_values(engine, threads)
    rest = [thread for thread in threads if thread not in values]
    if rest:
        with _saver(url) as saver:
            for thread in rest:
                config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
                found = saver.get_tuple(config)
                if found is not None:
                    values[thread] = dict(found.checkpoint.get("channel_values") or {})
    return values


def _plain_values(engine: Engine, threads: list[str]) -> dict[str, dict[str, Any]]:
    """Decode the latest root checkpoints of ``threads`` on SQLite as plain data, where possible."""
    from sqlalchemy import bindparam

    query = text(
        """
        SELECT c.thread_id, c.type, c.checkpoint FROM checkpoints c
        WHERE c.checkpoint_ns = '' AND c.thread_id IN :threads
          AND c.checkpoint_id = (
              SELECT MAX(l.checkpoint_id) FROM checkpoints l
              WHERE l.thread_id = c.thread_id AND l.checkpoint_ns = ''
          )
        """
    ).bindparams(bindparam("threads", expanding=True))
    with engine.connect() as conn:
        rows = conn.execute(query, {"threads": threads}).all()
    values: dict[str, dict[str, Any]] = {}
    for thread, type_, blob in rows:
        decoded = _plain(type_, blob)
        channel_values = decoded.get("channel_values") if isinstance(decoded, dict) else None
        if isinstance(channel_values, dict):
            values[thread] = channel_values
    return values


@contextmanager
def _saver(url: str) -> Iterator[Any]:
    """Open the saver for ``url`` read-only in spirit (no ``setup()``: it only reads)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        from langgraph.checkpoint.postgres import PostgresSaver

        plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        with PostgresSaver.from_conn_string(plain) as saver:
            yield saver
        return
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    connection = sqlite3.connect(parsed.database or ":memory:", check_same_thread=False)
    try:
        yield SqliteSaver(connection)
    finally:
        connection.close()
