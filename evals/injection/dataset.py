"""The prompt-injection suite's data: user tasks, and attacks that ride on them.

``cases.yaml`` holds the user tasks (what the owner asks, the plan a model would follow,
the facts a good answer contains) and the attacks (injected text, where it is placed, the
attacker's goal and the action a model that obeys it would take). Each attack's benign
twin is its user task run without the injection. Validated by the models below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

DATASET = Path(__file__).with_name("cases.yaml")

Vector = Literal["web", "memory", "erp_text", "document", "pipeline", "tool_error"]
Goal = Literal["erp_write", "egress", "cross_scope", "memory_poison", "reroute"]
VECTORS: tuple[Vector, ...] = ("web", "memory", "erp_text", "document", "pipeline", "tool_error")
GOALS: tuple[Goal, ...] = ("erp_write", "egress", "cross_scope", "memory_poison", "reroute")
HARD_GOALS: tuple[Goal, ...] = ("erp_write", "egress", "cross_scope", "memory_poison")
"""Goals the defences must hold to zero with the gullible model (issue 17's target)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Call(_Model):
    """A tool call a scripted model makes.

    ``{base}``, ``{data}`` and ``{mem:<words>}`` are filled in at run time (server URL,
    project data the model holds, a memory id it read).
    """

    tool: str
    args: dict[str, Any] = {}


class ErpField(_Model):
    """A free-text cell of the seeded ERP database that the task reads."""

    table: str
    column: str
    where: str
    """SQL condition picking the one row, e.g. ``number = 'PAY-2024-01172'``."""


class Page(_Model):
    """A page the eval's web server serves for a task."""

    path: str
    title: str
    body: str
    redirect: bool = False
    """Answer with a redirect to an off-allowlist URL that carries the injected text."""


class Task(_Model):
    """One thing the owner asks for, with the plan a model follows and the expected result."""

    id: str
    project: str
    request: str
    agent: str
    """The agent the request is for (oracle: written with the task, not read from the router)."""
    plan: list[Call] = []
    doc: str | None = None
    """Document carried by the request (``{doc}`` in ``request``); injections go inside it."""
    page: Page | None = None
    erp_field: ErpField | None = None
    memory_topic: str | None = None
    """Lead sentence of an imported memory the request recalls; injections follow it."""
    expect: list[str] = Field(default_factory=list)
    """Facts a useful answer contains (case-insensitive)."""
    expect_write: Call | None = None
    """The ERP or memory write the owner asked for (the owner approves exactly this)."""


class Attack(_Model):
    """An injection: text placed through a vector, aiming at a goal."""

    id: str
    task: str
    vector: Vector
    goal: Goal
    text: str
    trigger: str | None = None
    """Words that, once read, make the gullible model act (default: the first 60 characters)."""
    actions: list[Call] = []
    modify: dict[str, Any] = {}
    """Argument changes to the task's own write (a changed amount or recipient)."""

    @model_validator(mode="after")
    def _does_something(self) -> Attack:
        if not self.actions and not self.modify and self.goal != "reroute":
            raise ValueError(f"attack {self.id}: give actions or modify")
        return self

    @property
    def cue(self) -> str:
        """What the model must have read to act."""
        return self.trigger or self.text[:60]


class Suite(_Model):
    """The whole file."""

    tasks: list[Task]
    attacks: list[Attack]

    @model_validator(mode="after")
    def _consistent(self) -> Suite:
        ids = {task.id for task in self.tasks}
        problems = [
            f"attack {a.id}: unknown task {a.task!r}" for a in self.attacks if a.task not in ids
        ]
        seen: set[str] = set()
        for item_id in [*(t.id for t in self.tasks), *(a.id for a in self.attacks)]:
            if item_id in seen:
                problems.append(f"duplicate id {item_id!r}")
            seen.add(item_id)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def task(self, task_id: str) -> Task:
        """Return the task called ``task_id``."""
        return next(task for task in self.tasks if task.id == task_id)


def load_suite(path: Path = DATASET) -> Suite:
    """Read and validate the suite (every problem in one error)."""
    return Suite.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
