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
the outcomes are not monotone). Lineage then follows the state keys each step read and
wrote: a later step that read a key written by the blamed step, or by one of its
consumers, consumed the wrong output.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.channels.base import BaseChannel
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.pregel import Pregel
from langgraph.types import StateSnapshot

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
    "dispatch": frozenset({"route"}),
    "enter": frozenset({"route"}),
    "fast_path": frozenset({"request", "route", "project", "messages"}),
    "agent": frozenset({"messages", "route", "memories", "summary", "project", "agent_steps"}),
    "tools": frozenset({"messages", "route", "project"}),
    "check": frozenset({"messages", "route", "request", "project", "agent_run", "checks"}),
    "respond": frozenset({"messages"}),
    "prepare": frozenset({"request", "route", "project"}),
    "translate_chunk": frozenset({"translation_task"}),
    "assemble": frozenset({"translation_task", "translated_chunks", "route"}),
}
"""State keys each of Nova's nodes reads; a node not listed may read any key."""

STEP_OWNERS: dict[str, str] = {"route": "router", "recall": "memory"}
"""Owner of a root-graph step by node name; other root steps belong to ``supervisor``,
steps inside a subgraph to the routed agent."""

_VOLATILE_KEYS = frozenset(
    {"id", "tool_call_id", "latency_ms", "created_at", "run_id", "started_at", "ts"}
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


@dataclass(frozen=True, slots=True)
class RunSteps:
    """The steps of one run, the graph they ran in, and its final state."""

    graph: Graph
    thread_id: str
    steps: tuple[Step, ...]
    final: Mapping[str, Any]
    error: str | None = None

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
) -> RunSteps:
    """Return the steps of a run from its checkpoints.

    Args:
        graph: The compiled graph the run used, with its checkpointer.
        thread_id: The run's thread.
        after: Pick the first run of the thread that started at or after this ISO time
            (a trace's start); default: the thread's latest run.
        reads: State keys each node reads (``NODE_READS`` by default).

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
    chosen = runs[-1]
    if after is not None:
        later = [run for run in runs if run[0].created_at and run[0].created_at >= after]
        chosen = later[0] if later else runs[-1]
    steps: list[Step] = []
    counts: dict[str, int] = {}
    error: list[str] = []

    def walk(level: Level, snapshots: Sequence[StateSnapshot]) -> None:
        for snapshot in snapshots:
            ran = [t for t in snapshot.tasks if t.name != "__start__"]
            plain = tuple((t.name, dict(t.result or {})) for t in ran if not t.state)
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
                            superstep=plain,
                            parent=level,
                        )
                        walk(child, sub_history)
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
                        superstep=tuple(w for w in plain if w[0] != task.name),
                        task_id=task.id,
                        reads=_reads(task.name, values, reads),
                        agent=_owner(level, task.name, values),
                        error=repr(task.error) if task.error is not None else None,
                    )
                )

    walk(Level(graph=graph), chosen)
    final = chosen[-1].values if isinstance(chosen[-1].values, Mapping) else {}
    return RunSteps(
        graph=graph,
        thread_id=thread_id,
        steps=tuple(steps),
        final=dict(final),
        error="; ".join(error) or None,
    )


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


def _continue(
    graph: Graph, values: Mapping[str, Any], as_node: str, context: Any
) -> dict[str, Any]:
    forked = _fresh(graph)
    config: RunnableConfig = {"configurable": {"thread_id": f"blame-{uuid.uuid4().hex}"}}
    start = forked.update_state(config, dict(values), as_node=as_node)
    forked.invoke(None, start, context=context)
    state = forked.get_state(config)
    return dict(state.values) if isinstance(state.values, Mapping) else {}


def replay(step: Step, writes: Mapping[str, Any], *, context: Any = None) -> dict[str, Any]:
    """Return the final root state of the run with ``step``'s output replaced by ``writes``.

    The fork runs on a fresh in-memory thread; failures recorded by nodes on the way are
    muted (they belong to a hypothetical run).
    """
    with ledger_muted():
        level = step.level
        values = _merge(level.graph, step.before.values, *(w for _, w in step.superstep), writes)
        out = _continue(level.graph, values, step.node, context)
        while level.parent is not None and level.before is not None and level.node is not None:
            parent = level.parent
            sub_writes = {k: v for k, v in out.items() if k in parent.graph.channels}
            values = _merge(
                parent.graph, level.before.values, *(w for _, w in level.superstep), sub_writes
            )
            out = _continue(parent.graph, values, level.node, context)
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

    source: Literal["reference", "check", "resample"]
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

    def __init__(self, *, context: Any = None, samples: int = 1) -> None:
        self.context = context
        self.samples = samples

    def __call__(self, step: Step, run: RunSteps) -> Iterator[Correction]:
        """Yield up to ``samples`` re-runs of the step that differ from its output."""
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


Evaluator = Callable[[Mapping[str, Any]], Verdict]


def final_message(values: Mapping[str, Any]) -> AIMessage | None:
    """Return the last AI message of a state."""
    for message in reversed(values.get("messages") or []):
        if isinstance(message, AIMessage):
            return message
    return None


def checks_evaluator(values: Mapping[str, Any]) -> Verdict:
    """Pass when the run answered and none of the answer's assumption checks failed."""
    answer = final_message(values)
    if answer is None or not (answer.content or answer.tool_calls):
        return Verdict(False, "no answer")
    failed = [
        c.get("name", "?")
        for c in answer.additional_kwargs.get("nova_checks") or []
        if isinstance(c, Mapping) and not c.get("passed")
    ]
    return Verdict(not failed, f"failed checks: {', '.join(failed)}" if failed else "checks passed")


# --- blame -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trial:
    """One counterfactual replay."""

    step: str
    source: str
    passed: bool
    reason: str


@dataclass(frozen=True, slots=True)
class BlameResult:
    """The earliest wrong step, who consumed its output, and how that was established."""

    passed: bool
    """Whether the run as it happened passes the evaluator (then nothing is blamed)."""
    blamed: StepRef | None
    consumers: tuple[StepRef, ...]
    method: Literal["counterfactual", "checks", "none"]
    explanation: str
    trials: tuple[Trial, ...] = ()
    steps: tuple[StepRef, ...] = field(default=())

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


def _check_blame(run: RunSteps) -> Step | None:
    answer = final_message(run.final)
    failed = [
        c
        for c in (answer.additional_kwargs.get("nova_checks") or [] if answer else [])
        if isinstance(c, Mapping) and not c.get("passed")
    ]
    judged = {str(c.get("judges") or "agent") for c in failed}
    if "route" in judged:
        routes = [s for s in run.steps if s.node == "route"]
        if routes:
            return routes[-1]
    if "agent" in judged:
        agents = [s for s in run.steps if s.node == "agent"]
        if agents:
            return agents[-1]
    failing = [s for s in run.steps if s.error]
    return failing[0] if failing else None


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
        run: The run (``load_run``).
        evaluator: Judges a final state.
        correctors: Sources of corrected step outputs, tried in order for each step.
        context: Run context for the replays (e.g. ``NovaContext(project=...)``).
        max_replays: Upper bound on counterfactual replays.

    Returns:
        The blamed step (``None`` if the run passed or nothing could be attributed), the
        steps that consumed its output, and every replay tried.

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

    def passes(position: int) -> bool:
        if position in outcome:
            return outcome[position]
        step, corrections = candidates[position]
        result = False
        for correction in corrections:
            if len(trials) >= max_replays:
                break
            try:
                final = replay(step, correction.writes, context=context)
                check = evaluator(final)
            except Exception as error:
                check = Verdict(False, f"replay failed: {type(error).__name__}: {error}")
            trials.append(Trial(step.key, correction.source, check.passed, check.reason))
            if check.passed:
                result = True
                break
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
    fallback = _check_blame(run)
    if fallback is not None:
        return BlameResult(
            False,
            fallback.ref(),
            tuple(s.ref() for s in consumers_of(run, fallback)),
            "checks",
            f"no single correction made the run pass; {fallback.key} produced the output a "
            f"failed check judges ({verdict.reason})",
            tuple(trials),
            all_refs,
        )
    return BlameResult(
        False,
        None,
        (),
        "none",
        f"no step could be attributed ({verdict.reason})",
        tuple(trials),
        all_refs,
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
