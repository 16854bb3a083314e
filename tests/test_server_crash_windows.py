"""Every crash window of an approved ERP write on the durable server, one test per window.

The server dies by SIGKILL (``nova.crashpoints``: the process kills itself at the exact
point, so no timing decides where) while the write waits for approval, after the approval
but before the write transaction, after the commit but before the checkpoint, after the
checkpoint, and before a run's first checkpoint. After a restart on the same Postgres and
Redis, the write happened exactly once (the audit trail and the idempotency record are in
the write's own transaction) or, where it had not started, happens once on the resumed
run; every run that was in flight is finished, and the failure ledger says it was
abandoned and resumed. Slow: run this file on its own.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from server_fixtures import API_KEYS, TEST_GRAPHS, DurableServer, durable_server, seed_erp

from nova.crashpoints import CRASH_ENV
from nova.erp.approval import audit_trail
from nova.erp.db import ErpDatabase
from nova.ledger.failures import FailureLedger, FailureRecord

pytestmark = [pytest.mark.integration, pytest.mark.slow]

APPROVE = {"resume": {"approved": True, "approver": "alice"}}


async def wait_for(
    predicate: Callable[[], Awaitable[Any]], what: str, deadline_s: float = 90
) -> Any:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if value := await predicate():
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {deadline_s}s waiting for {what}")


def restart_after_crash(server: DurableServer, marker: Path) -> None:
    """Wait until the crash point killed the server, clear what is left of it, start it again."""
    deadline = time.monotonic() + 60
    assert server.process is not None
    while server.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), "the crash point was never reached"
    assert server.process.poll() == -signal.SIGKILL, server.process.poll()
    try:
        os.killpg(server.process.pid, signal.SIGKILL)  # anything the dead server had started
    except ProcessLookupError:
        pass
    server.env.pop(CRASH_ENV, None)  # the restarted server runs without the crash point
    server.start()


def writes_for(data_dir: Path, thread_id: str) -> list[Any]:
    database = ErpDatabase(f"sqlite:///{data_dir / 'erp.sqlite'}", migrate=False)
    try:
        return [row for row in audit_trail(database, limit=500) if row.thread_id == thread_id]
    finally:
        database.dispose()


def stock_of(data_dir: Path, sku: str) -> int:
    from sqlalchemy import func, select

    from nova.erp import models as m

    database = ErpDatabase(f"sqlite:///{data_dir / 'erp.sqlite'}", migrate=False)
    try:
        with database.read_session() as session:
            return int(
                session.scalar(
                    select(func.sum(m.StockLevel.on_hand))
                    .join(m.Product, m.StockLevel.product_id == m.Product.id)
                    .where(m.Product.sku == sku)
                )
                or 0
            )
    finally:
        database.dispose()


async def abandoned(data_dir: Path, run_id: str) -> list[FailureRecord]:
    ledger = FailureLedger(f"sqlite:///{data_dir / 'ledger.sqlite'}")

    async def recorded() -> list[FailureRecord]:
        return [r for r in ledger.list(run_id=run_id) if r.kind == "abandoned"]

    return list(await wait_for(recorded, f"run {run_id} in the failure ledger", deadline_s=30))


async def paused_for_approval(client: LangGraphClient, sku: str) -> str:
    """Start the approval graph on a new thread; return the thread once it waits for approval."""
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(
        tid, "durable", input={"product": sku, "hold_s": 0, "hang": False, "steps": []}
    )
    state = await client.threads.get_state(tid)
    assert state["next"] == ["erp_write"], state
    return tid


async def finished(client: LangGraphClient, tid: str, run_id: str) -> dict[str, Any]:
    async def success() -> bool:
        return (await client.runs.get(tid, run_id))["status"] == "success"

    await wait_for(success, f"run {run_id} to be resumed and finish")
    values: dict[str, Any] = (await client.threads.get_state(tid))["values"]
    return values


def crash_env(data_dir: Path, point: str) -> tuple[dict[str, str], Path]:
    marker = data_dir / f"crashed-{point}"
    env = {
        "NOVA_SERVER_HEARTBEAT_S": "1",  # a dead worker's runs are taken over within seconds
        "NOVA_SERVER_MAX_ATTEMPTS": "3",
        CRASH_ENV: f"{point}:{marker}",
    }
    return env, marker


def setup(tmp_path: Path) -> tuple[Path, str, int]:
    data_dir = tmp_path / "crash"
    data_dir.mkdir(parents=True)
    sku = seed_erp(data_dir / "erp.sqlite")
    return data_dir, sku, stock_of(data_dir, sku)


async def test_crash_while_waiting_for_approval_keeps_the_pause(tmp_path: Path) -> None:
    data_dir, sku, before = setup(tmp_path)
    env = {"NOVA_SERVER_HEARTBEAT_S": "1"}
    with durable_server(data_dir, TEST_GRAPHS, env) as server:
        client = get_client(url=server.url, api_key=API_KEYS["alice"])
        tid = await paused_for_approval(client, sku)

        server.kill9()
        server.start()

        state = await client.threads.get_state(tid)
        [task] = state["tasks"]
        [pending] = task["interrupts"]
        assert pending["value"]["type"] == "erp_write_approval"
        assert writes_for(data_dir, tid) == []  # nothing written while it waited
        run = await client.runs.create(tid, "durable", command=APPROVE)
        values = await finished(client, tid, run["run_id"])

    assert values["outcome"] == "applied"
    assert len(writes_for(data_dir, tid)) == 1
    assert stock_of(data_dir, sku) == before + 5


async def test_crash_after_approval_before_the_transaction_writes_once_on_resume(
    tmp_path: Path,
) -> None:
    data_dir, sku, before = setup(tmp_path)
    env, marker = crash_env(data_dir, "erp.approved")
    with durable_server(data_dir, TEST_GRAPHS, env) as server:
        client = get_client(url=server.url, api_key=API_KEYS["alice"])
        tid = await paused_for_approval(client, sku)
        run = await client.runs.create(tid, "durable", command=APPROVE)

        await asyncio.to_thread(restart_after_crash, server, marker)
        assert writes_for(data_dir, tid) == []  # died before the transaction: nothing written
        values = await finished(client, tid, run["run_id"])
        [record] = await abandoned(data_dir, run["run_id"])

    assert values["outcome"] == "applied"  # the resumed run made the write, once
    assert values["steps"] == ["erp_write", "slow", "done"]
    assert len(writes_for(data_dir, tid)) == 1
    assert stock_of(data_dir, sku) == before + 5
    assert record.details["outcome"] == "resumed" and record.node == "erp_write"


async def test_crash_after_commit_before_the_checkpoint_is_not_written_twice(
    tmp_path: Path,
) -> None:
    data_dir, sku, before = setup(tmp_path)
    env, marker = crash_env(data_dir, "erp.committed")
    with durable_server(data_dir, TEST_GRAPHS, env) as server:
        client = get_client(url=server.url, api_key=API_KEYS["alice"])
        tid = await paused_for_approval(client, sku)
        run = await client.runs.create(tid, "durable", command=APPROVE)

        await asyncio.to_thread(restart_after_crash, server, marker)
        # Committed, but no checkpoint says so: the thread still shows the write's node next.
        assert len(writes_for(data_dir, tid)) == 1
        assert (await client.threads.get_state(tid))["next"] == ["erp_write"]
        values = await finished(client, tid, run["run_id"])
        [record] = await abandoned(data_dir, run["run_id"])

    # The resumed run found the idempotency record: it says the write was already done.
    assert values["outcome"] == "already_applied"
    assert values["steps"] == ["erp_write", "slow", "done"]
    assert len(writes_for(data_dir, tid)) == 1
    assert stock_of(data_dir, sku) == before + 5
    assert record.details["outcome"] == "resumed" and record.node == "erp_write"


async def test_crash_after_the_checkpoint_resumes_past_the_write(tmp_path: Path) -> None:
    data_dir, sku, before = setup(tmp_path)
    env, marker = crash_env(data_dir, "test.slow")
    with durable_server(data_dir, TEST_GRAPHS, env) as server:
        client = get_client(url=server.url, api_key=API_KEYS["alice"])
        tid = await paused_for_approval(client, sku)
        run = await client.runs.create(tid, "durable", command=APPROVE)

        await asyncio.to_thread(restart_after_crash, server, marker)
        assert (await client.threads.get_state(tid))["next"] == ["slow"]
        values = await finished(client, tid, run["run_id"])
        [record] = await abandoned(data_dir, run["run_id"])

    assert values["outcome"] == "applied"  # from the checkpoint: the write node did not re-run
    assert values["steps"] == ["erp_write", "slow", "done"]
    assert len(writes_for(data_dir, tid)) == 1
    assert stock_of(data_dir, sku) == before + 5
    assert record.details["outcome"] == "resumed" and record.node == "slow"


async def test_crash_before_the_first_checkpoint_is_rerun_and_recorded(tmp_path: Path) -> None:
    data_dir, sku, before = setup(tmp_path)
    env, marker = crash_env(data_dir, "test.first_node")
    with durable_server(data_dir, TEST_GRAPHS, env) as server:
        client = get_client(url=server.url, api_key=API_KEYS["alice"])
        tid = (await client.threads.create())["thread_id"]
        # durability="exit": nothing is checkpointed before the run ends, so the crash in the
        # first node is before the run's first checkpoint (langgraph issue 8764's window).
        run = await client.runs.create(
            tid,
            "durable",
            input={"product": sku, "hold_s": 0, "hang": False, "steps": []},
            durability="exit",
        )

        await asyncio.to_thread(restart_after_crash, server, marker)
        assert (await client.threads.get_state(tid))["values"] in ({}, None)

        async def settled() -> str | None:
            status = (await client.runs.get(tid, run["run_id"]))["status"]
            return status if status in ("success", "interrupted", "error") else None

        status = await wait_for(settled, "the run that died before its first checkpoint")
        [record] = await abandoned(data_dir, run["run_id"])
        state = await client.threads.get_state(tid)

    # The run was redone from its input up to the approval pause: not lost, nothing written.
    assert status in ("success", "interrupted"), status
    assert state["next"] == ["erp_write"], state
    assert writes_for(data_dir, tid) == []
    assert stock_of(data_dir, sku) == before
    assert record.details["outcome"] == "resumed"
    assert "before its first checkpoint" in record.message
