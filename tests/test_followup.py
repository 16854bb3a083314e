"""Conversations keep their place: the thread's project, follow-ups, and model-free answers.

The graph tests run Nova's real router (fitted once per session), real recall on the
shipped seed memories and the seeded sample ERP; no model is configured (``ScriptedModels``
with no scripts), as in a deployment without one.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from nodes.model_free import Findings, answer_without_model
from nodes.route_context import elliptical, next_thread_route
from nova.catalog import default_catalog
from nova.erp import models as m
from nova.erp.db import ErpDatabase
from nova.ledger.routing import RoutingLedger
from nova.models import ModelUnavailable
from nova.state import MemoryHit, NovaState
from nova.testing import route_to
from tests.thread_helpers import scripted_graph, turn

pytest_plugins = ("tests.erp_fixtures",)


# --- the thread's project ------------------------------------------------------------------


def test_a_thread_keeps_its_project_unless_a_run_names_another() -> None:
    graph = scripted_graph()
    first = turn(graph, "What is 2 + 2?", "t-project", project="parts-shop", agent="calculator")
    assert first["route"]["method"] == "explicit"
    values = graph.get_state({"configurable": {"thread_id": "t-project"}}).values
    assert values["project"] == "parts-shop"

    turn(graph, "and 3 + 3?", "t-project", agent="calculator")
    values = graph.get_state({"configurable": {"thread_id": "t-project"}}).values
    assert values["project"] == "parts-shop"

    turn(graph, "and 4 + 4?", "t-project", project="personal", agent="calculator")
    values = graph.get_state({"configurable": {"thread_id": "t-project"}}).values
    assert values["project"] == "personal"

    turn(graph, "What is 5 + 5?", "t-other", agent="calculator")
    values = graph.get_state({"configurable": {"thread_id": "t-other"}}).values
    assert values["project"] == "personal"  # NOVA_DEFAULT_PROJECT for a new thread


def test_cli_ask_thread_continues_in_the_threads_project() -> None:
    from nova.cli import app

    def ask(text: str, *project: str) -> str | None:
        args = ["ask", text, "--agent", "calculator", "--thread", "cli-t1", "--json", *project]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["project"]  # the new-thread notice is on stderr

    assert ask("What is 2 + 2?", "--project", "parts-shop") == "parts-shop"
    assert ask("and 3 + 3?") == "parts-shop"
    assert ask("and 4 + 4?", "--project", "client-work") == "client-work"
    assert ask("and 5 + 5?") == "client-work"


def test_cli_ask_says_when_the_thread_to_continue_holds_nothing() -> None:
    """A mistyped --thread must not silently start a new conversation."""
    from nova.cli import app

    def ask(thread: str) -> str:
        args = ["ask", "What is 2 + 2?", "--agent", "calculator", "--thread", thread]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    assert "No conversation 'cli-new' here yet: starting a new one" in ask("cli-new")
    assert "No conversation" not in ask("cli-new")  # now it holds the first turn


# --- follow-ups ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "elided"),
    [
        ("and the oldest one?", True),
        ("what about last month?", True),
        ("same for Nordwind", True),
        ("How about Kessler?", True),
        ("now polish", True),
        ("Which invoices are overdue for Baker & Sons?", False),
        ("what's 19% VAT on 200", False),
        ("translate this into French: Your order has shipped today, thanks", False),
        ("and then translate the whole product description below into French please", False),
    ],
)
def test_elliptical_follow_ups_are_recognised_by_their_form(text: str, elided: bool) -> None:
    assert (elliptical(text) is not None) is elided


@pytest.mark.parametrize(
    ("text", "only_names"),
    [
        ("same for Nordwind GmbH", True),
        ("what about last month?", True),
        ("and which customers are in Munich?", False),
        ("and the total?", False),
        ("and what's 19% VAT on 200?", False),
    ],
)
def test_a_fragment_naming_only_records_has_no_topic_of_its_own(
    erp_db: ErpDatabase, text: str, only_names: bool
) -> None:
    """Such a fragment keeps the thread's route even when its name resembles an example."""
    from nodes.router import _names_only_erp_records

    assert _names_only_erp_records(text) is only_names


def test_a_follow_up_extends_the_topic_and_a_fresh_route_replaces_it() -> None:
    first = route_to("erp_invoices", "erp")
    topic = next_thread_route(first, "Which invoices are overdue?", None)
    assert topic is not None and topic["anchor"] == "Which invoices are overdue?"
    asked = route_to(None, None, method="clarify")
    assert next_thread_route(asked, "hm, the thing?", topic) is None
    followup = route_to("erp_invoices", "erp", method="followup")
    extended = next_thread_route(followup, "and the oldest one?", topic)
    assert extended is not None
    assert extended["followups"] == ["and the oldest one?"]
    assert extended["route_id"] == topic["route_id"]
    fresh = next_thread_route(route_to("calculator", "chat"), "19% of 200", extended)
    assert fresh is not None and fresh["agent"] == "calculator" and fresh["followups"] == []


def _overdue(today: Any) -> Any:
    outstanding = m.Invoice.total_cents - m.Invoice.paid_cents
    return (
        select(m.Invoice, m.Customer)
        .join(m.Customer)
        .where(
            m.Invoice.status == "open",
            outstanding > 0,
            m.Invoice.due_date <= today - timedelta(days=1),
        )
    )


def test_a_follow_up_keeps_the_route_and_the_fast_path_inherits_the_customer(
    erp_db: ErpDatabase,
) -> None:
    from nova.erp.db import business_date

    with erp_db.read_session() as session:
        today = business_date(session)
        counts: dict[str, int] = {}
        for _, customer in session.execute(_overdue(today)).all():
            counts[customer.name] = counts.get(customer.name, 0) + 1
        ranked = sorted(counts, key=lambda name: (-counts[name], name))
        first, second = ranked[0], ranked[1]
        assert counts[first] >= 2, "the sample needs a customer with several overdue invoices"

        def oldest(name: str) -> str:
            row = session.execute(
                _overdue(today)
                .where(m.Customer.name == name)
                .order_by(m.Invoice.due_date, m.Invoice.number)
                .limit(1)
            ).first()
            assert row is not None
            return str(row[0].number)

        oldest_first, oldest_second = oldest(first), oldest(second)

    graph = scripted_graph()
    thread = "t-followup"
    opening = turn(graph, f"Which invoices are overdue for {first}?", thread, project="parts-shop")
    agent = opening["route"]["agent"]
    assert agent.startswith("erp_")
    assert opening["agent_run"]["outcome"] == "fast_path"
    assert len(opening["messages"][-1].additional_kwargs["erp"]["rows"]) == counts[first]

    followup = turn(graph, "and the oldest one?", thread)
    assert followup["route"]["method"] == "followup"
    assert followup["route"]["agent"] == agent
    assert followup["agent_run"]["outcome"] == "fast_path"
    rows = followup["messages"][-1].additional_kwargs["erp"]["rows"]
    assert [row["id"] for row in rows] == [oldest_first]

    swapped = turn(graph, f"same for {second}", thread)
    assert swapped["route"]["method"] == "followup"
    rows = swapped["messages"][-1].additional_kwargs["erp"]["rows"]
    assert [row["id"] for row in rows] == [oldest_second]

    records = RoutingLedger().list(method="followup")
    assert {record.thread_id for record in records} == {thread}

    fresh = turn(graph, "what's 19% VAT on 200", thread)
    assert fresh["route"]["method"] == "semantic"
    assert fresh["route"]["agent"] == "calculator"
    state = graph.get_state({"configurable": {"thread_id": thread}}).values
    assert state["thread_route"]["agent"] == "calculator"
    assert state["project"] == "parts-shop"


def test_a_follow_up_naming_only_a_record_keeps_the_threads_agent(erp_db: ErpDatabase) -> None:
    # "and uk?" alone reads like a localisation request; after a sales question it only
    # swaps the country, which the thread's ERP agent answers without a model.
    graph = scripted_graph()
    thread = "t-country"
    opening = turn(graph, "how much did we sell to france in h1", thread, project="parts-shop")
    agent = opening["route"]["agent"]
    assert agent.startswith("erp_")
    followup = turn(graph, "and uk?", thread)
    assert followup["route"]["method"] == "followup"
    assert followup["route"]["agent"] == agent
    assert followup["agent_run"]["outcome"] == "fast_path"


def test_the_biggest_one_of_a_listed_set_is_that_record(erp_db: ErpDatabase) -> None:
    from sqlalchemy import text

    with erp_db.read_session() as session:
        name, number = session.execute(
            text(
                "select s.name, po.number from purchase_orders po join suppliers s "
                "on s.id = po.supplier_id where po.status = 'ordered' and s.id = ("
                "select supplier_id from purchase_orders where status = 'ordered' "
                "group by supplier_id order by count(*) desc limit 1) "
                "order by po.total_cents desc limit 1"
            )
        ).one()
    graph = scripted_graph()
    thread = "t-biggest"
    turn(graph, f"what have we got on order from {name}", thread, project="parts-shop")
    biggest = turn(graph, "the biggest one?", thread)
    assert biggest["route"]["method"] == "followup"
    rows = biggest["messages"][-1].additional_kwargs["erp"]["rows"]
    assert [row["id"] for row in rows] == [number]


def test_naming_the_customer_nova_asked_about_answers_the_earlier_question(
    erp_db: ErpDatabase,
) -> None:
    from nova.erp.db import business_date

    with erp_db.read_session() as session:
        today = business_date(session)
        names = sorted(session.scalars(select(m.Customer.name)))
        heads: dict[str, list[str]] = {}
        for name in names:
            heads.setdefault(name.split()[0], []).append(name)
        head, namesakes = next((h, n) for h, n in heads.items() if len(n) > 1)
        chosen = namesakes[0]
        expected = [
            invoice.number
            for invoice, _ in session.execute(
                _overdue(today)
                .where(m.Customer.name == chosen)
                .order_by(m.Invoice.due_date, m.Invoice.number)
            ).all()
        ]

    graph = scripted_graph()
    thread = "t-which-customer"
    asked = turn(graph, f"Which invoices are overdue for {head}?", thread, project="parts-shop")
    assert asked["agent_run"]["outcome"] == "clarify"
    assert asked["answer"].endswith("?") and chosen in asked["answer"]

    answered = turn(graph, chosen, thread)
    assert answered["route"]["method"] == "followup"
    assert "answers the question Nova asked" in answered["route"]["reason"]
    assert answered["agent_run"]["outcome"] == "fast_path"
    assert answered["agent_run"]["detail"].startswith("erp_overdue_invoices")
    rows = answered["messages"][-1].additional_kwargs["erp"]["rows"]
    assert [row["id"] for row in rows] == expected


def test_route_log_lists_follow_up_decisions(erp_db: ErpDatabase) -> None:
    from nova.cli import app

    graph = scripted_graph()
    turn(graph, "Which invoices are overdue?", "t-log", project="parts-shop")
    turn(graph, "and the oldest one?", "t-log")
    result = CliRunner().invoke(app, ["route", "log"])
    assert result.exit_code == 0, result.output
    assert "followup" in result.output
    (record,) = RoutingLedger().list(method="followup")
    explained = CliRunner().invoke(app, ["route", "explain", record.id[:12]])
    assert explained.exit_code == 0, explained.output
    assert "followup" in explained.output
    assert "follow-up to route" in " ".join(explained.output.split())


# --- what Nova knows without a model -------------------------------------------------------


def test_who_is_our_accountant_is_answered_from_memory_not_the_erp(erp_db: ErpDatabase) -> None:
    graph = scripted_graph()
    result = turn(graph, "Who is our accountant?", "t-accountant", project="personal")
    route = result["route"]
    assert not route["agent"].startswith("erp_"), route
    assert route["method"] == "memory"
    memories = graph.get_state({"configurable": {"thread_id": "t-accountant"}}).values["memories"]
    hit = next(h for h in memories if "accountant" in h["text"])
    answer = result["answer"]
    assert hit["text"] in answer
    assert f"[mem:{hit['id']}]" in answer
    assert hit["created_at"][:10] in answer
    assert "a model would compose a fuller answer" in answer
    assert f"Route: {route['agent']} (method memory" in answer
    assert "Language: English (en)" in answer


def test_without_a_model_the_answer_shows_what_nova_found() -> None:
    spec = default_catalog()["erp_customers"]
    state = NovaState(
        request="Is Baker & Sons a good customer?",
        project="parts-shop",
        route=route_to("erp_customers", "erp", confidence=0.77),
        memories=[
            MemoryHit(
                id="abc",
                text="Baker & Sons usually pay 20 days late.",
                kind="fact",
                score=0.3,
                created_at="2025-05-04T10:00:00+00:00",
            )
        ],
    )
    findings = Findings(
        language="English (en)",
        glossary_terms=("Baker",),
        customers=("Baker & Sons Ltd (20002)",),
    )
    text = answer_without_model(spec, state, ModelUnavailable("erp_customers", "none"), findings)
    assert "From memory" not in text  # a weak hit is shown as found, not as the answer
    for part in (
        "Project: parts-shop",
        "Route: erp_customers (method semantic, confidence 0.77)",
        "Language: English (en)",
        "Glossary terms: Baker",
        "Customer: Baker & Sons Ltd (20002)",
        "Baker & Sons usually pay 20 days late. [mem:abc] (fact, saved 2025-05-04)",
        "needs a language model",
    ):
        assert part in text


def test_a_remembered_claim_in_an_erp_answer_says_the_erp_did_not_confirm_it() -> None:
    """A stored "largest customer" claim may be stale: it must not read as the ERP's answer."""
    hit = MemoryHit(
        id="n1",
        text="Nordwind GmbH is the largest parts shop customer by revenue.",
        kind="fact",
        score=0.8,
        created_at="2025-05-04T10:00:00+00:00",
    )

    def answer(agent: str, subgraph: str) -> str:
        state = NovaState(
            request="Who is our largest customer?",
            project="parts-shop",
            route=route_to(agent, subgraph, confidence=0.9),
            memories=[hit],
        )
        spec = default_catalog()[agent]
        return answer_without_model(spec, state, ModelUnavailable(agent, "none"), Findings())

    erp = " ".join(answer("erp_customers", "erp").split())
    assert "From memory (not checked against the ERP's current data" in erp
    assert hit["text"] in erp
    chat = " ".join(answer("general_chat", "chat").split())
    assert "From memory (no language model is configured" in chat


def test_find_context_reads_language_glossary_terms_and_the_named_customer(
    erp_db: ErpDatabase,
) -> None:
    from nodes.model_free import find_context

    with erp_db.read_session() as session:
        customer = session.scalars(select(m.Customer).order_by(m.Customer.id)).first()
        assert customer is not None
        name, number = customer.name, customer.number
    findings = find_context(
        f"Does {name} still order a Bremsscheibe every month from our Werkstatt?",
        "parts-shop",
        erp=True,
    )
    assert findings.language == "English (en)"
    assert set(findings.glossary_terms) == {"Bremsscheibe", "Werkstatt"}
    assert findings.customers == (f"{name} ({number})",)
    assert findings.problems == ()


def test_a_translation_follow_up_takes_the_earlier_text_into_the_language_it_names() -> None:
    # "now polish" names only a language: the same text, another target. Without a model
    # the answer shows what was prepared for the earlier text (source, target, kept tokens).
    graph = scripted_graph()
    turn(graph, "translate to french: Ihre Bestellung SO-4919 wurde heute versendet.", "tr-1")
    state = turn(graph, "now polish", "tr-1")
    assert state["route"]["method"] == "followup" and state["route"]["agent"] == "translator"
    answer = state["messages"][-1].content
    assert "Target: Polish (pl)" in answer and "SO-4919" in answer
    assert "Which text should I translate" not in answer
    # A new thread with the same words has no text to carry: it is asked for one.
    alone = turn(graph, "now translate it to polish", "tr-2")
    assert "Target: Polish" not in alone["messages"][-1].content


def test_a_new_thread_is_scoped_to_the_project_its_request_names() -> None:
    graph = scripted_graph()

    def project_of(thread: str) -> str:
        return graph.get_state({"configurable": {"thread_id": thread}}).values["project"]

    state = turn(graph, "signcraft trustpilot rating?", "named-1")
    assert project_of("named-1") == "sign-marketplace"
    assert "because the request names it ('signcraft')" in state["route"]["scope"]
    # A run that names its project keeps it.
    turn(graph, "signcraft trustpilot rating?", "named-2", project="parts-shop")
    assert project_of("named-2") == "parts-shop"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("signcraft trustpilot rating?", ("sign-marketplace", "signcraft")),
        ("rheintal erp release date", ("erp-product", "rheintal erp")),
        ("hoffmann portal deadline", ("client-work", "hoffmann portal")),
        # One word that is also an ERP supplier or customer names no project by itself.
        ("pro tier rheintal - price per user?", None),
        ("how much is the hoffmann invoice", None),
        # Ordinary words of a project's name ("Parts shop") name nothing; two projects neither.
        ("parts shop opening hours", None),
        ("signcraft vs rheintal erp revenue", None),
    ],
)
def test_a_project_is_named_by_its_brand_not_by_ordinary_words(
    text: str, expected: tuple[str, str] | None
) -> None:
    from nodes.route_context import named_project
    from nova.projects import load_projects

    found = named_project(
        text,
        load_projects(),
        default_project="personal",
        is_erp_name=lambda word: word in {"rheintal", "hoffmann"},
    )
    assert found == expected


@pytest.mark.parametrize(
    ("text", "erp_reads", "expected"),
    [
        # The ERP cannot read it: the brand word names the product's project.
        ("pro tier rheintal - price per user?", False, ("erp-product", "rheintal")),
        ("rheintal mrr in may?", False, ("erp-product", "rheintal")),
        # The ERP reads it (the supplier's purchase orders) or asks which record: no project.
        ("open pos with rheintal", True, None),
        ("how much is the hoffmann invoice", True, None),
    ],
)
def test_a_brand_word_the_erp_also_holds_names_the_project_when_the_erp_cannot_read_it(
    text: str, erp_reads: bool, expected: tuple[str, str] | None
) -> None:
    from nodes.route_context import named_project
    from nova.projects import load_projects

    found = named_project(
        text,
        load_projects(),
        default_project="personal",
        is_erp_name=lambda word: word in {"rheintal", "hoffmann"},
        erp_reads=lambda request: erp_reads,
    )
    assert found == expected


def test_the_erp_reads_a_suppliers_request_but_not_a_product_question(erp_db: ErpDatabase) -> None:
    from nodes.router import erp_reads

    assert erp_reads("open pos with rheintal")
    assert not erp_reads("rheintal mrr in may?")


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        # A first turn that only points back: nothing earlier to point at.
        ("remind them again", True),
        ("how much is it with vat", True),
        ("is that invoice paid", True),
        ("did he pay yet?", True),
        ("status of the order?", True),  # the one order already known: which?
        # The antecedent is in the request, it names something, or it brings a figure.
        ("whats the status of the order for hecker", False),
        ("what did the last order contain", False),
        ("anyone over their credit limit?", False),
        ("blocked customers that still owe money", False),
        ("any credit notes without a return behind them", False),
        ("what does nordwind owe on it", False),
        ("what's 19% VAT on it if it costs 200", False),
        ("translate it to german: Hallo Welt", False),
    ],
)
def test_a_first_turn_that_only_points_back_is_asked_what_it_means(text: str, asks: bool) -> None:
    from nodes.route_context import dangling_reference_decision

    routed = route_to("erp_pricing", "erp", confidence=0.9)
    decision = dangling_reference_decision(
        routed, text, earlier_turns=False, fallback_agent="general_chat"
    )
    assert (decision is not None) is asks
    if decision is not None:
        assert decision["method"] == "clarify" and decision["agent"] is None
        assert "no earlier turn" in str(decision["question"])
    # With earlier turns the follow-up logic reads it; small talk needs no referent.
    assert (
        dangling_reference_decision(routed, text, earlier_turns=True, fallback_agent="general_chat")
        is None
    )
    chat = route_to("general_chat", "chat", confidence=0.9)
    assert (
        dangling_reference_decision(chat, text, earlier_turns=False, fallback_agent="general_chat")
        is None
    )
