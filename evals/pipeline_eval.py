"""Pipeline scenarios: the shipped pipelines against scripted skills and models.

Each scenario in ``evals/datasets/pipelines.yaml`` runs one shipped pipeline with fake
skills (canned outputs, transient errors, tool errors, hangs), scripted models per agent
(or none), optional step overrides (a shorter deadline), and checks what came out: the run
status, each step's status, the failures recorded, text in the answer, how often each
skill was called, and, for ``resume`` scenarios, that a second run on the same thread
finishes the pipeline without re-running the steps that had succeeded.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.table import Table

from evals.discipline import provenance, side_by_side, split_of
from nova.catalog import default_catalog
from nova.glossary import Glossary
from nova.pipelines import Pipelines, load_pipelines
from nova.projects import load_projects
from nova.testing import ScriptedChatModel, ScriptedModels

DATASET = Path(__file__).parent / "datasets" / "pipelines.yaml"


class FakeResponse(BaseModel):
    """A canned answer used when a call's arguments contain ``when``."""

    model_config = ConfigDict(extra="forbid")

    when: dict[str, Any]
    output: Any


class FakeSkill(BaseModel):
    """How a fake skill behaves."""

    model_config = ConfigDict(extra="forbid")

    output: Any = None
    """Returned (as JSON text and as the artifact) when no response matches and it does not fail."""
    responses: list[FakeResponse] = Field(default_factory=list)
    """Answers for specific arguments (first match wins, before any failure)."""
    error: str | None = None
    """Raise ``ConnectionError(error)`` (a transient failure the retry policy retries)."""
    fail_times: int | None = None
    """With ``error``: fail only the first N calls, then answer."""
    tool_error: str | None = None
    """Answer with this error message (like a skill refusing bad arguments)."""
    hang: bool = False
    """Never answer (until the scenario ends): only the step's deadline ends it."""


class PromptKeyed(BaseModel):
    """A scripted agent model whose answer depends on text in the prompt (parallel calls)."""

    model_config = ConfigDict(extra="forbid")

    by_prompt: dict[str, str]
    """Substring of the prompt (system + user) → answer."""


class Expect(BaseModel):
    """What a scenario's run must show."""

    model_config = ConfigDict(extra="forbid")

    status: str
    steps: dict[str, str] = Field(default_factory=dict)
    failures: list[dict[str, Any]] = Field(default_factory=list)
    """Each: ``step`` and optionally ``kind``, ``policy``, ``attempts``, ``message`` (substring)."""
    output_contains: list[str] = Field(default_factory=list)
    output_lacks: list[str] = Field(default_factory=list)
    calls: dict[str, int] = Field(default_factory=dict)
    """Exact number of calls per fake skill over the whole scenario."""
    outcome: str | None = None
    """The ``AgentRun`` outcome (``fast_path``, ``answered``, ``needs_model``, ``error``)."""
    max_seconds: float | None = None


class Scenario(BaseModel):
    """One pipeline scenario."""

    model_config = ConfigDict(extra="forbid")

    name: str
    pipeline: str
    params: dict[str, Any] = Field(default_factory=dict)
    request: str = ""
    project: str | None = None
    skills: dict[str, FakeSkill] = Field(default_factory=dict)
    models: dict[str, list[str] | PromptKeyed] = Field(default_factory=dict)
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Step id → fields to replace (e.g. ``deadline_s``)."""
    resume: bool = False
    """Run a second time on the same thread after the first run; ``expect`` is the second run's,
    ``first_status`` the first's."""
    after_first_run: dict[str, FakeSkill] = Field(default_factory=dict)
    """Skill behaviours for the second run of a ``resume`` scenario."""
    first_status: str | None = None
    expect: Expect


class _ScenarioFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenarios: list[Scenario]


class KeyedModel(ScriptedChatModel):
    """Answers with the first ``by_prompt`` entry whose key occurs in the prompt."""

    by_prompt: dict[str, str] = Field(default_factory=dict)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        self._received.append(list(messages))
        prompt = "\n".join(str(m.content) for m in messages)
        for key, answer in self.by_prompt.items():
            if key in prompt:
                return ChatResult(generations=[ChatGeneration(message=AIMessage(answer))])
        raise LookupError(
            f"KeyedModel: no answer for a prompt containing none of {list(self.by_prompt)}"
        )

    def _call(
        self, messages: LanguageModelInput, **kwargs: Any
    ) -> str:  # pragma: no cover - unused
        raise NotImplementedError


@dataclass
class FakeSkills:
    """Fake tools with the real tools' names, recording their calls."""

    behaviours: dict[str, FakeSkill]
    calls: Counter[str] = field(default_factory=Counter)
    release: threading.Event = field(default_factory=threading.Event)

    def tool(self, name: str) -> BaseTool:
        """Return the fake tool called ``name``."""

        def run(**kwargs: Any) -> tuple[str, Any]:
            self.calls[name] += 1
            behaviour = self.behaviours.get(name) or FakeSkill(
                tool_error=f"{name} is not available in this scenario"
            )
            matched = [
                r
                for r in behaviour.responses
                if all(str(kwargs.get(k)) == str(v) for k, v in r.when.items())
            ]
            if matched:
                output = matched[0].output
            elif behaviour.hang:
                self.release.wait(60)
                raise TimeoutError(f"{name} hung")
            elif behaviour.error and (
                behaviour.fail_times is None or self.calls[name] <= behaviour.fail_times
            ):
                raise ConnectionError(behaviour.error)
            elif behaviour.tool_error:
                raise ToolException(behaviour.tool_error)
            else:
                output = behaviour.output
            text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
            return text, output

        tool = StructuredTool.from_function(
            func=run,
            name=name,
            description=f"Fake {name}",
            response_format="content_and_artifact",
            args_schema={"type": "object", "properties": {}, "additionalProperties": True},
        )
        tool.handle_tool_error = True
        return tool


def load_scenarios(path: Path = DATASET) -> list[Scenario]:
    """Read and validate the scenario file."""
    return _ScenarioFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))).scenarios


def _models(scenario: Scenario) -> ScriptedModels:
    scripts: dict[str, ScriptedChatModel] = {}
    for agent, script in scenario.models.items():
        if isinstance(script, PromptKeyed):
            scripts[agent] = KeyedModel(by_prompt=script.by_prompt)
        else:
            scripts[agent] = ScriptedChatModel.from_script(script)
    return ScriptedModels(scripts)


def _project_glossary(project: str) -> Glossary:
    projects = load_projects()
    return Glossary.of(projects.get(project).glossary if project in projects else [])


def _pipelines(
    skill_names: set[str], overrides: Mapping[str, Mapping[str, dict[str, Any]]]
) -> Pipelines:
    shipped = load_pipelines(skills=skill_names, agents=set(default_catalog().names))
    if not overrides:
        return shipped
    specs = dict(shipped.pipelines)
    for name, steps in overrides.items():
        spec = specs[name]
        new_steps = tuple(
            step.model_copy(update=steps[step.id]) if step.id in steps else step
            for step in spec.steps
        )
        specs[name] = spec.model_copy(update={"steps": new_steps})
    return Pipelines(specs, shipped.sources, shipped.directory)


@dataclass(slots=True)
class ScenarioResult:
    """The verdict on one scenario."""

    name: str
    pipeline: str
    passed: bool
    problems: list[str]
    status: str | None
    seconds: float


def _check(
    scenario: Scenario,
    result: Mapping[str, Any] | None,
    agent_run: Mapping[str, Any] | None,
    calls: Counter[str],
    seconds: float,
) -> list[str]:
    expect = scenario.expect
    if result is None:
        return ["no pipeline result"]
    problems: list[str] = []
    if result["status"] != expect.status:
        problems.append(f"status {result['status']!r}, expected {expect.status!r}")
    statuses = {step["step"]: step["status"] for step in result["steps"]}
    for step, status in expect.steps.items():
        if statuses.get(step) != status:
            problems.append(f"step {step}: {statuses.get(step)!r}, expected {status!r}")
    for wanted in expect.failures:
        matches = [
            f
            for f in result["failures"]
            if f["step"] == wanted["step"]
            and all(
                str(f.get(k)) == str(v) for k, v in wanted.items() if k not in ("step", "message")
            )
            and wanted.get("message", "") in f["message"]
        ]
        if not matches:
            problems.append(
                f"no failure like {wanted} (got "
                f"{[(f['step'], f['kind'], f['attempts']) for f in result['failures']]})"
            )
    if not expect.failures and result["failures"]:
        problems.append(
            f"unexpected failures {[(f['step'], f['kind']) for f in result['failures']]}"
        )
    for text in expect.output_contains:
        if text not in result["text"]:
            problems.append(f"answer lacks {text!r}")
    for text in expect.output_lacks:
        if text in result["text"]:
            problems.append(f"answer contains {text!r}")
    for skill, count in expect.calls.items():
        if calls[skill] != count:
            problems.append(f"{skill} called {calls[skill]} times, expected {count}")
    if expect.outcome is not None and (agent_run or {}).get("outcome") != expect.outcome:
        problems.append(
            f"outcome {(agent_run or {}).get('outcome')!r}, expected {expect.outcome!r}"
        )
    if expect.max_seconds is not None and seconds > expect.max_seconds:
        problems.append(f"took {seconds:.1f} s, more than {expect.max_seconds} s")
    return problems


def run_scenario(scenario: Scenario) -> ScenarioResult:
    """Run one scenario and check it."""
    import time

    from graphs.pipeline import PipelineRunner

    fakes = FakeSkills(dict(scenario.skills))
    pipelines = _pipelines(set(_skill_names()), {scenario.pipeline: scenario.overrides})
    spec = pipelines[scenario.pipeline]
    skills = {step.skill: fakes.tool(step.skill) for step in spec.steps if step.skill}
    runner = PipelineRunner(
        model_factory=_models(scenario),
        skills=skills,
        pipelines=pipelines,
        checkpointer=InMemorySaver(),
        glossary=_project_glossary,
    )
    agent_runs: list[Any] = []

    def on_event(node: str, update: Mapping[str, Any]) -> None:
        if node == "finish":
            agent_runs.append(update.get("agent_run"))

    started = time.perf_counter()
    problems: list[str] = []
    try:
        run = runner.run(
            scenario.pipeline,
            params=scenario.params,
            request=scenario.request,
            project=scenario.project,
            on_event=on_event,
        )
        if scenario.resume:
            first = run.result["status"] if run.result else None
            if scenario.first_status is not None and first != scenario.first_status:
                problems.append(f"first run: status {first!r}, expected {scenario.first_status!r}")
            fakes.behaviours.update(scenario.after_first_run)
            run = runner.run(
                scenario.pipeline,
                thread_id=run.thread_id,
                params=scenario.params,
                request=scenario.request,
                project=scenario.project,
                on_event=on_event,
            )
    finally:
        fakes.release.set()
    seconds = time.perf_counter() - started
    problems += _check(
        scenario, run.result, agent_runs[-1] if agent_runs else None, fakes.calls, seconds
    )
    return ScenarioResult(
        name=scenario.name,
        pipeline=scenario.pipeline,
        passed=not problems,
        problems=problems,
        status=run.result["status"] if run.result else None,
        seconds=round(seconds, 2),
    )


def _skill_names() -> list[str]:
    names: set[str] = set()
    for path in sorted(
        (Path(__file__).resolve().parents[1] / "nova" / "catalog" / "pipelines").glob("*.yaml")
    ):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        names.update(step["skill"] for step in raw.get("steps", []) if "skill" in step)
    return sorted(names)


@dataclass(slots=True)
class PipelineReport:
    """Verdicts over all scenarios."""

    results: list[ScenarioResult] = field(default_factory=list)
    dataset: Path = DATASET

    @property
    def ok(self) -> bool:
        """Whether every scenario passed."""
        return all(r.passed for r in self.results)

    def by_split(self) -> dict[str, dict[str, Any]]:
        """Return scenarios and pass rate for each frozen split (dev, test)."""
        figures: dict[str, dict[str, Any]] = {}
        for split in ("dev", "test"):
            chosen = [r for r in self.results if split_of(r.name) == split]
            figures[split] = {
                "scenarios": len(chosen),
                "passed": sum(r.passed for r in chosen),
                "pass rate": sum(r.passed for r in chosen) / len(chosen) if chosen else None,
            }
        return figures

    def as_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data, headed by the dataset hash and code version."""
        return {
            **provenance([self.dataset]),
            "scenarios": len(self.results),
            "passed": sum(r.passed for r in self.results),
            "by_split": self.by_split(),
            "results": [
                {
                    "name": r.name,
                    "pipeline": r.pipeline,
                    "split": split_of(r.name),
                    "passed": r.passed,
                    "status": r.status,
                    "seconds": r.seconds,
                    "problems": r.problems,
                }
                for r in self.results
            ],
        }


def run_pipeline_eval(
    path: Path = DATASET, select: Callable[[Scenario], bool] | None = None
) -> PipelineReport:
    """Run every scenario (or those ``select`` keeps)."""
    report = PipelineReport(dataset=path)
    for scenario in load_scenarios(path):
        if select is None or select(scenario):
            report.results.append(run_scenario(scenario))
    return report


def print_report(report: PipelineReport, console: Console) -> None:
    """Print one row per scenario, then the problems of failed ones."""
    table = Table(
        title=f"Pipeline scenarios · {sum(r.passed for r in report.results)}/"
        f"{len(report.results)} passed"
    )
    for column in ("scenario", "pipeline", "status", "seconds", "verdict"):
        table.add_column(column, overflow="fold")
    for r in report.results:
        table.add_row(
            r.name,
            r.pipeline,
            r.status or "—",
            f"{r.seconds:.2f}",
            "[green]pass[/]" if r.passed else "[red]FAIL[/]",
        )
    console.print(table)
    console.print(side_by_side("Pass rate by frozen split", report.by_split()))
    for r in report.results:
        for problem in r.problems:
            console.print(f"[red]{r.name}[/]: {problem}")
