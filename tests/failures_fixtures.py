"""Helpers for the failure-ledger, tracing and attribution tests (issue 6)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableBinding, RunnableLambda
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.pregel import Pregel

from graphs.common import build_agent_subgraph
from nodes.supervisor import dispatch, intake, respond, with_unroutable_reply
from nova.catalog import AgentSpec, Catalog, load_catalog
from nova.ledger.failures import FailureLedger
from nova.models import ModelFactory
from nova.state import NovaContext, NovaInput, NovaOutput, NovaState, Subgraph
from nova.testing import route_to
from tools.registry import tool_registry


def with_fallback(catalog: Catalog[AgentSpec], agent: str, fallback: str) -> Catalog[AgentSpec]:
    """Return ``catalog`` where ``agent`` names ``fallback`` as its fallback model."""
    spec = catalog[agent]
    changed = spec.model_copy(
        update={"model": spec.model.model_copy(update={"fallback": fallback})}
    )
    return dataclasses.replace(catalog, agents={**catalog.agents, agent: changed})


def resolver(
    overrides: Mapping[str, Callable[..., str]] | None = None,
) -> Callable[[Iterable[str]], list[BaseTool]]:
    """Tools by name: ``overrides`` first, then the registry, else a tool that is not here."""
    overrides = dict(overrides or {})

    def resolve(names: Iterable[str]) -> list[BaseTool]:
        tools: list[BaseTool] = []
        registry = tool_registry()
        for name in names:
            if name in overrides:
                tools.append(
                    StructuredTool.from_function(
                        overrides[name],
                        name=name,
                        description=f"{name} (test)",
                        handle_tool_error=True,
                    )
                )
            elif name in registry:
                tools.append(registry[name])
            else:

                def missing(**kwargs: Any) -> str:
                    raise ToolException("not available in this test")

                tools.append(StructuredTool.from_function(missing, name=name, description=name))
        return tools

    return resolve


def subgraph_run(
    subgraph: Subgraph,
    agent: str,
    text: str,
    models: ModelFactory,
    *,
    catalog: Catalog[AgentSpec] | None = None,
    tools: Mapping[str, Callable[..., str]] | None = None,
    ledger: FailureLedger | None = None,
    callbacks: list[Any] | None = None,
    thread: str = "t",
    project: str = "parts-shop",
) -> dict[str, Any]:
    """Run one agent subgraph on ``text`` with a checkpointer; return its final state."""
    graph = build_agent_subgraph(
        subgraph,
        catalog=catalog or load_catalog(),
        model_factory=models,
        tool_resolver=resolver(tools),
        ledger=ledger,
    ).compile(checkpointer=InMemorySaver())
    state = {
        "messages": [HumanMessage(text)],
        "route": route_to(agent, subgraph),
        "request": text,
        "project": project,
    }
    config: dict[str, Any] = {"configurable": {"thread_id": thread}}
    if callbacks is not None:
        config["callbacks"] = callbacks
    return graph.invoke(state, config, context=NovaContext(project=project))


def supervisor_graph(
    route_node: Callable[..., Any],
    models: ModelFactory,
    *,
    catalog: Catalog[AgentSpec] | None = None,
    tools: Mapping[str, Callable[..., str]] | None = None,
    ledger: FailureLedger | None = None,
) -> Pregel:
    """A supervisor-shaped graph (intake → route, dispatch → subgraph → respond), checkpointed."""
    catalog = catalog or load_catalog()
    builder = StateGraph(
        NovaState, context_schema=NovaContext, input_schema=NovaInput, output_schema=NovaOutput
    )
    builder.add_node("intake", intake)
    builder.add_node("route", with_unroutable_reply(route_node))
    for name in ("chat", "erp", "translation", "pipeline"):
        builder.add_node(
            name,
            build_agent_subgraph(
                name,  # type: ignore[arg-type]
                catalog=catalog,
                model_factory=models,
                tool_resolver=resolver(tools),
                ledger=ledger,
            ).compile(name=name),
        )
        builder.add_edge(name, "respond")
    builder.add_node("respond", respond)
    builder.add_edge(START, "intake")
    builder.add_edge("intake", "route")
    builder.add_conditional_edges("route", dispatch)
    builder.add_edge("respond", END)
    return builder.compile(checkpointer=InMemorySaver(), name="nova-test")


class InjectedError(ValueError):
    """The error ``with_broken_node`` injects (a ValueError: no retry policy retries it)."""


def with_broken_node(
    builder: StateGraph[Any, Any, Any, Any], path: str, *, label: str | None = None
) -> StateGraph[Any, Any, Any, Any]:
    """Return a copy of ``builder`` whose node at ``path`` raises ``InjectedError(label)``.

    ``path`` names a node through the subgraphs that hold it: ``"route"``, ``"erp/fast_path"``,
    ``"pipeline/run_listing_sync/finish"``. Compiled subgraphs on the way are rebuilt from
    their builders (keeping a binding's config, e.g. a pipeline's ``max_concurrency``); the
    original builders are left untouched.
    """
    name, _, rest = path.partition("/")
    spec = builder.nodes[name]
    if rest:
        runnable = spec.runnable
        binding = runnable if isinstance(runnable, RunnableBinding) else None
        compiled: Any = binding.bound if binding is not None else runnable
        inner = with_broken_node(compiled.builder, rest, label=label or path).compile(
            name=compiled.name
        )
        replacement: Any = inner.with_config(binding.config) if binding is not None else inner
    else:

        def broken(state: Any) -> Any:
            raise InjectedError(f"injected into {label or path}")

        replacement = RunnableLambda(broken, name=name)
    clone = copy.copy(builder)
    clone.nodes = {**builder.nodes, name: dataclasses.replace(spec, runnable=replacement)}
    return clone
