"""Attribution on the served ``nova`` graph, as a user meets it (``nova eval blame --served``).

Each scenario of ``evals/datasets/blame_served.yaml`` is a conversation run on the real
supervisor (``evals.blame_served.world``: real router, recall over Chroma, the ERP fast
path and tools on the seeded database, the translation and pipeline subgraphs, the check
node; scripted models). A faulty scenario runs twice: clean, only to confirm that the
owner's correction holds there and fails in the faulty run (an oracle check, never shown
to blame), and faulty. The faulty conversation's last turn is then attributed under three
conditions, with only what a user has:

1. **checks**: did a check fire (``checks_evaluator``), and the step the failed checks
   name (``blame`` with no correctors);
2. **checks + re-samples**: what ``nova trace blame RUN --resample 2`` does (the
   corrections the checks and the blame-time detectors propose, two re-samples per step,
   judged by the checks and the detectors of ``nodes.detectors``: read-only tools re-run,
   memories as stored, the router asked again);
3. **checks + feedback**: the owner's verdict is recorded in the feedback ledger as
   ``nova feedback RUN bad --agent A --answer FACTS`` would, and blame reads it as the CLI
   does (``nodes.check_node.blame_inputs``): the correction judges the replays and a
   corrected route is a correction of ``route``, with the same re-samples. Fault-free
   runs get no feedback here (the owner said nothing), so they are judged by the checks
   as in condition 2.

Blame loads the whole thread (every turn up to the last), as ``nova trace blame`` does.
Step level: the blamed step is the faulty one, in the faulty turn (the same task). Agent
level: the blamed step's agent is the faulty step's. Fault-free runs blamed: any step named.

Run: ``nova eval blame --served`` or ``python -m evals.blame_served_eval``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig

from evals.blame_served.scenarios import DATASET, Scenario, load_scenarios
from evals.blame_served.world import ServedWorld
from evals.discipline import SplitCases, provenance, side_by_side, split_cases
from nova.ledger.feedback import FeedbackLedger, FeedbackRecord
from nova.state import NovaContext
from nova.tracing.blame.attribution import BlameResult, blame
from nova.tracing.blame.corrections import Corrector
from nova.tracing.blame.steps import RunSteps, load_run
from nova.tracing.blame.verdicts import Evaluator, checks_evaluator

Condition = Literal["checks", "resample", "feedback"]
CONDITIONS: tuple[Condition, ...] = ("checks", "resample", "feedback")
STARTED: dict[Condition, str] = {
    "checks": "no check fired (faulty)",
    "resample": "no check fired (faulty)",
    "feedback": "blame not started (faulty)",
}
"""Faulty runs that nothing flagged; with feedback the owner's "wrong" always starts blame."""
RESAMPLES = 2
"""Re-samples per step, as ``nova trace blame RUN --resample 2``."""


@dataclass(frozen=True, slots=True)
class Attribution:
    """What one condition named for one run."""

    fired: bool
    """Whether the run failed its evaluator, so blame started."""
    blamed: str | None
    blamed_agent: str | None
    method: str
    replays: int
    seconds: float
    step_ok: bool
    agent_ok: bool
    error: str | None = None
    trials: tuple[str, ...] = ()
    """Each replay: ``step (source): passed/failed — reason``."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One scenario under the three conditions."""

    scenario: str
    subgraph: str
    label: str
    faulty: bool
    truth: str | None
    truth_agent: str | None
    answer: str
    conditions: dict[str, Attribution] = field(default_factory=dict)
    problem: str | None = None
    """Why the scenario could not be scored (the fault changes nothing, no such step…)."""


def _turn_start() -> str:
    return datetime.now(UTC).isoformat()


def converse(
    world: ServedWorld, scenario: Scenario, *, faulty: bool
) -> tuple[str, list[str], dict[str, Any]]:
    """Run the scenario's turns on one thread; return the thread, each turn's start, the output."""
    thread = f"{scenario.id}-{'faulty' if faulty else 'clean'}-{time.monotonic_ns()}"
    config: RunnableConfig = {"configurable": {"thread_id": thread}}
    starts: list[str] = []
    output: dict[str, Any] = {}
    with world.active(scenario, faulty=faulty):
        for number, turn in enumerate(scenario.turns, start=1):
            world.turn = number
            starts.append(_turn_start())
            output = dict(
                world.graph.invoke(
                    {"messages": [HumanMessage(turn.request)]},
                    config,
                    context=NovaContext(project=scenario.project),
                )
            )
    return thread, starts, output


def _owner_feedback(scenario: Scenario, run: RunSteps) -> FeedbackRecord:
    """Record the owner's verdict the way ``nova feedback RUN bad --agent --answer`` does.

    The record goes to the real feedback ledger (the temporary data directory's); the
    correction's facts become ``--answer`` and its route ``--agent``, with the owner's
    words as the note.
    """
    assert scenario.feedback is not None
    feedback = scenario.feedback
    route = run.final.get("route")
    route = dict(route) if isinstance(route, dict) else None
    ledger = FeedbackLedger()
    ledger.record(
        "bad",
        thread_id=run.thread_id,
        agent=feedback.route,
        answer="; ".join(feedback.facts) or None,
        note=feedback.text,
        request=str(run.final.get("request") or ""),
        given_answer=str(run.final.get("answer") or ""),
        routed_agent=str(route.get("agent")) if route else None,
        route=route,
        project=scenario.project,
    )
    record = ledger.latest(thread_id=run.thread_id)
    assert record is not None
    return record


def _attribute(
    world: ServedWorld,
    scenario: Scenario,
    run: RunSteps,
    condition: Condition,
    truth_task: str | None,
    truth_agent: str | None,
) -> Attribution:
    from nodes.check_node import blame_inputs

    context = NovaContext(project=scenario.project)
    evaluator: Evaluator = checks_evaluator
    correctors: list[Corrector] = []
    if condition != "checks":
        feedback = (
            _owner_feedback(scenario, run)
            if condition == "feedback" and scenario.feedback is not None
            else None
        )
        evaluator, correctors = blame_inputs(
            world.catalog, run.final, feedback=feedback, context=context, resample=RESAMPLES
        )
    started = time.perf_counter()
    error = None
    with world.active(scenario, faulty=True):
        world.turn = len(scenario.turns)
        try:
            result: BlameResult | None = blame(
                run, evaluator=evaluator, correctors=correctors, context=context
            )
        except Exception as exc:  # a blame that crashes is a finding, not the eval's end
            result, error = None, f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    blamed = result.blamed if result else None
    return Attribution(
        fired=result is not None and not result.passed,
        blamed=f"turn {blamed.turn}: {blamed.key}" if blamed else None,
        blamed_agent=blamed.agent if blamed else None,
        method=result.method if result else "error",
        replays=len(result.trials) if result else 0,
        seconds=seconds,
        step_ok=bool(blamed and truth_task and blamed.task_id == truth_task),
        agent_ok=bool(blamed and truth_agent and blamed.agent == truth_agent),
        error=error,
        trials=tuple(
            f"{t.step} ({t.source}): {'passed' if t.passed else 'failed'}: {t.reason[:160]}"
            for t in (result.trials if result else ())
        ),
    )


def evaluate_scenario(world: ServedWorld, scenario: Scenario) -> Outcome:
    """Run one scenario and attribute it under the three conditions."""
    truth = scenario.truth
    base: dict[str, Any] = {
        "scenario": scenario.id,
        "subgraph": scenario.subgraph,
        "label": scenario.label,
        "faulty": scenario.faulty,
        "truth": f"turn {truth.turn}: {truth.step}" if truth else None,
        "truth_agent": truth.agent if truth else None,
    }
    try:
        thread, starts, output = converse(world, scenario, faulty=True)
    except Exception as exc:
        return Outcome(**base, answer="", problem=f"the run failed: {type(exc).__name__}: {exc}")
    answer = str(output.get("answer") or "")
    base["subgraph"] = _subgraph_of(output) or scenario.subgraph
    truth_task: str | None = None
    if scenario.faulty:
        assert truth is not None and scenario.feedback is not None
        if scenario.natural:
            wanted = scenario.feedback.route
            base["subgraph"] = world.catalog[wanted].subgraph if wanted else scenario.subgraph
        else:
            _, _, clean = converse(world, scenario, faulty=False)
            base["subgraph"] = _subgraph_of(clean) or scenario.subgraph
            if not _feedback_holds(scenario, clean):
                return Outcome(
                    **base,
                    answer=answer,
                    problem="the correction fails the clean run: "
                    f"{str(clean.get('answer'))[:200]!r}",
                )
        if _feedback_holds(scenario, output):
            return Outcome(**base, answer=answer, problem="the fault does not change the outcome")
        faulty_turn = load_run(world.graph, thread, after=starts[truth.turn - 1])
        steps = faulty_turn.by_key()
        truth_step = truth.step
        if truth.step.startswith("*/"):
            truth_step = next((k for k in steps if k.endswith(truth.step[1:])), truth.step)
            base["truth"] = f"turn {truth.turn}: {truth_step}"
        step = steps.get(truth_step)
        if step is None:
            keys = ", ".join(steps)
            return Outcome(
                **base,
                answer=answer,
                problem=f"turn {truth.turn} has no step {truth_step} ({keys})",
            )
        truth_task = step.task_id
        base["truth_agent"] = truth.agent or step.agent
        if step.path:
            base["subgraph"] = step.path[0]  # the subgraph the faulty step ran in
    # The whole thread, as `nova trace blame RUN` loads it: a turn-1 fault is named in turn 1.
    run = load_run(world.graph, thread, thread=True)
    conditions: dict[str, Attribution] = {}
    for condition in CONDITIONS:
        if condition == "feedback" and not scenario.faulty:
            conditions[condition] = conditions["resample"]
            continue
        conditions[condition] = _attribute(
            world, scenario, run, condition, truth_task, base["truth_agent"]
        )
    return Outcome(**base, answer=answer, conditions=conditions)


def _subgraph_of(values: dict[str, Any]) -> str | None:
    route = values.get("route")
    return str(route.get("subgraph")) if isinstance(route, dict) and route.get("subgraph") else None


def _feedback_holds(scenario: Scenario, values: dict[str, Any]) -> bool:
    from evals.blame_served.oracle import oracle_evaluator

    assert scenario.feedback is not None
    return oracle_evaluator(scenario.feedback)(values).passed


def figures(outcomes: Sequence[Outcome], condition: Condition) -> dict[str, Any]:
    """Return one condition's figures over a set of scored outcomes."""
    scored = [o for o in outcomes if o.problem is None]
    faulty = [o.conditions[condition] for o in scored if o.faulty]
    clean = [o.conditions[condition] for o in scored if not o.faulty]
    every = faulty + clean
    blamed_runs = [a for a in every if a.fired]
    return {
        "faulty runs": len(faulty),
        "fault-free runs": len(clean),
        "step-level": sum(a.step_ok for a in faulty) / len(faulty) if faulty else None,
        "agent-level": sum(a.agent_ok for a in faulty) / len(faulty) if faulty else None,
        STARTED[condition]: sum(not a.fired for a in faulty),
        "fault-free blamed": sum(a.blamed is not None for a in clean),
        "replays per blame": (
            round(sum(a.replays for a in blamed_runs) / len(blamed_runs), 2) if blamed_runs else 0
        ),
        "seconds per blame": (
            round(sum(a.seconds for a in blamed_runs) / len(blamed_runs), 3) if blamed_runs else 0
        ),
    }


@dataclass(frozen=True, slots=True)
class ServedReport:
    """Outcomes of the suite and its frozen split."""

    outcomes: tuple[Outcome, ...]
    split: SplitCases[Scenario]
    seconds: float

    def split_of(self, scenario_id: str) -> str:
        """Return ``dev`` or ``test`` for a scenario (``leak`` when removed from test)."""
        if any(s.id == scenario_id for s in self.split.dev):
            return "dev"
        if any(s.id == scenario_id for s in self.split.test):
            return "test"
        return "leak"

    def by_split(self, condition: Condition) -> dict[str, dict[str, Any]]:
        """Return ``condition``'s figures for dev and test."""
        return {
            name: figures(
                [o for o in self.outcomes if self.split_of(o.scenario) == name], condition
            )
            for name in ("dev", "test")
        }

    def counts(self) -> dict[str, dict[str, int]]:
        """Return ``split -> row -> scenarios`` by subgraph and by fault family."""
        table: dict[str, Counter[str]] = {"dev": Counter(), "test": Counter()}
        for outcome in self.outcomes:
            split = self.split_of(outcome.scenario)
            row = table.setdefault(split, Counter())
            row["faulty" if outcome.faulty else "fault-free"] += 1
            row[f"subgraph {outcome.subgraph}"] += 1
            row[f"{'fault' if outcome.faulty else 'clean'}: {outcome.label}"] += 1
        return {split: dict(sorted(row.items())) for split, row in table.items()}

    def by_label(self) -> dict[str, dict[str, int]]:
        """Return, per fault family (dev only): runs, checks fired, steps named, blamed.

        Test outcomes stay in the split aggregates: a per-family view of them would say
        which families to tune for.
        """
        rows: dict[str, dict[str, int]] = {}
        dev = [o for o in self.outcomes if self.split_of(o.scenario) == "dev"]
        for label in sorted({o.label for o in dev}):
            chosen = [o for o in dev if o.label == label and o.problem is None]
            if not chosen:
                continue
            faulty = chosen[0].faulty
            row = {"runs": len(chosen), "check fired": 0, "blamed": 0}
            for outcome in chosen:
                row["check fired"] += outcome.conditions["checks"].fired
                row["blamed"] += outcome.conditions["resample"].blamed is not None
                for number, condition in enumerate(CONDITIONS, start=1):
                    row[f"({number}) step"] = row.get(f"({number}) step", 0) + (
                        outcome.conditions[condition].step_ok
                    )
            if not faulty:
                row = {k: v for k, v in row.items() if not k.endswith("step")}
            rows[f"{'fault' if faulty else 'clean'}: {label}"] = row
        return rows

    def as_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data with its provenance header."""
        return {
            **provenance([DATASET], self.split),
            "seconds": round(self.seconds, 1),
            "conditions": {c: self.by_split(c) for c in CONDITIONS},
            "counts": self.counts(),
            "by_label": self.by_label(),
            "problems": {o.scenario: o.problem for o in self.outcomes if o.problem},
            "outcomes": [{**asdict(o), "split": self.split_of(o.scenario)} for o in self.outcomes],
        }


@contextlib.contextmanager
def served_data_dir() -> Iterator[Path]:
    """Point Nova at a temporary data directory with the standard ERP sample seeded.

    Chroma seeds each project's memories itself on first use.
    """
    from nova.erp.db import ErpDatabase, close_erp_databases
    from nova.erp.seed import SeedConfig, seed_database
    from nova.settings import get_settings

    saved = {k: os.environ.get(k) for k in ("NOVA_DATA_DIR", "NOVA_ERP_DATABASE_URL")}
    folder = Path(tempfile.mkdtemp(prefix="nova-blame-served-"))
    try:
        os.environ["NOVA_DATA_DIR"] = str(folder)
        os.environ.pop("NOVA_ERP_DATABASE_URL", None)
        get_settings.cache_clear()
        database = ErpDatabase(get_settings().resolved_erp_url)
        seed_database(database, SeedConfig())
        database.dispose()
        yield folder
    finally:
        close_erp_databases()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()
        shutil.rmtree(folder, ignore_errors=True)


def split_scenarios(scenarios: Sequence[Scenario]) -> SplitCases[Scenario]:
    """Cut the scenarios into the frozen dev/test split (by id; no leak check)."""
    return split_cases(scenarios, case_id=lambda s: s.id, text=None)


def run_served_eval(
    scenarios: Sequence[Scenario] | None = None, *, progress: Any = None
) -> ServedReport:
    """Run every scenario (default: the whole dataset) in a temporary data directory."""
    scenarios = list(scenarios) if scenarios is not None else load_scenarios()
    started = time.perf_counter()
    with served_data_dir():
        world = ServedWorld()
        outcomes = []
        for scenario in scenarios:
            outcomes.append(evaluate_scenario(world, scenario))
            if progress is not None:
                progress(outcomes[-1])
    return ServedReport(tuple(outcomes), split_scenarios(scenarios), time.perf_counter() - started)


def print_report(report: ServedReport, *, misses: bool = False) -> None:
    """Print the counts, the three conditions dev vs test, and the misses."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 110))
    console.print(side_by_side("Scenarios by subgraph and fault family", report.counts()))
    titles = {
        "checks": "(1) checks alone",
        "resample": f"(2) checks + re-samples (--resample {RESAMPLES})",
        "feedback": "(3) checks + the owner's feedback with a correction",
    }
    formats = {
        "replays per blame": lambda v: f"{v:.2f}",
        "seconds per blame": lambda v: f"{v:.3f}",
    }
    for condition in CONDITIONS:
        console.print(side_by_side(titles[condition], report.by_split(condition), formats=formats))
    labels = Table(title="By fault family (dev only, diagnostic)", title_justify="left")
    columns = ["runs", "check fired", "(1) step", "(2) step", "(3) step", "blamed"]
    # Faulty families: steps named right per condition; fault-free ones: runs blamed in (2).
    labels.add_column("family")
    for column in columns:
        labels.add_column(column, justify="right")
    for label, row in report.by_label().items():
        labels.add_row(label, *(str(row.get(c, "")) for c in columns))
    console.print(labels)
    for outcome in report.outcomes:
        if report.split_of(outcome.scenario) == "test":
            continue  # test is quoted in aggregate only; its misses are not listed
        if outcome.problem:
            console.print(f"  [red]unscored[/] {outcome.scenario}: {outcome.problem}")
        elif misses:
            for name, got in outcome.conditions.items():
                wrong = (outcome.faulty and not got.step_ok) or (not outcome.faulty and got.blamed)
                if wrong and name != "checks":
                    console.print(
                        f"  [yellow]{name}[/] {outcome.scenario}: truth {outcome.truth}; "
                        f"blamed {got.blamed} ({got.method}, {got.replays} replays)"
                        + (f" {got.error}" if got.error else "")
                    )
    console.print(f"[dim]{len(report.outcomes)} scenarios in {report.seconds:.0f} s[/]")


def main() -> None:
    """Run the suite, print the report and write ``reports/blame_served_eval.json``."""
    import json

    report = run_served_eval()
    print_report(report, misses=True)
    path = Path("reports/blame_served_eval.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.as_dict(), indent=2, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
