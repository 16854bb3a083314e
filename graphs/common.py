"""Pieces every agent subgraph shares: the entry check and the bounded agent ⇄ tools loop."""

from __future__ import annotations

import importlib
import threading
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from nodes.agent import ToolResolver, make_agent_node, make_tool_node, tools_condition
from nodes.check_node import make_check_node
from nodes.checks import CheckRegistry
from nodes.resilience import model_retry_policy, tool_retry_policy
from nova.catalog import AgentSpec, Catalog, default_catalog
from nova.ledger.failures import FailureLedger
from nova.models import ModelFactory, default_model_factory
from nova.state import AgentLoopState, NovaContext, NovaState, RuntimeNode, Subgraph
from tools.registry import get_tools


def agents_of(catalog: Catalog[AgentSpec], subgraph: Subgraph) -> list[AgentSpec]:
    """Return the agents a subgraph runs (``other`` agents run in chat)."""
    return [spec for spec in catalog.agents.values() if spec.subgraph == subgraph]


def make_entry_check(
    catalog: Catalog[AgentSpec], subgraph: Subgraph
) -> RuntimeNode[NovaState, dict[str, object]]:
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
        return {"agent_steps": 0, "agent_run": None}

    return enter


def add_agent_loop(
    builder: StateGraph[AgentLoopState, NovaContext, AgentLoopState, AgentLoopState],
    *,
    catalog: Catalog[AgentSpec],
    model_factory: ModelFactory,
    subgraph: Subgraph,
    then: str,
    tool_resolver: ToolResolver = get_tools,
    checks: CheckRegistry | None = None,
    ledger: FailureLedger | None = None,
) -> None:
    """Add ``agent``, ``tools`` and ``check``: tools until the agent answers, checks, ``then``.

    ``agent`` and ``tools`` get retry policies from settings (only errors another attempt
    can fix are retried) and per-call timeouts; ``check`` runs the assumption checks and
    records failures (``nodes.check_node``).
    """
    builder.add_node(
        "agent",
        make_agent_node(catalog, model_factory, tool_resolver=tool_resolver, ledger=ledger),
        retry_policy=model_retry_policy(),
    )
    builder.add_node(
        "tools",
        make_tool_node(
            catalog, agents_of(catalog, subgraph), tool_resolver=tool_resolver, ledger=ledger
        ),
        retry_policy=tool_retry_policy(),
    )
    builder.add_node(
        "check",
        make_check_node(catalog, registry=checks, ledger=ledger, model_factory=model_factory),
    )
    builder.add_conditional_edges("agent", tools_condition, {"tools": "tools", "done": "check"})
    builder.add_edge("tools", "agent")
    builder.add_edge("check", then)


Node = RuntimeNode[NovaState, dict[str, object]]


def answered_without_model(state: NovaState) -> Literal["answered", "agent"]:
    """After a model-free step: skip the agent when that step already answered the turn."""
    return "answered" if state.get("agent_run") else "agent"


def build_agent_subgraph(
    subgraph: Subgraph,
    *,
    catalog: Catalog[AgentSpec] | None = None,
    model_factory: ModelFactory | None = None,
    fast_path: Node | None = None,
    tool_resolver: ToolResolver = get_tools,
    checks: CheckRegistry | None = None,
    ledger: FailureLedger | None = None,
) -> StateGraph[AgentLoopState, NovaContext, AgentLoopState, AgentLoopState]:
    """Build (not compile) a subgraph that runs its routed agent: entry check, agent ⇄ tools.

    Args:
        subgraph: Which agents it runs.
        catalog: Agents; the configured catalog by default.
        model_factory: How agents get models; settings-driven by default.
        fast_path: Optional model-free node run before the agent; when it sets
            ``agent_run`` the turn is answered (and checked) without the agent.
        tool_resolver: Tools by name; the registry by default.
        checks: Assumption checks by name; ``nodes.checks.CHECKS`` by default.
        ledger: Failure ledger; the configured one by default.

    """
    catalog = catalog or default_catalog()
    builder = StateGraph(AgentLoopState, context_schema=NovaContext)
    builder.add_node("enter", make_entry_check(catalog, subgraph))
    add_agent_loop(
        builder,
        catalog=catalog,
        model_factory=model_factory or default_model_factory,
        subgraph=subgraph,
        then=END,
        tool_resolver=tool_resolver,
        checks=checks,
        ledger=ledger,
    )
    builder.add_edge(START, "enter")
    if fast_path is None:
        builder.add_edge("enter", "agent")
    else:
        builder.add_node("fast_path", fast_path)
        builder.add_edge("enter", "fast_path")
        builder.add_conditional_edges(
            "fast_path", answered_without_model, {"answered": "check", "agent": "agent"}
        )
    return builder


_compile_lock = threading.RLock()
_compiled: dict[tuple[Subgraph, str], CompiledStateGraph[Any, Any, Any, Any]] = {}


def shared_subgraph(subgraph: Subgraph) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Return the default build of ``subgraph``, compiled once per process and catalog version.

    The served ``chat``/``erp``/``translation``/``pipeline`` graphs and the supervisor's
    subgraph nodes are the same objects: a server, the CLI and Studio compile each once.
    A changed catalog (a new version hash) gets a fresh build on its next use.
    """
    # Importing graphs.<name> first lets its module-level ``graph`` (which calls this
    # function while the module is half-initialised) do the one build.
    module = importlib.import_module(f"graphs.{subgraph}")
    key = (subgraph, default_catalog().version)
    with _compile_lock:  # two threads must not build the same graph twice
        if key not in _compiled:
            builder = getattr(module, f"build_{subgraph}_graph")()
            _compiled[key] = builder.compile(name=subgraph)
        return _compiled[key]
