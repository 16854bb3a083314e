"""Served-graph attribution scenarios, validated from ``evals/datasets/blame_served.yaml``.

A scenario is a conversation (one or more turns) run on the real ``nova`` graph. Each turn
scripts, per agent, what that agent's model does (tool calls, then an answer rendered from
the tool results, the recalled memories or the text it was given); faults change one step
of that script, the router, recall or a tool's output. The ground truth is the faulty step
(turn, step key, agent) and the owner's correction ("the amount is 747.94", "this was for
erp_payments"). Expected facts come from the seeded ERP database and the project's seed
memories, not from the code under test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from evals.blame.scenarios import load_validated

DATASET = Path(__file__).resolve().parent.parent / "datasets" / "blame_served.yaml"

SubgraphName = Literal["chat", "erp", "translation", "pipeline"]
FaultKind = Literal["misroute", "recall", "tool_args", "tool_output", "model_text"]


class ToolCallSpec(BaseModel):
    """One scripted tool call (arguments may use the templates of ``AgentScript.answer``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)


class AgentScript(BaseModel):
    """What one agent's model does in one turn: its tool calls in order, then its answer.

    Templates: ``{r0}`` the first line of tool result 0, ``{r0.field}`` a field of that
    result's first JSON row, ``{mem:word}`` the first recalled memory containing ``word``,
    ``{prev:regex}`` the first match in the previous answer of the thread, ``{input}`` the
    last message the model was given, ``{input_after:MARK}`` that message after ``MARK``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    calls: list[list[ToolCallSpec]] = Field(default_factory=list)
    """Model turns that call tools (each a list of parallel calls), before the answer."""
    answer: str = "{input}"
    replace: list[tuple[str, str]] = Field(default_factory=list)
    """Replacements applied to the rendered answer (a translator's phrasebook)."""


class Turn(BaseModel):
    """One user message and the scripts of the agents that may answer it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request: str
    agent: str
    """The agent a correct route picks (documentation; the real router decides)."""
    script: dict[str, AgentScript] = Field(default_factory=dict)
    """Scripts by agent name; ``*`` scripts whichever agent the real router picks."""


class Fault(BaseModel):
    """One injected fault."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind
    turn: int = Field(default=1, ge=1)
    agent: str | None = None
    """tool_args / model_text: whose model turn is corrupted (``*``: the routed agent)."""
    at: int | Literal["last"] = "last"
    """tool_args / model_text: which of the agent's model turns (0 = first)."""
    to: str | None = None
    """misroute: the agent the router wrongly picks."""
    args: dict[str, Any] | None = None
    """tool_args: arguments that replace the scripted call's."""
    tool: str | None = None
    """tool_output: the tool whose result is corrupted."""
    replace: tuple[str, str] | None = None
    """tool_output / model_text: (old, new) in the text; recall: (old memory text, new)."""
    resample: Literal["fixed", "repeat"] = "fixed"
    """What a re-sample of the faulty model turn does: get it right, or repeat the fault."""


class Truth(BaseModel):
    """The step a correct attribution names (the earliest fault)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    turn: int = Field(default=1, ge=1)
    step: str = Field(pattern=r"^(\*/)?[a-z_/]+#\d+$")
    """The step's key; ``*/agent#1`` is that step in whichever subgraph the run took."""
    agent: str | None = None
    """The faulty step's agent; ``None``: whichever agent owns that step in the run (the
    routed agent for a subgraph step)."""


class Feedback(BaseModel):
    """The owner's word on the last turn: what was wrong, as they would say it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    facts: list[str] = Field(default_factory=list)
    """Text a right answer contains."""
    route: str | None = None
    """The agent that should have answered ("this was for erp_payments")."""


class Scenario(BaseModel):
    """A conversation on the served graph, faulty or fault-free, with its ground truth."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9-]+$")
    subgraph: SubgraphName
    label: str
    """Fault family for the report (``neighbour_invoice``, ``trap_memory_number``…)."""
    project: str = "parts-shop"
    turns: list[Turn] = Field(min_length=1)
    faults: list[Fault] = Field(default_factory=list)
    truth: Truth | None = None
    feedback: Feedback | None = None
    natural: bool = False
    """The fault is the served code's own (e.g. a real misroute), so there is no clean run;
    its fault entry documents it and injects nothing."""
    note: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if bool(self.faults) != (self.truth is not None):
            raise ValueError("a faulty scenario states its truth; a fault-free one none")
        if self.faults and (
            self.feedback is None or not (self.feedback.facts or self.feedback.route)
        ):
            raise ValueError("a faulty scenario states the owner's correction (facts or route)")
        if any(f.turn > len(self.turns) for f in self.faults):
            raise ValueError("a fault names a turn the scenario does not have")
        return self

    @property
    def faulty(self) -> bool:
        """Whether the scenario injects a fault."""
        return bool(self.faults)

    @property
    def text(self) -> str:
        """The requests of the conversation, for the near-duplicate check."""
        return " ".join(turn.request for turn in self.turns)


def load_scenarios(path: Path | str = DATASET) -> list[Scenario]:
    """Load and validate the scenarios, reporting every invalid entry with its id.

    Raises:
        ValueError: an entry is invalid or two entries share an id.

    """
    return load_validated(path, Scenario)
