"""Conversations through the whole Nova graph, for tests that follow a thread turn by turn."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from graphs.nova import build_nova_graph
from nova.state import NovaContext
from nova.testing import ScriptedModels


def scripted_graph() -> Any:
    """The Nova graph with scripted models (none answers) and an in-memory checkpointer."""
    return build_nova_graph(model_factory=ScriptedModels()).compile(checkpointer=InMemorySaver())


def turn(graph: Any, text: str, thread: str, **context: Any) -> dict[str, Any]:
    """Send ``text`` as the next turn of ``thread``; ``context`` fills ``NovaContext``."""
    return graph.invoke(
        {"messages": [HumanMessage(text)]},
        {"configurable": {"thread_id": thread}},
        context=NovaContext(**context),
    )
