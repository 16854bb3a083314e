"""``nova feedback``: the user's verdict on a run, and the list of verdicts given."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from nova.cli.apps import app, console, err_console, fail

if TYPE_CHECKING:
    from nova.ledger.feedback import FeedbackLedger


@app.command("feedback")
def feedback(
    target: Annotated[
        str,
        typer.Argument(
            metavar="RUN|THREAD|list",
            help=(
                "Run id (a unique prefix is enough) or thread id; `list` lists feedback; "
                "`import FILE.jsonl` stores labelled corrections."
            ),
        ),
    ],
    rating: Annotated[
        str | None, typer.Argument(metavar="good|bad", help="Your verdict on the run.")
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option(help="The agent that should have answered (with list: only this agent)."),
    ] = None,
    answer: Annotated[
        str | None, typer.Option(help="The right answer, or the facts it must state.")
    ] = None,
    note: Annotated[str | None, typer.Option(help="Anything else.")] = None,
    bad: Annotated[bool, typer.Option("--bad", help="With list: only bad verdicts.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="With list: newest N.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    catalog_dir: Annotated[
        Path | None,
        typer.Option(
            "--catalog",
            file_okay=False,
            exists=True,
            help="With import: the catalog folder the corrections are about (default: Nova's).",
        ),
    ] = None,
) -> None:
    """Say whether a run's answer was right: `nova feedback RUN bad --agent erp_payments`.

    Bad feedback is evidence for `nova trace blame`: the agent you name corrects the
    route, and the facts of your answer judge the replays. `nova feedback list [--bad]
    [--agent A]` shows what was given.
    """
    from nova.ledger.feedback import FeedbackLedger, give_feedback

    ledger = FeedbackLedger()
    if target == "import":
        _import(ledger, rating, catalog_dir, as_json)
        return
    if target == "list":
        if rating is not None:
            raise fail("`nova feedback list` takes no verdict; use --bad or --agent to filter")
        records = ledger.list(bad=True if bad else None, agent=agent, limit=limit)
        if as_json:
            print(json.dumps([r.model_dump(mode="json") for r in records], indent=2))
            return
        if not records:
            console.print("No feedback given yet.", style="dim")
            return
        table = Table(title=f"{len(records)} verdict(s)")
        for column in ("when", "run", "rating", "routed", "should be", "answer / note", "request"):
            table.add_column(column, overflow="fold")
        for record in records:
            table.add_row(
                record.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                (record.run_id or record.thread_id or "-")[:13],
                record.rating,
                record.routed_agent or "-",
                record.agent or "-",
                record.answer or record.note or "-",
                (record.request or "")[:60],
            )
        console.print(table)
        return
    if rating not in ("good", "bad"):
        raise fail("Give a verdict: `nova feedback RUN good` or `nova feedback RUN bad`")
    if agent is not None:
        from nova.catalog import default_catalog

        catalog = default_catalog()
        if agent not in catalog:
            raise fail(f"No agent named {agent!r}; see `nova agents list`")
    try:
        record = give_feedback(
            target,
            rating,  # type: ignore[arg-type]  # checked above
            agent=agent,
            answer=answer,
            note=note,
            user=getpass.getuser(),
            ledger=ledger,
            source="cli",
        )
    except LookupError as error:
        raise fail(str(error)) from None
    if as_json:
        print(json.dumps(record.model_dump(mode="json"), indent=2))
        return
    run = (record.run_id or "")[:13]
    console.print(f"Recorded {record.rating} feedback on run {run} ({record.id[:12]}).")
    if record.rating == "bad":
        console.print(f"See which step went wrong: nova trace blame {run}", style="dim")


def _import(
    ledger: FeedbackLedger, file: str | None, catalog_dir: Path | None, as_json: bool
) -> None:
    """``nova feedback import FILE.jsonl [--catalog DIR]``: all lines or none."""
    from nova.catalog import CatalogError, RoutableAgent, default_catalog
    from nova.ledger.feedback import FeedbackImportError

    if file is None:
        raise fail("Name the file: `nova feedback import FILE.jsonl [--catalog DIR]`")
    path = Path(file)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise fail(f"Cannot read {path}: {error}") from None
    try:
        if catalog_dir is not None:
            from nova.improve.versions import promoted_catalog

            agents = promoted_catalog(catalog_dir, RoutableAgent).names
        else:
            agents = default_catalog().names
    except CatalogError as error:
        raise fail(str(error)) from None
    try:
        records = ledger.import_corrections(
            lines,
            name=str(path),
            agents=agents,
            catalog=str(catalog_dir.resolve()) if catalog_dir is not None else None,
            user=getpass.getuser(),
        )
    except FeedbackImportError as error:
        err_console.print(f"[bold red]error:[/] {error}", soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps({"imported": len(records)}))
        return
    out_of_scope = sum(1 for r in records if r.out_of_scope)
    console.print(
        f"Imported {len(records)} correction(s) from {path} ({out_of_scope} out of scope). "
        "`nova improve` turns them into candidates."
    )
