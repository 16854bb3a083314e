"""Pipeline commands: ``nova pipeline list|show|run|resume|schedule``, and two evals.

``nova pipeline run NAME`` runs a pipeline locally with a live table of its steps; with
``--every CRON`` it runs on that schedule (croniter) until stopped. Runs are checkpointed
in Nova's checkpoint database, so a failed or paused run resumes with ``--thread``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.live import Live
from rich.markdown import Markdown
from rich.panel import Panel
from rich.table import Table

from nova.cli import eval_langsmith
from nova.cli.apps import app, ask_approval, console, eval_app, fail
from nova.cli.eval_langsmith import LangSmithOption

if TYPE_CHECKING:
    from graphs.pipeline import PipelineRun, PipelineRunner
    from nova.pipelines import PipelineSpec

pipeline_app = typer.Typer(help="List, run and schedule pipelines.", no_args_is_help=True)
app.add_typer(pipeline_app, name="pipeline")

_STATUS_STYLE = {
    "pending": "dim",
    "mapping": "cyan",
    "ok": "green",
    "skipped": "yellow",
    "cancelled": "yellow",
    "failed": "bold red",
}


def _runner(checkpointer: Any = None) -> PipelineRunner:
    from graphs.pipeline import PipelineRunner
    from nova.pipelines import PipelineError

    try:
        return PipelineRunner(checkpointer=checkpointer)
    except PipelineError as error:
        raise fail(str(error)) from None


def _spec_or_exit(runner: PipelineRunner, name: str) -> PipelineSpec:
    if name in runner.pipelines:
        return runner.pipelines[name]
    from rapidfuzz import process

    close = [match for match, _, _ in process.extract(name, runner.pipelines.names, limit=3)]
    raise fail(f"No pipeline named {name!r}. Did you mean: {', '.join(close)}?")


def parse_params(values: list[str]) -> dict[str, Any]:
    """Turn ``key=value`` options into parameters (JSON where it parses: ``n=3``, ``l=["de"]``).

    A comma-separated value for a list parameter is split by ``nova pipeline run``.

    Raises:
        typer.BadParameter: an option is not ``key=value``.

    """
    params: dict[str, Any] = {}
    for value in values:
        key, sep, raw = value.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{value!r}: use key=value, e.g. --param min_days_overdue=30")
        try:
            params[key.strip()] = json.loads(raw)
        except ValueError:
            params[key.strip()] = raw
    return params


def _list_values(spec: PipelineSpec, params: dict[str, Any]) -> dict[str, Any]:
    for name, value in params.items():
        param = spec.params.get(name)
        if param is not None and param.type == "list" and isinstance(value, str):
            params[name] = [part.strip() for part in value.split(",") if part.strip()]
        elif param is not None and param.type == "string" and not isinstance(value, str):
            params[name] = json.dumps(value) if isinstance(value, list | dict) else str(value)
    return params


@pipeline_app.command("list")
def pipeline_list() -> None:
    """List the pipelines with their agents, parameters and steps."""
    runner = _runner()
    table = Table(title=f"{len(runner.pipelines)} pipelines")
    for column in ("name", "version", "agent", "steps", "params", "description"):
        table.add_column(column, overflow="fold", no_wrap=column == "name")
    for spec in runner.pipelines:
        params = ", ".join(
            f"{n}={p.default!r}" if p.default is not None else n for n, p in spec.params.items()
        )
        table.add_row(
            spec.name,
            spec.version,
            spec.agent or "—",
            str(len(spec.steps)),
            params or "—",
            spec.description,
        )
    console.print(table)


@pipeline_app.command("show")
def pipeline_show(name: Annotated[str, typer.Argument(help="Pipeline name.")]) -> None:
    """Show one pipeline: parameters and steps with their targets, inputs and policies."""
    runner = _runner()
    spec = _spec_or_exit(runner, name)
    console.print(
        Panel(
            spec.description,
            title=f"{spec.version_label} · agent {spec.agent or '—'}",
            expand=False,
        )
    )
    console.print(f"[bold]file[/] {runner.pipelines.sources[name]}")
    if spec.params:
        from nodes.request_params import fields_from_pipeline

        params = Table(title="parameters")
        for column in ("name", "type", "default", "from a request", "description"):
            params.add_column(column, overflow="fold")
        for item in fields_from_pipeline(spec):
            param = spec.params[item.name]
            read = param.from_request or ("typed (no model)" if item.typed else "by the model")
            params.add_row(item.name, param.type, repr(param.default), read, param.description)
        console.print(params)
    steps = Table(title="steps")
    for column in (
        "step",
        "target",
        "inputs",
        "when / for_each",
        "retry",
        "deadline",
        "on failure",
    ):
        steps.add_column(column, overflow="fold")
    for step in spec.steps:
        inputs = ", ".join(
            f"{n}←{r.step}{'?' if r.optional else ''}" for n, r in step.input_refs.items()
        )
        flow = " / ".join(part for part in (step.when or "", step.for_each or "") if part)
        steps.add_row(
            step.id,
            step.target,
            inputs or "—",
            flow or "—",
            str(step.retry.attempts),
            f"{step.deadline_s:g} s",
            step.on_failure,
        )
    console.print(steps)


class StepBoard:
    """A live table of a pipeline's steps, updated from the run's stream of node updates."""

    def __init__(self, spec: PipelineSpec) -> None:
        self.spec = spec
        self.rows: dict[str, dict[str, Any]] = {
            step.id: {"status": "pending", "detail": step.target, "done": 0, "items": None}
            for step in spec.steps
        }
        self.started = time.monotonic()
        self.params = ""
        """``name=value (source)`` of the run's parameters, once ``start`` has fixed them."""

    def update(self, node: str, update: Mapping[str, Any]) -> None:
        """Record what a finished node wrote (parameters, step records and element records)."""
        from nodes.pipeline_params import describe_params

        run = update.get("run")
        if isinstance(run, Mapping) and run.get("param_sources"):
            self.params = describe_params(run["params"], run["param_sources"])
        for step_id, record in (update.get("steps") or {}).items():
            if record is None or step_id not in self.rows:
                continue
            row = self.rows[step_id]
            row["status"] = record["status"]
            row["items"] = record.get("items", row["items"])
            note = record.get("note") or ""
            timing = f"{record['duration_ms']:.0f} ms" if record.get("duration_ms") else ""
            tries = f"{record['attempts']} tries" if record.get("attempts", 0) > 1 else ""
            row["detail"] = (
                " · ".join(part for part in (timing, tries, note[:120]) if part) or row["detail"]
            )
        for key, record in (update.get("items") or {}).items():
            step_id = key.split("#", 1)[0]
            if record is not None and step_id in self.rows:
                self.rows[step_id]["done"] += 1

    def render(self) -> Table:
        """Return the table as it stands."""
        elapsed = time.monotonic() - self.started
        table = Table(
            title=f"{self.spec.name} {self.spec.version} · {elapsed:.1f} s",
            caption=f"parameters: {self.params}" if self.params else None,
            expand=False,
        )
        for column in ("step", "status", "progress", "detail"):
            table.add_column(column, overflow="fold")
        for step_id, row in self.rows.items():
            status = row["status"]
            progress = f"{row['done']}/{row['items']}" if row["items"] is not None else ""
            table.add_row(
                step_id, f"[{_STATUS_STYLE.get(status, '')}]{status}[/]", progress, row["detail"]
            )
        return table


def run_with_board(
    runner: PipelineRunner,
    spec: PipelineSpec,
    *,
    params: dict[str, Any],
    project: str | None,
    thread: str | None,
    decision: dict[str, Any] | None = None,
    interactive: bool,
    live: bool,
    request: str = "",
) -> PipelineRun:
    """Run (or resume) a pipeline with a live step table, asking for approvals when interactive.

    The table's caption shows the parameters (with their sources) as soon as they are fixed,
    before any step runs.
    """
    board = StepBoard(spec)
    while True:
        if live:
            with Live(
                board.render(), console=console, refresh_per_second=8, transient=False
            ) as view:

                def on_event(node: str, update: Mapping[str, Any]) -> None:
                    board.update(node, update)
                    view.update(board.render())

                run = runner.run(
                    spec.name,
                    params=params,
                    project=project,
                    request=request,
                    thread_id=thread,
                    decision=decision,
                    on_event=on_event,
                )
        else:
            run = runner.run(
                spec.name,
                params=params,
                project=project,
                request=request,
                thread_id=thread,
                decision=decision,
                on_event=board.update,
            )
        thread = run.thread_id
        if not run.waiting:
            return run
        decision = ask_approval(run.interrupts[0], interactive=interactive)
        if decision is None:
            return run


def _show(run: PipelineRun, *, as_json: bool) -> int:
    if run.waiting:
        console.print(
            "Paused for approval. Resume with: "
            f"[bold]nova pipeline resume {run.pipeline} --thread {run.thread_id} --approve[/] "
            "(or --reject)"
        )
        return 3
    result = run.result
    if result is None:
        console.print(f"[red]The run ended without a result[/] (thread {run.thread_id})")
        return 1
    if as_json:
        print(
            json.dumps(
                {"thread": run.thread_id, **result}, indent=2, default=str, ensure_ascii=False
            )
        )
    else:
        console.print(
            Panel(
                Markdown(result["text"]),
                title=f"{result['pipeline']} · {result['status']}",
                expand=False,
            )
        )
        console.print(
            f"thread {run.thread_id} · run {result['run_id']} · {result['duration_ms']:.0f} ms",
            style="dim",
        )
    return 1 if result["status"] == "failed" else 0


def schedule_loop(
    schedule: str,
    run_once: Callable[[], int],
    *,
    times: int | None = None,
    now: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    announce: Callable[[datetime], None] | None = None,
) -> int:
    """Run ``run_once`` at each firing of cron ``schedule`` (local time), ``times`` times or ever.

    Returns the exit code of the last run.
    """
    from croniter import croniter

    clock = now or (lambda: datetime.now().astimezone())
    iterator = croniter(schedule, clock())
    code, runs = 0, 0
    while times is None or runs < times:
        fire_at: datetime = iterator.get_next(datetime)
        if announce is not None:
            announce(fire_at)
        while (wait := (fire_at - clock()).total_seconds()) > 0:
            sleep(min(wait, 60.0))  # re-check the clock: a suspended laptop wakes up late
        code = run_once()
        runs += 1
    return code


@pipeline_app.command("run")
def pipeline_run(
    name: Annotated[str, typer.Argument(help="Pipeline name (see nova pipeline list).")],
    project: Annotated[str | None, typer.Option("--project", "-p", help="Project scope.")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Parameter key=value (repeatable).")
    ] = None,
    request: Annotated[str, typer.Option(help="Request text, for parameters read from it.")] = "",
    every: Annotated[
        str | None,
        typer.Option(
            "--every",
            help="Run on this cron schedule, e.g. '0 7 * * 1-5'; 'scheduled': the pipeline's own.",
        ),
    ] = None,
    times: Annotated[
        int | None, typer.Option(help="With --every: stop after this many runs.")
    ] = None,
    thread: Annotated[
        str | None,
        typer.Option("--thread", "-t", help="Resume this thread (a failed or paused run)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    background: Annotated[
        bool,
        typer.Option(
            "--background", help="Detach: run (or keep the schedule) in a background process."
        ),
    ] = False,
) -> None:
    """Run a pipeline now, or on a schedule with --every; --background detaches it."""
    import contextlib

    from graphs.pipeline import check_schedule
    from memory.checkpoint import open_checkpointer
    from nova.pipelines import ParamsError, validate_params

    params = parse_params(param or [])
    interactive = sys.stdin.isatty() and not as_json and not background
    with contextlib.ExitStack() as stack:
        runner = _runner(stack.enter_context(open_checkpointer()))
        spec = _spec_or_exit(runner, name)
        params = _list_values(spec, params)
        try:
            validate_params(spec, params)
        except ParamsError as error:
            raise fail(str(error)) from None
        if every == "scheduled":
            if spec.schedule is None:
                raise fail(f"Pipeline {name} has no schedule of its own; give --every CRON")
            every = spec.schedule
        if every is not None:
            try:
                check_schedule(every)
            except ValueError as error:
                raise fail(str(error)) from None
        if background:
            raise typer.Exit(_detach(name, thread, every))

        def once(thread_id: str | None = thread) -> int:
            run = run_with_board(
                runner,
                spec,
                params=params,
                project=project,
                thread=thread_id,
                interactive=interactive,
                live=console.is_terminal and not as_json,
                request=request,
            )
            return _show(run, as_json=as_json)

        if every is None:
            raise typer.Exit(once())
        console.print(f"Running {name} on schedule '{every}' (Ctrl-C to stop)")
        try:
            code = schedule_loop(
                every,
                lambda: once(None),
                times=times,
                announce=lambda at: console.print(f"next run at {at:%Y-%m-%d %H:%M}", style="dim"),
            )
        except KeyboardInterrupt:
            console.print("stopped")
            code = 0
        raise typer.Exit(code)


def _detach(name: str, thread: str | None, every: str | None) -> int:
    """Start this same command again as a detached process; print how to follow it."""
    import subprocess
    import uuid

    from nova.settings import get_settings

    thread = thread or (None if every else f"pipeline-{name}-{uuid.uuid4().hex[:12]}")
    args = [a for a in sys.argv[1:] if a != "--background"]
    if thread and "--thread" not in args and "-t" not in args:
        args += ["--thread", thread]
    logs = get_settings().data_dir / "pipeline-logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}-{datetime.now().astimezone():%Y%m%d-%H%M%S}.log"
    with log.open("ab") as out:
        child = subprocess.Popen(
            [sys.executable, "-c", "from nova.cli import main; main()", *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the terminal closing
        )
    console.print(f"Started {name} in the background: pid {child.pid}, log {log}")
    if thread:
        console.print(f"Follow it with: nova pipeline status {name} --thread {thread}")
    return 0


@pipeline_app.command("status")
def pipeline_status(
    name: Annotated[str, typer.Argument(help="Pipeline name.")],
    thread: Annotated[str, typer.Option("--thread", "-t", help="Thread of the run.")],
) -> None:
    """Show where a run stands: each step's status, pending approvals, the result."""
    import contextlib

    from memory.checkpoint import open_checkpointer

    with contextlib.ExitStack() as stack:
        runner = _runner(stack.enter_context(open_checkpointer()))
        spec = _spec_or_exit(runner, name)
        state = runner.graph(name).get_state({"configurable": {"thread_id": thread}})
        if not state.values:
            raise fail(f"Thread {thread!r} has no run of pipeline {name!r} (yet)")
        board = StepBoard(spec)
        board.update(
            "status",
            {"steps": state.values.get("steps") or {}, "items": state.values.get("items") or {}},
        )
        console.print(board.render())
        run = state.values.get("run") or {}
        if run.get("param_sources"):
            from nodes.pipeline_params import describe_params

            console.print(f"parameters: {describe_params(run['params'], run['param_sources'])}")
        waiting = [item.value for task in state.tasks for item in task.interrupts]
        if waiting:
            console.print(
                f"waiting for {len(waiting)} approval(s): "
                f"nova pipeline resume {name} --thread {thread} --approve"
            )
        elif state.next:
            console.print(f"running (or stopped before): next {list(state.next)}")
        console.print(
            f"run {run.get('run_id', '?')} · attempt {run.get('attempt', '?')} · "
            f"{run.get('status', '?')}",
            style="dim",
        )


@pipeline_app.command("resume")
def pipeline_resume(
    name: Annotated[str, typer.Argument(help="Pipeline name.")],
    thread: Annotated[
        str, typer.Option("--thread", "-t", help="Thread of the paused or failed run.")
    ],
    approve: Annotated[
        bool | None, typer.Option("--approve/--reject", help="Answer the pending approval.")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why (recorded with a rejection).")] = "",
    approver: Annotated[str | None, typer.Option(help="Who approves (default $USER).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Resume a run: answer its pending approval, or retry it after a failure."""
    import contextlib

    from memory.checkpoint import open_checkpointer

    with contextlib.ExitStack() as stack:
        runner = _runner(stack.enter_context(open_checkpointer()))
        spec = _spec_or_exit(runner, name)
        graph = runner.graph(name)
        state = graph.get_state({"configurable": {"thread_id": thread}})
        if not state.values:
            raise fail(f"Thread {thread!r} has no run of pipeline {name!r}")
        waiting = any(task.interrupts for task in state.tasks)
        decision = None
        if waiting:
            if approve is None:
                raise fail("This run waits for an approval: pass --approve or --reject")
            decision = {
                "approved": approve,
                "approver": approver or os.environ.get("USER") or "cli-user",
                "reason": reason,
            }
        params = dict((state.values.get("run") or {}).get("params") or {})
        run = run_with_board(
            runner,
            spec,
            params=params,
            project=None,
            thread=thread,
            decision=decision,
            interactive=sys.stdin.isatty() and not as_json,
            live=console.is_terminal and not as_json,
        )
        raise typer.Exit(_show(run, as_json=as_json))


@pipeline_app.command("schedule")
def pipeline_schedule(
    name: Annotated[str, typer.Argument(help="Pipeline name.")],
    cron: Annotated[str, typer.Argument(help="Cron schedule, e.g. '0 7 * * 1-5'.")],
    url: Annotated[str, typer.Option(help="LangGraph server URL.")] = "http://127.0.0.1:2024",
    project: Annotated[
        str | None, typer.Option("--project", "-p", help="Project scope of the runs.")
    ] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA time zone of the schedule.")] = None,
) -> None:
    """Schedule a pipeline on a LangGraph server (a server cron on the nova graph)."""
    import asyncio

    from langgraph_sdk import get_client

    from graphs.pipeline import create_pipeline_cron

    runner = _runner()
    spec = _spec_or_exit(runner, name)
    try:
        cron_run = asyncio.run(
            create_pipeline_cron(
                get_client(url=url), spec, cron, project=project, timezone=timezone
            )
        )
    except ValueError as error:
        raise fail(str(error)) from None
    console.print_json(json.dumps(cron_run, default=str))


@eval_app.command("translation")
def eval_translation(
    limit: Annotated[
        int | None, typer.Option(help="Only the first N preservation segments.")
    ] = None,
    every: Annotated[
        int, typer.Option(help="Careless translations of every N-th template only.")
    ] = 1,
    misses: Annotated[
        str, typer.Option(help="Which split's misses to list: dev (what tuning sees) or test.")
    ] = "dev",
    report_path: Annotated[
        Path | None, typer.Option("--report", help="Also write the JSON report to this file.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    langsmith: LangSmithOption = False,
) -> None:
    """Score the translation checks on careless translations (dev/test) and span preservation."""
    from evals.translation_eval import (
        RIGHT_CHECK,
        print_fault_report,
        print_report,
        run_fault_eval,
        run_translation_eval,
    )

    upload = eval_langsmith.begin(langsmith, "translation")
    faults = run_fault_eval(every=every)
    report = run_translation_eval(limit=limit)
    data = {"careless_translations": faults.as_dict(), "preservation": report.as_dict()}
    if report_path is not None:
        report_path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    if as_json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print_fault_report(faults, console, misses=misses)
        print_report(report, console)
    if upload is not None:
        from evals.langsmith_upload import ExampleResult

        eval_langsmith.end(
            upload,
            datasets=[faults.path],
            examples=[
                ExampleResult(
                    case_id=result.case.id,
                    split=which,
                    inputs=result.case.model_dump(
                        mode="json",
                        include={
                            "project",
                            "source_language",
                            "target",
                            "source",
                            "translation",
                            "glossary",
                        },
                    ),
                    reference={
                        "fault": result.case.fault,
                        "detail": result.case.detail,
                        "reference": result.case.reference,
                        "responsible_check": RIGHT_CHECK.get(result.case.fault),
                    },
                    outputs={"flagged": result.flagged},
                    scores={
                        # A faulty translation: did its check catch it? A clean one: false alarm?
                        "caught": result.caught if result.case.fault != "clean" else None,
                        "false_alarm": bool(result.flagged)
                        if result.case.fault == "clean"
                        else None,
                    },
                )
                for which in ("dev", "test")
                for result in faults.split.of(which)
            ],
            summary={which: faults.figures(which) for which in ("dev", "test")},
        )
    raise typer.Exit(0 if report.ok else 1)


@eval_app.command("pipelines")
def eval_pipelines(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    langsmith: LangSmithOption = False,
) -> None:
    """Run the pipeline scenarios (statuses, failures, outputs, resumption) and report each."""
    from evals.pipeline_eval import DATASET, print_report, run_pipeline_eval

    upload = eval_langsmith.begin(langsmith, "pipelines")
    report = run_pipeline_eval()
    if as_json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print_report(report, console)
    if upload is not None:
        from evals.discipline import split_of
        from evals.langsmith_upload import ExampleResult

        eval_langsmith.end(
            upload,
            datasets=[DATASET],
            examples=[
                ExampleResult(
                    case_id=result.name,
                    split=split_of(result.name),
                    inputs={"scenario": result.name, "pipeline": result.pipeline},
                    reference={"passes": True},
                    outputs={"status": result.status, "problems": result.problems},
                    scores={"passed": result.passed},
                    comment="; ".join(result.problems) or None,
                )
                for result in report.results
            ],
            summary={"passed": sum(r.passed for r in report.results), "of": len(report.results)},
        )
    raise typer.Exit(0 if report.ok else 1)
