"""A run's steps, read from its checkpoints (subgraphs included), in the order they ran.

Each step carries the state it started from, what it wrote, the state keys it reads and
the agent that owns it: what replay forks from and what attribution follows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.pregel import Pregel
from langgraph.types import StateSnapshot

Graph = Pregel[Any, Any, Any, Any]
"""A compiled graph (any state, context, input and output types)."""

ALL_KEYS: frozenset[str] = frozenset({"*"})
"""Marks a step that may read any state key."""

NODE_READS: dict[str, frozenset[str]] = {
    "intake": frozenset({"messages"}),
    "recall": frozenset({"request", "project"}),
    "route": frozenset({"request", "project", "messages"}),
    "enter": frozenset({"route"}),
    "fast_path": frozenset({"request", "route", "project", "messages"}),
    "agent": frozenset({"messages", "route", "memories", "summary", "project", "agent_steps"}),
    "tools": frozenset({"messages", "route", "project"}),
    "check": frozenset({"messages", "route", "request", "project", "agent_run", "checks"}),
    "respond": frozenset({"messages", "route", "memories"}),
    "prepare": frozenset({"request", "route", "project"}),
    "translate_chunk": frozenset({"translation_task"}),
    "assemble": frozenset({"translation_task", "translated_chunks", "route"}),
}
"""State keys each of Nova's nodes reads; a node not listed may read any key."""

STEP_OWNERS: dict[str, str] = {"route": "router", "recall": "memory"}
"""Owner of a root-graph step by node name; other root steps belong to ``supervisor``,
steps inside a subgraph to the agent their node's metadata names (``OWNER_METADATA``),
else to the routed agent."""

OWNER_METADATA = "nova_agent"
"""Node metadata key naming the agent a subgraph node belongs to."""


@dataclass(frozen=True, slots=True, eq=False)
class Level:
    """A graph in the run: the root, or a subgraph run as one node of its parent."""

    graph: Graph
    node: str | None = None
    """Name of the subgraph's node in the parent (``None`` for the root)."""
    before: StateSnapshot | None = None
    """Parent's checkpoint before the subgraph node ran."""
    superstep: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    """Writes of the parent's other tasks in the same superstep (node, writes)."""
    slot: int = 0
    """Position of the subgraph's task among the parent's tasks of that superstep."""
    parent: Level | None = None

    @property
    def path(self) -> tuple[str, ...]:
        """Subgraph node names from the root down to this graph."""
        names: list[str] = []
        level: Level | None = self
        while level is not None and level.node is not None:
            names.append(level.node)
            level = level.parent
        return tuple(reversed(names))


@dataclass(frozen=True, slots=True, eq=False)
class Step:
    """One node execution of a run (subgraph nodes are expanded into their own steps)."""

    index: int
    node: str
    occurrence: int
    """How many times this node at this path had run in the run, this one included."""
    level: Level
    before: StateSnapshot
    writes: Mapping[str, Any]
    superstep: tuple[tuple[str, Mapping[str, Any]], ...]
    """Writes of the other tasks that ran in the same superstep (node, writes)."""
    task_id: str
    reads: frozenset[str]
    agent: str
    error: str | None = None
    slot: int = 0
    """Position of the step's task among the tasks of its superstep (siblings keep theirs)."""
    turn: int = 1
    """Which run of the thread the step belongs to (1 = the first loaded run)."""

    @property
    def path(self) -> tuple[str, ...]:
        """Graph path of the step's graph (``("erp",)`` for a step of the erp subgraph)."""
        return self.level.path

    @property
    def key(self) -> str:
        """Stable name of the step within a run, e.g. ``erp/agent#2``."""
        return "/".join((*self.path, self.node)) + f"#{self.occurrence}"

    def ref(self) -> StepRef:
        """Return a JSON-friendly reference to this step."""
        return StepRef(
            index=self.index,
            key=self.key,
            node=self.node,
            path="/".join(self.path),
            agent=self.agent,
            task_id=self.task_id,
            turn=self.turn,
        )


@dataclass(frozen=True, slots=True)
class StepRef:
    """A step named in a blame result."""

    index: int
    key: str
    node: str
    path: str
    agent: str
    task_id: str
    turn: int = 1


@dataclass(frozen=True, slots=True)
class RunSteps:
    """The steps of one run, the graph they ran in, and its final state."""

    graph: Graph
    thread_id: str
    steps: tuple[Step, ...]
    final: Mapping[str, Any]
    error: str | None = None
    inputs: tuple[Mapping[str, Any], ...] = ()
    """Each loaded run's input, in order (one per turn when a whole thread is loaded)."""

    @property
    def turns(self) -> int:
        """How many runs of the thread were loaded."""
        return max(1, len(self.inputs))

    def by_key(self) -> dict[str, Step]:
        """Return the steps by ``Step.key``."""
        return {step.key: step for step in self.steps}


def _reads(
    node: str, before: Mapping[str, Any], reads: Mapping[str, frozenset[str]]
) -> frozenset[str]:
    declared = reads.get(node)
    return declared if declared is not None else frozenset(before) | ALL_KEYS


def _owner(level: Level, node: str, before: Mapping[str, Any]) -> str:
    if level.node is None:
        return STEP_OWNERS.get(node, "supervisor")
    # A node may name its agent in its metadata (a pipeline step run by one of the catalog's
    # agents); otherwise a subgraph's steps are the routed agent's.
    spec = level.graph.nodes.get(node)
    named = (getattr(spec, "metadata", None) or {}).get(OWNER_METADATA)
    if named:
        return str(named)
    route = before.get("route")
    agent = route.get("agent") if isinstance(route, Mapping) else None
    return str(agent) if agent else level.path[0]


def _segments(history: Sequence[StateSnapshot]) -> list[list[StateSnapshot]]:
    runs: list[list[StateSnapshot]] = []
    for snapshot in history:
        if (snapshot.metadata and snapshot.metadata.get("source") == "input") or not runs:
            runs.append([])
        runs[-1].append(snapshot)
    return runs


def _slot(plain: Sequence[tuple[str, str, Any]], task_id: str) -> int:
    # Tasks that ran before this one in the superstep's order (a subgraph task is not listed).
    ids = [i for i, _, _ in plain]
    return ids.index(task_id) if task_id in ids else len(ids)


def _subgraph(graph: Graph, node: str) -> Graph | None:
    for name, subgraph in graph.get_subgraphs():
        if name == node and isinstance(subgraph, Pregel):
            return subgraph
    return None


def load_run(
    graph: Graph,
    thread_id: str,
    *,
    after: str | None = None,
    reads: Mapping[str, frozenset[str]] | None = None,
    thread: bool = False,
) -> RunSteps:
    """Return the steps of a run from its checkpoints.

    Args:
        graph: The compiled graph the run used, with its checkpointer.
        thread_id: The run's thread.
        after: Pick the first run of the thread that started at or after this ISO time
            (a trace's start); default: the thread's latest run.
        reads: State keys each node reads (``NODE_READS`` by default).
        thread: Load every run of the thread up to the picked one, as turns of one run,
            so a fault made in an earlier turn can be named in that turn.

    Raises:
        LookupError: the thread has no checkpoints (it ran without a checkpointer).

    """
    reads = {**NODE_READS, **(reads or {})}
    config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
    history = list(graph.get_state_history(config))[::-1]
    if not history:
        raise LookupError(
            f"Thread {thread_id!r} has no checkpoints: blame needs a run made with a "
            "checkpointer (nova ask/chat and the server keep them)"
        )
    runs = _segments(history)
    picked = len(runs) - 1
    if after is not None:
        later = [
            i for i, run in enumerate(runs) if run[0].created_at and run[0].created_at >= after
        ]
        picked = later[0] if later else picked
    turns = runs[: picked + 1] if thread else [runs[picked]]
    steps: list[Step] = []
    counts: dict[str, int] = {}
    error: list[str] = []

    def walk(level: Level, snapshots: Sequence[StateSnapshot], turn: int) -> None:
        for snapshot in snapshots:
            ran = [t for t in snapshot.tasks if t.name != "__start__"]
            plain = [(t.id, t.name, dict(t.result or {})) for t in ran if not t.state]
            for task in ran:
                if task.error is not None:
                    error.append(f"{task.name}: {task.error!r}")
                if task.state:
                    sub = _subgraph(level.graph, task.name)
                    task_config = task.state if isinstance(task.state, dict) else task.state.config
                    namespace = task_config.get("configurable", {}).get("checkpoint_ns", "")
                    if sub is not None:
                        sub_config: RunnableConfig = {
                            "configurable": {"thread_id": thread_id, "checkpoint_ns": namespace}
                        }
                        sub_history = list(graph.get_state_history(sub_config))[::-1]
                        child = Level(
                            graph=sub,
                            node=task.name,
                            before=snapshot,
                            superstep=tuple((n, w) for _, n, w in plain),
                            slot=_slot(plain, task.id),
                            parent=level,
                        )
                        walk(child, sub_history, turn)
                        continue
                if task.result is None and task.error is None:
                    continue  # not run yet (the run stopped at an interrupt or an error elsewhere)
                values = snapshot.values if isinstance(snapshot.values, Mapping) else {}
                name = "/".join((*level.path, task.name))
                counts[name] = counts.get(name, 0) + 1
                steps.append(
                    Step(
                        index=len(steps),
                        node=task.name,
                        occurrence=counts[name],
                        level=level,
                        before=snapshot,
                        writes=dict(task.result or {}),
                        superstep=tuple((n, w) for i, n, w in plain if i != task.id),
                        task_id=task.id,
                        reads=_reads(task.name, values, reads),
                        agent=_owner(level, task.name, values),
                        error=repr(task.error) if task.error is not None else None,
                        slot=_slot(plain, task.id),
                        turn=turn,
                    )
                )

    root = Level(graph=graph)
    inputs: list[Mapping[str, Any]] = []
    for number, snapshots in enumerate(turns, start=1):
        walk(root, snapshots, number)
        if number < len(turns):
            error.clear()  # an earlier turn's crash was that turn's; the thread went on
        inputs.append(_turn_input(snapshots))
    last = turns[-1][-1]
    final = last.values if isinstance(last.values, Mapping) else {}
    return RunSteps(
        graph=graph,
        thread_id=thread_id,
        steps=tuple(steps),
        final=dict(final),
        error="; ".join(error) or None,
        inputs=tuple(inputs),
    )


def _turn_input(snapshots: Sequence[StateSnapshot]) -> Mapping[str, Any]:
    for snapshot in snapshots[:1]:
        for task in snapshot.tasks:
            if task.name == "__start__" and isinstance(task.result, Mapping):
                return dict(task.result)
    return {}
