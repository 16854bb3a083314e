"""Benchmark: routing learned from corrections, and the CPU cost of ``nova improve``.

Rounds: a copy of Nova's catalog with 5 examples per agent (same descriptions and
``router.yaml``) starts; the routing set's dev split is streamed as traffic through the
router in force; every misroute (a wrong agent, an in-scope abstention, or an
out-of-scope request routed) is corrected with ``nova feedback import`` semantics; every
50 corrections ``nova improve --catalog DIR --yes`` runs (candidate, gate, promotion).
After each round the test split (leaked cases removed, as ``nova eval routing`` does) is
routed and accuracy (every case; out-of-scope counts right when it abstains), in-scope
accuracy and OOS recall are printed, beside the catalog with its full examples.

CPU: ``improve`` on 1,000 corrections (the routing set's first 1,000 lines, labels as
given) for the 34-agent catalog with 5 examples each, in a fresh data directory (every
correction encoded), measured as this process's CPU seconds.

    python -m evals.bench_learning [--every 50] [--skip-cpu]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

START_EXAMPLES = 5


def _fresh_env(root: Path) -> None:
    os.environ["NOVA_DATA_DIR"] = str(root / "data")
    os.environ.pop("NOVA_ROUTER_CACHE_DIR", None)
    os.environ.pop("NOVA_LEDGER_URL", None)
    from nova.settings import get_settings

    get_settings.cache_clear()


def make_small_catalog(folder: Path, examples: int = START_EXAMPLES) -> Path:
    """Write Nova's agents with their first ``examples`` examples and router.yaml to ``folder``."""
    from nova.catalog.loader import DEFAULT_CATALOG_DIR, load_specs
    from nova.catalog.spec import RoutableAgent
    from nova.userdata import dump_yaml

    agents_dir = folder / "agents"
    agents_dir.mkdir(parents=True)
    full = load_specs(DEFAULT_CATALOG_DIR, RoutableAgent)
    for spec in full:
        data = {
            "name": spec.name,
            "description": spec.description,
            "examples": list(spec.examples[:examples]),
        }
        (agents_dir / f"{spec.name}.yaml").write_text(dump_yaml(data), encoding="utf-8")
    shutil.copy(DEFAULT_CATALOG_DIR.parent / "router.yaml", folder / "router.yaml")
    return agents_dir


def score(router: Any, cases: list[Any]) -> dict[str, float]:
    """Return accuracy, in-scope accuracy and OOS recall of ``router`` on ``cases``."""
    decisions = router.route_batch([c.text for c in cases])
    right = in_right = in_n = oos_right = oos_n = 0
    for case, d in zip(cases, decisions, strict=True):
        abstained = d["method"] in ("clarify", "fallback")
        if case.agent is None:
            oos_n += 1
            ok = abstained
            oos_right += ok
        else:
            in_n += 1
            ok = not abstained and d["agent"] == case.agent
            in_right += ok
        right += ok
    return {
        "accuracy": right / len(cases),
        "in_scope_accuracy": in_right / max(1, in_n),
        "oos_recall": oos_right / max(1, oos_n),
    }


def rounds(every: int) -> dict[str, Any]:
    from evals.discipline import split_cases
    from evals.routing_eval import DEFAULT_DATASET, load_dataset
    from nodes.router import Router
    from nova.catalog.loader import DEFAULT_CATALOG_DIR
    from nova.improve import improve
    from nova.ledger.feedback import FeedbackLedger

    root = Path(tempfile.mkdtemp(prefix="nova-bench-learning-"))
    _fresh_env(root)
    catalog_dir = make_small_catalog(root / "catalog")
    cases = load_dataset(DEFAULT_DATASET)
    split = split_cases(cases, case_id=lambda c: c.text, text=lambda c: c.text)
    dev, test = split.dev, split.test
    ledger = FeedbackLedger()

    full = score(Router.from_catalog(DEFAULT_CATALOG_DIR), test)
    router = Router.from_catalog(catalog_dir)
    rows: list[dict[str, Any]] = [
        {"round": 0, "corrections": 0, "traffic": 0, **score(router, test), "promoted": "-"}
    ]
    print(f"dev traffic {len(dev)}, test {len(test)} ({len(split.leaks)} leaked removed)")
    print(_row_header())
    print(_row(rows[-1]))
    pending: list[str] = []
    corrections = 0
    cpu_per_round: list[float] = []

    def run_round(traffic: int) -> None:
        nonlocal router
        cpu = time.process_time()
        report = improve(catalog_dir, yes=True, user="bench")
        cpu_per_round.append(time.process_time() - cpu)
        router = Router.from_catalog(catalog_dir)
        status = ",".join(c.status for c in report.candidates if c.kind == "routing") or "-"
        gate = next((c.gate for c in report.candidates if c.kind == "routing"), None) or {}
        rows.append(
            {
                "round": len(rows),
                "corrections": corrections,
                "traffic": traffic,
                **score(router, test),
                "promoted": status,
                "why": gate.get("why", ""),
            }
        )
        print(_row(rows[-1]))

    for position, case in enumerate(dev, start=1):
        decision = router.route(case.text)
        abstained = decision["method"] in ("clarify", "fallback")
        wrong = (
            (not abstained)
            if case.agent is None
            else (abstained or decision["agent"] != case.agent)
        )
        if wrong:
            pending.append(json.dumps({"text": case.text, "agent": case.agent}))
            corrections += 1
        if len(pending) >= every:
            ledger.import_corrections(pending, name="traffic", catalog=str(catalog_dir.resolve()))
            pending = []
            run_round(position)
    if pending:
        ledger.import_corrections(pending, name="traffic", catalog=str(catalog_dir.resolve()))
        run_round(len(dev))
    print(
        f"full catalog (all examples): accuracy {full['accuracy']:.1%}, in-scope "
        f"{full['in_scope_accuracy']:.1%}, OOS recall {full['oos_recall']:.1%}"
    )
    accuracies = [float(r["accuracy"]) for r in rows]
    oos = [float(r["oos_recall"]) for r in rows]
    never_drops = all(b >= a - 1e-9 for a, b in itertools.pairwise(accuracies))
    worst_oos_drop = max((a - b for a, b in itertools.pairwise(oos)), default=0.0)
    gap = full["accuracy"] - accuracies[-1]
    print(
        f"accuracy never drops between rounds: {never_drops}; final {accuracies[-1]:.1%} vs full "
        f"{full['accuracy']:.1%} (gap {gap * 100:+.1f} points, target ≤ 1); largest OOS recall "
        f"drop {worst_oos_drop * 100:.1f} points (target ≤ 1); improve CPU per round "
        f"median {sorted(cpu_per_round)[len(cpu_per_round) // 2]:.1f} s"
    )
    shutil.rmtree(root, ignore_errors=True)
    return {"rounds": rows, "full": full, "never_drops": never_drops, "gap_points": gap * 100}


def cpu_for(n: int) -> float:
    """Return the CPU seconds of ``improve`` on ``n`` corrections (fresh data directory)."""
    from evals.routing_eval import DEFAULT_DATASET, load_dataset
    from nova.improve import improve
    from nova.ledger.feedback import FeedbackLedger

    root = Path(tempfile.mkdtemp(prefix="nova-bench-learning-cpu-"))
    _fresh_env(root)
    catalog_dir = make_small_catalog(root / "catalog")
    cases = load_dataset(DEFAULT_DATASET)[:n]
    lines = [json.dumps({"text": c.text, "agent": c.agent}) for c in cases]
    FeedbackLedger().import_corrections(lines, name="bench", catalog=str(catalog_dir.resolve()))
    # The parent's router is fitted first (as it would be in use already), then timed.
    from nodes.router import Router

    Router.from_catalog(catalog_dir)
    cpu = time.process_time()
    report = improve(catalog_dir, yes=False, user="bench")
    spent = time.process_time() - cpu
    [candidate] = [c for c in report.candidates if c.kind == "routing"]
    print(
        f"improve on {len(lines)} corrections, {len(report.candidates)} candidate(s), gate "
        f"{'passed' if candidate.passed else 'failed'}: {spent:.1f} CPU-s (target ≤ 60)"
    )
    shutil.rmtree(root, ignore_errors=True)
    return spent


def _row_header() -> str:
    return (
        f"{'round':>5} {'traffic':>7} {'corr.':>5} {'accuracy':>8} {'in-scope':>8} "
        f"{'OOS rec.':>8}  candidate"
    )


def _row(row: dict[str, Any]) -> str:
    why = f" ({row['why']})" if row.get("why") and row["promoted"] != "promoted" else ""
    return (
        f"{row['round']:>5} {row['traffic']:>7} {row['corrections']:>5} {row['accuracy']:>8.1%} "
        f"{row['in_scope_accuracy']:>8.1%} {row['oos_recall']:>8.1%}  {row['promoted']}{why}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=int, default=50, help="Corrections per improve round.")
    parser.add_argument(
        "--skip-cpu", action="store_true", help="Skip the 1,000-corrections timing."
    )
    parser.add_argument("--skip-rounds", action="store_true", help="Only the timing.")
    args = parser.parse_args()
    if not args.skip_rounds:
        rounds(args.every)
    if not args.skip_cpu:
        cpu_for(1000)


if __name__ == "__main__":
    main()
