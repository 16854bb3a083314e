"""The pipeline subgraph: Multi-step pipelines (daily briefing, weekly report, reminders, listings, content)."""

from __future__ import annotations

from langgraph.graph import StateGraph

from graphs.common import build_agent_subgraph
from nova.catalog import AgentSpec, Catalog
from nova.models import ModelFactory
from nova.state import NovaContext, NovaState


def build_pipeline_graph(
    *, catalog: Catalog[AgentSpec] | None = None, model_factory: ModelFactory | None = None
) -> StateGraph[NovaState, NovaContext, NovaState, NovaState]:
    """Build (not compile) the pipeline subgraph: entry check, then the agent ⇄ tools loop."""
    return build_agent_subgraph("pipeline", catalog=catalog, model_factory=model_factory)


graph = build_pipeline_graph().compile(name="pipeline")
