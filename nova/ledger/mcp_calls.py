"""Approved calls of mutating MCP tools: each is sent to its server at most once.

An approved call is recorded (``started``) before Nova sends it and marked ``done`` with
its result afterwards, under a key derived from the thread, the tool call and its
arguments. A resumed, replayed or crash-recovered run finds the record: a ``done`` call
returns its recorded result, and a ``started`` one (the process died while it ran) is not
sent again, since only the server knows whether it took effect.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import JSON, Column, DateTime, MetaData, String, Table, Text, insert, select, update
from sqlalchemy.exc import IntegrityError

from nova.ledger.db import ledger_engine

McpCallStatus = Literal["started", "done"]

_metadata = MetaData()

mcp_calls_table = Table(
    "nova_mcp_calls",
    _metadata,
    Column("key", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("thread_id", String(200), nullable=False),
    Column("call_id", String(200), nullable=False),
    Column("tool", String(200), nullable=False),
    Column("arguments", JSON, nullable=False),
    Column("approver", String(120), nullable=False),
    Column("result", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


class McpCall(BaseModel):
    """One approved call of a mutating MCP tool."""

    key: str
    status: McpCallStatus
    thread_id: str
    call_id: str
    tool: str
    arguments: dict[str, Any]
    approver: str
    result: str | None = None


def call_key(thread_id: str, call_id: str, tool: str, arguments: dict[str, Any]) -> str:
    """Return the key of one requested call: same thread, call and arguments, same key."""
    body = json.dumps([thread_id, call_id, tool, arguments], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


class McpCallLedger:
    """Where approved MCP calls are recorded (the ledger database)."""

    def __init__(self, url: str | None = None) -> None:
        """Use the ledger at ``url`` (default: ``settings.resolved_ledger_url``)."""
        if url is None:
            from nova.settings import get_settings

            url = get_settings().resolved_ledger_url
        self.engine = ledger_engine(url, _metadata)

    def get(self, key: str) -> McpCall | None:
        """Return the call recorded under ``key``, if any."""
        with self.engine.connect() as connection:
            row = (
                connection.execute(select(mcp_calls_table).where(mcp_calls_table.c.key == key))
                .mappings()
                .first()
            )
        return McpCall.model_validate(dict(row)) if row else None

    def list(self, *, thread_id: str | None = None) -> list[McpCall]:
        """Return the recorded calls, oldest first (of one thread when ``thread_id`` is given)."""
        query = select(mcp_calls_table).order_by(mcp_calls_table.c.created_at)
        if thread_id is not None:
            query = query.where(mcp_calls_table.c.thread_id == thread_id)
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [McpCall.model_validate(dict(row)) for row in rows]

    def start(self, call: McpCall) -> bool:
        """Record ``call`` as started; ``False`` when its key is already recorded."""
        values = call.model_dump(exclude={"result"}) | {"created_at": datetime.now(UTC)}
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(mcp_calls_table).values(**values))
        except IntegrityError:
            return False
        return True

    def finish(self, key: str, result: str) -> None:
        """Mark the call ``key`` done with the text its server answered."""
        with self.engine.begin() as connection:
            connection.execute(
                update(mcp_calls_table)
                .where(mcp_calls_table.c.key == key)
                .values(status="done", result=result)
            )
