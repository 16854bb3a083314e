"""The Chroma server ``nova serve`` runs for several workers (``nova.server.chroma_server``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from memory_fixtures import chroma_client, make_projects

from memory.store import MemoryStore
from nova.server.chroma_server import ChromaServerError, start_chroma_server
from nova.server.serve import main as serve_main
from nova.settings import get_settings, load_settings

pytestmark = pytest.mark.integration


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (dead, not yet reaped) still answers kill(0): read its state.
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "zombie" not in status.read_text()


def test_workers_share_memory_through_it_and_the_folder_stays_embeddable(tmp_path: Path) -> None:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    projects = make_projects(tmp_path / "projects")
    server = start_chroma_server(tmp_path / "chroma", tmp_path / "chroma.log")
    try:
        port = int(server.url.rsplit(":", 1)[1])
        settings = ChromaSettings(anonymized_telemetry=False)
        writer, reader = (
            MemoryStore(
                chromadb.HttpClient(host="127.0.0.1", port=port, settings=settings),
                projects=projects,
            ).for_owner("alice")
            for _ in range(2)
        )
        writer.save("alpha-co", "Alpha Co's spindle oil is Mobil Vactra No. 2.")
        assert reader.search("alpha-co", "spindle oil", k=1)[0]["text"].startswith("Alpha Co's")
    finally:
        server.stop()
    assert server.process.returncode is not None

    # The same folder opens embedded afterwards (one process again): nothing to convert.
    embedded = MemoryStore(chroma_client(tmp_path / "chroma"), projects=projects)
    assert embedded.for_owner("alice").search("alpha-co", "spindle oil", k=1)[0]["text"] == (
        "Alpha Co's spindle oil is Mobil Vactra No. 2."
    )


def test_it_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    """A kill -9 of ``nova serve`` must not leave a Chroma server holding the folder."""
    script = (
        "import sys, time; from pathlib import Path;"
        "from nova.server.chroma_server import start_chroma_server;"
        f"s = start_chroma_server(Path({str(tmp_path / 'chroma')!r}),"
        f" Path({str(tmp_path / 'log')!r}));"
        "print(s.process.pid, flush=True); time.sleep(600)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    chroma_pid = int(parent.stdout.readline())
    assert _process_alive(chroma_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 15
    while _process_alive(chroma_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _process_alive(chroma_pid), "the Chroma server outlived its parent"


def test_a_server_that_cannot_start_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nova.server.chroma_server as chroma_server

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(chroma_server, "_free_loopback_port", lambda: port)
        with pytest.raises(ChromaServerError) as error:
            start_chroma_server(tmp_path / "chroma", tmp_path / "chroma.log", deadline_s=30)
    message = str(error.value)
    assert "did not start" in message and str(tmp_path / "chroma.log") in message
    assert "NOVA_CHROMA_URL" in message and "NOVA_SERVER_WORKERS=1" in message


def test_serve_starts_it_only_for_several_workers_without_a_chroma_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``nova.server.serve.main`` points the workers at a Chroma server, then stops it."""
    import chromadb
    import uvicorn

    monkeypatch.setenv("NOVA_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LANGGRAPH_RUNTIME_EDITION", raising=False)
    # serve sets NOVA_CHROMA_URL in os.environ for its workers. Set and delete it through
    # monkeypatch so that it is recorded as absent and removed after the test (delenv of an
    # absent variable records nothing); a leaked URL would point later servers at nothing.
    monkeypatch.setenv("NOVA_CHROMA_URL", "http://127.0.0.1:1")
    monkeypatch.delenv("NOVA_CHROMA_URL")
    get_settings.cache_clear()
    seen: list[str | None] = []

    def fake_uvicorn(argv: list[str], prog_name: str) -> None:
        url = os.environ.get("NOVA_CHROMA_URL")
        seen.append(url)
        if url and url != CONFIGURED:
            # What a worker's settings open: the shared server, and it answers.
            assert str(load_settings().chroma_url).rstrip("/") == url
            port = int(url.rsplit(":", 1)[1])
            assert chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat() > 0

    monkeypatch.setattr(uvicorn, "main", fake_uvicorn)
    serve_main(["app:app", "--workers", "1"])
    assert seen == [None]
    serve_main(["app:app", "--workers", "2"])
    shared = seen[1]
    assert shared is not None and (tmp_path / "chroma").is_dir()
    with pytest.raises(httpx.HTTPError):  # stopped when uvicorn returned
        httpx.get(f"{shared}/api/v2/heartbeat", timeout=2)

    monkeypatch.setenv("NOVA_CHROMA_URL", CONFIGURED)
    serve_main(["app:app", "--workers", "2"])
    assert seen[2] == CONFIGURED  # a configured Chroma server is used as it is


CONFIGURED = "http://127.0.0.1:9"
