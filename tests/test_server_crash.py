"""kill -9 the durable server mid-run: threads survive, runs resume from their last checkpoint
(the approved ERP write is not repeated), and a run that keeps killing its server is marked
failed and lands in the failure ledger."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from server_fixtures import API_KEYS, TEST_GRAPHS, durable_server, seed_erp

from nova.erp.approval import audit_trail
from nova.erp.db import ErpDatabase
from nova.ledger.failures import FailureLedger

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


async def wait_for(predicate, what: str, deadline_s: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if value := await predicate():
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {deadline_s}s waiting for {what}")


async def approved_run_in_slow_step(
    client: LangGraphClient, marker: Path, sku: str, *, hang: bool
) -> tuple[str, str]:
    """Start a run, approve its ERP write; return (thread, run) once it is in the slow step."""
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(
        tid, "durable", input={"product": sku, "hold_s": 600, "hang": hang, "steps": []}
    )
    run = await client.runs.create(
        tid, "durable", command={"resume": {"approved": True, "approver": "alice"}}
    )

    async def in_slow() -> bool:
        return tid in await asyncio.to_thread(read, marker)

    await wait_for(in_slow, f"thread {tid} to reach the slow step")
    return tid, run["run_id"]


async def test_kill_9_mid_run_resumes_or_fails_into_the_ledger(tmp_path: Path) -> None:
    data_dir = tmp_path / "crash"
    data_dir.mkdir(parents=True)
    sku = seed_erp(data_dir / "erp.sqlite")
    marker = data_dir / "slow-steps.log"
    env = {
        "NOVA_SERVER_HEARTBEAT_S": "1",  # a dead worker's runs are taken over within seconds
        "NOVA_SERVER_MAX_ATTEMPTS": "2",
        "NOVA_TEST_SLOW_MARKER": str(marker),
    }
    with durable_server(data_dir, TEST_GRAPHS, env) as server:
        client = get_client(url=server.url, api_key=API_KEYS["alice"])
        resumable = await approved_run_in_slow_step(client, marker, sku, hang=False)
        doomed = await approved_run_in_slow_step(client, marker, sku, hang=True)

        server.kill9()
        server.start()

        # The resumable run finishes from its checkpoint: the write is not done again.
        async def finished() -> bool:
            return (await client.runs.get(*resumable))["status"] == "success"

        await wait_for(finished, "the interrupted run to be resumed and finish")
        state = await client.threads.get_state(resumable[0])
        assert state["values"]["steps"] == ["erp_write", "slow", "done"]
        assert state["values"]["outcome"] == "applied"

        # The doomed run hangs again on its second (last) attempt: kill that server too.
        async def second_attempt() -> bool:
            return f"{doomed[0]} attempt 2" in await asyncio.to_thread(read, marker)

        await wait_for(second_attempt, "the second attempt of the hanging run")
        server.kill9()
        server.start()

        async def failed() -> bool:
            return (await client.runs.get(*doomed))["status"] == "error"

        await wait_for(failed, "the hanging run to be marked failed")
        assert (await client.threads.get(doomed[0]))["thread_id"] == doomed[0]

        ledger = FailureLedger(f"sqlite:///{data_dir / 'ledger.sqlite'}")

        async def recorded_failure() -> bool:
            return any(r.details.get("outcome") == "failed" for r in ledger.list(run_id=doomed[1]))

        await wait_for(recorded_failure, "the failed run in the failure ledger", deadline_s=20)

    [failure] = [r for r in ledger.list(run_id=doomed[1]) if r.details["outcome"] == "failed"]
    assert failure.kind == "abandoned" and failure.error_type == "RunAbandoned"
    assert failure.thread_id == doomed[0]
    assert failure.node == "slow"
    assert failure.checkpoint_id
    assert "marked failed" in failure.message
    resumed = ledger.list(run_id=resumable[1])
    assert [r.details["outcome"] for r in resumed] == ["resumed"]
    assert resumed[0].node == "slow"

    database = ErpDatabase(f"sqlite:///{data_dir / 'erp.sqlite'}", migrate=False)
    writes = {
        tid: [row for row in audit_trail(database) if row.thread_id == tid]
        for tid in (resumable[0], doomed[0])
    }
    database.dispose()
    assert {tid: len(rows) for tid, rows in writes.items()} == {resumable[0]: 1, doomed[0]: 1}
