"""What the inbox holds: items waiting for the owner, each with the command that acts on it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from nova.settings import NovaSettings

ItemKind = Literal["approval", "failure", "pipeline", "question", "proposal"]
"""What waits: a paused write, an open failure, a stalled pipeline run, an unanswered
clarifying question, an improvement proposal."""

Action = Literal["approve", "reject", "retry", "dismiss", "resume", "answer", "accept"]
"""What the owner can do to an item (each item lists the ones that apply)."""

VALUE_PLACEHOLDERS: frozenset[str] = frozenset({"<reason>", "<agent>"})
"""Arguments of an action that stand for the value the owner gives (a reason, a choice)."""

Origin = Literal["local", "server"]
"""Where the item's thread lives: the local checkpointer, or the Nova server's threads."""


class InboxItem(BaseModel):
    """One thing waiting for the owner."""

    model_config = ConfigDict(frozen=True)

    id: str
    """Stable id ``<kind>:<key>`` (a thread id, failure id, decision id…)."""
    kind: ItemKind
    created_at: datetime
    """When it started waiting (UTC); the inbox is sorted newest first on it."""
    title: str
    """One line saying what waits."""
    detail: dict[str, JsonValue] = Field(default_factory=dict)
    """Everything needed to decide: the exact change, the error, the question and its choices."""
    actions: dict[Action, list[str]]
    """Each action's ``nova`` arguments (argv after ``nova``); the first is the main one.
    An argument that is a placeholder (``VALUE_PLACEHOLDERS``: ``<reason>``, ``<agent>``)
    is where the action's value goes."""
    thread_id: str | None = None
    origin: Origin = "local"
    choices: list[str] = Field(default_factory=list)
    """The values ``answer`` accepts (the agents a clarifying question offered)."""

    @property
    def command(self) -> str:
        """The one command that acts on the item (its first action), ready to paste."""
        first = next(iter(self.actions.values()))
        return shlex.join(["nova", *first])


class SourceReport(BaseModel):
    """How one source answered: how many items it has, or the one-line error it met."""

    name: str
    total: int = 0
    shown: int = 0
    error: str | None = None
    elapsed_ms: float = 0.0


class Inbox(BaseModel):
    """Everything waiting, newest first, with a report per source."""

    items: list[InboxItem]
    sources: list[SourceReport]
    user: str | None = None
    """The caller the inbox is scoped to (``None``: the owner, everything)."""


@dataclass(frozen=True, slots=True)
class InboxScope:
    """Whose inbox, read from where.

    ``thread_ids`` narrows every thread-bound item to those threads (a server caller's own);
    ``None`` means the owner at the machine, who sees everything.
    """

    settings: NovaSettings
    user: str | None = None
    thread_ids: frozenset[str] | None = None
    limit: int = 100
    """At most this many items per source (each source still counts all it has)."""
    include_local_threads: bool = True
    """Read approvals and pipeline runs from the local checkpointer."""
    now: datetime | None = None
    """The time deadlines are judged at (``None``: now)."""
