"""Print the figures behind ``nodes.route_context.STRONG_MEMORY_SCORE`` (a script, not a test).

Data (neither is used by the tests): the dev split (``evals.discipline``, the same frozen
split ``nova eval memory`` uses) of the hand-written paraphrase questions over the seed
memories (``evals/datasets/memory_seed_queries.yaml``: questions memory answers, each with
the one memory that answers it; the test half is not read here) and the ERP agents'
catalog examples (requests the ERP agents must keep), recalled in the parts-shop project,
where ERP questions are asked.

For each threshold it prints:

* answer precision / recall: of the paraphrase questions, how many have a top fact or
  decision at or above the threshold that is the right memory (precision: of those above
  the threshold; recall: of all questions);
* ERP examples moved: ERP catalog examples that name no ERP entity or ERP word and whose
  top fact or decision reaches the threshold (each would leave its ERP agent).

With ``--routing`` it also checks (not tunes) the route node's memory fusion on the routing
evaluation's dataset (``evals/datasets/routing.jsonl``): in each project, how many of its
requests the classifier sends to an ERP agent would be moved by ``memory_decision``, and
whether each move is right or wrong by the dataset's label. ``nova eval routing`` scores the
classifier alone, so this is where the fusion's effect on those requests shows.

Run: ``python -m evals.tune_memory_route [--routing]`` (needs ``nova setup``: seeded memory
and ERP).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import yaml

from evals.discipline import split_of
from memory.store import MemoryStore, default_memory_store
from nodes.recall import MIN_RECALL_SCORE
from nodes.route_context import MEMORY_ANSWER_KINDS, memory_decision
from nova.catalog import default_catalog
from nova.erp.db import get_erp_database
from nova.erp.followup import names_erp_content
from nova.projects import load_projects

SEED_QUERIES = Path(__file__).parent / "datasets" / "memory_seed_queries.yaml"
ROUTING = Path(__file__).parent / "datasets" / "routing.jsonl"
THRESHOLDS = [round(0.30 + 0.05 * i, 2) for i in range(9)]


def main() -> None:
    """Print answer precision/recall and ERP examples moved for each threshold."""
    store = default_memory_store()
    every = yaml.safe_load(SEED_QUERIES.read_text(encoding="utf-8"))["queries"]
    # The id the memory eval splits a seed query by (``evals.memory_eval.load_seed_queries``).
    queries = [q for q in every if split_of(f"seed:{q['project']}:{q['query']}") == "dev"]
    print(f"tuning on the dev split only: {len(queries)} of {len(every)} seed paraphrases")
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


def check_routing(store: MemoryStore) -> None:
    """Print, per project, the routing dataset's ERP-routed requests the fusion would move."""
    from nodes.router import nova_router

    cases = [json.loads(line) for line in ROUTING.read_text(encoding="utf-8").splitlines()]
    router = nova_router()
    catalog = default_catalog()
    decisions = router.route_batch([case["text"] for case in cases])
    erp_routed = [
        (case, decision)
        for case, decision in zip(cases, decisions, strict=True)
        if decision["method"] == "semantic" and catalog[str(decision["agent"])].subgraph == "erp"
    ]
    print(f"\nrouting dataset: {len(erp_routed)} of {len(cases)} requests routed to an ERP agent")
    with get_erp_database().read_session() as session:
        for project in [p.id for p in load_projects()]:
            moves: Counter[str] = Counter()
            for case, decision in erp_routed:
                hits = [
                    h
                    for h in store.search(project, case["text"], k=5)
                    if h["score"] >= MIN_RECALL_SCORE
                ]
                moved = memory_decision(
                    decision,
                    case["text"],
                    hits,
                    catalog,
                    fallback_agent=router.config.fallback_agent,
                    names_erp_content=lambda text: names_erp_content(text, session),
                )
                if moved is not None:
                    moves["right" if moved["agent"] == case["agent"] else "wrong"] += 1
            right, wrong = moves["right"], moves["wrong"]
            print(f"  {project}: moved {right + wrong} (right {right}, wrong {wrong})")


if __name__ == "__main__":
    main()
    if "--routing" in sys.argv[1:]:
        check_routing(default_memory_store())
