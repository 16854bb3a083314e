"""Record what every model call used, and refuse calls once a project's daily budget is spent.

``UsageRecorder`` is a callback handler (``tracing_callbacks`` adds it to every traced run):

* each chat model call becomes a usage record (prompt, completion and cached tokens from the
  response's ``usage_metadata``, model, agent, node, latency, thread and run);
* each answer given without a model (a fast path) becomes a ``model_free`` record;
* when the project of a call has a daily token budget (``NOVA_DAILY_TOKEN_BUDGET``,
  ``NOVA_PROJECT_TOKEN_BUDGETS``) and today's calls (UTC) have spent it, the call is refused
  with ``BudgetExceeded`` before it reaches the model. The agent node turns that into a
  failure record and a plain answer; the router's tie-break falls back to the classifier.

The agent and project of a call come from the graph node it runs in (the node's input
state), so nodes need not pass anything: any model call inside a traced run is counted.
Records are written by a daemon worker (no run waits on the database) and flushed with the
traces (``nova.tracing.flush_traces``).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage

from nova.ledger.usage import UsageLedger, UsageRecord, new_usage
from nova.tracing.background import BackgroundWorker

logger = logging.getLogger("nova.usage")

_SUBGRAPH_NODES = frozenset({"chat", "erp", "translation", "pipeline"})
"""Supervisor nodes that are whole subgraphs: their output repeats their inner nodes' output."""

_NODE_AGENTS = {"route": "router", "summarize": "summarizer"}
"""Agent label of model calls made by nodes that do not run a routed agent."""


class BudgetExceeded(RuntimeError):
    """A project's daily token budget is spent: no further model calls today."""

    def __init__(self, project: str, spent: int, budget: int) -> None:
        self.project = project
        self.spent = spent
        self.budget = budget
        super().__init__(
            f"Project {project!r} has used its daily model budget ({spent:,} of {budget:,} "
            "tokens today, UTC), so Nova made no model call. Answers that need no model "
            "still work; the budget renews at midnight UTC, or raise it with "
            "NOVA_PROJECT_TOKEN_BUDGETS / NOVA_DAILY_TOKEN_BUDGET."
        )


@dataclass(slots=True)
class _Node:
    node: str
    agent: str | None
    project: str | None


@dataclass(slots=True)
class _Call:
    started: float
    node: _Node | None
    model: str | None
    root: UUID
    thread_id: str | None


def _model_of(metadata: Mapping[str, Any], invocation: Mapping[str, Any]) -> str | None:
    for value in (
        metadata.get("ls_model_name"),
        invocation.get("model_name"),
        invocation.get("model"),
    ):
        if isinstance(value, str) and value:
            return value
    return None


def _usage_of(response: Any) -> tuple[int, int, int, str | None]:
    """Return prompt, completion, cached tokens and the model name a response reports."""
    generations = getattr(response, "generations", None) or []
    message = None
    if generations and generations[0]:
        message = getattr(generations[0][0], "message", None)
    usage = message.usage_metadata if isinstance(message, AIMessage) else None
    model = None
    if isinstance(message, AIMessage):
        model = message.response_metadata.get("model_name") or None
    if usage:
        details = usage.get("input_token_details") or {}
        return (
            int(usage.get("input_tokens") or 0),
            int(usage.get("output_tokens") or 0),
            int(details.get("cache_read") or 0),
            model,
        )
    # Older integrations report OpenAI's shape in llm_output only.
    output = getattr(response, "llm_output", None) or {}
    token_usage = output.get("token_usage") or {}
    cached = (token_usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return (
        int(token_usage.get("prompt_tokens") or 0),
        int(token_usage.get("completion_tokens") or 0),
        int(cached),
        model or output.get("model_name"),
    )


def _start_of_day() -> datetime:
    now = datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


class UsageRecorder(BaseCallbackHandler):
    """Write a usage record for every model call and model-free answer of a traced run.

    ``raise_error`` is on only so that ``BudgetExceeded`` stops a call; every other problem
    of the recorder itself is logged and swallowed (usage must never break a run).
    """

    raise_error = True
    run_inline = True

    def __init__(self, ledger: UsageLedger | None = None) -> None:
        """Record into ``ledger`` (default: the configured ledger, opened on first use)."""
        self._ledger = ledger
        self._lock = threading.Lock()
        self._parent: dict[UUID, UUID | None] = {}
        self._nodes: dict[UUID, _Node] = {}
        self._roots: dict[UUID, dict[str, Any]] = {}
        self._calls: dict[UUID, _Call] = {}
        self._unsaved: dict[str | None, int] = {}
        self._answered: set[tuple[UUID, str]] = set()
        self.recorded: list[UsageRecord] = []
        """Records this handler wrote (newest last), for callers and tests."""

    @property
    def ledger(self) -> UsageLedger:
        """The usage ledger (opened lazily)."""
        if self._ledger is None:
            self._ledger = UsageLedger()
        return self._ledger

    # --- where a call runs ------------------------------------------------------------------
    def _root(self, run_id: UUID) -> UUID:
        seen = run_id
        while (parent := self._parent.get(seen)) is not None:
            seen = parent
        return seen

    def _node_of(self, run_id: UUID) -> _Node | None:
        """Return the innermost node around ``run_id``, with the nearest agent and project."""
        found: _Node | None = None
        current: UUID | None = run_id
        while current is not None:
            if (node := self._nodes.get(current)) is not None:
                if found is None:
                    found = _Node(node.node, node.agent, node.project)
                found.agent = found.agent or node.agent
                found.project = found.project or node.project
                if found.agent and found.project:
                    break
            current = self._parent.get(current)
        return found

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: dict[str, Any] | Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Remember the run's parent and, for graph nodes, the agent and project they serve."""
        with self._lock:
            self._parent[run_id] = parent_run_id
            metadata = metadata or {}
            if parent_run_id is None:
                self._roots[run_id] = dict(metadata)
            node = metadata.get("langgraph_node")
            if node and kwargs.get("name") == node and isinstance(inputs, Mapping):
                route = inputs.get("route")
                agent = route.get("agent") if isinstance(route, Mapping) else None
                project = inputs.get("project")
                # The supervisor's own model-calling nodes (not a pipeline step of that name).
                top_level = "|" not in str(metadata.get("langgraph_checkpoint_ns") or "")
                self._nodes[run_id] = _Node(
                    node=node,
                    agent=_NODE_AGENTS[node] if top_level and node in _NODE_AGENTS else agent,
                    project=project if isinstance(project, str) else None,
                )

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Record a model-free answer when a node answered on its fast path; forget the run."""
        try:
            node = self._nodes.get(run_id)
            agent_run = outputs.get("agent_run") if isinstance(outputs, Mapping) else None
            if (
                node is not None
                and node.node not in _SUBGRAPH_NODES
                and isinstance(agent_run, Mapping)
                and agent_run.get("outcome") == "fast_path"
            ):
                root = self._root(run_id)
                agent = str(agent_run.get("agent") or node.agent or "")
                # One answer per run and agent, however many nested nodes pass it on.
                if (root, agent) not in self._answered:
                    self._answered.add((root, agent))
                    self._write(
                        new_usage(
                            "model_free",
                            thread_id=self._thread(root),
                            run_id=self._run_id(root),
                            project=node.project,
                            agent=agent or None,
                            node=node.node,
                        )
                    )
        except Exception:
            logger.warning("could not record a model-free answer", exc_info=True)
        self._forget(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Forget the run."""
        self._forget(run_id)

    def on_tool_start(
        self,
        serialized: Any,
        input_str: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Remember the tool call's parent (a model called inside a tool is still counted)."""
        with self._lock:
            self._parent[run_id] = parent_run_id

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Forget the tool call."""
        with self._lock:
            self._parent.pop(run_id, None)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Forget the tool call."""
        with self._lock:
            self._parent.pop(run_id, None)

    def _forget(self, run_id: UUID) -> None:
        with self._lock:
            was_root = self._parent.pop(run_id, None) is None
            if was_root and self._roots.pop(run_id, None) is not None:
                self._answered = {key for key in self._answered if key[0] != run_id}
            self._nodes.pop(run_id, None)

    def _thread(self, root: UUID) -> str | None:
        thread = self._roots.get(root, {}).get("thread_id")
        return str(thread) if thread else None

    def _run_id(self, root: UUID) -> str:
        return str(self._roots.get(root, {}).get("run_id") or root)

    # --- model calls --------------------------------------------------------------------------
    def on_chat_model_start(
        self,
        serialized: Any,
        messages: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Refuse the call when its project's budget is spent; else note when it started."""
        try:
            metadata = metadata or {}
            with self._lock:
                self._parent[run_id] = parent_run_id
                node = self._node_of(parent_run_id) if parent_run_id else None
                root = self._root(run_id)
            thread = metadata.get("thread_id") or self._thread(root)
            call = _Call(
                started=time.perf_counter(),
                node=node,
                model=_model_of(metadata, kwargs.get("invocation_params") or {}),
                root=root,
                thread_id=str(thread) if thread else None,
            )
            self._check_budget(node.project if node else None)
        except BudgetExceeded:
            with self._lock:
                self._parent.pop(run_id, None)
            raise
        except Exception:
            logger.warning("could not track a model call's usage", exc_info=True)
            return
        self._calls[run_id] = call

    def _check_budget(self, project: str | None) -> None:
        from nova.settings import get_settings

        settings = get_settings()
        project = project or settings.default_project
        budget = settings.token_budget(project)
        if budget is None:
            return
        spent = self.ledger.tokens_since(_start_of_day(), project=project)
        spent += self._unsaved.get(project, 0)
        if spent >= budget:
            raise BudgetExceeded(project, spent, budget)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Record the call's tokens and latency."""
        self._finish(run_id, response, "ok")

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Record the failed call (tokens unknown, counted as 0)."""
        self._finish(run_id, None, "error")

    def _finish(self, run_id: UUID, response: Any, status: str) -> None:
        call = self._calls.pop(run_id, None)
        with self._lock:
            self._parent.pop(run_id, None)
        if call is None:
            return
        try:
            latency_ms = (time.perf_counter() - call.started) * 1000
            prompt, completion, cached, model = _usage_of(response) if response else (0, 0, 0, None)
            from nova.settings import get_settings

            node = call.node
            self._write(
                new_usage(
                    "model",
                    status="ok" if status == "ok" else "error",
                    thread_id=call.thread_id,
                    run_id=self._run_id(call.root),
                    project=(node.project if node else None) or get_settings().default_project,
                    agent=node.agent if node else None,
                    node=node.node if node else None,
                    model=call.model or model,
                    prompt_tokens=prompt,
                    completion_tokens=completion,
                    cached_tokens=cached,
                    latency_ms=latency_ms,
                )
            )
        except Exception:
            logger.warning("could not record a model call's usage", exc_info=True)

    def _write(self, record: UsageRecord) -> None:
        # A daemon worker writes (no run waits on the database); until it has, the tokens
        # count towards the budget from memory, so back-to-back calls cannot overspend.
        with self._lock:
            self._unsaved[record.project] = (
                self._unsaved.get(record.project, 0) + record.total_tokens
            )
        _usage_worker().submit(lambda: self._save(record))

    def _save(self, record: UsageRecord) -> None:
        try:
            self.ledger.save(record)
        except Exception:
            logger.warning("could not write a usage record", exc_info=True)
        else:
            self.recorded.append(record)
        finally:
            with self._lock:
                self._unsaved[record.project] -= record.total_tokens


@functools.cache
def _usage_worker() -> BackgroundWorker:
    return BackgroundWorker("nova-usage-ledger")
