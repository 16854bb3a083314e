"""Attribution accuracy on the fault-injection suite (``nova eval blame``).

For each scenario of ``evals/datasets/blame_scenarios.yaml`` the same request runs twice
on the scenario graph (``evals/blame/chain.py``): once clean (the reference run, which
must pass the scenario's evaluator) and once with the fault injected (which must fail
it). ``nova.tracing.blame`` then attributes the faulty run by counterfactual replay,
with the reference run's step outputs as corrections. A scenario is right at step level
when the blamed step is the injected one, and at agent level when the blamed step
belongs to the same agent (``router``, ``memory``, ``supervisor`` or the routed agent).

Run: ``nova eval blame`` or ``python -m evals.blame_eval``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig

from evals.blame.chain import compile_chain
from evals.blame.scenarios import DATASET, Scenario, load_scenarios
from evals.discipline import provenance, side_by_side, split_of
from nova.state import NovaContext
from nova.tracing.blame.attribution import BlameResult, blame
from nova.tracing.blame.corrections import ReferenceCorrector
from nova.tracing.blame.steps import RunSteps, load_run
from nova.tracing.blame.verdicts import Verdict


@dataclass(frozen=True, slots=True)
class ScenarioOutcome:
    """How attribution did on one scenario."""

    scenario: str
    family: str
    truth: str
    truth_agent: str
    blamed: str | None
    blamed_agent: str | None
    method: str
    replays: int
    seconds: float
    problem: str | None = None
    """Why the scenario could not be scored (a reference that fails, a fault with no effect)."""

    @property
    def step_ok(self) -> bool:
        """Whether the blamed step is the injected one."""
        return self.problem is None and self.blamed == self.truth

    @property
    def agent_ok(self) -> bool:
        """Whether the blamed step belongs to the agent that owns the injected step."""
        return self.problem is None and self.blamed_agent == self.truth_agent


@dataclass(frozen=True, slots=True)
class BlameEvalReport:
    """Attribution accuracy over a set of scenarios."""

    outcomes: tuple[ScenarioOutcome, ...]

    @property
    def step_accuracy(self) -> float:
        """Share of scenarios whose injected step was blamed."""
        return sum(o.step_ok for o in self.outcomes) / max(1, len(self.outcomes))

    @property
    def agent_accuracy(self) -> float:
        """Share of scenarios whose injected step's agent was blamed."""
        return sum(o.agent_ok for o in self.outcomes) / max(1, len(self.outcomes))

    def by_split(self) -> dict[str, dict[str, Any]]:
        """Return step- and agent-level accuracy for each frozen split (dev, test)."""
        figures: dict[str, dict[str, Any]] = {}
        for split in ("dev", "test"):
            chosen = [o for o in self.outcomes if split_of(o.scenario) == split]
            figures[split] = {
                "scenarios": len(chosen),
                "step-level": sum(o.step_ok for o in chosen) / len(chosen) if chosen else None,
                "agent-level": sum(o.agent_ok for o in chosen) / len(chosen) if chosen else None,
            }
        return figures

    def as_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data, headed by the dataset hash and code version."""
        return {
            **provenance([DATASET]),
            "step_accuracy": self.step_accuracy,
            "agent_accuracy": self.agent_accuracy,
            "by_split": self.by_split(),
            "outcomes": [
                {**asdict(o), "split": split_of(o.scenario), "step_ok": o.step_ok}
                for o in self.outcomes
            ],
        }

    def by_family(self) -> dict[str, tuple[int, int, int]]:
        """Return ``family -> (scenarios, step-level right, agent-level right)``."""
        table: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for outcome in self.outcomes:
            row = table[outcome.family]
            row[0] += 1
            row[1] += outcome.step_ok
            row[2] += outcome.agent_ok
        return {family: (row[0], row[1], row[2]) for family, row in sorted(table.items())}


@contextlib.contextmanager
def isolated_data_dir() -> Iterator[Path]:
    """Point Nova's stores at a temporary data directory for the duration of the block."""
    from nova.settings import get_settings

    previous = os.environ.get("NOVA_DATA_DIR")
    with tempfile.TemporaryDirectory(prefix="nova-blame-") as folder:
        os.environ["NOVA_DATA_DIR"] = folder
        get_settings.cache_clear()
        try:
            yield Path(folder)
        finally:
            if previous is None:
                os.environ.pop("NOVA_DATA_DIR", None)
            else:
                os.environ["NOVA_DATA_DIR"] = previous
            get_settings.cache_clear()


def run_request(scenario: Scenario, *, faulty: bool) -> tuple[RunSteps, dict[str, Any]]:
    """Run the scenario's request on its clean or faulty graph; return the run and final output."""
    clean, broken = scenario.envs()
    graph = compile_chain(broken if faulty else clean)
    thread = f"{scenario.id}-{'faulty' if faulty else 'reference'}"
    config: RunnableConfig = {"configurable": {"thread_id": thread}}
    output = graph.invoke(
        {"messages": [HumanMessage(scenario.request)]},
        config,
        context=NovaContext(project=scenario.project),
    )
    return load_run(graph, thread), dict(output)


def attribute(scenario: Scenario) -> tuple[BlameResult | None, ScenarioOutcome]:
    """Run one scenario and attribute its faulty run."""
    started = time.perf_counter()

    def outcome(
        result: BlameResult | None, truth_agent: str, problem: str | None = None
    ) -> ScenarioOutcome:
        blamed = result.blamed if result else None
        return ScenarioOutcome(
            scenario=scenario.id,
            family=scenario.family,
            truth=scenario.fault.step,
            truth_agent=truth_agent,
            blamed=blamed.key if blamed else None,
            blamed_agent=blamed.agent if blamed else None,
            method=result.method if result else "none",
            replays=len(result.trials) if result else 0,
            seconds=time.perf_counter() - started,
            problem=problem,
        )

    reference, reference_out = run_request(scenario, faulty=False)
    passed, why = scenario.evaluate(reference_out)
    if not passed:
        return None, outcome(None, "?", f"the reference run fails its evaluator: {why}")
    run, faulty_out = run_request(scenario, faulty=True)
    truth = run.by_key().get(scenario.fault.step)
    if truth is None:
        keys = ", ".join(step.key for step in run.steps)
        return None, outcome(
            None, "?", f"the faulty run has no step {scenario.fault.step} ({keys})"
        )
    if scenario.evaluate(faulty_out)[0]:
        return None, outcome(None, truth.agent, "the injected fault does not change the outcome")

    def evaluator(values: Any) -> Verdict:
        ok, reason = scenario.evaluate(values)
        return Verdict(ok, reason)

    result = blame(
        run,
        evaluator=evaluator,
        correctors=[ReferenceCorrector(reference)],
        context=NovaContext(project=scenario.project),
    )
    return result, outcome(result, truth.agent)


def run_blame_eval(scenarios: Sequence[Scenario] | None = None) -> BlameEvalReport:
    """Attribute every scenario (default: the whole dataset) in a temporary data directory."""
    scenarios = list(scenarios) if scenarios is not None else load_scenarios()
    with isolated_data_dir():
        return BlameEvalReport(tuple(attribute(scenario)[1] for scenario in scenarios))


def print_report(report: BlameEvalReport) -> None:
    """Print the per-family table, the misses and the two accuracy figures."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"Attribution on {len(report.outcomes)} fault-injection scenarios")
    for column in ("family", "scenarios", "step-level", "agent-level"):
        table.add_column(column, justify="left" if column == "family" else "right")
    for family, (count, steps, agents) in report.by_family().items():
        table.add_row(family, str(count), f"{steps}/{count}", f"{agents}/{count}")
    console.print(table)
    for outcome in report.outcomes:
        if not outcome.step_ok:
            reason = outcome.problem or f"blamed {outcome.blamed} ({outcome.method})"
            console.print(
                f"  [yellow]miss[/] {outcome.scenario}: injected {outcome.truth}; {reason}"
            )
    console.print(side_by_side("Attribution by frozen split", report.by_split()))
    replays = sum(o.replays for o in report.outcomes)
    seconds = sum(o.seconds for o in report.outcomes)
    console.print(
        f"step-level accuracy {report.step_accuracy:.1%}  ·  agent-level accuracy "
        f"{report.agent_accuracy:.1%}  ·  {replays} replays  ·  {seconds:.1f} s"
    )


def main() -> None:
    """Run the suite and print the report."""
    print_report(run_blame_eval())


if __name__ == "__main__":
    main()
