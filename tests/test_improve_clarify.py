"""A clarifying question answered with a choice becomes a routing correction."""

from __future__ import annotations

import pytest

from nova.improve.clarify import chosen_agent, record_clarify_choice
from nova.ledger.feedback import FeedbackLedger
from nova.ledger.routing import RoutingLedger
from nova.testing import route_to

OFFERED = ["erp_invoices", "erp_payments", "translator"]


@pytest.mark.parametrize(
    ("reply", "agent"),
    [
        ("erp_payments", "erp_payments"),
        ("the invoices one", "erp_invoices"),
        ("Payments, please", "erp_payments"),
        ("the second", "erp_payments"),
        ("3", "translator"),
        ("invoices or payments", None),  # two picks: no choice
        ("never mind", None),
        (
            "What is the weather like in Hamburg tomorrow and should I take an umbrella with me",
            None,
        ),
    ],
)
def test_chosen_agent(reply: str, agent: str | None) -> None:
    assert chosen_agent(reply, OFFERED) == agent


def test_answer_to_the_question_records_a_correction_of_the_unclear_request() -> None:
    question = route_to(None, None, method="clarify", confidence=0.3)
    question["candidates"] = [{"agent": a, "score": 0.3} for a in OFFERED]
    question["question"] = "I'm not sure what you need: ERP invoices, ERP payments or translator?"
    RoutingLedger().append(
        question, request="Did the Nordwind money come in?", thread_id="t1", project="parts-shop"
    )

    record = record_clarify_choice("payments", thread_id="t1", project="parts-shop", user="me")
    assert record is not None
    [stored] = FeedbackLedger().corrections()
    assert stored.id == record.id and stored.source == "clarify"
    assert stored.request == "Did the Nordwind money come in?" and stored.agent == "erp_payments"
    assert stored.is_routing_correction and stored.thread_id == "t1"
    # No question last in the thread, or a reply that picks nothing: nothing is recorded.
    assert record_clarify_choice("payments", thread_id="other", project=None, user=None) is None
    assert record_clarify_choice("hmm, not sure", thread_id="t1", project=None, user=None) is None
    assert len(FeedbackLedger().corrections()) == 1
