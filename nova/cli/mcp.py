"""``nova mcp``: the MCP servers projects and agents name, and the tools each one offers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from nova.cli.apps import app, console, fail

if TYPE_CHECKING:
    from nova.mcp import McpServer

mcp_app = typer.Typer(
    help="MCP servers: check them and list the tools agents get from them.", no_args_is_help=True
)
app.add_typer(mcp_app, name="mcp")


def _configured(project: str | None) -> list[tuple[str, McpServer]]:
    """Return ``(where it is named, server)`` for every configured server (of ``project``)."""
    from nova.catalog import CatalogError, default_catalog
    from nova.projects import ProjectError, load_projects

    try:
        projects = load_projects()
        chosen = [projects.get(project)] if project else list(projects)
        catalog = default_catalog()
    except (ProjectError, CatalogError) as error:
        raise fail(str(error)) from None
    found = [(f"project {p.id}", server) for p in chosen for server in p.mcp_servers]
    found += [(f"agent {spec.name}", server) for spec in catalog for server in spec.mcp_servers]
    return found


@mcp_app.command("tools")
def mcp_tools(
    project: Annotated[
        str | None, typer.Option("--project", "-p", help="Only this project's servers.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object per row instead of a table.")
    ] = False,
) -> None:
    """Connect to every MCP server named by a project or agent and list its tools.

    Each tool shows the name agents see (``<server>_<tool>``), whether the configuration
    lets agents use it, and whether it needs approval. Exits with 1 when a server cannot be
    reached (the row says why).
    """
    from tools.mcp import McpUnavailable, mcp_hub

    servers = _configured(project)
    if not servers:
        console.print(
            "No MCP servers are configured. Add `mcp_servers:` to a project "
            "(`nova projects edit ID`) or an agent (`nova agents edit NAME`)."
        )
        return
    rows: list[dict[str, object]] = []
    hub = mcp_hub()
    try:
        for where, server in servers:
            row: dict[str, object] = {
                "named_by": where,
                "server": server.name,
                "transport": server.transport,
                "target": server.command or server.url,
            }
            try:
                offered = sorted(hub.session(server).tools)
            except McpUnavailable as error:
                rows.append(row | {"error": str(error)})
                continue
            rows.extend(
                row
                | {
                    "tool": server.tool_name(name),
                    "allowed": server.allows(name),
                    "needs_approval": name in server.mutating,
                }
                for name in offered
            )
    finally:
        hub.close()
    if as_json:
        for row in rows:
            print(json.dumps(row))
    else:
        table = Table(title="MCP servers and their tools")
        for column in ("named by", "server", "transport", "tool", "agents may use", "approval"):
            table.add_column(column)
        for row in rows:
            how = f"{row['transport']} ({row['target']})"
            if "error" in row:
                table.add_row(
                    str(row["named_by"]), str(row["server"]), how, f"[red]{row['error']}[/]"
                )
                continue
            table.add_row(
                str(row["named_by"]),
                str(row["server"]),
                how,
                str(row["tool"]),
                "yes" if row["allowed"] else "no",
                "needs approval" if row["needs_approval"] else "",
            )
        console.print(table)
    if any("error" in row for row in rows):
        raise typer.Exit(1)
