"""``nova inbox``: everything waiting for you, newest first, with the command that acts on it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from nova.cli.apps import app, console, err_console, fail

if TYPE_CHECKING:
    from nova.cli.remote import ServerTarget
    from nova.inbox import Inbox

_KIND_STYLE = {
    "approval": "bold yellow",
    "failure": "red",
    "pipeline": "magenta",
    "question": "cyan",
    "proposal": "green",
}


def server_inbox(target: ServerTarget, timeout_s: float = 3.0) -> Inbox:
    """Fetch the server's part of the inbox (its threads' approvals) from ``GET /nova/inbox``.

    Raises:
        RuntimeError: The server did not answer in time or refused, in one line.

    """
    import httpx

    from nova.inbox import Inbox

    headers = {"x-api-key": target.api_key} if target.api_key else {}
    try:
        response = httpx.get(
            f"{target.url}/nova/inbox",
            params={"sources": "server"},
            headers=headers,
            timeout=timeout_s,
        )
    except httpx.HTTPError as error:
        raise RuntimeError(f"{target.url} did not answer ({type(error).__name__})") from None
    if response.status_code != 200:
        detail = response.text[:200]
        with_detail = (
            response.json().get("detail", detail)
            if response.headers.get("content-type", "").startswith("application/json")
            else detail
        )
        raise RuntimeError(f"{target.url} answered {response.status_code}: {with_detail}")
    inbox = Inbox.model_validate(response.json())
    return inbox.model_copy(
        update={"items": [item.model_copy(update={"origin": "server"}) for item in inbox.items]}
    )


@app.command(
    help=(
        "List everything waiting for you, newest first, each with the one command that acts "
        "on it.\n\nApprovals pending in any thread (with the exact change), failures not yet "
        "retried or dismissed, pipeline runs stalled or past their deadline, clarifying "
        "questions never answered, improvement proposals; with a Nova server running, its "
        "threads' approvals too."
    )
)
def inbox(
    limit: Annotated[
        int, typer.Option(min=1, max=10_000, help="At most N items of each kind.")
    ] = 100,
    kind: Annotated[
        str | None,
        typer.Option(help="Only this kind: approval, failure, pipeline, question, proposal."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the items as JSON.")] = False,
    local: Annotated[
        bool, typer.Option("--local", help="Leave out the running Nova server's threads.")
    ] = False,
    server: Annotated[
        str | None, typer.Option("--server", help="Also list this Nova server's approvals.")
    ] = None,
) -> None:
    """List everything waiting for you, newest first, each with the command that acts on it."""
    from nova.cli.remote import choose_target
    from nova.inbox import InboxScope, SourceReport, collect_inbox
    from nova.settings import get_settings

    kinds = ("approval", "failure", "pipeline", "question", "proposal")
    if kind is not None and kind not in kinds:
        raise fail(f"Unknown kind {kind!r}; use one of: {', '.join(kinds)}")
    settings = get_settings()
    try:
        found = collect_inbox(InboxScope(settings, limit=limit))
    except ValueError as error:  # a malformed store URL
        raise fail(str(error)) from None
    target = choose_target(settings, server=server, local=local)
    if target is not None:
        try:
            remote = server_inbox(target)
            found = found.model_copy(
                update={
                    "items": sorted(
                        [*found.items, *remote.items], key=lambda i: i.created_at, reverse=True
                    ),
                    "sources": [*found.sources, *remote.sources],
                }
            )
        except RuntimeError as error:
            if target.required:
                raise fail(str(error)) from None
            found.sources.append(SourceReport(name="server", error=str(error)))
    items = [item for item in found.items if kind is None or item.kind == kind]
    if as_json:
        payload: dict[str, Any] = {
            "items": [item.model_dump(mode="json") | {"command": item.command} for item in items],
            "sources": [report.model_dump(mode="json") for report in found.sources],
        }
        print(json.dumps(payload, indent=2))
    elif not items:
        console.print("Nothing is waiting for you.", style="green")
    else:
        table = Table(title=f"{len(items)} item(s) waiting, newest first")
        for column in ("when", "what", "waiting", "do"):
            table.add_column(column, overflow="fold")
        for item in items:
            table.add_row(
                item.created_at.strftime("%Y-%m-%d %H:%M"),
                f"[{_KIND_STYLE[item.kind]}]{item.kind}[/]",
                item.title
                + (f"\n[dim]{_change_line(item.detail)}[/]" if item.kind == "approval" else ""),
                item.command,
            )
        console.print(table)
    for report in found.sources:
        if report.error:
            err_console.print(f"[bold red]{report.name}:[/] {report.error}")
        elif report.total > report.shown and not as_json:
            console.print(
                f"{report.name}: showing {report.shown} of {report.total} (--limit)", style="dim"
            )


def _change_line(detail: dict[str, Any]) -> str:
    """Return the exact change of an approval as one compact line."""
    request = detail.get("request")
    change = request.get("change") if isinstance(request, dict) else None
    shown = change if isinstance(change, dict) else request
    return json.dumps(shown, default=str, separators=(", ", ": "))[:600]
