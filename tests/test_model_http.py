"""Nova's real model path (model factory + ChatOpenAI) over HTTP against the OpenAI stub.

Each subgraph's agent, the router's tie-break, the summariser and a pipeline's model step
send their requests to a scripted OpenAI-compatible server on loopback; the tests assert
what reached it (messages, tool schemas, parameters) and what Nova did with each error the
endpoint can send.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from nova.catalog import default_catalog, load_catalog
from nova.cli.core import _explain
from nova.ledger.failures import FailureLedger
from nova.models import default_model_factory
from nova.openai_stub import (
    StubServer,
    call,
    context_length_exceeded,
    malformed_tool_call,
    rate_limited,
    reply,
    server_error,
    slow,
    tool_calls,
)
from nova.state import NovaContext, NovaState
from nova.tracing.failures import FailureRecorder
from tests.failures_fixtures import subgraph_run, with_fallback
from tests.stub_helpers import API_KEY, BACKUP, MODEL, point_nova_at

pytestmark = pytest.mark.allow_model_client
pytest_plugins = ("tests.erp_fixtures", "tests.model_http_fixtures")


def _chat(text: str, agent: str = "general_chat", **kwargs: Any) -> dict[str, Any]:
    return subgraph_run("chat", agent, text, default_model_factory, **kwargs)


# --- what reaches the endpoint ----------------------------------------------------------------
def test_stub_counts_the_time_it_spends_answering(endpoint: StubServer) -> None:
    # evals/bench_model_path.py subtracts it from a turn to get Nova's own overhead.
    endpoint.script(slow(0.3, reply("Late, but here.")))
    started = time.perf_counter()
    state = _chat("Say hello")
    wall = time.perf_counter() - started

    assert state["messages"][-1].content == "Late, but here."
    assert 0.3 <= endpoint.busy_s < wall


def test_chat_agent_sends_its_prompt_tools_and_parameters(endpoint: StubServer) -> None:
    endpoint.script(reply("Hello from the endpoint."))
    state = _chat("Say hello")

    answer = state["messages"][-1]
    assert isinstance(answer, AIMessage) and answer.content == "Hello from the endpoint."
    assert answer.name == "general_chat"
    assert state["agent_run"]["model"] == MODEL
    [request] = endpoint.chat_requests()
    spec = load_catalog()["general_chat"]
    system, user = request.messages
    assert system["role"] == "system" and spec.prompt.strip() in system["content"]
    assert "Current project: parts-shop." in system["content"]
    assert user == {"role": "user", "content": "Say hello"}
    assert request.tool_names == list(spec.tools)
    memory_search = next(t for t in request.tools if t["function"]["name"] == "memory_search")
    assert "query" in memory_search["function"]["parameters"]["properties"]
    assert request.params["model"] == MODEL
    assert request.params["temperature"] == spec.model.temperature
    assert "tool_choice" not in request.params  # the agent decides whether to call a tool
    assert request.headers["authorization"] == f"Bearer {API_KEY}"


def test_parallel_tool_calls_run_and_their_results_go_back(endpoint: StubServer) -> None:
    endpoint.script(
        tool_calls(call("calculator", expression="2+2"), call("calculator", expression="3*3")),
        reply("2+2 is 4 and 3*3 is 9."),
    )
    state = _chat("What are 2+2 and 3*3?", agent="calculator")

    assert state["messages"][-1].content == "2+2 is 4 and 3*3 is 9."
    first, second = endpoint.chat_requests()
    assert first.tool_names == ["calculator"]
    assistant, *results = second.messages[-3:]
    ids = [c["id"] for c in assistant["tool_calls"]]
    assert [json.loads(c["function"]["arguments"]) for c in assistant["tool_calls"]] == [
        {"expression": "2+2"},
        {"expression": "3*3"},
    ]
    assert [(r["role"], r["tool_call_id"], r["content"]) for r in results] == [
        ("tool", ids[0], "4"),
        ("tool", ids[1], "9"),
    ]


def test_erp_agent_calls_a_real_erp_tool(endpoint: StubServer, erp_url: str) -> None:
    endpoint.script(
        tool_calls(call("erp_stock_level", product="NO-SUCH-SKU")),
        reply("There is no product NO-SUCH-SKU."),
    )
    state = subgraph_run("erp", "erp_inventory", "Stock of NO-SUCH-SKU?", default_model_factory)

    # The tool's "no product matches" comes back as an error the answer is flagged with.
    assert state["messages"][-1].content.startswith("There is no product NO-SUCH-SKU.")
    first, second = endpoint.chat_requests()
    spec = load_catalog()["erp_inventory"]
    assert first.tool_names == list(spec.tools)
    stock = next(t for t in first.tools if t["function"]["name"] == "erp_stock_level")
    assert "product" in stock["function"]["parameters"]["properties"]
    tool_result = second.messages[-1]
    assert tool_result["role"] == "tool" and "NO-SUCH-SKU" in tool_result["content"]


def _translate_words(request: Any) -> Any:
    text = request.messages[-1]["content"]
    words = {"Bitte": "Please", "liefern": "deliver", "Stück": "pieces", "bis": "by"}
    return reply(" ".join(words.get(word, word) for word in text.split(" ")))


def test_translation_sends_masked_chunks_with_its_prompt(endpoint: StubServer) -> None:
    from graphs.translation import build_translation_graph

    endpoint.responder = _translate_words
    text = "Bitte liefern 12 Stück BRK-2210 bis Freitag."
    graph = build_translation_graph(model_factory=default_model_factory).compile(
        checkpointer=InMemorySaver()
    )
    from nova.testing import route_to

    state = graph.invoke(
        {
            "messages": [HumanMessage(f'Translate into English: "{text}"')],
            "request": f'Translate into English: "{text}"',
            "route": route_to("translator", "translation", method="explicit", margin=0.5),
            "project": "parts-shop",
        },
        {"configurable": {"thread_id": "t"}},
        context=NovaContext(project="parts-shop"),
    )

    answer = state["messages"][-1]
    assert "Please deliver 12 pieces BRK-2210" in answer.content
    # The translation, then the back_translation check's call (a model is configured).
    request, back = endpoint.chat_requests()
    system, user = request.messages
    assert "into English" in system["content"]
    # The endpoint only ever saw tokens for the protected spans.
    assert "BRK-2210" not in user["content"] and "⟦" in user["content"]
    assert "Please deliver 12 pieces" in back.messages[-1]["content"]


def test_pipeline_model_step_sends_its_prompt(endpoint: StubServer) -> None:
    from tests.pipeline_fixtures import Skills, pipeline, runner_for

    endpoint.script(reply("Three short points."))
    spec = pipeline(
        "summary",
        [
            {"id": "data", "skill": "data"},
            {
                "id": "summary",
                "agent": "summarizer",
                "inputs": {"d": "data"},
                "prompt": "Summarise: {{ inputs.d.skill }}",
            },
        ],
    )
    runner = runner_for(Skills(), spec, models=default_model_factory)  # type: ignore[arg-type]
    run = runner.run("summary")

    assert run.result["output"] == "Three short points."
    [request] = endpoint.chat_requests()
    system, user = request.messages
    assert "You are Nova's summariser" in system["content"]
    assert user == {"role": "user", "content": "Summarise: data"}
    assert request.params["model"] == MODEL


def test_pipeline_model_step_is_not_retried_again_after_the_client(endpoint: StubServer) -> None:
    from tests.pipeline_fixtures import Skills, pipeline, runner_for

    endpoint.script(server_error(), server_error())
    spec = pipeline(
        "summary",
        [
            {"id": "data", "skill": "data"},
            {
                "id": "summary",
                "agent": "summarizer",
                "inputs": {"d": "data"},
                "prompt": "Summarise: {{ inputs.d.skill }}",
                "retry": {"attempts": 3, "backoff_s": 0.01},
                "on_failure": "skip",
            },
        ],
    )
    run = runner_for(Skills(), spec, models=default_model_factory).run("summary")  # type: ignore[arg-type]

    # One attempt of the step: the client's own retry, not three times two requests.
    assert [r.status for r in endpoint.chat_requests()] == [500, 500]
    assert run.result["status"] == "completed_with_skips"


def _turns(n: int) -> list[AnyMessage]:
    messages: list[AnyMessage] = []
    for i in range(n):
        messages.append(HumanMessage(f"Question {i}: how many brake discs BRK-10{i} in stock?"))
        messages.append(
            AIMessage(f"There are {i * 7} brake discs BRK-10{i}.", name="erp_inventory")
        )
    return messages


def test_summariser_sends_the_transcript(
    endpoint: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nodes.summarize import SUMMARY_PROMPT, make_summarize_node
    from nova.settings import get_settings

    monkeypatch.setenv("NOVA_SUMMARY_TRIGGER_TOKENS", "100")
    monkeypatch.setenv("NOVA_SUMMARY_KEEP_MESSAGES", "2")
    get_settings.cache_clear()
    endpoint.script(reply("- The owner asked about brake disc stock."))
    builder = StateGraph(NovaState, context_schema=NovaContext)
    builder.add_node("summarize", make_summarize_node(save_to_memory=False))  # type: ignore[call-overload]
    builder.add_edge(START, "summarize")
    builder.add_edge("summarize", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    state = graph.invoke(
        {"messages": _turns(5), "project": "parts-shop"},
        {"configurable": {"thread_id": "t"}},
        context=NovaContext(),
    )

    assert state["summary"] == "- The owner asked about brake disc stock."
    [request] = endpoint.chat_requests()
    prompt_start = SUMMARY_PROMPT.split("\n", 1)[0]
    assert any(prompt_start in m["content"] for m in request.messages)
    assert "Question 0: how many brake discs BRK-100" in request.messages[-1]["content"]


@pytest.fixture(scope="module")
def unsure_router(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import dataclasses

    from nodes.router import Router
    from nodes.routing.model import Thresholds
    from nova.catalog import AgentSpec, load_specs
    from tests.router_fixtures import write_agent_catalog, write_router_config

    root = tmp_path_factory.mktemp("agents-catalog")
    write_router_config(root / "router.yaml")
    catalog = load_specs(write_agent_catalog(root / "agents"), AgentSpec)
    router = Router.from_catalog(catalog, cache_dir=tmp_path_factory.mktemp("cache"))
    never = dataclasses.replace(router.fitted, thresholds=Thresholds(1.01, 0.0, -1.0))
    return Router(router.catalog, router.config, never)


def route_with_tie_break(router: Any, request: str, tmp_path: Path) -> dict[str, Any]:
    """Run the route node with the real model factory on a router that always abstains."""
    from nodes.router import make_route_node
    from nova.ledger.routing import RoutingLedger

    node = make_route_node(
        router=lambda: router,
        ledger=RoutingLedger(f"sqlite:///{tmp_path / 'routing.sqlite'}"),
        model_factory=default_model_factory,
        catalog=router.catalog,
    )
    builder = StateGraph(NovaState, context_schema=NovaContext)
    builder.add_node("route", node)  # type: ignore[call-overload]
    builder.add_edge(START, "route")
    builder.add_edge("route", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    state = graph.invoke(
        {"request": request, "project": "parts-shop"},
        {"configurable": {"thread_id": "t"}},
        context=NovaContext(),
    )
    return dict(state["route"])


def test_tie_break_asks_for_structured_output(
    endpoint: StubServer, unsure_router: Any, tmp_path: Path
) -> None:
    endpoint.script(tool_calls(call("RouteChoice", agent="daily_planner", reason="a plan")))
    route = route_with_tie_break(unsure_router, "Plan my Friday", tmp_path)

    assert route["method"] == "llm" and route["agent"] == "daily_planner"
    [request] = endpoint.chat_requests()
    [tool] = request.tools
    assert tool["function"]["name"] == "RouteChoice"
    options = tool["function"]["parameters"]["properties"]["agent"]["enum"]
    assert "daily_planner" in options and options[-1] == "none"
    assert request.params["tool_choice"] == {
        "type": "function",
        "function": {"name": "RouteChoice"},
    }
    assert request.params["parallel_tool_calls"] is False
    assert request.messages[-1] == {"role": "user", "content": "Plan my Friday"}


def test_tie_break_failure_keeps_the_abstention_and_is_recorded(
    endpoint: StubServer,
    unsure_router: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    point_nova_at(monkeypatch, endpoint, api_key="sk-wrong-key")
    route = route_with_tie_break(unsure_router, "Plan my Friday", tmp_path)

    assert route["method"] == "clarify" and route["agent"] is None
    assert "tie-break model failed" in route["reason"]
    # The abstention's failure record says why the model could not break the tie.
    [record] = FailureLedger().list()
    assert record.kind == "route_abstain" and record.node == "route"
    assert "tie-break model failed" in record.message
    assert "Incorrect API key provided" in record.message
    assert record.thread_id == "t"


# --- what Nova does with each error -----------------------------------------------------------
def test_rate_limit_is_retried_after_the_servers_delay(
    endpoint: StubServer, failures: FailureLedger
) -> None:
    endpoint.script(rate_limited(retry_after_s=1.0), reply("Answered after waiting."))
    started = time.monotonic()
    state = _chat("Hi", ledger=failures, callbacks=[FailureRecorder(failures)])

    assert state["messages"][-1].content == "Answered after waiting."
    assert time.monotonic() - started >= 1.0
    assert [r.status for r in endpoint.chat_requests()] == [429, 200]
    assert failures.list() == []


def test_server_error_falls_back_to_the_agents_fallback_model(
    endpoint: StubServer, failures: FailureLedger
) -> None:
    catalog = with_fallback(default_catalog(), "general_chat", BACKUP)
    endpoint.script(
        server_error(model=MODEL), server_error(model=MODEL), reply("Backup answer.", model=BACKUP)
    )
    state = _chat("Hi", catalog=catalog, ledger=failures)

    answer = state["messages"][-1]
    text = answer.content
    assert text.startswith("Backup answer.")
    # The user is told that the fallback answered, and why.
    assert "model stub-model failed" in text and "The server had an error" in text
    assert [(r.model, r.status) for r in endpoint.chat_requests()] == [
        (MODEL, 500),
        (MODEL, 500),  # the client's one retry
        (BACKUP, 200),
    ]
    [record] = failures.list()
    assert record.kind == "model_fallback" and record.agent == "general_chat"
    assert "The server had an error while processing your request" in record.message
    assert record.details["fallback"] == BACKUP
    assert answer.additional_kwargs["nova_failures"][0]["id"] == record.id
    assert state["agent_run"]["model"] == BACKUP


def _failing_chat(failures: FailureLedger, text: str = "Hi") -> BaseException:
    recorder = FailureRecorder(failures)
    with pytest.raises(Exception) as caught:
        _chat(text, ledger=failures, callbacks=[recorder])
    return caught.value


def test_wrong_key_fails_once_with_the_endpoints_message(
    endpoint: StubServer, failures: FailureLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_nova_at(monkeypatch, endpoint, api_key="sk-wrong-key")
    error = _failing_chat(failures)

    assert [r.status for r in endpoint.chat_requests()] == [401]  # never retried
    [record] = failures.list()
    assert record.kind == "node_error" and record.node == "agent"
    assert "Incorrect API key provided" in record.message
    told = _explain(error)
    assert told.startswith("The model endpoint refused the API key (401: Incorrect API key")
    assert "NOVA_MODEL_API_KEY" in told and "Traceback" not in told


def test_unknown_model_is_a_404_that_names_the_setting(
    endpoint: StubServer, failures: FailureLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_nova_at(monkeypatch, endpoint, model="gpt-nonexistent")
    error = _failing_chat(failures)

    assert [r.status for r in endpoint.chat_requests()] == [404]
    assert "`gpt-nonexistent` does not exist" in failures.list()[0].message
    assert "(404: The model `gpt-nonexistent` does not exist" in _explain(error)
    assert "NOVA_MODEL_NAME" in _explain(error)


def test_timeout_is_retried_by_the_client_then_recorded(
    endpoint: StubServer, failures: FailureLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_nova_at(monkeypatch, endpoint, model_timeout_s="0.5")
    endpoint.script(slow(5.0), slow(5.0))
    started = time.monotonic()
    error = _failing_chat(failures)

    assert time.monotonic() - started < 5.0
    assert len(endpoint.chat_requests()) == 2  # the first attempt and the client's retry
    [record] = failures.list()
    assert record.kind == "timeout"
    assert _explain(error).startswith("The model did not answer within 0.5 s")


def test_context_length_exceeded_is_not_retried_and_says_what_to_do(
    endpoint: StubServer, failures: FailureLedger
) -> None:
    endpoint.script(context_length_exceeded())
    error = _failing_chat(failures)

    assert [r.status for r in endpoint.chat_requests()] == [400]
    assert "maximum context length is 8192 tokens" in failures.list()[0].message
    told = _explain(error)
    assert "context window" in told and "Start a new thread" in told


def test_malformed_tool_call_json_goes_back_to_the_model_as_an_error(
    endpoint: StubServer, failures: FailureLedger
) -> None:
    endpoint.script(
        malformed_tool_call("calculator", '{"expression": "2+2"'),
        tool_calls(call("calculator", expression="2+2")),
        reply("2+2 is 4."),
    )
    state = _chat("What is 2+2?", agent="calculator", ledger=failures)

    assert state["messages"][-1].content.startswith("2+2 is 4.")
    _, second, third = endpoint.chat_requests()
    assistant, refused = second.messages[-2:]
    assert assistant["tool_calls"][0]["id"] == refused["tool_call_id"]
    assert refused["role"] == "tool" and "not valid JSON" in refused["content"]
    assert third.messages[-1]["content"] == "4"
    [record] = failures.list()
    assert record.kind == "tool_error" and record.error_type == "MalformedToolCall"
    assert [m.status for m in state["messages"] if isinstance(m, ToolMessage)] == [
        "error",
        "success",
    ]


def test_server_down_is_explained(monkeypatch: pytest.MonkeyPatch, failures: FailureLedger) -> None:
    server = StubServer(api_key=API_KEY).start()
    point_nova_at(monkeypatch, server, model_max_retries="0")
    server.stop()
    error = _failing_chat(failures)

    told = _explain(error)
    assert told.startswith("Cannot reach the model endpoint at http://127.0.0.1:")
    assert "NOVA_MODEL_BASE_URL" in told


# --- the stub itself --------------------------------------------------------------------------
def test_stub_streams_chunks_with_a_final_usage_chunk(stub: StubServer) -> None:
    from langchain_openai import ChatOpenAI

    stub.script(reply("one two three", prompt_tokens=11, cached_tokens=4))
    model = ChatOpenAI(model=MODEL, base_url=stub.base_url, api_key=API_KEY, stream_usage=True)  # type: ignore[arg-type]
    chunks = list(model.stream("count"))

    texts = [c.content for c in chunks if c.content]
    assert texts == ["one", " two", " three"]
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert total.usage_metadata is not None
    assert total.usage_metadata["input_tokens"] == 11
    assert total.usage_metadata["output_tokens"] == 3
    assert total.usage_metadata["input_token_details"]["cache_read"] == 4
    [request] = stub.chat_requests()
    assert request.params["stream"] is True
    assert request.params["stream_options"] == {"include_usage": True}


def test_stub_streams_parallel_tool_calls(stub: StubServer) -> None:
    from langchain_openai import ChatOpenAI

    stub.script(tool_calls(call("lookup", sku="A"), call("lookup", sku="B")))
    model = ChatOpenAI(model=MODEL, base_url=stub.base_url, api_key=API_KEY, streaming=True)  # type: ignore[arg-type]
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    chunks = list(model.bind_tools(tools).stream("look up A and B"))
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert [c["args"] for c in total.tool_calls] == [{"sku": "A"}, {"sku": "B"}]  # type: ignore[attr-defined]


def test_stub_lists_models_and_checks_the_key(stub: StubServer) -> None:
    import httpx

    ok = httpx.get(f"{stub.base_url}/models", headers={"Authorization": f"Bearer {API_KEY}"})
    assert [m["id"] for m in ok.json()["data"]] == [MODEL, BACKUP]
    refused = httpx.get(f"{stub.base_url}/models", headers={"Authorization": "Bearer nope"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.slow
def test_nova_ask_says_what_went_wrong_in_one_line(
    endpoint: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from nova.cli import app

    point_nova_at(monkeypatch, endpoint, api_key="sk-wrong-key")
    result = CliRunner().invoke(
        app, ["ask", "--local", "--agent", "general_chat", "Hello there"], env={"COLUMNS": "200"}
    )

    text = " ".join(result.output.split())
    assert result.exit_code == 1, text
    assert "error: The model endpoint refused the API key (401: Incorrect API key provided" in text
    assert "Set NOVA_MODEL_API_KEY to a valid key." in text
    assert "nova failures show" in text  # the failure is in the ledger, with its id
    assert "Traceback" not in text
    [request] = endpoint.chat_requests()
    assert request.messages[-1] == {"role": "user", "content": "Hello there"}
