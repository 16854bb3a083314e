"""``POST /nova/feedback`` over real HTTP from langgraph_sdk's client: authenticated, own runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn
from langgraph_sdk import get_sync_client
from starlette.applications import Starlette

from nova.ledger.feedback import FeedbackLedger
from nova.server.feedback_route import feedback_routes
from nova.settings import get_settings
from nova.tracing import TraceStore

OWNERS = {"thread-alice": "alice", "thread-bob": "bob"}


async def _owner_of(thread_id: str) -> str | None:
    return OWNERS.get(thread_id)


def _trace(run_id: str, thread_id: str, agent: str) -> dict[str, object]:
    return {
        "trace_id": run_id,
        "run_id": run_id,
        "thread_id": thread_id,
        "graph": "nova",
        "project": "parts-shop",
        "request": "What is the status of invoice INV-2025-00412?",
        "answer": "It is paid.",
        "status": "ok",
        "started_at": datetime.now(UTC),
        "route": {"agent": agent, "method": "semantic"},
        "agent": agent,
        "agent_version": f"{agent}@1.0.0+abc",
        "checks": [],
        "step_count": 0,
    }


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv(
        "NOVA_SERVER_API_KEYS", "alice:key-alice-0123456789,bob:key-bob-0123456789ab"
    )
    get_settings.cache_clear()
    store = TraceStore()
    store.write(_trace("run-alice-1", "thread-alice", "erp_payments"), [])
    store.write(_trace("run-bob-1", "thread-bob", "erp_invoices"), [])
    config = uvicorn.Config(
        Starlette(routes=feedback_routes(owner_of=_owner_of)),
        host="127.0.0.1",
        port=0,
        log_level="warning",
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.02)
    port = instance.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(10)


def test_feedback_route_records_the_callers_verdict_on_their_own_run(server: str) -> None:
    alice = get_sync_client(url=server, api_key="key-alice-0123456789")
    record = alice.http.post(
        "/nova/feedback",
        json={"run": "run-alice", "rating": "bad", "agent": "erp_invoices", "note": "wrong desk"},
    )
    assert record["user"] == "alice" and record["source"] == "server"
    assert record["routed_agent"] == "erp_payments" and record["agent"] == "erp_invoices"
    assert record["agent_versions"] == {"erp_payments": "erp_payments@1.0.0+abc"}
    [stored] = FeedbackLedger().list()
    assert (
        stored.run_id == "run-alice-1" and stored.project == "parts-shop" and stored.corrects_route
    )
    # By thread id too (its newest run).
    assert (
        alice.http.post("/nova/feedback", json={"run": "thread-alice", "rating": "good"})["rating"]
        == "good"
    )
    assert [r["user"] for r in alice.http.get("/nova/feedback")] == ["alice", "alice"]


def test_feedback_route_refuses_strangers_and_other_users_runs(server: str) -> None:
    alice = get_sync_client(url=server, api_key="key-alice-0123456789")
    with pytest.raises(httpx.HTTPStatusError) as other:
        alice.http.post("/nova/feedback", json={"run": "run-bob-1", "rating": "bad"})
    assert other.value.response.status_code == 404  # Bob's run reads as unknown
    for body in ({"run": "run-alice-1", "rating": "meh"}, {"run": "run-alice-1"}):
        with pytest.raises(httpx.HTTPStatusError) as invalid:
            alice.http.post("/nova/feedback", json=body)
        assert invalid.value.response.status_code == 422
    with pytest.raises(httpx.HTTPStatusError) as unknown_agent:
        alice.http.post(
            "/nova/feedback", json={"run": "run-alice-1", "rating": "bad", "agent": "nobody"}
        )
    assert unknown_agent.value.response.status_code == 422
    anonymous = httpx.post(f"{server}/nova/feedback", json={"run": "run-alice-1", "rating": "bad"})
    assert anonymous.status_code == 401 and "Authentication required" in anonymous.json()["detail"]
    wrong_key = httpx.post(
        f"{server}/nova/feedback",
        json={"run": "run-alice-1", "rating": "bad"},
        headers={"x-api-key": "nope"},
    )
    assert wrong_key.status_code == 401
    assert FeedbackLedger().list() == []
    bob = get_sync_client(url=server, api_key="key-bob-0123456789ab")
    assert bob.http.get("/nova/feedback") == []
