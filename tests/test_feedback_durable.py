"""``POST/GET /nova/feedback`` on a running durable server, from the SDK's own client.

A real durable server (langgraph-api on langgraph-runtime-pg, own Postgres database, Redis)
serves Nova's real supervisor with Nova's API keys. Alice's run (a model-free calculator
request, so no model is configured) is judged through ``client.http.post``: the verdict is
stored with the run's route decision and the agent version that answered, as the server's
trace recorded them. Bob's key finds no such run (404, as an unknown one); no key or a
wrong one is refused (401); neither stores anything.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest
from langgraph_sdk import get_sync_client
from server_fixtures import API_KEYS, DurableServer, durable_server

from nova.ledger.feedback import FeedbackLedger
from nova.tracing import TraceNotFound, TraceRecord, TraceStore

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REQUEST = "What is 17.5 percent of 2340?"
"""Answered by the calculator agent without a model."""


@pytest.fixture(scope="module")
def durable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DurableServer]:
    data_dir = tmp_path_factory.mktemp("feedback-durable")
    # The session's router and encoder caches: the server does not fit the router again.
    caches = {
        name: os.environ[name]
        for name in ("NOVA_ROUTER_CACHE_DIR", "NOVA_ENCODER_CACHE_DIR")
        if name in os.environ
    }
    env = {"NOVA_SERVER_WORKERS": "1", **caches}
    with durable_server(data_dir, {"nova": "graphs.nova:graph"}, env) as running:
        yield running


def _ledger_url(server: DurableServer) -> str:
    # server_fixtures.durable_server points the ledger (and so the traces) at this file.
    return f"sqlite:///{server.data_dir / 'ledger.sqlite'}"


def _wait_for_trace(store: TraceStore, run_id: str, deadline_s: float = 60) -> TraceRecord:
    """Poll until the server's background trace writer has stored ``run_id``'s trace."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return store.get(run_id, steps=False)
        except TraceNotFound:
            if time.monotonic() > deadline:
                raise AssertionError(f"no trace of run {run_id} after {deadline_s}s") from None
            time.sleep(0.2)


def test_feedback_on_the_durable_server_is_stored_with_the_run_and_scoped_to_its_user(
    durable: DurableServer,
) -> None:
    alice = get_sync_client(url=durable.url, api_key=API_KEYS["alice"])
    bob = get_sync_client(url=durable.url, api_key=API_KEYS["bob"])
    thread_id = alice.threads.create()["thread_id"]
    run = alice.runs.create(
        thread_id, "nova", input={"messages": [{"role": "user", "content": REQUEST}]}
    )
    alice.runs.join(thread_id, run["run_id"])
    assert alice.runs.get(thread_id, run["run_id"])["status"] == "success"
    output = alice.threads.get_state(thread_id)["values"]
    assert output["route"]["agent"] == "calculator"

    trace = _wait_for_trace(TraceStore(_ledger_url(durable)), run["run_id"])
    assert trace.thread_id == thread_id and trace.agent == "calculator"
    assert trace.agent_version and trace.route and trace.route["agent"] == "calculator"

    record = alice.http.post(
        "/nova/feedback",
        json={
            "run": run["run_id"],
            "rating": "bad",
            "agent": "erp_payments",
            "note": "I meant the payment terms",
        },
    )
    assert record["user"] == "alice" and record["source"] == "server"
    assert record["run_id"] == run["run_id"] and record["thread_id"] == thread_id
    assert record["routed_agent"] == "calculator" and record["agent"] == "erp_payments"
    assert record["route"]["agent"] == "calculator"
    assert record["route"]["id"] == output["route"]["id"]  # the run's own decision
    assert record["agent_versions"] == {"calculator": trace.agent_version}
    assert record["request"] == REQUEST

    ledger = FeedbackLedger(_ledger_url(durable))
    [stored] = ledger.list()
    assert stored.id == record["id"] and stored.user == "alice"
    assert stored.route == record["route"] and stored.agent_versions == record["agent_versions"]
    assert stored.corrects_route  # a bad verdict naming another agent corrects the route

    # Bob's key: Alice's run and thread read as unknown, and nothing is stored.
    for run_or_thread in (run["run_id"], thread_id):
        with pytest.raises(httpx.HTTPStatusError) as other:
            bob.http.post("/nova/feedback", json={"run": run_or_thread, "rating": "good"})
        assert other.value.response.status_code == 404
    # No key, or a key the server does not know: refused before anything is looked up.
    for headers in ({}, {"x-api-key": "not-a-key"}):
        refused = httpx.post(
            f"{durable.url}/nova/feedback",
            json={"run": run["run_id"], "rating": "good"},
            headers=headers,
            timeout=60,
        )
        assert refused.status_code == 401, refused.text
        listed = httpx.get(f"{durable.url}/nova/feedback", headers=headers, timeout=60)
        assert listed.status_code == 401
    assert [r.id for r in ledger.list()] == [record["id"]]

    assert [r["id"] for r in alice.http.get("/nova/feedback")] == [record["id"]]
    assert bob.http.get("/nova/feedback") == []
