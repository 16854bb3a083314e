"""The chat subgraph: general chat, project briefings and the 'other' agents (memory, web, …)."""

from __future__ import annotations

from langgraph.graph import StateGraph

from graphs.common import build_agent_subgraph, shared_subgraph
from nodes.calculator_fast_path import make_calculator_fast_path_node
from nova.catalog import AgentSpec, Catalog
from nova.models import ModelFactory
from nova.state import AgentLoopState, NovaContext


def build_chat_graph(
    *, catalog: Catalog[AgentSpec] | None = None, model_factory: ModelFactory | None = None
) -> StateGraph[AgentLoopState, NovaContext, AgentLoopState, AgentLoopState]:
    """Build (not compile) the chat subgraph: entry check, fast path, then agent ⇄ tools.

    The fast path answers exactly stated arithmetic for agents with the calculator tool
    (``nodes.calculator_fast_path``); everything else goes to the agent.
    """
    return build_agent_subgraph(
        "chat",
        catalog=catalog,
        model_factory=model_factory,
        fast_path=make_calculator_fast_path_node(catalog),
    )


# Compiled once per process and shared with the supervisor (graphs.common.shared_subgraph).
graph = shared_subgraph("chat")
