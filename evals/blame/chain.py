"""The graph the attribution scenarios run on: Nova's supervisor shape with scripted parts.

``intake``, ``respond`` and the ``dispatch`` edge are Nova's own supervisor steps and the four
subgraphs are built by ``graphs.common.build_agent_subgraph`` (agent ⇄ tools ⇄ check, with
retries, timeouts and the failure ledger), so the steps, state keys and checkpoints are
the real ones. ``recall`` and ``route`` are scripted per scenario (``Env``), and tools and
models come from the attribution world (``world``, ``policies``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from evals.blame import world
from evals.blame.policies import AgentFault, PolicyModels, Preamble
from graphs.common import build_agent_subgraph
from nodes.supervisor import dispatch, intake, respond, with_unroutable_reply
from nova.catalog import AgentSpec, Catalog, default_catalog
from nova.ledger.failures import FailureLedger
from nova.state import MemoryHit, NovaContext, NovaInput, NovaOutput, NovaState, RouteDecision

SUBGRAPHS = ("chat", "erp", "translation", "pipeline")


@dataclass(frozen=True)
class Env:
    """Everything a scenario can change: the route, the memories, faults and decoys."""

    agent: str
    """Agent the route step chooses."""
    second: str = "general_chat"
    confidence: float = 0.93
    memories: tuple[dict[str, Any], ...] | None = None
    """Memories recall returns; ``None``: the project's memories from the world."""
    agent_faults: Sequence[AgentFault] = ()
    tool_faults: Sequence[world.ToolFault] = ()
    decoys: Sequence[Preamble] = ()
    ledger: FailureLedger | None = field(default=None, compare=False)


def _route_node(env: Env, catalog: Catalog[AgentSpec]) -> Any:
    def route(state: NovaState) -> dict[str, object]:
        spec = catalog[env.agent]
        decision = RouteDecision(
            id=uuid.uuid4().hex[:12],
            agent=spec.name,
            subgraph=spec.subgraph,
            confidence=env.confidence,
            margin=round(env.confidence - (1 - env.confidence), 3),
            candidates=[
                {"agent": spec.name, "score": env.confidence},
                {"agent": env.second, "score": round(1 - env.confidence, 3)},
            ],
            method="semantic",
            reason="attribution suite",
            catalog_version="suite",
            router_version="suite",
            latency_ms=0.1,
        )
        return {"route": decision}

    return route


def _recall_node(env: Env) -> Any:
    def recall(state: NovaState) -> dict[str, object]:
        memories = env.memories
        if memories is None:
            memories = world.MEMORIES.get(state.get("project") or "", ())
        return {"memories": [MemoryHit(**m) for m in memories]}  # type: ignore[typeddict-item]

    return recall


def build_chain(
    env: Env, *, catalog: Catalog[AgentSpec] | None = None
) -> StateGraph[Any, NovaContext, Any, Any]:
    """Build (not compile) the scenario graph for ``env``."""
    catalog = catalog or default_catalog()
    models = PolicyModels(faults=env.agent_faults, decoys=env.decoys)
    resolver = world.tool_resolver(env.tool_faults)
    builder = StateGraph(
        NovaState, context_schema=NovaContext, input_schema=NovaInput, output_schema=NovaOutput
    )
    builder.add_node("intake", intake)
    builder.add_node("recall", _recall_node(env))
    builder.add_node("route", with_unroutable_reply(_route_node(env, catalog)))
    for name in SUBGRAPHS:
        sub = build_agent_subgraph(
            name,  # type: ignore[arg-type]
            catalog=catalog,
            model_factory=models,
            tool_resolver=resolver,
            ledger=env.ledger,
        ).compile(name=name)
        builder.add_node(name, sub)
        builder.add_edge(name, "respond")
    builder.add_node("respond", respond)
    builder.add_edge(START, "intake")
    builder.add_edge("intake", "recall")
    builder.add_edge("recall", "route")
    builder.add_conditional_edges("route", dispatch)
    builder.add_edge("respond", END)
    return builder


def compile_chain(
    env: Env, *, catalog: Catalog[AgentSpec] | None = None
) -> CompiledStateGraph[Any, NovaContext, Any, Any]:
    """Compile the scenario graph with an in-memory checkpointer."""
    return build_chain(env, catalog=catalog).compile(
        checkpointer=InMemorySaver(), name="blame-suite"
    )
