"""``nova review-code``: ruff, mypy, covering tests and hot spots; a model review and patch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table

from nova.cli.apps import app, console, fail

if TYPE_CHECKING:
    from nova.review import ReviewReport

_STATUS_STYLE = {"passed": "green", "skipped": "dim", "problems": "red", "error": "red"}


@app.command("review-code")
def review_code_command(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[PATHS]...", help="Files or folders to review (default: the diff)."
        ),
    ] = None,
    diff: Annotated[
        str | None,
        typer.Option(
            "--diff", metavar="REF", help="Review what changed since REF (default: uncommitted)."
        ),
    ] = None,
    repo: Annotated[
        Path | None, typer.Option(help="The checkout (default: the one you are in).")
    ] = None,
    no_model: Annotated[
        bool, typer.Option("--no-model", help="Only the deterministic part.")
    ] = False,
    no_tests: Annotated[bool, typer.Option("--no-tests", help="Do not run the tests.")] = False,
    test_timeout: Annotated[
        float, typer.Option(min=10, help="Seconds the covering tests may take.")
    ] = 900.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Review Nova's own code: `nova review-code nova/cli --diff main`.

    Runs ruff, mypy and the tests that cover the files, and reads the failure ledger for the
    files that fail most. With a model configured, the code_reviewer agent writes a review
    and, where it finds a fix, a patch — tried in a scratch git worktree, never in your
    checkout, and offered as a branch only when the linters and tests pass there. Exits 1
    when a tool found a problem.
    """
    from nova.review import ReviewRequest, ReviewScopeError, review_code

    request = ReviewRequest(
        paths=tuple(paths or ()),
        diff_ref=diff,
        repo=repo,
        use_model=not no_model,
        run_tests=not no_tests,
        test_timeout_s=test_timeout,
    )
    try:
        if as_json:
            report = review_code(request)
        else:
            with console.status("Reviewing…") as status:
                report = review_code(
                    request, progress=lambda step: status.update(f"Reviewing: {step}…")
                )
    except ReviewScopeError as error:
        raise fail(str(error)) from None
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        _print(report)
    if report.problems:
        raise typer.Exit(1)


def _print(report: ReviewReport) -> None:
    scope = f"changes against {report.diff_ref}" if report.diff_ref else "the named files"
    console.print(f"Reviewed {len(report.files)} file(s) in {report.root} ({scope}).")
    tools = Table(title="Deterministic checks")
    for column in ("check", "status", "summary", "seconds"):
        tools.add_column(column)
    for result in report.results:
        style = _STATUS_STYLE[result.status]
        tools.add_row(
            result.tool, f"[{style}]{result.status}[/]", result.summary, f"{result.duration_s:.1f}"
        )
    console.print(tools)
    findings = [(result.tool, item) for result in report.results for item in result.findings]
    if findings:
        table = Table(
            title=f"{len(findings)} finding(s)" + (" (first 40)" if len(findings) > 40 else "")
        )
        for column in ("tool", "where", "code", "message"):
            table.add_column(column, overflow="fold")
        for tool, item in findings[:40]:
            table.add_row(tool, f"{item.file}:{item.line or '?'}", item.code, item.message)
        console.print(table)
    if report.hot_spots:
        spots = Table(title="Failure ledger hot spots (last 30 days)")
        for column in ("file", "failures", "kinds", "latest", "examples"):
            spots.add_column(column, overflow="fold")
        for spot in report.hot_spots:
            spots.add_row(
                spot.file,
                str(spot.failures),
                ", ".join(f"{kind} ×{count}" for kind, count in spot.kinds.items()),
                spot.latest.strftime("%Y-%m-%d %H:%M"),
                "\n".join(spot.examples),
            )
        console.print(spots)
    else:
        console.print("No recorded failure points at these files.", style="dim")
    if report.review:
        console.print(
            Panel(Markdown(report.review), title=f"Review by {report.model or 'the model'}")
        )
    elif report.model_note:
        console.print(report.model_note, style="yellow")
    patch = report.patch
    if patch is not None:
        if patch.status == "offered":
            console.print(
                Panel(
                    f"{patch.reason}.\nMerge: [bold]git merge {patch.branch}[/]\n"
                    f"Or apply to your working tree: [bold]git apply {patch.patch_file}[/]\n"
                    f"Files: {', '.join(patch.changed_files)}",
                    title="Proposed fix (your checkout is unchanged)",
                    border_style="green",
                )
            )
        else:
            console.print(
                f"The reviewer's patch was not kept ({patch.status.replace('_', ' ')}): "
                f"{patch.reason}",
                style="yellow",
            )
    console.print(f"Report: {report.saved_to}", style="dim", soft_wrap=True)
