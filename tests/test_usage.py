"""What each answer costs: usage records per model call, `nova stats`, the daily token budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from typer.testing import CliRunner

from graphs.chat import build_chat_graph
from nova.cli import app
from nova.ledger.failures import FailureLedger
from nova.ledger.usage import UsageLedger, new_usage
from nova.settings import ModelPrice, get_settings, load_settings
from nova.state import NovaContext
from nova.testing import (
    ScriptedChatModel,
    ScriptedModels,
    calls,
    route_to,
    says,
    tool_call,
    with_usage,
)
from nova.tracing import flush_traces
from nova.tracing.usage import UsageRecorder


def _run(models: ScriptedModels, agent: str, text: str, *, project: str = "parts-shop") -> Any:
    graph = build_chat_graph(model_factory=models).compile(checkpointer=InMemorySaver())
    state = {
        "messages": [HumanMessage(text)],
        "route": route_to(agent, "chat", method="explicit"),
        "request": text,
        "project": project,
    }
    recorder = UsageRecorder()
    config: Any = {"configurable": {"thread_id": "t1"}, "callbacks": [recorder]}
    result = graph.invoke(state, config, context=NovaContext(project=project))
    assert flush_traces(5)
    return result, recorder


def test_every_model_call_is_recorded_with_its_tokens_model_agent_and_latency() -> None:
    model = ScriptedChatModel.from_script(
        [
            with_usage(calls(tool_call("calculator", expression="2+2")), prompt=120, completion=9),
            with_usage(says("2 + 2 = 4."), prompt=150, completion=7, cached=100),
        ],
        model_name="gpt-4o-mini",
    )
    result, _ = _run(ScriptedModels({"calculator": model}), "calculator", "what is 2+2 really?")
    assert result["messages"][-1].content == "2 + 2 = 4."

    records = UsageLedger().list(thread_id="t1")
    assert [(r.kind, r.agent, r.node, r.model, r.project) for r in records] == [
        ("model", "calculator", "agent", "gpt-4o-mini", "parts-shop")
    ] * 2
    assert [(r.prompt_tokens, r.completion_tokens, r.cached_tokens) for r in records] == [
        (120, 9, 0),
        (150, 7, 100),
    ]
    assert all(r.latency_ms >= 0 and r.status == "ok" and r.run_id for r in records)
    assert len({r.run_id for r in records}) == 1


def test_a_fast_path_answer_is_recorded_as_model_free() -> None:
    # Exactly stated arithmetic is answered by the calculator fast path: no model at all.
    model = ScriptedChatModel.from_script([says("unused")])
    result, _ = _run(ScriptedModels({"calculator": model}), "calculator", "17.5% of 2340")
    assert result["agent_run"]["outcome"] == "fast_path"
    assert model.received == []
    summary = UsageLedger().summary()
    assert summary.rows == []
    assert summary.model_free_answers == 1
    assert summary.model_free_by_agent == {"calculator": 1}


def test_a_spent_budget_refuses_the_call_with_a_clear_answer_and_a_failure_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NOVA_PROJECT_TOKEN_BUDGETS", "parts-shop=1000")
    get_settings.cache_clear()
    ledger = UsageLedger()
    ledger.save(new_usage("model", project="parts-shop", prompt_tokens=900, completion_tokens=50))
    model = ScriptedChatModel.from_script(
        [with_usage(says("first"), prompt=40, completion=20), says("never")]
    )
    models = ScriptedModels({"general_chat": model})

    # 950 spent: this call may still run (and takes the project to 1,010).
    result, _ = _run(models, "general_chat", "tell me something")
    assert result["messages"][-1].content == "first"

    result, _ = _run(models, "general_chat", "and something else")
    answer = result["messages"][-1].content
    assert "daily model budget" in answer and "1,010 of 1,000" in answer
    assert "NOVA_PROJECT_TOKEN_BUDGETS" in answer
    assert len(model.received) == 1  # the second call never reached the model
    assert result["agent_run"]["outcome"] == "needs_model"
    failures = FailureLedger().list(kind="budget_exceeded")
    assert len(failures) == 1 and failures[0].project == "parts-shop"

    # Another project has its own budget (none here): its calls go through.
    other = ScriptedChatModel.from_script([says("other project")])
    result, _ = _run(
        ScriptedModels({"general_chat": other}), "general_chat", "hi", project="personal"
    )
    assert result["messages"][-1].content == "other project"


def test_prices_parse_from_pairs_or_json_and_cost_counts_cached_tokens_apart() -> None:
    settings = load_settings(model_prices="gpt-4o-mini=0.15/0.60/0.075,llama3.1=0/0")
    price = settings.model_prices["gpt-4o-mini"]
    assert price == ModelPrice(input=0.15, output=0.60, cached=0.075)
    # 1M prompt tokens, half cached, and 1M completion tokens.
    assert price.cost(1_000_000, 1_000_000, 500_000) == pytest.approx(
        0.5 * 0.15 + 0.5 * 0.075 + 0.60
    )
    as_json = load_settings(model_prices='{"m": {"input": 1, "output": 2}}')
    assert as_json.model_prices["m"].cost(1_000_000, 0, 1_000_000) == pytest.approx(1.0)
    from nova.settings import SettingsError

    with pytest.raises(SettingsError, match="NOVA_MODEL_PRICES"):
        load_settings(model_prices="gpt-4o-mini=0.15")


def test_nova_stats_prints_calls_tokens_cost_and_model_free_answers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NOVA_MODEL_PRICES", "gpt-4o-mini=0.15/0.60/0.075")
    get_settings.cache_clear()
    ledger = UsageLedger()
    for _ in range(3):
        ledger.save(
            new_usage(
                "model",
                project="parts-shop",
                agent="erp_invoices",
                model="gpt-4o-mini",
                prompt_tokens=1000,
                completion_tokens=200,
                cached_tokens=400,
                latency_ms=300,
            )
        )
    ledger.save(
        new_usage(
            "model",
            project="personal",
            agent="general_chat",
            model="llama3.1",
            prompt_tokens=50,
            completion_tokens=5,
        )
    )
    ledger.save(new_usage("model_free", project="parts-shop", agent="erp_invoices"))
    old = new_usage(
        "model",
        project="parts-shop",
        agent="erp_invoices",
        model="gpt-4o-mini",
        prompt_tokens=10**6,
    )
    ledger.save(
        old.__class__(
            **{
                **{k: getattr(old, k) for k in old.__slots__},
                "created_at": datetime.now(UTC) - timedelta(days=3),
            }
        )
    )

    from nova.cli.apps import console

    monkeypatch.setattr(console, "width", 200)
    runner = CliRunner()
    result = runner.invoke(app, ["stats", "--since", "1d", "--project", "parts-shop"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "erp_invoices" in out and "gpt-4o-mini" in out and "general_chat" not in out
    assert "3,000" in out  # prompt tokens of today's three calls (the old call is excluded)
    # 3 x (600 fresh x 0.15 + 400 cached x 0.075 + 200 x 0.60) / 1M
    assert "0.000720" in out
    assert "model-free answers: 1" in out

    everything = runner.invoke(app, ["stats", "--since", "7d"])
    assert everything.exit_code == 0, everything.output
    assert "general_chat" in everything.output
    assert "no price for llama3.1" in everything.output

    one_agent = runner.invoke(app, ["stats", "--agent", "general_chat"])
    assert "erp_invoices" not in one_agent.output and "general_chat" in one_agent.output

    bad = runner.invoke(app, ["stats", "--since", "yesterdayish"])
    assert bad.exit_code == 2


@pytest.mark.allow_model_client
def test_the_model_client_asks_for_usage_on_streamed_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nova.catalog import load_catalog
    from nova.concurrency import LimitedChatModel
    from nova.models import build_chat_model

    monkeypatch.setenv("NOVA_MODEL_BASE_URL", "http://127.0.0.1:8080/v1")
    monkeypatch.setenv("NOVA_MODEL_NAME", "qwen2.5")
    spec = load_catalog()["general_chat"]
    built = build_chat_model(spec, settings=load_settings())
    assert isinstance(built, LimitedChatModel)
    assert built.inner.stream_usage is True  # type: ignore[attr-defined]
    off = build_chat_model(spec, settings=load_settings(model_stream_usage=False))
    assert isinstance(off, LimitedChatModel)
    assert not off.inner.stream_usage  # type: ignore[attr-defined]


def test_a_spent_budget_makes_the_thread_summary_extractive_not_a_failure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from langchain_core.messages import AIMessage
    from langgraph.graph import END, START, StateGraph

    from nodes.summarize import make_summarize_node
    from nova.state import NovaState
    from tests.memory_fixtures import make_projects, open_store

    monkeypatch.setenv("NOVA_SUMMARY_TRIGGER_TOKENS", "150")
    monkeypatch.setenv("NOVA_SUMMARY_KEEP_MESSAGES", "2")
    monkeypatch.setenv("NOVA_PROJECT_TOKEN_BUDGETS", "alpha-co=100")
    get_settings.cache_clear()
    UsageLedger().save(new_usage("model", project="alpha-co", prompt_tokens=100))
    store = open_store(tmp_path / "chroma", make_projects(tmp_path / "projects"))
    model = ScriptedChatModel.from_script([says("- a model summary")])
    builder = StateGraph(NovaState, context_schema=NovaContext)
    builder.add_node(
        "summarize",
        make_summarize_node(ScriptedModels({"memory_curator": model}), store=lambda: store),  # type: ignore[arg-type]
    )
    builder.add_edge(START, "summarize")
    builder.add_edge("summarize", END)
    turns = [
        message
        for i in range(10)
        for message in (
            HumanMessage(f"Question {i}: how many brake discs BRK-10{i} are in Mannheim?"),
            AIMessage(f"There are {i * 7} brake discs BRK-10{i} in Mannheim."),
        )
    ]
    result = builder.compile(checkpointer=InMemorySaver()).invoke(
        {"messages": turns, "project": "alpha-co"},
        {"configurable": {"thread_id": "t"}, "callbacks": [UsageRecorder()]},
        context=NovaContext(),
    )
    assert model.received == []
    assert result["summary"] and "model summary" not in result["summary"]


def test_a_pipeline_answered_without_a_model_counts_once_for_its_agent() -> None:
    from datetime import date

    from nova.pipelines.templates import period
    from tests.test_pipelines_graph import _graph, _route, _weekly_skills

    graph = _graph(_weekly_skills(period("last_week", date.today())["start"]))  # noqa: DTZ011
    request = "Weekly sales report please"
    state = graph.invoke(
        {
            "messages": [HumanMessage(request)],
            "request": request,
            "route": _route("weekly_sales_report"),
            "project": "parts-shop",
        },
        {"configurable": {"thread_id": "w1"}, "callbacks": [UsageRecorder()]},
        context=NovaContext(project="parts-shop"),
    )
    assert state["agent_run"]["outcome"] == "fast_path"
    assert flush_traces(5)
    summary = UsageLedger().summary(project="parts-shop")
    assert summary.model_free_by_agent == {"weekly_sales_report": 1}
    assert summary.rows == []
