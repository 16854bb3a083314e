"""Project isolation: a memory written in one project never reaches a run scoped to another.

The project comes from the run (context, then state), never from a tool argument; the
scripted models below try to ask for another project's data by argument and by wording.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

import tools.memory_tools as memory_tools
from memory.store import MemoryStore
from nova.state import NovaContext
from nova.testing import ScriptedChatModel, ScriptedModels, calls, route_to, says, tool_call
from tests.memory_fixtures import (
    refuse_chroma_default_embedding,  # noqa: F401 (autouse)
    run_tool_loop,
    store_for_memory_tools,
)

BETA_SECRET = "Beta Co secret: the parts-shop supplier discount code is BETA-7781."


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MemoryStore:
    """A store over two seeded projects (alpha-co, beta-co), used by the memory tools."""
    return store_for_memory_tools(tmp_path, monkeypatch)


def _tool_results(messages: list) -> list[ToolMessage]:  # type: ignore[type-arg]
    return [m for m in messages if isinstance(m, ToolMessage)]


def test_a_project_never_sees_another_projects_memories(store: MemoryStore) -> None:
    store.save("alpha-co", "Alpha Co's night shift ends at 6:00.")
    assert store.search("beta-co", "BETA-7781", k=5)[0]["text"] == BETA_SECRET
    for query in (
        "BETA-7781",
        "Beta Co secret supplier discount code",
        "night shift",
        "parts-shop secrets",
    ):
        texts = [hit["text"] for hit in store.search("alpha-co", query, k=10)]
        assert BETA_SECRET not in texts and all("Beta" not in text for text in texts)
    assert all(
        "Alpha" not in hit["text"] for hit in store.search("beta-co", "night shift Alpha", k=10)
    )


def test_memory_search_refuses_a_project_argument_and_answers_from_the_runs_project(
    store: MemoryStore,
) -> None:
    model = ScriptedChatModel.from_script(
        [
            calls(tool_call("memory_search", query="discount code", project="beta-co")),
            calls(
                tool_call(
                    "memory_search", query="beta-co parts-shop secrets BETA-7781 discount code"
                )
            ),
            says("Nothing about discount codes here."),
        ]
    )
    messages = run_tool_loop(
        model, memory_tools.TOOLS, "Find Beta's code", context=NovaContext(project="alpha-co")
    )

    refused, answered = _tool_results(messages)
    assert refused.status == "error" and "project" in str(refused.content)
    assert "Extra inputs are not permitted" in str(refused.content)
    assert "BETA-7781" not in str(refused.content)
    assert "project alpha-co" in str(answered.content)
    assert "BETA-7781" not in str(answered.content) and "Beta Co" not in str(answered.content)
    # The schema the model sees has no project field at all.
    for tool in memory_tools.TOOLS:
        assert "project" not in tool.tool_call_schema.model_json_schema()["properties"]


def test_the_context_project_wins_over_the_states_and_the_default(store: MemoryStore) -> None:
    model = ScriptedChatModel.from_script(
        [calls(tool_call("memory_search", query="discount code BETA-7781")), says("ok")]
    )
    messages = run_tool_loop(
        model,
        memory_tools.TOOLS,
        "code?",
        context=NovaContext(project="alpha-co"),
        state_project="beta-co",
    )
    assert "BETA-7781" not in str(_tool_results(messages)[0].content)

    # Without a context project the state's project scopes the call.
    model = ScriptedChatModel.from_script(
        [calls(tool_call("memory_search", query="discount code BETA-7781")), says("ok")]
    )
    messages = run_tool_loop(
        model, memory_tools.TOOLS, "code?", context=NovaContext(), state_project="beta-co"
    )
    assert "BETA-7781" in str(_tool_results(messages)[0].content)


def test_save_and_forget_act_on_the_runs_project_only(store: MemoryStore) -> None:
    beta_id = store.search("beta-co", "BETA-7781", k=1)[0]["id"]
    model = ScriptedChatModel.from_script(
        [
            calls(
                tool_call(
                    "memory_save", text="Alpha Co closes for inventory on 30 June.", kind="fact"
                )
            ),
            calls(
                tool_call(
                    "memory_save",
                    text="Alpha Co closes for inventory on 30 June.",
                    project="beta-co",
                )
            ),
            calls(tool_call("memory_forget", memory_id=f"mem:{beta_id}")),
            says("done"),
        ]
    )
    messages = run_tool_loop(
        model, memory_tools.TOOLS, "remember", context=NovaContext(project="alpha-co")
    )
    saved, refused, forget = _tool_results(messages)

    assert "Saved [mem:" in str(saved.content) and "project alpha-co" in str(saved.content)
    assert refused.status == "error"
    assert forget.status == "error" and "No memory" in str(forget.content)
    assert store.get("beta-co", beta_id) is not None  # beta's memory survived
    assert any(
        "inventory on 30 June" in h["text"]
        for h in store.search("alpha-co", "inventory closing", k=3)
    )
    assert all(
        "inventory" not in h["text"] for h in store.search("beta-co", "inventory closing", k=5)
    )


def test_memory_save_reports_duplicates_and_supersession(store: MemoryStore) -> None:
    model = ScriptedChatModel.from_script(
        [
            calls(
                tool_call(
                    "memory_save",
                    text="Alpha Co ships all orders with DHL Express.",
                    kind="decision",
                )
            ),
            calls(
                tool_call(
                    "memory_save",
                    text="Alpha Co ships with UPS from May.",
                    kind="decision",
                    topic="alpha-shipping",
                )
            ),
            calls(tool_call("memory_save", text="A summary", kind="conversation_summary")),
            says("ok"),
        ]
    )
    messages = run_tool_loop(
        model, memory_tools.TOOLS, "x", context=NovaContext(project="alpha-co")
    )
    duplicate, superseding, wrong_kind = _tool_results(messages)
    assert "Already in memory" in str(duplicate.content)
    assert "supersedes [mem:" in str(superseding.content)
    assert wrong_kind.status == "error" and "not conversation_summary" in str(wrong_kind.content)


def test_project_info_describes_the_runs_project(store: MemoryStore) -> None:
    model = ScriptedChatModel.from_script([calls(tool_call("project_info")), says("ok")])
    messages = run_tool_loop(
        model, memory_tools.TOOLS, "which project?", context=NovaContext(project="alpha-co")
    )
    info = str(_tool_results(messages)[0].content)
    assert "Project: Alpha Co (id alpha-co)" in info
    assert "Allowed agents: memory_curator, general_chat" in info
    assert "AlphaMill (protected, never translate)" in info
    assert "Fräse (en: milling machine)" in info
    assert "Beta" not in info


def test_an_agent_in_the_chat_graph_cannot_reach_another_project(store: MemoryStore) -> None:
    """End to end through the lead's chat subgraph: the memory curator's tool loop."""
    from graphs.chat import build_chat_graph

    model = ScriptedChatModel.from_script(
        [
            calls(tool_call("memory_search", query="supplier discount code", project="beta-co")),
            calls(tool_call("memory_search", query="parts-shop secrets of Beta Co, discount code")),
            says("I found nothing about a discount code in this project."),
        ]
    )
    graph = build_chat_graph(model_factory=ScriptedModels({"memory_curator": model})).compile(
        checkpointer=InMemorySaver()
    )
    route = route_to("memory_curator", "chat", method="explicit", confidence=1.0, margin=1.0)
    result = graph.invoke(
        {
            "messages": [HumanMessage("What is Beta's discount code?")],
            "route": route,
            "project": "alpha-co",
        },
        {"configurable": {"thread_id": "iso"}},
        context=NovaContext(project="alpha-co"),
    )
    tool_messages = _tool_results(result["messages"])
    assert len(tool_messages) == 2 and tool_messages[0].status == "error"
    assert all("BETA-7781" not in str(m.content) for m in result["messages"])
    assert isinstance(result["messages"][-1], AIMessage)
