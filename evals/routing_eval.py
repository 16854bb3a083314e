"""Routing evaluation: accuracy, macro-F1, out-of-scope recall/precision, confusions, latency.

The dataset (``evals/datasets/routing.jsonl``) holds ``{"text", "agent"}`` lines written
independently of the catalog's examples; ``agent: null`` marks a request no agent should
take. It is only ever read here, never while fitting. Expected answers are hand labels.

Split (``evals/discipline.py``): a case's id is its text; dev/test is a frozen hash of it,
and test cases that nearly repeat a catalog or ``router.yaml`` example are removed (the
count is printed). Router settings are chosen on dev; figures are quoted from test. The
JSON report carries the dataset hash, the code version and the split.

Run it with ``nova eval routing`` (or ``python -m evals.routing_eval``).
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from evals.discipline import SplitCases, print_leaks, provenance, side_by_side, split_cases

if TYPE_CHECKING:
    from nodes.router import Router
    from nova.state import RouteDecision

DEFAULT_DATASET = Path(__file__).parent / "datasets" / "routing.jsonl"
DEFAULT_REPORT = Path("reports") / "routing_eval.json"
OUT_OF_SCOPE = "(out of scope)"


class DatasetError(ValueError):
    """The routing dataset has a malformed line (its number and the fix are given)."""


@dataclass(frozen=True, slots=True)
class RoutingCase:
    """One labelled request: ``agent`` is ``None`` when no agent should take it."""

    text: str
    agent: str | None


@dataclass(frozen=True, slots=True)
class Confusion:
    """How often requests for ``expected`` went to ``predicted``."""

    expected: str
    predicted: str
    count: int


@dataclass(slots=True)
class RoutingReport:
    """Every figure ``nova eval routing`` prints, as written to the JSON report."""

    dataset: str
    cases: int
    in_scope: int
    out_of_scope: int
    top1_accuracy: float
    """In-scope requests whose best candidate is the right agent (abstaining or not)."""
    accuracy: float
    """In-scope requests routed to the right agent without abstaining."""
    macro_f1: float
    """Macro-F1 over every agent plus the out-of-scope label (an abstention predicts it)."""
    in_scope_abstain: float
    """In-scope requests the router abstained on (wrongly)."""
    oos_recall: float | None
    """Out-of-scope requests the router abstained on."""
    oos_precision: float | None
    """Abstentions that were really out of scope."""
    latency_p50_ms: float
    """Single-request decision latency after warm-up, encoder included."""
    latency_p95_ms: float
    batch_seconds: float
    """Wall time of one ``route_batch`` over the whole dataset."""
    batch_size: int
    confusions: list[Confusion] = field(default_factory=list)
    router_version: str = ""
    catalog_version: str = ""
    thresholds: dict[str, float] = field(default_factory=dict)
    validation: dict[str, object] = field(default_factory=dict)
    created_at: str = ""
    predictions: list[dict[str, Any]] = field(default_factory=list)
    """Per request: text, expected and predicted agent (``None`` = abstained), best candidate."""

    def to_json(self) -> str:
        """Return the report as indented JSON."""
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)


def load_dataset(path: Path | str = DEFAULT_DATASET) -> list[RoutingCase]:
    """Read ``{"text", "agent"}`` JSONL lines.

    Raises:
        DatasetError: a line is not JSON, has no text, or an agent that is not a string
            or null (the line number is given).

    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(
            f"{path}: no such dataset; expected JSONL lines like "
            '{"text": "Which invoices are overdue?", "agent": "erp_invoices"}'
        )
    cases: list[RoutingCase] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DatasetError(f"{path}:{number}: not JSON ({error})") from None
        text = row.get("text") if isinstance(row, dict) else None
        agent = row.get("agent") if isinstance(row, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise DatasetError(f'{path}:{number}: needs a non-empty "text"')
        if agent is not None and not isinstance(agent, str):
            raise DatasetError(f'{path}:{number}: "agent" must be a name or null')
        cases.append(RoutingCase(text=text, agent=agent))
    if not cases:
        raise DatasetError(f"{path}: holds no cases")
    return cases


def _predicted(decision: RouteDecision) -> str | None:
    return decision["agent"] if decision["method"] in ("semantic", "llm", "explicit") else None


def evaluate_routing(
    router: Router,
    cases: Sequence[RoutingCase],
    *,
    dataset: str = "",
    latency_samples: int = 200,
) -> RoutingReport:
    """Route every case and compute the report.

    Args:
        router: The router to evaluate (already fitted).
        cases: Labelled requests.
        dataset: Where the cases came from (recorded in the report).
        latency_samples: How many single requests to time after warm-up.

    Raises:
        DatasetError: a case names an agent the router's catalog does not have.

    """
    from sklearn.metrics import f1_score

    unknown = sorted({c.agent for c in cases if c.agent and c.agent not in router.catalog})
    if unknown:
        raise DatasetError(
            f"The dataset names agents the catalog lacks: {', '.join(unknown)}; "
            "evaluate against the catalog it was written for (--catalog)"
        )
    texts = [c.text for c in cases]
    router.route("warm up the encoder and the vectorizer")

    started = time.perf_counter()
    decisions = router.route_batch(texts)
    batch_seconds = time.perf_counter() - started

    step = max(1, len(texts) // max(1, latency_samples))
    timings = []
    for text in texts[::step][:latency_samples]:
        t0 = time.perf_counter()
        router.route(text)
        timings.append((time.perf_counter() - t0) * 1000)

    truth = [c.agent for c in cases]
    predicted = [_predicted(d) for d in decisions]
    top1 = [d["candidates"][0]["agent"] for d in decisions]
    inside = [i for i, t in enumerate(truth) if t is not None]
    outside = [i for i, t in enumerate(truth) if t is None]
    abstained = [i for i, p in enumerate(predicted) if p is None]

    labels = [*router.agents, OUT_OF_SCOPE]
    macro_f1 = float(
        f1_score(
            [t or OUT_OF_SCOPE for t in truth],
            [p or OUT_OF_SCOPE for p in predicted],
            labels=labels,
            average="macro",
            zero_division=0,
        )
    )
    confusions = Counter(
        (truth[i] or OUT_OF_SCOPE, predicted[i] or OUT_OF_SCOPE)
        for i in range(len(cases))
        if (truth[i] or OUT_OF_SCOPE) != (predicted[i] or OUT_OF_SCOPE)
    )
    validation = asdict(router.fitted.validation)
    return RoutingReport(
        dataset=dataset,
        cases=len(cases),
        in_scope=len(inside),
        out_of_scope=len(outside),
        top1_accuracy=float(np.mean([top1[i] == truth[i] for i in inside])) if inside else 0.0,
        accuracy=float(np.mean([predicted[i] == truth[i] for i in inside])) if inside else 0.0,
        macro_f1=macro_f1,
        in_scope_abstain=float(np.mean([predicted[i] is None for i in inside])) if inside else 0.0,
        oos_recall=float(np.mean([predicted[i] is None for i in outside])) if outside else None,
        oos_precision=(
            float(np.mean([truth[i] is None for i in abstained])) if abstained else None
        ),
        latency_p50_ms=float(statistics.median(timings)),
        latency_p95_ms=float(np.percentile(timings, 95)),
        batch_seconds=batch_seconds,
        batch_size=len(texts),
        confusions=[Confusion(a, b, n) for (a, b), n in confusions.most_common(10)],
        router_version=router.version,
        catalog_version=router.catalog_version,
        thresholds=router.thresholds.as_dict(),
        validation=validation,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        predictions=[
            {
                "text": case.text,
                "expected": case.agent,
                "predicted": predicted[i],
                "top1": top1[i],
                "confidence": float(decisions[i]["confidence"]),
                "method": decisions[i]["method"],
            }
            for i, case in enumerate(cases)
        ],
    )


def split_routing_cases(cases: Sequence[RoutingCase]) -> SplitCases[RoutingCase]:
    """Cut cases into the frozen dev/test split (id = text), near-duplicates out of test."""
    return split_cases(cases, case_id=lambda case: case.text, text=lambda case: case.text)


@dataclass(slots=True)
class SplitRoutingReport:
    """Dev and test reports of one router, with the provenance header."""

    provenance: dict[str, Any]
    splits: dict[str, RoutingReport]
    """``dev`` and ``test`` (a split with no cases is left out)."""

    def to_json(self) -> str:
        """Return the report as indented JSON (provenance first)."""
        payload = {"provenance": self.provenance} | {
            name: asdict(report) for name, report in self.splits.items()
        }
        return json.dumps(payload, indent=2, ensure_ascii=False)


def evaluate_splits(
    router: Router,
    cases: Sequence[RoutingCase],
    *,
    dataset: Path,
    latency_samples: int = 200,
) -> tuple[SplitRoutingReport, SplitCases[RoutingCase]]:
    """Evaluate ``router`` on the dev and the test split of ``cases`` (read from ``dataset``).

    Raises:
        DatasetError: a case names an agent the router's catalog does not have.

    """
    split = split_routing_cases(cases)
    reports = {
        name: evaluate_routing(
            router, split.of(name), dataset=str(dataset), latency_samples=latency_samples
        )
        for name in ("dev", "test")
        if split.of(name)
    }
    return SplitRoutingReport(provenance([dataset], split), reports), split


def figures(report: RoutingReport) -> dict[str, float | int | None]:
    """Return the headline figures of one split, for ``side_by_side``."""
    return {
        "cases (in scope)": report.in_scope,
        "cases (out of scope)": report.out_of_scope,
        "in-scope top-1 accuracy": report.top1_accuracy,
        "in-scope accuracy (abstain = wrong)": report.accuracy,
        "in-scope wrongly abstained": report.in_scope_abstain,
        "out-of-scope recall": report.oos_recall,
        "out-of-scope precision": report.oos_precision,
        "macro-F1 (agents + out of scope)": report.macro_f1,
        "latency p50 ms (single, warm)": report.latency_p50_ms,
        "latency p95 ms (single, warm)": report.latency_p95_ms,
    }


_FORMATS: dict[str, Callable[[Any], str]] = {
    "cases (in scope)": str,
    "cases (out of scope)": str,
    "macro-F1 (agents + out of scope)": lambda v: f"{v:.3f}",
    "latency p50 ms (single, warm)": lambda v: f"{v:.1f}",
    "latency p95 ms (single, warm)": lambda v: f"{v:.1f}",
}


def split_table(report: SplitRoutingReport) -> Any:
    """Return the dev and test figures side by side as a rich table."""
    return side_by_side(
        "Routing evaluation (choose on dev, quote test)",
        {name: figures(split) for name, split in report.splits.items()},
        formats=_FORMATS,
    )


def write_report(
    report: RoutingReport | SplitRoutingReport, path: Path | str = DEFAULT_REPORT
) -> Path:
    """Write the report as JSON (creating its folder) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.to_json() + "\n", encoding="utf-8")
    return path


def format_report(report: RoutingReport) -> list[tuple[str, str]]:
    """Return the report's headline figures as (name, value) rows for printing."""

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1%}"

    return [
        (
            "cases (in scope / out of scope)",
            f"{report.cases} ({report.in_scope} / {report.out_of_scope})",
        ),
        ("in-scope top-1 accuracy", pct(report.top1_accuracy)),
        ("in-scope accuracy (abstain = wrong)", pct(report.accuracy)),
        ("macro-F1 (agents + out of scope)", f"{report.macro_f1:.3f}"),
        ("in-scope wrongly abstained", pct(report.in_scope_abstain)),
        ("out-of-scope recall", pct(report.oos_recall)),
        ("out-of-scope precision", pct(report.oos_precision)),
        (
            "latency p50 / p95 (single, warm)",
            f"{report.latency_p50_ms:.1f} / {report.latency_p95_ms:.1f} ms",
        ),
        (f"batch of {report.batch_size}", f"{report.batch_seconds:.2f} s"),
        ("router / catalog version", f"{report.router_version} / {report.catalog_version}"),
    ]


def main() -> None:
    """Evaluate Nova's router on the shipped dataset's dev and test splits; print both."""
    from rich.console import Console

    from nodes.router import nova_router

    console = Console()
    router = nova_router()
    report, split = evaluate_splits(router, load_dataset(), dataset=DEFAULT_DATASET)
    console.print(
        f"dataset {report.provenance['dataset_hash']} · code {report.provenance['code_version']}"
    )
    print_leaks(split)
    console.print(split_table(report))
    for confusion in report.splits["test"].confusions if "test" in report.splits else []:
        console.print(f"  test: {confusion.expected} -> {confusion.predicted}: {confusion.count}")
    console.print(f"report: {write_report(report)}")


if __name__ == "__main__":
    main()
