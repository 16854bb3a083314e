"""Prompt candidates: a reflective rewrite of a failing agent's prompt, gated by replays.

In the spirit of GEPA: the agent's model reads the agent's prompt, the runs the user
called bad (request, the answer given, what the user said is right) and runs they called
good, explains the failure and proposes a minimal edit; it is asked several times for
different candidates. Each candidate is gated on replays of the agent's model turn with
the candidate prompt:

(a) targeted: each bad run with a corrected answer, replayed with parent and candidate
    prompts; the facts of the user's answer (numbers, dates, document ids, or its words)
    must appear. The candidate must fix at least one and lose none;
(c) regression: each run the user called good (and never bad), replayed; the facts of the
    answer the user accepted must still appear. None may be lost.

Replays are of the agent's model turn (system prompt + request), not of the whole graph
from its checkpoint: tool results are not replayed.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage

from nova.catalog.loader import Catalog
from nova.catalog.promoted import spec_hash
from nova.catalog.spec import AgentSpec
from nova.improve.gate import Case, paired
from nova.improve.store import CandidateRecord, CandidateStore
from nova.ledger.feedback import FeedbackLedger, FeedbackRecord

log = logging.getLogger(__name__)

_PROMPT = re.compile(r"<prompt>\s*(.*?)\s*</prompt>", re.DOTALL)
MAX_CASES = 8
"""Failing and passing runs shown to the rewriting model, each."""

REFLECT_SYSTEM = (
    "You improve the system prompt of one agent of a personal assistant. You are given "
    "its current prompt, runs the user said were wrong (with what the user said is "
    "right) and runs the user said were good. First explain in two or three sentences "
    "what in the prompt made the wrong answers happen. Then propose a minimal edit: keep "
    "everything that made the good runs good, change only what the failures call for. "
    "Reply with the explanation, then the complete revised prompt between <prompt> and "
    "</prompt>."
)


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
    failing: Sequence[FeedbackRecord],
    passing: Sequence[FeedbackRecord],
    variant: int,
    of: int,
) -> list[SystemMessage | HumanMessage]:
    lines = [f"Agent: {spec.name} — {spec.description}", "", "Current prompt:", spec.prompt, ""]
    lines.append("Runs the user said were wrong:")
    for r in failing[:MAX_CASES]:
        lines += [
            f"- request: {r.request}",
            f"  answer given: {r.given_answer or '(none)'}",
            f"  the user says: {r.answer or r.note or '(only that it was wrong)'}",
        ]
    lines.append("Runs the user said were good:")
    for r in passing[:MAX_CASES]:
        lines += [f"- request: {r.request}", f"  answer given: {r.given_answer}"]
    if of > 1:
        lines.append(
            f"\nThis is proposal {variant + 1} of {of}: make it differ from the obvious one."
        )
    return [SystemMessage(REFLECT_SYSTEM), HumanMessage("\n".join(lines))]


def _answer(model_factory: Any, spec: AgentSpec, request: str) -> str:
    from nova.models import ModelUnavailable

    model = model_factory(spec, None)
    if isinstance(model, ModelUnavailable):
        raise RuntimeError(model.message)
    reply = model.invoke([SystemMessage(spec.prompt), HumanMessage(request)])
    return str(reply.text if hasattr(reply, "text") else reply)


def gate_prompt(
    parent: AgentSpec,
    candidate: AgentSpec,
    failing: Sequence[FeedbackRecord],
    passing: Sequence[FeedbackRecord],
    model_factory: Any,
) -> dict[str, Any]:
    """Replay the targeted and the good runs with both prompts and judge them (see module)."""
    targeted = [r for r in failing if r.answer and r.request]
    good = [r for r in passing if r.given_answer and r.request]

    def verdicts(spec: AgentSpec, records: Sequence[FeedbackRecord], expected: str) -> list[bool]:
        out = []
        for r in records:
            answer = _answer(model_factory, spec, r.request or "")
            out.append(not missing_facts(getattr(r, expected) or "", answer))
        return out

    t_cases = [Case(r.request or "", parent.name, "targeted", r.id) for r in targeted]
    g_cases = [Case(r.request or "", parent.name, "regression", r.id) for r in good]
    t_cmp = paired(
        "targeted",
        t_cases,
        verdicts(parent, targeted, "answer"),
        verdicts(candidate, targeted, "answer"),
    )
    g_cmp = paired(
        "recorded good runs",
        g_cases,
        verdicts(parent, good, "given_answer"),
        verdicts(candidate, good, "given_answer"),
    )
    reasons = []
    if t_cmp.wins < 1:
        reasons.append("fixes none of the runs the user called wrong")
    if t_cmp.losses:
        reasons.append(f"breaks {t_cmp.losses} targeted run(s) the old prompt got right")
    if g_cmp.losses:
        reasons.append(f"{g_cmp.losses} recorded good run(s) would now be answered wrongly")
    return {
        "passed": not reasons,
        "why": "; ".join(reasons)
        or "fixes runs the user called wrong and keeps every good run good",
        "targeted": t_cmp.as_dict(),
        "regression": g_cmp.as_dict(),
        "replay": "agent model turn (system prompt + request)",
    }


def propose_prompts(
    catalog: Catalog[Any],
    *,
    feedback: FeedbackLedger,
    store: CandidateStore,
    model_factory: Any,
    per_agent: int = 3,
) -> list[CandidateRecord]:
    """Make and gate prompt candidates for every agent with bad feedback not yet answered."""
    from nova.improve.versions import store_for
    from nova.models import ModelUnavailable

    used = store.used_evidence(catalog=None)
    records = feedback.list(limit=10_000)
    bad_runs = {r.run_id for r in records if r.rating == "bad" and r.run_id}
    failing: dict[str, list[FeedbackRecord]] = {}
    passing: dict[str, list[FeedbackRecord]] = {}
    for r in reversed(records):  # oldest first
        agent = r.routed_agent
        if agent is None or agent not in catalog or r.catalog is not None or not r.request:
            continue
        if r.rating == "bad" and not r.is_routing_correction and r.id not in used:
            failing.setdefault(agent, []).append(r)
        elif r.rating == "good" and r.run_id not in bad_runs:
            passing.setdefault(agent, []).append(r)
    versions = store_for(None)
    made: list[CandidateRecord] = []
    for agent, bad in sorted(failing.items()):
        spec = catalog[agent]
        if not isinstance(spec, AgentSpec):
            continue
        model = model_factory(spec, None)
        if isinstance(model, ModelUnavailable):
            log.info("No model for %s: no prompt candidates", agent)
            continue
        parent_data = versions.current_data(agent)
        store.supersede(catalog=None, kind="prompt", agent=agent)
        seen: set[str] = {spec.prompt.strip()}
        good = passing.get(agent, [])
        for variant in range(per_agent):
            reply = model.invoke(_reflect_messages(spec, bad, good, variant, per_agent))
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
            gate = gate_prompt(spec, candidate, bad, good, model_factory)
            data = {**parent_data, "prompt": new_prompt}
            made.append(
                store.add(
                    kind="prompt",
                    catalog=None,
                    agent=agent,
                    reason=f"prompt rewrite {variant + 1}: "
                    + (diagnosis[:300] or "no diagnosis given"),
                    evidence=[r.id for r in bad] + [r.run_id for r in bad if r.run_id],
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
