"""Thread continuity: older messages are summarised (by a model or extractively) and removed."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from memory.store import MemoryStore
from nodes.summarize import extractive_summary, make_summarize_node, split_point, thread_tokens
from nova.catalog import default_catalog
from nova.settings import get_settings
from nova.state import NovaContext, NovaState
from nova.testing import ScriptedChatModel, ScriptedModels, says
from tests.memory_fixtures import (
    make_projects,
    open_store,
    refuse_chroma_default_embedding,  # noqa: F401 (autouse)
)


@pytest.fixture
def store(tmp_path: Path) -> MemoryStore:
    return open_store(tmp_path / "chroma", make_projects(tmp_path / "projects"))


@pytest.fixture(autouse=True)
def _small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVA_SUMMARY_TRIGGER_TOKENS", "150")
    monkeypatch.setenv("NOVA_SUMMARY_KEEP_MESSAGES", "2")
    get_settings.cache_clear()


def _turns(n: int) -> list[AnyMessage]:
    messages: list[AnyMessage] = []
    for i in range(n):
        messages.append(
            HumanMessage(
                f"Question {i}: how many brake discs of type BRK-10{i} are in Mannheim?", id=f"h{i}"
            )
        )
        messages.append(
            AIMessage(
                "",
                id=f"c{i}",
                name="erp_inventory",
                tool_calls=[
                    {"name": "erp_stock_level", "args": {"sku": f"BRK-10{i}"}, "id": f"t{i}"}
                ],
            )
        )
        messages.append(ToolMessage(f"{i * 7} in stock", tool_call_id=f"t{i}", id=f"r{i}"))
        messages.append(
            AIMessage(
                f"There are {i * 7} brake discs BRK-10{i} in Mannheim.",
                id=f"a{i}",
                name="erp_inventory",
            )
        )
    return messages  # fmt: skip


def _graph(node: object) -> object:
    builder = StateGraph(NovaState, context_schema=NovaContext)
    builder.add_node("summarize", node)  # type: ignore[call-overload]
    builder.add_edge(START, "summarize")
    builder.add_edge("summarize", END)
    return builder.compile(checkpointer=InMemorySaver())


def test_extractive_summary_folds_old_turns_removes_them_and_saves_a_memory(
    store: MemoryStore,
) -> None:
    graph = _graph(
        make_summarize_node(ScriptedModels({}), store=lambda: store, max_summary_tokens=500)
    )
    config = {"configurable": {"thread_id": "thread-1"}}
    messages = _turns(4)
    assert thread_tokens(messages) > 150

    result = graph.invoke(
        {"messages": messages, "project": "alpha-co"}, config, context=NovaContext()
    )  # type: ignore[attr-defined]
    kept = result["messages"]
    assert [m.id for m in kept] == [
        "h3",
        "c3",
        "r3",
        "a3",
    ]  # moved back to the start of the last turn
    summary = result["summary"]
    assert "- User asked: Question 0: how many brake discs of type BRK-100" in summary
    answer = "There are 14 brake discs BRK-102 in Mannheim."
    assert f"- erp_inventory answered (using erp_stock_level): {answer}" in summary
    assert "Question 3" not in summary  # still in the thread, not summarised

    saved = [i for i in store.items("alpha-co") if i.kind == "conversation_summary"]
    assert len(saved) == 1 and saved[0].text == summary
    assert saved[0].source == "thread:thread-1" and saved[0].topic == "thread:thread-1"


def test_a_users_thread_summary_is_saved_in_that_users_memory_only(store: MemoryStore) -> None:
    graph = _graph(
        make_summarize_node(ScriptedModels({}), store=lambda: store, max_summary_tokens=500)
    )
    config = {"configurable": {"thread_id": "alice-thread"}}
    result = graph.invoke(  # type: ignore[attr-defined]
        {"messages": _turns(4), "project": "alpha-co"}, config, context=NovaContext(user_id="alice")
    )

    def summaries(owner: str | None) -> list[str]:
        items = store.for_owner(owner).items("alpha-co")
        return [item.text for item in items if item.kind == "conversation_summary"]

    assert summaries("alice") == [result["summary"]]
    assert summaries("bob") == [] and summaries(None) == []


def test_a_later_summary_of_the_same_thread_supersedes_the_earlier_one(store: MemoryStore) -> None:
    graph = _graph(
        make_summarize_node(ScriptedModels({}), store=lambda: store, max_summary_tokens=500)
    )
    config = {"configurable": {"thread_id": "thread-2"}}
    first = graph.invoke(
        {"messages": _turns(4), "project": "alpha-co"}, config, context=NovaContext()
    )  # type: ignore[attr-defined]
    more = [
        HumanMessage(f"Follow-up {i}: and the discs of type BRK-20{i} in Hamburg?", id=f"f{i}")
        for i in range(6)
    ]
    second = graph.invoke({"messages": more}, config, context=NovaContext())  # type: ignore[attr-defined]

    assert second["summary"].startswith(
        first["summary"].splitlines()[0]
    )  # the running summary grows
    summaries = [i for i in store.items("alpha-co") if i.kind == "conversation_summary"]
    assert len(summaries) == 2
    current = [i for i in summaries if i.active]
    assert len(current) == 1 and current[0].text == second["summary"]
    chain = store.history("alpha-co", current[0].id)
    assert [i.text for i in chain] == [first["summary"], second["summary"]]
    assert [i.active for i in chain] == [False, True]


def test_the_memory_curator_model_writes_the_summary_when_there_is_one(store: MemoryStore) -> None:
    model = ScriptedChatModel.from_script(
        [says("- Owner checked BRK-100 to BRK-102 stock in Mannheim (0, 7, 14).")]
    )
    graph = _graph(
        make_summarize_node(ScriptedModels({"memory_curator": model}), store=lambda: store)
    )
    result = graph.invoke(  # type: ignore[attr-defined]
        {
            "messages": _turns(4),
            "project": "alpha-co",
            "summary": "- Earlier: owner asked about filters.",
        },
        {"configurable": {"thread_id": "t3"}},
        context=NovaContext(),
    )
    assert result["summary"] == "- Owner checked BRK-100 to BRK-102 stock in Mannheim (0, 7, 14)."
    prompt = model.received[0]
    assert isinstance(prompt[0], SystemMessage) and "running summary" in str(prompt[0].content)
    request = str(prompt[1].content)
    assert "Earlier summary:\n- Earlier: owner asked about filters." in request
    assert "User: Question 2: how many brake discs of type BRK-102" in request
    assert "erp_inventory called tools: erp_stock_level({'sku': 'BRK-101'})" in request
    assert "Question 3" not in request
    assert default_catalog()["memory_curator"].name == "memory_curator"


def test_a_short_thread_is_left_alone(store: MemoryStore) -> None:
    node = make_summarize_node(ScriptedModels({}), store=lambda: store)
    graph = _graph(node)
    result = graph.invoke(
        {"messages": _turns(1), "project": "alpha-co"},
        {"configurable": {"thread_id": "t4"}},
        context=NovaContext(),
    )  # type: ignore[attr-defined]
    assert len(result["messages"]) == 4 and "summary" not in result


def test_split_point_never_orphans_a_tool_result() -> None:
    messages = _turns(3)
    assert split_point(messages, 2) == 8  # back to the last turn's question
    no_humans: list[AnyMessage] = [
        AIMessage("", id="c", tool_calls=[{"name": "x", "args": {}, "id": "t"}]),
        ToolMessage("r", tool_call_id="t", id="r"),
        AIMessage("done", id="a"),
    ]
    assert split_point(no_humans, 1) == 2 and split_point(no_humans, 2) == 0


def test_the_running_summary_drops_its_oldest_lines_to_stay_small(store: MemoryStore) -> None:
    graph = _graph(
        make_summarize_node(ScriptedModels({}), store=lambda: store, max_summary_tokens=60)
    )
    result = graph.invoke(
        {"messages": _turns(4), "project": "alpha-co"},
        {"configurable": {"thread_id": "t5"}},
        context=NovaContext(),
    )  # type: ignore[attr-defined]
    lines = result["summary"].splitlines()
    assert lines[0].startswith("- (") and "older summary lines dropped" in lines[0]
    answer = "There are 14 brake discs BRK-102 in Mannheim."
    assert lines[-1] == f"- erp_inventory answered (using erp_stock_level): {answer}"


def test_extractive_summary_truncates_long_messages() -> None:
    lines = extractive_summary(
        [HumanMessage("word " * 500), AIMessage("answer " * 500, name="general_chat")]
    )
    assert lines[0].startswith("- User asked: word word") and lines[0].endswith(" …")
    assert lines[1].startswith("- general_chat answered: answer") and len(lines[1]) < 1000
