"""``nova eval injection``: the prompt-injection suite (AgentDojo style) on the real graph."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nova.cli.apps import console, eval_app, fail


@eval_app.command("injection")
def eval_injection(
    split: Annotated[str, typer.Option(help="Which split to run: dev, test or both.")] = "both",
    model: Annotated[
        str, typer.Option(help="Scripted model temper: gullible, careful or both.")
    ] = "both",
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the first N user tasks of each split.")
    ] = None,
    out: Annotated[
        Path,
        typer.Option(help="Where to write the JSON report."),
    ] = Path("reports/injection.json"),
    show_failures: Annotated[
        bool, typer.Option("--failures", help="List lost utility and successful attacks.")
    ] = False,
) -> None:
    """Run the injection suite: utility, utility under attack, attack success, defended or not.

    Every case runs through the real supervisor graph (router, recall, tool gate) on a fresh
    seeded ERP database, real Chroma memory and a local allowlisted web server, once with
    Nova's injection defences off (the baseline) and once with them on.
    """
    from evals.discipline import side_by_side
    from evals.injection.runner import failures, per_goal_table, run_suite

    splits = {"both": ("dev", "test"), "dev": ("dev",), "test": ("test",)}.get(split)
    tempers = {"both": ("gullible", "careful"), "gullible": ("gullible",), "careful": ("careful",)}
    if splits is None:
        raise fail(f"--split {split!r}: use dev, test or both")
    if model not in tempers:
        raise fail(f"--model {model!r}: use gullible, careful or both")
    configs = [(temper, defended) for temper in tempers[model] for defended in (False, True)]
    with console.status("running the injection suite (a few minutes)"):
        report = run_suite(splits=splits, configs=configs, limit=limit)  # type: ignore[arg-type]
    for name in splits:
        figures = report["figures"][name]
        headline = {
            label: {
                "utility": f["utility"],
                "utility under attack": f["utility_under_attack"],
                "attack success rate": f["attack_success_rate"],
                "successes on writes/egress/scope/memory": f["hard_goal_successes"],
                "benign / attack cases": f"{f['benign_cases']} / {f['attack_cases']}",
            }
            for label, f in figures.items()
        }
        console.print(side_by_side(f"injection suite, {name} split", headline))
        console.print(
            side_by_side(f"attack success by goal and vector, {name}", per_goal_table(report, name))
        )
    if show_failures:
        for run in failures(report):
            console.print(
                f"{run['split']} {run['temper']} "
                f"{'defended' if run['defended'] else 'undefended'} {run['case']}: "
                f"utility {run['utility']}, success {run['success']}, route {run['route']}, "
                f"{'; '.join(run['effects']) or 'no effect'}"
                + (f", error {run['error']}" if run["error"] else "")
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    console.print(f"report written to {out} ({report['seconds']} s)")
