"""``nova erp``: migrate and seed the ERP database, ask it directly; ``nova eval erp``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nova.cli import eval_langsmith
from nova.cli.apps import app, console, eval_app, fail
from nova.cli.eval_langsmith import LangSmithOption
from nova.erp import DEFAULT_ANCHOR

erp_app = typer.Typer(help="The ERP database: migrate, seed, inspect, ask.", no_args_is_help=True)
app.add_typer(erp_app, name="erp")

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url", help="ERP database URL (default NOVA_ERP_DATABASE_URL or <data_dir>/erp.sqlite)."
    ),
]


def _url(url: str | None) -> str:
    from nova.settings import SettingsError, get_settings

    try:
        return url or get_settings().resolved_erp_url
    except SettingsError as error:
        raise fail(str(error)) from None


def _open(url: str | None, *, migrate: bool = True) -> Any:
    from nova.erp.db import ErpConfigError, ErpDatabase

    try:
        return ErpDatabase(_url(url), migrate=migrate)
    except ErpConfigError as error:
        raise fail(str(error)) from None
    except Exception as error:  # a database that is down or refuses us: say which and why
        raise fail(f"Cannot open the ERP database {_url(url)!r}: {error}") from None


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@erp_app.command()
def migrate(
    url: UrlOption = None, revision: str = typer.Option("head", help="Target revision.")
) -> None:
    """Create or upgrade the ERP schema with its Alembic migrations."""
    from nova.erp.migrate import current_revision, upgrade

    database = _open(url, migrate=False)
    before = current_revision(database.engine)
    after = upgrade(database.engine, revision)
    console.print(f"{database.display_url}: revision {before or '(empty)'} → [bold]{after}[/]")


@erp_app.command()
def seed(
    url: UrlOption = None,
    customers: int = typer.Option(300, min=5, help="Customer accounts."),
    products: int = typer.Option(400, min=10, help="Products in the catalogue."),
    suppliers: int = typer.Option(30, min=2, help="Suppliers."),
    orders: int = typer.Option(4000, min=10, help="Sales orders over the whole history."),
    years: int = typer.Option(2, min=1, max=10, help="Years of history."),
    anchor: str = typer.Option(
        DEFAULT_ANCHOR.isoformat(),
        help="Last day of the history (the sample's 'today'), YYYY-MM-DD or 'today'.",
    ),
    seed_value: int = typer.Option(42, "--seed", help="Random seed (same seed, same business)."),
    reset: bool = typer.Option(False, "--reset", help="Replace data already in the database."),
) -> None:
    """Create the sample parts shop: customers, parts, two years of orders, invoices, stock."""
    from datetime import date

    from pydantic import ValidationError

    from nova.erp.seed import SeedConfig, SeedError, seed_database

    try:
        day = date.today() if anchor == "today" else date.fromisoformat(anchor)  # noqa: DTZ011
    except ValueError:
        raise fail(f"--anchor {anchor!r} is not a date; use YYYY-MM-DD or 'today'") from None
    try:
        config = SeedConfig(
            customers=customers,
            products=products,
            suppliers=suppliers,
            orders=orders,
            years=years,
            anchor=day,
            seed=seed_value,
        )
    except ValidationError as error:
        raise fail("; ".join(e["msg"] for e in error.errors())) from None
    database = _open(url)
    tasks: dict[str, Any] = {}
    with _progress() as progress:

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        try:
            result = seed_database(database, config, reset=reset, progress=report)
        except SeedError as error:
            raise fail(str(error)) from None
    table = Table(
        title=f"Seeded {database.display_url} (as of {result.as_of})", title_justify="left"
    )
    table.add_column("Table")
    table.add_column("Rows", justify="right")
    for name, count in result.counts.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    console.print(f"fingerprint {result.fingerprint}")


@erp_app.command()
def status(url: UrlOption = None) -> None:
    """Show the ERP database's revision, business date and row counts."""
    from sqlalchemy import func, select

    from nova.erp import models
    from nova.erp.db import business_date
    from nova.erp.migrate import current_revision, head_revision

    database = _open(url)
    table = Table(title=database.display_url, title_justify="left")
    table.add_column("Table")
    table.add_column("Rows", justify="right")
    with database.read_session() as session:
        for mapper in models.Base.registry.mappers:
            model = mapper.class_
            table.add_row(
                model.__tablename__, f"{session.scalar(select(func.count()).select_from(model)):,}"
            )
        today = business_date(session)
    console.print(table)
    console.print(
        f"revision {current_revision(database.engine)} (head {head_revision()}), business date "
        f"{today}"
    )


@erp_app.command()
def ask(
    text: Annotated[
        str, typer.Argument(help="The request, e.g. 'Which invoices are overdue for Nordwind?'")
    ],
    agent: str = typer.Option(
        ..., "--agent", "-a", help="ERP agent whose skills may answer, e.g. erp_invoices."
    ),
    url: UrlOption = None,
) -> None:
    """Answer a request with the model-free fast path (no routing, no writes)."""
    from nova.catalog import default_catalog
    from nova.erp.intents import Clarify, Decline, plan_request
    from nova.erp.render import render_table, render_text
    from nova.erp.skills import READ_SKILLS, SkillError

    catalog = default_catalog()
    if agent not in catalog:
        raise fail(
            f"No agent {agent!r}; ERP agents: "
            f"{', '.join(n for n in catalog.names if n.startswith('erp_'))}"
        )
    database = _open(url)
    with database.read_session() as session:
        decision = plan_request(
            text, session, [t for t in catalog[agent].tools if t in READ_SKILLS]
        )
        if isinstance(decision, Decline):
            console.print(
                f"[yellow]The fast path declines:[/] {decision.reason}. A model agent would take "
                "it."
            )
            raise typer.Exit(1)
        if isinstance(decision, Clarify):
            console.print(decision.question)
            raise typer.Exit(1)
        try:
            result = READ_SKILLS[decision.skill].run(session, decision.args)
        except SkillError as error:
            console.print(str(error))
            raise typer.Exit(1) from None
    console.print(
        f"[dim]{decision.skill} {decision.args.model_dump(mode='json', exclude_defaults=True)}[/]"
    )
    console.print(render_text(result).split("\n", 1)[0])
    console.print(render_table(result.payload()))


DatasetOption = Annotated[
    Path | None, typer.Option(help="Dataset JSONL (default evals/datasets/erp.jsonl).")
]
ReportOption = Annotated[Path, typer.Option(help="Where to write the JSON report.")]
ModelOption = Annotated[
    bool, typer.Option("--model/--no-model", help="Also evaluate the configured model.")
]
ShowOption = Annotated[int, typer.Option(help="Failures to list per split.")]
ShowTestOption = Annotated[
    bool,
    typer.Option(
        "--show-test",
        help="Also list the test split's failures (dev only by default: tune on dev, quote test).",
    ),
]


def _ms(value: Any) -> str:
    return "–" if value is None else f"{value:.1f}"


@eval_app.command("erp")
def eval_erp(
    dataset: DatasetOption = None,
    url: UrlOption = None,
    report: ReportOption = Path("reports/erp_eval.json"),
    model: ModelOption = True,
    show: ShowOption = 10,
    show_test: ShowTestOption = False,
    langsmith: LangSmithOption = False,
) -> None:
    """Evaluate the ERP fast path (and a configured model): skills, arguments, answers, coverage.

    The dataset is cut into its frozen dev/test split (``evals.discipline``); test requests
    that nearly repeat a catalog example or a phrase written into the fast path are left out.
    """
    from evals import erp_eval
    from evals.discipline import print_leaks, provenance, side_by_side, split_cases
    from nova.catalog import default_catalog
    from nova.settings import get_settings

    path = dataset or erp_eval.DEFAULT_DATASET
    upload = eval_langsmith.begin(langsmith, "erp")
    try:
        cases = erp_eval.load_dataset(path)
    except (OSError, erp_eval.DatasetError) as error:
        raise fail(str(error)) from None
    split = split_cases(cases, case_id=lambda c: c.id, text=lambda c: c.text)
    chosen = [*split.dev, *split.test]
    tasks: dict[str, Any] = {}
    runs: dict[str, list[erp_eval.CaseResult]] = {}
    with _progress() as progress:

        def seeding(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        database, note = erp_eval.evaluation_database(url, path, progress=seeding)
        task = progress.add_task("Fast path", total=len(chosen))
        _, runs["fast path"] = erp_eval.run_fast_path(
            chosen,
            database,
            default_catalog(),
            progress=lambda done, total: progress.update(task, completed=done),
        )
        settings = get_settings()
        if model and settings.model_configured:
            from nova.models import default_model_factory

            task = progress.add_task("Model", total=len(chosen))
            _, runs["model"] = erp_eval.run_model(
                chosen,
                default_catalog(),
                default_model_factory,
                progress=lambda done, total: progress.update(task, completed=done),
                database=database,
            )
    console.print(f"[dim]{note}[/]")
    verbatim = erp_eval.verbatim_examples(cases)
    in_test = [case for case in verbatim if case.id not in {c.id for c in split.dev}]
    console.print(
        f"word-for-word catalog examples: {len(verbatim)} of {len(cases)} requests "
        f"({len(in_test)} in test, removed with the near-duplicates)"
    )
    print_leaks(split)
    dev_ids = {case.id for case in split.dev}
    reports = {
        runner: {
            which: erp_eval.summarise(
                runner, [r for r in results if (r.id in dev_ids) == (which == "dev")]
            )
            for which in ("dev", "test")
        }
        for runner, results in runs.items()
    }
    rows = {
        "requests": "cases",
        "coverage (answered or proposed)": "coverage",
        "skill accuracy": "skill_accuracy",
        "argument accuracy": "argument_accuracy",
        "answer correctness (of resolved)": "answer_correctness",
        "clarify handled": "clarify_correct",
        "declines respected": "decline_correct",
        "latency p50 (ms)": "latency_p50_ms",
        "latency p95 (ms)": "latency_p95_ms",
    }
    columns = {
        f"{runner} · {which}": {
            **{label: getattr(item, key) for label, key in rows.items()},
            "outcomes": ", ".join(f"{k} {v}" for k, v in sorted(item.outcomes.items())),
        }
        for runner, by_split in reports.items()
        for which, item in by_split.items()
    }
    console.print(
        side_by_side(
            f"ERP evaluation — {len(chosen)} requests ({path.name}; dev {len(split.dev)}, "
            f"test {len(split.test)})",
            columns,
            formats={"latency p50 (ms)": _ms, "latency p95 (ms)": _ms},
        )
    )
    if not (model and get_settings().model_configured):
        console.print(
            "[dim]model: not evaluated (no model configured; set NOVA_MODEL_BASE_URL or "
            "NOVA_MODEL_API_KEY)[/]"
        )
    for runner, by_split in reports.items():
        for which, item in by_split.items():
            if which == "test" and not show_test:
                continue
            for failure in item.failures[:show]:
                console.print(
                    f"[red]✗[/] {runner} ({which}) {failure['id']} expected {failure['expect']}, "
                    f"got {failure['outcome']} ({failure['skill']}): {failure['text']}  "
                    f"[dim]{failure['detail'][:200]}[/]"
                )
    if not show_test:
        console.print("[dim]test failures not listed (--show-test lists them)[/]")
    erp_eval.write_report(report, reports, {**provenance([path], split), "note": note})
    console.print(f"report written to {report}")
    eval_langsmith.end(
        upload,
        datasets=[path],
        examples=_erp_examples(chosen, dev_ids, runs),
        summary={
            f"{runner} · {which}": dataclasses.asdict(item)
            for runner, by_split in reports.items()
            for which, item in by_split.items()
        },
    )


def _erp_examples(cases: list[Any], dev_ids: set[str], runs: dict[str, list[Any]]) -> list[Any]:
    """Return one LangSmith example per ERP case, with every runner's output and scores."""
    from evals.langsmith_upload import ExampleResult

    by_runner = {runner: {r.id: r for r in results} for runner, results in runs.items()}
    examples = []
    for case in cases:
        outputs: dict[str, Any] = {}
        scores: dict[str, float | bool | None] = {}
        for runner, results in by_runner.items():
            result = results.get(case.id)
            if result is None:
                continue
            key = runner.replace(" ", "_")
            outputs[key] = {
                "outcome": result.outcome,
                "skill": result.skill,
                "detail": result.detail,
            }
            scores |= {
                f"{key}_correct": result.correct,
                f"{key}_skill_ok": result.skill_ok,
                f"{key}_args_ok": result.args_ok,
                f"{key}_answer_ok": result.answer_ok,
            }
        examples.append(
            ExampleResult(
                case_id=case.id,
                split="dev" if case.id in dev_ids else "test",
                inputs={"text": case.text},
                reference=case.model_dump(mode="json", exclude={"id", "text"}),
                outputs=outputs,
                scores=scores,
            )
        )
    return examples


OwnerDatasetOption = Annotated[
    Path | None, typer.Option(help="Dataset JSONL (default evals/datasets/erp_owner.jsonl).")
]


@eval_app.command("erp-owner")
def eval_erp_owner(
    dataset: OwnerDatasetOption = None,
    url: UrlOption = None,
    report: ReportOption = Path("reports/erp_owner_eval.json"),
    routing: Annotated[
        bool,
        typer.Option(
            "--routing/--no-routing",
            help="Also measure fast-path coverage on the ERP lines of the routing dataset.",
        ),
    ] = True,
    show: ShowOption = 15,
    show_test: ShowTestOption = False,
    langsmith: LangSmithOption = False,
) -> None:
    """Evaluate the served ERP path on the owner's requests: routed by the real router.

    Each request is routed by Nova's router (project parts-shop) and, when it reaches an
    ERP agent, answered by the fast path; answers are judged against the dataset's readings.
    Figures are printed for dev and test side by side; failures for dev only (--show-test).
    """
    from evals import erp_owner_eval as owner
    from evals.discipline import print_leaks, side_by_side
    from evals.erp_eval import DatasetError, evaluation_database
    from nodes.router import nova_router
    from nova.catalog import default_catalog

    path = dataset or owner.DEFAULT_DATASET
    upload = eval_langsmith.begin(langsmith, "erp-owner")
    try:
        cases = owner.load_dataset(path)
        lines = owner.erp_routing_lines() if routing else []
    except (OSError, DatasetError) as error:
        raise fail(str(error)) from None
    split = owner.split_owner_cases(cases)
    tasks: dict[str, Any] = {}
    with _progress() as progress:

        def seeding(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        database, note = evaluation_database(url, path, progress=seeding)
        catalog = default_catalog()
        router = nova_router(progress=True)
        task = progress.add_task("Owner requests", total=len(split.dev) + len(split.test))
        run = owner.run_owner_eval(
            cases,
            database,
            catalog=catalog,
            router=router,
            split=split,
            progress=lambda done, total: progress.update(task, completed=done),
        )
        routed = None
        if lines:
            task = progress.add_task("Routing set, ERP lines", total=len(lines))
            line_split, results = owner.run_routing_lines(
                lines,
                database,
                catalog=catalog,
                router=router,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
            routed = (owner.ROUTING_DATASET, line_split, results)
    console.print(f"[dim]{note}; project {owner.PROJECT}, routed by Nova's router[/]")
    print_leaks(split)
    console.print(
        side_by_side(
            f"ERP owner requests ({path.name})",
            run.by_split(),
        )
    )
    if routed is not None:
        _, line_split, results = routed
        console.print(
            f"routing set ERP lines: near-duplicates removed from test: {len(line_split.leaks)}"
        )
        console.print(
            side_by_side(
                f"Fast path on {owner.ROUTING_DATASET.name} ERP lines",
                {
                    which: owner.routing_figures([r for r in results if r.split == which])
                    for which in ("dev", "test")
                },
            )
        )
    for which in ("dev", "test") if show_test else ("dev",):
        missed = owner.failures(v for v in run.verdicts if v.split == which)
        for verdict in missed[:show]:
            what = (
                "; ".join(verdict.problems)
                if verdict.outcome == "answer"
                else f"{verdict.outcome} ({verdict.agent or 'no agent'})"
            )
            said = verdict.answer.splitlines()[0] if verdict.answer else verdict.detail
            console.print(
                f"[red]✗[/] ({which}) {verdict.id} {verdict.text!r}: {what}  [dim]{said[:160]}[/]"
            )
        if len(missed) > show:
            console.print(f"[dim]… {len(missed) - show} more {which} failures in the report[/]")
    if not show_test:
        console.print("[dim]test failures not listed (--show-test lists them)[/]")
    report.parent.mkdir(parents=True, exist_ok=True)
    body = owner.report_body(path, run, note=note, routing=routed)
    report.write_text(json.dumps(body, indent=2, ensure_ascii=False, default=str) + "\n", "utf-8")
    console.print(f"report written to {report}")
    from evals.langsmith_upload import ExampleResult

    by_id = {case.id: case for case in cases}
    eval_langsmith.end(
        upload,
        datasets=[path],
        examples=[
            ExampleResult(
                case_id=verdict.id,
                split=verdict.split,
                inputs={"text": verdict.text},
                reference=by_id[verdict.id].model_dump(mode="json", exclude={"id", "text"}),
                outputs={
                    "outcome": verdict.outcome,
                    "agent": verdict.agent,
                    "skill": verdict.skill,
                    "answer": verdict.answer,
                    "reading": verdict.reading,
                },
                scores={
                    "answered": verdict.outcome == "answer",
                    "right": verdict.right,
                },
                comment="; ".join(verdict.problems) or None,
            )
            for verdict in run.verdicts
            if verdict.split in ("dev", "test")
        ],
        summary=run.by_split(),
    )
