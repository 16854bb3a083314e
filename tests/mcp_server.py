"""A real MCP server (FastMCP) for the tests and the benchmark: a tiny ticket tracker.

Run as ``python tests/mcp_server.py stdio`` or ``python tests/mcp_server.py http PORT``.
Tickets live in the JSON file named by ``NOVA_TEST_TICKETS`` (so a test can see exactly
what the server changed, and how often).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from mcp.server.fastmcp import FastMCP

server = FastMCP("tickets", log_level="WARNING")


def _store() -> Path:
    return Path(os.environ.get("NOVA_TEST_TICKETS", "tickets.json"))


def _tickets() -> dict[str, dict[str, str]]:
    path = _store()
    return json.loads(path.read_text()) if path.exists() else {}


@server.tool()
def get_ticket(ticket_id: str) -> str:
    """Return a ticket's title and status."""
    ticket = _tickets().get(ticket_id)
    if ticket is None:
        raise ValueError(f"no ticket {ticket_id}")
    return f"{ticket_id}: {ticket['title']} ({ticket['status']})"


@server.tool()
def create_ticket(title: str) -> str:
    """Open a new ticket with this title; return its id."""
    tickets = _tickets()
    ticket_id = f"T-{len(tickets) + 1}"
    tickets[ticket_id] = {"title": title, "status": "open"}
    _store().write_text(json.dumps(tickets))
    return f"created {ticket_id}"


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged (the benchmark's call)."""
    return text


@server.tool()
def server_pid() -> str:
    """Return the server's process id (tests check that sessions are reused)."""
    return str(os.getpid())


@server.tool()
def slow(seconds: float) -> str:
    """Sleep, then answer (a server that hangs)."""
    time.sleep(seconds)
    return "finally"


if __name__ == "__main__":
    if sys.argv[1] == "stdio":
        server.run("stdio")
    else:
        server.settings.host = "127.0.0.1"
        server.settings.port = int(sys.argv[2])
        server.run("streamable-http")
