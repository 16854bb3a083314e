"""The Typer applications every ``nova`` command hangs from.

Command modules (``nova/cli/<area>.py``) register on these objects; heavy modules
(graphs, torch, Chroma) are imported inside commands, so ``nova --help`` stays instant.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

if TYPE_CHECKING:
    # Typer vendors click and exports only a subclass of its Context, too narrow to override
    # TyperGroup's methods with.
    from typer._click.core import Context

_ASKS_HELP = "nova.asks_help"
_COMMAND = "nova.command"


class NovaGroup(TyperGroup):
    """The ``nova`` command group: an invalid setting ends every command with one line.

    Settings are read (and checked) before any command runs, so a bad environment variable
    or ``.env`` entry fails at start, not halfway through; a ``SettingsError`` raised later
    inside a command (settings re-read) gets the same line. Help needs no settings.
    """

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        """Note whether help was asked for anywhere on the line, then parse as usual."""
        ctx.meta[_ASKS_HELP] = bool(set(args) & set(ctx.help_option_names))
        ctx.meta[_COMMAND] = next((arg for arg in args if not arg.startswith("-")), None)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Context) -> Any:
        """Check the settings, then run the command; a ``SettingsError`` becomes one line."""
        from nova.secrets import install_log_redaction
        from nova.settings import SettingsError, get_settings

        install_log_redaction()
        try:
            # ``nova doctor`` reports bad settings in its own table, next to everything else.
            if not ctx.meta.get(_ASKS_HELP) and ctx.meta.get(_COMMAND) != "doctor":
                get_settings()
            return super().invoke(ctx)
        except SettingsError as error:
            raise fail(str(error)) from None


app = typer.Typer(
    name="nova",
    cls=NovaGroup,
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
    """Print ``message`` as an error (secrets masked) and return the ``typer.Exit`` to raise."""
    from rich.markup import escape

    from nova.secrets import redact

    err_console.print(f"[bold red]error:[/] {escape(redact(message))}")
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
