"""The durable server (langgraph-api on langgraph-runtime-pg) through the unmodified langgraph-sdk.

One authenticated server (own Postgres database) serves the test graphs for the whole module:
assistants, threads, runs (wait, stream, background), state and history, interrupts and
resume, the store, the four multitask strategies, many threads at once, the auth matrix,
and malformed input.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import APIStatusError, ConflictError, NotFoundError
from server_fixtures import API_KEYS, TEST_GRAPHS, DurableServer, durable_server, seed_erp

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DurableServer]:
    data_dir = tmp_path_factory.mktemp("durable")
    seed_erp(data_dir / "erp.sqlite")
    # Two worker processes, as `nova serve` runs on a 2-core machine: a run's output often
    # reaches its waiting client from the other process, through Redis.
    env = {"NOVA_SERVER_JOBS": "64", "NOVA_MODEL_CONCURRENCY": "64", "NOVA_SERVER_WORKERS": "2"}
    with durable_server(data_dir, TEST_GRAPHS, env) as running:
        yield running


@pytest.fixture(scope="module")
def sku(server: DurableServer) -> str:
    from sqlalchemy import select

    from nova.erp import models as m
    from nova.erp.db import ErpDatabase

    database = ErpDatabase(f"sqlite:///{server.data_dir / 'erp.sqlite'}", migrate=False)
    with database.read_session() as session:
        found = session.scalars(select(m.Product.sku).order_by(m.Product.sku)).first()
    database.dispose()
    assert found
    return found


def client_for(server: DurableServer, user: str | None) -> LangGraphClient:
    # A long pool timeout: the many-threads test keeps more requests open than the pool holds.
    timeout = (5, 120, 120, 120)
    if user is None:
        return get_client(url=server.url, api_key=None, timeout=timeout)
    return get_client(url=server.url, api_key=API_KEYS[user], timeout=timeout)


def ask(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def wait_for_status(
    client: LangGraphClient, thread_id: str, run_id: str, statuses: set[str], deadline_s: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        run = await client.runs.get(thread_id, run_id)
        if run["status"] in statuses:
            return dict(run)
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {run_id} did not reach {statuses} in {deadline_s}s")


async def test_assistants_threads_runs_state_and_history(server: DurableServer) -> None:
    client = client_for(server, "alice")
    assistants = await client.assistants.search(limit=20)
    assert {a["graph_id"] for a in assistants} == set(TEST_GRAPHS)
    echo = next(a for a in assistants if a["graph_id"] == "echo")
    assert (await client.assistants.get(echo["assistant_id"]))["graph_id"] == "echo"

    thread = await client.threads.create(metadata={"purpose": "sdk-surface"})
    tid = thread["thread_id"]
    # wait
    result = await client.runs.wait(
        tid, "echo", input=ask("first"), context={"project": "parts-shop"}
    )
    assert result["answer"] == "echo: first"
    # stream
    events = [
        part
        async for part in client.runs.stream(
            tid, "echo", input=ask("second"), stream_mode=["updates", "values"]
        )
    ]
    updated = {node for e in events if e.event == "updates" for node in e.data}
    assert {"intake", "route", "agent", "respond"} <= updated
    assert events[-1].event == "values" and events[-1].data["answer"] == "echo: second"
    # background
    run = await client.runs.create(tid, "echo", input=ask("third"))
    await client.runs.join(tid, run["run_id"])
    assert (await client.runs.get(tid, run["run_id"]))["status"] == "success"

    state = await client.threads.get_state(tid)
    humans = [m["content"] for m in state["values"]["messages"] if m["type"] == "human"]
    assert humans == ["first", "second", "third"]
    # The third run named no project: the thread keeps the one it was in.
    assert state["values"]["project"] == "parts-shop"
    history = await client.threads.get_history(tid, limit=100)
    assert len(history) >= 12  # four checkpoints per run, newest first
    assert history[0]["checkpoint"]["checkpoint_id"] == state["checkpoint"]["checkpoint_id"]
    assert [r["status"] for r in await client.runs.list(tid)] == ["success"] * 3
    found = await client.threads.search(metadata={"purpose": "sdk-surface"})
    assert [t["thread_id"] for t in found] == [tid]


async def test_interrupt_and_resume_apply_the_erp_write_once(
    server: DurableServer, sku: str
) -> None:
    client = client_for(server, "alice")
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "durable", input={"product": sku, "hold_s": 0, "steps": []})
    state = await client.threads.get_state(tid)
    assert state["next"] == ["erp_write"]
    [interrupt] = state["interrupts"]
    assert interrupt["value"]["type"] == "erp_write_approval"
    assert sku in interrupt["value"]["change"]["summary"]
    # Resuming twice (a retried request) must not write twice.
    result = await client.runs.wait(
        tid, "durable", command={"resume": {"approved": True, "approver": "alice"}}
    )
    assert result["outcome"] == "applied"
    assert result["steps"] == ["erp_write", "slow", "done"]
    assert result["user_id"] == "alice"
    await client.runs.wait(
        tid, "durable", command={"resume": {"approved": True, "approver": "alice"}}
    )
    from nova.erp.approval import audit_trail
    from nova.erp.db import ErpDatabase

    database = ErpDatabase(f"sqlite:///{server.data_dir / 'erp.sqlite'}", migrate=False)
    rows = [row for row in audit_trail(database) if row.thread_id == tid]
    database.dispose()
    assert len(rows) == 1 and rows[0].approver == "alice"


async def test_store_items_are_per_user(server: DurableServer) -> None:
    alice, bob = client_for(server, "alice"), client_for(server, "bob")
    await alice.store.put_item(["alice", "notes"], "n1", {"text": "pay supplier friday"})
    item = await alice.store.get_item(["alice", "notes"], "n1")
    assert item["value"] == {"text": "pay supplier friday"}
    found = await alice.store.search_items(["alice"])
    assert [i["key"] for i in found["items"]] == ["n1"]
    with pytest.raises(APIStatusError) as denied:
        await bob.store.get_item(["alice", "notes"], "n1")
    assert denied.value.response.status_code == 403
    assert "must start with your user id" in denied.value.response.text
    assert (await bob.store.search_items([]))["items"] == []
    assert (await bob.store.list_namespaces())["namespaces"] == []
    await alice.store.delete_item(["alice", "notes"], "n1")


async def test_memory_is_per_user(server: DurableServer) -> None:
    """Nova's supervisor saves and recalls project memory as the authenticated user only."""
    alice, bob = client_for(server, "alice"), client_for(server, "bob")
    context = {"project": "parts-shop", "agent": "memory_curator"}
    secret = "Ferrotec gives us a 12 percent rebate on spindles, code FT-5531."

    async def ask_memory(client: LangGraphClient, text: str, **extra: Any) -> dict[str, Any]:
        thread = await client.threads.create()
        output = await client.runs.wait(
            thread["thread_id"], "memory", input=ask(text), context={**context, **extra}
        )
        state = await client.threads.get_state(thread["thread_id"])
        return {"answer": output["answer"], "recalled": state["values"].get("memories", [])}

    saved = await ask_memory(alice, f"remember: {secret}")
    assert "Saved [mem:" in saved["answer"] and "project parts-shop" in saved["answer"]

    # Bob asks for it by every route: the tool, recall, and a context claiming to be alice.
    for extra in ({}, {"user_id": "alice"}):
        found = await ask_memory(bob, "recall: Ferrotec spindle rebate code FT-5531", **extra)
        assert "FT-5531" not in found["answer"]
        assert all("FT-5531" not in hit["text"] for hit in found["recalled"])
        assert found["recalled"], "bob's recall ran (on the project's seed memories)"

    mine = await ask_memory(alice, "recall: Ferrotec spindle rebate code")
    assert "FT-5531" in mine["answer"]
    assert any(hit["text"] == secret for hit in mine["recalled"])


async def start_sleepy(
    client: LangGraphClient, tid: str, label: str, seconds: float, **kw: Any
) -> dict[str, Any]:
    return dict(
        await client.runs.create(
            tid, "sleepy", input={"label": label, "seconds": seconds, "log": []}, **kw
        )
    )


@pytest.mark.parametrize("strategy", ["reject", "enqueue", "interrupt", "rollback"])
async def test_multitask_strategies(server: DurableServer, strategy: str) -> None:
    client = client_for(server, "alice")
    tid = (await client.threads.create())["thread_id"]
    # A run the second one cancels sleeps long enough to still be running when that one
    # arrives, however loaded the machine is (it finished first under a loaded CI once).
    cancelled = strategy in ("interrupt", "rollback")
    first = await start_sleepy(client, tid, "first", 30 if cancelled else 1.5)
    await wait_for_status(client, tid, first["run_id"], {"running"})
    if strategy == "reject":
        with pytest.raises(ConflictError):
            await start_sleepy(client, tid, "second", 0, multitask_strategy="reject")
        await client.runs.join(tid, first["run_id"])
        assert (await client.threads.get_state(tid))["values"]["log"] == ["first"]
        return
    second = await start_sleepy(client, tid, "second", 0, multitask_strategy=strategy)
    await client.runs.join(tid, second["run_id"])
    log = (await client.threads.get_state(tid))["values"]["log"]
    statuses = {r["run_id"]: r["status"] for r in await client.runs.list(tid)}
    assert statuses[second["run_id"]] == "success"
    if strategy == "enqueue":
        assert statuses[first["run_id"]] == "success"
        assert log == ["first", "second"]
    elif strategy == "interrupt":
        assert statuses[first["run_id"]] == "interrupted"
        assert log == ["second"]
    else:
        assert first["run_id"] not in statuses  # rollback deletes the first run and its state
        assert log == ["second"]


async def test_many_threads_run_concurrently_without_crossing(server: DurableServer) -> None:
    client = client_for(server, "alice")
    n = 40
    threads = await asyncio.gather(*(client.threads.create() for _ in range(n)))
    results = await asyncio.gather(
        *(
            client.runs.wait(t["thread_id"], "echo", input=ask(f"request {i}"))
            for i, t in enumerate(threads)
        )
    )
    assert [r["answer"] for r in results] == [f"echo: request {i}" for i in range(n)]
    for i, thread in enumerate(threads):
        state = await client.threads.get_state(thread["thread_id"])
        assert [m["content"] for m in state["values"]["messages"]] == [
            f"request {i}",
            f"echo: request {i}",
        ]

    # Ten one-second steps on ten threads: the worker pool runs them side by side.
    sleepy = await asyncio.gather(*(client.threads.create() for _ in range(10)))
    finals = await asyncio.gather(
        *(
            client.runs.wait(
                t["thread_id"], "sleepy", input={"label": f"s{i}", "seconds": 1.0, "log": []}
            )
            for i, t in enumerate(sleepy)
        )
    )
    spans = [final["spans"][0] for final in finals]
    most_at_once = max(sum(start <= moment < end for start, end in spans) for moment, _ in spans)
    assert most_at_once >= 5, f"at most {most_at_once} of 10 steps overlapped: {spans}"


@pytest.mark.parametrize("user", ["alice", "bob", None])
async def test_auth_matrix(server: DurableServer, user: str | None) -> None:
    owner = client_for(server, "alice")
    own_thread = (await owner.threads.create(metadata={"matrix": "alice"}))["thread_id"]
    own_run = await owner.runs.wait(own_thread, "echo", input=ask("private"))
    assert own_run["answer"] == "echo: private"
    own_assistant = await owner.assistants.create("echo", name="alice-echo")
    client = client_for(server, user)
    if user is None:
        for call in (
            client.threads.search(),
            client.threads.get(own_thread),
            client.runs.list(own_thread),
            client.assistants.search(),
            client.store.search_items(["alice"]),
            client.threads.create(),
        ):
            with pytest.raises(APIStatusError) as denied:
                await call
            assert denied.value.response.status_code == 401
        bad = get_client(url=server.url, api_key="not-a-key-0123456789")
        with pytest.raises(APIStatusError) as denied:
            await bad.threads.search()
        assert denied.value.response.status_code == 401
        studio = httpx.AsyncClient(base_url=server.url, headers={"x-auth-scheme": "langsmith"})
        assert (await studio.post("/threads/search", json={})).status_code == 401
        return
    visible = {t["thread_id"] for t in await client.threads.search(limit=1000)}
    assistants = {a["assistant_id"] for a in await client.assistants.search(limit=100)}
    if user == "alice":
        assert own_thread in visible
        assert (await client.threads.get(own_thread))["metadata"]["owner"] == "alice"
        assert len(await client.runs.list(own_thread)) == 1
        assert own_assistant["assistant_id"] in assistants
        return
    assert own_thread not in visible
    with pytest.raises(NotFoundError):
        await client.threads.get(own_thread)
    # The runtime answers another user's thread state with an empty snapshot, not a 404.
    assert (await client.threads.get_state(own_thread))["values"] == {}
    with pytest.raises(NotFoundError):
        await client.threads.get_history(own_thread)
    with pytest.raises(NotFoundError):
        await client.threads.update_state(own_thread, {"answer": "forged"})
    with pytest.raises(httpx.HTTPStatusError) as hijack:  # runs.wait raises httpx's error
        await client.runs.wait(own_thread, "echo", input=ask("hijack"))
    assert hijack.value.response.status_code == 404
    with pytest.raises(NotFoundError):
        await client.threads.delete(own_thread)
    with pytest.raises(NotFoundError):
        await client.runs.list(own_thread)
    assert own_assistant["assistant_id"] not in assistants
    assert {a["graph_id"] for a in await client.assistants.search(limit=100)} == set(TEST_GRAPHS)
    with pytest.raises(NotFoundError):
        await client.assistants.delete(own_assistant["assistant_id"])
    system_echo = next(
        a
        for a in await client.assistants.search(graph_id="echo")
        if a["metadata"].get("created_by") == "system"
    )
    with pytest.raises(APIStatusError):
        await client.assistants.update(system_echo["assistant_id"], metadata={"hijacked": True})
    # The owner still sees everything intact.
    assert (await owner.threads.get(own_thread))["thread_id"] == own_thread


async def test_malformed_graph_input_fails_the_run_with_a_clear_error(
    server: DurableServer,
) -> None:
    client = client_for(server, "alice")
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(tid, "echo", input={"messages": []})
    done = await wait_for_status(client, tid, run["run_id"], {"success", "error"})
    assert done["status"] == "error"
    thread = await client.threads.get(tid)
    assert thread["status"] == "error"
    assert "Nova needs a request" in str(thread["error"])
    # Input of the wrong shape fails its run (not the server), and nothing stays running.
    run = await client.runs.create(tid, "echo", input="not an object")  # type: ignore[arg-type]
    assert (await wait_for_status(client, tid, run["run_id"], {"success", "error"}))[
        "status"
    ] == "error"
    # Unknown graphs and contradictory options are refused up front, with 4xx and a reason.
    for body, expected in (
        ({"assistant_id": "no-such-graph", "input": ask("x")}, "no-such-graph"),
        (
            {"assistant_id": "echo", "input": ask("x"), "multitask_strategy": "sometimes"},
            "multitask_strategy",
        ),
        (
            {"assistant_id": "echo", "config": {"configurable": {"a": 1}}, "context": {"b": 2}},
            "context",
        ),
    ):
        response = await client.http.client.post(f"/threads/{tid}/runs", json=body)
        assert 400 <= response.status_code < 500, (body, response.status_code, response.text)
        assert expected in response.text, (body, response.text)
    assert not [r for r in await client.runs.list(tid) if r["status"] in ("pending", "running")]
