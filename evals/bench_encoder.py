"""Benchmark the encoder back-ends (``NOVA_ENCODER_BACKEND``) against each other, in one run.

For each of ``onnx``, ``numpy`` and ``torch`` it prints:

- import + load: a fresh interpreter imports ``memory.embeddings`` and loads the back-end
  (median of ``--cold-runs`` subprocesses; the ONNX export is made beforehand and timed
  on its own, since it happens once per model version);
- first encode: that fresh process's first ``encode`` of one short text;
- warm p50: one short text, after warm-up (``--rounds`` x ``--samples``);
- batch throughput: sentences per second over the first 1,000 routing-dataset texts
  (median of ``--rounds``);
- max |diff| vs torch: largest element-wise difference from sentence-transformers' vectors
  over those texts plus ``datasets/encoder_texts.json`` (the equivalence test's 50
  edge cases);
- routing eval: ``nova eval routing`` in a subprocess using that back-end, with a router
  cache of its own so the router is fitted on that back-end's vectors too: in-scope top-1,
  in-scope accuracy (abstaining counts as wrong) and out-of-scope recall.

Run it with ``python -m evals.bench_encoder`` (about 10 minutes on 2 busy cores).
Timings on a shared machine are noisy: back-ends take turns in every round (the cold
runs too), and each figure is a median, so compare back-ends within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evals.routing_eval import DEFAULT_DATASET, load_dataset
from memory.encoders import BACKENDS, BackendName, load_backend, onnx_path

REPO = Path(__file__).resolve().parents[1]
EDGE_CASES = Path(__file__).parent / "datasets" / "encoder_texts.json"
SHORT = "Which invoices are overdue this month?"

_EXPORT = """
import sys
from pathlib import Path
from memory.encoders import export_onnx
export_onnx(Path(sys.argv[1]))
"""
_COLD = """
import json, sys, time
started = time.perf_counter()
import memory.embeddings as embeddings
embeddings.backend_name()
loaded = time.perf_counter()
embeddings.encode([sys.argv[1]])
done = time.perf_counter()
print(json.dumps({"load": loaded - started, "first": done - loaded}))
"""


@dataclass(frozen=True, slots=True)
class Row:
    """One back-end's figures."""

    backend: BackendName
    load_s: float
    first_ms: float
    p50_ms: float
    per_s: float
    max_diff: float
    top1: float
    accuracy: float
    oos_recall: float | None


def _env(backend: BackendName, cache_dir: Path, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        NOVA_ENCODER_BACKEND=backend,
        NOVA_ENCODER_CACHE_DIR=str(cache_dir),
        NOVA_DATA_DIR=str(data_dir),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        LANGSMITH_TRACING="false",
        HF_HUB_OFFLINE="1",
    )
    env.pop("NOVA_ROUTER_CACHE_DIR", None)  # each back-end fits its own router
    return env


def _cold(backend: BackendName, cache_dir: Path, work: Path) -> tuple[float, float]:
    """Return (import + load seconds, first-encode seconds) from a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _COLD, SHORT],
        env=_env(backend, cache_dir, work / "cold"),
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return figures["load"], figures["first"]


def _routing(backend: BackendName, cache_dir: Path, work: Path) -> dict[str, float | None]:
    data_dir = work / f"routing-{backend}"
    report = data_dir / "routing_eval.json"
    subprocess.run(
        [sys.executable, "-m", "nova.cli", "eval", "routing", "--report", str(report)],
        env=_env(backend, cache_dir, data_dir),
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(report.read_text(encoding="utf-8"))
    return {key: result[key] for key in ("top1_accuracy", "accuracy", "oos_recall")}


def main() -> None:
    """Measure every back-end and print the table (Markdown, ready for the README)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold-runs", type=int, default=5, help="fresh processes per back-end")
    parser.add_argument("--rounds", type=int, default=3, help="warm rounds per back-end")
    parser.add_argument("--samples", type=int, default=50, help="single encodes per round")
    parser.add_argument("--texts", type=int, default=1000, help="texts in the throughput batch")
    parser.add_argument("--no-routing", action="store_true", help="skip the routing evals")
    args = parser.parse_args()

    texts = [case.text for case in load_dataset(DEFAULT_DATASET)][: args.texts]
    edge_cases = json.loads(EDGE_CASES.read_text(encoding="utf-8"))
    compared = [*texts, *edge_cases]
    work = Path(tempfile.mkdtemp(prefix="nova-bench-encoder-"))
    cache_dir = work / "encoder-cache"
    started = time.perf_counter()
    # In a subprocess: this one must not have torch loaded while the others are measured.
    subprocess.run(
        [sys.executable, "-c", _EXPORT, str(onnx_path(cache_dir))],
        env=_env("onnx", cache_dir, work / "export"),
        check=True,
    )
    print(f"one-off ONNX export (imports torch): {time.perf_counter() - started:.1f} s")

    # Back-ends take turns in every round, so a burst of load from other processes hits
    # them all alike; each figure is the median over rounds.
    cold: dict[BackendName, list[tuple[float, float]]] = {b: [] for b in BACKENDS}
    for _ in range(args.cold_runs):
        for backend in BACKENDS:
            cold[backend].append(_cold(backend, cache_dir, work))
    engines = {backend: load_backend(backend, cache_dir) for backend in BACKENDS}
    singles: dict[BackendName, list[float]] = {b: [] for b in BACKENDS}
    rates: dict[BackendName, list[float]] = {b: [] for b in BACKENDS}
    for engine in engines.values():
        for _ in range(5):
            engine.encode([SHORT], 64)
    for _ in range(args.rounds):
        for backend, engine in engines.items():
            for _ in range(args.samples):
                t0 = time.perf_counter()
                engine.encode([SHORT], 64)
                singles[backend].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            engine.encode(texts, 128)  # the router fits in batches of 128
            rates[backend].append(len(texts) / (time.perf_counter() - t0))
    vectors = {backend: engine.encode(compared, 64) for backend, engine in engines.items()}
    partial = {
        backend: {
            "load_s": statistics.median(load for load, _ in cold[backend]),
            "first_ms": statistics.median(first for _, first in cold[backend]) * 1000,
            "p50_ms": statistics.median(singles[backend]) * 1000,
            "per_s": statistics.median(rates[backend]),
        }
        for backend in BACKENDS
    }
    print("throughput per round:", {b: [round(r) for r in rates[b]] for b in BACKENDS})

    rows = []
    for backend in BACKENDS:
        routing = (
            {"top1_accuracy": float("nan"), "accuracy": float("nan"), "oos_recall": None}
            if args.no_routing
            else _routing(backend, cache_dir, work)
        )
        rows.append(
            Row(
                backend=backend,
                max_diff=float(np.abs(vectors[backend] - vectors["torch"]).max()),
                top1=float(routing["top1_accuracy"] or 0.0),
                accuracy=float(routing["accuracy"] or 0.0),
                oos_recall=routing["oos_recall"],
                **partial[backend],
            )
        )

    print()
    print(
        "| back-end | import + load | first encode | warm p50 (1 text) | batch throughput "
        "| max abs diff vs torch | routing top-1 | routing accuracy | OOS recall |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        recall = "n/a" if row.oos_recall is None else f"{row.oos_recall:.1%}"
        print(
            f"| `{row.backend}` | {row.load_s:.2f} s | {row.first_ms:.0f} ms | "
            f"{row.p50_ms:.1f} ms | {row.per_s:.0f} /s | {row.max_diff:.1e} | "
            f"{row.top1:.1%} | {row.accuracy:.1%} | {recall} |"
        )
    print(f"\n{len(texts)} texts for throughput, {len(compared)} compared; work dir {work}")


if __name__ == "__main__":
    main()
