"""``nova memory …``: add, search, forget, import, trace memories; and ``nova eval memory``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from nova.cli import eval_langsmith
from nova.cli.apps import app, console, eval_app, fail
from nova.cli.eval_langsmith import LangSmithOption

if TYPE_CHECKING:
    from memory.items import MemoryItem
    from memory.store import MemoryStore

memory_app = typer.Typer(
    help="Project memory: add, search, forget, import, history.", no_args_is_help=True
)
app.add_typer(memory_app, name="memory")

KINDS = ("fact", "decision", "preference", "document_chunk", "conversation_summary")

ProjectOption = Annotated[
    str | None,
    typer.Option("--project", "-p", help="Project scope (default NOVA_DEFAULT_PROJECT)."),
]

UserOption = Annotated[
    str | None,
    typer.Option(
        "--user",
        "-u",
        help="Whose memories: an authenticated user of the durable server "
        "(default: the local owner, as the CLI and `nova serve --dev` use).",
    ),
]


def _open(project: str | None, user: str | None = None) -> tuple[MemoryStore, str]:
    """Open ``user``'s store and resolve ``project``; configuration errors become CLI errors."""
    from memory.store import MemoryStore
    from nova.projects import ProjectError
    from nova.settings import SettingsError, get_settings

    try:
        store = MemoryStore.open(owner=user)
        project = project or get_settings().default_project
        store.check_project(project)
    except (ProjectError, SettingsError, ValueError) as error:
        raise fail(str(error)) from None
    return store, project


def _scope(store: MemoryStore, project: str) -> str:
    """Name the scope in messages: the project, and the user unless it is the local owner."""
    return project if store.owner is None else f"{project} (user {store.owner})"


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise fail(f"Unknown kind {kind!r}; use one of: {', '.join(KINDS)}")
    return kind


def _find(store: MemoryStore, item_id: str, project: str | None) -> MemoryItem:
    item_id = item_id.removeprefix("mem:")
    item = store.get(project, item_id) if project else store.locate(item_id)
    if item is None:
        where = f"project {project!r}" if project else "any project"
        if store.owner is not None:
            where += f" of user {store.owner!r}"
        raise fail(f"No memory {item_id!r} in {where}; find ids with `nova memory search QUERY`")
    return item


@memory_app.command("add")
def add(
    text: Annotated[str, typer.Argument(help="The fact, decision or preference to remember.")],
    kind: Annotated[
        str, typer.Option("--kind", "-k", help=f"One of: {', '.join(KINDS)}.")
    ] = "fact",
    project: ProjectOption = None,
    user: UserOption = None,
    source: Annotated[str, typer.Option("--source", "-s", help="Where this came from.")] = "cli",
    topic: Annotated[
        str | None,
        typer.Option(
            "--topic", "-t", help="Subject key: a later item with this topic supersedes it."
        ),
    ] = None,
) -> None:
    """Remember TEXT in a project (the same text twice is stored once)."""
    store, project = _open(project, user)
    try:
        result = store.save(project, text, kind=_check_kind(kind), source=source, topic=topic)  # type: ignore[arg-type]
    except ValueError as error:
        raise fail(str(error)) from None
    item = result.item
    if result.status == "existing":
        console.print(
            f"Already stored as [bold]{item.id}[/] in {_scope(store, project)} "
            "(updated its timestamp)."
        )
        return
    console.print(f"Saved [bold]{item.id}[/] ({item.kind}) in {_scope(store, project)}.")
    for old in result.superseded:
        console.print(f"  supersedes [bold]{old}[/] (kept in `nova memory history {item.id}`)")


@memory_app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    project: ProjectOption = None,
    user: UserOption = None,
    k: Annotated[int, typer.Option("-k", "--top", min=1, max=100, help="How many hits.")] = 5,
    kind: Annotated[str | None, typer.Option("--kind", help="Only this kind.")] = None,
    include_superseded: Annotated[
        bool, typer.Option("--all", help="Include superseded items.")
    ] = False,
) -> None:
    """Search a project's memory; shows ids, scores and kinds."""
    store, project = _open(project, user)
    kinds = [_check_kind(kind)] if kind else None
    hits = store.search(project, query, k=k, kinds=kinds, include_superseded=include_superseded)  # type: ignore[arg-type]
    if not hits:
        console.print(f"No memories in {_scope(store, project)} match {query!r}.")
        return
    table = Table(title=f"Memory · {_scope(store, project)} · {query!r}", show_lines=False)
    table.add_column("id", style="bold", no_wrap=True)
    table.add_column("score", justify="right")
    table.add_column("kind")
    table.add_column("text", overflow="fold")
    table.add_column("source", style="dim", overflow="fold")
    for hit in hits:
        kind = hit["kind"]
        if include_superseded and not getattr(store.get(project, hit["id"]), "active", True):
            kind += " [dim](superseded)[/]"
        table.add_row(hit["id"], f"{hit['score']:.3f}", kind, hit["text"], hit.get("source", ""))
    console.print(table)


@memory_app.command("list")
def list_items(
    project: ProjectOption = None,
    user: UserOption = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only this kind.")] = None,
    include_superseded: Annotated[
        bool, typer.Option("--all", help="Include superseded items.")
    ] = False,
) -> None:
    """List a project's memories, oldest first."""
    store, project = _open(project, user)
    items = store.items(project, include_superseded=include_superseded)
    if kind:
        items = [item for item in items if item.kind == _check_kind(kind)]
    table = Table(title=f"Memory · {_scope(store, project)} · {len(items)} items")
    table.add_column("id", style="bold", no_wrap=True)
    table.add_column("kind")
    table.add_column("created", no_wrap=True)
    table.add_column("text", overflow="fold")
    for item in items:
        status = "" if item.active else " [dim](superseded)[/]"
        table.add_row(item.id, item.kind + status, f"{item.created_at:%Y-%m-%d %H:%M}", item.text)
    console.print(table)


@memory_app.command("forget")
def forget(
    item_id: Annotated[str, typer.Argument(metavar="ID", help="Id of the memory to delete.")],
    project: ProjectOption = None,
    user: UserOption = None,
) -> None:
    """Delete one memory by id (from any project unless --project is given)."""
    store, _ = _open(project, user)
    item = _find(store, item_id, project)
    store.forget(item.project, item.id)
    console.print(f"Forgot [bold]{item.id}[/] from {_scope(store, item.project)}: {item.text}")


@memory_app.command("history")
def history(
    item_id: Annotated[str, typer.Argument(metavar="ID", help="Id of any item in the chain.")],
    project: ProjectOption = None,
    user: UserOption = None,
) -> None:
    """Show the supersession chain of a memory, oldest first."""
    store, _ = _open(project, user)
    item = _find(store, item_id, project)
    chain = store.history(item.project, item.id)
    table = Table(title=f"History of {item.id} · {item.project}")
    table.add_column("#", justify="right")
    table.add_column("id", style="bold", no_wrap=True)
    table.add_column("status")
    table.add_column("kind")
    table.add_column("created", no_wrap=True)
    table.add_column("text", overflow="fold")
    for number, entry in enumerate(chain, start=1):
        status = "[green]current[/]" if entry.active else f"superseded by {entry.superseded_by}"
        marker = " ←" if entry.id == item.id else ""
        table.add_row(
            str(number),
            entry.id + marker,
            status,
            entry.kind,
            f"{entry.created_at:%Y-%m-%d %H:%M}",
            entry.text,
        )
    console.print(table)
    if len(chain) == 1:
        console.print("[dim]No older or newer versions: nothing superseded this memory.[/]")


@memory_app.command("import")
def import_(
    path: Annotated[
        Path, typer.Argument(metavar="FILE|DIR", help="A Markdown/text file or a folder of them.")
    ],
    project: ProjectOption = None,
    user: UserOption = None,
) -> None:
    """Import Markdown and text files as document chunks (re-importing stores nothing twice)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from memory.ingest import ImportFileError, import_documents, plan_import

    store, project = _open(project, user)
    try:
        plan = plan_import(path)
    except ImportFileError as error:
        raise fail(str(error)) from None
    if not plan.files:
        raise fail(f"{path}: holds no Markdown or text files (.md, .markdown, .txt)")
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(
            f"Importing {len(plan.files)} file(s) into {_scope(store, project)}", total=plan.total
        )
        report = import_documents(
            store, project, plan, progress=lambda n: progress.advance(task, n)
        )
    console.print(
        f"{report.files} file(s), {report.chunks} chunks: {report.created} new, "
        f"{report.existing} already stored, {report.removed} stale removed."
    )


@memory_app.command("seed")
def seed(project: ProjectOption = None, user: UserOption = None) -> None:
    """Save a project's seed memories again (after editing its seed file; idempotent)."""
    store, project = _open(project, user)
    definition = store.check_project(project)
    if definition is None or definition.seeds is None:
        raise fail(f"Project {project!r} has no seed file")
    results = store.seed(definition)
    created = sum(result.status == "created" for result in results)
    console.print(f"{len(results)} seed memories for {_scope(store, project)}: {created} new.")


@eval_app.command("memory")
def eval_memory(
    dataset: Annotated[
        Path | None, typer.Option("--dataset", help="Queries JSONL (default: the shipped one).")
    ] = None,
    corpus: Annotated[
        Path | None, typer.Option("--corpus", help="Corpus JSONL (default: the shipped one).")
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=50, help="Cut-off for recall@k.")] = 5,
    json_out: Annotated[
        Path | None,
        typer.Option("--json", help="Also write the report (with its provenance) here."),
    ] = None,
    langsmith: LangSmithOption = False,
) -> None:
    """Evaluate memory recall (recall@k, MRR; dev and test) and supersession."""
    from evals.memory_eval import DatasetError, render_report, report_json, run_memory_eval

    upload = eval_langsmith.begin(langsmith, "memory")
    try:
        report = run_memory_eval(queries_path=dataset, corpus_path=corpus, k=k, console=console)
    except DatasetError as error:
        raise fail(str(error)) from None
    render_report(report, console)
    if json_out is not None:
        json_out.write_text(report_json(report), encoding="utf-8")
        console.print(f"report written to {json_out}")
    if upload is not None:
        from evals.discipline import ROOT
        from evals.langsmith_upload import ExampleResult

        seen: dict[str, ExampleResult] = {}
        for data in report.datasets:  # a query is in several slices: keep it once
            for row in data.per_query:
                seen.setdefault(
                    row["id"],
                    ExampleResult(
                        case_id=row["id"],
                        split=data.split,
                        inputs={"project": row["project"], "query": row["query"]},
                        reference={"relevant": row["relevant"]},
                        outputs={"top": row["top"]},
                        scores={
                            f"recall_at_{report.k}": row["recall_at_k"],
                            "reciprocal_rank": row["reciprocal_rank"],
                            f"recall_at_{report.k}_after_floor": row["recall_after_floor"],
                        },
                    ),
                )
        eval_langsmith.end(
            upload,
            datasets=[ROOT / path for path in report.provenance["datasets"]],
            examples=list(seen.values()),
            summary={"k": report.k, "floor": report.floor},
        )
