"""Nova's command line: ``nova ask``, ``chat``, ``agents``, ``route``, ``doctor`` and more.

Each module of this package registers its commands on the Typer applications of
``nova.cli.apps`` when it is imported. Typer builds every registered command's parameters
from its signature each time ``nova`` starts (about 0.25 s for all of them), and the modules
import what their commands share, so the ``nova`` script imports only the module that
serves the command on its line (``COMMAND_MODULES``); help, a mistyped command or no
command loads them all, so help lists everything and a typo gets its "did you mean".

From Python, ``from nova.cli import app`` returns the application with every command.
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

__all__ = ["COMMAND_MODULES", "app", "load_commands", "main"]

COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "agents": ("core", "agents", "agents_versions"),
    "ask": ("core",),
    "chat": ("core",),
    "doctor": ("doctor",),
    "erp": ("erp",),
    "eval": ("daily", "erp", "injection", "memory", "pipeline", "route", "trace"),
    "failures": ("failures",),
    "feedback": ("feedback",),
    "improve": ("improve",),
    "inbox": ("inbox",),
    "mcp": ("mcp",),
    "memory": ("memory",),
    "pipeline": ("pipeline",),
    "projects": ("projects",),
    "resume": ("core",),
    "review-code": ("review",),
    "route": ("route",),
    "serve": ("core",),
    "setup": ("setup",),
    "stats": ("stats",),
    "trace": ("trace",),
}
"""Each top-level command and the modules that register it and its subcommands.

``tests/test_cli_lazy.py`` checks this table against what the modules really register.
"""

_ALL_MODULES = tuple(sorted({module for modules in COMMAND_MODULES.values() for module in modules}))


def load_commands(modules: Sequence[str] = _ALL_MODULES) -> typer.Typer:
    """Import the command modules named (all by default) and return the ``nova`` app."""
    for module in modules:
        importlib.import_module(f"nova.cli.{module}")
    from nova.cli.apps import app as nova_app

    return nova_app


def modules_for(argv: Sequence[str]) -> tuple[str, ...]:
    """Return the modules that serve the command line ``argv`` (all, for help or a typo)."""
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    asks_help = any(arg in ("--help", "-h") for arg in argv[:1]) or command is None
    if asks_help or command not in COMMAND_MODULES:
        return _ALL_MODULES
    return COMMAND_MODULES[command]


STARTUP_GC_THRESHOLD = 10_000
"""Allocations between young-generation collections for a ``nova`` process (CPython: 700).

Starting a command allocates some 400,000 objects that live as long as the process
(modules, pydantic schemas, compiled graphs); at CPython's default the collector walks them
again and again while they are created, about a sixth of a cold ``nova ask``'s CPU. At
10,000 a collection still runs every few thousand allocations of a long ``nova chat``.
"""


def main() -> None:
    """Run the ``nova`` command, loading only the commands its line names."""
    gc.set_threshold(STARTUP_GC_THRESHOLD, *gc.get_threshold()[1:])
    load_commands(modules_for(sys.argv[1:]))()


def __getattr__(name: str) -> Any:
    # ``nova.cli.app`` is the whole application, built on first use: the ``nova`` script
    # itself never asks for it, so it can load one command module instead of all of them.
    if name == "app":
        return load_commands()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
