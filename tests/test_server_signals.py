"""``nova serve`` at its edges: a taken port, Ctrl-C (SIGINT) and SIGTERM (what systemd sends).

Each test starts the real command (``python -m nova.cli serve``) in its own session, so the
process group holds everything it started: the server, uvicorn's workers, the Chroma
server. A signal goes to the command's pid only (``kill <pid>``), never to the group, so the
command itself must take its processes down.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from server_fixtures import (
    API_KEYS,
    REDIS_URL,
    ROOT,
    TEST_GRAPHS,
    free_port,
    postgres_database,
    wait_until_ok,
    write_langgraph_json,
)

from nova.server.executor import node_executor

SHUTDOWN_ERRORS = ("Traceback", "shutdown failed", "cannot schedule new futures")


def group_members(pgid: int) -> list[str]:
    """Return ``pid state command`` of every live (not zombie) process in group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it exited while we looked
        # The command may hold spaces and parentheses: fields resume after the last ')'.
        state, _ppid, group = stat.rsplit(")", 1)[1].split()[:3]
        if int(group) == pgid and state != "Z":
            members.append(f"{entry.name} {state} {stat.split(' ', 1)[1][:80]}")
    return members


def port_is_free(port: int) -> bool:
    """Whether a server could bind 127.0.0.1:``port`` now (as langgraph-api probes it)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_until_gone(pgid: int, port: int, deadline_s: float = 60) -> None:
    """Poll until no process of group ``pgid`` is alive and ``port`` is free, or fail."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if not group_members(pgid) and port_is_free(port):
            return
        time.sleep(0.1)
    raise AssertionError(
        f"after {deadline_s}s: port {port} free: {port_is_free(port)}; "
        f"still running: {group_members(pgid)}"
    )


@contextmanager
def nova_serve(
    args: list[str], tmp_path: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], Path, Path]]:
    """Run ``nova serve ARGS`` in its own session; yield it with its stdout and stderr files.

    Whatever is left of its process group is killed afterwards, so a failing test leaves
    no server behind.
    """
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "nova.cli", "serve", *args],
            cwd=ROOT,
            env={**os.environ, "LANGSMITH_TRACING": "false", **(env or {})},
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        yield process, out, err
    finally:
        if group_members(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def stop_and_check(
    process: subprocess.Popen[bytes],
    port: int,
    err: Path,
    sig: signal.Signals,
    *,
    group: bool = False,
) -> None:
    """Send ``sig`` to the command (or its whole group, as a terminal's Ctrl-C does); assert
    it and all it started end cleanly and the port is free again."""
    if group:
        os.killpg(process.pid, sig)
    else:
        process.send_signal(sig)
    # uvicorn shuts down gracefully, then re-raises the signal it stopped for: a SIGTERM'd
    # single uvicorn process reports "killed by SIGTERM" (systemd counts that as success).
    assert process.wait(timeout=60) in (0, -sig), err.read_text()[-4000:]
    wait_until_gone(process.pid, port)
    errors = err.read_text()
    assert not [line for line in errors.splitlines() if any(e in line for e in SHUTDOWN_ERRORS)], (
        errors[-4000:]
    )


@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_dev_server_stops_with_everything_it_started(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    # A langgraph.json in tmp_path (with Nova's dev app): the dev server keeps its data in
    # .langgraph_api/ beside it, not in the checkout.
    config = write_langgraph_json(tmp_path / "config", {"echo": TEST_GRAPHS["echo"]})
    args = ["--dev", "--port", str(port), "--config", str(config)]
    with nova_serve(args, tmp_path) as (process, out, err):
        url = f"http://127.0.0.1:{port}"
        wait_until_ok(url, process, err, deadline_s=180)
        # The store and a thread are in use, so shutdown has something to close and flush.
        assert httpx.post(f"{url}/threads", json={}).status_code == 200
        item = {"namespace": ["edges"], "key": "k", "value": {"v": 1}}
        assert httpx.put(f"{url}/store/items", json=item).status_code == 204
        assert f"in memory on {url} " in " ".join(out.read_text().split())
        stop_and_check(process, port, err, sig)


@pytest.mark.integration
@pytest.mark.parametrize("mode", [["--dev"], []], ids=["dev", "durable"])
def test_serve_refuses_a_taken_port_naming_it(tmp_path: Path, mode: list[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with nova_serve([*mode, "--port", str(port)], tmp_path) as (process, out, err):
            # langgraph dev would move to another port and keep running; nova serve must not.
            assert process.wait(timeout=120) == 2, out.read_text() + err.read_text()
        message = " ".join(err.read_text().split())
        assert message.startswith(f"error: Port {port} on 127.0.0.1 is taken"), message
        assert f"--port {port + 1}" in message and "Traceback" not in message
        assert "Serving" not in out.read_text()


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "group"),
    [(signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["SIGTERM to nova serve", "Ctrl-C in its terminal"],
)
def test_durable_server_stops_its_workers_and_chroma_server(
    tmp_path: Path, sig: signal.Signals, group: bool
) -> None:
    port = free_port()
    with postgres_database("nova_serve_signals") as database_url:
        env = {
            "NOVA_DATA_DIR": str(tmp_path / "data"),
            "NOVA_SERVER_DATABASE_URL": database_url,
            "NOVA_SERVER_REDIS_URL": REDIS_URL,
            "NOVA_SERVER_API_KEYS": ",".join(f"{u}:{k}" for u, k in API_KEYS.items()),
            # Two workers: uvicorn's supervisor, two worker processes and a Chroma server.
            "NOVA_SERVER_WORKERS": "2",
        }
        with nova_serve(["--port", str(port)], tmp_path, env) as (process, out, err):
            wait_until_ok(f"http://127.0.0.1:{port}", process, err, deadline_s=240)
            assert "Chroma server for the workers" in out.read_text() + err.read_text()
            assert len(group_members(process.pid)) >= 4, group_members(process.pid)
            stop_and_check(process, port, err, sig, group=group)


async def test_blocking_calls_after_the_node_pool_closes_still_run() -> None:
    # The runtime closes its store with asyncio.to_thread after Nova's lifespan has ended;
    # with Nova's pool shut down and still the loop's default, that raised "cannot schedule
    # new futures after shutdown" and Ctrl-C ended in "Application shutdown failed".
    async with node_executor() as pool:
        assert await asyncio.to_thread(lambda: "in the pool") == "in the pool"
    assert pool._shutdown  # Nova's threads are released...
    assert await asyncio.to_thread(lambda: "after") == "after"  # ...and the loop still works


def test_a_server_program_that_cannot_start_is_one_clear_error(tmp_path: Path) -> None:
    from nova.server.launch import ServerConfigError, replace_process

    missing = tmp_path / "bin" / "langgraph"
    missing.parent.mkdir()
    here = Path.cwd()
    with pytest.raises(ServerConfigError, match=r"Cannot start .*langgraph \(No such file"):
        replace_process([str(missing), "dev"], cwd=tmp_path / "bin", env={})
    assert Path.cwd() == here
