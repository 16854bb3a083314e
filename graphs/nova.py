"""The supervisor graph served as ``nova``: intake → recall → route → subgraph → respond.

Every request takes this one explicit path; the four subgraphs are compiled once and added
as nodes, so ``get_graph(xray=True)`` (and Studio) show the whole system. Choosing the
subgraph (``dispatch``) and deciding whether a long thread needs compacting
(``needs_summary``) are edges, not nodes: every step is a checkpoint write, and a turn
takes only the steps that do work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from graphs.chat import build_chat_graph
from graphs.common import shared_subgraph
from graphs.erp import build_erp_graph
from graphs.pipeline import build_pipeline_graph
from graphs.translation import build_translation_graph
from memory.store import MemoryStore
from nodes.recall import make_recall_node
from nodes.router import Router, make_route_node, nova_router
from nodes.summarize import make_summarize_node, needs_summary
from nodes.supervisor import dispatch, intake, respond, with_unroutable_reply
from nova.catalog import AgentSpec, Catalog, CatalogError, default_catalog
from nova.ledger.routing import RoutingLedger
from nova.models import ModelFactory, default_model_factory
from nova.state import NovaContext, NovaInput, NovaOutput, NovaState
from nova.tracing import traced


def _router_while_configured(catalog: Catalog[AgentSpec]) -> Callable[[], Router]:
    """Return Nova's shared router while the configured catalog is ``catalog``, else its own.

    The configured catalog follows its files (``nova agents new`` takes effect in the next
    process), but a built graph can only run the agents it was built with: once the files
    change, a running graph routes among its own agents until it is rebuilt (a restart).
    """
    own: list[Router] = []
    lock = threading.Lock()

    def get() -> Router:
        try:
            configured: Catalog[AgentSpec] | None = default_catalog()
        except CatalogError:  # files broken while running: keep serving what was built
            configured = None
        if configured is not None and configured.version == catalog.version:
            return nova_router(catalog=configured)
        with lock:
            if not own:
                own.append(Router.from_catalog(catalog))
            return own[0]

    return get


def build_nova_graph(
    *,
    catalog: Catalog[AgentSpec] | None = None,
    model_factory: ModelFactory | None = None,
    router: Callable[[], Router] | None = None,
    ledger: RoutingLedger | None = None,
    memory: Callable[[], MemoryStore] | None = None,
) -> StateGraph[NovaState, NovaContext, NovaInput, NovaOutput]:
    """Build (not compile) the supervisor graph.

    Args:
        catalog: Agents to run; the configured catalog by default.
        model_factory: How agents get models; settings-driven by default. Tests pass
            ``nova.testing.ScriptedModels``.
        router: Returns the router to use (built lazily); by default Nova's shared router
            while the configured catalog is unchanged since the build.
        ledger: Routing ledger; the configured one by default.
        memory: Returns the memory store for recall; the configured one by default.

    """
    # The default build shares its compiled subgraphs with the served ones (once per process).
    shared = catalog is None and model_factory in (None, default_model_factory)
    if router is None and catalog is None:
        router = _router_while_configured(default_catalog())
    catalog = catalog or default_catalog()
    model_factory = model_factory or default_model_factory
    builder = StateGraph(
        NovaState, context_schema=NovaContext, input_schema=NovaInput, output_schema=NovaOutput
    )
    builder.add_node("intake", intake)
    builder.add_node("recall", make_recall_node(memory))
    route = make_route_node(
        router=router, ledger=ledger, model_factory=model_factory, catalog=catalog, memory=memory
    )
    builder.add_node("route", with_unroutable_reply(route))
    subgraphs: dict[str, Callable[..., StateGraph[Any, NovaContext, Any, Any]]] = {
        "chat": build_chat_graph,
        "erp": build_erp_graph,
        "translation": build_translation_graph,
        "pipeline": build_pipeline_graph,
    }
    for name, build in subgraphs.items():
        # The default build is shared with the served subgraphs: compiled once per process.
        compiled = (
            shared_subgraph(name)  # type: ignore[arg-type]  # the keys are Subgraph names
            if shared
            else build(catalog=catalog, model_factory=model_factory).compile(name=name)
        )
        builder.add_node(name, compiled)
        builder.add_edge(name, "respond")
    builder.add_node("respond", respond)
    # Long threads are compacted after the answer: the summary stays in state and memory.
    builder.add_node(
        "summarize",
        make_summarize_node(model_factory, catalog=catalog, store=memory),  # type: ignore[arg-type]  # LangGraph types no (state, config, runtime) node
    )

    builder.add_edge(START, "intake")
    builder.add_edge("intake", "recall")
    builder.add_edge("recall", "route")
    builder.add_conditional_edges("route", dispatch)
    builder.add_conditional_edges("respond", needs_summary)
    builder.add_edge("summarize", END)
    return builder


_default_lock = threading.Lock()
_default: dict[str, CompiledStateGraph[NovaState, NovaContext, NovaInput, NovaOutput]] = {}


def default_nova_graph() -> CompiledStateGraph[NovaState, NovaContext, NovaInput, NovaOutput]:
    """Return the default supervisor, compiled once per process and catalog version (untraced).

    The CLI and scripts attach their checkpointer with ``.copy(update={"checkpointer": ...})``
    instead of building the graph again; the served ``graph`` below is this one, traced.
    """
    version = default_catalog().version
    with _default_lock:
        if version not in _default:
            _default[version] = build_nova_graph().compile(name="nova")
        return _default[version]


# Served graph: traced locally (and to LangSmith / OpenTelemetry when configured); the
# server supplies the checkpointer and store.
graph = traced(default_nova_graph())
