"""``nova trace``: list, show (terminal or HTML) and attribute traced runs; ``nova eval blame``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from nova.cli import eval_langsmith
from nova.cli.apps import app, console, eval_app, fail
from nova.cli.eval_langsmith import LangSmithOption

trace_app = typer.Typer(help="Inspect traced runs and attribute failures.", no_args_is_help=True)
app.add_typer(trace_app, name="trace")

RunArgument = Annotated[str, typer.Argument(help="Run id or trace id (a unique prefix is enough).")]
RunOrThreadArgument = Annotated[
    str,
    typer.Argument(help="Run id or trace id (a unique prefix is enough), or a thread id."),
]


def nova_graph(checkpointer: Any) -> Any:
    """Compile the graph whose runs ``trace blame`` and ``failures retry`` replay."""
    from graphs.nova import default_nova_graph

    return default_nova_graph().copy(update={"checkpointer": checkpointer})


def _store() -> Any:
    from nova.tracing import TraceStore

    return TraceStore()


def _trace(run: str) -> Any:
    from nova.tracing import TraceNotFound

    try:
        return _store().get(run)
    except TraceNotFound as error:
        raise fail(str(error)) from None


def _run_or_thread(run: str) -> Any:
    # A thread id names the thread's newest run.
    from nova.tracing import TraceNotFound

    try:
        return _store().get(run)
    except TraceNotFound as error:
        newest = _store().list(thread_id=run, limit=1)
        if newest:
            return newest[0]
        raise fail(str(error)) from None


def _failures(trace: Any) -> list[Any]:
    from nova.ledger.failures import FailureLedger

    ledger = FailureLedger()
    found = {r.id: r for r in ledger.list(run_id=trace.run_id, limit=200)}
    if trace.trace_id != trace.run_id:
        found.update({r.id: r for r in ledger.list(run_id=trace.trace_id, limit=200)})
    return sorted(found.values(), key=lambda r: r.created_at)


@trace_app.command("list")
def trace_list(
    thread: Annotated[str | None, typer.Option("--thread", "-t", help="Only this thread.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Newest N.")] = 20,
) -> None:
    """List traced runs, newest first."""
    traces = _store().list(thread_id=thread, limit=limit)
    if not traces:
        console.print("No traced runs yet.", style="dim")
        return
    table = Table(title=f"{len(traces)} run(s)")
    for column in ("run", "started", "status", "ms", "thread", "agent", "request"):
        table.add_column(column, overflow="fold")
    for trace in traces:
        table.add_row(
            trace.run_id[:13],
            trace.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            trace.status,
            f"{trace.duration_ms:.0f}" if trace.duration_ms is not None else "-",
            trace.thread_id or "-",
            trace.agent or "-",
            (trace.request or "")[:60],
        )
    console.print(table)


@trace_app.command("show")
def trace_show(
    run: RunArgument,
    html: Annotated[
        Path | None, typer.Option("--html", help="Write an HTML page of the run to FILE.")
    ] = None,
) -> None:
    """Show a run as a tree (steps, timings, route, checks, failures, blamed step)."""
    from nova.tracing.report import render_html, render_tree

    trace = _trace(run)
    failures = _failures(trace)
    blame = _store().latest_blame(trace.trace_id)
    if html is not None:
        html.write_text(render_html(trace, failures, blame), encoding="utf-8")
        console.print(f"Wrote {html}")
        return
    console.print(render_tree(trace, failures, blame))


@trace_app.command("blame")
def trace_blame(
    run: RunOrThreadArgument,
    reference: Annotated[
        str | None, typer.Option(help="A run of the same request that went right, for corrections.")
    ] = None,
    resample: Annotated[
        int, typer.Option(min=0, max=5, help="Re-samples per step (uses the model).")
    ] = 0,
    turn_only: Annotated[
        bool,
        typer.Option(
            "--turn-only", help="Only this run's own steps (default: the thread up to this run)."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Name the earliest step whose output was wrong, and the steps that consumed it.

    Replays the thread from its checkpoints (every turn up to this run) with one step's
    output corrected (the route that fits the request's documents, the agent your
    feedback named, a lookup run again, a memory as stored now, a reference run's output,
    or a re-sample) and bisects for the earliest correction that makes the run pass: its
    checks, what the stores say now (read-only tools re-run, memories, the router asked
    again) and your feedback when you gave some (`nova feedback RUN bad --agent …
    --answer …`). With several faults it names the earliest step whose correction fixes
    part of the failure (first_fault); when nothing helps, it says "not attributed" with
    what it tried. Replays run on a scratch thread: your conversation is not changed.
    """
    import contextlib

    from memory.checkpoint import open_checkpointer
    from nodes.check_node import blame_inputs
    from nova.catalog import default_catalog
    from nova.ledger.feedback import FeedbackLedger
    from nova.state import NovaContext
    from nova.tracing.blame.attribution import blame
    from nova.tracing.blame.steps import load_run

    trace = _run_or_thread(run)
    if not trace.thread_id:
        raise fail(f"Run {trace.run_id} kept no thread (no checkpointer), so it cannot be replayed")
    feedback = FeedbackLedger().latest(run_id=trace.run_id)
    catalog = default_catalog()
    with contextlib.ExitStack() as stack:
        checkpointer = stack.enter_context(open_checkpointer())
        graph = nova_graph(checkpointer)
        try:
            steps = load_run(
                graph, trace.thread_id, after=trace.started_at.isoformat(), thread=not turn_only
            )
        except LookupError as error:
            raise fail(str(error)) from None
        context = NovaContext(project=trace.project)
        reference_run = None
        if reference is not None:
            ref = _trace(reference)
            if not ref.thread_id:
                raise fail(f"Reference run {ref.run_id} kept no thread")
            reference_run = load_run(graph, ref.thread_id, after=ref.started_at.isoformat())
        evaluator, correctors = blame_inputs(
            catalog,
            steps.final,
            feedback=feedback,
            context=context,
            resample=resample,
            reference=reference_run,
        )
        with console.status("[cyan]Replaying…[/]"):
            result = blame(steps, evaluator=evaluator, correctors=correctors, context=context)
    data = result.to_dict()
    _store().save_blame(trace.trace_id, data)
    if as_json:
        print(json.dumps(data, indent=2, default=str))
        return
    judged = f" and your {feedback.rating} feedback" if feedback is not None else ""
    if result.passed:
        console.print(f"Run {trace.run_id} passes its checks{judged}; nothing to blame.")
        return
    if result.blamed is None:
        console.print(f"[yellow]Not attributed.[/] {result.explanation}")
        evidence = result.evidence
        if evidence is not None:
            for check in evidence.failed_checks:
                console.print(f"  failed check: {check}")
            if evidence.suspects:
                console.print(f"  judged steps (unconfirmed): {', '.join(evidence.suspects)}")
        console.print(f"{result.replays} replay(s)", style="dim")
        return
    console.print(
        f"[bold magenta]blamed[/] {result.blamed.key} "
        f"(agent {result.blamed.agent}, {result.method}) in turn {result.blamed.turn}"
    )
    console.print(f"  {result.explanation}")
    consumers = ", ".join(c.key for c in result.consumers) or "none"
    console.print(f"[magenta]consumed by[/] {consumers}")
    console.print(
        f"{result.replays} replay(s); see it with: nova trace show {trace.run_id[:13]}",
        style="dim",
    )


@eval_app.command("blame")
def eval_blame(
    family: Annotated[
        str | None, typer.Option(help="Only scenarios of this family (--served: this label).")
    ] = None,
    served: Annotated[
        bool,
        typer.Option(
            "--served",
            help="Attribute faults on the served nova graph under three conditions "
            "(checks; checks + re-samples; checks + the owner's feedback).",
        ),
    ] = False,
    report_path: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Where to write the JSON report (default reports/blame_eval.json, "
            "or reports/blame_served_eval.json with --served).",
        ),
    ] = None,
    langsmith: LangSmithOption = False,
) -> None:
    """Attribution accuracy on the fault-injection suite (step- and agent-level).

    Without --served: the machinery test (a simplified chain, judged with a reference run).
    With --served: the real supervisor graph, judged only with what a user has.
    """
    upload = eval_langsmith.begin(langsmith, "blame-served" if served else "blame")
    if served:
        _eval_blame_served(family, report_path or Path("reports/blame_served_eval.json"), upload)
        return
    report_path = report_path or Path("reports/blame_eval.json")
    from evals.blame.scenarios import load_scenarios
    from evals.blame_eval import print_report, run_blame_eval

    scenarios = load_scenarios()
    if family is not None:
        known = sorted({s.family for s in scenarios})
        scenarios = [s for s in scenarios if s.family == family]
        if not scenarios:
            raise fail(f"No scenarios of family {family!r}; families: {', '.join(known)}")
    with console.status(f"[cyan]Attributing {len(scenarios)} scenarios…[/]"):
        report = run_blame_eval(scenarios)
    print_report(report)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    data = report.as_dict()
    report_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    console.print(f"[dim]report: {report_path}[/]")
    if upload is not None:
        from evals.blame.scenarios import DATASET
        from evals.langsmith_upload import ExampleResult

        eval_langsmith.end(
            upload,
            datasets=[DATASET],
            examples=[
                ExampleResult(
                    case_id=row["scenario"],
                    split=row["split"],
                    inputs={"scenario": row["scenario"], "family": row["family"]},
                    reference={"step": row["truth"], "agent": row["truth_agent"]},
                    outputs={"blamed": row["blamed"], "blamed_agent": row["blamed_agent"]},
                    scores={
                        "step_ok": row["step_ok"] if not row["problem"] else None,
                        "agent_ok": row["blamed_agent"] == row["truth_agent"]
                        if not row["problem"]
                        else None,
                    },
                    comment=row["problem"],
                )
                for row in data["outcomes"]
            ],
            summary=data["by_split"],
        )


def _eval_blame_served(label: str | None, report_path: Path, upload: Any = None) -> None:
    from evals.blame_served.scenarios import load_scenarios
    from evals.blame_served_eval import print_report, run_served_eval

    scenarios = load_scenarios()
    if label is not None:
        known = sorted({s.label for s in scenarios})
        scenarios = [s for s in scenarios if s.label == label]
        if not scenarios:
            raise fail(f"No scenarios labelled {label!r}; labels: {', '.join(known)}")
    with console.status(f"[cyan]Running and attributing {len(scenarios)} served scenarios…[/]"):
        report = run_served_eval(scenarios)
    print_report(report)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    data = report.as_dict()
    report_path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    console.print(f"[dim]report: {report_path}[/]")
    if upload is not None:
        from evals.blame_served.scenarios import DATASET
        from evals.langsmith_upload import ExampleResult

        examples = []
        for row in data["outcomes"]:
            if row["split"] not in ("dev", "test"):
                continue  # a test scenario removed as a near-duplicate
            scores: dict[str, float | bool | None] = {}
            for condition, attribution in row["conditions"].items():
                scorable = row["problem"] is None and row["faulty"]
                scores[f"{condition}_step_ok"] = attribution["step_ok"] if scorable else None
                scores[f"{condition}_agent_ok"] = attribution["agent_ok"] if scorable else None
                if not row["faulty"]:  # a fault-free run must never be blamed
                    scores[f"{condition}_not_blamed"] = attribution["blamed"] is None
            examples.append(
                ExampleResult(
                    case_id=row["scenario"],
                    split=row["split"],
                    inputs={"scenario": row["scenario"], "subgraph": row["subgraph"]},
                    reference={"step": row["truth"], "agent": row["truth_agent"]},
                    outputs={
                        "answer": row["answer"],
                        "blamed": {c: a["blamed"] for c, a in row["conditions"].items()},
                    },
                    scores=scores,
                    comment=row["problem"],
                )
            )
        eval_langsmith.end(
            upload, datasets=[DATASET], examples=examples, summary=data["conditions"]
        )
