"""Requests that supply no text do not go to agents that only work on a supplied text.

``textless_decision`` is fed made-up classifier decisions and hits over the real catalog
(``works_on: supplied_text`` is set on the translator, proofreader, summarizer, tone
editor and localizer).
"""

from __future__ import annotations

from nodes.text_route import supplies_text, textless_decision
from nova.catalog import default_catalog
from nova.state import MemoryHit, RouteCandidate, RouteDecision
from nova.testing import route_to

READERS = ("memory_curator", "project_briefing")
TERMS = [
    MemoryHit(
        id="m1",
        text="Resellers get 20 percent recurring commission for the first 24 months.",
        kind="decision",
        score=0.59,
    )
]


def _ranked(*candidates: tuple[str, float]) -> RouteDecision:
    decision = route_to(candidates[0][0], "translation", confidence=candidates[0][1])
    decision["candidates"] = [RouteCandidate(agent=a, score=s) for a, s in candidates]
    return decision


def _decide(
    decision: RouteDecision,
    text: str,
    hits: list[MemoryHit],
    *,
    erp_data: bool = False,
    allows: frozenset[str] | None = None,
) -> RouteDecision | None:
    return textless_decision(
        decision,
        text,
        hits,
        default_catalog(),
        readers=READERS,
        allows=(lambda name: True) if allows is None else allows.__contains__,
        erp_data=erp_data,
    )


def test_supplies_text_reads_carried_and_pointed_to_texts() -> None:
    assert supplies_text("translate this")
    assert supplies_text("make it friendlier")
    assert supplies_text("spanish version: Welcome to SignCraft, your first listing goes live")
    assert supplies_text('fix the typos in "Wir liefern ab Montag wieder aus"')
    assert supplies_text("proofread please\nWe ship on monday and tuesday to all customers")
    assert not supplies_text("reseller commission terms")
    assert not supplies_text("reply to a seller angry that his payout is late, friendly but clear")
    assert not supplies_text("tldr: short")  # a label after the colon, not a text


def test_a_strong_memory_answers_a_textless_request_over_a_weak_next_candidate() -> None:
    decision = _ranked(("summarizer", 0.76), ("glossary_manager", 0.07), ("email_drafter", 0.03))
    moved = _decide(decision, "reseller commission terms", TERMS)
    assert moved is not None
    assert (moved["agent"], moved["method"], moved["confidence"]) == (
        "memory_curator",
        "memory",
        0.59,
    )
    assert "summarizer works on a text" in moved["reason"]


def test_without_memory_the_next_candidate_that_can_serve_the_project_takes_it() -> None:
    decision = _ranked(("tone_editor", 0.95), ("erp_payments", 0.04), ("email_drafter", 0.01))
    text = "reply to a seller angry that his payout is late, friendly but clear"
    moved = _decide(decision, text, [])
    assert moved is not None and (moved["agent"], moved["method"]) == ("email_drafter", "semantic")
    # Where the project holds the ERP data, the ERP agent is a usable candidate.
    held = _decide(decision, text, [], erp_data=True)
    assert held is not None and held["agent"] == "erp_payments"


def test_requests_with_a_text_and_picks_without_an_alternative_stay() -> None:
    decision = _ranked(("translator", 0.9), ("proofreader", 0.05))
    assert _decide(decision, "translate this", TERMS) is None  # points to a text
    assert _decide(decision, "into french please", []) is None  # the translator asks for it
    drafting = _ranked(("email_drafter", 0.9), ("tone_editor", 0.05))
    assert _decide(drafting, "reseller commission terms", TERMS) is None
    followup = _ranked(("summarizer", 0.9), ("email_drafter", 0.05))
    followup["method"] = "followup"
    assert _decide(followup, "reseller commission terms", TERMS) is None
