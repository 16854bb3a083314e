"""Compare router configurations: accuracy, out-of-scope recall, abstentions, latency, fit cost.

Every row fits the router on Nova's catalog (examples, descriptions, ``router.yaml``'s
out-of-scope examples) and routes the routing dataset's dev and test splits
(``evals/discipline.py``: frozen hash split, near-duplicates of catalog examples removed
from test). Settings are chosen on dev; test is quoted. Fit cost is process CPU time
(both cores count), measured with warm example embeddings, so it is the model's cost; the
encoder's is printed apart. Latency is one request at a time after warm-up, encoder
included.

    python -m evals.router_table                 # configurations x encoders (fp32, int8)
    python -m evals.router_table --synthetic 150x100   # fit CPU-seconds, 150 agents x 100
    python -m evals.router_table --holdout       # thresholds on unseen examples and agents
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from evals.routing_eval import DEFAULT_DATASET, RoutingCase, load_dataset, split_routing_cases
from memory.embeddings import encode
from nodes.routing.config import RouterConfig, config_path_for, load_router_config
from nodes.routing.fit import embedding_cache, fit_router
from nodes.routing.model import FittedRouter, decide_abstain
from nodes.routing.text import instruction_text
from nova.catalog import RoutableAgent

Encoder = Callable[[list[str]], Any]

CONFIGURATIONS: dict[str, dict[str, object]] = {
    "ridge + NB (fitted weight) [default]": {},
    "ridge + NB (weight 0.02: nova-ridge/5's grid pick)": {"text_weight": 0.02},
    "ridge + NB (weight 0.03)": {"text_weight": 0.03},
    "ridge (embedding only)": {"text_weight": 0.0},
    "centroid + NB": {"classifier": "centroid"},
    "centroid (embedding only)": {"classifier": "centroid", "text_weight": 0.0},
    "logreg + NB": {"classifier": "logreg"},
    "logreg (embedding only)": {"classifier": "logreg", "text_weight": 0.0},
    "joint SVM (nova-hybrid-svm/4 model)": {"classifier": "svm"},
}


@dataclass(frozen=True, slots=True)
class Figures:
    """One configuration's figures on one split."""

    top1: float
    accuracy: float
    in_scope_abstain: float
    oos_recall: float


def route_figures(
    fitted: FittedRouter, cases: Sequence[RoutingCase], embed: Encoder
) -> tuple[Figures, list[str | None]]:
    """Route ``cases`` with ``fitted`` (encoder ``embed``) and return the figures."""
    texts = [case.text for case in cases]
    scores = fitted.score(embed([instruction_text(t) for t in texts]), texts)
    top, out_of_scope, ambiguous = decide_abstain(
        scores.probabilities, scores.similarity, len(fitted.agents), fitted.thresholds
    )
    abstain = out_of_scope | ambiguous
    best = [fitted.agents[i] for i in top]
    inside = [i for i, case in enumerate(cases) if case.agent]
    outside = [i for i, case in enumerate(cases) if not case.agent]
    decided = [None if abstain[i] else best[i] for i in range(len(cases))]
    figures = Figures(
        top1=float(np.mean([best[i] == cases[i].agent for i in inside])),
        accuracy=float(np.mean([decided[i] == cases[i].agent for i in inside])),
        in_scope_abstain=float(np.mean([abstain[i] for i in inside])),
        oos_recall=float(np.mean([abstain[i] for i in outside])) if outside else float("nan"),
    )
    return figures, decided


def latency_ms(fitted: FittedRouter, texts: Sequence[str], embed: Encoder) -> float:
    """Return the p50 wall milliseconds of routing one request (encoder included)."""
    timings = []
    for text in list(texts)[:5] + list(texts):
        started = time.perf_counter()
        scores = fitted.score(embed([instruction_text(text)]), [text])
        decide_abstain(
            scores.probabilities, scores.similarity, len(fitted.agents), fitted.thresholds
        )
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings[5:])


def _nova() -> tuple[list[RoutableAgent], RouterConfig]:
    from nova.catalog import default_catalog

    catalog = default_catalog()
    return [catalog[name] for name in catalog.names], load_router_config(
        config_path_for(catalog.directory)
    )


def _embedder(quantized: bool) -> Encoder:
    return lambda texts: encode(texts, batch_size=64, quantized=quantized)


def table(
    latency_samples: int, only: Sequence[str] = (), encoder_names: Sequence[str] = ()
) -> None:
    """Fit the configurations on Nova's catalog and print dev and test figures.

    Args:
        latency_samples: Dev requests timed one at a time for the p50.
        only: Run only the configurations whose name contains one of these (all if empty).
        encoder_names: Run only these encoders (``minilm``, ``minilm-int8``; all if empty).

    """
    from rich.console import Console
    from rich.table import Table

    agents, base = _nova()
    split = split_routing_cases(load_dataset(DEFAULT_DATASET))
    console = Console(width=150)
    console.print(
        f"dev {len(split.dev)} cases, test {len(split.test)} cases "
        f"({len(split.leaks)} near-duplicates removed from test)"
    )
    scratch = Path(tempfile.mkdtemp(prefix="nova-router-table-"))
    encoders = [("MiniLM fp32", "minilm", False), ("MiniLM int8", "minilm-int8", True)]
    encoders = [e for e in encoders if not encoder_names or e[1] in encoder_names]
    configurations = {
        name: overrides
        for name, overrides in CONFIGURATIONS.items()
        if not only or any(part in name for part in only)
    }
    result = Table(title="Router configurations (dev | test)", title_justify="left")
    for column in (
        "encoder",
        "configuration",
        "top-1",
        "accuracy",
        "in-scope abstain",
        "OOS recall",
        "fit CPU s",
        "p50 ms",
    ):
        result.add_column(
            column, justify="left" if column in ("encoder", "configuration") else "right"
        )
    sample = [c.text for c in split.dev][:: max(1, len(split.dev) // latency_samples)]
    for label, encoder, quantized in encoders:
        embed = _embedder(quantized)
        embed(["warm up"])
        cache = embedding_cache(scratch / "embeddings", quantized=quantized)
        started = time.process_time()
        cache.encode(
            [instruction_text(e) for a in agents for e in a.examples]
            + [instruction_text(e) for e in base.out_of_scope_examples]
        )
        console.print(
            f"{label}: encoding the catalog took {time.process_time() - started:.1f} CPU-s"
        )
        for name, overrides in configurations.items():
            config = base.model_copy(update={**overrides, "encoder": encoder})
            started = time.process_time()
            fitted = fit_router(agents, config, cache=cache)
            fit_cpu = time.process_time() - started
            dev, _ = route_figures(fitted, split.dev, embed)
            test, _ = route_figures(fitted, split.test, embed)
            p50 = latency_ms(fitted, sample, embed)

            def both(field: str, dev: Figures = dev, test: Figures = test) -> str:
                return f"{getattr(dev, field):.1%} | {getattr(test, field):.1%}"

            result.add_row(
                label,
                name,
                both("top1"),
                both("accuracy"),
                both("in_scope_abstain"),
                both("oos_recall"),
                f"{fit_cpu:.1f}",
                f"{p50:.1f}",
            )
            console.print(f"  done: {label}, {name}")
    console.print(result)


def synthetic(spec: str) -> None:
    """Fit the default router on a synthetic catalog and print its fit CPU-seconds."""
    from evals.synthetic_catalog import held_out_requests, synthetic_agents

    n_agents, n_examples = (int(part) for part in spec.lower().split("x"))
    generated = synthetic_agents(n_agents, n_examples)
    agents = [
        RoutableAgent(name=a.name, description=a.description, examples=a.examples)
        for a in generated
    ]
    config = RouterConfig()
    with tempfile.TemporaryDirectory(prefix="nova-synthetic-") as folder:
        cache = embedding_cache(Path(folder), quantized=config.quantized)
        encode(["warm up"], quantized=config.quantized)
        started = time.process_time()
        fitted = fit_router(agents, config, cache=cache, progress=True)
        cold = time.process_time() - started
        grown = list(agents)
        first = grown[0]
        grown[0] = first.model_copy(
            update={"examples": (*first.examples, "One more request for this agent")}
        )
        started = time.process_time()
        fit_router(grown, config, cache=cache)
        warm = time.process_time() - started
    cases = held_out_requests(generated, per_agent=5)
    texts = [text for text, _ in cases]
    scores = fitted.score(
        encode([instruction_text(t) for t in texts], quantized=config.quantized), texts
    )
    top, oos, ambiguous = decide_abstain(
        scores.probabilities, scores.similarity, len(fitted.agents), fitted.thresholds
    )
    top1 = np.mean([fitted.agents[i] == agent for i, (_, agent) in zip(top, cases, strict=True)])
    print(f"catalog: {n_agents} agents x {n_examples} examples")
    print(f"fit, cold embeddings: {cold:.1f} CPU-s (in fit_router: {fitted.fit_cpu_seconds:.1f})")
    print(f"refit after one new example (embeddings cached): {warm:.1f} CPU-s")
    print(
        f"held-out requests: top-1 {top1:.3f}, abstained {np.mean(oos | ambiguous):.3f}; "
        f"validation {fitted.validation}"
    )


def holdout(overrides: dict[str, object]) -> None:
    """Check the fitted thresholds on examples and agents the fit never saw."""
    agents, config = _nova()
    config = config.model_copy(update=overrides)
    split = split_routing_cases(load_dataset(DEFAULT_DATASET))
    cache = embedding_cache(
        Path(tempfile.mkdtemp(prefix="nova-holdout-")), quantized=config.quantized
    )
    embed = _embedder(config.quantized)
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(3):
        # A held-out slice: a fifth of every agent's examples.
        kept: list[RoutableAgent] = []
        held: list[RoutingCase] = []
        for agent in agents:
            order = np.random.default_rng(seed * 1000 + len(held)).permutation(len(agent.examples))
            cut = max(1, len(order) // 5)
            held += [RoutingCase(agent.examples[i], agent.name) for i in order[:cut]]
            kept.append(
                agent.model_copy(update={"examples": tuple(agent.examples[i] for i in order[cut:])})
            )
        fitted = fit_router(kept, config, cache=cache)
        slice_figures, _ = route_figures(fitted, held, embed)
        # Held-out agents: three agents removed; their examples and dev requests are now
        # out of scope, the rest of dev stays in scope.
        gone = set(rng.choice([a.name for a in agents], size=3, replace=False).tolist())
        remaining = [a for a in agents if a.name not in gone]
        fitted_without = fit_router(remaining, config, cache=cache)
        unseen = [RoutingCase(e, None) for a in agents if a.name in gone for e in a.examples]
        unseen += [RoutingCase(c.text, None) for c in split.dev if c.agent in gone]
        in_scope = [c for c in split.dev if c.agent and c.agent not in gone]
        agent_figures, _ = route_figures(fitted_without, unseen + in_scope, embed)
        rows.append((seed, slice_figures, sorted(gone), agent_figures, fitted.validation))
    budget = config.max_in_scope_abstain
    print(f"budget max_in_scope_abstain = {budget:.1%}")
    for seed, sliced, names, without, validation in rows:
        print(
            f"seed {seed}: held-out slice ({sliced.top1:.1%} top-1): in-scope abstain "
            f"{sliced.in_scope_abstain:.1%} (validation said {validation.in_scope_abstain:.1%}, "
            f"target {validation.abstain_target:.1%}); without {', '.join(names)}: their "
            f"requests abstained {without.oos_recall:.1%}, other dev requests abstained "
            f"{without.in_scope_abstain:.1%}"
        )


_REFIT = """
import sys, time
from pathlib import Path
folder, cache, n = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
agent = folder / "calculator.yaml"
text = agent.read_text()
agent.write_text(text.replace("examples:\\n", f"examples:\\n  - What is 17% of 2,34{n}?\\n", 1))
started = time.process_time()
from nodes.router import Router
router = Router.from_catalog(folder, cache_dir=cache)
print(f"{time.process_time() - started:.2f} {router.fitted.fit_cpu_seconds:.2f}")
"""


def refit() -> None:
    """Time, in a new process, refitting Nova's catalog after one example was added."""
    import shutil
    import subprocess
    import sys

    from nodes.router import Router
    from nova.catalog import default_catalog

    source = default_catalog().directory
    with tempfile.TemporaryDirectory(prefix="nova-refit-") as tmp:
        folder = Path(tmp) / "agents"
        shutil.copytree(source, folder)
        shutil.copy(config_path_for(source), Path(tmp) / "router.yaml")
        Router.from_catalog(folder, cache_dir=Path(tmp) / "cache")  # embeddings cached
        runs = []
        for number in range(3):
            done = subprocess.run(
                [sys.executable, "-c", _REFIT, str(folder), str(Path(tmp) / "cache"), str(number)],
                capture_output=True,
                text=True,
            )
            if done.returncode:
                raise SystemExit(done.stderr)
            out = done.stdout.split()
            runs.append((float(out[0]), float(out[1])))
    total = statistics.median(r[0] for r in runs)
    inside = statistics.median(r[1] for r in runs)
    print(
        f"34-agent refit after one new example, new process: {total:.2f} CPU-s "
        f"(imports + cache key + fit; fit_router alone {inside:.2f}), median of 3"
    )


def main() -> None:
    """Print the table, the synthetic fit cost or the hold-out check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", metavar="AxE", help="Fit cost on A agents x E examples.")
    parser.add_argument("--holdout", action="store_true", help="Thresholds on unseen data.")
    parser.add_argument("--refit", action="store_true", help="Incremental refit CPU time.")
    parser.add_argument("--latency-samples", type=int, default=100)
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="Table: only configurations whose name contains TEXT (repeatable).",
    )
    parser.add_argument(
        "--encoder",
        action="append",
        default=[],
        choices=["minilm", "minilm-int8"],
        help="Table: only this encoder (repeatable).",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="Router setting for --holdout, as YAML (e.g. near_duplicate_similarity=0.8).",
    )
    args = parser.parse_args()
    if args.synthetic:
        synthetic(args.synthetic)
    elif args.refit:
        refit()
    elif args.holdout:
        import yaml

        holdout({k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)})
    else:
        table(args.latency_samples, args.only, args.encoder)


if __name__ == "__main__":
    main()
