"""Routing by the ERP reading (``nodes.erp_route``): what the fast path reads goes to the ERP."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

import pytest

from evals.erp_owner_eval import owner_graph, serve
from nodes.erp_route import erp_plan_decision, owning_read_skill, planned_read_skill
from nova.catalog import default_catalog
from nova.erp.db import ErpDatabase
from nova.state import RouteCandidate, RouteDecision
from nova.testing import route_to

pytest_plugins = ("tests.erp_fixtures",)

ROUTING = Path(__file__).parents[1] / "evals" / "datasets" / "routing.jsonl"


def _never(text: str) -> str | None:
    raise AssertionError(f"the reader was asked about {text!r}")


def _abstained(*candidates: tuple[str, float]) -> RouteDecision:
    decision = route_to(None, None, method="clarify", confidence=0.12)
    decision["candidates"] = [RouteCandidate(agent=a, score=s) for a, s in candidates]
    return decision


def test_an_abstention_the_reader_plans_goes_to_the_agent_owning_the_skill() -> None:
    catalog = default_catalog()
    moved = erp_plan_decision(
        _abstained(("general_chat", 0.12)),
        "peltier owes?",
        catalog,
        plan_skill=lambda text: "erp_customer_balance",
        allows=lambda agent: True,
    )
    assert moved is not None
    assert moved["method"] == "erp_plan"
    assert moved["subgraph"] == "erp"
    assert "erp_customer_balance" in catalog[str(moved["agent"])].tools
    assert moved["reason"].startswith("the ERP fast path reads it in full")
    assert "(erp_customer_balance)" in moved["reason"]
    assert "classifier: test" in moved["reason"]  # the classifier's reading is kept beside it
    assert "question" not in moved  # the abstention's question is not asked any more


def test_the_classifier_ranks_the_agents_that_own_the_skill() -> None:
    catalog = default_catalog()
    owners = [s.name for s in catalog if s.subgraph == "erp" and "erp_query" in s.tools]
    assert len(owners) >= 2, owners  # the query skill is shared: the ranking must decide
    last = owners[-1]
    moved = erp_plan_decision(
        _abstained((owners[0], 0.05), (last, 0.2)),
        "dobes open amount",
        catalog,
        plan_skill=lambda text: "erp_query",
        allows=lambda agent: True,
    )
    assert moved is not None and moved["agent"] == last
    assert moved["confidence"] == pytest.approx(0.2)  # the classifier's own score, not 1


def test_an_erp_pick_whose_skills_cannot_answer_gives_way_to_the_one_that_can(
    full_erp: ErpDatabase,
) -> None:
    catalog = default_catalog()

    def plan(text: str) -> str | None:
        with full_erp.read_session() as session:
            return planned_read_skill(text, session)

    def agent_reads(text: str, tools: Collection[str]) -> bool:
        with full_erp.read_session() as session:
            return planned_read_skill(text, session, tools) is not None

    request = "top hydraulics product this yr"
    skill = plan(request)
    assert skill is not None and skill not in catalog["erp_purchasing"].tools
    picked = route_to("erp_purchasing", "erp", confidence=0.6)
    moved = erp_plan_decision(
        picked, request, catalog, plan_skill=plan, allows=lambda a: True, agent_reads=agent_reads
    )
    assert moved is not None and moved["method"] == "erp_plan"
    assert skill in catalog[str(moved["agent"])].tools
    # The agent picked reads it with its own skills: the classifier's pick stands.
    own = route_to("erp_invoices", "erp", confidence=0.6)
    assert (
        erp_plan_decision(
            own,
            "open invoices for nordwind",
            catalog,
            plan_skill=plan,
            allows=lambda a: True,
            agent_reads=agent_reads,
        )
        is None
    )


def test_an_erp_pick_a_decline_or_no_enabled_owner_leaves_the_decision() -> None:
    catalog = default_catalog()
    picked = route_to("erp_invoices", "erp")
    assert erp_plan_decision(picked, "x", catalog, plan_skill=_never, allows=lambda a: True) is None
    chat = route_to("general_chat", "chat", confidence=0.4)
    assert (
        erp_plan_decision(chat, "hello", catalog, plan_skill=lambda t: None, allows=lambda a: True)
        is None
    )
    nothing_enabled = erp_plan_decision(
        chat, "peltier owes?", catalog, plan_skill=lambda t: "erp_query", allows=lambda a: False
    )
    assert nothing_enabled is None


def test_the_reader_plans_no_request_meant_for_another_agent(full_erp: ErpDatabase) -> None:
    """Measured: of the routing dataset's requests for agents outside the ERP, none is planned.

    Nor asked about: the skill a name question would be answered with (``owning_read_skill``,
    what the route uses) is ``None`` for each of them.
    """
    lines = [json.loads(line) for line in ROUTING.read_text(encoding="utf-8").splitlines()]
    others = [x["text"] for x in lines if not str(x.get("agent") or "").startswith("erp_")]
    assert len(others) > 800
    with full_erp.read_session() as session:
        planned = {
            text: planned_read_skill(text, session) or owning_read_skill(text, session)
            for text in others
        }
    assert [(text, skill) for text, skill in planned.items() if skill] == []


def test_owner_shorthand_the_classifier_misses_is_answered_from_the_erp(
    full_erp: ErpDatabase,
) -> None:
    graph = owner_graph(full_erp)
    served = serve("peltier owes?", graph)
    assert (served.outcome, served.method, served.skill) == (
        "answer", "erp_plan", "erp_customer_balance",
    ), served  # fmt: skip
    assert "Peltier" in served.text
    # A request the reader declines keeps the classifier's decision.
    assert serve("write a haiku about brake pads", graph).outcome == "not-erp"


def test_a_shared_query_goes_to_the_agent_whose_records_it_asks_about(
    full_erp: ErpDatabase,
) -> None:
    """Every ERP agent has erp_query: the subject of the query says whose request it is."""
    from nova.erp.skills import READ_SKILLS
    from nova.erp.skills.query import HOME_SKILLS, SALES_SKILL

    catalog = default_catalog()
    assert set(HOME_SKILLS.values()) | {SALES_SKILL} <= set(READ_SKILLS)

    def plan(text: str) -> str | None:
        with full_erp.read_session() as session:
            return owning_read_skill(text, session)

    def agent_reads(text: str, tools: Collection[str]) -> bool:
        with full_erp.read_session() as session:
            return planned_read_skill(text, session, tools) is not None

    # Sales to a country: a query over orders' value, the reporting agent's domain, even
    # though the payments agent the classifier picked could run the same query.
    request = "how much did we sell to france in h1"
    assert plan(request) == SALES_SKILL
    moved = erp_plan_decision(
        route_to("erp_payments", "erp", confidence=0.44),
        request,
        catalog,
        plan_skill=plan,
        allows=lambda a: True,
        agent_reads=agent_reads,
    )
    assert moved is not None and moved["agent"] == "erp_reporting"
    # Payments received on a day are the payments agent's own records.
    assert plan("what came in on friday") == "erp_payment_history"
    # Orders listed as they are belong to the order agent and to reporting alike.
    assert plan("how many orders from austria last month") == "erp_query"
