"""Attribution: name the earliest step whose output was wrong, and the steps that consumed it.

A run's steps come from its checkpoints (``get_state_history``), subgraphs included, in
the order they ran; each step has the state it started from and what it wrote. Blame
then asks a counterfactual question of candidate steps: *if this step's output had been
right, would the run have passed?* To answer it, the run is forked from the checkpoint
before the step, the step's output is replaced with a correction (``update_state(...,
as_node=step)``), and the rest of the graph runs again (``invoke(None, ...)``); for a
step inside a subgraph the subgraph finishes first and its output is applied to the
parent graph, up to the root. Corrections come from a reference run (the same request
run without the fault), a check that knows the right value (``route_fits_entities``
knows which agents fit), or a re-sample of the step. Forks run on a fresh in-memory
thread, so the user's thread is never changed, and failures they meet are not recorded.

The earliest step whose correction makes the final state pass the evaluator is found by
bisection over the candidate steps (verified at the boundary; a linear scan takes over if
the outcomes are not monotone). A run with two faults passes under no single correction;
then the earliest step whose correction fixes some of the evaluator's failures
(``Verdict.failures``) and adds none is the first bad assumption (``first_fault``).
Lineage then follows the state keys each step read and wrote: a later step that read a
key written by the blamed step, or by one of its consumers, consumed the wrong output.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.channels.base import BaseChannel
from langgraph.channels.last_value import LastValue
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.pregel import Pregel
from langgraph.types import StateSnapshot, StateUpdate

from nova.tracing.failures import ledger_muted
from nova.tracing.serialize import to_jsonable

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

_VOLATILE_KEYS = frozenset(
    {"id", "tool_call_id", "latency_ms", "created_at", "run_id", "started_at", "ts", "route_id"}
)


# --- steps -----------------------------------------------------------------------------------


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


# --- replay ----------------------------------------------------------------------------------


def _merge(graph: Graph, values: Mapping[str, Any], *writes: Mapping[str, Any]) -> dict[str, Any]:
    merged = {key: value for key, value in values.items() if key in graph.channels}
    for update in writes:
        for key, value in update.items():
            channel = graph.channels.get(key)
            if not isinstance(channel, BaseChannel):
                continue
            current = channel.from_checkpoint(merged[key]) if key in merged else channel.copy()
            current.update([value])
            merged[key] = current.get() if current.is_available() else None
    return merged


def _fresh(graph: Graph) -> Graph:
    config = {k: v for k, v in (graph.config or {}).items() if k != "callbacks"}
    return graph.copy(update={"checkpointer": InMemorySaver(), "config": config})


def _superstep_updates(
    graph: Graph,
    values: Mapping[str, Any],
    node: str,
    writes: Mapping[str, Any],
    siblings: Sequence[tuple[str, Mapping[str, Any]]],
    slot: int = 0,
) -> list[StateUpdate]:
    """Return one superstep that replays ``node`` (corrected) and its siblings, each as itself.

    Each task of the superstep is applied as its own node, so a join that waits for all of
    them (a diamond's barrier, a ``Send`` fan-out's collector) fires as it did in the run.
    The state before the superstep travels with ``node``'s update; a key a sibling writes
    to a plain (last-value) channel is left to that sibling, since one superstep cannot
    write such a channel twice.
    """
    single = {
        key
        for _, update in siblings
        for key in update
        if isinstance(graph.channels.get(key), LastValue)
    }
    base = {k: v for k, v in _merge(graph, values).items() if k not in single}
    own = _merge(graph, base, writes)
    updates = [StateUpdate(dict(update), name) for name, update in siblings]
    updates.insert(min(slot, len(updates)), StateUpdate(own, node))
    return updates


def _seed(forked: Graph, source: Any, before: StateSnapshot | None) -> RunnableConfig | None:
    """Copy the checkpoint ``before`` (every channel: state, joins' barriers) into ``forked``.

    A join that waits for several upstream steps (``add_edge([a, b], c)``) keeps which of
    them already ran in a barrier channel that is not part of the state; a fork seeded with
    the state alone would wait for steps that ran before the corrected one forever.
    """
    if source is None or before is None or not hasattr(source, "get_tuple"):
        return None
    try:
        found = source.get_tuple(before.config)
    except Exception:
        return None
    if found is None or forked.checkpointer is None:
        return None
    checkpoint = {
        **found.checkpoint,
        "channel_values": dict(found.checkpoint.get("channel_values") or {}),
        "channel_versions": dict(found.checkpoint.get("channel_versions") or {}),
        "versions_seen": {
            k: dict(v) for k, v in (found.checkpoint.get("versions_seen") or {}).items()
        },
    }
    config: RunnableConfig = {
        "configurable": {"thread_id": f"blame-{uuid.uuid4().hex}", "checkpoint_ns": ""}
    }
    metadata = {"source": "fork", "step": (found.metadata or {}).get("step", -1), "parents": {}}
    saver = forked.checkpointer
    assert not isinstance(saver, bool)
    return saver.put(config, checkpoint, metadata, checkpoint["channel_versions"])  # type: ignore[arg-type]


def _continue(
    graph: Graph,
    values: Mapping[str, Any],
    as_node: str,
    context: Any,
    writes: Mapping[str, Any] | None = None,
    siblings: Sequence[tuple[str, Mapping[str, Any]]] = (),
    slot: int = 0,
    later: Sequence[Mapping[str, Any]] = (),
    *,
    source: Any = None,
    before: StateSnapshot | None = None,
) -> dict[str, Any]:
    forked = _fresh(graph)
    seeded = _seed(forked, source, before)
    if seeded is not None:
        # The checkpoint already holds the state: the superstep is the tasks' own writes.
        config: RunnableConfig = {
            "configurable": {"thread_id": seeded["configurable"]["thread_id"]}
        }
        updates = [StateUpdate(dict(update), name) for name, update in siblings]
        updates.insert(min(slot, len(updates)), StateUpdate(dict(writes or {}), as_node))
        start = forked.bulk_update_state(seeded, [updates])
    else:
        config = {"configurable": {"thread_id": f"blame-{uuid.uuid4().hex}"}}
        updates = _superstep_updates(graph, values, as_node, writes or {}, siblings, slot)
        start = forked.bulk_update_state(config, [updates])
    forked.invoke(None, start, context=context)
    for turn_input in later:  # the thread's later turns, asked again on the corrected thread
        forked.invoke(dict(turn_input), config, context=context)
    state = forked.get_state(config)
    return dict(state.values) if isinstance(state.values, Mapping) else {}


def replay(
    step: Step,
    writes: Mapping[str, Any],
    *,
    context: Any = None,
    later: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Return the final root state of the run with ``step``'s output replaced by ``writes``.

    The step and the tasks that ran beside it in the same superstep (parallel branches,
    ``Send`` tasks) are replayed each as itself, so joins downstream fire as in the run;
    for a step inside a subgraph the subgraph finishes first and its output is applied to
    the parent, up to the root. ``later`` are the inputs of the thread's later turns, asked
    again on the corrected thread. The fork runs on a fresh in-memory thread; failures
    recorded by nodes on the way are muted (they belong to a hypothetical run).
    """
    with ledger_muted():
        level = step.level
        source = _root_graph(level).checkpointer
        out = _continue(
            level.graph,
            step.before.values,
            step.node,
            context,
            writes,
            step.superstep,
            step.slot,
            later if level.parent is None else (),
            source=source,
            before=step.before,
        )
        while level.parent is not None and level.before is not None and level.node is not None:
            parent = level.parent
            sub_writes = {k: v for k, v in out.items() if k in parent.graph.channels}
            out = _continue(
                parent.graph,
                level.before.values,
                level.node,
                context,
                sub_writes,
                level.superstep,
                level.slot,
                later if parent.parent is None else (),
                source=source,
                before=level.before,
            )
            level = parent
        return out


def _root_graph(level: Level) -> Graph:
    while level.parent is not None:
        level = level.parent
    return level.graph


def _predecessor(step: Step) -> str:
    # Seeding a fork "as" the node that ran just before makes its edges lead to this step.
    parent = step.before.parent_config
    if parent is None:
        return "__start__"
    previous = _root_graph(step.level).get_state(parent)
    names = [task.name for task in previous.tasks if task.name != "__start__"]
    return names[0] if names else "__start__"


def resample(step: Step, *, context: Any = None) -> dict[str, Any] | None:
    """Run ``step`` again on the same input and return what it writes this time.

    Returns ``None`` for a task of a parallel fan-out, which cannot be re-run alone.
    """
    if step.superstep:
        return None
    with ledger_muted():
        graph = _fresh(step.level.graph)
        config: RunnableConfig = {"configurable": {"thread_id": f"resample-{uuid.uuid4().hex}"}}
        values = _merge(step.level.graph, step.before.values)
        start = graph.update_state(config, values, as_node=_predecessor(step))
        graph.invoke(None, start, context=context, interrupt_after=[step.node])
        for snapshot in graph.get_state_history(config):
            for task in snapshot.tasks:
                if task.name == step.node and task.result is not None:
                    return dict(task.result)
        return None


# --- corrections -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Correction:
    """A replacement for a step's output, and where it came from."""

    source: Literal["reference", "check", "resample", "feedback"]
    writes: Mapping[str, Any]
    note: str = ""


class Corrector(Protocol):
    """Propose corrected outputs for a step (none when it has nothing to offer)."""

    def __call__(self, step: Step, run: RunSteps) -> Iterable[Correction]:
        """Return corrections for ``step``."""
        ...


def normalised(value: Any) -> Any:
    """Return ``value`` as JSON without ids, timings and other run-specific noise."""

    def clean(item: Any) -> Any:
        if isinstance(item, dict):
            return {k: clean(v) for k, v in item.items() if k not in _VOLATILE_KEYS}
        if isinstance(item, list):
            return [clean(v) for v in item]
        return item

    return clean(to_jsonable(value))


class ReferenceCorrector:
    """Corrections from a reference run: the aligned step's output (same path, node, occurrence)."""

    def __init__(self, reference: RunSteps) -> None:
        self.reference = reference.by_key()

    def __call__(self, step: Step, run: RunSteps) -> Iterator[Correction]:
        """Yield the reference step's writes when they differ from ``step``'s."""
        ref = self.reference.get(step.key)
        if ref is None or normalised(ref.writes) == normalised(step.writes):
            return
        yield Correction("reference", _fresh_messages(ref.writes), f"reference run's {ref.key}")


def _fresh_messages(writes: Mapping[str, Any]) -> dict[str, Any]:
    # Reference messages carry the reference run's ids; new ids keep add_messages appending.
    fixed: dict[str, Any] = {}
    for key, value in writes.items():
        if isinstance(value, list) and value and all(isinstance(v, BaseMessage) for v in value):
            fixed[key] = [v.model_copy(update={"id": None}) for v in value]
        elif isinstance(value, BaseMessage):
            fixed[key] = value.model_copy(update={"id": None})
        else:
            fixed[key] = value
    return fixed


class ResampleCorrector:
    """Corrections by re-running the step on the same input (for models that sample)."""

    def __init__(
        self,
        *,
        context: Any = None,
        samples: int = 1,
        applies: Callable[[Step], bool] | None = None,
    ) -> None:
        """Re-run steps ``samples`` times; only those ``applies`` accepts (default: all)."""
        self.context = context
        self.samples = samples
        self.applies = applies

    def __call__(self, step: Step, run: RunSteps) -> Iterator[Correction]:
        """Yield up to ``samples`` re-runs of the step that differ from its output."""
        if self.applies is not None and not self.applies(step):
            return
        seen = [normalised(step.writes)]
        for _ in range(self.samples):
            writes = resample(step, context=self.context)
            if writes is None or normalised(writes) in seen:
                continue
            seen.append(normalised(writes))
            yield Correction("resample", writes, f"re-run of {step.key}")


# --- evaluation ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a final state is acceptable, and why not."""

    passed: bool
    reason: str = ""
    failures: frozenset[str] = frozenset()
    """What failed, one stable key each (``check:numbers_grounded``, ``fact:1,142.80``…):
    a replay that fixes some of them and breaks nothing new has corrected a real fault,
    even when a second fault keeps the run failing. Empty: the evaluator does not say."""


Evaluator = Callable[[Mapping[str, Any]], Verdict]


def final_message(values: Mapping[str, Any]) -> AIMessage | None:
    """Return the last AI message of a state."""
    for message in reversed(values.get("messages") or []):
        if isinstance(message, AIMessage):
            return message
    return None


def failed_checks(values: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Return the failed assumption checks attached to a state's final answer."""
    answer = final_message(values)
    return [
        c
        for c in (answer.additional_kwargs.get("nova_checks") or [] if answer else [])
        if isinstance(c, Mapping) and not c.get("passed")
    ]


def checks_evaluator(values: Mapping[str, Any]) -> Verdict:
    """Pass when the run answered and none of the answer's assumption checks failed."""
    answer = final_message(values)
    if answer is None or not (answer.content or answer.tool_calls):
        return Verdict(False, "no answer", frozenset({"no answer"}))
    failed = [str(c.get("name", "?")) for c in failed_checks(values)]
    return Verdict(
        not failed,
        f"failed checks: {', '.join(failed)}" if failed else "checks passed",
        frozenset(f"check:{name}" for name in failed),
    )


class UserFeedback(Protocol):
    """What blame needs of a feedback record (``nova.ledger.feedback.FeedbackRecord``)."""

    @property
    def rating(self) -> str:
        """``good`` or ``bad``."""
        ...

    @property
    def agent(self) -> str | None:
        """The agent that should have answered."""
        ...

    @property
    def answer(self) -> str | None:
        """The right answer, or facts it must state."""
        ...


def _answer_text(values: Mapping[str, Any]) -> str:
    answer = final_message(values)
    if answer is None:
        return ""
    content = answer.content
    text = content if isinstance(content, str) else " ".join(map(str, content))
    return text.split("\n\n⚠ Nova flagged this answer:", 1)[0].strip()


class FeedbackEvaluator:
    """The user's word as the evaluator: a run the user called bad fails, whatever its checks.

    A replay passes when its checks pass and it meets the user's correction: the corrected
    agent answered (``--agent``), every number, date and document id of the corrected
    answer appears in the replay's answer (``--answer``); without a correction, when its
    answer differs from the one the user rejected. A run the user called good passes.
    """

    def __init__(self, feedback: UserFeedback, rejected: Mapping[str, Any] | None = None) -> None:
        """Judge replays by ``feedback``; ``rejected`` is the final state the user judged."""
        self.feedback = feedback
        self.rejected = _answer_text(rejected) if rejected is not None else None

    def __call__(self, values: Mapping[str, Any]) -> Verdict:
        """Return whether ``values`` (a final state) meets the user's verdict."""
        if self.feedback.rating != "bad":
            return Verdict(True, "the user called this run good")
        checks = checks_evaluator(values)
        text = _answer_text(values)
        problems: list[str] = []
        failures = set(checks.failures)
        if self.feedback.agent:
            route = values.get("route")
            routed = route.get("agent") if isinstance(route, Mapping) else None
            if routed != self.feedback.agent:
                problems.append(f"routed to {routed}, the user says {self.feedback.agent}")
                failures.add("feedback:route")
        if self.feedback.answer:
            missing = _missing_facts(self.feedback.answer, text)
            if missing:
                problems.append("the user's correction states " + ", ".join(missing))
                failures.update(f"fact:{fact}" for fact in missing)
        if not self.feedback.agent and not self.feedback.answer:
            if self.rejected is None or text == self.rejected:
                problems.append("the user rejected this answer")
                failures.add("feedback:rejected")
        if not checks.passed:
            problems.append(checks.reason)
        if problems:
            return Verdict(False, "; ".join(problems), frozenset(failures))
        return Verdict(True, "meets the user's feedback and passes its checks")


def _missing_facts(correction: str, answer: str) -> list[str]:
    from nova.erp.grounding import Grounds, mentions

    grounds = Grounds.of([answer])
    facts = mentions(correction, skip_list_indices=True)
    if not facts:  # a correction in words only: its text must appear
        return [] if correction.casefold() in answer.casefold() else [repr(correction)]
    return [m.text for m in facts if not grounds.supports(m)]


class FeedbackRouteCorrector:
    """A routing correction from the user's feedback: the ``route`` step, to the named agent.

    Only the last turn's route is corrected (the turn the feedback is about); earlier
    turns get their corrections from the checks and re-samples.
    """

    def __init__(self, feedback: UserFeedback, subgraphs: Mapping[str, str | None]) -> None:
        """Correct routes to ``feedback.agent``; ``subgraphs`` maps agent names to subgraphs."""
        self.feedback = feedback
        self.subgraphs = subgraphs

    def __call__(self, step: Step, run: RunSteps) -> Iterator[Correction]:
        """Yield the corrected route for the last turn's ``route`` step."""
        agent = self.feedback.agent
        if self.feedback.rating != "bad" or not agent or agent not in self.subgraphs:
            return
        route = step.writes.get("route") if step.node == "route" else None
        if step.turn != run.turns or not isinstance(route, Mapping) or route.get("agent") == agent:
            return
        corrected = {
            **route,
            "agent": agent,
            "subgraph": self.subgraphs[agent],
            "method": "explicit",
            "reason": f"corrected by the user's feedback (was {route.get('agent')})",
        }
        yield Correction("feedback", {"route": corrected}, f"the user's feedback: {agent}")


# --- blame -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trial:
    """One counterfactual replay."""

    step: str
    source: str
    passed: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """What blame knew when it could not attribute a failure to one step."""

    failed_checks: tuple[str, ...]
    """Failed checks as ``name (judges step): detail``."""
    suspects: tuple[str, ...]
    """Steps whose output a failed check judges (not blamed: no correction of them passed)."""
    tried: tuple[str, ...]
    """Steps for which a correction was replayed."""
    untried: int
    """Steps for which no corrector had anything to offer."""


@dataclass(frozen=True, slots=True)
class BlameResult:
    """The earliest wrong step, who consumed its output, and how that was established."""

    passed: bool
    """Whether the run as it happened passes the evaluator (then nothing is blamed)."""
    blamed: StepRef | None
    consumers: tuple[StepRef, ...]
    method: Literal["counterfactual", "first_fault", "not_attributed", "none"]
    """``counterfactual``: correcting the blamed step makes the run pass; ``first_fault``:
    no single correction does (the run holds several faults), and correcting the blamed
    step is the earliest that fixes part of what failed without breaking anything else."""
    explanation: str
    trials: tuple[Trial, ...] = ()
    steps: tuple[StepRef, ...] = field(default=())
    evidence: Evidence | None = None
    """Set when the run fails and no step could be named."""

    @property
    def replays(self) -> int:
        """How many counterfactual replays blame ran."""
        return len(self.trials)

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-compatible data."""
        return to_jsonable(self)


def consumers_of(run: RunSteps, blamed: Step) -> list[Step]:
    """Return the later steps that read the blamed step's output, directly or through others."""
    tainted = set(blamed.writes)
    found = []
    for step in run.steps[blamed.index + 1 :]:
        if ALL_KEYS <= step.reads or step.reads & tainted:
            found.append(step)
            tainted |= set(step.writes)
    return found


def _suspects(run: RunSteps) -> list[Step]:
    judged = {str(c.get("judges") or "agent") for c in failed_checks(run.final)}
    last = [s for s in run.steps if s.turn == run.turns]
    found: list[Step] = []
    if "route" in judged:
        found += [s for s in last if s.node == "route"][-1:]
    if judged & {"agent", "tools"}:
        found += [s for s in last if s.node in ("agent", "fast_path")][-1:]
    found += [s for s in run.steps if s.error][:1]
    return found


def blame(
    run: RunSteps,
    *,
    evaluator: Evaluator = checks_evaluator,
    correctors: Sequence[Corrector] = (),
    context: Any = None,
    max_replays: int = 40,
) -> BlameResult:
    """Find the earliest step whose correction makes the run pass ``evaluator``.

    Args:
        run: The run (``load_run``; a whole thread with ``thread=True``).
        evaluator: Judges a final state (``checks_evaluator``, or ``FeedbackEvaluator``
            when the user said the run was wrong).
        correctors: Sources of corrected step outputs, tried in order for each step.
        context: Run context for the replays (e.g. ``NovaContext(project=...)``).
        max_replays: Upper bound on counterfactual replays.

    Returns:
        The blamed step and the steps that consumed its output, with every replay tried.
        A run that passes its evaluator blames nothing. When no correction makes a failing
        run pass, the earliest step whose correction fixes part of the failures (by the
        evaluator's ``Verdict.failures``) and adds none is named (``method="first_fault"``:
        the run holds a later fault too); otherwise nothing is blamed
        (``method="not_attributed"``) and ``evidence`` says which checks failed and which
        steps were tried.

    """
    all_refs = tuple(step.ref() for step in run.steps)
    verdict = evaluator(run.final) if not run.error else Verdict(False, f"run failed: {run.error}")
    if verdict.passed:
        return BlameResult(True, None, (), "none", "the run passes its evaluator", steps=all_refs)

    candidates: list[tuple[Step, list[Correction]]] = []
    for step in run.steps:
        corrections = [c for corrector in correctors for c in corrector(step, run)]
        if corrections:
            candidates.append((step, corrections))

    trials: list[Trial] = []
    outcome: dict[int, bool] = {}
    partial: dict[int, tuple[Correction, frozenset[str]]] = {}
    """Positions whose correction fixed some of the run's failures and added none."""

    def passes(position: int) -> bool:
        if position in outcome:
            return outcome[position]
        step, corrections = candidates[position]
        result = False
        for correction in corrections:
            if len(trials) >= max_replays:
                break
            try:
                final = replay(
                    step, correction.writes, context=context, later=run.inputs[step.turn :]
                )
                check = evaluator(final)
            except Exception as error:
                check = Verdict(False, f"replay failed: {type(error).__name__}: {error}")
            trials.append(Trial(step.key, correction.source, check.passed, check.reason))
            if check.passed:
                result = True
                break
            if check.failures and check.failures < verdict.failures and position not in partial:
                partial[position] = (correction, verdict.failures - check.failures)
        outcome[position] = result
        return result

    found = _earliest(len(candidates), passes) if candidates else None
    if found is not None:
        step = candidates[found][0]
        return BlameResult(
            False,
            step.ref(),
            tuple(s.ref() for s in consumers_of(run, step)),
            "counterfactual",
            f"correcting {step.key} ({candidates[found][1][0].source}) makes the run pass; "
            f"correcting any earlier candidate does not ({verdict.reason})",
            tuple(trials),
            all_refs,
        )
    if partial:
        # Several faults: no one correction passes. The earliest step whose correction
        # fixes part of the failure (and breaks nothing) is the first bad assumption.
        first = min(partial)
        step = candidates[first][0]
        correction, fixed = partial[first]
        return BlameResult(
            False,
            step.ref(),
            tuple(s.ref() for s in consumers_of(run, step)),
            "first_fault",
            f"correcting {step.key} ({correction.source}) fixes {', '.join(sorted(fixed))} "
            "and breaks nothing, but the run still fails (a later fault); no earlier "
            f"candidate fixes any of it ({verdict.reason})",
            tuple(trials),
            all_refs,
        )
    failed = tuple(
        f"{c.get('name', '?')} ({c.get('judges') or 'agent'}): {c.get('detail', '')}"
        for c in failed_checks(run.final)
    )
    tried = tuple(dict.fromkeys(t.step for t in trials))
    evidence = Evidence(
        failed_checks=failed,
        suspects=tuple(s.key for s in _suspects(run)),
        tried=tried,
        untried=len(run.steps) - len(candidates),
    )
    steps_note = (
        f"corrections of {', '.join(tried)} were replayed and none passed"
        if tried
        else "no corrector had a correction to offer"
    )
    return BlameResult(
        False,
        None,
        (),
        "not_attributed",
        f"not attributed: {verdict.reason}; {steps_note}",
        tuple(trials),
        all_refs,
        evidence,
    )


def _earliest(count: int, passes: Callable[[int], bool]) -> int | None:
    """Return the first position where ``passes`` holds, or ``None``.

    Bisection finds a boundary as if the outcomes were monotone (every correction after
    the faulty step fixes the run); the positions before it that the bisection did not
    try are then confirmed one by one, so a later step whose correction happens to fix
    the run can never hide an earlier one.
    """
    if passes(count - 1):
        low, high = 0, count - 1
        while low < high:
            middle = (low + high) // 2
            if passes(middle):
                high = middle
            else:
                low = middle + 1
        boundary = low
    else:
        boundary = count
    for position in range(boundary):
        if passes(position):
            return position
    return boundary if boundary < count else None
