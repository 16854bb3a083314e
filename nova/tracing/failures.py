"""Record failures with their run coordinates; resume a failed run from its checkpoint.

* ``FailureRecorder`` is a callback handler: when a run ends in an exception (after the
  node's retries) other than an invalid request (``nova.errors.InvalidRequest``), it
  writes a ledger record naming the thread, run, checkpoint, the
  innermost node that failed, the agent and its version, and adds the record id to the
  exception's notes, so whoever sees the error sees how to inspect and retry it.
* ``current_run(config)`` tells code inside a node where it is (thread, run, checkpoint,
  node), for records written by nodes themselves: fallbacks, tool errors, failed checks.
* ``record_failure`` writes such a record and never raises: the ledger must not turn a
  handled problem into a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager
from langchain_core.runnables import RunnableConfig
from langchain_core.tracers.base import BaseTracer
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import GraphBubbleUp, GraphRecursionError

from nova.errors import InvalidRequest
from nova.ledger.failures import FailureKind, FailureLedger, FailureRecord, new_failure
from nova.tracing.background import BackgroundWorker
from nova.tracing.local import LocalTracer

logger = logging.getLogger("nova.failures")

_muted: contextvars.ContextVar[bool] = contextvars.ContextVar("nova_ledger_muted", default=False)


@contextlib.contextmanager
def ledger_muted() -> Iterator[None]:
    """Record nothing inside this block (counterfactual replays are not real runs)."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


@dataclass(frozen=True, slots=True)
class RunPointer:
    """Where a piece of code runs: thread, run, checkpoint and node."""

    thread_id: str | None = None
    run_id: str | None = None
    checkpoint_id: str | None = None
    """Root-graph checkpoint the current step started from (what a retry resumes)."""
    checkpoint_ns: str = ""
    node: str | None = None


@dataclass(slots=True)
class _NodeInfo:
    node: str
    checkpoint_ns: str
    agent: str | None
    agent_version: str | None
    project: str | None


def failure_kind(error: BaseException) -> FailureKind:
    """Classify an exception that ended a run."""
    if isinstance(error, GraphRecursionError):
        return "recursion_limit"
    if isinstance(error, asyncio.CancelledError):
        return "abandoned"
    if isinstance(error, TimeoutError) or "Timeout" in type(error).__name__:
        return "timeout"
    return "node_error"


def _agent_of(inputs: Any) -> tuple[str | None, str | None, str | None]:
    if not isinstance(inputs, Mapping):
        return None, None, None
    route = inputs.get("route")
    agent = route.get("agent") if isinstance(route, Mapping) else None
    run = inputs.get("agent_run")
    version = None
    if isinstance(run, Mapping) and run.get("agent") == agent:
        version = f"{run.get('version')}+{run.get('content_version')}"
    project = inputs.get("project")
    return agent, version, project if isinstance(project, str) else None


class FailureRecorder(BaseCallbackHandler):
    """Write a failure record whenever a traced run ends in an exception.

    Interrupts (human approval) are not failures and are ignored. Give it the run's
    checkpointer to record the checkpoint a retry resumes from.
    """

    raise_error = False
    run_inline = True

    def __init__(
        self,
        ledger: FailureLedger | None = None,
        *,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
        agent_versions: Mapping[str, str] | None = None,
    ) -> None:
        """Record into ``ledger`` (default: the configured ledger, opened on first failure).

        Args:
            ledger: Where failures go.
            checkpointer: The run's checkpointer, to look up the checkpoint to resume from.
            agent_versions: ``agent -> version`` for agents whose failures should carry it
                (default: read from the catalog when a failure happens).

        """
        self._ledger = ledger
        self.checkpointer = checkpointer
        self._agent_versions = agent_versions
        self._lock = threading.Lock()
        self._root_of: dict[UUID, UUID] = {}
        self._nodes: dict[UUID, _NodeInfo] = {}
        self._failed_node: dict[UUID, _NodeInfo] = {}
        self._root_meta: dict[UUID, dict[str, Any]] = {}
        self._checkpoints: dict[UUID, str] = {}
        """Root-graph checkpoint each active run last started a step from (``mark_progress``)."""
        self.recorded: list[FailureRecord] = []
        """Records written by this handler (newest last), for callers and tests."""

    @property
    def ledger(self) -> FailureLedger:
        """The failure ledger (opened lazily)."""
        if self._ledger is None:
            self._ledger = FailureLedger()
        return self._ledger

    # --- run bookkeeping --------------------------------------------------------------------
    def root_of(self, run_id: UUID | str | None) -> str | None:
        """Return the root run id of ``run_id`` while that run is active."""
        if run_id is None:
            return None
        key = run_id if isinstance(run_id, UUID) else UUID(str(run_id))
        root = self._root_of.get(key)
        return str(root) if root is not None else None

    def _start(self, run_id: UUID, parent_run_id: UUID | None) -> UUID:
        with self._lock:
            root = self._root_of.get(parent_run_id, parent_run_id) if parent_run_id else run_id
            self._root_of[run_id] = root
        return root

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: dict[str, Any] | Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Remember the run's root and, for graph nodes, the node and agent it runs."""
        self._start(run_id, parent_run_id)
        metadata = metadata or {}
        if parent_run_id is None:
            self._root_meta[run_id] = dict(metadata)
        node = metadata.get("langgraph_node")
        if node and kwargs.get("name") == node:
            agent, version, project = _agent_of(inputs)
            self._nodes[run_id] = _NodeInfo(
                node=node,
                checkpoint_ns=str(metadata.get("langgraph_checkpoint_ns") or ""),
                agent=agent,
                agent_version=version,
                project=project,
            )

    def on_llm_start(
        self,
        serialized: Any,
        prompts: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Remember the model call's root."""
        self._start(run_id, parent_run_id)

    def on_chat_model_start(
        self,
        serialized: Any,
        messages: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Remember the model call's root."""
        self._start(run_id, parent_run_id)

    def on_tool_start(
        self,
        serialized: Any,
        input_str: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Remember the tool call's root."""
        self._start(run_id, parent_run_id)

    def _end(self, run_id: UUID) -> None:
        with self._lock:
            root = self._root_of.pop(run_id, None)
            self._nodes.pop(run_id, None)
            if root == run_id:
                self._failed_node.pop(run_id, None)
                self._root_meta.pop(run_id, None)
                self._checkpoints.pop(run_id, None)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Forget the run."""
        self._end(run_id)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Forget the model call."""
        self._end(run_id)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Forget the model call (its node reports the failure)."""
        self._end(run_id)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Forget the tool call."""
        self._end(run_id)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Forget the tool call (the tool node turns tool errors into records)."""
        self._end(run_id)

    def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """Note the innermost failing node; when the root run fails, record the failure."""
        root = self._root_of.get(run_id, run_id)
        info = self._nodes.get(run_id)
        if info is not None and root not in self._failed_node:
            self._failed_node[root] = info
        # An invalid request (empty, unknown project) is the caller's to fix, not a failure
        # to retry: its message goes back to the caller and the ledger stays for real ones.
        if parent_run_id is None and not isinstance(error, GraphBubbleUp | InvalidRequest):
            self._record_root_failure(error, run_id, self._root_meta.get(run_id, {}))
        self._end(run_id)

    # --- recording --------------------------------------------------------------------------
    def note_checkpoint(self, run_id: UUID, checkpoint_id: str) -> None:
        """Note that a step of the run containing ``run_id`` started from ``checkpoint_id``."""
        root = self._root_of.get(run_id)
        if root is not None:
            self._checkpoints[root] = checkpoint_id

    def _latest_checkpoint(self, thread_id: str | None, root: UUID) -> str | None:
        if root in self._checkpoints:
            return self._checkpoints[root]
        if self.checkpointer is None or not thread_id or _in_event_loop():
            return None
        try:
            saved = self.checkpointer.get_tuple(
                {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
            )
        except Exception:
            logger.debug("could not read the latest checkpoint", exc_info=True)
            return None
        return saved.config["configurable"].get("checkpoint_id") if saved else None

    def _version_of(self, agent: str | None) -> str | None:
        if agent is None:
            return None
        if self._agent_versions is not None:
            return self._agent_versions.get(agent)
        try:
            from nova.catalog import default_catalog

            catalog = default_catalog()
            return catalog[agent].version_label if agent in catalog else None
        except Exception:
            return None

    def _record_root_failure(
        self, error: BaseException, run_id: UUID, metadata: Mapping[str, Any]
    ) -> None:
        info = self._failed_node.get(run_id)
        thread_id = metadata.get("thread_id")
        try:
            record = new_failure(
                failure_kind(error),
                error=error,
                thread_id=str(thread_id) if thread_id else None,
                run_id=str(metadata.get("run_id") or run_id),
                checkpoint_id=self._latest_checkpoint(thread_id, run_id),
                checkpoint_ns=info.checkpoint_ns if info else "",
                node=info.node if info else None,
                agent=info.agent if info else None,
                agent_version=(info.agent_version or self._version_of(info.agent))
                if info
                else None,
                project=info.project if info else None,
                details={"where": "run", "graph": metadata.get("graph_id")},
            )
            if _in_event_loop():
                # An async run calls us on its event loop: no blocking database write there.
                _ledger_worker().submit(lambda: self.ledger.save(record))
            else:
                self.ledger.save(record)
        except Exception:
            logger.warning("could not record a failure in the ledger", exc_info=True)
            return
        self.recorded.append(record)
        try:
            error.add_note(
                f"Nova recorded this failure as {record.id[:12]} "
                f"(`nova failures show {record.id[:12]}`; "
                f"retry: `nova failures retry {record.id[:12]}`)"
            )
        except Exception:
            logger.debug("could not annotate the exception", exc_info=True)


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@functools.cache
def _ledger_worker() -> BackgroundWorker:
    return BackgroundWorker("nova-failure-ledger")


def _handlers(config: RunnableConfig) -> list[BaseCallbackHandler]:
    callbacks = config.get("callbacks")
    if isinstance(callbacks, BaseCallbackManager):
        return [*callbacks.handlers, *callbacks.inheritable_handlers]
    if isinstance(callbacks, list):
        return [h for h in callbacks if isinstance(h, BaseCallbackHandler)]
    return []


def _root_run_id(config: RunnableConfig) -> str | None:
    callbacks = config.get("callbacks")
    parent = getattr(callbacks, "parent_run_id", None)
    if parent is None:
        return None
    for handler in _handlers(config):
        if isinstance(handler, FailureRecorder) and (root := handler.root_of(parent)):
            return root
        if isinstance(handler, LocalTracer) and (event_root := handler.root_of(parent)):
            return str(event_root)
        if isinstance(handler, BaseTracer):
            order = handler.order_map.get(parent)
            if order is not None:
                return str(order[0])
    return None


def mark_progress(config: RunnableConfig) -> None:
    """Tell the run's failure recorder which checkpoint the calling step started from.

    Steps call it first thing, so a later failure of the run names the checkpoint a retry
    resumes from even when the recorder was not given the checkpointer (a served graph).
    """
    configurable = config.get("configurable") or {}
    checkpoint = (configurable.get("checkpoint_map") or {}).get("")
    parent = getattr(config.get("callbacks"), "parent_run_id", None)
    if not checkpoint or parent is None:
        return
    for handler in _handlers(config):
        if isinstance(handler, FailureRecorder):
            handler.note_checkpoint(parent, str(checkpoint))


def current_run(config: RunnableConfig | None = None) -> RunPointer:
    """Return where the calling node runs (empty fields outside a graph run).

    Args:
        config: The node's config; default: LangGraph's config for the current task.

    """
    if config is None:
        try:
            from langgraph.config import get_config

            config = get_config()
        except RuntimeError:
            return RunPointer()
    configurable = config.get("configurable") or {}
    metadata = config.get("metadata") or {}
    checkpoint_map = configurable.get("checkpoint_map") or {}
    thread_id = configurable.get("thread_id") or metadata.get("thread_id")
    return RunPointer(
        thread_id=str(thread_id) if thread_id else None,
        run_id=_root_run_id(config)
        or (str(metadata["run_id"]) if metadata.get("run_id") else None),
        checkpoint_id=checkpoint_map.get("") or configurable.get("checkpoint_id"),
        checkpoint_ns=str(configurable.get("checkpoint_ns") or ""),
        node=metadata.get("langgraph_node"),
    )


def record_failure(
    kind: FailureKind,
    *,
    ledger: FailureLedger | None = None,
    config: RunnableConfig | None = None,
    error: BaseException | None = None,
    error_type: str | None = None,
    message: str | None = None,
    node: str | None = None,
    agent: str | None = None,
    agent_version: str | None = None,
    project: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> FailureRecord | None:
    """Record a failure seen inside a node, with the node's run coordinates; never raise.

    Returns:
        The record, or ``None`` when the ledger could not be written (logged as a warning).

    """
    if _muted.get():
        return None
    where = current_run(config)
    try:
        return (ledger or FailureLedger()).record(
            kind,
            error=error,
            error_type=error_type,
            message=message,
            thread_id=where.thread_id,
            run_id=where.run_id,
            checkpoint_id=where.checkpoint_id,
            checkpoint_ns=where.checkpoint_ns,
            node=node or where.node,
            agent=agent,
            agent_version=agent_version,
            project=project,
            details=details,
        )
    except Exception:
        logger.warning("could not record a %s failure in the ledger", kind, exc_info=True)
        return None
