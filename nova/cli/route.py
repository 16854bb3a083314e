"""``nova route``: route a request, route a batch, read the routing ledger; ``nova eval routing``.

``nova route "which invoices are overdue?"`` shows the decision with its scores;
``nova route --catalog DIR --batch IN.jsonl --out OUT.jsonl`` routes any catalog;
``nova route log`` and ``nova route explain ID`` read the routing ledger.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table
from typer.core import TyperGroup

from nova.cli import eval_langsmith
from nova.cli.apps import app, console, err_console, eval_app, fail
from nova.cli.eval_langsmith import LangSmithOption

if TYPE_CHECKING:
    from nodes.router import Router
    from nova.ledger.routing import RoutingRecord
    from nova.state import RouteDecision


class RouteGroup(TyperGroup):
    """A command group whose first free word, if not a subcommand, starts the request text.

    ``nova route log`` runs the ``log`` subcommand; ``nova route show my invoices`` routes
    "show my invoices" (quoting is optional; ``--`` forces the rest to be text).
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # Typer vendors click
        """Move the request words into the hidden ``--text`` option, then parse as usual."""
        takes_value = {
            name
            for param in self.params
            # Typer's options are not click.Option subclasses: ask by duck typing.
            if param.param_type_name == "option"
            and not getattr(param, "is_flag", False)
            and not getattr(param, "count", False)
            for name in (*param.opts, *param.secondary_opts)
        }
        options: list[str] = []
        words: list[str] = []
        index = 0
        while index < len(args):
            token = args[index]
            if token == "--":
                words.extend(args[index + 1 :])
                break
            if token.startswith("-") and len(token) > 1:
                options.append(token)
                if token in takes_value and index + 1 < len(args):
                    options.append(args[index + 1])
                    index += 1
                index += 1
                continue
            if not words and token in self.commands:
                return super().parse_args(ctx, args)
            words.append(token)
            index += 1
        if words:
            options += ["--text", " ".join(words)]
        return super().parse_args(ctx, options)


route_app = typer.Typer(
    cls=RouteGroup,
    invoke_without_command=True,
    help=(
        "Route a request (nova route TEXT), a batch (--catalog DIR --batch IN --out OUT), "
        "or read the routing ledger (log, explain)."
    ),
)
app.add_typer(route_app, name="route")


def _score_bar(score: float, width: int = 20) -> str:
    filled = round(max(0.0, min(1.0, score)) * width)
    return "█" * filled + "·" * (width - filled)


def _decision_table(decision: RouteDecision) -> Table:
    table = Table(title="Candidates (calibrated probability)", show_lines=False)
    table.add_column("#", justify="right")
    table.add_column("agent")
    table.add_column("score", justify="right")
    table.add_column("")
    for rank, candidate in enumerate(decision["candidates"], start=1):
        chosen = candidate["agent"] == decision["agent"]
        name = f"[bold green]{candidate['agent']}[/]" if chosen else candidate["agent"]
        table.add_row(str(rank), name, f"{candidate['score']:.3f}", _score_bar(candidate["score"]))
    return table


def _show_decision(decision: RouteDecision, *, logged: bool) -> None:
    agent = decision["agent"] or "— (asks the user)"
    where = decision.get("subgraph") or ("clarify" if decision["agent"] is None else "—")
    console.print(
        f"→ [bold]{agent}[/] ({where}) · method [bold]{decision['method']}[/] · "
        f"confidence {decision['confidence']:.2f} · margin {decision['margin']:.2f} · "
        f"{decision['latency_ms']:.1f} ms"
    )
    console.print(_decision_table(decision))
    if decision.get("question"):
        console.print(Panel(str(decision["question"]), title="Clarifying question"))
    console.print(f"[dim]why:[/] {decision['reason']}")
    suffix = f" · ledger id {decision['id']}" if logged else " · not logged (--dry-run)"
    console.print(
        f"[dim]router {decision['router_version']} · catalog {decision['catalog_version']}"
        f"{suffix}[/]"
    )


def _route_text(
    text: str, project: str | None, catalog_dir: Path | None, config: Path | None, dry_run: bool
) -> None:
    from memory.embeddings import warm_up
    from nodes.router import Router, UnknownAgentError, decide, nova_router
    from nova.catalog import CatalogError, default_catalog
    from nova.ledger.routing import RoutingLedger
    from nova.models import default_model_factory
    from nova.settings import SettingsError, get_settings

    try:
        if catalog_dir is not None:
            # Any catalog: the pure classifier decision, not logged (it is not Nova's).
            router = Router.from_catalog(
                catalog_dir, progress=err_console.is_terminal, config=config
            )
            router.warm_up()
            _show_decision(router.route(text), logged=False)
            return
        settings = get_settings()
        router = nova_router(progress=err_console.is_terminal)
        # Load the encoder first: the decision's latency is the routing, not the model load.
        warm_up()
        router.warm_up()
        decision = decide(
            text,
            router=router,
            catalog=default_catalog(),
            model_factory=default_model_factory,
        )
    except (CatalogError, SettingsError, UnknownAgentError, ValueError) as error:
        raise fail(str(error)) from None
    if not dry_run:
        RoutingLedger().append(
            decision,
            request=text,
            project=project or settings.default_project,
            thresholds=router.thresholds.as_dict(),
        )
    _show_decision(decision, logged=not dry_run)


def _read_batch(path: Path) -> list[str]:
    if not path.is_file():
        raise fail(f'--batch {path}: no such file; give a JSONL file of {{"text": ...}} lines')
    texts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise fail(f"{path}:{number}: not JSON ({error})") from None
        text = row.get("text") if isinstance(row, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise fail(
                f'{path}:{number}: each line needs a non-empty "text", e.g. {{"text": "..."}}'
            )
        texts.append(text)
    return texts


def batch_rows(router: Router, texts: list[str], chunk: int = 512) -> list[dict[str, Any]]:
    """Route ``texts`` and return the batch output rows (``agent`` is null on abstain)."""
    from rich.progress import Progress

    rows: list[dict[str, Any]] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Routing", total=len(texts))
        for start in range(0, len(texts), chunk):
            part = texts[start : start + chunk]
            for text, decision in zip(part, router.route_batch(part), strict=True):
                decided = decision["method"] == "semantic"
                rows.append(
                    {
                        "text": text,
                        "agent": decision["agent"] if decided else None,
                        "confidence": decision["confidence"],
                        "method": decision["method"],
                        "top": [[c["agent"], c["score"]] for c in decision["candidates"]],
                    }
                )
            progress.advance(task, len(part))
    return rows


def _route_batch(
    batch: Path, out: Path | None, catalog_dir: Path | None, config: Path | None
) -> None:
    import time

    from nodes.router import Router, nova_router
    from nova.catalog import CatalogError

    if out is None:
        raise fail("--batch needs --out OUT.jsonl (where the decisions are written)")
    texts = _read_batch(batch)
    try:
        router = (
            Router.from_catalog(catalog_dir, progress=err_console.is_terminal, config=config)
            if catalog_dir is not None
            else nova_router(progress=err_console.is_terminal)
        )
    except (CatalogError, ValueError) as error:
        raise fail(str(error)) from None
    started = time.perf_counter()
    rows = batch_rows(router, texts)
    seconds = time.perf_counter() - started
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    abstained = sum(row["agent"] is None for row in rows)
    console.print(f"Routed {len(rows)} requests in {seconds:.2f} s ({abstained} abstained) → {out}")


@route_app.callback()
def route(
    ctx: typer.Context,
    text: Annotated[
        str | None, typer.Option("--text", hidden=True, help="The request (or give it as words).")
    ] = None,
    project: Annotated[
        str | None,
        typer.Option("--project", "-p", help="Project scope recorded in the ledger."),
    ] = None,
    catalog: Annotated[
        Path | None,
        typer.Option(
            "--catalog",
            help="Route against this folder of agent YAML files instead of Nova's catalog.",
            file_okay=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="Router config file (default: router.yaml beside the catalog)."
        ),
    ] = None,
    batch: Annotated[
        Path | None,
        typer.Option("--batch", help='JSONL file of {"text": ...} lines to route.', dir_okay=False),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where --batch writes its decisions (JSONL).", dir_okay=False),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the decision without logging it.")
    ] = False,
) -> None:
    """Route TEXT and show the decision with its scores (logged in the routing ledger)."""
    if ctx.invoked_subcommand is not None:
        return
    if batch is not None:
        if text:
            raise fail("Give either request text or --batch, not both")
        _route_batch(batch, out, catalog, config)
        return
    if not text or not text.strip():
        console.print(ctx.get_help())
        raise typer.Exit(0)
    _route_text(text, project, catalog, config, dry_run)


def parse_since(value: str) -> datetime:
    """Parse ``--since`` ("2h", "yesterday", "2025-01-31", "3 days ago") into UTC.

    Raises:
        typer.Exit: the value is not a time dateparser understands (after saying so).

    """
    import dateparser

    parsed = dateparser.parse(
        value,
        settings={
            "PREFER_DATES_FROM": "past",
            "RETURN_AS_TIMEZONE_AWARE": True,
            "TO_TIMEZONE": "UTC",
        },
    )
    if parsed is None:
        raise fail(f"Could not read --since {value!r}; try 2h, 30m, yesterday or 2025-01-31")
    return parsed


def _records_table(records: list[RoutingRecord], wide: bool) -> Table:
    table = Table(title=f"Routing decisions ({len(records)}, newest first)", expand=True)
    table.add_column("id", style="cyan", no_wrap=True)
    if wide:
        table.add_column("UTC", no_wrap=True)
    table.add_column("agent", style="bold", no_wrap=True)
    table.add_column("method", no_wrap=True)
    table.add_column("conf.", justify="right", no_wrap=True)
    if wide:
        table.add_column("margin", justify="right", no_wrap=True)
        table.add_column("project", no_wrap=True)
    table.add_column("request", ratio=1, overflow="ellipsis", no_wrap=True)
    for record in records:
        method = f"[yellow]{record.method}[/]" if record.low_confidence else record.method
        cells = [record.id[:8]]
        if wide:
            cells.append(record.created_at.strftime("%m-%d %H:%M"))
        cells += [record.agent or "—", method, f"{record.confidence:.2f}"]
        if wide:
            cells += [f"{record.margin:.2f}", record.project or ""]
        table.add_row(*cells, record.request)
    return table


@route_app.command("log")
def route_log(
    agent: Annotated[str | None, typer.Option("--agent", "-a", help="Only this agent.")] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help='Only since then: "2h", "yesterday", "2025-01-31".'),
    ] = None,
    low_confidence: Annotated[
        bool,
        typer.Option("--low-confidence", help="Only decisions the classifier did not make alone."),
    ] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Most rows shown.")] = 50,
) -> None:
    """List recent routing decisions from the ledger."""
    from nova.ledger.routing import RoutingLedger

    since_at = parse_since(since) if since else None
    records = RoutingLedger().list(
        agent=agent, since=since_at, low_confidence=low_confidence, limit=limit
    )
    if not records:
        console.print("No routing decisions match.")
        return
    # Narrow terminals keep the request readable by dropping the time, margin and project.
    console.print(_records_table(records, wide=console.width >= 120))


@route_app.command("explain")
def route_explain(
    decision_id: Annotated[str, typer.Argument(metavar="ID", help="Decision id or its prefix.")],
) -> None:
    """Explain one decision: candidates, scores, thresholds, margin, method, versions."""
    from nova.ledger.routing import RouteNotFound, RoutingLedger

    try:
        record = RoutingLedger().find(decision_id)
    except RouteNotFound as error:
        raise fail(str(error)) from None
    console.print(Panel(record.request, title=f"Request · {record.id}"))
    console.print(
        f"→ [bold]{record.agent or '— (asked the user)'}[/] ({record.subgraph or 'no subgraph'}) · "
        f"method [bold]{record.method}[/] · {record.latency_ms:.1f} ms · "
        f"{record.created_at:%Y-%m-%d %H:%M:%S} UTC"
    )
    candidates = Table(title="Candidates (calibrated probability)")
    candidates.add_column("#", justify="right")
    candidates.add_column("agent")
    candidates.add_column("score", justify="right")
    candidates.add_column("")
    for rank, candidate in enumerate(record.candidates, start=1):
        candidates.add_row(
            str(rank), candidate.agent, f"{candidate.score:.3f}", _score_bar(candidate.score)
        )
    console.print(candidates)
    checks = Table(title="Against the fitted thresholds")
    checks.add_column("signal")
    checks.add_column("value", justify="right")
    checks.add_column("threshold", justify="right")
    thresholds = record.thresholds
    checks.add_row(
        "confidence", f"{record.confidence:.3f}", f"{thresholds.get('min_confidence', 0.0):.3f}"
    )
    checks.add_row("margin", f"{record.margin:.3f}", f"{thresholds.get('min_margin', 0.0):.3f}")
    if "min_similarity" in thresholds:
        checks.add_row("similarity (see why)", "", f"{thresholds['min_similarity']:.3f}")
    console.print(checks)
    console.print(f"[bold]why:[/] {record.reason}")
    if record.question:
        console.print(Panel(record.question, title="Clarifying question"))
    console.print(
        f"[dim]thread {record.thread_id or '—'} · project {record.project or '—'} · "
        f"router {record.router_version} · catalog {record.catalog_version}[/]"
    )


@eval_app.command("routing")
def eval_routing(
    dataset: Annotated[
        Path | None,
        typer.Option("--dataset", help="JSONL of {text, agent} (agent null = out of scope)."),
    ] = None,
    catalog: Annotated[
        Path | None,
        typer.Option("--catalog", help="Catalog folder (default: Nova's).", file_okay=False),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Where to write the JSON report.")
    ] = None,
    latency_samples: Annotated[
        int, typer.Option("--latency-samples", min=10, help="Single requests timed after warm-up.")
    ] = 200,
    langsmith: LangSmithOption = False,
) -> None:
    """Evaluate the router on the dataset's dev and test splits, side by side.

    Test cases that nearly repeat a catalog or router.yaml example are removed (and
    counted); the JSON report names the dataset hash, the code version and the split.
    """
    from evals.discipline import print_leaks
    from evals.langsmith_upload import ExampleResult
    from evals.routing_eval import (
        DEFAULT_DATASET,
        DEFAULT_REPORT,
        DatasetError,
        evaluate_splits,
        figures,
        load_dataset,
        split_table,
        write_report,
    )
    from nodes.router import Router, nova_router
    from nova.catalog import CatalogError

    dataset = dataset or DEFAULT_DATASET
    upload = eval_langsmith.begin(langsmith, "routing")
    progress = console.is_terminal
    try:
        cases = load_dataset(dataset)
        router = (
            Router.from_catalog(catalog, progress=progress)
            if catalog
            else nova_router(progress=progress)
        )
        result, split = evaluate_splits(
            router, cases, dataset=dataset, latency_samples=latency_samples
        )
    except (DatasetError, CatalogError, ValueError) as error:
        raise fail(str(error)) from None
    console.print(
        f"dataset {result.provenance['dataset_hash']} · code {result.provenance['code_version']}"
    )
    print_leaks(split)
    console.print(split_table(result))
    test = result.splits.get("test")
    if test is not None and test.confusions:
        confused = Table(title="Most confused on test (expected → routed)")
        confused.add_column("expected")
        confused.add_column("routed")
        confused.add_column("count", justify="right")
        for confusion in test.confusions:
            confused.add_row(confusion.expected, confusion.predicted, str(confusion.count))
        console.print(confused)
    path = write_report(result, report or DEFAULT_REPORT)
    console.print(f"Report written to {path}")
    eval_langsmith.end(
        upload,
        datasets=[dataset],
        examples=[
            ExampleResult(
                case_id=row["text"],
                split=name,
                inputs={"text": row["text"]},
                reference={"agent": row["expected"]},
                outputs={k: row[k] for k in ("predicted", "top1", "confidence", "method")},
                scores={
                    "correct": row["predicted"] == row["expected"],
                    "top1_correct": row["top1"] == row["expected"] if row["expected"] else None,
                    "abstained": row["predicted"] is None,
                },
            )
            for name, split_report in result.splits.items()
            for row in split_report.predictions
        ],
        summary={name: figures(r) for name, r in result.splits.items()},
    )
