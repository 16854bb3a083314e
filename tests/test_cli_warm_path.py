"""The CLI as a client of a running server: same answers and records, approvals included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from server_fixtures import ROOT, dev_server, seed_erp, write_langgraph_json

from nova.cli.remote import choose_target, server_thread_id
from nova.server.announce import announced, read_announcement
from nova.settings import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _nova(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nova.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "NOVA_DATA_DIR": str(data_dir),
        "LANGSMITH_TRACING": "false",
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "200",
        **extra,
    }


def _ledger_requests(data_dir: Path) -> list[str]:
    from nova.ledger.routing import RoutingLedger

    ledger = RoutingLedger(f"sqlite:///{data_dir / 'ledger.sqlite'}")
    return [record.request for record in ledger.list(limit=100)]


def test_ask_through_the_server_answers_and_records_like_in_process(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    erp = data_dir / "erp.sqlite"
    seed_erp(erp)
    extra = {"NOVA_ERP_DATABASE_URL": f"sqlite:///{erp}"}
    env = _env(data_dir, **extra)
    question = "How many customers do we have?"
    local = _nova(["ask", question, "--project", "parts-shop", "--json", "--local"], env)
    assert local.returncode == 0, local.stderr
    with dev_server(data_dir, extra) as url:
        remote = _nova(["ask", question, "--project", "parts-shop", "--json", "--server", url], env)
        assert remote.returncode == 0, remote.stderr
        here, there = json.loads(local.stdout), json.loads(remote.stdout)
        assert there["route"]["agent"] == here["route"]["agent"]
        assert there["answer"] == here["answer"]
        assert there["project"] == "parts-shop"
        # The server wrote the same kind of record to the same ledger.
        assert _ledger_requests(data_dir).count(question) == 2

        # The thread continues on the server under the same short id.
        follow = _nova(
            [
                "ask",
                "And how many products?",
                "--thread",
                there["thread"],
                "--json",
                "--server",
                url,
            ],
            env,
        )
        assert follow.returncode == 0, follow.stderr
        from langgraph_sdk import get_sync_client

        state = get_sync_client(url=url).threads.get_state(server_thread_id(there["thread"]))
        humans = [m["content"] for m in state["values"]["messages"] if m["type"] == "human"]
        assert humans == [question, "And how many products?"]


def test_an_approval_works_the_same_through_the_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    erp = data_dir / "erp.sqlite"
    sku = seed_erp(erp)
    extra = {"NOVA_ERP_DATABASE_URL": f"sqlite:///{erp}", "NOVA_TEST_SKU": sku}
    config = write_langgraph_json(
        tmp_path / "config", {"nova": f"{ROOT / 'tests' / 'server_graphs.py'}:approving"}
    )
    env = _env(data_dir, **extra)
    with dev_server(data_dir, extra, config=config) as url:
        asked = _nova(
            ["ask", f"count {sku} again", "--agent", "erp_inventory", "--server", url], env
        )
        assert asked.returncode == 3, asked.stdout + asked.stderr
        assert "Approval needed" in asked.stdout and sku in asked.stdout
        thread = asked.stdout.split("nova resume --thread ")[1].split()[0]
        resumed = _nova(["resume", "--thread", thread, "--approve", "--server", url], env)
        assert resumed.returncode == 0, resumed.stderr
        again = _nova(["resume", "--thread", thread, "--approve", "--server", url], env)
        assert again.returncode != 0
    from sqlalchemy import text

    from nova.erp.db import ErpDatabase

    database = ErpDatabase(f"sqlite:///{erp}")
    with database.read_session() as session:
        adjustments = session.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'adjust_stock'")
        ).scalar_one()
    assert adjustments == 1


def test_the_cli_finds_an_announced_server_and_ignores_a_dead_one(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert choose_target(settings, server=None, local=False) is None
    with announced(tmp_path, "http://127.0.0.1:9", "dev"):
        target = choose_target(settings, server=None, local=False)
        assert target is not None and target.url == "http://127.0.0.1:9"
        assert not target.required
        assert choose_target(settings, server=None, local=True) is None
    assert read_announcement(tmp_path) is None
    # A file left by a server that died (kill -9) names a process that is gone.
    (tmp_path / "server.json").write_text(
        json.dumps({"url": "http://127.0.0.1:9", "mode": "dev", "pid": 2**22 + 12345})
    )
    assert choose_target(settings, server=None, local=False) is None


def test_an_unreachable_server_is_one_clear_line(tmp_path: Path) -> None:
    env = _env(tmp_path)
    result = _nova(["ask", "hello", "--server", "http://127.0.0.1:9"], env)
    assert result.returncode == 2
    assert "No Nova server answers at http://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_nova_ask_uses_the_server_nova_serve_announced(tmp_path: Path) -> None:
    """Without --server, `nova ask` finds a running `nova serve --dev` and runs there."""
    from langgraph_sdk import get_sync_client
    from server_fixtures import free_port, wait_until_ok

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    erp = data_dir / "erp.sqlite"
    seed_erp(erp)
    env = _env(data_dir, NOVA_ERP_DATABASE_URL=f"sqlite:///{erp}")
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "nova.cli", "serve", "--dev", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_ok(url, server, log, deadline_s=180)
        announced_server = read_announcement(data_dir)
        assert announced_server is not None and announced_server.url == url
        asked = _nova(["ask", "How many customers do we have?", "--json"], env)
        assert asked.returncode == 0, asked.stderr
        thread = json.loads(asked.stdout)["thread"]
        # The conversation lives on the server, not in the local checkpointer.
        assert get_sync_client(url=url).threads.get(server_thread_id(thread))
        local = _nova(["ask", "How many customers do we have?", "--json", "--local"], env)
        assert local.returncode == 0, local.stderr
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)
    # The server is gone: its announcement names a dead process, and the CLI runs in-process.
    assert read_announcement(data_dir) is None
    after = _nova(["ask", "How many customers do we have?", "--json"], env)
    assert after.returncode == 0, after.stderr
