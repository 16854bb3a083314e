"""The inbox page in headless Chromium: approve a pending ERP write from the page.

A real ``langgraph dev`` server serves Nova's ``http.app`` (``nova.server.dev_app``: the inbox
routes) and the approval-gated ERP write of ``tests/server_graphs.py``. Chromium loads the
page, the test clicks "approve" through the DevTools protocol (as ``tests/
test_trace_cli_report.py`` does, Chromium is required: the test fails without it), and the
write must have happened exactly once: one audit row naming the approver, one idempotency
record, the stock moved once.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from websockets.sync.client import ClientConnection, connect

from nova.erp import models as m
from nova.erp.db import ErpDatabase
from tests.server_fixtures import TEST_GRAPHS, dev_server, seed_erp, write_langgraph_json
from tests.test_trace_cli_report import CHROMIUM_FLAGS, _chromium


class Page:
    """One Chromium tab driven over the DevTools protocol (``Runtime.evaluate``)."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self.ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.socket.recv(timeout=30))
            if reply.get("id") == message_id:
                assert "error" not in reply, reply
                return dict(reply["result"])

    def eval(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def wait_for(self, expression: str, deadline_s: float = 60) -> Any:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            # The document may be between pages (no body yet): that is "not yet", not an error.
            result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
            if "exceptionDetails" not in result and (value := result["result"].get("value")):
                return value
            time.sleep(0.1)
        html = self.eval("document.body.outerHTML")
        raise AssertionError(f"{expression} still false after {deadline_s}s:\n{html[-3000:]}")


@contextmanager
def chromium_page(profile: Path) -> Iterator[Page]:
    profile.mkdir()
    process = subprocess.Popen(
        [
            _chromium(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            assert process.poll() is None, "Chromium exited before opening its DevTools port"
            assert time.monotonic() < deadline, "Chromium opened no DevTools port in 60 s"
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        [tab] = [t for t in targets if t["type"] == "page"]
        with connect(tab["webSocketDebuggerUrl"], max_size=None) as socket:
            yield Page(socket)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


APPROVAL = "section[data-kind=approval]"


def test_approving_a_pending_erp_write_from_the_page_applies_it_exactly_once(
    tmp_path: Path,
) -> None:
    erp_path = tmp_path / "erp.sqlite"
    sku = seed_erp(erp_path)
    config = write_langgraph_json(tmp_path / "config", {"durable": TEST_GRAPHS["durable"]})
    database = ErpDatabase(f"sqlite:///{erp_path}")

    def counts() -> tuple[int, int, int]:
        with database.read_session() as session:
            audit = session.scalar(select(func.count()).select_from(m.AuditLog))
            keys = session.scalar(select(func.count()).select_from(m.IdempotencyRecord))
            moves = session.scalar(select(func.count()).select_from(m.StockMovement))
        return int(audit or 0), int(keys or 0), int(moves or 0)

    before = counts()
    env = {"NOVA_ERP_DATABASE_URL": f"sqlite:///{erp_path}"}
    with dev_server(tmp_path / "data", env, config=config) as url:
        from langgraph_sdk import get_sync_client

        client = get_sync_client(url=url, api_key=None)
        thread = client.threads.create()["thread_id"]
        client.runs.wait(thread, "durable", input={"product": sku, "hold_s": 0, "steps": []})
        assert client.threads.get(thread)["status"] == "interrupted"
        assert counts() == before  # nothing written before the approval

        # `nova inbox` lists the server's approval beside the local items, with its command.
        from typer.testing import CliRunner

        from nova.cli import app

        listed_by_cli = CliRunner().invoke(app, ["inbox", "--json", "--server", url])
        assert listed_by_cli.exit_code == 0, listed_by_cli.output
        [remote] = json.loads(listed_by_cli.output)["items"]
        assert remote["origin"] == "server" and remote["thread_id"] == thread
        assert remote["command"] == f"nova resume --thread {thread} --approve"

        with chromium_page(tmp_path / "profile") as page:
            page.call("Page.enable")
            page.call("Page.navigate", url=f"{url}/nova/inbox/page")
            page.wait_for("document.body.dataset.state === 'ready'")
            items = page.eval(f"document.querySelectorAll('{APPROVAL}').length")
            assert items == 1
            change = page.eval(f"document.querySelector('{APPROVAL} pre.change').textContent")
            assert '"tool": "erp_adjust_stock"' in change and sku in change  # the exact change
            command = page.eval(f"document.querySelector('{APPROVAL} code.command').textContent")
            assert command == f"nova resume --thread {thread} --approve"

            page.eval(
                "(() => { const i = document.querySelector('#approver'); i.value = 'marta';"
                " i.dispatchEvent(new Event('change')); })()"
            )
            page.eval(f"document.querySelector('{APPROVAL} button[data-action=approve]').click()")
            state = page.wait_for(
                f"['done', 'failed'].includes(document.querySelector('{APPROVAL}').dataset.state)"
                f" && document.querySelector('{APPROVAL}').dataset.state"
            )
            result = page.eval(f"document.querySelector('{APPROVAL} .result').textContent")
            assert state == "done", result
            assert page.eval(f"document.querySelector('{APPROVAL} button').disabled") is True

            # Reloaded, the page shows nothing waiting; the item is gone from the JSON too.
            page.eval("document.querySelector('#reload').click()")
            page.wait_for("document.body.dataset.state === 'ready'")
            assert page.eval(f"document.querySelectorAll('{APPROVAL}').length") == 0

        audit, keys, moves = counts()
        assert (audit, keys, moves) == (before[0] + 1, before[1] + 1, before[2] + 1)
        with database.read_session() as session:
            row = session.scalars(select(m.AuditLog).order_by(m.AuditLog.id.desc())).first()
            assert row is not None and row.approver == "marta" and row.thread_id == thread
        final = client.threads.get(thread)
        assert final["status"] == "idle" and final["values"]["outcome"] == "applied"

        # Approving the same item again finds nothing waiting and writes nothing.
        item_id = f"approval:{thread}"
        listed = httpx.get(f"{url}/nova/inbox", timeout=30).json()
        assert not [i for i in listed["items"] if i["id"].startswith(item_id)]
        again = httpx.post(
            f"{url}/nova/inbox/items/{item_id}:x/approve", json={"approver": "marta"}, timeout=30
        )
        assert again.status_code == 404 and "reload the inbox" in again.json()["detail"]
        assert counts() == (audit, keys, moves)
    database.dispose()


@pytest.mark.parametrize("body", ["not json", "[1]", '{"value": 3}'])
def test_bad_action_bodies_get_a_one_line_error(body: str, tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from nova.server.inbox import inbox_app

    with TestClient(inbox_app) as http:
        response = http.post(
            "/nova/inbox/items/failure:x/dismiss",
            content=body,
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 422 and "\n" not in response.json()["detail"]


def test_the_route_acts_on_local_items_by_their_own_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a server thread, dismiss writes the ledger and other actions run `nova …`."""
    from starlette.testclient import TestClient

    from memory.checkpoint import open_checkpointer
    from nova.ledger.failures import FailureLedger
    from nova.server import inbox as server_inbox
    from nova.server.inbox import inbox_app
    from tests.pipeline_fixtures import Skills, approval, pipeline, runner_for

    def no_server() -> Any:
        raise ConnectionError("no LangGraph server in this process")

    monkeypatch.setattr(server_inbox, "_client", no_server)
    failure = FailureLedger().record("timeout", error=TimeoutError("slow"), thread_id="t-1")
    skills = Skills()
    skills.behaviour["remind"] = approval(skills)
    spec = pipeline("reminders", [{"id": "send", "skill": "remind", "args": {"invoice": "I-1"}}])
    with open_checkpointer() as saver:
        assert runner_for(skills, spec, checkpointer=saver).run("reminders", thread_id="p1").waiting

    with TestClient(inbox_app) as http:
        listed = http.get("/nova/inbox").json()
        kinds = {item["id"]: item["kind"] for item in listed["items"]}
        assert kinds[f"failure:{failure.id}"] == "failure"
        [paused] = [item for item in listed["items"] if item["kind"] == "approval"]
        assert paused["origin"] == "local"
        assert any(s["name"] == "server approvals" and s["error"] for s in listed["sources"])

        done = http.post(
            f"/nova/inbox/items/failure:{failure.id}/dismiss",
            json={"value": "known slow model", "approver": "marta"},
        )
        assert done.status_code == 200, done.text
        assert FailureLedger().get(failure.id).dismissed_by == "marta"  # type: ignore[union-attr]

        wrong = http.post(f"/nova/inbox/items/{paused['id']}/explode", json={})
        assert wrong.status_code == 400 and "approve, reject" in wrong.json()["detail"]

        # The item's own command runs (`nova pipeline resume reminders …`): this test's
        # pipeline is not a shipped one, so the CLI answers with its own one-line error.
        rejected = http.post(f"/nova/inbox/items/{paused['id']}/reject", json={"value": "no"})
        assert rejected.status_code == 409
        assert "No pipeline named 'reminders'" in rejected.json()["detail"]
        assert "\n" not in rejected.json()["detail"]
