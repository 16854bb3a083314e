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

from jinja2 import Environment, select_autoescape
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
        step_id for ref in blame.get("consumers") or [] for step_id in by_task.get(ref.get("task_id", ""), [])
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
    trace: TraceRecord, failures: Sequence[FailureRecord] = (), blame: Mapping[str, Any] | None = None
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
            branch.add(f"{record.id[:12]} {record.kind} at {record.node or '-'}: {record.message[:160]}")
    if marks.blamed_key:
        root.add(
            Text.assemble(("blamed ", "bold magenta"), f"{marks.blamed_key} — {marks.explanation}")
        )
    elif trace.error:
        root.add(Text.assemble(("error ", "bold red"), trace.error))
    steps = root.add(Text("steps", style="bold"))
    parents: dict[str | None, Tree] = {}
    for step in trace.steps:
        if step.depth == 0:
            parents[step.step_id] = steps
            continue
        timing = f"{step.duration_ms:.1f} ms" if step.duration_ms is not None else "…"
        style = "bold magenta reverse" if step.step_id in marks.blamed else (
            "magenta" if step.step_id in marks.consumers else ""
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


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Nova run {{ trace.run_id }}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2330; }
h1 { font-size: 18px; margin: 0 0 8px; }
.meta, .box { margin: 6px 0 14px; }
.box { border: 1px solid #d5dae3; border-radius: 6px; padding: 8px 12px; }
.status-ok { color: #17803d; } .status-error { color: #c0262d; } .status-interrupted { color: #a16207; }
table.steps { border-collapse: collapse; width: 100%; }
table.steps td { padding: 3px 6px; border-bottom: 1px solid #eef0f4; vertical-align: middle; }
td.name { white-space: nowrap; }
td.timeline { width: 45%; }
.track { position: relative; height: 12px; background: #f3f5f9; }
.bar { position: absolute; top: 0; height: 12px; background: #5b7cfa; min-width: 2px; }
tr.step-error .bar { background: #c0262d; }
tr.blamed { background: rgb(255, 221, 0); font-weight: bold; }
tr.blamed .bar { background: rgb(200, 0, 120); }
tr.consumer { background: rgb(255, 244, 200); }
.check-failed { color: #c0262d; } .check-passed { color: #17803d; }
.tag { font-size: 12px; color: #5b6475; }
</style></head>
<body data-run="{{ trace.run_id }}" data-steps="{{ steps|length }}">
<h1>Nova run <code>{{ trace.run_id }}</code></h1>
<div class="meta">graph <b>{{ trace.graph }}</b> · thread <code>{{ trace.thread_id or "-" }}</code>
 · project <b>{{ trace.project or "-" }}</b> · {{ "%.1f"|format(trace.duration_ms or 0) }} ms
 · <span class="status-{{ trace.status }}" id="run-status">{{ trace.status }}</span></div>
{% if trace.request %}<div class="box" id="request"><b>Request</b> {{ trace.request }}</div>{% endif %}
<div class="box" id="route" data-agent="{{ (trace.route or {}).get('agent') or '' }}"><b>Route decision</b>
{{ route_line }}{% if trace.route and trace.route.get('candidates') %}<div class="tag">candidates:
{% for c in trace.route['candidates'] %}{{ c.agent }} {{ "%.2f"|format(c.score) }}{% if not loop.last %}, {% endif %}{% endfor %}</div>{% endif %}
{% if trace.route and trace.route.get('reason') %}<div class="tag">{{ trace.route['reason'] }}</div>{% endif %}</div>
{% if trace.agent %}<div class="box" id="agent"><b>Agent</b> {{ trace.agent }} <code>{{ trace.agent_version or "" }}</code></div>{% endif %}
{% if marks.blamed_key %}<div class="box" id="blame" data-blamed="{{ marks.blamed_key }}"><b>Blamed step</b>
<code>{{ marks.blamed_key }}</code> ({{ marks.method }}) — {{ marks.explanation }}</div>{% endif %}
{% if trace.checks %}<div class="box" id="checks"><b>Checks</b><ul>{% for c in trace.checks %}
<li class="check-{{ 'passed' if c.get('passed') else 'failed' }}">{{ c.get('name') }}: {{ c.get('detail', '') }}</li>{% endfor %}</ul></div>{% endif %}
{% if failures %}<div class="box" id="failures"><b>Failures</b><ul>{% for f in failures %}
<li data-failure="{{ f.id }}"><code>{{ f.id[:12] }}</code> {{ f.kind }} at {{ f.node or "-" }}: {{ f.message }}</li>{% endfor %}</ul></div>{% endif %}
<table class="steps" id="steps">
{% for row in steps %}<tr class="step step-{{ row.status }}{% if row.blamed %} blamed{% endif %}{% if row.consumer %} consumer{% endif %}"
 data-key="{{ row.key }}" data-node="{{ row.node or '' }}" data-position="{{ row.position }}">
<td class="name" style="padding-left: {{ 6 + row.depth * 14 }}px">{{ row.label }}{% if row.blamed %} ← blamed{% endif %}{% if row.consumer %} ← consumed it{% endif %}</td>
<td class="tag">{{ row.run_type }}</td><td class="tag">{{ "%.1f"|format(row.duration_ms) }} ms</td>
<td class="timeline"><div class="track"><div class="bar" style="left: {{ row.left }}%; width: {{ row.width }}%"></div></div></td></tr>
{% endfor %}</table>
{% if trace.answer %}<div class="box" id="answer"><b>Answer</b><pre>{{ trace.answer }}</pre></div>{% endif %}
<script>
// Measured by the browser, so a headless check sees the page as laid out, not as written.
for (const row of document.querySelectorAll("tr.step")) {
  const bar = row.querySelector(".bar");
  row.dataset.barPx = Math.round(bar.getBoundingClientRect().width);
  row.dataset.background = getComputedStyle(row).backgroundColor;
}
document.body.dataset.rendered = "yes";
</script>
</body></html>
"""


def render_html(
    trace: TraceRecord, failures: Sequence[FailureRecord] = (), blame: Mapping[str, Any] | None = None
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
    environment = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    return environment.from_string(_TEMPLATE).render(
        trace=trace, failures=failures, marks=marks, steps=rows, route_line=_route_line(trace.route)
    )


def blame_json(result: Mapping[str, Any]) -> str:
    """Return a blame result as indented JSON."""
    return json.dumps(result, indent=2, default=str)
