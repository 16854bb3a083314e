"""Print the figures behind ``nodes.route_context.STRONG_MEMORY_SCORE`` (a script, not a test).

Data (neither is used by the tests): the hand-written paraphrase questions over the seed
memories (``evals/datasets/memory_seed_queries.yaml``: questions memory answers, each with
the one memory that answers it) and the ERP agents' catalog examples (requests the ERP
agents must keep), recalled in the parts-shop project, where ERP questions are asked.

For each threshold it prints:

* answer precision / recall: of the paraphrase questions, how many have a top fact or
  decision at or above the threshold that is the right memory (precision: of those above
  the threshold; recall: of all questions);
* ERP examples moved: ERP catalog examples that name no ERP entity or ERP word and whose
  top fact or decision reaches the threshold (each would leave its ERP agent).

Run: ``python -m evals.tune_memory_route`` (needs ``nova setup``: seeded memory and ERP).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from memory.store import default_memory_store
from nodes.route_context import MEMORY_ANSWER_KINDS
from nova.catalog import default_catalog
from nova.erp.db import get_erp_database
from nova.erp.followup import names_erp_content

SEED_QUERIES = Path(__file__).parent / "datasets" / "memory_seed_queries.yaml"
THRESHOLDS = [round(0.30 + 0.05 * i, 2) for i in range(9)]


def main() -> None:
    """Print answer precision/recall and ERP examples moved for each threshold."""
    store = default_memory_store()
    queries = yaml.safe_load(SEED_QUERIES.read_text(encoding="utf-8"))["queries"]
    answers: list[tuple[float, bool]] = []
    for query in queries:
        hits = [
            h
            for h in store.search(query["project"], query["query"], k=5)
            if h["kind"] in MEMORY_ANSWER_KINDS
        ]
        if hits:
            answers.append((hits[0]["score"], query["match"] in hits[0]["text"]))
        else:
            answers.append((0.0, False))
    catalog = default_catalog()
    erp_free: list[float] = []
    examples = [
        example
        for name in catalog.names
        if catalog[name].subgraph == "erp"
        for example in catalog[name].examples
    ]
    with get_erp_database().read_session() as session:
        for example in examples:
            if names_erp_content(example, session):
                continue
            hits = [
                h
                for h in store.search("parts-shop", example, k=5)
                if h["kind"] in MEMORY_ANSWER_KINDS
            ]
            erp_free.append(hits[0]["score"] if hits else 0.0)
    print(
        f"{len(queries)} paraphrase questions; {len(examples)} ERP catalog examples, "
        f"{len(erp_free)} of them name no ERP entity or ERP word"
    )
    print("threshold  answer precision  answer recall  ERP examples moved")
    for threshold in THRESHOLDS:
        above = [correct for score, correct in answers if score >= threshold]
        precision = sum(above) / len(above) if above else float("nan")
        recall = sum(above) / len(answers)
        moved = sum(score >= threshold for score in erp_free)
        print(f"{threshold:9.2f}  {precision:16.3f}  {recall:13.3f}  {moved:18d}")


if __name__ == "__main__":
    main()
