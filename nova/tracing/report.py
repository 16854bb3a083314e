"""Show a traced run: a Rich tree for the terminal, and a self-contained HTML page.

Both show the steps in the order they ran with their timings, the route decision, the
assumption checks, the failures recorded for the run, and, when ``nova trace blame`` has
attributed the run, the blamed step (highlighted) and the steps that consumed its output.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from rich.text import Text
from rich.tree import Tree

from nova.ledger.failures import FailureRecord
from nova.tracing.store import TraceRecord, TraceStep

_STATUS_STYLE = {"ok": "green", "error": "bold red", "interrupted": "yellow", "running": "cyan"}


@dataclass(frozen=True, slots=True)
class Marks:
    """Which trace steps a blame result names."""

    blamed: frozenset[str]
    consumers: frozenset[str]
    blamed_key: str | None = None
    explanation: str = ""
    method: str = ""


def blame_marks(trace: TraceRecord, blame: Mapping[str, Any] | None) -> Marks:
    """Map a saved blame result onto the trace's steps (matched by LangGraph task id)."""
    if not blame or not blame.get("blamed"):
        return Marks(frozenset(), frozenset(), explanation=(blame or {}).get("explanation", ""))
    by_task: dict[str, list[str]] = {}
    for step in trace.steps:
        if step.task_id and step.meta.get("is_node"):
            by_task.setdefault(step.task_id, []).append(step.step_id)
    blamed = frozenset(by_task.get(blame["blamed"].get("task_id", ""), []))
    consumers = frozenset(
        step_id
        for ref in blame.get("consumers") or []
        for step_id in by_task.get(ref.get("task_id", ""), [])
    )
    return Marks(
        blamed,
        consumers - blamed,
        blamed_key=blame["blamed"].get("key"),
        explanation=str(blame.get("explanation", "")),
        method=str(blame.get("method", "")),
    )


def _label(step: TraceStep) -> str:
    if step.meta.get("is_node") and step.path:
        return step.path
    return step.name


def _route_line(route: Mapping[str, Any] | None) -> str:
    if not route:
        return "no route decision"
    agent = route.get("agent") or "— (clarify)"
    confidence = route.get("confidence")
    score = f"{confidence:.2f}" if isinstance(confidence, int | float) else "?"
    return f"{agent} · {route.get('subgraph') or '-'} · {route.get('method')} · confidence {score}"


def render_tree(
    trace: TraceRecord,
    failures: Sequence[FailureRecord] = (),
    blame: Mapping[str, Any] | None = None,
) -> Tree:
    """Return a Rich tree of the run: summary, route, checks, failures, then the steps."""
    marks = blame_marks(trace, blame)
    duration = f"{trace.duration_ms:.0f} ms" if trace.duration_ms is not None else "running"
    title = Text.assemble(
        ("run ", "bold"),
        (trace.run_id, "bold cyan"),
        f" · {trace.graph} · thread {trace.thread_id or '-'} · {duration} · ",
        (trace.status, _STATUS_STYLE.get(trace.status, "")),
    )
    root = Tree(title)
    if trace.request:
        root.add(Text.assemble(("request ", "bold"), trace.request))
    root.add(Text.assemble(("route ", "bold"), _route_line(trace.route)))
    if trace.agent:
        root.add(Text.assemble(("agent ", "bold"), f"{trace.agent} {trace.agent_version or ''}"))
    if trace.checks:
        checks = root.add(Text("checks", style="bold"))
        for check in trace.checks:
            ok = check.get("passed")
            checks.add(
                Text.assemble(
                    ("✓ " if ok else "✗ ", "green" if ok else "bold red"),
                    f"{check.get('name')}: {check.get('detail', '')}",
                )
            )
    if failures:
        branch = root.add(Text(f"failures ({len(failures)})", style="bold red"))
        for record in failures:
            branch.add(
                f"{record.id[:12]} {record.kind} at {record.node or '-'}: {record.message[:160]}"
            )
    if marks.blamed_key:
        root.add(
            Text.assemble(("blamed ", "bold magenta"), f"{marks.blamed_key} — {marks.explanation}")
        )
    elif blame and blame.get("method") == "not_attributed":
        root.add(Text.assemble(("blame ", "bold yellow"), marks.explanation))
    elif trace.error:
        root.add(Text.assemble(("error ", "bold red"), trace.error))
    steps = root.add(Text("steps", style="bold"))
    parents: dict[str | None, Tree] = {}
    for step in trace.steps:
        if step.depth == 0:
            parents[step.step_id] = steps
            continue
        timing = f"{step.duration_ms:.1f} ms" if step.duration_ms is not None else "…"
        style = (
            "bold magenta reverse"
            if step.step_id in marks.blamed
            else ("magenta" if step.step_id in marks.consumers else "")
        )
        label = Text.assemble(
            (_label(step), style or ("bold" if step.meta.get("is_node") else "")),
            f" {step.run_type} ",
            (timing, "dim"),
            (f" {step.status}", _STATUS_STYLE.get(step.status, "")) if step.status != "ok" else "",
            (f"  {step.error}", "red") if step.error else "",
            ("  ← blamed", "bold magenta") if step.step_id in marks.blamed else "",
            ("  ← consumed it", "magenta") if step.step_id in marks.consumers else "",
        )
        parent = parents.get(step.parent_id, steps)
        parents[step.step_id] = parent.add(label)
    if trace.answer:
        root.add(Text.assemble(("answer ", "bold"), trace.answer[:1000]))
    return root


def render_html(
    trace: TraceRecord,
    failures: Sequence[FailureRecord] = (),
    blame: Mapping[str, Any] | None = None,
) -> str:
    """Return a self-contained HTML page of the run (no external assets, no network)."""
    marks = blame_marks(trace, blame)
    visible = [s for s in trace.steps if s.depth > 0]
    start = trace.started_at
    total = max(trace.duration_ms or 0.0, 1e-3)
    rows = []
    for step in visible:
        offset = (step.started_at - start).total_seconds() * 1000.0
        duration = step.duration_ms or 0.0
        rows.append(
            {
                "key": step.path if step.meta.get("is_node") else step.name,
                "label": _label(step),
                "node": step.node,
                "position": step.position,
                "depth": step.depth - 1,
                "run_type": step.run_type,
                "status": step.status,
                "duration_ms": duration,
                "left": round(max(0.0, min(100.0, offset / total * 100)), 3),
                "width": round(max(0.2, min(100.0, duration / total * 100)), 3),
                "blamed": step.step_id in marks.blamed,
                "consumer": step.step_id in marks.consumers,
            }
        )
    environment = Environment(
        loader=PackageLoader("nova.tracing", "."),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    return environment.get_template("report.html.j2").render(
        trace=trace, failures=failures, marks=marks, steps=rows, route_line=_route_line(trace.route)
    )


def blame_json(result: Mapping[str, Any]) -> str:
    """Return a blame result as indented JSON."""
    return json.dumps(result, indent=2, default=str)
