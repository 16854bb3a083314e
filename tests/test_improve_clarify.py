"""A clarifying question answered with a choice becomes a routing correction."""

from __future__ import annotations

import dataclasses
from pathlib import Path

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


def test_the_route_node_records_the_choice_made_in_the_next_turn(tmp_path: Path) -> None:
    """Through the graph's route node: turn 1 asks, turn 2 picks, a correction is stored."""
    from langchain_core.messages import AIMessage, HumanMessage
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from router_fixtures import write_agent_catalog, write_router_config

    from nodes.router import Router, make_route_node
    from nodes.routing.model import Thresholds
    from nova.catalog import AgentSpec, load_specs
    from nova.state import NovaContext, NovaState

    root = tmp_path / "catalog"
    folder = write_agent_catalog(root / "agents")
    write_router_config(root / "router.yaml")
    catalog = load_specs(folder, AgentSpec)
    fitted = Router.from_catalog(catalog)
    never_sure = Router(
        catalog,
        fitted.config,
        dataclasses.replace(fitted.fitted, thresholds=Thresholds(1.01, 0.0, -1.0)),
    )
    routing = RoutingLedger()
    node = make_route_node(router=lambda: never_sure, ledger=routing, catalog=catalog)
    builder = StateGraph(NovaState, context_schema=NovaContext)
    builder.add_node("route", node)  # type: ignore[call-overload]
    builder.add_edge(START, "route")
    builder.add_edge("route", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t-choice"}}
    unclear = "Plan my Friday around the invoices call"
    first = graph.invoke(
        {"request": unclear, "messages": [HumanMessage(unclear)], "project": "parts-shop"},
        config,
        context=NovaContext(user_id="owner"),
    )
    question = first["route"]["question"]
    assert first["route"]["method"] == "clarify" and "daily planner" in question
    graph.invoke(
        {
            "request": "the daily planner one",
            "messages": [AIMessage(question), HumanMessage("the daily planner one")],
        },
        config,
        context=NovaContext(user_id="owner"),
    )
    [correction] = FeedbackLedger().corrections()
    assert correction.request == unclear and correction.agent == "daily_planner"
    assert correction.source == "clarify" and correction.user == "owner"
    assert correction.thread_id == "t-choice" and correction.project == "parts-shop"
