"""``nova agents new|edit|validate|remove``: the owner's own agents, beside the built-in ones.

The owner's agent files live in ``<config dir>/agents`` (``nova.userdata``) and are
merged over the built-in catalog; editing a built-in agent saves the owner's copy. A
changed catalog changes its version, so the router refits on its next use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml

from nova.cli.apps import console, err_console
from nova.cli.core import agents_app
from nova.cli.editing import (
    AddOption,
    SetOption,
    apply_changes,
    keep_draft,
    open_editor,
    read_from,
    report,
)

if TYPE_CHECKING:
    from nova.catalog import AgentSpec

NameArgument = Annotated[str, typer.Argument(help="Agent name (snake_case).")]
FromOption = Annotated[
    Path | None, typer.Option("--from", help="An agent YAML file to save as this agent.")
]


def _registered() -> tuple[set[str], set[str]]:
    """Tool and check names an agent may use."""
    from nodes.checks import CHECKS
    from tools.registry import tool_registry

    return set(tool_registry()), set(CHECKS.names)


def _no_such_agent(name: str) -> typer.Exit:
    from rapidfuzz import process

    from nova.catalog import CatalogError, load_catalog

    try:
        names = load_catalog().names
    except CatalogError:
        names = []
    close = [match for match, _, _ in process.extract(name, names, limit=3)]
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return report([f"No agent named {name!r}.{hint} (`nova agents new {name}` adds one)"])


def _saved(spec: AgentSpec, path: Path, verb: str) -> None:
    from nova.catalog import load_catalog

    catalog = load_catalog()
    # soft_wrap: a path is printed whole, so it can be copied from any terminal width.
    console.print(
        f"{verb} agent [bold]{spec.name}[/] ({spec.group}, {catalog.origin(spec.name)}) in {path}",
        soft_wrap=True,
    )
    console.print(f"Catalog {catalog.version}: the router refits on its next use.")


@agents_app.command("new")
def agents_new(
    name: NameArgument,
    group: Annotated[
        str | None,
        typer.Option(help="Subgraph that runs it: chat, erp, translation, pipeline or other."),
    ] = None,
    description: Annotated[
        str | None, typer.Option(help="What it handles, in a sentence or two (also routes).")
    ] = None,
    example: Annotated[
        list[str] | None,
        typer.Option(help="A request it should receive; give at least 15. Repeatable."),
    ] = None,
    prompt: Annotated[
        str | None, typer.Option(help="System prompt; default is built from the description.")
    ] = None,
    tool: Annotated[
        list[str] | None, typer.Option(help="A registered tool it may call. Repeatable.")
    ] = None,
    version: Annotated[str, typer.Option(help="Its version (semver).")] = "0.1.0",
    from_file: FromOption = None,
) -> None:
    """Add one of your agents: scaffold it from flags, or save a file with --from.

    It is validated like the built-in agents (and its tools against the registry) before
    anything is saved, and is routable at once: the router refits on its next use.
    """
    from nova.catalog import CatalogError
    from nova.catalog.user import save_agent, scaffold_agent
    from nova.userdata import UserDataError

    if from_file is not None:
        text = read_from(from_file)
    else:
        text = scaffold_agent(
            name,
            group=group or "",
            description=description or "",
            examples=example or [],
            prompt=prompt,
            tools=tool or [],
            version=version,
        )
    tools, checks = _registered()
    try:
        spec, path = save_agent(text, name=name, new=True, known_tools=tools, known_checks=checks)
    except CatalogError as error:
        raise report(error.problems) from None
    except UserDataError as error:
        raise report([str(error)]) from None
    _saved(spec, path, "Created")


@agents_app.command("edit")
def agents_edit(
    name: NameArgument,
    set_: Annotated[list[str] | None, SetOption] = None,
    add_: Annotated[list[str] | None, AddOption] = None,
    from_file: FromOption = None,
) -> None:
    """Change an agent: $EDITOR on your copy, or --set/--add/--from (no editor).

    A built-in agent is copied into your agents folder first (the built-in file is never
    changed). An edit that fails validation saves nothing and is kept as a draft.
    """
    from nova.catalog import CatalogError
    from nova.catalog.user import agent_file, save_agent
    from nova.userdata import UserDataError, drafts_dir

    try:
        current = agent_file(name)
    except KeyError:
        raise _no_such_agent(name) from None
    except CatalogError as error:
        raise report(error.problems) from None
    draft = drafts_dir() / f"agent-{name}.yaml"
    if from_file is not None:
        text = read_from(from_file)
    elif set_ or add_:
        data = yaml.safe_load(current.text)
        text = _dump(apply_changes(data, set_ or [], add_ or []))
    else:
        text = open_editor(current.text)
        if text == current.text:
            console.print("No changes; nothing saved.")
            return
    tools, checks = _registered()
    try:
        spec, path = save_agent(text, name=name, new=False, known_tools=tools, known_checks=checks)
    except CatalogError as error:
        if not (from_file or set_ or add_):
            keep_draft(draft, text)
        raise report(error.problems, unchanged=current.path) from None
    except UserDataError as error:
        raise report([str(error)], unchanged=current.path) from None
    _saved(spec, path, "Saved")


def _dump(data: object) -> str:
    from nova.userdata import dump_yaml

    return dump_yaml(data)


@agents_app.command("validate")
def agents_validate(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Agent files to check; default is the whole catalog, yours merged."),
    ] = None,
) -> None:
    """Check agent files: every problem, one line each, with its file (exit 2 if any)."""
    from nova.catalog import AgentSpec, CatalogError, load_catalog, validate_spec_file
    from nova.catalog.user import unknown_references

    tools, checks = _registered()
    problems: list[str] = []
    if files:
        for path in files:
            text = read_from(path)
            spec, found = validate_spec_file(path, text, AgentSpec)
            problems += found + unknown_references(spec or text, path, tools, checks)
        if problems:
            raise report(problems)
        console.print(f"{len(files)} file(s) valid.")
        return
    try:
        catalog = load_catalog()
    except CatalogError as error:
        raise report(error.problems) from None
    for spec in catalog:
        problems += unknown_references(spec, catalog.sources[spec.name], tools, checks)
    if problems:
        raise report(problems)
    own = sum(1 for name in catalog.names if catalog.origin(name) != "built-in")
    console.print(
        f"Catalog {catalog.version} valid: {len(catalog)} agents ({own} yours, in "
        f"{catalog.user_dir})."
    )


@agents_app.command("remove")
def agents_remove(name: NameArgument) -> None:
    """Remove one of your agents; for your copy of a built-in agent, the built-in applies again."""
    from nova.catalog import CatalogError
    from nova.catalog.user import agent_file

    try:
        current = agent_file(name)
    except KeyError:
        raise _no_such_agent(name) from None
    except CatalogError as error:
        raise report(error.problems) from None
    if current.origin == "built-in":
        raise report(
            [
                f"{name!r} is a built-in agent ({current.path}); it cannot be removed, only "
                f"overridden with `nova agents edit {name}`"
            ]
        )
    current.path.unlink()
    if current.origin == "user override":
        console.print(f"Removed your version of [bold]{name}[/]; the built-in one applies again.")
    else:
        console.print(f"Removed your agent [bold]{name}[/] ({current.path}).", soft_wrap=True)
    err_console.print("The router refits on its next use.")
