"""The user's feedback in blame: as the evaluator of replays, and as a routing correction.

A run the user called bad fails whatever its checks say; the agent the user named
corrects the route of the turn the feedback is about.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from nova.tracing.blame.corrections import Correction
from nova.tracing.blame.steps import RunSteps, Step
from nova.tracing.blame.verdicts import Verdict, checks_evaluator, final_message


class UserFeedback(Protocol):
    """What blame needs of a feedback record (``nova.ledger.feedback.FeedbackRecord``)."""

    @property
    def rating(self) -> str:
        """``good`` or ``bad``."""
        ...

    @property
    def agent(self) -> str | None:
        """The agent that should have answered."""
        ...

    @property
    def answer(self) -> str | None:
        """The right answer, or facts it must state."""
        ...


def _answer_text(values: Mapping[str, Any]) -> str:
    answer = final_message(values)
    if answer is None:
        return ""
    content = answer.content
    text = content if isinstance(content, str) else " ".join(map(str, content))
    return text.split("\n\n⚠ Nova flagged this answer:", 1)[0].strip()


class FeedbackEvaluator:
    """The user's word as the evaluator: a run the user called bad fails, whatever its checks.

    A replay passes when its checks pass and it meets the user's correction: the corrected
    agent answered (``--agent``), every number, date and document id of the corrected
    answer appears in the replay's answer (``--answer``); without a correction, when its
    answer differs from the one the user rejected. A run the user called good passes.
    """

    def __init__(self, feedback: UserFeedback, rejected: Mapping[str, Any] | None = None) -> None:
        """Judge replays by ``feedback``; ``rejected`` is the final state the user judged."""
        self.feedback = feedback
        self.rejected = _answer_text(rejected) if rejected is not None else None

    def __call__(self, values: Mapping[str, Any]) -> Verdict:
        """Return whether ``values`` (a final state) meets the user's verdict."""
        if self.feedback.rating != "bad":
            return Verdict(True, "the user called this run good")
        checks = checks_evaluator(values)
        text = _answer_text(values)
        problems: list[str] = []
        failures = set(checks.failures)
        if self.feedback.agent:
            route = values.get("route")
            routed = route.get("agent") if isinstance(route, Mapping) else None
            if routed != self.feedback.agent:
                problems.append(f"routed to {routed}, the user says {self.feedback.agent}")
                failures.add("feedback:route")
        if self.feedback.answer:
            missing = _missing_facts(self.feedback.answer, text)
            if missing:
                problems.append("the user's correction states " + ", ".join(missing))
                failures.update(f"fact:{fact}" for fact in missing)
        if not self.feedback.agent and not self.feedback.answer:
            if self.rejected is None or text == self.rejected:
                problems.append("the user rejected this answer")
                failures.add("feedback:rejected")
        if not checks.passed:
            problems.append(checks.reason)
        if problems:
            return Verdict(False, "; ".join(problems), frozenset(failures))
        return Verdict(True, "meets the user's feedback and passes its checks")


def _missing_facts(correction: str, answer: str) -> list[str]:
    from nova.erp.grounding import Grounds, mentions

    grounds = Grounds.of([answer])
    facts = mentions(correction, skip_list_indices=True)
    if not facts:  # a correction in words only: its text must appear
        return [] if correction.casefold() in answer.casefold() else [repr(correction)]
    return [m.text for m in facts if not grounds.supports(m)]


class FeedbackRouteCorrector:
    """A routing correction from the user's feedback: the ``route`` step, to the named agent.

    Only the last turn's route is corrected (the turn the feedback is about); earlier
    turns get their corrections from the checks and re-samples.
    """

    def __init__(self, feedback: UserFeedback, subgraphs: Mapping[str, str | None]) -> None:
        """Correct routes to ``feedback.agent``; ``subgraphs`` maps agent names to subgraphs."""
        self.feedback = feedback
        self.subgraphs = subgraphs

    def __call__(self, step: Step, run: RunSteps) -> Iterator[Correction]:
        """Yield the corrected route for the last turn's ``route`` step."""
        agent = self.feedback.agent
        if self.feedback.rating != "bad" or not agent or agent not in self.subgraphs:
            return
        route = step.writes.get("route") if step.node == "route" else None
        if step.turn != run.turns or not isinstance(route, Mapping) or route.get("agent") == agent:
            return
        corrected = {
            **route,
            "agent": agent,
            "subgraph": self.subgraphs[agent],
            "method": "explicit",
            "reason": f"corrected by the user's feedback (was {route.get('agent')})",
        }
        yield Correction("feedback", {"route": corrected}, f"the user's feedback: {agent}")
