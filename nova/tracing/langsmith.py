"""Send Nova's runs to LangSmith, without ever letting LangSmith slow or stall Nova.

LangChain's own LangSmith tracer uploads from a thread the interpreter waits for at exit;
pointed at an endpoint that accepts connections and never answers, a process did not
exit in 300 s (shared/OFFLINE-NOTES.md). This exporter instead collects each finished
run tree and uploads it from a daemon worker with short timeouts and no HTTP retries;
at exit it waits at most ``NOVA_TRACE_FLUSH_TIMEOUT_S``. Inputs, outputs, metadata and
errors are redacted before they leave the process.

Do not also set ``LANGSMITH_TRACING=true``: that adds LangChain's stalling tracer.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from typing import Any

from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run

from nova.settings import NovaSettings, get_settings
from nova.tracing.background import BackgroundWorker
from nova.tracing.serialize import Redactor, default_redactor, to_jsonable

logger = logging.getLogger("nova.tracing")

DEFAULT_ENDPOINT = "https://api.smith.langchain.com"


def _runs(run: Run) -> Iterator[Run]:
    yield run
    for child in run.child_runs:
        yield from _runs(child)


def run_summary(root: Run) -> dict[str, Any]:
    """Return what Nova knows about a run from its nodes' outputs: route, agent, project.

    Keys: ``nova_route_agent``, ``nova_route_method``, ``nova_route_confidence``,
    ``nova_agent``, ``nova_agent_version``, ``nova_project`` (those the run produced).
    """
    found: dict[str, Any] = {}
    for run in _runs(root):
        outputs = run.outputs if isinstance(run.outputs, dict) else {}
        route, agent_run, project = (outputs.get(k) for k in ("route", "agent_run", "project"))
        if isinstance(route, dict) and route.get("agent") is not None:
            found["nova_route_agent"] = route.get("agent")
            found["nova_route_method"] = route.get("method")
            found["nova_route_confidence"] = route.get("confidence")
        if isinstance(agent_run, dict) and agent_run.get("agent"):
            found["nova_agent"] = agent_run["agent"]
            found["nova_agent_version"] = (
                f"{agent_run['agent']}@{agent_run.get('version')}+{agent_run.get('content_version')}"
            )
        if isinstance(project, str):
            found["nova_project"] = project
    return found


def langsmith_run_dicts(root: Run, *, redactor: Redactor, project: str) -> list[dict[str, Any]]:
    """Return LangSmith run-create payloads for every run in ``root``'s tree, redacted.

    The root run's metadata also carries ``run_summary``: route, agent version, project.
    """
    payloads = []
    summary = run_summary(root)
    for run in _runs(root):
        metadata = redactor(to_jsonable(dict(run.metadata or {})))
        metadata.setdefault("nova_graph", root.name)
        if run is root:
            metadata.update(redactor(to_jsonable(summary)))
        payloads.append(
            {
                "id": str(run.id),
                "trace_id": str(run.trace_id or root.id),
                "dotted_order": run.dotted_order,
                "parent_run_id": str(run.parent_run_id) if run.parent_run_id else None,
                "name": run.name,
                "run_type": run.run_type,
                "start_time": run.start_time,
                "end_time": run.end_time,
                "inputs": redactor(to_jsonable(run.inputs or {})),
                "outputs": redactor(to_jsonable(run.outputs)) if run.outputs is not None else None,
                "error": redactor(run.error) if run.error else None,
                "tags": list(run.tags or []),
                "extra": {"metadata": metadata},
                "session_name": project,
            }
        )
    return payloads


class LangSmithExporter(BaseTracer):
    """Upload finished runs to LangSmith from a daemon worker (bounded, never blocking a run)."""

    name = "nova_langsmith_exporter"

    def __init__(
        self,
        *,
        api_key: str,
        endpoint: str = DEFAULT_ENDPOINT,
        project: str = "nova",
        timeout_s: float = 3.0,
        redactor: Redactor | None = None,
        worker: BackgroundWorker | None = None,
    ) -> None:
        """Export to ``endpoint`` with ``api_key`` into LangSmith project ``project``."""
        super().__init__(_schema_format="original+chat")
        self.endpoint = endpoint.rstrip("/")
        self.project = project
        self._api_key = api_key
        self._timeout_ms = max(1, int(timeout_s * 1000))
        self._redactor = redactor
        self.worker = worker or BackgroundWorker("nova-trace-langsmith", max_pending=1000)
        self._client: Any = None

    def _get_client(self) -> Any:
        if self._client is None:
            from langsmith import Client
            from urllib3.util.retry import Retry

            self._client = Client(
                api_url=self.endpoint,
                api_key=self._api_key,
                timeout_ms=(self._timeout_ms, self._timeout_ms),
                retry_config=Retry(total=0, connect=0, read=0, redirect=0, status=0),
                # No background batching thread: ours is a daemon with a bounded flush.
                auto_batch_tracing=False,
                omit_traced_runtime_info=True,
                info={"version": "", "batch_ingest_config": {"use_multipart_endpoint": False}},
            )
        return self._client

    def _persist_run(self, run: Run) -> None:
        self.worker.submit(functools.partial(self._upload, run))

    def _upload(self, run: Run) -> None:
        redactor = self._redactor or default_redactor()
        payloads = langsmith_run_dicts(run, redactor=redactor, project=self.project)
        self._get_client().batch_ingest_runs(create=payloads)


def langsmith_exporter(settings: NovaSettings | None = None) -> LangSmithExporter | None:
    """Return an exporter when ``NOVA_LANGSMITH_API_KEY`` is set, else ``None``."""
    from nova.tracing.config import get_tracing_settings

    settings = settings or get_settings()
    if settings.langsmith_api_key is None:
        return None
    return LangSmithExporter(
        api_key=settings.langsmith_api_key.get_secret_value(),
        endpoint=str(settings.langsmith_endpoint or DEFAULT_ENDPOINT),
        project=settings.langsmith_project,
        timeout_s=get_tracing_settings().langsmith_timeout_s,
    )
