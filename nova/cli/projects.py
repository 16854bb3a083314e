"""``nova projects list|show|add|edit|remove|restore``: what scopes memory, agents, tools.

The owner's projects are saved in ``<config dir>/projects.yaml`` (``nova.userdata``) and
merged over the built-in ones; nothing is ever written inside the package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table

from nova.cli.apps import app, console, err_console, fail
from nova.cli.editing import (
    AddOption,
    SetOption,
    apply_changes,
    keep_draft,
    open_editor,
    read_from,
    report,
)
from nova.projects import (
    KnownNames,
    Project,
    ProjectError,
    Projects,
    add_project,
    check_projects,
    load_projects,
    parse_entry,
    project_entry,
    remove_project,
    replace_project,
    restore_project,
)
from nova.userdata import UserDataError

projects_app = typer.Typer(
    help="Inspect and change projects (scope of memory, agents and tools). Yours are kept in "
    "the config dir (NOVA_CONFIG_DIR, default <data dir>/config), merged over the built-in ones.",
    no_args_is_help=True,
)
app.add_typer(projects_app, name="projects")


def _load() -> Projects:
    from nova.settings import SettingsError

    try:
        return load_projects()
    except (ProjectError, SettingsError) as error:
        raise fail(str(error)) from None


def _user_file_note(projects: Projects) -> str:
    if projects.user_file is None or not projects.user_file.is_file():
        return ""
    return f" + {projects.user_file}"


def _allowed(value: object) -> str:
    return "all" if value == "all" else ", ".join(value)  # type: ignore[arg-type]


def _warn_unknown_names(projects: Projects) -> None:
    """Warn about agents/tools a project allows that the catalog or registry lacks."""
    try:
        from nova.catalog import default_catalog
        from tools.registry import tool_registry

        catalog = default_catalog()
        servers = {server.name for spec in catalog for server in spec.mcp_servers}
        problems = check_projects(projects, set(catalog.names), set(tool_registry()), servers)
    except (ImportError, ValueError, KeyError) as error:  # advisory: listing must still work
        err_console.print(f"[yellow]note:[/] could not check agent and tool names ({error})")
        return
    for problem in problems:
        err_console.print(f"[yellow]warning:[/] {problem}")


def _seed_count(project: Project) -> str:
    try:
        return str(len(project.load_seeds()))
    except ProjectError as error:
        return f"[red]{error}[/]"


@projects_app.command("list")
def list_projects() -> None:
    """List the configured projects."""
    from nova.settings import get_settings

    projects = _load()
    default = get_settings().default_project
    table = Table(title=f"Projects · {projects.source}" + _user_file_note(projects))
    table.add_column("id", style="bold", no_wrap=True)
    table.add_column("from")
    table.add_column("name")
    table.add_column("agents", overflow="fold")
    table.add_column("tools", overflow="fold")
    table.add_column("glossary", justify="right")
    table.add_column("seeds", justify="right")
    for project in projects:
        marker = " [cyan](default)[/]" if project.id == default else ""
        agents = project.allowed_agents
        table.add_row(
            project.id + marker,
            projects.origin(project.id),
            project.name,
            "all" if agents == "all" else f"{len(agents)} agents",
            _allowed(project.allowed_tools),
            str(len(project.glossary)),
            _seed_count(project),
        )
    console.print(table)
    if default not in projects:
        err_console.print(
            f"[yellow]warning:[/] NOVA_DEFAULT_PROJECT={default!r} is not defined here"
        )
    _warn_unknown_names(projects)


@projects_app.command("show")
def show(
    project_id: Annotated[str, typer.Argument(metavar="ID", help="Project id, e.g. parts-shop.")],
) -> None:
    """Show one project: description, allowed agents and tools, glossary, seed file."""
    projects = _load()
    try:
        project = projects.get(project_id)
    except ProjectError as error:
        raise fail(str(error)) from None
    origin = projects.origin(project.id)
    defined_in = projects.user_file if origin != "built-in" else projects.source
    body = (
        f"{project.description}\n\n"
        f"[bold]From:[/] {origin} ({defined_in})\n"
        f"[bold]Allowed agents:[/] {_allowed(project.allowed_agents)}\n"
        f"[bold]Allowed tools:[/] {_allowed(project.allowed_tools)}\n"
        f"[bold]Seed memories:[/] {project.seeds or 'none'} "
        f"({_seed_count(project) if project.seeds else 0})"
    )
    console.print(
        Panel(body, title=f"{project.name} · {project.id}", border_style="cyan", expand=False)
    )
    if project.glossary:
        table = Table(title="Glossary")
        table.add_column("term", style="bold")
        table.add_column("protected")
        table.add_column("approved translations", overflow="fold")
        table.add_column("note", style="dim", overflow="fold")
        for term in project.glossary:
            translations = ", ".join(
                f"{lang}: {text}" for lang, text in sorted(term.translations.items())
            )
            table.add_row(term.term, "yes" if term.protected else "", translations, term.note or "")
        console.print(table)
    _warn_unknown_names(Projects({project.id: project}, projects.source))


# --- the owner's projects ------------------------------------------------------------------

IdArgument = Annotated[str, typer.Argument(metavar="ID", help="Project id, e.g. parts-shop.")]
FromOption = Annotated[
    Path | None,
    typer.Option("--from", help="YAML file with the project's fields (as in a projects file)."),
]


def _known_names() -> KnownNames:
    """Names a saved project may allow; a broken catalog is reported but not blocking here."""
    from nova.catalog import CatalogError, default_catalog
    from tools.registry import tool_registry

    servers: set[str] = set()
    try:
        catalog = default_catalog()
        agents: list[str] | None = catalog.names
        servers = {server.name for spec in catalog for server in spec.mcp_servers}
    except CatalogError as error:
        err_console.print(f"[yellow]note:[/] allowed agents not checked: {error.problems[0]}")
        agents = None
    return KnownNames(agents=agents, tools=list(tool_registry()), mcp_servers=servers)


def _names(value: str | None) -> str | list[str] | None:
    if value is None:
        return None
    value = value.strip()
    return "all" if value == "all" else [name.strip() for name in value.split(",") if name.strip()]


def _user_file() -> Path:
    from nova.userdata import user_projects_file

    return user_projects_file()


@projects_app.command("add")
def add(
    project_id: IdArgument,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    description: Annotated[
        str | None, typer.Option(help="What the project is, in a sentence or two.")
    ] = None,
    agents: Annotated[
        str | None, typer.Option(help="Allowed agents: all, or names separated by commas.")
    ] = None,
    tools: Annotated[
        str | None, typer.Option(help="Allowed tools: all, or names separated by commas.")
    ] = None,
    seeds: Annotated[
        Path | None, typer.Option(help="Seed-memories YAML file filling its memory on first use.")
    ] = None,
    from_file: FromOption = None,
) -> None:
    """Add one of your projects (saved in your projects file, never in the package)."""
    entry: dict[str, Any] = {}
    if from_file is not None:
        try:
            entry = parse_entry(from_file, read_from(from_file))
        except (ProjectError, UserDataError) as error:
            raise report([str(error)], unchanged=_user_file()) from None
    entry.setdefault("id", project_id)
    if entry["id"] != project_id:
        raise report([f"--from {from_file} defines project {entry['id']!r}, not {project_id!r}"])
    flags = {
        "name": name,
        "description": description,
        "allowed_agents": _names(agents),
        "allowed_tools": _names(tools),
        "seeds": str(seeds.resolve()) if seeds is not None else None,
    }
    entry.update({key: value for key, value in flags.items() if value is not None})
    try:
        project = add_project(entry, known=_known_names())
    except (ProjectError, UserDataError) as error:
        raise report([str(error)], unchanged=_user_file()) from None
    console.print(
        f"Added project [bold]{project.id}[/] ({project.name}) to {_user_file()}", soft_wrap=True
    )


@projects_app.command("edit")
def edit(
    project_id: IdArgument,
    set_: Annotated[list[str] | None, SetOption] = None,
    add_: Annotated[list[str] | None, AddOption] = None,
    from_file: FromOption = None,
) -> None:
    """Change a project: $EDITOR on your copy, or --set/--add/--from (no editor).

    A built-in project is copied into your projects file first; the built-in file is
    never changed. An edit that fails validation saves nothing and is kept as a draft.
    """
    try:
        current = project_entry(project_id)
    except (ProjectError, UserDataError) as error:
        raise report([str(error)]) from None
    from nova.userdata import drafts_dir, dump_yaml

    edited_in_editor = not (set_ or add_ or from_file)
    draft = drafts_dir() / f"project-{project_id}.yaml"
    text = ""
    try:
        if from_file is not None:
            entry = parse_entry(from_file, read_from(from_file))
            entry.setdefault("id", project_id)
        elif set_ or add_:
            entry = apply_changes(current, set_ or [], add_ or [])
        else:
            before = dump_yaml(current)
            text = open_editor(before)
            if text == before:
                console.print("No changes; nothing saved.")
                return
            # Problems with the YAML itself name the draft, whose line numbers they give.
            entry = parse_entry(draft, text)
        project = replace_project(project_id, entry, known=_known_names())
    except (ProjectError, UserDataError) as error:
        if edited_in_editor:
            keep_draft(draft, text)
        raise report([str(error)], unchanged=_user_file()) from None
    console.print(f"Saved project [bold]{project.id}[/] in {_user_file()}", soft_wrap=True)


@projects_app.command("remove")
def remove(project_id: IdArgument) -> None:
    """Remove a project: yours is deleted, a built-in one is hidden (the package is untouched).

    Its memories stay in the data directory; adding the project again brings them back.
    """
    from nova.settings import get_settings

    try:
        change = remove_project(project_id)
    except (ProjectError, UserDataError) as error:
        raise report([str(error)], unchanged=_user_file()) from None
    match change:
        case "removed":
            console.print(
                f"Removed your project [bold]{project_id}[/] from {_user_file()}", soft_wrap=True
            )
        case "override removed":
            console.print(
                f"Removed your version of [bold]{project_id}[/]; the built-in one applies again"
            )
        case "tombstoned":
            console.print(
                f"Removed built-in project [bold]{project_id}[/] (recorded in {_user_file()}; "
                f"`nova projects restore {project_id}` brings it back)",
                soft_wrap=True,
            )
    if project_id == get_settings().default_project and project_id not in load_projects():
        err_console.print(
            f"[yellow]warning:[/] {project_id!r} is NOVA_DEFAULT_PROJECT; set it to another project"
        )


@projects_app.command("restore")
def restore(project_id: IdArgument) -> None:
    """Bring back a built-in project as shipped: drop your version of it, or its removal."""
    try:
        project = restore_project(project_id)
    except (ProjectError, UserDataError) as error:
        raise report([str(error)], unchanged=_user_file()) from None
    console.print(f"Restored built-in project [bold]{project.id}[/] ({project.name})")
