"""Real MCP servers (``tests/mcp_server.py``, FastMCP) for the MCP tests and the benchmark."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nova.mcp import McpServer

SERVER_SCRIPT = Path(__file__).with_name("mcp_server.py")


def stdio_server(tickets: Path, **fields: object) -> McpServer:
    """Return the configuration of the ticket server run over stdio, storing in ``tickets``."""
    return McpServer.model_validate(
        {
            "name": "tickets",
            "command": sys.executable,
            "args": [str(SERVER_SCRIPT), "stdio"],
            "env": {"NOVA_TEST_TICKETS": str(tickets)},
            **fields,
        }
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def http_server(tickets: Path, deadline_s: float = 60) -> Iterator[str]:
    """Run the ticket server over streamable HTTP; yield its MCP URL; stop it after."""
    port = _free_port()
    log = tickets.with_suffix(".log")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(SERVER_SCRIPT), "http", str(port)],
            env={**os.environ, "NOVA_TEST_TICKETS": str(tickets)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + deadline_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"MCP server exited: {log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"MCP server not up: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
