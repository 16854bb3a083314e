"""Pieces every agent subgraph shares: the entry check and the bounded agent ⇄ tools loop."""

from __future__ import annotations

from collections.abc import Callable

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from nova.catalog import AgentSpec, Catalog, default_catalog
from nova.models import ModelFactory, default_model_factory
from nova.state import NovaContext, NovaState, Subgraph
from nodes.agent import make_agent_node, make_tool_node, tools_condition


def agents_of(catalog: Catalog[AgentSpec], subgraph: Subgraph) -> list[AgentSpec]:
    """Return the agents a subgraph runs (``other`` agents run in chat)."""
    return [spec for spec in catalog.agents.values() if spec.subgraph == subgraph]


def make_entry_check(
    catalog: Catalog[AgentSpec], subgraph: Subgraph
) -> Callable[[NovaState, Runtime[NovaContext]], dict[str, object]]:
    """Build the subgraph's first node: refuse a route that belongs to another subgraph."""

    def enter(state: NovaState, runtime: Runtime[NovaContext]) -> dict[str, object]:
        route = state.get("route")
        agent = route.get("agent") if route else None
        if agent is None:
            raise ValueError(
                f"The {subgraph} graph needs a routed agent: run it through the 'nova' graph, "
                f"or pass context={{'agent': '<name>'}} with one of: "
                f"{', '.join(s.name for s in agents_of(catalog, subgraph))}"
            )
        if catalog[agent].subgraph != subgraph:
            raise ValueError(
                f"Agent {agent!r} belongs to the {catalog[agent].subgraph} graph, not {subgraph}"
            )
        return {"agent_steps": 0}

    return enter


def add_agent_loop(
    builder: StateGraph[NovaState, NovaContext, NovaState, NovaState],
    *,
    catalog: Catalog[AgentSpec],
    model_factory: ModelFactory,
    subgraph: Subgraph,
    then: str,
) -> None:
    """Add ``agent`` and ``tools`` nodes: the agent calls tools until it answers, then ``then``."""
    builder.add_node("agent", make_agent_node(catalog, model_factory))
    builder.add_node("tools", make_tool_node(catalog, agents_of(catalog, subgraph)))
    builder.add_conditional_edges("agent", tools_condition, {"tools": "tools", "done": then})
    builder.add_edge("tools", "agent")


def build_agent_subgraph(
    subgraph: Subgraph,
    *,
    catalog: Catalog[AgentSpec] | None = None,
    model_factory: ModelFactory | None = None,
) -> StateGraph[NovaState, NovaContext, NovaState, NovaState]:
    """Build (not compile) a subgraph that runs its routed agent: entry check, agent ⇄ tools."""
    catalog = catalog or default_catalog()
    builder = StateGraph(NovaState, context_schema=NovaContext)
    builder.add_node("enter", make_entry_check(catalog, subgraph))
    add_agent_loop(
        builder,
        catalog=catalog,
        model_factory=model_factory or default_model_factory,
        subgraph=subgraph,
        then=END,
    )
    builder.add_edge(START, "enter")
    builder.add_edge("enter", "agent")
    return builder
