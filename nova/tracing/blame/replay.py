"""Counterfactual replay: fork a run at a step, replace its output, run the rest again.

Also ``resample``: run one step again on the same input. Forks run on a fresh in-memory
thread, so the user's thread is never changed, and failures they meet are not recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.channels.base import BaseChannel
from langgraph.channels.last_value import LastValue
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import StateSnapshot, StateUpdate

from nova.tracing.blame.steps import Graph, Level, Step
from nova.tracing.failures import ledger_muted


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
