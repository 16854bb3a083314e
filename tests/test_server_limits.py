"""Per-model concurrency limits, the in-process run_many, and the durable server's environment."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from nova.concurrency import LimitedChatModel, ModelBusyError, ModelLimiter, limit_concurrency
from nova.server.launch import ServerConfigError, durable_env
from nova.settings import load_settings
from nova.testing import ScriptedChatModel, says


def slow(name: str, seconds: float) -> ScriptedChatModel:
    return ScriptedChatModel.repeating(says("ok"), latency_s=seconds, model_name=name)


def test_a_slow_model_is_held_to_its_limit_while_another_model_runs_freely() -> None:
    limiter = ModelLimiter(8, {"slow": 2}, timeout_s=10)
    slow_model = limit_concurrency(slow("slow", 0.2), limiter=limiter)
    fast_model = limit_concurrency(slow("fast", 0.0), limiter=limiter)
    fast_done: list[float] = []
    started = time.monotonic()

    def call_fast() -> None:
        fast_model.invoke([HumanMessage("hi")])
        fast_done.append(time.monotonic() - started)

    workers = [
        threading.Thread(target=slow_model.invoke, args=([HumanMessage("x")],)) for _ in range(6)
    ]
    workers += [threading.Thread(target=call_fast) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert limiter.peak("slow") == 2
    assert limiter.in_flight("slow") == 0
    assert len(fast_done) == 4 and max(fast_done) < 0.2  # not queued behind the slow model


async def test_async_calls_share_the_limit_and_time_out_with_a_clear_error() -> None:
    import asyncio

    limiter = ModelLimiter(1, timeout_s=0.1)
    model = limit_concurrency(slow("tiny", 0.5), limiter=limiter)
    results = await asyncio.gather(
        model.ainvoke([HumanMessage("a")]),
        model.ainvoke([HumanMessage("b")]),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1 and isinstance(errors[0], ModelBusyError)
    assert "Model 'tiny' is saturated" in str(errors[0])
    assert "NOVA_MODEL_CONCURRENCY_LIMITS=tiny=<n>" in str(errors[0])


def test_limited_model_binds_tools_and_records_the_inner_model_name() -> None:
    inner = slow("scripted-x", 0.0)
    model = limit_concurrency(inner, limiter=ModelLimiter(2))
    assert isinstance(model, LimitedChatModel) and model.model_name == "scripted-x"
    bound = model.bind_tools([])
    assert bound.invoke([HumanMessage("q")]).content == "ok"
    assert inner.received[-1][-1].content == "q"
    with pytest.raises(ValueError, match="at least 1"):
        ModelLimiter(0)


def test_run_many_keeps_order_bounds_concurrency_and_reports_errors() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from evals.bench_graphs import build_echo_graph
    from nova.client import RunRequest, run_many

    graph = build_echo_graph().compile(checkpointer=InMemorySaver())
    requests = [RunRequest.ask(f"r{i}") for i in range(12)] + [RunRequest(input={"messages": []})]
    outcomes = run_many(graph, requests, max_concurrency=4)
    assert [o.values["answer"] for o in outcomes[:12] if o.values] == [
        f"echo: r{i}" for i in range(12)
    ]
    assert not outcomes[12].ok and "Nova needs a request" in str(outcomes[12].error)
    with pytest.raises(ValueError, match="max_concurrency"):
        run_many(graph, requests, max_concurrency=0)


def test_durable_env_requires_credentials_and_gates_studio(tmp_path: Path) -> None:
    config = tmp_path / "langgraph.json"
    config.write_text(json.dumps({"graphs": {"nova": "graphs.nova:graph"}}))
    with pytest.raises(ServerConfigError, match="requires authentication"):
        durable_env(config, load_settings(), base_env={})
    keys = "alice:0123456789abcdef0123"
    env = durable_env(config, load_settings(server_api_keys=keys), base_env={})
    assert env["LANGGRAPH_RUNTIME_EDITION"] == "pg"
    assert json.loads(env["LANGSERVE_GRAPHS"]) == {"nova": "graphs.nova:graph"}
    assert json.loads(env["LANGGRAPH_AUTH"]) == {
        "path": "nova.server.auth:auth",
        "disable_studio_auth": True,
    }
    assert "LANGSMITH_LANGGRAPH_API_VARIANT" not in env
    open_env = durable_env(
        config, load_settings(server_api_keys=keys, server_studio_without_auth=True), base_env={}
    )
    assert json.loads(open_env["LANGGRAPH_AUTH"])["disable_studio_auth"] is False
    assert open_env["LANGSMITH_LANGGRAPH_API_VARIANT"] == "local_dev"
    (tmp_path / "empty.json").write_text("{}")
    with pytest.raises(ServerConfigError, match="names no graphs"):
        durable_env(tmp_path / "empty.json", load_settings(server_api_keys=keys), base_env={})
