"""The Typer applications every ``nova`` command hangs from.

Command modules (``nova/cli/<area>.py``) register on these objects; heavy modules
(graphs, torch, Chroma) are imported inside commands, so ``nova --help`` stays instant.
"""

from __future__ import annotations

import json
import os
from typing import Any

import typer
from rich.console import Console

app = typer.Typer(
    name="nova",
    help="Nova: a personal multi-agent system on LangGraph.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
)
eval_app = typer.Typer(
    help="Evaluate Nova (routing, ERP, memory, attribution).", no_args_is_help=True
)
app.add_typer(eval_app, name="eval")

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` as an error and return the ``typer.Exit`` to raise."""
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def ask_approval(payload: Any, *, interactive: bool) -> dict[str, Any] | None:
    """Show a pending write's exact change and ask whether to apply it (``nova ask``, pipelines).

    Returns:
        The resume value for the paused run (approved, or rejected with a reason; the
        approver is the login user), or ``None`` when not ``interactive``.

    """
    from rich.panel import Panel
    from rich.prompt import Confirm, Prompt

    console.print(
        Panel(
            json.dumps(payload, indent=2, default=str),
            title="Approval needed",
            border_style="yellow",
        )
    )
    if not interactive:
        return None
    approver = os.environ.get("USER") or "cli-user"
    # A pipeline's parameter check comes before any change: the question says what is approved.
    parameters = isinstance(payload, dict) and payload.get("type") == "pipeline_params_approval"
    if Confirm.ask(
        "Run with these parameters?" if parameters else "Apply this change?", default=False
    ):
        return {"approved": True, "approver": approver}
    reason = Prompt.ask("Reason for rejecting", default="rejected in the CLI")
    return {"approved": False, "reason": reason, "approver": approver}
