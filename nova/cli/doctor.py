"""``nova doctor``: one command that says what is wrong with this installation and how to fix it."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer
from rich.table import Table

from nova.cli.apps import app, console

_STYLE = {"ok": "green", "problem": "bold red", "warning": "yellow", "skipped": "dim"}


@app.command()
def doctor(
    offline: bool = typer.Option(
        False, "--offline", help="Skip the model probes (no request reaches a model)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON lines."),
) -> None:
    """Check settings, models, databases, Chroma, the durable server and LangSmith.

    Each problem comes with its fix. The exit code is 1 when any check found a problem.
    """
    from nova.doctor import run_checks

    rows = []
    if as_json:
        for row in run_checks(offline=offline):
            rows.append(row)
            typer.echo(json.dumps(asdict(row)))
    else:
        with console.status("[cyan]Checking…[/]") as status:
            for row in run_checks(offline=offline):
                rows.append(row)
                status.update(f"[cyan]Checked {row.area}…[/]")
        table = Table(title="Nova doctor", show_lines=True)
        table.add_column("check", style="bold", overflow="fold")
        table.add_column("status")
        table.add_column("found", overflow="fold")
        table.add_column("fix", overflow="fold")
        for row in rows:
            status_text = f"[{_STYLE[row.status]}]{row.status}[/]"
            table.add_row(row.area, status_text, row.detail, row.fix)
        console.print(table)
    problems = sum(row.status == "problem" for row in rows)
    warnings = sum(row.status == "warning" for row in rows)
    if not as_json:
        if problems:
            console.print(f"[bold red]{problems} problem(s) found.[/]")
        elif warnings:
            # Nothing stops Nova, but "All good." above a warning reads as if it were ignored.
            console.print(f"[yellow]No problems; {warnings} warning(s) to read above.[/]")
        else:
            console.print("[green]All good.[/]")
    if problems:
        raise typer.Exit(1)
