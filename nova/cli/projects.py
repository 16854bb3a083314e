"""``nova projects list|show``: the projects that scope memory, agents and tools."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.panel import Panel
from rich.table import Table

from nova.cli.app import app, console, err_console, fail
from nova.projects import Project, ProjectError, Projects, check_projects, load_projects

projects_app = typer.Typer(
    help="Inspect projects (scope of memory, agents and tools).", no_args_is_help=True
)
app.add_typer(projects_app, name="projects")


def _load() -> Projects:
    from nova.settings import SettingsError

    try:
        return load_projects()
    except (ProjectError, SettingsError) as error:
        raise fail(str(error)) from None


def _allowed(value: object) -> str:
    return "all" if value == "all" else ", ".join(value)  # type: ignore[arg-type]


def _warn_unknown_names(projects: Projects) -> None:
    """Warn about agents/tools a project allows that the catalog or registry lacks."""
    try:
        from nova.catalog import default_catalog
        from tools.registry import tool_registry

        problems = check_projects(projects, set(default_catalog().names), set(tool_registry()))
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
    table = Table(title=f"Projects · {projects.source}")
    table.add_column("id", style="bold", no_wrap=True)
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
    body = (
        f"{project.description}\n\n"
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
