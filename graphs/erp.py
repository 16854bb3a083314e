"""The erp subgraph: ERP specialists answering from the ERP database (invoices, stock, orders…).

A well-defined request (confident route, parameters resolved from the database) is answered
by the model-free fast path; anything else goes to the agent, whose tools are the same skills.
"""

from __future__ import annotations

from collections.abc import Callable

from langgraph.graph import StateGraph

from graphs.common import build_agent_subgraph, shared_subgraph
from nodes.erp_fast_path import make_erp_fast_path_node
from nova.catalog import AgentSpec, Catalog
from nova.erp.db import ErpDatabase
from nova.models import ModelFactory
from nova.state import AgentLoopState, NovaContext


def build_erp_graph(
    *,
    catalog: Catalog[AgentSpec] | None = None,
    model_factory: ModelFactory | None = None,
    database: ErpDatabase | Callable[[], ErpDatabase] | None = None,
    fast_path: bool = True,
) -> StateGraph[AgentLoopState, NovaContext, AgentLoopState, AgentLoopState]:
    """Build (not compile) the erp subgraph: entry check, fast path, then agent ⇄ tools.

    Args:
        catalog: Agents; the configured catalog by default.
        model_factory: How agents get models; settings-driven by default.
        database: ERP database for the fast path; the configured one by default.
        fast_path: Answer well-defined requests without a model (on by default).

    """
    node = make_erp_fast_path_node(database=database, catalog=catalog) if fast_path else None
    return build_agent_subgraph("erp", catalog=catalog, model_factory=model_factory, fast_path=node)


# Compiled once per process and shared with the supervisor (graphs.common.shared_subgraph).
graph = shared_subgraph("erp")
