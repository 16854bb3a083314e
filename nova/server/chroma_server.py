"""One Chroma server for a durable server's worker processes.

Nova's embedded Chroma (``PersistentClient`` on ``<data dir>/chroma``) belongs to one
process: Chroma documents it as not process-safe, and two processes writing one folder lose
or corrupt vectors (chroma-core/chroma#961, #3792). With ``NOVA_SERVER_WORKERS`` above 1 and
no ``NOVA_CHROMA_URL``, ``nova serve`` therefore starts ``chroma run`` on that same folder,
on a free loopback port, and points every worker at it; the folder keeps its format, so a
later single-process start opens it embedded again. The Chroma server dies with the
process that started it (``PR_SET_PDEATHSIG`` on Linux; also SIGTERM with its process group).
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

_CHROMA_MAIN = "import sys; from chromadb.cli.cli import app; sys.argv[0] = 'chroma'; app()"
"""``chroma run`` through the running interpreter: the overlay has no ``chroma`` script."""
_PR_SET_PDEATHSIG = 1


class ChromaServerError(RuntimeError):
    """The Chroma server for the workers did not start."""


@dataclass
class ChromaServer:
    """A running ``chroma run`` child process."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self, timeout_s: float = 10) -> None:
        """Terminate the server (it flushes its SQLite and index files), then kill it."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_parent_hook() -> Callable[[], None] | None:
    """Return a ``preexec_fn`` asking Linux to SIGTERM the child when its parent dies.

    libc is loaded here, in the parent: the hook runs between fork and exec, where it
    must not take locks (a ``dlopen`` could), so it only makes the ``prctl`` call.
    """
    if sys.platform != "linux":
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return hook


def start_chroma_server(path: Path, log: Path, *, deadline_s: float = 60) -> ChromaServer:
    """Start ``chroma run --path path`` on a free loopback port and wait until it answers.

    Raises:
        ChromaServerError: it exited or did not answer its heartbeat within ``deadline_s``;
            the message names the log file and quotes its end.

    """
    path.mkdir(parents=True, exist_ok=True)
    port = _free_loopback_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-c", _CHROMA_MAIN,
        "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent_hook(),
        )
    server = ChromaServer(process, url, log)
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=2).status_code == 200:
                return server
        time.sleep(0.2)
    server.stop()
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise ChromaServerError(
        f"The Chroma server for the workers (`chroma run --path {path}`) did not start within "
        f"{deadline_s:.0f} s (exit code {process.returncode}); see {log}:\n{tail}\n"
        "Or run one yourself and set NOVA_CHROMA_URL, or serve with NOVA_SERVER_WORKERS=1."
    )
