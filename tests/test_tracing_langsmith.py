"""LangSmith export: the same runs with Nova's metadata, secrets redacted, and never a stall.

A LangSmith endpoint that accepts connections and never answers once kept a process
alive for over 300 s (shared/OFFLINE-NOTES.md). Here one runs on loopback: the run must
finish promptly and the process must exit promptly.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from nova.testing import ScriptedChatModel, ScriptedModels, says
from nova.tracing.langsmith import LangSmithExporter
from tests.failures_fixtures import subgraph_run

REPO = Path(__file__).resolve().parents[1]


class SilentServer:
    """Accepts TCP connections on loopback and never answers them."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.port = self.socket.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.socket.settimeout(0.1)
        while not self._stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=5)
        for connection in self.accepted:
            connection.close()
        self.socket.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def _wait_for(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def test_a_stalling_endpoint_slows_neither_the_run_nor_the_exit(
    silent_server: SilentServer, tmp_path: Path
) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from nova.testing import ScriptedChatModel, ScriptedModels, says
        from nova.tracing import tracing_callbacks
        from tests.failures_fixtures import subgraph_run

        callbacks = tracing_callbacks()
        assert any(type(h).__name__ == "LangSmithExporter" for h in callbacks), callbacks
        model = ScriptedChatModel.from_script([says("hello")])
        started = time.monotonic()
        models = ScriptedModels({"general_chat": model})
        subgraph_run("chat", "general_chat", "hi", models, callbacks=callbacks)
        print(f"RUN {time.monotonic() - started:.3f}", flush=True)
        print("EXITING", flush=True)
        """
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "HOME": str(Path.home()),
        "HF_HUB_OFFLINE": "1",
        "LANGSMITH_TRACING": "false",
        "LANGSMITH_TEST_TRACKING": "false",
        "NOVA_DATA_DIR": str(tmp_path / "data"),
        "NOVA_LANGSMITH_API_KEY": "lsv2_pt_not_a_real_key_0000000000",
        "NOVA_LANGSMITH_ENDPOINT": f"http://127.0.0.1:{silent_server.port}",
        "NOVA_LANGSMITH_TIMEOUT_S": "30",  # longer than the exit budget: the flush bound must win
        "NOVA_TRACE_FLUSH_TIMEOUT_S": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    exiting_at: list[float] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.strip())
            if line.startswith("EXITING"):
                exiting_at.append(time.monotonic())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert _wait_for(lambda: exiting_at, 120), f"run did not finish: {lines} {process.stderr}"
        code = process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(
            "the process did not exit within 15 s of finishing its run (tracing stalled it)"
        )
    exit_seconds = time.monotonic() - exiting_at[0]
    run_seconds = float(next(line for line in lines if line.startswith("RUN")).split()[1])
    assert code == 0, process.stderr.read() if process.stderr else ""
    assert run_seconds < 3.0, f"the run took {run_seconds:.1f} s with a stalling LangSmith"
    assert exit_seconds < 6.0, f"exit took {exit_seconds:.1f} s (flush bound is 1 s)"
    assert _wait_for(lambda: silent_server.accepted, 5), "the exporter never tried to send"


class Capture(BaseHTTPRequestHandler):
    """Records what a LangSmith client posts."""

    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        payload = self.rfile.read(length)
        try:
            Capture.bodies.append({"path": self.path, "json": json.loads(payload)})
        except ValueError:
            Capture.bodies.append({"path": self.path, "raw": payload[:200]})
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        return


def test_runs_reach_langsmith_with_metadata_and_secrets_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NOVA_MODEL_API_KEY", "model-key-abcdef")
    from nova.settings import get_settings

    get_settings.cache_clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Capture.bodies.clear()
    try:
        exporter = LangSmithExporter(
            api_key="lsv2_pt_test_key_111111111111",
            endpoint=f"http://127.0.0.1:{server.server_port}",
            project="nova-test",
        )
        model = ScriptedChatModel.from_script([says("The key is model-key-abcdef.")])
        subgraph_run(
            "chat",
            "general_chat",
            "show model-key-abcdef",
            ScriptedModels({"general_chat": model}),
            callbacks=[exporter],
            thread="t-ls",
        )
        assert exporter.worker.flush(10)
        assert _wait_for(lambda: Capture.bodies, 5)
    finally:
        server.shutdown()
        server.server_close()
    posted = [b for b in Capture.bodies if b["path"].endswith("/runs/batch")]
    assert posted, Capture.bodies
    runs = [run for body in posted for run in body["json"].get("post", [])]
    names = {run["name"] for run in runs}
    assert {"LangGraph", "agent", "check"} <= names
    agent = next(run for run in runs if run["name"] == "agent")
    assert agent["extra"]["metadata"]["thread_id"] == "t-ls"
    assert agent["extra"]["metadata"]["langgraph_node"] == "agent"
    assert all(run["session_name"] == "nova-test" for run in runs)
    root = next(run for run in runs if run["parent_run_id"] is None)
    assert root["extra"]["metadata"]["nova_route_agent"] == "general_chat"
    assert root["extra"]["metadata"]["nova_project"] == "parts-shop"
    assert root["extra"]["metadata"]["nova_agent_version"].startswith("general_chat@")
    assert all(run["trace_id"] == runs[0]["trace_id"] for run in runs)
    text = json.dumps(posted)
    assert "model-key-abcdef" not in text and "[redacted]" in text
