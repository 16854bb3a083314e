"""Choose memory recall's fusion weight and score floor on the dev split only.

What is tuned (all on dev: the generated, paraphrase and seed paraphrase queries of
``evals/memory_eval.py`` whose frozen split is dev; test is never read):

* ``memory.store.HYBRID_WEIGHT``: the cosine weight of the cosine + BM25 fusion;
* ``nodes.recall.MIN_RECALL_SCORE``: the highest floor on the grid that costs dev
  recall@5 at most ``FLOOR_TOLERANCE`` (a floor exists to drop noise such as small talk,
  so higher is better as long as answers survive).

The weight maximises the mean, over the three query sets (each counts alike, however
many queries it has), of (recall@5 + MRR@20) / 2: recall decides what reaches the model,
and the top hit alone decides a model-free memory answer (``nodes.route_context``).

The script prints the grids and the choice and writes the choice to
``evals/tuned/memory_fusion.json``; the constants are then set by hand to match.
``nova eval memory`` quotes dev and test side by side.

Run: ``python -m evals.tune_memory_fusion``.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path

from evals.discipline import code_version, file_hash
from evals.memory_eval import (
    CANDIDATES,
    CORPUS_FILE,
    PARAPHRASE_FILE,
    QUERIES_FILE,
    SEED_QUERIES_FILE,
    MemoryQuery,
    ingest_corpus,
    load_queries,
    load_seed_queries,
    searched_project,
    split_queries,
)
from memory.store import MemoryStore

WEIGHTS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)
FLOORS = tuple(round(0.05 + 0.025 * i, 3) for i in range(15))
FLOOR_TOLERANCE = 0.005
K = 5
OUTPUT = Path(__file__).parent / "tuned" / "memory_fusion.json"

Ranked = list[tuple[str, float]]


def _rank(
    store: MemoryStore, queries: Sequence[MemoryQuery], id_of: dict[str, str]
) -> list[Ranked]:
    return [
        [(h["id"], h["score"]) for h in store.search(searched_project(q), q.query, k=CANDIDATES)]
        for q in queries
    ]


def _figures(
    rankings: list[Ranked], queries: Sequence[MemoryQuery], id_of: dict[str, str], floor: float
) -> tuple[float, float]:
    recalls, reciprocal = [], []
    for ranking, query in zip(rankings, queries, strict=True):
        wanted = {id_of.get(key, key) for key in query.relevant}
        top = {item_id for item_id, score in ranking[:K] if score >= floor}
        recalls.append(len(wanted & top) / len(wanted))
        rank = next((i for i, (item_id, _) in enumerate(ranking, 1) if item_id in wanted), None)
        reciprocal.append(1.0 / rank if rank else 0.0)
    return statistics.fmean(recalls), statistics.fmean(reciprocal)


def main() -> None:
    """Print the dev grids and write the chosen weight and floor."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    corpus, queries = load_queries()
    with tempfile.TemporaryDirectory(prefix="nova-memory-tune-") as folder:
        client = chromadb.PersistentClient(
            path=folder, settings=ChromaSettings(anonymized_telemetry=False)
        )
        seeds, seed_texts = load_seed_queries(client)
        text_of = {item.key: item.text for item in corpus} | seed_texts
        split = split_queries(text_of, [*queries, *seeds])
        dev = split.dev
        sets = {
            name: [i for i, q in enumerate(dev) if (q.style or "generated") == name]
            for name in ("generated", "paraphrase", "seed")
        }
        print(
            f"tuning on the dev split only: {len(dev)} queries "
            f"({', '.join(f'{name} {len(ids)}' for name, ids in sets.items())}); "
            f"the {len(split.test)} test queries are not read"
        )
        id_of, _ = ingest_corpus(client, corpus)
        store = MemoryStore(client, projects=None, seed=False)
        print("\nweight  " + "  ".join(f"{name} R@{K}/MRR" for name in sets) + "  objective")
        best: tuple[float, float] | None = None
        for weight in WEIGHTS:
            store.hybrid_weight = weight
            ranked = _rank(store, dev, id_of)
            per_set = [
                _figures([ranked[i] for i in ids], [dev[i] for i in ids], id_of, 0.0)
                for ids in sets.values()
            ]
            objective = statistics.fmean((recall + mrr) / 2 for recall, mrr in per_set)
            cells = "  ".join(f"{recall:.3f}/{mrr:.3f}" for recall, mrr in per_set)
            print(f"{weight:6.2f}  {cells}  {objective:.4f}")
            if best is None or objective > best[0]:
                best = (objective, weight)
        assert best is not None
        chosen: dict[str, float] = {"hybrid_weight": best[1]}
        store.hybrid_weight = best[1]
        rankings = _rank(store, dev, id_of)
    unfloored, _ = _figures(rankings, dev, id_of, 0.0)
    print(f"\nscore floor (all {len(dev)} dev queries; recall@{K} without a floor {unfloored:.3f})")
    print(f"floor  recall@{K}")
    chosen["min_recall_score"] = FLOORS[0]
    for floor in FLOORS:
        recall, _ = _figures(rankings, dev, id_of, floor)
        print(f"{floor:5.3f}  {recall:9.3f}")
        if recall >= unfloored - FLOOR_TOLERANCE:
            chosen["min_recall_score"] = floor
    print(f"\nchosen on dev: {chosen}")
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(
        json.dumps(
            {
                "chosen_on": "dev",
                "dev_queries": len(dev),
                "dataset_hash": file_hash(
                    CORPUS_FILE, QUERIES_FILE, PARAPHRASE_FILE, SEED_QUERIES_FILE
                ),
                "code_version": code_version(),
                **chosen,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"written to {OUTPUT}")


if __name__ == "__main__":
    main()
