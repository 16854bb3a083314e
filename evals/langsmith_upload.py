"""Upload an eval to LangSmith: its dataset once per version, each run as an experiment.

``nova eval <name> --langsmith`` (every eval subcommand) calls ``LangSmithUpload.start``
before the eval runs and ``finish`` after it:

* **dataset** ``nova-eval-<name>``: one example per case, with its split (``dev``/``test``)
  and the dataset hash ``evals.discipline`` computes. Example ids are derived from the eval,
  the hash and the case id (UUIDv5), so a version is uploaded once: the next run finds its
  first example and uploads nothing; a changed dataset (new hash) adds its examples beside
  the old ones and tags the dataset version ``hash-<hash>``.
* **experiment** ``nova-<name>-<hash>-<code version>-<time>``: a LangSmith project linked to
  the dataset, one run per case (inputs, Nova's outputs, the reference) and one feedback per
  score, so LangSmith shows per-example scores and compares experiments.

It uses the ``langsmith`` client with Nova's LangSmith settings (``NOVA_LANGSMITH_API_KEY``,
``NOVA_LANGSMITH_ENDPOINT``), short timeouts and no retries, on a daemon thread: the eval
never waits on LangSmith except for at most ``NOVA_LANGSMITH_EVAL_WAIT_S`` at its end, and a
slow or failing endpoint is reported in one line. Without ``--langsmith`` nothing of this runs.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from nova.settings import NovaSettings

_NAMESPACE = uuid.UUID("6f1c2a52-9d1e-4c43-8a55-4e6f56a11818")
_FEEDBACK_THREADS = 4
_RUN_BATCH = 100


class LangSmithNotConfigured(ValueError):
    """``--langsmith`` was given but LangSmith is not configured (the message says what to set)."""


@dataclass(frozen=True, slots=True)
class ExampleResult:
    """One case of an eval as LangSmith sees it: the example, Nova's output, the scores."""

    case_id: str
    split: str
    inputs: Mapping[str, Any]
    reference: Mapping[str, Any]
    outputs: Mapping[str, Any]
    scores: Mapping[str, float | bool | None]
    """Score name → value (a bool is 1/0); ``None`` means not applicable to this case."""
    comment: str | None = None
    """Why it scored as it did (shown with each feedback)."""


@dataclass(slots=True)
class UploadOutcome:
    """What became of an upload."""

    ok: bool
    message: str
    experiment: str | None = None
    uploaded_examples: int = 0
    runs: int = 0
    feedback: int = 0


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


@dataclass(slots=True)
class LangSmithUpload:
    """One eval's upload, running on a daemon thread; ``finish`` waits a bounded time."""

    eval_name: str
    api_key: str
    endpoint: str
    timeout_s: float
    wait_s: float
    client: Any = None
    _thread: threading.Thread | None = None
    _outcome: UploadOutcome | None = None
    _examples: list[ExampleResult] = field(default_factory=list)

    @classmethod
    def start(cls, eval_name: str, settings: NovaSettings) -> LangSmithUpload:
        """Check that LangSmith is configured; return an upload ready for ``finish``.

        Raises:
            LangSmithNotConfigured: No API key is set (one line naming what to set).

        """
        from nova.tracing.config import get_tracing_settings
        from nova.tracing.langsmith import DEFAULT_ENDPOINT

        if settings.langsmith_api_key is None:
            raise LangSmithNotConfigured(
                "--langsmith needs LangSmith configured: set NOVA_LANGSMITH_API_KEY "
                "(and NOVA_LANGSMITH_ENDPOINT for a self-hosted LangSmith)"
            )
        tracing = get_tracing_settings()
        endpoint = str(settings.langsmith_endpoint or DEFAULT_ENDPOINT).rstrip("/")
        return cls(
            eval_name=eval_name,
            api_key=settings.langsmith_api_key.get_secret_value(),
            endpoint=endpoint,
            timeout_s=tracing.langsmith_timeout_s,
            wait_s=tracing.langsmith_eval_wait_s,
        )

    def _client(self) -> Any:
        if self.client is None:
            from langsmith import Client
            from urllib3.util.retry import Retry

            timeout_ms = max(1, int(self.timeout_s * 1000))
            self.client = Client(
                api_url=self.endpoint,
                api_key=self.api_key,
                timeout_ms=(timeout_ms, timeout_ms),
                # A failing endpoint fails fast: no retries, no background batching thread.
                retry_config=Retry(total=0, connect=0, read=0, redirect=0, status=0),
                auto_batch_tracing=False,
                omit_traced_runtime_info=True,
                info={"version": "", "batch_ingest_config": {"use_multipart_endpoint": False}},
            )
        return self.client

    def submit(
        self,
        *,
        dataset_hash: str,
        code_version: str,
        examples: Sequence[ExampleResult],
        summary: Mapping[str, Any],
    ) -> None:
        """Start uploading the dataset version and the experiment in the background."""
        self._thread = threading.Thread(
            target=self._run,
            args=(dataset_hash, code_version, list(examples), dict(summary)),
            name=f"nova-langsmith-eval-{self.eval_name}",
            daemon=True,  # never keeps the process alive
        )
        self._thread.start()

    def finish(self) -> UploadOutcome:
        """Wait at most ``wait_s`` for the upload; return its outcome in one line."""
        if self._thread is None:
            return UploadOutcome(ok=False, message="nothing was submitted to LangSmith")
        self._thread.join(self.wait_s)
        if self._thread.is_alive():
            return UploadOutcome(
                ok=False,
                message=(
                    f"LangSmith upload still running after {self.wait_s:g} s "
                    f"({self.endpoint}); stopped waiting, the local report is complete"
                ),
            )
        assert self._outcome is not None
        return self._outcome

    def _run(
        self,
        dataset_hash: str,
        code_version: str,
        examples: list[ExampleResult],
        summary: dict[str, Any],
    ) -> None:
        try:
            self._outcome = self._upload(dataset_hash, code_version, examples, summary)
        except Exception as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            self._outcome = UploadOutcome(
                ok=False,
                message=f"LangSmith upload failed ({self.endpoint}): "
                f"{type(error).__name__}: {first[:300]}",
            )

    def example_id(self, dataset_hash: str, case_id: str) -> uuid.UUID:
        """Return the LangSmith example id of one case of one dataset version."""
        return uuid.uuid5(_NAMESPACE, f"{self.eval_name}\x00{dataset_hash}\x00{case_id}")

    def _dataset(self, dataset_hash: str) -> Any:
        from langsmith.utils import LangSmithNotFoundError

        client = self._client()
        name = f"nova-eval-{self.eval_name}"
        try:
            return client.read_dataset(dataset_name=name)
        except LangSmithNotFoundError:
            return client.create_dataset(
                name,
                description=f"Nova's `nova eval {self.eval_name}` cases (frozen dev/test split).",
                metadata={"nova_eval": self.eval_name},
            )

    def _upload(
        self,
        dataset_hash: str,
        code_version: str,
        examples: list[ExampleResult],
        summary: dict[str, Any],
    ) -> UploadOutcome:
        from langsmith.utils import LangSmithNotFoundError

        client = self._client()
        dataset = self._dataset(dataset_hash)
        ids = {e.case_id: self.example_id(dataset_hash, e.case_id) for e in examples}
        uploaded = 0
        if examples:
            try:
                client.read_example(ids[examples[0].case_id])
            except LangSmithNotFoundError:
                # This version of the dataset is new: upload its examples once, then tag it.
                client.create_examples(
                    dataset_id=dataset.id,
                    examples=[
                        {
                            "id": ids[e.case_id],
                            "inputs": _jsonable(dict(e.inputs)),
                            "reference_outputs": _jsonable(dict(e.reference)),
                            "metadata": {
                                "case_id": e.case_id,
                                "dataset_hash": dataset_hash,
                                "split": e.split,
                            },
                            "split": e.split,
                        }
                        for e in examples
                    ],
                )
                uploaded = len(examples)
                client.update_dataset_tag(
                    dataset_id=dataset.id, as_of=datetime.now(UTC), tag=f"hash-{dataset_hash}"
                )
        started = datetime.now(UTC)
        name = f"nova-{self.eval_name}-{dataset_hash}-{code_version}-{started:%Y%m%dT%H%M%S}"
        project = client.create_project(
            name,
            reference_dataset_id=dataset.id,
            description=f"nova eval {self.eval_name} at code {code_version}",
            metadata={
                "nova_eval": self.eval_name,
                "dataset_hash": dataset_hash,
                "code_version": code_version,
                "summary": _jsonable(summary),
            },
        )
        runs = []
        feedback: list[dict[str, Any]] = []
        for index, example in enumerate(examples):
            run_id = uuid.uuid4()
            at = started + timedelta(microseconds=index)
            runs.append(
                {
                    "id": str(run_id),
                    "trace_id": str(run_id),
                    "dotted_order": f"{at:%Y%m%dT%H%M%S%fZ}{run_id}",
                    "name": f"nova eval {self.eval_name}",
                    "run_type": "chain",
                    "inputs": _jsonable(dict(example.inputs)),
                    "outputs": _jsonable(dict(example.outputs)),
                    "start_time": at.isoformat(),
                    "end_time": at.isoformat(),
                    "session_name": name,
                    "session_id": str(project.id),
                    "reference_example_id": str(ids[example.case_id]),
                    "extra": {"metadata": {"case_id": example.case_id, "split": example.split}},
                }
            )
            for key, score in example.scores.items():
                if score is not None:
                    feedback.append(
                        {
                            "run_id": run_id,
                            "trace_id": run_id,
                            "session_id": project.id,
                            "key": key,
                            "score": float(score),
                            "comment": example.comment,
                        }
                    )
        for start in range(0, len(runs), _RUN_BATCH):
            client.batch_ingest_runs(create=runs[start : start + _RUN_BATCH])
        with ThreadPoolExecutor(_FEEDBACK_THREADS, thread_name_prefix="nova-ls-feedback") as pool:
            for done in pool.map(lambda item: client.create_feedback(**item), feedback):
                del done  # raises here if one failed
        return UploadOutcome(
            ok=True,
            message=(
                f"LangSmith: experiment {name} ({len(runs)} runs, {len(feedback)} scores) on "
                f"dataset nova-eval-{self.eval_name} "
                + (
                    f"(uploaded {uploaded} examples, version hash-{dataset_hash})"
                    if uploaded
                    else f"(version hash-{dataset_hash} already there)"
                )
            ),
            experiment=name,
            uploaded_examples=uploaded,
            runs=len(runs),
            feedback=len(feedback),
        )
