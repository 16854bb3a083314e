"""The translation subgraph: Language work: translation, proofreading, summaries, tone, localisation, glossary."""

from __future__ import annotations

from langgraph.graph import StateGraph

from graphs.common import build_agent_subgraph
from nova.catalog import AgentSpec, Catalog
from nova.models import ModelFactory
from nova.state import NovaContext, NovaState


def build_translation_graph(
    *, catalog: Catalog[AgentSpec] | None = None, model_factory: ModelFactory | None = None
) -> StateGraph[NovaState, NovaContext, NovaState, NovaState]:
    """Build (not compile) the translation subgraph: entry check, then the agent ⇄ tools loop."""
    return build_agent_subgraph("translation", catalog=catalog, model_factory=model_factory)


graph = build_translation_graph().compile(name="translation")
