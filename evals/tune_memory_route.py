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

With ``--routing`` it instead checks (not tunes) the route node's memory fusion on the
routing evaluation's dataset (``evals/datasets/routing.jsonl``, the routing eval's own
frozen split: dev, or test with ``--test`` to quote the final figures): ``nova eval
routing`` scores the classifier alone, so here each request is recalled in each project
and fused as the route node does (``memory_decision``), and in-scope accuracy and
out-of-scope recall are printed with and without the fusion, with the moves that were
right or wrong by the dataset's label.

Run: ``python -m evals.tune_memory_route [--routing [--test]]`` (needs ``nova setup``:
seeded memory and ERP).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import yaml

from evals.discipline import Split, split_of
from memory.store import MemoryStore, default_memory_store
from nodes.recall import MIN_RECALL_SCORE
from nodes.route_context import (
    LEADING_MEMORY_MARGIN,
    LEADING_MEMORY_SCORE,
    MEMORY_ANSWER_KINDS,
    STRONG_MEMORY_SCORE,
    leading_memory,
    memory_decision,
)
from nova.catalog import default_catalog
from nova.erp.db import get_erp_database
from nova.erp.followup import erp_mention, names_erp_content
from nova.projects import load_projects
from nova.settings import get_settings
from nova.state import RouteDecision

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
    leading: list[bool] = []  # the top memory leads the rest (``leading_memory``)
    for query in queries:
        recalled = store.search(query["project"], query["query"], k=5)
        hits = [h for h in recalled if h["kind"] in MEMORY_ANSWER_KINDS]
        if hits:
            answers.append((hits[0]["score"], query["match"] in hits[0]["text"]))
        else:
            answers.append((0.0, False))
        leading.append(bool(leading_memory(recalled)))
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
    # When the classifier abstains: strong, or leading the others (LEADING_MEMORY_*).
    taken = [
        correct
        for (score, correct), leads in zip(answers, leading, strict=True)
        if score >= STRONG_MEMORY_SCORE or leads
    ]
    print(
        f"abstained: ≥ {STRONG_MEMORY_SCORE} or leading by {LEADING_MEMORY_MARGIN} from "
        f"{LEADING_MEMORY_SCORE}: precision {sum(taken) / max(1, len(taken)):.3f}, "
        f"recall {sum(taken) / len(answers):.3f}"
    )


def _routed(decision: RouteDecision) -> str | None:
    """Return the agent a decision hands the request to (``None``: the router asks back)."""
    return decision["agent"] if decision["method"] not in ("clarify", "fallback") else None


def check_routing(store: MemoryStore, split: Split) -> None:
    """Print, per project, the routing eval's figures with and without the memory fusion.

    ``nova eval routing`` scores the classifier alone; the route node then weighs recalled
    memory (``memory_decision``). Here each request of the routing dataset's ``split`` (the
    routing eval's own frozen split) is recalled in each project and fused as the route
    node does, and in-scope accuracy (abstain = wrong) and out-of-scope recall are printed
    for the classifier alone and with the fusion, with the moves that were right or wrong
    by the dataset's label.
    """
    from evals.routing_eval import load_dataset, split_routing_cases
    from nodes.router import nova_router

    cases = split_routing_cases(load_dataset(ROUTING)).of(split)
    router = nova_router()
    catalog = default_catalog()
    settings = get_settings()
    decisions = router.route_batch([case.text for case in cases])
    inside = [i for i, case in enumerate(cases) if case.agent is not None]
    outside = [i for i, case in enumerate(cases) if case.agent is None]

    def figures(predicted: list[str | None]) -> tuple[float, float]:
        accuracy = sum(predicted[i] == cases[i].agent for i in inside) / len(inside)
        oos_recall = sum(predicted[i] is None for i in outside) / len(outside)
        return accuracy, oos_recall

    alone = [_routed(d) for d in decisions]
    accuracy, oos_recall = figures(alone)
    print(
        f"\nrouting dataset, {split} split: {len(inside)} in scope, {len(outside)} out of scope; "
        f"classifier alone: in-scope accuracy {accuracy:.1%}, out-of-scope recall {oos_recall:.1%}"
    )
    print("project           in-scope acc  OOS recall  moved (right by label / wrong)")
    with get_erp_database().read_session() as session:
        for project in load_projects():
            fused: list[str | None] = []
            moves: Counter[str] = Counter()
            for case, decision in zip(cases, decisions, strict=True):
                hits = [
                    h
                    for h in store.search(project.id, case.text, k=settings.recall_top_k)
                    if h["score"] >= MIN_RECALL_SCORE
                ]
                moved = (
                    memory_decision(
                        decision,
                        case.text,
                        hits,
                        catalog,
                        fallback_agent=router.config.fallback_agent,
                        memory_agents=router.config.memory_agents,
                        erp_mention=lambda text: erp_mention(text, session),
                        erp_data=project.holds("erp"),
                        allows=project.allows_agent,
                    )
                    if decision["method"] in ("semantic", "clarify", "fallback")
                    else None
                )
                if moved is not None:
                    moves["right" if moved["agent"] == case.agent else "wrong"] += 1
                fused.append(_routed(moved or decision))
            accuracy, oos_recall = figures(fused)
            print(
                f"{project.id:16}  {accuracy:12.1%}  {oos_recall:10.1%}  "
                f"{moves['right'] + moves['wrong']} ({moves['right']} / {moves['wrong']})"
            )


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if "--routing" in arguments:
        # Dev while choosing; the test split only to quote the final figures.
        check_routing(default_memory_store(), "test" if "--test" in arguments else "dev")
    else:
        main()
