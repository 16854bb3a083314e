"""Nova's tracing: every run traced locally, optionally to LangSmith and OpenTelemetry too.

Attach tracing to a run with callbacks::

    from nova.tracing import tracing_callbacks
    graph.invoke(payload, {"configurable": {...}, "callbacks": tracing_callbacks()})

or once for a served graph::

    from nova.tracing import traced
    graph = traced(build_nova_graph().compile(name="nova"))

Both give the same handlers: the local tracer (SQLite trace store, unless
``NOVA_TRACE_LOCAL=false``), the failure recorder (always: failures are never swallowed),
the usage recorder (always: every model call's tokens, and the daily token budget),
a LangSmith exporter when ``NOVA_LANGSMITH_API_KEY`` is set, and an OpenTelemetry
exporter when ``NOVA_OTEL_ENDPOINT`` is set. No handler ever blocks a run on a database
or a network: traces are written and sent by daemon workers, flushed at exit for at
most ``NOVA_TRACE_FLUSH_TIMEOUT_S`` seconds.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from langchain_core.callbacks import BaseCallbackHandler
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.pregel import Pregel

from nova.ledger.failures import FailureLedger
from nova.tracing.background import flush_all
from nova.tracing.failures import FailureRecorder, RunPointer, current_run, record_failure
from nova.tracing.local import LocalTracer
from nova.tracing.store import TraceNotFound, TraceRecord, TraceStep, TraceStore

logger = logging.getLogger("nova.tracing")

GraphT = TypeVar("GraphT", bound=Pregel[Any, Any, Any, Any])

__all__ = [
    "FailureRecorder",
    "LocalTracer",
    "RunPointer",
    "TraceNotFound",
    "TraceRecord",
    "TraceStep",
    "TraceStore",
    "current_run",
    "flush_traces",
    "record_failure",
    "traced",
    "tracing_callbacks",
]


def tracing_callbacks(
    *,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    ledger: FailureLedger | None = None,
    store: TraceStore | None = None,
    local: bool | None = None,
    exporters: bool = True,
) -> list[BaseCallbackHandler]:
    """Return the callback handlers that trace a run and record its failures.

    Args:
        checkpointer: The run's checkpointer, so failure records name the checkpoint a
            retry resumes from.
        ledger: Failure ledger (default: ``NOVA_LEDGER_URL`` / the data directory).
        store: Trace store (default: ``NOVA_TRACES_URL`` / the data directory).
        local: Keep a local trace; default ``NOVA_TRACE_LOCAL`` (on).
        exporters: Add the LangSmith and OpenTelemetry exporters when configured.

    Returns:
        Handlers to pass as ``config["callbacks"]`` (they are safe to share between runs).

    """
    from nova.tracing.config import get_tracing_settings
    from nova.tracing.usage import UsageRecorder

    handlers: list[BaseCallbackHandler] = [
        FailureRecorder(ledger, checkpointer=checkpointer),
        # Every model call's tokens and latency; refuses calls once a budget is spent.
        UsageRecorder(),
    ]
    if get_tracing_settings().trace_local if local is None else local:
        handlers.append(LocalTracer(store))
    if exporters:
        from nova.tracing.langsmith import langsmith_exporter
        from nova.tracing.otel import otel_exporter

        for factory in (langsmith_exporter, otel_exporter):
            try:
                exporter = factory()
            except Exception:
                # A broken exporter configuration must not stop Nova from answering.
                logger.warning(
                    "trace exporter %s is misconfigured", factory.__name__, exc_info=True
                )
                continue
            if exporter is not None:
                handlers.append(exporter)
    return handlers


def traced(graph: GraphT, **options: Any) -> GraphT:
    """Return ``graph`` with ``tracing_callbacks(**options)`` bound to every run.

    Callbacks a caller passes are added to these, not replacing them. Use it on the
    compiled graph that ``langgraph.json`` serves.
    """
    return graph.with_config(callbacks=tracing_callbacks(**options))


def flush_traces(timeout_s: float | None = None) -> bool:
    """Wait (bounded) until traces handed to the writers are stored or sent."""
    return flush_all(timeout_s)
