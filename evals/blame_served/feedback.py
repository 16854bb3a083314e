"""The owner's feedback as blame's evaluator and a route corrector (condition 3).

``nova.tracing.blame`` has no feedback record yet, so this adapter builds both pieces from
a scenario's ``Feedback``: an evaluator that passes a final state when the answer holds
every corrected fact and, for "this was for <agent>", the route names that agent; and a
corrector that proposes the named agent for a ``route`` step. When the engine grows its own
feedback hook, replace ``feedback_blame_inputs`` with a call to it; nothing else here
depends on the adapter.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from evals.blame_served.scenarios import Feedback
from nova.catalog import AgentSpec, Catalog
from nova.tracing.blame import Correction, Evaluator, RunSteps, Step, Verdict


def feedback_evaluator(feedback: Feedback) -> Evaluator:
    """Return an evaluator that judges a final state by the owner's correction."""

    def evaluate(values: Mapping[str, Any]) -> Verdict:
        answer = str(values.get("answer") or "")
        missing = [fact for fact in feedback.facts if fact not in answer]
        route = values.get("route")
        agent = route.get("agent") if isinstance(route, Mapping) else None
        if feedback.route and agent != feedback.route:
            return Verdict(False, f"routed to {agent}, the owner says {feedback.route}")
        if missing:
            return Verdict(False, f"the answer lacks {missing} ({feedback.text!r})")
        return Verdict(True, "the answer agrees with the owner's correction")

    return evaluate


class FeedbackRouteCorrector:
    """Propose the agent the owner named as the corrected output of a ``route`` step."""

    def __init__(self, feedback: Feedback, catalog: Catalog[AgentSpec]) -> None:
        self.feedback = feedback
        self.catalog = catalog

    def __call__(self, step: Step, run: RunSteps) -> Iterator[Correction]:
        """Yield the owner's route for a route step that chose another agent."""
        route = step.writes.get("route") if step.node == "route" else None
        wanted = self.feedback.route
        if not wanted or not isinstance(route, Mapping) or route.get("agent") == wanted:
            return
        spec = self.catalog[wanted]
        corrected = {
            **route,
            "agent": spec.name,
            "subgraph": spec.subgraph,
            "reason": f"corrected by the owner (was {route.get('agent')})",
        }
        yield Correction("check", {"route": corrected}, f"owner's feedback: {wanted}")


def feedback_blame_inputs(
    feedback: Feedback, catalog: Catalog[AgentSpec]
) -> tuple[Evaluator, list[FeedbackRouteCorrector]]:
    """Return the evaluator and correctors the owner's feedback contributes to blame."""
    return feedback_evaluator(feedback), [FeedbackRouteCorrector(feedback, catalog)]
