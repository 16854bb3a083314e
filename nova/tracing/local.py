"""The local tracer: every finished run, step by step, in the trace store.

It is a plain callback handler that notes each event in a slotted record (no pydantic
run trees: building those cost more than a fast run itself). When a root run ends, its
records go to a background worker, which serialises them with orjson, redacts secrets
in the JSON text, bounds the payloads and writes every run finished meanwhile in one
transaction. The run itself pays only for the notes.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from nova.tracing.background import BackgroundWorker
from nova.tracing.serialize import (
    MessageTable,
    Redactor,
    default_redactor,
    dumps_bounded,
    to_jsonable,
)
from nova.tracing.store import StepStatus, TraceStore

COALESCE_S = 0.05
"""Seconds the writer waits for more finished runs before a transaction."""

_HIDDEN_TAG = "langsmith:hidden"
_SUMMARY_KEYS = ("request", "project", "route", "agent_run", "answer", "checks")
_META_KEYS = (
    "langgraph_node", "langgraph_step", "langgraph_triggers", "ls_model_name", "ls_provider",
    "thread_id", "run_id", "assistant_id", "graph_id", "project",
)  # fmt: skip


def parse_namespace(checkpoint_ns: str | None) -> tuple[str, str | None]:
    """Split a LangGraph checkpoint namespace into a graph path and the last task id.

    ``"erp:1f0…|agent:9a2…"`` gives ``("erp/agent", "9a2…")``.
    """
    if not checkpoint_ns:
        return "", None
    parts = [segment.split(":", 1) for segment in checkpoint_ns.split("|")]
    path = "/".join(part[0] for part in parts)
    task = parts[-1][1] if len(parts[-1]) == 2 else None
    return path, task


def error_type_of(error: str | None) -> str | None:
    """Return the exception class name from an error text such as ``"ValueError: boom"``."""
    if not error:
        return None
    head = error.strip().split("\n", 1)[0]
    name = head.split(":", 1)[0].split("(", 1)[0].strip()
    return name.rsplit(".", 1)[-1] or None


class TraceEvent:
    """One run (graph, node, model call, tool call) as noted while it happens."""

    __slots__ = (
        "depth", "end", "error", "inputs", "metadata", "name", "outputs", "parent", "run_id",
        "run_type", "start", "tags", "trace",
    )  # fmt: skip

    def __init__(
        self,
        run_id: UUID,
        parent: UUID | None,
        trace: UUID,
        depth: int,
        name: str,
        run_type: str,
        tags: list[str],
        metadata: Mapping[str, Any],
        inputs: Any,
    ) -> None:
        self.run_id = run_id
        self.parent = parent
        self.trace = trace
        self.depth = depth
        self.name = name
        self.run_type = run_type
        self.tags = tags
        self.metadata = metadata
        self.inputs = inputs
        self.outputs: Any = None
        self.error: str | None = None
        self.start = datetime.now(UTC)
        self.end: datetime | None = None

    @property
    def is_node(self) -> bool:
        """Whether this run is a LangGraph node (not a model call or a nested runnable in it)."""
        node = self.metadata.get("langgraph_node")
        return (
            bool(node) and self.name == node and any(t.startswith("graph:step:") for t in self.tags)
        )

    @property
    def status(self) -> StepStatus:
        """How the run ended."""
        if self.error:
            kind = error_type_of(self.error) or ""
            return "interrupted" if kind in ("GraphInterrupt", "NodeInterrupt") else "error"
        return "ok" if self.end else "running"


def _ms(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds() * 1000.0


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


def trace_rows(
    events: Sequence[TraceEvent], *, redactor: Redactor, payload_chars: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Flatten one finished run's events into its ``nova_traces`` and ``nova_trace_steps`` rows."""
    root = events[0]
    trace_id = str(root.run_id)
    steps: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    table = MessageTable()
    by_id = {event.run_id: event for event in events}
    for position, event in enumerate(events):
        metadata = event.metadata
        namespace = metadata.get("langgraph_checkpoint_ns")
        path, task_id = parse_namespace(namespace)
        node_run = event.is_node
        agent = None
        if node_run and "/" in path and isinstance(event.inputs, Mapping):
            route = event.inputs.get("route")
            agent = route.get("agent") if isinstance(route, Mapping) else None
        if node_run and isinstance(event.outputs, Mapping):
            # A subgraph, then its parent, repeat what inner nodes wrote: the last value wins.
            for key in _SUMMARY_KEYS:
                if event.outputs.get(key) is not None:
                    summary[key] = event.outputs[key]
        # Metadata holds LangGraph's bookkeeping (node, step, thread), no secrets.
        meta: dict[str, Any] = {key: metadata[key] for key in _META_KEYS if key in metadata}
        meta["is_node"] = node_run
        meta["tags"] = event.tags
        steps.append(
            {
                "step_id": str(event.run_id),
                "trace_id": trace_id,
                "parent_id": str(event.parent) if event.parent else None,
                "position": position,
                "depth": event.depth,
                "name": event.name[:300],
                "run_type": event.run_type,
                "node": metadata.get("langgraph_node"),
                "path": path,
                "langgraph_step": metadata.get("langgraph_step"),
                "checkpoint_ns": namespace,
                "task_id": task_id,
                "agent": agent,
                "started_at": event.start,
                "ended_at": event.end,
                "duration_ms": _ms(event.start, event.end),
                "status": event.status,
                "error": redactor.text(event.error) if event.error else None,
                "inputs": _payload(event, "inputs", by_id, payload_chars, redactor, table),
                "outputs": None
                if event.outputs is None
                else _payload(event, "outputs", by_id, payload_chars, redactor, table),
                "meta": orjson.dumps(meta, default=str).decode(),
            }
        )
    summary = redactor(to_jsonable(summary))
    agent_run = summary.get("agent_run") if isinstance(summary.get("agent_run"), dict) else None
    route = summary.get("route") if isinstance(summary.get("route"), dict) else None
    answer = root.outputs.get("answer") if isinstance(root.outputs, Mapping) else None
    trace = {
        "trace_id": trace_id,
        "run_id": str(root.metadata.get("run_id") or root.run_id),
        "thread_id": root.metadata.get("thread_id"),
        "graph": root.name or "graph",
        "project": summary.get("project"),
        "request": _clip(summary.get("request"), redactor),
        "answer": _clip(answer if answer is not None else summary.get("answer"), redactor),
        "status": root.status,
        "error_type": error_type_of(root.error),
        "error": redactor.text(root.error) if root.error else None,
        "started_at": root.start,
        "ended_at": root.end,
        "duration_ms": _ms(root.start, root.end),
        "route": route,
        "agent": agent_run.get("agent") if agent_run else (route or {}).get("agent"),
        "agent_version": (
            f"{agent_run.get('version')}+{agent_run.get('content_version')}" if agent_run else None
        ),
        "checks": [c for c in summary.get("checks") or [] if isinstance(c, dict)],
        "step_count": len(steps),
        "messages": dumps_bounded(table.messages, max(payload_chars * 20, 100_000), redactor),
    }
    return trace, steps


SAME_AS_PARENT = '{"$same_as_parent":true}'
"""Stored for a payload that is the very object its parent run received or returned (a
subgraph node and the subgraph it runs); ``TraceStore`` resolves it on read."""


def _payload(
    event: TraceEvent,
    field: str,
    by_id: Mapping[UUID, TraceEvent],
    limit: int,
    redactor: Redactor,
    table: MessageTable,
) -> str:
    value = getattr(event, field)
    parent = by_id.get(event.parent) if event.parent else None
    if parent is not None and value is getattr(parent, field) and value is not None:
        return SAME_AS_PARENT
    return dumps_bounded(value, limit, redactor, table)


def _clip(value: Any, redactor: Redactor, limit: int = 4000) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return redactor.text(text[:limit])


def _llm_output(response: LLMResult) -> Any:
    messages = [
        getattr(generation, "message", None) or generation.text
        for generations in response.generations
        for generation in generations
    ]
    return {"generations": messages}


class LocalTracer(BaseCallbackHandler):
    """Store every finished run in the local trace store, off the run's thread."""

    name = "nova_local_tracer"
    raise_error = False
    run_inline = True

    def __init__(
        self,
        store: TraceStore | None = None,
        *,
        redactor: Redactor | None = None,
        payload_chars: int | None = None,
        worker: BackgroundWorker | None = None,
    ) -> None:
        """Trace into ``store`` (default: the configured trace store, opened on first write)."""
        from nova.tracing.config import get_tracing_settings

        self._store = store
        self._redactor = redactor
        self._payload_chars = payload_chars or get_tracing_settings().trace_payload_chars
        self.worker = worker or _local_worker()
        self._lock = threading.Lock()
        self._open: dict[UUID, TraceEvent] = {}
        self._alias: dict[UUID, UUID | None] = {}
        """Hidden runs: LangGraph plumbing, replaced by their parent."""
        self._traces: dict[UUID, list[TraceEvent]] = {}
        self._finished: list[list[TraceEvent]] = []
        self._draining = False

    @property
    def store(self) -> TraceStore:
        """The trace store (opened lazily so building a graph never touches the disk)."""
        if self._store is None:
            self._store = TraceStore()
        return self._store

    def root_of(self, run_id: UUID) -> UUID | None:
        """Return the root run of an active run."""
        event = self._open.get(run_id)
        return event.trace if event is not None else None

    # --- events ------------------------------------------------------------------------------
    def _start(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        name: str,
        run_type: str,
        tags: list[str] | None,
        metadata: dict[str, Any] | None,
        inputs: Any,
    ) -> None:
        while parent_run_id is not None and parent_run_id in self._alias:
            parent_run_id = self._alias[parent_run_id]
        if tags and _HIDDEN_TAG in tags:
            self._alias[run_id] = parent_run_id
            return
        parent = self._open.get(parent_run_id) if parent_run_id is not None else None
        if parent is None:
            event = TraceEvent(
                run_id, None, run_id, 0, name, run_type, tags or [], metadata or {}, inputs
            )
            self._traces[run_id] = [event]
        else:
            event = TraceEvent(
                run_id, parent.run_id, parent.trace, parent.depth + 1, name, run_type,
                tags or [], metadata or {}, inputs,
            )  # fmt: skip
            trace = self._traces.get(parent.trace)
            if trace is not None:
                trace.append(event)
        self._open[run_id] = event

    def _end(self, run_id: UUID, outputs: Any = None, error: BaseException | None = None) -> None:
        if self._alias.pop(run_id, ...) is not ...:
            return
        event = self._open.pop(run_id, None)
        if event is None:
            return
        event.end = datetime.now(UTC)
        if error is not None:
            event.error = _error_text(error)
        else:
            event.outputs = outputs
        if event.parent is None:
            events = self._traces.pop(event.trace, None)
            if events is not None:
                self._persist(events)

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Note a graph, node or nested runnable starting."""
        name = kwargs.get("name") or (serialized or {}).get("name") or "chain"
        self._start(run_id, parent_run_id, name, "chain", tags, metadata, inputs)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Note it ending."""
        self._end(run_id, outputs)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Note it failing."""
        self._end(run_id, error=error)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Note a model call starting, with the messages it was sent."""
        name = kwargs.get("name") or (serialized or {}).get("name") or "chat_model"
        self._start(run_id, parent_run_id, name, "llm", tags, metadata, {"messages": messages})

    def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Note a completion-model call starting."""
        name = kwargs.get("name") or (serialized or {}).get("name") or "llm"
        self._start(run_id, parent_run_id, name, "llm", tags, metadata, {"prompts": prompts})

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Note the model's answer."""
        self._end(run_id, _llm_output(response))

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Note the model call failing."""
        self._end(run_id, error=error)

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Note a tool call starting, with its arguments."""
        name = kwargs.get("name") or (serialized or {}).get("name") or "tool"
        self._start(
            run_id, parent_run_id, name, "tool", tags, metadata, inputs or {"input": input_str}
        )

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Note what the tool returned."""
        self._end(run_id, {"output": output})

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Note the tool failing."""
        self._end(run_id, error=error)

    # --- writing -----------------------------------------------------------------------------
    def _persist(self, events: list[TraceEvent]) -> None:
        # Runs finished while a write is pending are written together, in one transaction.
        with self._lock:
            self._finished.append(events)
            if self._draining:
                return
            self._draining = True
        self.worker.submit(self._drain)

    def _drain(self) -> None:
        # A short pause gathers back-to-back runs into one transaction: one commit for many
        # traces costs far less than one each (a flush waits for the pause too).
        time.sleep(COALESCE_S)
        with self._lock:
            batch, self._finished = self._finished, []
            self._draining = False
        if not batch:
            return
        redactor = self._redactor or default_redactor()
        rows = [
            trace_rows(events, redactor=redactor, payload_chars=self._payload_chars)
            for events in batch
        ]
        self.store.write_many(rows)

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Wait (bounded) until every finished run is written; return whether all were."""
        return self.worker.flush(timeout_s)


@functools.cache
def _local_worker() -> BackgroundWorker:
    return BackgroundWorker("nova-trace-local")
