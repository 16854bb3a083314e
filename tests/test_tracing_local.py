"""Local traces: every run's tree in the SQLite trace store, offline; tracing never breaks a run."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import HumanMessage

from evals.blame.chain import Env, compile_chain
from nova.catalog import load_catalog
from nova.state import NovaContext
from nova.testing import ScriptedChatModel, ScriptedModels, calls, says, tool_call
from nova.tracing import TraceStore, flush_traces, tracing_callbacks
from nova.tracing.config import get_tracing_settings
from nova.tracing.serialize import (
    _SECRET_KEY_IN_JSON,
    REDACTED,
    Redactor,
    _may_hold_secret_key,
    dumps_bounded,
)
from tests.failures_fixtures import subgraph_run

REQUEST = "What is the status of invoice INV-2025-00412?"


@pytest.fixture(autouse=True)
def _fresh_tracing_settings() -> Any:
    get_tracing_settings.cache_clear()
    yield
    get_tracing_settings.cache_clear()


def _run_chain(thread: str, callbacks: list[Any] | None) -> dict[str, Any]:
    graph = compile_chain(Env(agent="erp_invoices"))
    config: dict[str, Any] = {"configurable": {"thread_id": thread}}
    if callbacks is not None:
        config["callbacks"] = callbacks
    return graph.invoke(
        {"messages": [HumanMessage(REQUEST)]}, config, context=NovaContext(project="parts-shop")
    )


def test_a_run_is_stored_with_its_tree_route_agent_version_and_timings() -> None:
    out = _run_chain("t-trace", tracing_callbacks(exporters=False))
    assert flush_traces(10)
    [summary] = TraceStore().list(thread_id="t-trace")
    trace = TraceStore().get(summary.run_id[:12])
    spec = load_catalog()["erp_invoices"]

    assert (trace.status, trace.thread_id, trace.project) == ("ok", "t-trace", "parts-shop")
    assert trace.request == REQUEST and trace.answer == out["answer"]
    assert trace.route is not None and trace.route["agent"] == "erp_invoices"
    assert (trace.agent, trace.agent_version) == (
        "erp_invoices",
        f"{spec.version}+{spec.content_version}",
    )
    assert {c["name"] for c in trace.checks} == {
        "route_fits_entities",
        "numbers_grounded",
        "tool_args_consistent",
        "tool_results_match_args",
    }
    nodes = [s.path for s in trace.steps if s.meta.get("is_node")]
    for expected in (
        "intake",
        "recall",
        "route",
        "erp/enter",
        "erp/agent",
        "erp/tools",
        "erp/check",
        "respond",
    ):
        assert expected in nodes
    assert (
        nodes.index("route")
        < nodes.index("erp/agent")
        < nodes.index("erp/check")
        < nodes.index("respond")
    )
    agent_step = next(s for s in trace.steps if s.path == "erp/agent")
    assert agent_step.agent == "erp_invoices" and agent_step.task_id
    assert agent_step.inputs["route"]["agent"] == "erp_invoices"
    assert agent_step.inputs["messages"][0]["content"] == REQUEST  # message references resolved
    models = [s for s in trace.steps if s.run_type == "llm"]
    assert (
        len(models) == 2
        and models[0].outputs["generations"][0]["tool_calls"][0]["name"] == "erp_invoice_lookup"
    )
    tools = [s for s in trace.steps if s.run_type == "tool"]
    assert [t.name for t in tools] == ["erp_invoice_lookup"] and "1250.0" in str(tools[0].outputs)
    assert all(s.duration_ms is not None and s.duration_ms >= 0 for s in trace.steps)
    assert trace.duration_ms >= max(s.duration_ms for s in trace.steps if s.depth > 0)


def test_secrets_are_redacted_in_traces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVA_MODEL_API_KEY", "super-secret-key-123")
    from nova.settings import get_settings

    get_settings.cache_clear()
    model = ScriptedChatModel.from_script(
        [says("Your key super-secret-key-123 and sk-abcdefghijklmnopqrstuvwx.")]
    )
    subgraph_run(
        "chat",
        "general_chat",
        "my api key is super-secret-key-123",
        ScriptedModels({"general_chat": model}),
        callbacks=tracing_callbacks(exporters=False),
        thread="t-secret",
    )
    assert flush_traces(10)
    trace = TraceStore().get(TraceStore().list(thread_id="t-secret")[0].trace_id)
    stored = repr(trace)
    assert "super-secret-key-123" not in stored and "sk-abcdefghijklmnopqrstuvwx" not in stored
    assert REDACTED in stored


def test_redactor_covers_keys_values_and_known_secrets() -> None:
    redactor = Redactor(["hunter2hunter2"])
    text = dumps_bounded(
        {
            "api_key": "abc",
            "headers": {"Authorization": "Bearer abcdefghijklmnopqrstuvwxyz"},
            "note": "pw hunter2hunter2",
            "input_tokens": 12,
            "password": None,
        },
        10_000,
        redactor,
    )
    assert "abc" not in text and "hunter2hunter2" not in text and "abcdefghijklmnop" not in text
    assert '"input_tokens":12' in text  # counts named like secrets are not secrets
    assert len(dumps_bounded({"x": "y" * 5000}, 1000, redactor)) <= 1000


_KEY_PARTS = (
    "API", "kEy", "_", "-", "Secret", "PASSword", "passWD", "Cookie", "bearer", "Access",
    "tOken", "Refresh", "private", "credential", "Authorization", "x", "\\", "\u00e9",
    "\u0130", "\u0131", "\u017f", "\u212a",
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(_KEY_PARTS), max_size=6).map("".join),
    st.sampled_from(['"token"', '"x"', ""]),
)
def test_the_secret_key_pre_check_never_skips_a_text_the_key_pattern_matches(
    key: str, other: str
) -> None:
    # The pre-check only spares the backtracking pattern; it must never hide a match.
    text = f'{{{other}:1,"{key}": "value"}}'
    if _SECRET_KEY_IN_JSON.search(text):
        assert _may_hold_secret_key(text)


def test_usage_counts_do_not_trigger_the_key_pattern() -> None:
    usage = '{"token_usage":{"input_tokens":12,"output_tokens":40},"keys":["a"]}'
    assert not _may_hold_secret_key(usage)
    assert _may_hold_secret_key('{"Refresh-Token":"x"}')
    assert (
        Redactor().json_text('{"Refresh-Token":"x","a":"b"}')
        == f'{{"Refresh-Token":"{REDACTED}","a":"b"}}'
    )


def test_a_fan_out_packet_is_stored_as_its_target_and_state_not_its_repr() -> None:
    from langgraph.types import Send

    from nova.tracing.serialize import MessageTable

    table = MessageTable()
    packet = Send("translate_chunk", {"messages": [HumanMessage("Guten Tag", id="m")], "n": 1})
    text = dumps_bounded([packet], 10_000, Redactor(), table)
    assert text == '[{"send":"translate_chunk","arg":{"messages":[{"$msg":"m0"}],"n":1}}]'
    assert table.messages == {"m0": {"type": "human", "content": "Guten Tag", "id": "m"}}


def test_tracing_off_keeps_no_trace_and_the_run_still_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NOVA_TRACE_LOCAL", "false")
    out = _run_chain("t-off", tracing_callbacks(exporters=False))
    assert "1,250.00" in out["answer"]
    assert flush_traces(10)
    assert TraceStore().list(thread_id="t-off") == []


def test_a_broken_trace_store_never_breaks_a_run(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where a folder should be")
    callbacks = tracing_callbacks(exporters=False, store=None)
    for handler in callbacks:
        if hasattr(handler, "_store"):
            handler._store = TraceStore.__new__(TraceStore)  # an unusable store: every write fails
    out = _run_chain("t-broken", callbacks)
    assert "1,250.00" in out["answer"]
    assert flush_traces(10)
    assert "trace job failed" in caplog.text


def test_failed_runs_are_traced_with_their_error() -> None:
    class Broken(ScriptedChatModel):
        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            raise PermissionError("401 invalid key")

    with pytest.raises(PermissionError):
        subgraph_run(
            "chat",
            "calculator",
            "2+2, show your working",
            ScriptedModels({"calculator": Broken()}),
            callbacks=tracing_callbacks(exporters=False),
            thread="t-error",
        )
    assert flush_traces(10)
    trace = TraceStore().get(TraceStore().list(thread_id="t-error")[0].trace_id)
    assert trace.status == "error" and trace.error_type == "PermissionError"
    failing = [s for s in trace.steps if s.status == "error" and s.meta.get("is_node")]
    assert failing and failing[0].path == "agent" and "401 invalid key" in (failing[0].error or "")


def test_opentelemetry_export_carries_nova_attributes() -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from nova.tracing.otel import OpenTelemetryExporter

    spans = InMemorySpanExporter()
    exporter = OpenTelemetryExporter(exporter=spans)
    model = ScriptedChatModel.from_script(
        [calls(tool_call("calculator", expression="2+2")), says("4")]
    )
    subgraph_run(
        "chat",
        "calculator",
        "2+2? show your working",
        ScriptedModels({"calculator": model}),
        callbacks=[exporter],
        thread="t-otel",
    )
    assert exporter.worker.flush(10)
    finished = spans.get_finished_spans()
    names = [span.name for span in finished]
    assert "agent" in names and "tools" in names and "calculator" in names
    agent = next(s for s in finished if s.name == "agent")
    assert (
        agent.attributes["nova.node"] == "agent" and agent.attributes["nova.thread_id"] == "t-otel"
    )
    llm = next(s for s in finished if s.attributes.get("nova.run_type") == "chat_model")
    assert llm.attributes["gen_ai.operation.name"] == "chat"
    roots = [s for s in finished if s.parent is None]
    assert len(roots) == 1 and all(
        s.context.trace_id == roots[0].context.trace_id for s in finished
    )
    assert roots[0].attributes["nova.route_agent"] == "calculator"
    assert roots[0].attributes["nova.agent_version"].startswith("calculator@")


def test_traced_graph_traces_every_run_and_keeps_the_callers_callbacks() -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    from nova.tracing import traced

    class Counter(BaseCallbackHandler):
        def __init__(self) -> None:
            self.starts = 0

        def on_chain_start(self, *args: Any, **kwargs: Any) -> None:
            self.starts += 1

    graph = traced(compile_chain(Env(agent="erp_invoices")), exporters=False)
    counter = Counter()
    graph.invoke(
        {"messages": [HumanMessage(REQUEST)]},
        {"configurable": {"thread_id": "t-served"}, "callbacks": [counter]},
        context=NovaContext(project="parts-shop"),
    )
    assert flush_traces(10)
    assert counter.starts > 5
    assert [t.thread_id for t in TraceStore().list(thread_id="t-served")] == ["t-served"]
