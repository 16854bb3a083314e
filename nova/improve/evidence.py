"""Failing runs of an agent, from every ledger: the evidence a prompt rewrite reads.

``nova improve`` gathers, per agent, what went wrong since that agent's last promotion:

- bad feedback (the user's verdict, and the answer they say is right);
- failures the ledger recorded against the agent (``nova.ledger.failures``): node
  errors, failed checks with the check's evidence, and router abstains or fallbacks
  that named it;
- blamed steps: ``nova trace blame`` results whose earliest wrong step is the agent's
  own (its model turn or fast path), with blame's explanation.

Several records of one run merge into one failing run (the user's answer and the failed
check's name both kept). A failed check is a *targeted case* for the gate when it can be
judged again on a replayed answer (``replayable_check``): the gate replays the run with
the parent and the candidate prompt and runs the check on both answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nova.catalog.loader import Catalog
    from nova.ledger.failures import FailureLedger, FailureRecord
    from nova.ledger.feedback import FeedbackRecord
    from nova.tracing.store import TraceRecord, TraceStore

PROMPT_FAILURE_KINDS: frozenset[str] = frozenset(
    {"node_error", "check_failed", "route_abstain", "route_fallback"}
)
"""Failure kinds that count against the agent they name."""

AGENT_STEPS: frozenset[str] = frozenset({"agent", "fast_path"})
"""Blamed nodes that are the agent's own output (a blamed route is the router's fault)."""

TOOL_CONTEXT_CHECKS: frozenset[str] = frozenset({"numbers_grounded"})
"""Checks that compare the answer with the turn's tool results. A run without a usable
checkpoint is replayed as the agent's model turn alone (no tools run), where these would
fail any answer with a number, and whether a run has one is known only when it is
replayed: they stay evidence for the rewrite but are not judged on a replay."""


@dataclass(frozen=True, slots=True)
class FailingRun:
    """One run of an agent that went wrong, with everything known about why."""

    id: str
    """The first record's id (a feedback id, failure id, or ``blame:<trace id>``)."""
    agent: str
    request: str
    given_answer: str | None = None
    expected: str | None = None
    """The answer the user says is right (its facts must appear in a fixed answer)."""
    notes: tuple[str, ...] = ()
    """What went wrong, in words: the user's note, the check's evidence, the error, blame's
    explanation."""
    check: str | None = None
    """A failed check that can be judged again on a replayed answer."""
    run_id: str | None = None
    thread_id: str | None = None
    """The run's thread: the gate replays the run from its checkpoints there."""
    agent_version: str | None = None
    """The version the run used, as the ledger recorded it."""
    route: Mapping[str, Any] | None = None
    project: str | None = None
    sources: tuple[str, ...] = ()
    """Every record id this run merges (the candidate's evidence)."""
    kinds: tuple[str, ...] = field(default=())
    """``feedback``, failure kinds, ``blame``."""

    @property
    def judgeable(self) -> bool:
        """Whether the gate can tell a fixed replay from a still-failing one."""
        return bool(self.expected) or self.check is not None

    def merged(self, other: FailingRun) -> FailingRun:
        """Return this run with what ``other`` (a record of the same run) adds."""
        return replace(
            self,
            given_answer=self.given_answer or other.given_answer,
            expected=self.expected or other.expected,
            notes=tuple(dict.fromkeys((*self.notes, *other.notes))),
            check=self.check or other.check,
            thread_id=self.thread_id or other.thread_id,
            agent_version=self.agent_version or other.agent_version,
            route=self.route or other.route,
            project=self.project or other.project,
            sources=tuple(dict.fromkeys((*self.sources, *other.sources))),
            kinds=tuple(dict.fromkeys((*self.kinds, *other.kinds))),
        )


def from_feedback(record: FeedbackRecord, agent: str) -> FailingRun:
    """Return a bad-feedback record as a failing run of ``agent``."""
    return FailingRun(
        id=record.id,
        agent=agent,
        request=record.request or "",
        given_answer=record.given_answer,
        expected=record.answer,
        notes=(f"the user says: {record.note}",) if record.note else (),
        run_id=record.run_id,
        thread_id=record.thread_id,
        agent_version=record.agent_versions.get(agent),
        route=record.route,
        project=record.project,
        sources=tuple(x for x in (record.id, record.run_id) if x),
        kinds=("feedback",),
    )


def replayable_check(name: str | None, judges: str | None = None) -> bool:
    """Whether check ``name`` judges the agent's answer alone, so a replay can be re-checked."""
    if not name or name in TOOL_CONTEXT_CHECKS or judges == "route":
        return False
    from nodes.checks import CHECKS

    return name in CHECKS and CHECKS[name].judges == "agent"


def run_check(
    name: str, spec: Any, case: FailingRun, answer: str, thread: Sequence[Any] = ()
) -> bool:
    """Return whether check ``name`` passes on ``answer`` to ``case``'s request (a replay).

    ``thread`` is the replayed thread (a checkpoint replay, tool results included); without
    it the check sees the request and the answer alone.
    """
    from langchain_core.messages import AIMessage, HumanMessage

    from nodes.checks import CHECKS, CheckContext

    whole = list(thread) or [HumanMessage(case.request), AIMessage(answer)]
    humans = [i for i, m in enumerate(whole) if isinstance(m, HumanMessage)]
    context = CheckContext(
        request=case.request,
        answer=answer,
        agent=spec,
        route=case.route,
        project=case.project,
        messages=whole[humans[-1] :] if humans else whole,
        thread=whole,
    )
    [outcome] = CHECKS.run([name], context)
    return bool(outcome["passed"])


def _from_failure(
    record: FailureRecord, trace: TraceRecord | None, spec: Any
) -> tuple[FailingRun | None, str | None]:
    """Return the failure as a failing run, or a note on why it cannot be one."""
    request = trace.request if trace is not None else None
    if not request:
        return None, (
            f"failure {record.id[:12]} ({record.kind}) of {record.agent}: its run "
            f"{record.run_id or '?'} has no trace with the request, so it cannot be replayed"
        )
    check = None
    if record.kind == "check_failed":
        name = record.details.get("check")
        candidate = str(name) if isinstance(name, str) else None
        if replayable_check(candidate, record.node):
            # Judged on a replay only if the check, re-run on the answer as recorded,
            # still fails there: then it reads nothing a model-turn replay lacks.
            answer = trace.answer if trace is not None else None
            bare = _bare(record, trace) if trace is not None else None
            if answer and candidate and bare and not run_check(candidate, spec, bare, answer):
                check = candidate
    label = {
        "check_failed": "a check failed",
        "node_error": "the agent's step raised",
        "route_abstain": "the router abstained",
        "route_fallback": "the router was unsure and fell back to this agent",
    }.get(record.kind, record.kind)
    return (
        FailingRun(
            id=record.id,
            agent=record.agent or "",
            request=request,
            given_answer=trace.answer if trace is not None else None,
            notes=(f"{label}: {record.error_type}: {record.message}",),
            check=check,
            run_id=record.run_id,
            thread_id=record.thread_id or (trace.thread_id if trace is not None else None),
            agent_version=record.agent_version,
            route=trace.route if trace is not None else None,
            project=record.project,
            sources=tuple(x for x in (record.id, record.run_id) if x),
            kinds=(record.kind,),
        ),
        None,
    )


def _bare(record: FailureRecord, trace: TraceRecord) -> FailingRun:
    return FailingRun(
        id=record.id,
        agent=record.agent or "",
        request=trace.request or "",
        route=trace.route,
        project=record.project,
    )


def _trace(traces: TraceStore | None, run_id: str | None) -> TraceRecord | None:
    if traces is None or not run_id:
        return None
    from nova.tracing.store import TraceNotFound

    try:
        return traces.get(run_id, steps=False)
    except TraceNotFound:
        return None


def gather_failing_runs(
    catalog: Catalog[Any],
    *,
    feedback: Iterable[FeedbackRecord] = (),
    failures: FailureLedger | None = None,
    traces: TraceStore | None = None,
    since: Mapping[str, datetime | None] | None = None,
    used: set[str] | frozenset[str] = frozenset(),
) -> tuple[dict[str, list[FailingRun]], list[str]]:
    """Return each agent's failing runs, oldest first, and notes on records left out.

    Args:
        catalog: The agents (records naming any other agent are left out).
        feedback: Bad feedback to include (the caller picks which: not routing corrections).
        failures: The failure ledger (``None``: no failures).
        traces: The trace store, for the request and answer of a failed or blamed run.
        since: Per agent, its last promotion: failures and blames before it are of an
            older version and were already weighed.
        used: Evidence ids promoted candidates already answered.

    """
    from nova.improve.versions import as_recorded

    since = since or {}
    runs: dict[str, dict[str, FailingRun]] = {}
    notes: list[str] = []

    def add(run: FailingRun) -> None:
        mine = runs.setdefault(run.agent, {})
        key = run.run_id or run.id
        mine[key] = mine[key].merged(run) if key in mine else run

    def recent(agent: str, when: datetime) -> bool:
        cut = since.get(agent)
        return cut is None or when >= cut

    for record in feedback:
        agent = record.routed_agent
        if agent and agent in catalog and record.request and record.id not in used:
            add(from_feedback(record, agent))

    if failures is not None:
        for failure in reversed(failures.list(limit=10_000)):
            if (
                failure.kind not in PROMPT_FAILURE_KINDS
                or failure.agent is None
                or failure.agent not in catalog
                or failure.id in used
                or not recent(failure.agent, failure.created_at)
            ):
                continue
            if failure.kind == "check_failed" and failure.node == "route":
                continue  # the check blames the route, not the agent's answer
            trace = _trace(traces, failure.run_id)
            # The recorded answer is re-checked against the agent as it was then (its
            # output_schema, say), not as later promotions left it.
            recorded, _ = as_recorded(catalog, failure.agent, failure.agent_version)
            run, note = _from_failure(failure, trace, recorded[failure.agent])
            if run is not None:
                add(run)
            elif note:
                notes.append(note)

    if traces is not None:
        for trace_id, when, result in reversed(traces.list_blames()):
            blamed = result.get("blamed") or {}
            key = f"blame:{trace_id}"
            if not isinstance(blamed, Mapping) or blamed.get("node") not in AGENT_STEPS:
                continue
            trace = _trace(traces, trace_id)
            if trace is None or trace.agent not in catalog or not trace.request or key in used:
                continue
            if not recent(trace.agent or "", when):
                continue
            add(
                FailingRun(
                    id=key,
                    agent=trace.agent or "",
                    request=trace.request,
                    given_answer=trace.answer,
                    notes=(
                        f"blame names its {blamed.get('node')} step: "
                        f"{result.get('explanation') or ''}".strip(),
                    ),
                    run_id=trace.run_id,
                    thread_id=trace.thread_id,
                    agent_version=trace.agent_version,
                    route=trace.route,
                    project=trace.project,
                    sources=tuple(x for x in (key, trace.run_id) if x),
                    kinds=("blame",),
                )
            )
    return {agent: list(found.values()) for agent, found in runs.items()}, notes


def last_promotions(agents: Sequence[str]) -> dict[str, datetime | None]:
    """Return when each agent's version in force was made (``None``: the installed file)."""
    from nova.improve.versions import store_for

    store = store_for(None)
    found: dict[str, datetime | None] = {}
    for agent in agents:
        made = [v.created_at for v in store.history(agent) if v.action != "base" and v.created_at]
        found[agent] = datetime.fromisoformat(made[-1]) if made else None
    return found
