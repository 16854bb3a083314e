"""``nova agents history|diff|rollback``: the versions ``nova improve`` promoted, and lineage.

Versions live in the data directory (``nova.improve.versions``); version 0 is the agent
file as installed (or as you wrote it). ``--catalog DIR`` names another catalog folder;
``_out_of_scope`` is the name of a catalog's promoted out-of-scope requests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from nova.cli.apps import console, fail
from nova.cli.core import agents_app

if TYPE_CHECKING:
    from nova.improve.versions import VersionStore

CatalogOption = Annotated[
    Path | None,
    typer.Option(
        "--catalog", file_okay=False, exists=True, help="A catalog folder (default: Nova's)."
    ),
]
NameArgument = Annotated[
    str, typer.Argument(help="Agent name (or _out_of_scope for the out-of-scope requests).")
]


def _store(catalog: Path | None) -> VersionStore:
    from nova.catalog import CatalogError
    from nova.improve.versions import store_for

    try:
        return store_for(catalog)
    except CatalogError as error:
        raise fail(str(error)) from None


@agents_app.command("history")
def history(
    name: NameArgument,
    catalog: CatalogOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List an agent's versions: parent, reason, evidence, and the one in force."""
    from nova.improve.versions import VersionError

    store = _store(catalog)
    try:
        versions = store.history(name)
        active = store.active_number(name)
    except VersionError as error:
        raise fail(str(error)) from None
    if as_json:
        print(json.dumps({"active": active, "versions": [v.as_json() for v in versions]}, indent=2))
        return
    table = Table(title=f"{name}: version {active} in force")
    for column in ("v", "hash", "parent", "when", "action", "reason", "evidence", "candidate"):
        table.add_column(column, overflow="fold")
    for v in versions:
        marker = " *" if v.number == active and v.action != "rollback" else ""
        table.add_row(
            f"{v.number}{marker}",
            v.hash,
            v.parent or "-",
            v.created_at or "-",
            v.action,
            v.reason,
            str(len(v.evidence)),
            (v.candidate or "-")[:12],
        )
    console.print(table)


@agents_app.command("diff")
def diff(
    name: NameArgument,
    first: Annotated[int, typer.Argument(metavar="V1", help="A version number.")],
    second: Annotated[int, typer.Argument(metavar="V2", help="Another version number.")],
    catalog: CatalogOption = None,
) -> None:
    """Show what changed between two versions of an agent (unified diff of its file)."""
    from nova.improve.versions import VersionError

    try:
        text = _store(catalog).diff(name, first, second)
    except VersionError as error:
        raise fail(str(error)) from None
    print(text or f"Versions {first} and {second} of {name} are the same.")


@agents_app.command("rollback")
def rollback(
    name: NameArgument,
    version: Annotated[
        int, typer.Argument(metavar="V", help="Version to put back (0: as installed).")
    ],
    catalog: CatalogOption = None,
) -> None:
    """Put an earlier version of an agent back in force (recorded in its history)."""
    from nova.improve.versions import VersionError
    from nova.userdata import UserDataError

    try:
        restored = _store(catalog).rollback(name, version)
    except (VersionError, UserDataError) as error:
        raise fail(str(error)) from None
    console.print(f"{name}: version {restored.number} ({restored.hash}) is in force again.")
