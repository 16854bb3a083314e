"""The suite's oracle: whether a final state holds the owner's correction (never shown to blame).

``evaluate_scenario`` uses it to confirm that a scenario is scoreable: the correction holds
in the clean run and fails in the faulty one. Blame itself judges replays by what the
owner records with ``nova feedback`` (``nova.tracing.blame.feedback.FeedbackEvaluator``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from evals.blame_served.scenarios import Feedback
from nova.tracing.blame.verdicts import Evaluator, Verdict


def oracle_evaluator(feedback: Feedback) -> Evaluator:
    """Return an evaluator that judges a final state by the scenario's stated correction."""

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
