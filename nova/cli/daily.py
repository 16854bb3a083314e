"""``nova eval daily``: the daily-use acceptance suite through the in-process and SDK paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.table import Table

from nova.cli import eval_langsmith
from nova.cli.apps import console, eval_app, fail
from nova.cli.eval_langsmith import LangSmithOption


@eval_app.command("daily")
def eval_daily(
    split: Annotated[str, typer.Option(help="Which split to run: dev, test or all.")] = "all",
    path: Annotated[
        str, typer.Option(help="inprocess, sdk (against nova serve --dev) or both.")
    ] = "both",
    limit: Annotated[
        int | None, typer.Option(help="Only the conversations of the first N cases.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the JSON report here (default reports/daily.json).")
    ] = None,
    show_failures: Annotated[
        bool, typer.Option("--failures", help="List every failed case and why.")
    ] = False,
    langsmith: LangSmithOption = False,
) -> None:
    """Run evals/daily (requests as the owner types them) on a fresh data dir; print figures."""
    from evals.daily_eval import DATASET, load_cases, run_suite
    from nova.settings import get_settings

    if split not in ("dev", "test", "all"):
        raise fail(f"--split {split!r}: use dev, test or all")
    try:
        load_cases()
    except ValueError as error:  # a hand-edited line: say which, in one line
        raise fail(f"bad line in the daily set: {' '.join(str(error).split())[:240]}") from None
    upload = eval_langsmith.begin(langsmith, "daily")
    chosen: tuple[Literal["inprocess", "sdk"], ...]
    match path:
        case "both":
            chosen = ("inprocess", "sdk")
        case "inprocess" | "sdk":
            chosen = (path,)
        case _:
            raise fail(f"--path {path!r}: use inprocess, sdk or both")
    router_cache = get_settings().router_cache_dir or get_settings().data_dir / "router"
    with console.status("Seeding a fresh data dir and running the suite…"):
        report = run_suite(
            paths=chosen,
            split=split,  # type: ignore[arg-type]  # checked above
            router_cache=router_cache,
            limit=limit,
        )
    table = Table(
        title=f"daily-use suite · dataset {report['dataset_hash']} · code {report['code_version']}"
    )
    for column in (
        "path",
        "split",
        "cases",
        "pass",
        "model-free pass",
        "needs-model pass",
        "p50",
        "p95",
    ):
        table.add_column(column, justify="right" if column not in ("path", "split") else "left")
    for name, data in report["paths"].items():
        for part in ("dev", "test", "all"):
            figures = data["summary"][part]
            if not figures["cases"]:
                continue

            def pct(value: float | None) -> str:
                return "—" if value is None else f"{value:.1%}"

            table.add_row(
                name,
                part,
                str(figures["cases"]),
                pct(figures["pass_rate"]),
                pct(figures["model_free_pass_rate"]),
                pct(figures["needs_model_pass_rate"]),
                f"{figures['p50_s'] * 1000:.0f} ms",
                f"{figures['p95_s'] * 1000:.0f} ms",
            )
    console.print(table)
    if show_failures:
        for name, data in report["paths"].items():
            for case_id, reasons in data["summary"]["all"]["failures"].items():
                console.print(f"[red]✗[/] {name} {case_id}: {'; '.join(reasons)}")
    target = out or Path("reports") / "daily.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=2, default=str))
    console.print(f"[dim]report: {target}[/]")
    if upload is not None:
        eval_langsmith.end(
            upload,
            datasets=[DATASET],
            examples=_daily_examples(report),
            summary={name: data["summary"] for name, data in report["paths"].items()},
        )


def _daily_examples(report: dict[str, Any]) -> list[Any]:
    """Return one LangSmith example per turn, with each path's answer and verdict."""
    from evals.daily_eval import TurnResult, judge, load_cases
    from evals.langsmith_upload import ExampleResult

    results = {
        name: {row["id"]: TurnResult(**row) for row in data["results"]}
        for name, data in report["paths"].items()
    }
    examples = []
    for case in load_cases():
        ran = {name: by_id[case.id] for name, by_id in results.items() if case.id in by_id}
        if not ran:
            continue
        verdicts = {name: judge(case, result) for name, result in ran.items()}
        examples.append(
            ExampleResult(
                case_id=case.id,
                split=case.split,
                inputs={"text": case.text, "project": case.project, "thread": case.thread},
                reference=case.expect.model_dump(mode="json"),
                outputs={
                    name: {"answer": r.answer, "agent": r.agent, "outcome": r.outcome}
                    for name, r in ran.items()
                },
                scores={f"{name}_passed": v.passed for name, v in verdicts.items()},
                comment="; ".join(r for v in verdicts.values() for r in v.reasons) or None,
            )
        )
    return examples
