"""The durable server's runtime: ``langgraph-runtime-pg`` in an overlay environment.

``langgraph-runtime-pg`` 0.11.1 pins ``langgraph-api==0.11.1`` and
``langgraph-checkpoint-postgres==3.1.0``; Nova's environment has the newer ``langgraph-api``
that ``langgraph dev`` (``langgraph-cli[inmem]``) needs. Installing the runtime there would
downgrade them, so it goes into a small venv of its own (about 70 MB) whose ``.pth`` file
appends Nova's site-packages: the overlay's pinned packages win, everything else (Nova,
LangGraph, langchain-core, torch, ...) is the main environment's. pip run inside the overlay
sees the main packages as installed and never uninstalls them (they are outside its prefix).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

RUNTIME_REQUIREMENTS: tuple[str, ...] = (
    "langgraph-runtime-pg==0.11.1.post1",
    # The runtime's langgraph-api pins opentelemetry-sdk 1.37 (via the Prometheus exporter);
    # chromadb imports the gRPC exporter, whose main-environment version needs sdk 1.45.
    "opentelemetry-exporter-otlp-proto-grpc==1.37.0",
)
"""What the overlay installs; bump together with ``nova/server/app.py``'s runtime hooks."""

_STAMP = ".nova-runtime"


class RuntimeMissingError(RuntimeError):
    """The durable server's runtime is not installed (or is out of date)."""


def runtime_dir() -> Path:
    """Return the overlay's folder: ``nova-server-runtime`` inside the active environment."""
    override = os.environ.get("NOVA_SERVER_RUNTIME_DIR")
    return Path(override) if override else Path(sys.prefix) / "nova-server-runtime"


def runtime_python(root: Path | None = None) -> Path:
    """Return the overlay's Python interpreter."""
    root = root or runtime_dir()
    return root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _stamp_text() -> str:
    return "\n".join(RUNTIME_REQUIREMENTS) + "\n"


def check_runtime(root: Path | None = None) -> Path:
    """Return the overlay's interpreter; raise ``RuntimeMissingError`` saying how to install it."""
    root = root or runtime_dir()
    python = runtime_python(root)
    stamp = root / _STAMP
    if not python.exists() or not stamp.exists():
        raise RuntimeMissingError(
            f"The durable server runtime is not installed (looked in {root}). "
            "Install it once with `nova serve --install-runtime` (needs PyPI access)."
        )
    if stamp.read_text() != _stamp_text():
        raise RuntimeMissingError(
            f"The durable server runtime in {root} is out of date "
            f"(wanted {', '.join(RUNTIME_REQUIREMENTS)}). "
            "Update it with `nova serve --install-runtime`."
        )
    return python


def install_runtime(root: Path | None = None, *, quiet: bool = True) -> Path:
    """Create (or update) the overlay environment and install the runtime into it.

    Args:
        root: Folder of the overlay; ``runtime_dir()`` by default.
        quiet: Pass ``--quiet`` to pip.

    Returns:
        The overlay's Python interpreter.

    Raises:
        subprocess.CalledProcessError: pip failed (its output says why).

    """
    root = root or runtime_dir()
    python = runtime_python(root)
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=False).create(root)
    # Appending (not prepending) the main site-packages lets the overlay's pins win.
    main_site = sysconfig.get_paths()["purelib"]
    overlay_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(overlay_site) / "_nova_main_env.pth").write_text(
        f"import site; site.addsitedir({main_site!r})\n"
    )
    command = [str(python), "-m", "pip", "install", *(["--quiet"] if quiet else [])]
    subprocess.run([*command, *RUNTIME_REQUIREMENTS], check=True)
    (root / _STAMP).write_text(_stamp_text())
    return python
