"""Attribution scenarios: validated from ``evals/datasets/blame_scenarios.yaml``.

Each scenario is one request with one injected fault at a known step (its ``step`` key,
e.g. ``erp/agent#1``), an optional harmless difference (a decoy) that attribution must
not blame, and the facts a correct answer contains. ``Scenario.envs()`` gives the clean
environment (the reference run) and the faulty one.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Protocol, Self, TypeVar

import yaml
from langchain_core.messages import AIMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evals.blame import world
from evals.blame.chain import Env
from evals.blame.policies import AgentFault, Preamble
from nova.testing import tool_call

DATASET = Path(__file__).resolve().parent.parent / "datasets" / "blame_scenarios.yaml"

Family = Literal[
    "router", "recall", "erp_args", "erp_tool", "erp_answer", "translation", "pipeline"
]


class Fault(BaseModel):
    """The injected fault: where it is and what it does."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: str = Field(pattern=r"^[a-z_/]+#\d+$")
    """The faulty step's key in the run (``route#1``, ``erp/tools#2``…)."""
    kind: Literal["misroute", "memory", "tool_args", "tool_output", "answer_text"]
    to: str | None = None
    """misroute: the agent the route wrongly picks."""
    memories: list[dict[str, Any]] | None = None
    """memory: what recall returns instead of the project's memories."""
    agent: str | None = None
    """tool_args / answer_text: the agent whose turn is corrupted."""
    turn: int = 0
    """tool_args / answer_text: which of its model turns (0 = first)."""
    tool: str | None = None
    """tool_args: the tool it calls instead; tool_output: the tool whose answer is corrupted."""
    args: dict[str, Any] | None = None
    """tool_args: the arguments it calls with; tool_output: the call that is corrupted."""
    set: dict[str, Any] | None = None
    """tool_output: fields overwritten in the tool's answer."""
    replace: tuple[str, str] | None = None
    """answer_text: (old, new) replaced in the answer."""


class Scenario(BaseModel):
    """One request with one known faulty step."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9-]+$")
    family: Family
    request: str
    project: str = "parts-shop"
    agent: str
    """The agent a correct route picks."""
    fault: Fault
    decoy: Literal["memory", "route_confidence", "preamble"] | None = None
    """A harmless difference in the faulty run that must not be blamed."""
    expect: list[str] = Field(min_length=1)
    """Text a correct final answer contains."""
    note: str = ""

    @cached_property
    def _envs(self) -> tuple[Env, Env]:
        clean = Env(agent=self.agent)
        agent = self.agent
        memories = None
        agent_faults: list[AgentFault] = []
        tool_faults: list[world.ToolFault] = []
        fault = self.fault
        match fault.kind:
            case "misroute":
                agent = fault.to or agent
            case "memory":
                memories = tuple(fault.memories or ())
            case "tool_args":
                tool, args = fault.tool, dict(fault.args or {})
                agent_faults.append(
                    AgentFault(fault.agent or agent, fault.turn, lambda _m: _call(tool, args))
                )
            case "tool_output":
                overwrite = dict(fault.set or {})
                tool_faults.append(
                    world.ToolFault(
                        fault.tool or "",
                        lambda payload: {**payload, **overwrite},
                        dict(fault.args or {}),
                    )
                )
            case "answer_text":
                old, new = fault.replace or ("", "")
                agent_faults.append(
                    AgentFault(fault.agent or agent, fault.turn, lambda m: _replaced(m, old, new))
                )
        confidence, decoys = 0.93, []
        if self.decoy == "memory":
            base = memories if memories is not None else world.MEMORIES.get(self.project, ())
            memories = (*base, world.DECOY_MEMORY)
        elif self.decoy == "route_confidence":
            confidence = 0.81
        elif self.decoy == "preamble":
            decoys.append(Preamble(self.agent))
        faulty = Env(
            agent=agent,
            confidence=confidence,
            memories=memories,
            agent_faults=agent_faults,
            tool_faults=tool_faults,
            decoys=decoys,
        )
        return clean, faulty

    def envs(self) -> tuple[Env, Env]:
        """Return the clean (reference) and the faulty environment."""
        return self._envs

    def evaluate(self, values: Mapping[str, Any]) -> tuple[bool, str]:
        """Return whether a final state's answer holds every expected fact."""
        answer = str(values.get("answer") or "")
        missing = [fact for fact in self.expect if fact not in answer]
        return not missing, f"missing {missing}" if missing else "all expected facts present"


def _call(tool: str | None, args: Mapping[str, Any]) -> AIMessage:
    return AIMessage(content="", tool_calls=[tool_call(tool or "?", **args)])


def _replaced(message: AIMessage, old: str, new: str) -> AIMessage:
    content = str(message.content)
    return AIMessage(content=content.replace(old, new), tool_calls=message.tool_calls)


def load_scenarios(path: Path | str = DATASET) -> list[Scenario]:
    """Load and validate the scenarios, reporting every invalid entry with its id.

    Raises:
        ValueError: an entry is invalid or two entries share an id.

    """
    return load_validated(path, Scenario)


class _Loadable(Protocol):
    id: str

    @classmethod
    def model_validate(cls, obj: Any) -> Self: ...


ScenarioT = TypeVar("ScenarioT", bound=_Loadable)


def load_validated(path: Path | str, model: type[ScenarioT]) -> list[ScenarioT]:
    """Load a YAML list of scenarios of ``model``, reporting every invalid entry with its id.

    Shared by the chain suite and the served-graph suite (``evals/blame_served``).

    Raises:
        ValueError: an entry is invalid or two entries share an id.

    """
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a list of scenarios")
    scenarios: list[ScenarioT] = []
    problems: list[str] = []
    seen: set[str] = set()
    for position, item in enumerate(raw):
        label = item.get("id", f"#{position}") if isinstance(item, dict) else f"#{position}"
        try:
            scenario = model.model_validate(item)
        except ValidationError as error:
            problems.extend(f"{label}: {e['loc']}: {e['msg']}" for e in error.errors())
            continue
        if scenario.id in seen:
            problems.append(f"{label}: id used twice")
        seen.add(scenario.id)
        scenarios.append(scenario)
    if problems:
        raise ValueError(
            f"{path}: {len(problems)} invalid scenario(s):\n  " + "\n  ".join(problems)
        )
    return scenarios
