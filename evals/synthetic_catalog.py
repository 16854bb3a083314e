"""Generate synthetic agent catalogs, and time fitting the router on a large one.

Each agent owns one (domain, object) pair, e.g. "fleet" × "invoices"; its examples are
templated requests naming both, with random names, numbers and dates around them, so
neighbouring agents share words and the router has to use both. Tests fit small ones;
the script fits 150 agents × 100 examples with a progress bar and prints the figures:

    python -m evals.synthetic_catalog --agents 150 --examples 100
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

DOMAINS = (
    "fleet", "warehouse", "marketing", "payroll", "legal", "support", "garden", "kitchen",
    "studio", "workshop", "library", "clinic", "school", "hotel", "farm", "theatre",
    "harbour", "bakery", "brewery", "museum",
)  # fmt: skip
OBJECTS = (
    "invoices", "schedules", "contracts", "inventory", "complaints", "budgets",
    "inspections", "bookings", "certificates", "deliveries",
)  # fmt: skip
TEMPLATES = (
    "Show me the {obj} for the {dom} team",
    "Can you check the {dom} {obj} from {when}?",
    "I need the latest {obj} of the {dom}, ask {name} if unsure",
    "List all open {dom} {obj} above {number}",
    "What changed in the {obj} at the {dom} since {when}?",
    "Summarise the {dom} {obj} for {name}",
    "Are there any overdue {obj} in the {dom}?",
    "Update the {dom} {obj}: {name} takes over number {number}",
    "How many {obj} did the {dom} handle {when}?",
    "Find the {obj} {name} filed for the {dom}",
    "{dom} {obj} status please",
    "Compare this month's {obj} with {when} for the {dom}",
    "Send me a report on {dom} {obj}",
    "Which {obj} in the {dom} still need approval?",
    "Export the {dom} {obj} list to a spreadsheet",
)
NAMES = ("Anna", "Ben", "Chiara", "Deniz", "Emil", "Fatima", "Georg", "Hana", "Ivo", "Jule")
WHENS = ("last week", "yesterday", "March", "the last quarter", "Monday", "last year")


@dataclass(frozen=True, slots=True)
class SyntheticAgent:
    """One generated agent: its (domain, object) pair and its examples."""

    name: str
    domain: str
    obj: str
    description: str
    examples: tuple[str, ...]


def _request(rng: random.Random, domain: str, obj: str) -> str:
    template = rng.choice(TEMPLATES)
    text = template.format(
        dom=domain,
        obj=obj,
        name=rng.choice(NAMES),
        when=rng.choice(WHENS),
        number=rng.randint(2, 9999),
    )
    return text[0].upper() + text[1:]


def synthetic_agents(agents: int, examples: int, seed: int = 0) -> list[SyntheticAgent]:
    """Generate ``agents`` agents with ``examples`` distinct examples each.

    Raises:
        ValueError: more agents than (domain, object) pairs, or fewer than 2 examples.

    """
    pairs = [(d, o) for d in DOMAINS for o in OBJECTS]
    if not 2 <= agents <= len(pairs):
        raise ValueError(f"agents must be between 2 and {len(pairs)}, got {agents}")
    if examples < 2:
        raise ValueError(f"examples must be at least 2, got {examples}")
    rng = random.Random(seed)
    rng.shuffle(pairs)
    result = []
    for domain, obj in pairs[:agents]:
        seen: dict[str, None] = {}
        while len(seen) < examples:
            seen.setdefault(_request(rng, domain, obj), None)
        result.append(
            SyntheticAgent(
                name=f"{domain}_{obj}",
                domain=domain,
                obj=obj,
                description=(
                    f"Handles {obj} for the {domain}: finds, lists, updates and summarises "
                    f"the {domain} {obj} and answers questions about them."
                ),
                examples=tuple(seen),
            )
        )
    return result


def write_catalog(directory: Path, agents: list[SyntheticAgent]) -> Path:
    """Write one YAML file per agent (name, description, examples) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for agent in agents:
        data = {
            "name": agent.name,
            "description": agent.description,
            "examples": list(agent.examples),
        }
        (directory / f"{agent.name}.yaml").write_text(
            yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
    return directory


def held_out_requests(
    agents: list[SyntheticAgent], per_agent: int, seed: int = 1
) -> list[tuple[str, str]]:
    """Generate fresh (request, agent) pairs not among any agent's examples."""
    rng = random.Random(seed)
    known = {e for a in agents for e in a.examples}
    cases = []
    for agent in agents:
        made = 0
        for _ in range(per_agent * 50):
            text = _request(rng, agent.domain, agent.obj)
            if text not in known:
                cases.append((text, agent.name))
                known.add(text)
                made += 1
                if made == per_agent:
                    break
    return cases


def main() -> None:
    """Fit the router on a generated catalog and print fit time, validation and accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=150)
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None, help="Catalog folder (default: temp)")
    args = parser.parse_args()

    from nodes.router import Router

    agents = synthetic_agents(args.agents, args.examples)
    with tempfile.TemporaryDirectory(prefix="nova-synthetic-") as tmp:
        folder = write_catalog(args.out or Path(tmp) / "agents", agents)
        started = time.perf_counter()
        router = Router.from_catalog(folder, cache_dir=Path(tmp) / "cache", progress=True)
        fit_seconds = time.perf_counter() - started
        cases = held_out_requests(agents, per_agent=5)
        started = time.perf_counter()
        decisions = router.route_batch([text for text, _ in cases])
        batch_seconds = time.perf_counter() - started
    abstained = sum(d["method"] != "semantic" for d in decisions)
    top1 = sum(
        d["candidates"][0]["agent"] == agent for d, (_, agent) in zip(decisions, cases, strict=True)
    )
    report = router.fitted.validation
    print(f"catalog: {args.agents} agents x {args.examples} examples")
    print(
        f"fit (encode, {report.folds}-fold validation, held-out agents, final): {fit_seconds:.1f} s"
    )
    print(
        f"validation accuracy {report.accuracy:.3f}, in-scope abstain {report.in_scope_abstain:.3f}"
    )
    print(f"thresholds: {router.thresholds.as_dict()}")
    print(
        f"held-out requests: {len(cases)}, top-1 accuracy {top1 / len(cases):.3f}, "
        f"abstained {abstained / len(cases):.3f}"
    )
    print(f"batch routing: {batch_seconds:.2f} s ({len(cases) / batch_seconds:.0f} requests/s)")


if __name__ == "__main__":
    main()
