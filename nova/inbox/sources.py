"""Nova's own inbox sources: approvals, open failures, stalled pipelines, unanswered questions.

Each reads its store with one or two queries (``nova.inbox.checkpoints`` for threads, the
ledgers' own methods for failures and routing decisions), so the inbox stays fast with
thousands of threads and ledger rows (``python -m evals.bench_inbox``).
"""

from __future__ import annotations

import functools
import json
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import JsonValue

from nova.inbox.checkpoints import (
    latest_values,
    pending_interrupts,
    pipeline_threads,
    waiting_threads,
)
from nova.inbox.model import Action, InboxItem, InboxScope
from nova.inbox.registry import SourceResult, inbox_source


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _in_scope(scope: InboxScope, thread_id: str | None) -> bool:
    if scope.thread_ids is None:
        return True
    return thread_id is not None and thread_id in scope.thread_ids


def approval_title(value: Any) -> str:
    """Return one line saying what an interrupt asks the owner to approve."""
    if isinstance(value, dict):
        change = value.get("change")
        if isinstance(change, dict) and change.get("summary"):
            return str(change["summary"])
        if value.get("type") == "pipeline_params_approval":
            return f"Run {value.get('pipeline', 'the pipeline')} with the parameters shown"
        if value.get("summary"):
            return str(value["summary"])
    return "A run is paused, waiting for your answer"


def approval_actions(thread_id: str, pipeline: str | None) -> dict[Action, list[str]]:
    """Return the approve/reject commands for a paused thread (a pipeline's or the supervisor's)."""
    base = (
        ["pipeline", "resume", pipeline, "--thread", thread_id]
        if pipeline
        else ["resume", "--thread", thread_id]
    )
    return {
        "approve": [*base, "--approve"],
        "reject": [*base, "--reject", "--reason", "<reason>"],
    }


@inbox_source("approvals", "writes and pipeline runs paused for your approval")
def local_approvals(scope: InboxScope) -> SourceResult:
    """List the interrupts at the latest checkpoint of the local checkpointer's threads."""
    if not scope.include_local_threads:
        return [], 0
    pending = [
        p
        for p in pending_interrupts(scope.settings.resolved_checkpoint_url)
        if _in_scope(scope, p.thread_id)
    ]
    items = [
        InboxItem(
            id=f"approval:{p.thread_id}:{p.interrupt_id or p.checkpoint_id}",
            kind="approval",
            created_at=p.created_at,
            title=approval_title(p.value),
            detail={
                "request": _jsonable(p.value),
                "pipeline": p.pipeline,
                "interrupt_id": p.interrupt_id,
            },
            actions=approval_actions(p.thread_id, p.pipeline),
            thread_id=p.thread_id,
        )
        for p in pending[: scope.limit]
    ]
    return items, len(pending)


@inbox_source("failures", "failures not yet retried or dismissed")
def open_failures(scope: InboxScope) -> SourceResult:
    """List the failure ledger's open records (one query for the items, one for the count)."""
    from nova.ledger.failures import FailureLedger

    ledger = FailureLedger(scope.settings.resolved_ledger_url)
    records, total = ledger.open_failures(thread_ids=scope.thread_ids, limit=scope.limit)
    # One run can fail the same way many times (a for-each step failing on each of its 44
    # elements): that is one thing to decide, so it is one item, with the count.
    groups: dict[tuple[str, ...], list[Any]] = {}
    for record in records:
        key = (
            (record.run_id, record.node or "", record.kind, record.error_type)
            if record.run_id
            else (record.id,)
        )
        groups.setdefault(key, []).append(record)
    items = []
    for group in groups.values():
        record = group[0]  # the newest: records come newest first
        short = record.id[:12]
        actions: dict[Action, list[str]] = {}
        resume = record.details.get("resume")
        if isinstance(resume, str) and resume.startswith("nova "):
            # A failed pipeline step: its run resumes on its own thread, not the supervisor's.
            actions["resume"] = shlex.split(resume)[1:]
        elif record.thread_id:
            actions["retry"] = ["failures", "retry", short]
        actions["dismiss"] = ["failures", "dismiss", *(member.id[:12] for member in group)]
        where = " · ".join(part for part in (record.agent or record.node, record.project) if part)
        times = f" ×{len(group)}" if len(group) > 1 else ""
        items.append(
            InboxItem(
                id=f"failure:{record.id}",
                kind="failure",
                created_at=record.created_at,
                title=f"{record.kind}{times}: {record.message.splitlines()[0][:160]}"
                + (f" ({where})" if where else ""),
                detail={
                    "failure_id": record.id,
                    "failure_ids": [member.id for member in group],
                    "count": len(group),
                    "kind": record.kind,
                    "error_type": record.error_type,
                    "message": record.message,
                    "node": record.node,
                    "agent": record.agent,
                    "project": record.project,
                    "run_id": record.run_id,
                    "checkpoint_id": record.checkpoint_id,
                },
                actions=actions,
                thread_id=record.thread_id,
            )
        )
    return items, total - (len(records) - len(groups))


@inbox_source("questions", "clarifying questions Nova asked that were never answered")
def unanswered_questions(scope: InboxScope) -> SourceResult:
    """List routing decisions that asked a question and have no later decision on their thread."""
    from nova.ledger.routing import RoutingLedger

    ledger = RoutingLedger(scope.settings.resolved_ledger_url)
    records, total = ledger.unanswered_questions(thread_ids=scope.thread_ids, limit=scope.limit)
    items = []
    for record in records:
        assert record.thread_id is not None  # the query keeps threaded decisions only
        choices = [candidate.agent for candidate in record.candidates]
        items.append(
            InboxItem(
                id=f"question:{record.id}",
                kind="question",
                created_at=record.created_at,
                title=f"{record.question or 'Which agent should handle this?'}"
                f" — “{record.request[:120]}”",
                detail={
                    "decision_id": record.id,
                    "request": record.request,
                    "question": record.question,
                    "project": record.project,
                    "candidates": [c.model_dump() for c in record.candidates],
                },
                # Answering is choosing the agent: the request runs again on its thread, there.
                # "--" ends the options: a request that starts with "-" stays the request.
                actions={
                    "answer": [
                        *("ask", "--thread", record.thread_id, "--agent", "<agent>", "--"),
                        record.request,
                    ]
                },
                thread_id=record.thread_id,
                choices=choices,
            )
        )
    return items, total


def _pipeline_deadlines() -> dict[str, tuple[float, float]]:
    """Return each pipeline's (longest step deadline, sum of step deadlines) in seconds."""
    from nova.pipelines.defaults import DEFAULT_PIPELINES_DIR

    files = sorted([*DEFAULT_PIPELINES_DIR.glob("*.yaml"), *DEFAULT_PIPELINES_DIR.glob("*.yml")])
    # Validating the files costs ~0.3 s; a server asks often and they rarely change.
    return _deadlines_of(tuple((str(path), path.stat().st_mtime_ns) for path in files))


@functools.lru_cache(maxsize=4)
def _deadlines_of(files: tuple[tuple[str, int], ...]) -> dict[str, tuple[float, float]]:
    # Only the deadlines are read: the files are validated where they are run
    # (`load_pipelines`, ~1 s with its template checks, is too slow for every inbox).
    from nova.pipelines.defaults import DEFAULT_STEP_DEADLINE_S
    from nova.yamlio import load_yaml

    default = DEFAULT_STEP_DEADLINE_S
    deadlines = {}
    for path, _mtime in files:
        data = load_yaml(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
            continue
        steps = [
            float(step.get("deadline_s", default))
            for step in data["steps"]
            if isinstance(step, dict)
        ]
        deadlines[str(data.get("name", Path(path).stem))] = (max(steps, default=0.0), sum(steps))
    return deadlines


@inbox_source("pipelines", "pipeline runs stalled or past their deadline")
def stalled_pipelines(scope: InboxScope) -> SourceResult:
    """List pipeline threads whose run is still 'running' but stopped moving or overran.

    Stalled: no checkpoint for longer than its longest step may take (the process running it
    is gone). Past its deadline: running for longer than all its steps' deadlines together.
    Failed runs are in the failure ledger already, and paused ones are approvals.
    """
    if not scope.include_local_threads:
        return [], 0
    url = scope.settings.resolved_checkpoint_url
    latest = [t for t in pipeline_threads(url) if _in_scope(scope, t.thread_id)]
    waiting = waiting_threads(url)
    latest = [t for t in latest if t.thread_id not in waiting]
    now = scope.now or datetime.now(UTC)
    values = latest_values(url, [t.thread_id for t in latest])
    running = [
        (thread, run)
        for thread in latest
        if (run := values.get(thread.thread_id, {}).get("run") or {}).get("status") == "running"
    ]
    deadlines = _pipeline_deadlines() if running else {}
    found: list[InboxItem] = []
    for thread, run in running:
        longest, total = deadlines.get(thread.pipeline, (3600.0, 3600.0))
        started = datetime.fromisoformat(run["started_at"]) if run.get("started_at") else None
        if started is not None and started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        idle = now - thread.created_at
        reasons = []
        if idle > timedelta(seconds=longest):
            reasons.append(f"no progress for {int(idle.total_seconds())} s")
        if started is not None and now - started > timedelta(seconds=total):
            reasons.append(f"past its deadline of {total:g} s")
        if not reasons:
            continue
        found.append(
            InboxItem(
                id=f"pipeline:{thread.thread_id}",
                kind="pipeline",
                created_at=thread.created_at,
                title=f"{thread.pipeline} run {run.get('run_id', '?')}: {', '.join(reasons)}",
                detail={
                    "pipeline": thread.pipeline,
                    "run": _jsonable(run),
                    "reasons": list[JsonValue](reasons),
                    "status_command": shlex.join(
                        [
                            "nova",
                            "pipeline",
                            "status",
                            thread.pipeline,
                            "--thread",
                            thread.thread_id,
                        ]
                    ),
                },
                actions={
                    "resume": ["pipeline", "resume", thread.pipeline, "--thread", thread.thread_id]
                },
                thread_id=thread.thread_id,
            )
        )
    found.sort(key=lambda item: item.created_at, reverse=True)
    return found[: scope.limit], len(found)


def improvement_proposals(scope: InboxScope) -> SourceResult:
    """List the self-improvement loop's proposals waiting for a decision (``nova improve``).

    Candidates that passed the gate wait to be accepted or rejected; gap reports (what no
    candidate could fix) wait to be read and set aside. They change the owner's catalog, so
    a server caller scoped to their own threads does not see them.
    """
    if scope.thread_ids is not None:
        return [], 0
    from nova.improve.store import pending_candidates

    pending = pending_candidates(scope.settings)
    items = []
    for candidate in pending[: scope.limit]:
        short = candidate.id[:12]
        gate = candidate.gate or {}
        actions: dict[Action, list[str]] = {}
        if candidate.status == "passed":
            actions["accept"] = ["improve", "accept", short]
        actions["reject"] = ["improve", "reject", short]
        target = f" for {candidate.agent}" if candidate.agent else ""
        items.append(
            InboxItem(
                id=f"proposal:{candidate.id}",
                kind="proposal",
                created_at=candidate.created_at,
                title=f"{candidate.kind}{target}: {candidate.reason}"[:240],
                detail={
                    "candidate_id": candidate.id,
                    "status": candidate.status,
                    "change": _jsonable(candidate.change),
                    "gate": _jsonable(gate),
                    "evidence": list[JsonValue](candidate.evidence),
                },
                actions=actions,
            )
        )
    return items, len(pending)


# The self-improvement loop (`nova improve`) is its own package: its proposals join the inbox
# where it ships beside this one, and nothing stands in for them where it does not.
if (Path(__file__).resolve().parents[1] / "improve" / "__init__.py").is_file():
    inbox_source("proposals", "improvement proposals waiting for your decision")(
        improvement_proposals
    )
