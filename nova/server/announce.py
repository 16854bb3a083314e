"""Where a running ``nova serve`` can be found: a small file in the data directory.

``nova serve`` writes ``<data dir>/server.json`` (address, mode, its process id) while it
serves, and removes it when it stops; the CLI reads it to send requests to the warm server
instead of loading every graph in-process. A file left by a server that died (kill -9) is
recognised by its dead process id and ignored.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SERVER_FILE = "server.json"


@dataclass(frozen=True, slots=True)
class Announcement:
    """A server that said where it listens."""

    url: str
    mode: str
    """``dev`` (``langgraph dev``) or ``durable``."""
    pid: int


def server_file(data_dir: Path) -> Path:
    """Return the announcement file of the data directory ``data_dir``."""
    return Path(data_dir) / SERVER_FILE


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def read_announcement(data_dir: Path) -> Announcement | None:
    """Return the server announced in ``data_dir`` if its process is alive, else ``None``."""
    try:
        raw = json.loads(server_file(data_dir).read_text(encoding="utf-8"))
        found = Announcement(url=str(raw["url"]), mode=str(raw["mode"]), pid=int(raw["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return found if _alive(found.pid) else None


def announce(data_dir: Path, url: str, mode: str) -> Announcement:
    """Announce this process as the server at ``url`` (until it exits, or execs a server)."""
    me = Announcement(url=url, mode=mode, pid=os.getpid())
    path = server_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".server-", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        json.dump({"url": url, "mode": mode, "pid": me.pid}, file)
    os.replace(tmp, path)
    return me


@contextmanager
def announced(data_dir: Path, url: str, mode: str) -> Iterator[Announcement]:
    """Announce this process as the server at ``url`` for as long as the block runs."""
    me = announce(data_dir, url, mode)
    path = server_file(data_dir)
    try:
        yield me
    finally:
        # Only our own announcement: a second server may have replaced it meanwhile.
        if read_announcement(data_dir) in (me, None):
            path.unlink(missing_ok=True)
