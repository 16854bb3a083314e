"""Prompt candidates: a reflective rewrite of a failing agent's prompt, gated by replays.

In the spirit of GEPA: the agent's model reads the agent's prompt, its failing runs (the
runs the user called bad with what they said is right, failures the ledger recorded with
the check's evidence or the error, steps blame named) and runs the user called good,
explains the failure and proposes a minimal edit; it is asked several times for
different candidates. Each candidate (a copy of the agent's spec with the new prompt: a
new content hash) is gated against its parent, the version in force:

(a) targeted: each failing run the gate can judge (``nova.improve.evidence``), replayed
    with parent and candidate: a bad run with a corrected answer must show the facts of
    the user's answer (numbers, dates, document ids, or its words); a run whose check
    failed must pass that check on the replayed answer. The candidate must fix at least
    one and lose none;
(b) suite: the test split of the eval suite that exercises the agent's answers
    (``nova.improve.suites.prompt_suite``: the ERP set for ERP agents), run with parent and
    candidate and the same model; an exact one-sided McNemar test on the paired verdicts
    blocks a significant loss (``SUITE_ALPHA``). For an agent no suite exercises (a user's
    own agent, say), the gate's test split is a held-out part of its corrections: about a
    quarter of its judgeable failing runs and of its good runs (``held_out``: the gate's
    frozen hash of the run id, so a run never moves between parts) are never shown to the
    rewriting model, and are replayed with parent and candidate like (a) and (c); the
    candidate may lose none of them. With too few runs to hold any out, the figures say
    so;
(c) regression: each run the user called good (and never bad), replayed; the facts of the
    answer the user accepted must still appear. None may be lost.

A run is replayed from its thread's checkpoint just before the agent ran, through the
agent's real loop with its tools, on a scratch thread (``nova.improve.replay``: nothing is
written to the user's thread, and a write ends the replay as "would ask for approval").
A run without a usable checkpoint is replayed as the agent's model turn alone (system
prompt + request, no tools). The gate stores, per case, how it was replayed and why, the
tools each side called and how its replay ended, next to the paired figures.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from langchain_core.messages import HumanMessage, SystemMessage

from nova.catalog.loader import Catalog
from nova.catalog.promoted import spec_hash
from nova.catalog.spec import AgentSpec
from nova.improve.evidence import FailingRun, gather_failing_runs, last_promotions, run_check
from nova.improve.gate import Case, paired
from nova.improve.gate import held_out as gate_held_out
from nova.improve.replay import RecordedRuns, Replay, Replayer
from nova.improve.store import CandidateRecord, CandidateStore
from nova.improve.suites import PromptSuite
from nova.ledger.failures import FailureLedger
from nova.ledger.feedback import FeedbackLedger, FeedbackRecord

log = logging.getLogger(__name__)
_Run = TypeVar("_Run", FailingRun, FeedbackRecord)

_PROMPT = re.compile(r"<prompt>\s*(.*?)\s*</prompt>", re.DOTALL)
MAX_CASES = 8
"""Failing and passing runs shown to the rewriting model, each."""
HOLDOUT_SHARE = 0.25
"""The share of an agent's corrections held out from the rewrite, for agents without a suite."""
MIN_SHOWN = 2
"""Runs of each kind (judgeable failing, good) the rewriting model must still see before
any of that kind is held out."""
SUITE_ALPHA = 0.05
"""A candidate's losses on its suite block it when the exact one-sided McNemar p-value that
it is worse is below this (fewer losses are noise: a model's answers vary run to run)."""

REFLECT_SYSTEM = (
    "You improve the system prompt of one agent of a personal assistant. You are given "
    "its current prompt, runs that went wrong (with what the user said is right, or "
    "the check or error that caught them) and runs the user said were good. First "
    "explain in two or three sentences what in the prompt made the wrong answers "
    "happen. Then propose a minimal edit: keep "
    "everything that made the good runs good, change only what the failures call for. "
    "Reply with the explanation, then the complete revised prompt between <prompt> and "
    "</prompt>."
)


def held_out(run_key: str) -> bool:
    """Whether a run (by run id, else record id) is in the held-out part (``gate.held_out``)."""
    return gate_held_out(f"prompt-run:{run_key}", HOLDOUT_SHARE)


def split_held_out(
    failing: Sequence[FailingRun], passing: Sequence[FeedbackRecord]
) -> tuple[list[FailingRun], list[FeedbackRecord], list[FailingRun], list[FeedbackRecord]]:
    """Cut an agent's runs into (shown failing, shown good, held-out failing, held-out good).

    Held-out runs are the gate's test split when no eval suite exercises the agent; a run
    is held out by a hash of its run id (its record's id without one), so it stays on its
    side. Runs are held out only while at least ``MIN_SHOWN`` of their kind stay shown:
    the rewrite needs evidence to work from, and with fewer the gate says it held none out.
    """

    def cut(runs: list[_Run]) -> tuple[list[_Run], list[_Run]]:
        held = [r for r in runs if held_out(r.run_id or r.id)]
        if len(runs) - len(held) < MIN_SHOWN:
            return runs, []
        return [r for r in runs if r not in held], held

    judgeable = [r for r in failing if r.judgeable and r.request]
    held_failing = cut(judgeable)[1]
    shown_good, held_good = cut(list(passing))
    shown_failing = [r for r in failing if r not in held_failing]
    return shown_failing, shown_good, held_failing, held_good


def missing_facts(expected: str, answer: str) -> list[str]:
    """Return the facts of ``expected`` that ``answer`` lacks (its words, if it has no facts)."""
    from nova.erp.grounding import Grounds, mentions

    facts = mentions(expected, skip_list_indices=True)
    if not facts:
        return [] if expected.casefold() in answer.casefold() else [repr(expected)]
    grounds = Grounds.of([answer])
    return [m.text for m in facts if not grounds.supports(m)]


def _reflect_messages(
    spec: AgentSpec,
    failing: Sequence[FailingRun],
    passing: Sequence[FeedbackRecord],
    variant: int,
    of: int,
) -> list[SystemMessage | HumanMessage]:
    lines = [f"Agent: {spec.name} — {spec.description}", "", "Current prompt:", spec.prompt, ""]
    lines.append("Runs the user said were wrong:")
    # Runs the gate can judge first: those are the ones a rewrite must fix.
    shown = sorted(failing, key=lambda r: not r.judgeable)[:MAX_CASES]
    for r in shown:
        older = r.agent_version and r.agent_version not in (
            spec.version_label,
            f"{spec.version}+{spec.content_version}",
            spec.content_version,
        )
        lines += [
            f"- request: {r.request}",
            f"  answer given: {r.given_answer or '(none)'}"
            + (f" (by an earlier version, {r.agent_version})" if older else ""),
            f"  the user says: {r.expected or '(only that it was wrong)'}"
            if r.expected or "feedback" in r.kinds
            else "  caught by Nova itself:",
            *(f"  {note}" for note in r.notes),
        ]
    lines.append("Runs the user said were good:")
    for g in passing[:MAX_CASES]:
        lines += [f"- request: {g.request}", f"  answer given: {g.given_answer}"]
    if of > 1:
        lines.append(
            f"\nThis is proposal {variant + 1} of {of}: make it differ from the obvious one."
        )
    return [SystemMessage(REFLECT_SYSTEM), HumanMessage("\n".join(lines))]


def fixed(spec: AgentSpec, run: FailingRun, replay: Replay | str) -> bool:
    """Whether ``replay`` (of ``run``) is right: it answered, the user's facts, its check.

    A checkpoint replay's check sees the replayed thread (tool results included).
    """
    if isinstance(replay, str):
        replay = Replay(answer=replay, how="model turn")
    if replay.paused:
        return False
    if run.expected and missing_facts(run.expected, replay.answer):
        return False
    thread = replay.messages if replay.how == "checkpoint" else ()
    return run.check is None or run_check(run.check, spec, run, replay.answer, thread)


def _case(kind: str, key: str | None, request: str, sides: dict[str, tuple[Replay, bool]]) -> Any:
    parent = sides["parent"][0]
    return {
        "set": kind,
        "id": key,
        "request": request[:200],
        # How the run was replayed, and why not from its checkpoint when it was not.
        "replayed": parent.how,
        "note": parent.note,
        **{side: {**replay.figures(), "right": right} for side, (replay, right) in sides.items()},
    }


def gate_prompt(
    parent: AgentSpec,
    candidate: AgentSpec,
    failing: Sequence[FailingRun],
    passing: Sequence[FeedbackRecord],
    model_factory: Any,
    *,
    replayer: Replayer | None = None,
    suite: PromptSuite | None = None,
    held_failing: Sequence[FailingRun] = (),
    held_good: Sequence[FeedbackRecord] = (),
) -> dict[str, Any]:
    """Replay the targeted and the good runs with both prompts, run the suite (see module).

    Args:
        parent: The agent's version in force.
        candidate: The rewrite (a copy of ``parent`` with another prompt).
        failing: The agent's failing runs (those the gate can judge are the targets).
        passing: Runs the user called good and never bad.
        model_factory: The agent's model, for replays and the suite.
        replayer: Replays runs from their checkpoints (``None``: model turns only).
        suite: The eval suite that exercises this agent's answers (``None``: no suite).
        held_failing: Failing runs the rewrite never saw (the test split without a suite).
        held_good: Good runs the rewrite never saw (the test split without a suite).

    """
    replay = replayer or Replayer(None, model_factory)
    targeted = [r for r in failing if r.judgeable and r.request]
    good = [r for r in passing if r.given_answer and r.request]
    cases: list[dict[str, Any]] = []

    def run(
        kind: str,
        key: str | None,
        request: str,
        thread: str | None,
        run_id: str | None,
        right: Any,
    ) -> tuple[bool, bool]:
        sides: dict[str, tuple[Replay, bool]] = {}
        for side, spec in (("parent", parent), ("candidate", candidate)):
            done = replay(spec, request=request, thread_id=thread, run_id=run_id)
            sides[side] = (done, bool(right(spec, done)))
        cases.append(_case(kind, key, request, sides))
        return sides["parent"][1], sides["candidate"][1]

    def failing_verdicts(kind: str, runs: Sequence[FailingRun]) -> list[tuple[bool, bool]]:
        return [
            run(kind, r.id, r.request, r.thread_id, r.run_id, lambda s, x, r=r: fixed(s, r, x))
            for r in runs
            if r.judgeable and r.request
        ]

    def good_verdicts(kind: str, runs: Sequence[FeedbackRecord]) -> list[tuple[bool, bool]]:
        return [
            run(
                kind,
                r.id,
                r.request or "",
                r.thread_id,
                r.run_id,
                lambda s, x, r=r: (
                    not x.paused and not missing_facts(r.given_answer or "", x.answer)
                ),
            )
            for r in runs
            if r.given_answer and r.request
        ]

    t = failing_verdicts("targeted", targeted)
    g = good_verdicts("regression", good)
    t_cases = [Case(r.request, parent.name, "targeted", r.id) for r in targeted]
    g_cases = [Case(r.request or "", parent.name, "regression", r.id) for r in good]
    t_cmp = paired("targeted", t_cases, [p for p, _ in t], [c for _, c in t])
    g_cmp = paired("recorded good runs", g_cases, [p for p, _ in g], [c for _, c in g])
    reasons = []
    if t_cmp.wins < 1:
        reasons.append("fixes none of the failing runs")
    if t_cmp.losses:
        reasons.append(f"breaks {t_cmp.losses} targeted run(s) the old prompt got right")
    if g_cmp.losses:
        reasons.append(f"{g_cmp.losses} recorded good run(s) would now be answered wrongly")
    suite_figures: dict[str, Any] = {
        "name": "no suite",
        "n": 0,
        "why": f"no eval suite exercises {parent.name}'s answers",
    }
    if suite is None:
        h_fail = [r for r in held_failing if r.judgeable and r.request]
        h_good = [r for r in held_good if r.given_answer and r.request]
        h = failing_verdicts("held-out", h_fail) + good_verdicts("held-out", h_good)
        h_cases = [Case(r.request, parent.name, "held-out", r.id) for r in h_fail] + [
            Case(r.request or "", parent.name, "held-out", r.id) for r in h_good
        ]
        if h_cases:
            h_cmp = paired("held-out corrections", h_cases, [p for p, _ in h], [c for _, c in h])
            suite_figures = {
                **h_cmp.as_dict(),
                "source": f"{len(h_fail)} failing and {len(h_good)} good run(s) the rewrite "
                "never saw",
            }
            if h_cmp.losses:
                reasons.append(
                    f"loses {h_cmp.losses} held-out correction(s) the old prompt got right"
                )
        else:
            suite_figures["why"] += "; too few corrections to hold any out"
    elif suite.cases:
        s_cmp = paired(
            suite.name,
            suite.cases,
            suite.verdicts(parent, model_factory),
            suite.verdicts(candidate, model_factory),
        )
        suite_figures = {**s_cmp.as_dict(), "alpha": SUITE_ALPHA, "source": suite.source}
        if s_cmp.p_worse < SUITE_ALPHA:
            reasons.append(
                f"loses {s_cmp.losses} case(s) of {suite.name} against {s_cmp.wins} won "
                f"(exact McNemar p={s_cmp.p_worse:.3g} < {SUITE_ALPHA})"
            )
    how = Counter(case["replayed"] for case in cases)
    return {
        "passed": not reasons,
        "why": "; ".join(reasons) or "fixes failing runs and keeps every good run good",
        "targeted": t_cmp.as_dict(),
        "regression": g_cmp.as_dict(),
        "suite": suite_figures,
        "replay": {
            "checkpoint": how.get("checkpoint", 0),
            "model turn": how.get("model turn", 0),
        },
        "cases": cases,
        "checks_rerun": sorted({r.check for r in targeted if r.check}),
    }


def propose_prompts(
    catalog: Catalog[Any],
    *,
    feedback: FeedbackLedger,
    store: CandidateStore,
    model_factory: Any,
    per_agent: int = 3,
    failures: FailureLedger | None = None,
    traces: Any = None,
    notes: list[str] | None = None,
    recorded: RecordedRuns | None = None,
    suites: Callable[[str], PromptSuite | None] | None = None,
) -> list[CandidateRecord]:
    """Make and gate prompt candidates for every agent with failing runs not yet answered.

    Args:
        catalog: Nova's catalog in force.
        feedback: The feedback ledger (bad runs, and good runs for the regression set).
        store: Where candidates go.
        model_factory: The agents' models (the rewrite and the replays).
        per_agent: Rewrites asked for per agent.
        failures: The failure ledger (``None``: feedback alone).
        traces: The ``TraceStore`` for failed and blamed runs' requests (``None``: none).
        notes: Where to say what was left out and why.
        recorded: The recorded graph and its checkpoints, to replay runs from (``None``:
            every replay is a model turn).
        suites: The eval suite for an agent, by name (``None``: no suites).

    """
    from nova.improve.versions import store_for
    from nova.models import ModelUnavailable

    used = store.used_evidence(catalog=None)
    records = feedback.list(limit=10_000)
    bad_runs = {r.run_id for r in records if r.rating == "bad" and r.run_id}
    bad: list[FeedbackRecord] = []
    passing: dict[str, list[FeedbackRecord]] = {}
    for r in reversed(records):  # oldest first
        agent = r.routed_agent
        if agent is None or agent not in catalog or r.catalog is not None or not r.request:
            continue
        if r.rating == "bad" and not r.is_routing_correction:
            bad.append(r)
        elif r.rating == "good" and r.run_id not in bad_runs:
            passing.setdefault(agent, []).append(r)
    failing, left_out = gather_failing_runs(
        catalog,
        feedback=bad,
        failures=failures,
        traces=traces,
        since=last_promotions(catalog.names) if failures is not None or traces else {},
        used=used,
    )
    if notes is not None:
        notes.extend(left_out[:5])
        if len(left_out) > 5:
            notes.append(f"... and {len(left_out) - 5} more failure(s) left out the same way")
    versions = store_for(None)
    replayer = Replayer(catalog, model_factory, recorded)
    made: list[CandidateRecord] = []
    for agent, runs in sorted(failing.items()):
        spec = catalog[agent]
        if not isinstance(spec, AgentSpec):
            continue
        if not any(r.judgeable for r in runs):
            if notes is not None:
                notes.append(
                    f"{agent}: {len(runs)} failing run(s), none the gate can judge on a replay "
                    f"(give `nova feedback RUN bad --answer ...`); no prompt candidates"
                )
            continue
        model = model_factory(spec, None)
        if isinstance(model, ModelUnavailable):
            log.info("No model for %s: no prompt candidates", agent)
            continue
        parent_data = versions.current_data(agent)
        store.supersede(catalog=None, kind="prompt", agent=agent)
        seen: set[str] = {spec.prompt.strip()}
        suite = suites(agent) if suites is not None else None
        shown, good, held_failing, held_good = (
            (runs, passing.get(agent, []), [], [])
            if suite is not None
            else split_held_out(runs, passing.get(agent, []))
        )
        for variant in range(per_agent):
            reply = model.invoke(_reflect_messages(spec, shown, good, variant, per_agent))
            text = str(reply.text if hasattr(reply, "text") else reply)
            match = _PROMPT.search(text)
            if match is None or match.group(1).strip() in seen:
                continue
            new_prompt = match.group(1).strip() + "\n"
            seen.add(match.group(1).strip())
            try:
                candidate = spec.model_copy(update={"prompt": new_prompt})
                AgentSpec.model_validate(candidate.model_dump())
            except ValueError as error:
                log.info("Rewrite %d of %s is not a valid prompt: %s", variant + 1, agent, error)
                continue
            diagnosis = text[: match.start()].strip()
            gate = gate_prompt(
                spec,
                candidate,
                shown,
                good,  # the held-out good runs are judged with the held-out failing ones
                model_factory,
                replayer=replayer,
                suite=suite,
                held_failing=held_failing,
                held_good=held_good,
            )
            data = {**parent_data, "prompt": new_prompt}
            made.append(
                store.add(
                    kind="prompt",
                    catalog=None,
                    agent=agent,
                    reason=f"prompt rewrite {variant + 1}: "
                    + (diagnosis[:300] or "no diagnosis given"),
                    evidence=list(dict.fromkeys(x for r in runs for x in r.sources)),
                    change={
                        "prompt": new_prompt,
                        "diagnosis": diagnosis,
                        "diff": "".join(
                            difflib.unified_diff(
                                spec.prompt.splitlines(keepends=True),
                                new_prompt.splitlines(keepends=True),
                                fromfile="prompt (in force)",
                                tofile=f"prompt (rewrite {variant + 1})",
                            )
                        ),
                    },
                    gate=gate,
                    parent_version=spec_hash(parent_data),
                    version=spec_hash(data),
                )
            )
    return made
