"""``nova eval daily``: the daily-use acceptance suite through the in-process and SDK paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from nova.cli.app import console, eval_app, fail


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
) -> None:
    """Run evals/daily (requests as the owner types them) on a fresh data dir; print figures."""
    from evals.daily_eval import run_suite
    from nova.settings import get_settings

    if split not in ("dev", "test", "all"):
        raise fail(f"--split {split!r}: use dev, test or all")
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
