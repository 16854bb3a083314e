"""Every injected failure, one per node type, lands in the ledger and in what the user sees.

Run-ending failures (a node's exception after its retries, a timeout, the recursion limit)
reach the caller as the exception, annotated with the ledger id. Failures the run
survives (model fallback, tool error or timeout, a refused tool, a failed check, a route
abstention) are noted in the final answer, each with its ledger id.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.errors import GraphRecursionError

from nodes.resilience import CallTimeout
from nodes.router import make_route_node
from nova.catalog import load_catalog
from nova.ledger.failures import FailureLedger, FailureRecord
from nova.state import NovaContext, RouteDecision
from nova.testing import ScriptedChatModel, ScriptedModels, calls, says, tool_call
from nova.tracing import FailureRecorder, tracing_callbacks
from tests.failures_fixtures import subgraph_run, supervisor_graph, with_fallback


@pytest.fixture(autouse=True)
def _fast_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tight timeouts and one retry keep the hanging cases short; CI stays fast.
    monkeypatch.setenv("NOVA_MODEL_TIMEOUT_S", "0.5")
    monkeypatch.setenv("NOVA_TOOL_TIMEOUT_S", "0.5")
    monkeypatch.setenv("NOVA_MODEL_MAX_RETRIES", "1")
    from nova.settings import get_settings

    get_settings.cache_clear()


def _only(kind: str, thread: str | None = None) -> FailureRecord:
    records = [r for r in FailureLedger().list(limit=100) if r.kind == kind]
    if thread is not None:
        records = [r for r in records if r.thread_id == thread]
    assert len(records) == 1, [r.model_dump() for r in FailureLedger().list(limit=100)]
    return records[0]


class Broken(ScriptedChatModel):
    """A model whose every call raises ``error`` (counting the calls)."""

    error: Any = None
    attempts: int = 0

    def _generate(
        self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Any:
        self.attempts += 1
        raise self.error


def test_agent_node_error_after_retries_is_recorded_and_named_in_the_exception() -> None:
    model = Broken(error=ConnectionError("endpoint reset"))
    recorder = FailureRecorder()
    with pytest.raises(ConnectionError) as raised:
        subgraph_run(
            "chat",
            "calculator",
            "2+2? show your working",
            ScriptedModels({"calculator": model}),
            callbacks=[recorder],
            thread="t-agent",
        )
    assert model.attempts == 2  # retryable: first attempt + NOVA_MODEL_MAX_RETRIES=1
    record = _only("node_error", "t-agent")
    assert (record.node, record.agent, record.error_type) == (
        "agent",
        "calculator",
        "ConnectionError",
    )
    assert record.agent_version == load_catalog()["calculator"].version_label
    assert record.checkpoint_id and record.run_id and record.message == "endpoint reset"
    assert any(record.id[:12] in note for note in raised.value.__notes__)


def test_errors_that_cannot_succeed_are_not_retried() -> None:
    model = Broken(error=ValueError("bad request body"))
    with pytest.raises(ValueError):
        subgraph_run(
            "chat",
            "calculator",
            "2+2? show your working",
            ScriptedModels({"calculator": model}),
            callbacks=[FailureRecorder()],
            thread="t-noretry",
        )
    assert model.attempts == 1
    assert _only("node_error", "t-noretry").error_type == "ValueError"


def test_a_hanging_model_ends_within_its_timeout_and_is_recorded() -> None:
    model = ScriptedChatModel.repeating(says("late"), latency_s=30)
    started = time.monotonic()
    with pytest.raises(CallTimeout):
        subgraph_run(
            "chat",
            "calculator",
            "2+2? show your working",
            ScriptedModels({"calculator": model}),
            callbacks=[FailureRecorder()],
            thread="t-hang",
        )
    assert time.monotonic() - started < 5  # two attempts of 0.5 s plus backoff, not 30 s
    record = _only("timeout", "t-hang")
    assert record.node == "agent" and "did not answer within 0.5 s" in record.message


def test_model_fallback_answers_and_is_recorded_and_noted() -> None:
    primary = Broken(error=ConnectionError("primary down"))
    backup = ScriptedChatModel.from_script([says("4")], model_name="backup-model")

    def factory(spec: Any, override: str | None) -> Any:
        return backup if override == "backup-model" else primary

    catalog = with_fallback(load_catalog(), "calculator", "backup-model")
    result = subgraph_run(
        "chat",
        "calculator",
        "2+2? show your working",
        factory,
        catalog=catalog,
        thread="t-fallback",
    )
    record = _only("model_fallback", "t-fallback")
    assert record.details["fallback"] == "backup-model" and record.agent == "calculator"
    answer = result["messages"][-1]
    assert answer.content.startswith("4")
    assert "fallback model backup-model" in answer.content and record.id[:12] in answer.content
    assert result["agent_run"]["model"] == "backup-model"


def test_tool_error_is_recorded_and_noted() -> None:
    def calculator(expression: str) -> str:
        raise RuntimeError("calculator backend crashed")

    model = ScriptedChatModel.from_script(
        [calls(tool_call("calculator", expression="1/0")), says("I could not compute that.")]
    )
    result = subgraph_run(
        "chat",
        "calculator",
        "1/0?",
        ScriptedModels({"calculator": model}),
        tools={"calculator": calculator},
        thread="t-tool",
    )
    record = _only("tool_error", "t-tool")
    assert record.node == "tools" and record.details["tool"] == "calculator"
    assert "calculator backend crashed" in record.message
    assert record.id[:12] in result["messages"][-1].content


def test_a_hanging_tool_ends_within_its_timeout_and_is_noted() -> None:
    def calculator(expression: str) -> str:
        time.sleep(30)
        return "never"

    model = ScriptedChatModel.from_script(
        [calls(tool_call("calculator", expression="1+1")), says("The calculator did not answer.")]
    )
    started = time.monotonic()
    result = subgraph_run(
        "chat",
        "calculator",
        "1+1? show your working",
        ScriptedModels({"calculator": model}),
        tools={"calculator": calculator},
        thread="t-tool-hang",
    )
    assert time.monotonic() - started < 5
    record = _only("timeout", "t-tool-hang")
    tool_message = next(m for m in result["messages"] if isinstance(m, ToolMessage))
    assert tool_message.status == "error" and "did not answer within 0.5 s" in tool_message.content
    assert record.id[:12] in result["messages"][-1].content


def test_refused_tool_is_recorded_and_noted() -> None:
    model = ScriptedChatModel.from_script(
        [calls(tool_call("web_fetch", url="https://example.org")), says("I cannot fetch pages.")]
    )
    result = subgraph_run(
        "chat", "calculator", "fetch", ScriptedModels({"calculator": model}), thread="t-refused"
    )
    record = _only("tool_error", "t-refused")
    assert record.error_type == "ToolNotAllowed"
    assert record.id[:12] in result["messages"][-1].content


def test_failed_check_is_recorded_and_noted() -> None:
    model = ScriptedChatModel.from_script([says("Invoice INV-2025-00412 is overdue.")])
    result = subgraph_run(
        "chat",
        "calculator",
        "Is invoice INV-2025-00412 overdue?",
        ScriptedModels({"calculator": model}),
        thread="t-check",
    )
    record = _only("check_failed", "t-check")
    assert record.node == "route" and record.details["check"] == "route_fits_entities"
    answer = result["messages"][-1]
    assert "check route_fits_entities failed" in answer.content and record.id[:12] in answer.content
    verdicts = answer.additional_kwargs["nova_checks"]
    assert [c["name"] for c in verdicts if not c["passed"]] == ["route_fits_entities"]
    assert result["checks"][0]["failure_id"] == record.id


def test_recursion_limit_is_recorded() -> None:
    model = ScriptedChatModel.repeating(calls(tool_call("calculator", expression="1+1")))
    with pytest.raises(GraphRecursionError) as raised:
        from langgraph.checkpoint.memory import InMemorySaver

        from graphs.common import build_agent_subgraph
        from nova.testing import route_to
        from tests.failures_fixtures import resolver

        graph = build_agent_subgraph(
            "chat", model_factory=ScriptedModels({"calculator": model}), tool_resolver=resolver()
        ).compile(checkpointer=InMemorySaver())
        graph.invoke(
            {
                "messages": [HumanMessage("loop")],
                "route": route_to("calculator", "chat"),
                "request": "loop",
            },
            {
                "configurable": {"thread_id": "t-recursion"},
                "recursion_limit": 4,
                "callbacks": tracing_callbacks(exporters=False),
            },
            context=NovaContext(),
        )
    record = _only("recursion_limit", "t-recursion")
    assert record.error_type == "GraphRecursionError"
    assert any(record.id[:12] in note for note in raised.value.__notes__)


def test_supervisor_node_error_is_recorded_with_the_failing_node() -> None:
    def route(state: Any) -> dict[str, Any]:
        raise RuntimeError("router index is corrupt")

    graph = supervisor_graph(route, ScriptedModels())
    with pytest.raises(RuntimeError):
        graph.invoke(
            {"messages": [HumanMessage("hello")]},
            {
                "configurable": {"thread_id": "t-route-crash"},
                "callbacks": [FailureRecorder(checkpointer=graph.checkpointer)],
            },
            context=NovaContext(),
        )
    record = _only("node_error", "t-route-crash")
    assert record.node == "route" and record.checkpoint_id is not None
    # The recorded checkpoint is the one a retry resumes: its next step is the failed node.
    state = graph.get_state(
        {"configurable": {"thread_id": "t-route-crash", "checkpoint_id": record.checkpoint_id}}
    )
    assert state.next == ("route",)


class StubRouter:
    """A router that abstains as told (the real one needs a fitted classifier)."""

    version = "stub"
    catalog_version = "stub"

    class config:
        use_model = False
        fallback_agent = "general_chat"
        memory_agents: tuple[str, ...] = ()

    class thresholds:
        @staticmethod
        def as_dict() -> dict[str, float]:
            return {}

    def __init__(self, method: str, agent: str | None) -> None:
        self.method, self.agent = method, agent

    def route(self, text: str) -> RouteDecision:
        return RouteDecision(
            id="abstain",
            agent=self.agent,
            subgraph=None,
            confidence=0.31,
            margin=0.02,
            candidates=[
                {"agent": "erp_invoices", "score": 0.31},
                {"agent": "erp_payments", "score": 0.29},
            ],
            method=self.method,
            reason="two agents are equally likely",
            question="Invoices or payments?",  # type: ignore[typeddict-item]
            catalog_version="x",
            router_version="stub",
            latency_ms=0.1,
        )


@pytest.mark.parametrize(
    ("method", "agent", "kind"),
    [("clarify", None, "route_abstain"), ("fallback", "general_chat", "route_fallback")],
)
def test_router_abstain_and_fallback_are_recorded_and_told(
    method: str, agent: str | None, kind: str
) -> None:
    catalog = load_catalog()
    route = make_route_node(router=lambda: StubRouter(method, agent), catalog=catalog)  # type: ignore[arg-type, return-value]
    chat = ScriptedChatModel.from_script([says("Happy to help.")])
    graph = supervisor_graph(route, ScriptedModels({"general_chat": chat}), catalog=catalog)
    out = graph.invoke(
        {"messages": [HumanMessage("the thing from last week")]},
        {"configurable": {"thread_id": f"t-{method}"}},
        context=NovaContext(),
    )
    record = _only(kind, f"t-{method}")
    assert record.node == "route" and record.details["confidence"] == 0.31
    if method == "clarify":
        assert out["answer"] == "Invoices or payments?"
    else:
        assert (
            out["answer"].startswith("Happy to help.")
            and "the router was not sure" in out["answer"]
        )
    assert isinstance(out["messages"][-1], AIMessage)


async def test_async_runs_record_failures_and_traces_off_the_event_loop() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from graphs.common import build_agent_subgraph
    from nova.testing import route_to
    from nova.tracing import TraceStore, flush_traces
    from tests.failures_fixtures import resolver

    model = Broken(error=PermissionError("401 invalid key"))
    graph = build_agent_subgraph(
        "chat", model_factory=ScriptedModels({"calculator": model}), tool_resolver=resolver()
    ).compile(checkpointer=InMemorySaver())
    with pytest.raises(PermissionError) as raised:
        await graph.ainvoke(
            {
                "messages": [HumanMessage("2+2, show your working")],
                "route": route_to("calculator", "chat"),
                "request": "2+2, show your working",
            },
            {
                "configurable": {"thread_id": "t-async"},
                "callbacks": tracing_callbacks(exporters=False),
            },
            context=NovaContext(),
        )
    assert flush_traces(10)
    record = _only("node_error", "t-async")
    assert record.node == "agent" and model.attempts == 1
    assert any(record.id[:12] in note for note in raised.value.__notes__)
    [trace] = TraceStore().list(thread_id="t-async")
    assert trace.status == "error" and trace.error_type == "PermissionError"


# --- every node of the served graphs -------------------------------------------------------

LISTING = "Proofread and translate into French: Hand-painted oak sign, SKU SG-1042"


class EchoModel(ScriptedChatModel):
    """A translator that hands back what it was sent (tokens and all)."""

    def _generate(
        self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Any:
        from langchain_core.outputs import ChatGeneration, ChatResult

        return ChatResult(generations=[ChatGeneration(message=AIMessage(messages[-1].content))])


# (node path, agent the run goes to, project, request): one case per kind of node in the
# graph langgraph.json serves, each reached by a run that would otherwise succeed.
NODE_CASES = [
    *[(node, "calculator", "parts-shop", "2+2? show your working") for node in
      ("intake", "recall", "route", "respond")],
    # summarize runs only on a thread past its size limit (the test lowers the limit)
    ("summarize", "calculator", "parts-shop", "2+2? show your working. " + "Thanks! " * 120),
    *[(f"chat/{node}", "calculator", "parts-shop", "2+2? show your working") for node in
      ("enter", "agent", "tools", "check")],
    ("erp/fast_path", "erp_invoices", "parts-shop", "Show me invoice INV-2025-00412"),
    *[(f"translation/{node}", "translator", "parts-shop", 'Translate into English: "Guten Tag"')
      for node in ("prepare", "translate_chunk", "assemble")],
    *[(f"pipeline/{node}", "listing_sync", "sign-marketplace", LISTING) for node in
      ("enter", "run_listing_sync/start", "run_listing_sync/source_language",
       "run_listing_sync/finish")],
]  # fmt: skip


@pytest.fixture
def nova_builder(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The served supervisor's builder with scripted models (no memory, no fitted router)."""
    from graphs.nova import build_nova_graph
    from nova.settings import get_settings

    # Recall off: the recall node still runs, but opens no Chroma and loads no encoder.
    monkeypatch.setenv("NOVA_RECALL_TOP_K", "0")
    get_settings.cache_clear()

    def models() -> ScriptedModels:
        return ScriptedModels(
            {
                "calculator": ScriptedChatModel.from_script(
                    [calls(tool_call("calculator", expression="2+2")), says("4")]
                ),
                "translator": EchoModel(),
            }
        )

    return lambda: build_nova_graph(model_factory=models())


def _run_nova(builder: Any, agent: str, project: str, text: str, thread: str) -> Any:
    from langgraph.checkpoint.memory import InMemorySaver

    graph = builder.compile(checkpointer=InMemorySaver())
    return graph.invoke(
        {"messages": [HumanMessage(text)]},
        {
            "configurable": {"thread_id": thread},
            "callbacks": [FailureRecorder(checkpointer=graph.checkpointer)],
        },
        context=NovaContext(project=project, agent=agent),
    )


@pytest.mark.parametrize(("path", "agent", "project", "text"), NODE_CASES)
def test_an_error_in_any_node_of_the_served_graph_is_in_the_ledger(
    nova_builder: Any,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    agent: str,
    project: str,
    text: str,
) -> None:
    from nova.settings import get_settings
    from tests.failures_fixtures import InjectedError, with_broken_node

    if path == "summarize":
        monkeypatch.setenv("NOVA_SUMMARY_TRIGGER_TOKENS", "100")
        monkeypatch.setenv("NOVA_SUMMARY_KEEP_MESSAGES", "1")
        get_settings.cache_clear()

    thread = f"t-{path.replace('/', '-')}"
    with pytest.raises(InjectedError) as raised:
        _run_nova(with_broken_node(nova_builder(), path), agent, project, text, thread)
    record = _only("node_error", thread)
    node = path.rsplit("/", 1)[-1]
    assert (record.node, record.error_type) == (node, "InjectedError")
    assert record.message == f"injected into {path}"
    # A node inside a subgraph is recorded with its namespace, outermost subgraph first.
    outer = path.split("/")[:-1]
    assert [part.split(":")[0] for part in record.checkpoint_ns.split("|") if part][
        : len(outer)
    ] == outer
    assert any(record.id[:12] in note for note in raised.value.__notes__)


def test_failed_pipeline_steps_the_pipeline_survives_are_in_the_ledger(
    nova_builder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_core.tools import StructuredTool

    import tools.registry

    calls_made: list[dict[str, Any]] = []

    def erp_sales_summary(**kwargs: Any) -> str:
        calls_made.append(kwargs)
        raise ConnectionError("ERP database unreachable")

    def memory_search(**kwargs: Any) -> str:
        return "[]"

    registry = dict(tools.registry.tool_registry())
    for name, fn in (("erp_sales_summary", erp_sales_summary), ("memory_search", memory_search)):
        registry[name] = StructuredTool.from_function(
            fn,
            name=name,
            description="test",
            args_schema={"type": "object", "properties": {}, "additionalProperties": True},
        )
    monkeypatch.setattr(tools.registry, "tool_registry", lambda: registry)
    out = _run_nova(
        nova_builder(), "daily_briefing", "parts-shop", "Give me my daily briefing", "t-steps"
    )

    records = {r.node: r for r in FailureLedger().list(thread_id="t-steps", kind="step_failed")}
    # Both sales steps failed each of their two attempts (retried inside the step, then
    # skipped by their policy); the planner had no model. All recorded, though the run answered.
    assert len(calls_made) == 4, calls_made
    sales = [r for r in records.values() if r.error_type == "ConnectionError"]
    assert len(sales) == 2 and all(r.details["attempts"] == 2 for r in sales)
    assert all("ERP database unreachable" in r.message for r in sales)
    assert all(r.agent == "daily_briefing" and r.details["policy"] == "skip" for r in sales)
    assert records["priorities"].error_type == "NeedsModel"
    assert "daily_briefing" in out["answer"]


def test_a_missing_pipeline_parameter_is_asked_for_and_in_the_ledger(nova_builder: Any) -> None:
    # The user's report: routed to listing_sync with no listing text, the run answered
    # "text: Field required" and `nova failures list` said "No failures recorded". The run
    # now asks for the text (the agent is named here, so the question is not re-routed),
    # and the ask is recorded.
    out = _run_nova(
        nova_builder(),
        "listing_sync",
        "sign-marketplace",
        "What did we decide about listing fees?",
        "t-params",
    )
    record = _only("step_failed", "t-params")
    assert (record.node, record.error_type) == ("start", "MissingParams")
    assert "To run listing_sync I need text" in record.message and record.checkpoint_id
    assert out["answer"].startswith("To run listing_sync I need text")
    assert out["answer"].rstrip().endswith("?") and "failed" not in out["answer"]


def test_invalid_pipeline_parameters_are_in_the_ledger_and_the_answer(nova_builder: Any) -> None:
    out = _run_nova(
        nova_builder(),
        "listing_sync",
        "sign-marketplace",
        "Listing text: 'Bright LED neon sign' in languages xx and yy, 42 pieces",
        "t-bad-params",
    )
    record = _only("step_failed", "t-bad-params")
    assert (record.node, record.error_type) == ("start", "ParamsError")
    assert record.checkpoint_id
    assert f"Recorded as failure {record.id[:12]}" in out["answer"]


@pytest.mark.parametrize(
    ("text", "project", "message"),
    [
        ("   ", "parts-shop", "Nova needs a request"),
        ("hello", "no-such-project", "Unknown project"),
    ],
)
def test_invalid_requests_are_told_not_recorded(
    nova_builder: Any, text: str, project: str, message: str
) -> None:
    from nova.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match=message) as raised:
        _run_nova(nova_builder(), "calculator", project, text, "t-invalid")
    assert FailureLedger().list(thread_id="t-invalid") == []
    assert not any("retry" in note for note in getattr(raised.value, "__notes__", []))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", " "], 'error: Nova needs a request, e.g. nova ask "Which invoices are overdue?"'),
        (["ask", "hello", "--project", "no-such-project"], "error: Unknown project 'no-such"),
        # Before the first prompt: chat used to open, then fail on the first message.
        (["chat", "--project", "no-such-project"], "error: Unknown project 'no-such"),
        (["agents", "list", "--group", "bogus"], "error: No agent group 'bogus'; the groups"),
    ],
)
def test_the_cli_tells_an_invalid_request_in_one_line_without_a_retry(
    args: list[str], message: str
) -> None:
    from typer.testing import CliRunner

    from nova.cli import app

    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())  # rich wraps at its console width
    assert text.startswith(message) and text.count("error:") == 1
    assert "retry" not in result.output and "{" not in result.output
    assert FailureLedger().list() == []


def test_invalid_tool_arguments_inside_a_subgraph_are_recorded() -> None:
    model = ScriptedChatModel.from_script(
        [calls(tool_call("calculator", expressionz="1+1")), says("I could not compute that.")]
    )
    result = subgraph_run(
        "chat",
        "calculator",
        "1+1? show your working",
        ScriptedModels({"calculator": model}),
        thread="t-args",
    )
    record = _only("tool_error", "t-args")
    assert record.node == "tools" and "expression" in record.message
    assert "Field required" in record.message or "field required" in record.message.lower()
    assert record.id[:12] in result["messages"][-1].content
