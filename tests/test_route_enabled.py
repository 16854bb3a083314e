"""A project that enables only some agents: the classifier's best enabled candidate takes it.

``enabled_decision`` is fed made-up classifier decisions over the real catalog.
"""

from __future__ import annotations

from nodes.route_context import enabled_decision
from nova.catalog import default_catalog
from nova.state import RouteCandidate, RouteDecision
from nova.testing import route_to

CLIENT_WORK = frozenset({"bug_triage", "project_briefing", "email_drafter", "general_chat"})


def _ranked(*candidates: tuple[str, float], method: str = "semantic") -> RouteDecision:
    decision = route_to(candidates[0][0], "erp", confidence=candidates[0][1])
    decision["method"] = method  # type: ignore[typeddict-item]  # a RouteMethod in the tests
    decision["candidates"] = [RouteCandidate(agent=a, score=s) for a, s in candidates]
    return decision


def test_a_pick_the_project_does_not_enable_goes_to_its_best_enabled_candidate() -> None:
    decision = _ranked(("erp_invoices", 0.49), ("bug_triage", 0.36), ("erp_shipping", 0.02))
    moved = enabled_decision(decision, default_catalog(), CLIENT_WORK.__contains__)
    assert moved is not None
    assert (moved["agent"], moved["subgraph"], moved["method"]) == (
        "bug_triage",
        "chat",
        "semantic",
    )
    assert moved["confidence"] == 0.36 and moved["margin"] == 0.36
    assert "erp_invoices is not enabled" in moved["reason"]


def test_enabled_picks_other_methods_and_short_lists_without_an_enabled_agent_stay() -> None:
    catalog, allows = default_catalog(), CLIENT_WORK.__contains__
    assert enabled_decision(_ranked(("bug_triage", 0.9)), catalog, allows) is None
    only_erp = _ranked(("erp_invoices", 0.9), ("erp_customers", 0.05))
    assert enabled_decision(only_erp, catalog, allows) is None  # Nova names the enabled ones
    named = _ranked(("erp_invoices", 1.0), ("bug_triage", 0.0), method="explicit")
    assert enabled_decision(named, catalog, allows) is None
