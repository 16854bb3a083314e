"""Requests flow from the supervisor into the right subgraph; the agent's tools run for real."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy import select

from graphs.nova import build_nova_graph
from nova.erp import models as erp
from nova.erp.db import ErpDatabase
from nova.erp.seed import SeedConfig, seed_database
from nova.settings import get_settings
from nova.state import NovaContext
from nova.testing import ScriptedChatModel, ScriptedModels, calls, says, tool_call


@pytest.fixture(scope="module")
def erp_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("erp") / "erp.sqlite"
    url = f"sqlite:///{path}"
    database = ErpDatabase(url)
    seed_database(database, SeedConfig(customers=40, products=60, suppliers=6, orders=300))
    database.dispose()
    yield url


@pytest.fixture
def erp_database(erp_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("NOVA_ERP_DATABASE_URL", erp_url)
    get_settings.cache_clear()
    return erp_url


def _ask(
    models: ScriptedModels, text: str, *, project: str = "parts-shop", thread: str = "t1"
) -> dict[str, Any]:
    graph = build_nova_graph(model_factory=models).compile(checkpointer=InMemorySaver())
    return graph.invoke(
        {"messages": [HumanMessage(text)]},
        {"configurable": {"thread_id": thread}},
        context=NovaContext(project=project),
    )


def _tool_results(result: dict[str, Any]) -> list[ToolMessage]:
    return [m for m in result["messages"] if isinstance(m, ToolMessage)]


def test_chat_subgraph_calculator_tool_executes() -> None:
    model = ScriptedChatModel.from_script(
        [
            calls(tool_call("calculator", expression="2340 * 17.5 / 100")),
            says("17.5% of 2340 is 409.5."),
        ]
    )
    # Worded so the model-free calculator declines ("for the report"): the agent runs.
    result = _ask(
        ScriptedModels({"calculator": model}), "What is 17.5 percent of 2340 for the report?"
    )
    assert result["route"]["agent"] == "calculator"
    assert result["route"]["subgraph"] == "chat"
    assert [m.content for m in _tool_results(result)] == ["409.5"]
    assert result["answer"] == "17.5% of 2340 is 409.5."
    assert result["agent_run"]["agent"] == "calculator"


def test_erp_subgraph_agent_queries_the_real_database(erp_database: str) -> None:
    database = ErpDatabase(erp_database, migrate=False)
    with database.read_session() as session:
        customer = session.scalars(select(erp.Customer).order_by(erp.Customer.id)).first()
        assert customer is not None
        name = customer.name
    model = ScriptedChatModel.from_script(
        [calls(tool_call("erp_find_customer", query=name)), says(f"I found {name}.")]
    )
    result = _ask(
        ScriptedModels({"erp_customers": model}),
        f"Can you look into why {name}'s account looks so bad lately?",
    )
    assert result["route"]["subgraph"] == "erp"
    assert result["route"]["agent"] == "erp_customers"
    found = _tool_results(result)
    assert len(found) == 1
    assert name in found[0].content
    assert found[0].status != "error"


def test_translation_subgraph_glossary_tool_executes() -> None:
    model = ScriptedChatModel.from_script(
        [
            calls(tool_call("glossary_add", term="Schild", protected=True)),
            says("Added 'Schild' as a protected term."),
        ]
    )
    result = _ask(
        ScriptedModels({"glossary_manager": model}),
        "Please add the term Schild to our project glossary, keep it untranslated",
        project="sign-marketplace",
    )
    assert result["route"]["agent"] == "glossary_manager"
    assert result["route"]["subgraph"] == "translation"
    saved = _tool_results(result)
    assert len(saved) == 1 and saved[0].status != "error"
    assert "Schild" in saved[0].content
    # The term really is in the project's glossary now.
    lookup = ScriptedChatModel.from_script(
        [calls(tool_call("glossary_lookup", term="Schild")), says("Schild is protected.")]
    )
    again = _ask(
        ScriptedModels({"glossary_manager": lookup}),
        "Look up the term Schild in our glossary",
        project="sign-marketplace",
        thread="t2",
    )
    assert again["route"]["agent"] == "glossary_manager"
    assert "Schild" in _tool_results(again)[0].content


def test_pipeline_subgraph_runs_the_daily_briefing_skills(erp_database: str) -> None:
    result = _ask(ScriptedModels({}), "Run the daily briefing")
    assert result["route"]["agent"] == "daily_briefing"
    assert result["route"]["subgraph"] == "pipeline"
    final = result["messages"][-1]
    assert isinstance(final, AIMessage)
    assert "Briefing" in result["answer"]
    assert result["agent_run"]["agent"] == "daily_briefing"


def test_unclear_request_is_answered_with_a_question_not_a_guess() -> None:
    result = _ask(ScriptedModels({}), "book me a flight to Rome on Friday")
    assert result["route"]["agent"] is None
    assert result["route"]["method"] == "clarify"
    assert result["answer"] == result["route"]["question"]
    assert result["agent_run"] is None


def test_threads_persist_across_invocations_with_the_sqlite_checkpointer(tmp_path: Path) -> None:
    from memory.checkpoint import open_checkpointer

    url = f"sqlite:///{tmp_path / 'checkpoints.sqlite'}"
    model = ScriptedChatModel.from_script(
        [
            calls(tool_call("calculator", expression="2 + 2")),
            says("4"),
            calls(tool_call("calculator", expression="4 * 10")),
            says("40"),
        ]
    )
    models = ScriptedModels({"calculator": model})
    config = {"configurable": {"thread_id": "persist"}}
    for text in ("Calculate 2 + 2 in my notes", "Calculate 4 * 10 in my notes"):
        with open_checkpointer(url) as saver:  # a new process would open it the same way
            graph = build_nova_graph(model_factory=models).compile(checkpointer=saver)
            graph.invoke({"messages": [HumanMessage(text)]}, config, context=NovaContext())
    with open_checkpointer(url) as saver:
        state = build_nova_graph(model_factory=models).compile(checkpointer=saver).get_state(config)
    humans = [m.content for m in state.values["messages"] if isinstance(m, HumanMessage)]
    assert humans == ["Calculate 2 + 2 in my notes", "Calculate 4 * 10 in my notes"]
    # The second turn's model call saw the first turn.
    second_prompt = model.received[2]
    assert any(
        isinstance(m, HumanMessage) and m.content == "Calculate 2 + 2 in my notes"
        for m in second_prompt
    )


def test_an_agent_not_enabled_in_the_project_is_not_run() -> None:
    # (A question that client-work's memory answers goes to memory instead: there is no ERP
    # data in that project for an ERP agent to look up; see tests/test_memory_route.py.)
    result = _ask(ScriptedModels({}), "Show me invoice INV-2025-00412", project="client-work")
    assert result["route"]["agent"] == "erp_invoices"
    assert "not enabled in project client-work" in result["answer"]
    assert result["agent_run"] is None


def test_an_unknown_project_is_refused_naming_the_known_ones() -> None:
    from nova.projects import ProjectError

    with pytest.raises(ProjectError, match=r"Unknown project 'no-such-project'.*parts-shop"):
        _ask(ScriptedModels({}), "Calculate 2 + 2", project="no-such-project")


def test_a_tool_not_enabled_in_the_project_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    from nova.projects import DEFAULT_PROJECTS_FILE

    config = yaml.safe_load(DEFAULT_PROJECTS_FILE.read_text())
    for project in config["projects"]:
        if project["id"] == "parts-shop":
            project["allowed_tools"] = ["current_datetime"]
        if project.get("seeds"):
            project["seeds"] = str(DEFAULT_PROJECTS_FILE.parent / project["seeds"])
    projects_file = tmp_path / "projects.yaml"
    projects_file.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("NOVA_PROJECTS_FILE", str(projects_file))
    get_settings.cache_clear()

    model = ScriptedChatModel.from_script(
        [calls(tool_call("calculator", expression="2 + 2")), says("I could not calculate.")]
    )
    result = _ask(ScriptedModels({"calculator": model}), "Calculate 2 + 2")
    refused = _tool_results(result)[0]
    assert refused.status == "error"
    assert "not enabled in project parts-shop" in refused.content


def test_a_long_thread_is_summarised_into_state_and_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    from memory.store import default_memory_store

    monkeypatch.setenv("NOVA_SUMMARY_TRIGGER_TOKENS", "100")
    monkeypatch.setenv("NOVA_SUMMARY_KEEP_MESSAGES", "2")
    get_settings.cache_clear()
    factors = (3, 5, 7, 9)
    model = ScriptedChatModel.from_script(
        [
            turn
            for n in factors
            for turn in (
                calls(tool_call("calculator", expression=f"{n} * 1234567 + 89")),
                says(f"The forecast figure is {n * 1234567 + 89}."),
            )
        ]
    )
    graph = build_nova_graph(model_factory=ScriptedModels({"calculator": model})).compile(
        checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "long"}}

    def turn(n: int) -> None:
        text = f"Calculate {n} * 1234567 + 89 for the quarterly parts forecast"
        graph.invoke(
            {"messages": [HumanMessage(text)]}, config, context=NovaContext(project="parts-shop")
        )

    for n in factors[:-1]:
        turn(n)
    summary_before_last_turn = graph.get_state(config).values.get("summary", "")
    turn(factors[-1])

    state = graph.get_state(config).values
    assert "Calculate 3 * 1234567 + 89" in state["summary"]
    assert len(state["messages"]) < len(factors) * 4  # older turns were folded into the summary
    assert state["messages"][-1].content == f"The forecast figure is {9 * 1234567 + 89}."
    summaries = [
        item
        for item in default_memory_store().items("parts-shop")
        if item.kind == "conversation_summary"
    ]
    assert summaries, "the summary is kept as a memory item"
    # A turn after compaction shows the summary to the agent's model.
    assert summary_before_last_turn
    assert "Summary of the earlier conversation" in model.received[-1][0].content
