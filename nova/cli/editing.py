"""Editing the owner's YAML records from the CLI: ``--set``/``--add`` flags, $EDITOR, drafts.

Shared by ``nova projects edit`` and ``nova agents edit``: the flags make edits
scriptable, the editor makes them comfortable, and an edit that fails validation is
kept as a draft so nothing typed is lost while the saved file stays as it was.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import typer
import yaml

from nova.cli.apps import err_console

SetOption = typer.Option(
    "--set",
    help="FIELD=VALUE (dotted for nested fields, e.g. model.temperature=0.5); "
    "VALUE is YAML unless the field holds text. Repeatable.",
)
AddOption = typer.Option(
    "--add", help="FIELD=VALUE: append VALUE to a list field (e.g. examples=...). Repeatable."
)


def _split(assignment: str, option: str) -> tuple[list[str], str]:
    field, sep, value = assignment.partition("=")
    if not sep or not field.strip():
        raise report([f"{option} {assignment!r}: expected FIELD=VALUE"])
    return field.strip().split("."), value


def _coerce(text: str, current: object) -> object:
    """Keep ``text`` as typed where the field holds text; read it as YAML elsewhere."""
    if isinstance(current, str) and not text.lstrip().startswith(("[", "{")):
        return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    # "Note: x" is a sentence, not a mapping, unless written with braces.
    if isinstance(value, dict) and not text.lstrip().startswith("{"):
        return text
    return value


def apply_changes(data: dict[str, Any], sets: Sequence[str], adds: Sequence[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with ``--set`` and ``--add`` assignments applied.

    Raises:
        typer.Exit: an assignment is malformed, or ``--add`` names a field that is not a list.

    """
    result = copy.deepcopy(data)
    for option, assignments in (("--set", sets), ("--add", adds)):
        for assignment in assignments:
            path, text = _split(assignment, option)
            parent: dict[str, Any] = result
            for key in path[:-1]:
                child = parent.setdefault(key, {})
                if not isinstance(child, dict):
                    raise report([f"{option} {assignment!r}: {key} is not a mapping of fields"])
                parent = child
            key = path[-1]
            current = parent.get(key)
            if option == "--set":
                parent[key] = _coerce(text, current)
                continue
            items = [] if current is None else current
            if not isinstance(items, list):
                raise report(
                    [
                        f"--add {assignment!r}: {'.'.join(path)} is {current!r}, not a list; "
                        f"use --set {'.'.join(path)}=[...]"
                    ]
                )
            parent[key] = [*items, _coerce(text, items[0] if items else "")]
    return result


def open_editor(text: str) -> str:
    """Open $VISUAL/$EDITOR on ``text`` (as a temporary ``.yaml`` file); return what was saved.

    Raises:
        typer.Exit: the editor could not be started or failed.

    """
    try:
        edited = click.edit(text, extension=".yaml", require_save=False)
    except click.ClickException as error:
        raise report([f"{error.format_message()} (set EDITOR, or use --set/--from)"]) from None
    return text if edited is None else edited


def keep_draft(path: Path, text: str) -> None:
    """Save a rejected edit to ``path`` so it can be fixed and applied with ``--from``."""
    from nova.userdata import UserDataError, atomic_write_text

    try:
        atomic_write_text(path, text)
    except UserDataError as error:
        err_console.print(f"[yellow]note:[/] your edit could not be kept: {error}")
        return
    err_console.print(f"Your edit is kept in {path}; fix it and apply it with --from {path}")


def report(problems: Sequence[str], *, unchanged: Path | None = None) -> typer.Exit:
    """Print one line per problem (and what was left as it was); return the exit to raise."""
    for problem in problems:
        err_console.print(f"[bold red]error:[/] {problem}", highlight=False, soft_wrap=True)
    if unchanged is not None:
        err_console.print(f"Nothing saved; {unchanged} is unchanged.", highlight=False)
    return typer.Exit(2)


def read_from(path: Path) -> str:
    """Return the text of a ``--from`` file.

    Raises:
        typer.Exit: the file cannot be read.

    """
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise report([f"--from {path}: {error.strerror or error}"]) from None
