"""Attribution: the earliest step whose corrected output makes the run pass, and its consumers.

The search over candidate steps (bisection, verified at the boundary), the first-fault
rule for runs with several faults, the lineage of consumers, and the result blame reports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from nova.tracing.blame.corrections import Correction, Corrector
from nova.tracing.blame.replay import replay
from nova.tracing.blame.steps import ALL_KEYS, RunSteps, Step, StepRef
from nova.tracing.blame.verdicts import Evaluator, Verdict, checks_evaluator, failed_checks
from nova.tracing.serialize import to_jsonable


@dataclass(frozen=True, slots=True)
class Trial:
    """One counterfactual replay."""

    step: str
    source: str
    passed: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """What blame knew when it could not attribute a failure to one step."""

    failed_checks: tuple[str, ...]
    """Failed checks as ``name (judges step): detail``."""
    suspects: tuple[str, ...]
    """Steps whose output a failed check judges (not blamed: no correction of them passed)."""
    tried: tuple[str, ...]
    """Steps for which a correction was replayed."""
    untried: int
    """Steps for which no corrector had anything to offer."""


@dataclass(frozen=True, slots=True)
class BlameResult:
    """The earliest wrong step, who consumed its output, and how that was established."""

    passed: bool
    """Whether the run as it happened passes the evaluator (then nothing is blamed)."""
    blamed: StepRef | None
    consumers: tuple[StepRef, ...]
    method: Literal["counterfactual", "first_fault", "not_attributed", "none"]
    """``counterfactual``: correcting the blamed step makes the run pass; ``first_fault``:
    no single correction does (the run holds several faults), and correcting the blamed
    step is the earliest that fixes part of what failed without breaking anything else."""
    explanation: str
    trials: tuple[Trial, ...] = ()
    steps: tuple[StepRef, ...] = field(default=())
    evidence: Evidence | None = None
    """Set when the run fails and no step could be named."""

    @property
    def replays(self) -> int:
        """How many counterfactual replays blame ran."""
        return len(self.trials)

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-compatible data."""
        return to_jsonable(self)


def consumers_of(run: RunSteps, blamed: Step) -> list[Step]:
    """Return the later steps that read the blamed step's output, directly or through others."""
    tainted = set(blamed.writes)
    found = []
    for step in run.steps[blamed.index + 1 :]:
        if ALL_KEYS <= step.reads or step.reads & tainted:
            found.append(step)
            tainted |= set(step.writes)
    return found


def _suspects(run: RunSteps) -> list[Step]:
    judged = {str(c.get("judges") or "agent") for c in failed_checks(run.final)}
    last = [s for s in run.steps if s.turn == run.turns]
    found: list[Step] = []
    if "route" in judged:
        found += [s for s in last if s.node == "route"][-1:]
    if judged & {"agent", "tools"}:
        found += [s for s in last if s.node in ("agent", "fast_path")][-1:]
    found += [s for s in run.steps if s.error][:1]
    return found


def blame(
    run: RunSteps,
    *,
    evaluator: Evaluator = checks_evaluator,
    correctors: Sequence[Corrector] = (),
    context: Any = None,
    max_replays: int = 40,
) -> BlameResult:
    """Find the earliest step whose correction makes the run pass ``evaluator``.

    Args:
        run: The run (``load_run``; a whole thread with ``thread=True``).
        evaluator: Judges a final state (``checks_evaluator``, or ``FeedbackEvaluator``
            when the user said the run was wrong).
        correctors: Sources of corrected step outputs, tried in order for each step.
        context: Run context for the replays (e.g. ``NovaContext(project=...)``).
        max_replays: Upper bound on counterfactual replays.

    Returns:
        The blamed step and the steps that consumed its output, with every replay tried.
        A run that passes its evaluator blames nothing. When no correction makes a failing
        run pass, the earliest step whose correction fixes part of the failures (by the
        evaluator's ``Verdict.failures``) and adds none is named (``method="first_fault"``:
        the run holds a later fault too); otherwise nothing is blamed
        (``method="not_attributed"``) and ``evidence`` says which checks failed and which
        steps were tried.

    """
    all_refs = tuple(step.ref() for step in run.steps)
    verdict = evaluator(run.final) if not run.error else Verdict(False, f"run failed: {run.error}")
    if verdict.passed:
        return BlameResult(True, None, (), "none", "the run passes its evaluator", steps=all_refs)

    candidates: list[tuple[Step, list[Correction]]] = []
    for step in run.steps:
        corrections = [c for corrector in correctors for c in corrector(step, run)]
        if corrections:
            candidates.append((step, corrections))

    trials: list[Trial] = []
    outcome: dict[int, bool] = {}
    partial: dict[int, tuple[Correction, frozenset[str]]] = {}
    """Positions whose correction fixed some of the run's failures and added none."""

    def passes(position: int) -> bool:
        if position in outcome:
            return outcome[position]
        step, corrections = candidates[position]
        result = False
        for correction in corrections:
            if len(trials) >= max_replays:
                break
            try:
                final = replay(
                    step, correction.writes, context=context, later=run.inputs[step.turn :]
                )
                check = evaluator(final)
            except Exception as error:
                check = Verdict(False, f"replay failed: {type(error).__name__}: {error}")
            trials.append(Trial(step.key, correction.source, check.passed, check.reason))
            if check.passed:
                result = True
                break
            if check.failures and check.failures < verdict.failures and position not in partial:
                partial[position] = (correction, verdict.failures - check.failures)
        outcome[position] = result
        return result

    def blame(
        step: Step, method: Literal["counterfactual", "first_fault"], evidence: str
    ) -> BlameResult:
        return BlameResult(
            False,
            step.ref(),
            tuple(s.ref() for s in consumers_of(run, step)),
            method,
            evidence,
            tuple(trials),
            all_refs,
        )

    found = _earliest(len(candidates), passes) if candidates else None
    if found is not None:
        step = candidates[found][0]
        return blame(
            step,
            "counterfactual",
            f"correcting {step.key} ({candidates[found][1][0].source}) makes the run pass; "
            f"correcting any earlier candidate does not ({verdict.reason})",
        )
    if partial:
        # Several faults: no one correction passes. The earliest step whose correction
        # fixes part of the failure (and breaks nothing) is the first bad assumption.
        first = min(partial)
        step = candidates[first][0]
        correction, fixed = partial[first]
        return blame(
            step,
            "first_fault",
            f"correcting {step.key} ({correction.source}) fixes {', '.join(sorted(fixed))} "
            "and breaks nothing, but the run still fails (a later fault); no earlier "
            f"candidate fixes any of it ({verdict.reason})",
        )
    failed = tuple(
        f"{c.get('name', '?')} ({c.get('judges') or 'agent'}): {c.get('detail', '')}"
        for c in failed_checks(run.final)
    )
    tried = tuple(dict.fromkeys(t.step for t in trials))
    evidence = Evidence(
        failed_checks=failed,
        suspects=tuple(s.key for s in _suspects(run)),
        tried=tried,
        untried=len(run.steps) - len(candidates),
    )
    steps_note = (
        f"corrections of {', '.join(tried)} were replayed and none passed"
        if tried
        else "no corrector had a correction to offer"
    )
    return BlameResult(
        False,
        None,
        (),
        "not_attributed",
        f"not attributed: {verdict.reason}; {steps_note}",
        tuple(trials),
        all_refs,
        evidence,
    )


def _earliest(count: int, passes: Callable[[int], bool]) -> int | None:
    """Return the first position where ``passes`` holds, or ``None``.

    Bisection finds a boundary as if the outcomes were monotone (every correction after
    the faulty step fixes the run); the positions before it that the bisection did not
    try are then confirmed one by one, so a later step whose correction happens to fix
    the run can never hide an earlier one.
    """
    if passes(count - 1):
        low, high = 0, count - 1
        while low < high:
            middle = (low + high) // 2
            if passes(middle):
                high = middle
            else:
                low = middle + 1
        boundary = low
    else:
        boundary = count
    for position in range(boundary):
        if passes(position):
            return position
    return boundary if boundary < count else None
