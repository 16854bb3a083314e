"""Shared helpers for the memory tests: throw-away stores, a small projects file, a tool loop."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import chromadb
import pytest
from chromadb.api.types import DefaultEmbeddingFunction
from chromadb.config import Settings as ChromaSettings
from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import ToolNode

from memory.store import MemoryStore
from nova.projects import Projects, load_projects
from nova.state import NovaContext, NovaState
from nova.testing import ScriptedChatModel

PROJECTS_YAML = """
projects:
  - id: alpha-co
    name: Alpha Co
    description: Alpha's machine shop, the project a test run is scoped to.
    allowed_agents: [memory_curator, general_chat]
    allowed_tools: all
    glossary:
      - term: AlphaMill
        protected: true
      - term: Fräse
        translations: {en: milling machine}
    seeds: alpha-seeds.yaml
  - id: beta-co
    name: Beta Co
    description: Beta's parts shop, whose secrets must never reach Alpha's runs.
    seeds: beta-seeds.yaml
"""

ALPHA_SEEDS = """
memories:
  - text: Alpha Co's milling machines are serviced every March by Hansen Service.
  - kind: decision
    topic: alpha-shipping
    text: Alpha Co ships all orders with DHL Express.
"""

BETA_SEEDS = """
memories:
  - text: "Beta Co secret: the parts-shop supplier discount code is BETA-7781."
  - kind: preference
    text: Beta Co wants invoices as XRechnung files only.
"""


@pytest.fixture(autouse=True)
def refuse_chroma_default_embedding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if Chroma's default (model-downloading) embedding function is ever used.

    Import it into a test module to make it autouse there.
    """

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("chromadb's default (downloading) embedding function was used")

    def refuse_call(self: object, input: object) -> None:  # Chroma checks this signature
        refuse()

    monkeypatch.setattr(ONNXMiniLM_L6_V2, "__init__", refuse)
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "__call__", refuse_call)
    monkeypatch.setattr(DefaultEmbeddingFunction, "__call__", refuse_call)


def write_projects(folder: Path) -> Path:
    """Write the two-project test file (and its seed files) into ``folder``; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "alpha-seeds.yaml").write_text(ALPHA_SEEDS, encoding="utf-8")
    (folder / "beta-seeds.yaml").write_text(BETA_SEEDS, encoding="utf-8")
    path = folder / "projects.yaml"
    path.write_text(PROJECTS_YAML, encoding="utf-8")
    return path


def chroma_client(folder: Path) -> chromadb.ClientAPI:
    """Open a persistent Chroma in ``folder`` (telemetry off)."""
    return chromadb.PersistentClient(
        path=str(folder), settings=ChromaSettings(anonymized_telemetry=False)
    )


def open_store(folder: Path, projects: Projects | None = None, **kwargs: Any) -> MemoryStore:
    """Open a store in ``folder``; with ``projects`` it refuses unknown ids and seeds new ones."""
    return MemoryStore(chroma_client(folder), projects=projects, **kwargs)


def make_projects(folder: Path) -> Projects:
    """Load the two-project test file written into ``folder``."""
    return load_projects(write_projects(folder))


def store_for_memory_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MemoryStore:
    """Open the local owner's store over the two seeded test projects and give it to the tools.

    The projects file becomes ``NOVA_PROJECTS_FILE`` (``project_info`` reads it) and the
    memory tools open this store instead of the configured one.
    """
    import tools.memory_tools as memory_tools
    from nova.settings import get_settings

    projects_file = write_projects(tmp_path / "projects")
    monkeypatch.setenv("NOVA_PROJECTS_FILE", str(projects_file))
    get_settings.cache_clear()
    opened = open_store(tmp_path / "chroma", make_projects(tmp_path / "projects"))
    monkeypatch.setattr(memory_tools, "_open_store", lambda: opened)
    return opened


def run_tool_loop(
    model: ScriptedChatModel,
    tools: Sequence[BaseTool],
    request: str,
    *,
    context: NovaContext,
    state_project: str | None = None,
) -> list[AnyMessage]:
    """Run ``model`` in a minimal agent ⇄ ToolNode loop and return the final messages."""

    def agent(state: NovaState) -> dict[str, list[AnyMessage]]:
        response = model.bind_tools(list(tools)).invoke(state["messages"])
        assert isinstance(response, AIMessage)
        return {"messages": [response]}

    def route(state: NovaState) -> str:
        last = state["messages"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else END

    builder = StateGraph(NovaState, context_schema=NovaContext)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode(list(tools), handle_tool_errors=True))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route, ["tools", END])
    builder.add_edge("tools", "agent")
    state: dict[str, Any] = {"messages": [HumanMessage(request)]}
    if state_project:
        state["project"] = state_project
    result = builder.compile().invoke(state, context=context)
    return list(result["messages"])
