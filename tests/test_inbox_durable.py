"""The inbox route on the durable server: authenticated, and scoped to the caller.

A real durable server (langgraph-api on langgraph-runtime-pg, own Postgres database, Redis)
with Nova's API keys: no key or a wrong one gets 401; each user sees the approvals of their
own threads and the failures recorded on them, never another user's; acting on another
user's item finds nothing; the approver recorded is the authenticated user.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langgraph_sdk import get_sync_client
from server_fixtures import API_KEYS, TEST_GRAPHS, DurableServer, durable_server, seed_erp

from nova.ledger.failures import FailureLedger

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DurableServer, str]]:
    data_dir = tmp_path_factory.mktemp("inbox-durable")
    sku = seed_erp(data_dir / "erp.sqlite")
    graphs = {"durable": TEST_GRAPHS["durable"]}
    with durable_server(data_dir, graphs) as running:
        yield running, sku


def _get(server: DurableServer, user: str | None, key: str | None = None) -> httpx.Response:
    headers = {"x-api-key": key or API_KEYS[user]} if (user or key) else {}
    return httpx.get(f"{server.url}/nova/inbox", headers=headers, timeout=60)


def test_each_user_sees_and_acts_on_their_own_items_only(
    server: tuple[DurableServer, str],
) -> None:
    running, sku = server
    alice = get_sync_client(url=running.url, api_key=API_KEYS["alice"])
    bob = get_sync_client(url=running.url, api_key=API_KEYS["bob"])
    alice_thread = alice.threads.create()["thread_id"]
    alice.runs.wait(alice_thread, "durable", input={"product": sku, "hold_s": 0, "steps": []})
    bob_thread = bob.threads.create()["thread_id"]
    ledger = FailureLedger(f"sqlite:///{Path(running.data_dir) / 'ledger.sqlite'}")
    alice_failure = ledger.record("timeout", error=TimeoutError("slow"), thread_id=alice_thread)
    bob_failure = ledger.record("timeout", error=TimeoutError("slow"), thread_id=bob_thread)
    ledger.record("node_error", error=RuntimeError("no thread"))  # owner-only, CLI run

    assert _get(running, None).status_code == 401
    assert _get(running, None, key="not-a-key").status_code == 401

    mine = _get(running, "alice").json()
    assert mine["user"] == "alice"
    ids = {item["id"] for item in mine["items"]}
    [approval] = [item for item in mine["items"] if item["kind"] == "approval"]
    assert approval["thread_id"] == alice_thread and approval["origin"] == "server"
    assert approval["detail"]["request"]["change"]["tool"] == "erp_adjust_stock"
    assert f"failure:{alice_failure.id}" in ids and f"failure:{bob_failure.id}" not in ids
    assert len(ids) == 2  # nothing of bob's, nothing from the owner's local stores

    theirs = {item["id"] for item in _get(running, "bob").json()["items"]}
    assert theirs == {f"failure:{bob_failure.id}"}

    stolen = httpx.post(
        f"{running.url}/nova/inbox/items/{approval['id']}/approve",
        headers={"x-api-key": API_KEYS["bob"]},
        json={"approver": "bob"},
        timeout=60,
    )
    assert stolen.status_code == 404
    assert alice.threads.get(alice_thread)["status"] == "interrupted"

    done = httpx.post(
        f"{running.url}/nova/inbox/items/{approval['id']}/approve",
        headers={"x-api-key": API_KEYS["alice"]},
        json={"approver": "mallory"},  # ignored: the approver is who authenticated
        timeout=120,
    )
    assert done.status_code == 200, done.text
    final = alice.threads.get(alice_thread)
    assert final["status"] == "idle" and final["values"]["outcome"] == "applied"
    assert final["values"]["user_id"] == "alice"

    from nova.erp.approval import audit_trail
    from nova.erp.db import ErpDatabase

    database = ErpDatabase(f"sqlite:///{Path(running.data_dir) / 'erp.sqlite'}", migrate=False)
    rows = [row for row in audit_trail(database) if row.thread_id == alice_thread]
    database.dispose()
    assert len(rows) == 1 and rows[0].approver == "alice"

    dismissed = httpx.post(
        f"{running.url}/nova/inbox/items/failure:{alice_failure.id}/dismiss",
        headers={"x-api-key": API_KEYS["alice"]},
        json={"value": "known slow model"},
        timeout=60,
    )
    assert dismissed.status_code == 200
    assert ledger.get(alice_failure.id).dismissed_by == "alice"  # type: ignore[union-attr]
    assert _get(running, "alice").json()["items"] == []
