"""Export Nova's runs as OpenTelemetry spans (optional: ``pip install 'nova-agents[otel]'``).

Each finished run tree becomes one trace of spans with the run's own start and end
times, Nova's attributes (``nova.node``, ``nova.path``, ``nova.agent``, ``langgraph.step``,
``nova.thread_id``) and the GenAI conventions for model calls (``gen_ai.request.model``).
Spans go to any OTLP/HTTP back-end (Jaeger, Tempo, Honeycomb, an OTel collector) or to a
``SpanExporter`` you pass in. Export runs on a daemon worker with a short timeout, and
the provider is not flushed at exit beyond Nova's bounded trace flush.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run

from nova.tracing.background import BackgroundWorker
from nova.tracing.langsmith import run_summary
from nova.tracing.local import parse_namespace
from nova.tracing.serialize import Redactor, bounded_json, default_redactor, to_jsonable

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

_INSTALL_HINT = (
    "OpenTelemetry export needs the optional packages: pip install 'nova-agents[otel]' "
    "(opentelemetry-sdk, opentelemetry-exporter-otlp-proto-http)"
)


def _ns(moment: Any) -> int:
    return int(moment.timestamp() * 1_000_000_000)


def _attributes(run: Run, redactor: Redactor, payload_chars: int) -> dict[str, Any]:
    metadata = run.metadata or {}
    path, task = parse_namespace(metadata.get("langgraph_checkpoint_ns"))
    attributes: dict[str, Any] = {
        "nova.run_type": run.run_type,
        "nova.path": path,
        "nova.inputs": bounded_json(redactor(to_jsonable(run.inputs or {})), payload_chars),
    }
    if run.outputs is not None:
        attributes["nova.outputs"] = bounded_json(redactor(to_jsonable(run.outputs)), payload_chars)
    for key, attribute in (
        ("langgraph_node", "nova.node"),
        ("langgraph_step", "langgraph.step"),
        ("thread_id", "nova.thread_id"),
        ("ls_model_name", "gen_ai.request.model"),
        ("ls_provider", "gen_ai.system"),
    ):
        if metadata.get(key) is not None:
            attributes[attribute] = str(metadata[key])
    if task:
        attributes["langgraph.task_id"] = task
    if run.run_type in ("llm", "chat_model"):
        attributes["gen_ai.operation.name"] = "chat"
    return attributes


class OpenTelemetryExporter(BaseTracer):
    """Turn each finished run tree into OpenTelemetry spans on a daemon worker."""

    name = "nova_otel_exporter"

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        exporter: SpanExporter | None = None,
        timeout_s: float = 3.0,
        payload_chars: int = 4000,
        redactor: Redactor | None = None,
    ) -> None:
        """Export to an OTLP/HTTP ``endpoint``, or to ``exporter`` (e.g. an in-memory one)."""
        super().__init__(_schema_format="original+chat")
        try:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        except ImportError as error:  # pragma: no cover - depends on the optional extra
            raise RuntimeError(_INSTALL_HINT) from error
        if exporter is None:
            if endpoint is None:
                raise ValueError("OpenTelemetryExporter needs an endpoint or an exporter")
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            except ImportError as error:  # pragma: no cover - depends on the optional extra
                raise RuntimeError(_INSTALL_HINT) from error
            exporter = OTLPSpanExporter(endpoint=endpoint, timeout=timeout_s)
        self.provider: TracerProvider = TracerProvider(
            resource=Resource.create({"service.name": "nova"}), shutdown_on_exit=False
        )
        # Simple processor: spans are already built off the run's thread, on our worker.
        self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        self._tracer = self.provider.get_tracer("nova.tracing")
        self._payload_chars = payload_chars
        self._redactor = redactor
        self.worker = BackgroundWorker("nova-trace-otel", max_pending=1000)

    def _persist_run(self, run: Run) -> None:
        self.worker.submit(functools.partial(self._export, run))

    def _export(self, root: Run) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import Status, StatusCode

        redactor = self._redactor or default_redactor()
        summary = {
            f"nova.{key.removeprefix('nova_')}": value
            for key, value in run_summary(root).items()
            if isinstance(value, str | int | float)
        }

        def emit(run: Run, parent: Any) -> None:
            context = trace.set_span_in_context(parent) if parent is not None else None
            attributes = _attributes(run, redactor, self._payload_chars)
            if run is root:
                attributes.update(summary)
            span = self._tracer.start_span(
                run.name or run.run_type,
                context=context,
                start_time=_ns(run.start_time),
                attributes=attributes,
            )
            if run.error:
                span.set_status(Status(StatusCode.ERROR, redactor(run.error.split("\n", 1)[0])))
            for child in _children(run):
                emit(child, span)
            span.end(end_time=_ns(run.end_time or run.start_time))

        emit(root, None)


def _children(run: Run) -> Iterator[Run]:
    yield from sorted(run.child_runs, key=lambda r: (r.start_time, r.dotted_order or ""))


def otel_exporter() -> OpenTelemetryExporter | None:
    """Return an exporter when ``NOVA_OTEL_ENDPOINT`` is set, else ``None``."""
    from nova.tracing.config import get_tracing_settings

    settings = get_tracing_settings()
    if settings.otel_endpoint is None:
        return None
    return OpenTelemetryExporter(
        endpoint=str(settings.otel_endpoint), timeout_s=settings.langsmith_timeout_s
    )
