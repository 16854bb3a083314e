"""Checkpointer factory: SQLite under the data directory by default, Postgres by URL."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.types import Durability
from sqlalchemy.engine import make_url

from nova.settings import get_settings

TURN_DURABILITY: Durability = "sync"
"""How an in-process turn (``nova ask``/``chat``, ``nova failures retry``) saves its steps.

Each step's checkpoint is written before the next step starts. LangGraph's default
("async") hands every save to a thread pool that each run (and each subgraph run) creates
anew, and a turn started ~10 threads that way; saving in line is cheaper on a small
machine (about a sixth of LangGraph's own CPU time per step), and a crash can no longer
lose a step that already ran.
"""


class SecretSafeSerializer(JsonPlusSerializer):
    """LangGraph's serializer, except that a failed task's exception is stored redacted.

    LangGraph keeps a failed node's exception as a pending write (its ``repr``); an error
    quoting a key (an endpoint that echoes it) or a database URL would otherwise be stored
    in the checkpoints verbatim.
    """

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        """Serialise ``obj``; an exception becomes its redacted ``repr`` (what LangGraph keeps)."""
        if isinstance(obj, BaseException):
            from nova.secrets import redact

            obj = redact(repr(obj))
        return super().dumps_typed(obj)


@contextlib.contextmanager
def open_checkpointer(url: str | None = None) -> Iterator[BaseCheckpointSaver[str]]:
    """Open the checkpointer at ``url`` (default: ``NOVA_CHECKPOINT_URL`` or the SQLite file).

    Threads persist across processes: a second ``nova ask --thread T`` sees the first turn.
    """
    url = url or get_settings().resolved_checkpoint_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        from langgraph.checkpoint.sqlite import SqliteSaver

        path = Path(parsed.database or ":memory:")
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: LangGraph runs sync nodes in worker threads.
        connection = sqlite3.connect(str(path), check_same_thread=False)
        try:
            saver = SqliteSaver(connection, serde=SecretSafeSerializer())
            saver.setup()  # sets journal_mode=WAL
            # WAL with synchronous=NORMAL commits without an fsync: a turn writes ~25
            # checkpoint transactions, and each fsync took ~12 ms of wall time on a busy
            # disk. Still durable across a crash or kill -9 of Nova; an OS crash or power
            # loss can roll back a thread's latest steps (Postgres is the durable path).
            connection.execute("PRAGMA synchronous=NORMAL")
            yield saver
        finally:
            connection.close()
    elif parsed.get_backend_name() == "postgresql":
        from langgraph.checkpoint.postgres import PostgresSaver

        plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        with PostgresSaver.from_conn_string(plain) as postgres_saver:
            postgres_saver.serde = SecretSafeSerializer()
            postgres_saver.setup()
            yield postgres_saver
    else:
        raise ValueError(f"Unsupported checkpoint URL {url!r}: use sqlite:///… or postgresql://…")
