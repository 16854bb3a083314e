"""``nova failures``: list, show and retry the failures Nova recorded."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table

from nova.cli.apps import app, console, fail

failures_app = typer.Typer(
    help="Inspect, retry and dismiss recorded failures.", no_args_is_help=True
)
app.add_typer(failures_app, name="failures")


def _ledger() -> Any:
    from nova.ledger.failures import FailureLedger
    from nova.settings import SettingsError

    try:
        return FailureLedger()
    except SettingsError as error:
        raise fail(str(error)) from None


def _find(failure_id: str) -> Any:
    from nova.ledger.failures import FailureNotFound

    try:
        return _ledger().find(failure_id)
    except FailureNotFound as error:
        raise fail(str(error)) from None


@failures_app.command("list")
def failures_list(
    thread: Annotated[str | None, typer.Option("--thread", "-t", help="Only this thread.")] = None,
    run: Annotated[str | None, typer.Option("--run", help="Only this run id.")] = None,
    kind: Annotated[
        str | None, typer.Option(help="Only this kind (node_error, timeout, check_failed, …).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Newest N.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List recorded failures, newest first."""
    from nova.ledger.failures import FAILURE_KINDS

    if kind is not None and kind not in FAILURE_KINDS:
        raise fail(f"Unknown kind {kind!r}; use one of: {', '.join(FAILURE_KINDS)}")
    records = _ledger().list(thread_id=thread, run_id=run, kind=kind, limit=limit)
    if as_json:
        print(json.dumps([r.model_dump(mode="json") for r in records], indent=2))
        return
    if not records:
        console.print("No failures recorded.", style="dim")
        return
    table = Table(title=f"{len(records)} failure(s)")
    for column in ("id", "when", "kind", "node", "agent", "thread", "error"):
        table.add_column(column, overflow="fold")
    for record in records:
        table.add_row(
            record.id[:12],
            record.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            record.kind,
            record.node or "-",
            record.agent or "-",
            record.thread_id or "-",
            f"{record.error_type}: {record.message[:120]}",
        )
    console.print(table)


@failures_app.command("show")
def failures_show(
    failure_id: Annotated[str, typer.Argument(help="Failure id (a unique prefix is enough).")],
) -> None:
    """Show one failure with everything recorded about it."""
    record = _find(failure_id)
    lines = [
        f"[bold]kind[/] {record.kind}   [bold]error[/] {record.error_type}",
        f"[bold]when[/] {record.created_at.isoformat(timespec='seconds')}",
        f"[bold]thread[/] {record.thread_id or '-'}   [bold]run[/] {record.run_id or '-'}",
        f"[bold]checkpoint[/] {record.checkpoint_id or '-'}  {record.checkpoint_ns or ''}",
        f"[bold]node[/] {record.node or '-'}   "
        f"[bold]agent[/] {record.agent or '-'} {record.agent_version or ''}",
        f"[bold]project[/] {record.project or '-'}",
    ]
    if record.details:
        lines.append(f"[bold]details[/] {json.dumps(record.details, default=str)}")
    if record.retried_run_id:
        lines.append(f"[bold]retried[/] by run {record.retried_run_id} at {record.retried_at}")
    if record.dismissed_at:
        lines.append(f"[bold]dismissed[/] by {record.dismissed_by} at {record.dismissed_at}")
    console.print(Panel("\n".join(lines), title=f"failure {record.id}", expand=False))
    console.print(Panel(record.message, title="message", expand=False))
    if resume := record.details.get("resume"):
        console.print(f"Resume with: {resume}", style="dim")
    elif record.thread_id:
        console.print(f"Retry with: nova failures retry {record.id[:12]}", style="dim")


@failures_app.command("retry")
def failures_retry(
    failure_id: Annotated[str, typer.Argument(help="Failure id (a unique prefix is enough).")],
    current: Annotated[
        bool,
        typer.Option(
            "--current-version",
            help="Run the agent's version in force, not the one the failed run recorded.",
        ),
    ] = False,
) -> None:
    """Resume the failed run from the checkpoint the failure recorded.

    The agent runs at the version the failed run used (`nova agents history`), even if a
    later promotion or rollback changed it; --current-version runs the one in force.
    """
    import contextlib

    record = _find(failure_id)
    if not record.thread_id:
        raise fail(
            f"Failure {record.id[:12]} has no thread: its run kept no checkpoints, so it cannot "
            "be resumed; send the request again"
        )
    if resume := record.details.get("resume"):
        # A pipeline run on its own thread: the supervisor's graph cannot resume it.
        raise fail(f"Failure {record.id[:12]} is in a pipeline run; resume it with: {resume}")
    from memory.checkpoint import TURN_DURABILITY, open_checkpointer
    from nova.cli import trace
    from nova.state import NovaContext
    from nova.tracing import flush_traces, tracing_callbacks

    run_id = str(uuid.uuid4())
    configurable: dict[str, Any] = {"thread_id": record.thread_id}
    if record.checkpoint_id:
        configurable["checkpoint_id"] = record.checkpoint_id
    with contextlib.ExitStack() as stack:
        checkpointer = stack.enter_context(open_checkpointer())
        graph = trace.nova_graph(checkpointer)
        if not current:
            graph = _as_recorded(record, checkpointer) or graph
        if (
            record.checkpoint_id
            and graph.get_state({"configurable": configurable}).created_at is None
        ):
            raise fail(
                f"Checkpoint {record.checkpoint_id} of thread {record.thread_id} is gone "
                "(another checkpoint database?); NOVA_CHECKPOINT_URL must be the one the run used"
            )
        _ledger().mark_retried(record.id, run_id)
        config = {
            "configurable": configurable,
            "callbacks": tracing_callbacks(checkpointer=checkpointer),
            "run_id": run_id,
        }
        with console.status(f"[cyan]Resuming thread {record.thread_id}…[/]"):
            try:
                values = graph.invoke(
                    None,
                    config,
                    context=NovaContext(project=record.project),
                    durability=TURN_DURABILITY,
                )
            finally:
                flush_traces()
    answer = values.get("answer") if isinstance(values, dict) else None
    console.print(
        Panel(
            answer or "(no answer)", title=f"retry of {record.id[:12]} · run {run_id}", expand=False
        )
    )


def _as_recorded(record: Any, checkpointer: Any) -> Any:
    """Return the graph with the failed run's agent at its recorded version (``None``: same)."""
    from graphs.nova import build_nova_graph
    from nova.catalog import default_catalog
    from nova.improve.versions import as_recorded

    base = default_catalog()
    catalog, note = as_recorded(base, record.agent, record.agent_version)
    if note is not None:
        console.print(note, style="dim")
    if catalog is base:
        return None
    return build_nova_graph(catalog=catalog).compile(name="nova", checkpointer=checkpointer)


@failures_app.command("dismiss")
def failures_dismiss(
    failure_ids: Annotated[
        list[str],
        typer.Argument(
            metavar="ID...", help="Failure ids (a unique prefix is enough), one or more."
        ),
    ],
    reason: Annotated[str, typer.Option(help="Why it needs nothing more (kept with it).")] = "",
    by: Annotated[str | None, typer.Option(help="Who dismisses it (default $USER).")] = None,
) -> None:
    """Mark a failure as needing nothing more: it leaves `nova inbox`, and stays in the ledger."""
    import os

    from nova.ledger.failures import FailureNotFound

    ledger = _ledger()
    try:
        # Every id is found first: a typo in the fifth id dismisses none of them.
        records = [ledger.find(failure_id) for failure_id in failure_ids]
    except FailureNotFound as error:
        raise fail(str(error)) from None
    for record in records:
        record = ledger.dismiss(
            record.id, by=by or os.environ.get("USER") or "cli-user", reason=reason
        )
        console.print(
            f"Dismissed failure {record.id[:12]} ({record.kind}: {record.message[:80]}) "
            f"by {record.dismissed_by} at {record.dismissed_at:%Y-%m-%d %H:%M:%S} UTC"
        )
