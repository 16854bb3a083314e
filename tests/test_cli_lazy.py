"""The ``nova`` script loads only the command module its line names (issues #12 and #18).

Typer builds every registered command's parameters at start, so a cold ``nova inbox`` that
loaded all 20 command modules spent a quarter of a second on commands it never ran. These
tests keep ``nova.cli.COMMAND_MODULES`` true to what the modules register, and check from a
fresh interpreter that a command loads its own module only, while help and a typo still see
every command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from nova.cli import COMMAND_MODULES, app

ROOT = Path(__file__).resolve().parents[1]


def _registered_modules() -> dict[str, set[str]]:
    """Each top-level command of the full app and the modules its callbacks live in."""
    found: dict[str, set[str]] = defaultdict(set)

    def walk(typer_app: Any, top: str) -> None:
        if typer_app.registered_callback is not None:
            found[top].add(typer_app.registered_callback.callback.__module__)
        for command in typer_app.registered_commands:
            found[top].add(command.callback.__module__)
        for group in typer_app.registered_groups:
            walk(group.typer_instance, top)

    for command in app.registered_commands:
        found[command.name or command.callback.__name__.replace("_", "-")].add(
            command.callback.__module__
        )
    for group in app.registered_groups:
        walk(group.typer_instance, group.name)
    return {
        name: {module.rsplit(".", 1)[-1] for module in modules} for name, modules in found.items()
    }


def test_the_table_names_every_command_and_every_module_that_registers_it() -> None:
    table = {name: set(modules) for name, modules in COMMAND_MODULES.items()}
    assert table == _registered_modules()


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["inbox", "--local", "--json"], {"inbox"}),
        (["failures", "list"], {"failures"}),
        (["agents", "history", "calculator"], {"core", "agents", "agents_versions"}),
    ],
)
def test_a_command_loads_only_its_own_modules(argv: list[str], expected: set[str]) -> None:
    code = (
        "import json, sys\n"
        "from nova.cli import load_commands, modules_for\n"
        f"load_commands(modules_for({argv!r}))\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('nova.'))))\n"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    commands = {m.rsplit(".", 1)[-1] for m in loaded if m.startswith("nova.cli.")} - {"apps"}
    # Whatever a loaded module imports itself is fine (core imports remote, say); another
    # command module that registers commands of its own is not.
    assert expected <= commands
    others = {m for names in COMMAND_MODULES.values() for m in names} - expected
    assert not commands & others, f"{argv[0]} also loaded {sorted(commands & others)}"
    if argv[0] == "inbox":
        # What the inbox does not need stays out: the improvement engine and streaming display.
        assert not loaded & {"nova.improve.engine", "nova.cli.streaming", "nova.graphs"}


def _nova(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "nova.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def test_help_and_a_typo_see_every_command() -> None:
    shown = _nova("--help")
    assert shown.returncode == 0, shown.stderr
    for name in COMMAND_MODULES:
        assert name in shown.stdout, f"nova --help does not list {name}"
    typo = _nova("inbx")
    assert typo.returncode == 2
    assert "Did you mean 'inbox'" in typo.stderr


def test_building_the_served_graphs_loads_no_store_encoder_or_date_parser() -> None:
    # Issue #12: what only some requests use loads on first use, not with the graphs. The
    # ERP database (SQLAlchemy) and Jinja (pipeline steps) are part of the graphs' nodes.
    code = (
        "import json, sys\n"
        "import graphs.nova, nova.cli.streaming\n"
        "heavy = ('chromadb', 'bm25s', 'onnxruntime', 'torch', 'dateparser', 'markdown_it')\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
