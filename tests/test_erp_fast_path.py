"""The model-free ERP fast path: when it answers, asks or declines; it never calls a model."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.types import Command
from rich.console import Console
from sqlalchemy import func, select

from nodes.erp_fast_path import FAST_PATH_KEY, make_erp_fast_path_node, render_erp_answer
from nova.erp import models as m
from nova.erp.db import ErpDatabase
from nova.state import NovaContext, NovaState, RouteDecision, RouteMethod
from nova.testing import route_to

pytest_plugins = ("tests.erp_fixtures",)


def route(
    agent: str | None, method: RouteMethod = "semantic", confidence: float = 0.93
) -> RouteDecision:
    return route_to(agent, "erp", method=method, confidence=confidence, margin=0.5)


def graph_with(database: ErpDatabase, **options: Any) -> Any:
    builder = StateGraph(NovaState, context_schema=NovaContext)
    builder.add_node("fast_path", make_erp_fast_path_node(database=database, **options))
    builder.add_edge(START, "fast_path")
    return builder.compile(checkpointer=InMemorySaver())


def ask(
    graph: Any, text: str, agent: str | None, method: str = "semantic", thread: str = "t"
) -> dict[str, Any]:
    state = {"messages": [HumanMessage(text)], "request": text, "route": route(agent, method)}
    return graph.invoke(state, {"configurable": {"thread_id": thread}})


@pytest.fixture(autouse=True)
def _no_model_ever(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path must not build a model, scripted or real."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the fast path asked for a model")

    monkeypatch.setattr("nova.models.build_chat_model", refuse)
    monkeypatch.setattr("nova.models.default_model_factory", refuse)


def test_answers_from_the_rows_with_structured_result(erp_db: ErpDatabase) -> None:
    values = ask(
        graph_with(erp_db), "Which invoices are overdue for Nordwind GmbH?", "erp_invoices"
    )
    message = values["messages"][-1]
    assert isinstance(message, AIMessage) and message.name == "erp_invoices"
    run = values["agent_run"]
    assert run["outcome"] == "fast_path" and run["model"] is None and run["steps"] == 0
    assert values["answer"] == message.content
    payload = message.additional_kwargs["erp"]
    assert message.additional_kwargs[FAST_PATH_KEY] == {
        "skill": "erp_overdue_invoices",
        "args": {"customer": "20001", "min_days_overdue": 1, "limit": 25},
        "rule": "overdue invoices",
    }
    for row_id in payload["row_ids"]:
        assert row_id in message.content
    with erp_db.read_session() as session:
        expected = session.scalar(
            select(func.count()).where(
                m.Invoice.customer_id == 1,
                m.Invoice.status == "open",
                m.Invoice.due_date < "2025-06-30",
                m.Invoice.paid_cents < m.Invoice.total_cents,
            )
        )
    assert payload["total_rows"] == expected


@pytest.mark.parametrize("method", ["llm", "clarify", "fallback"])
def test_declines_unless_the_router_was_confident(erp_db: ErpDatabase, method: str) -> None:
    assert (
        ask(graph_with(erp_db), "Show me invoice INV-2025-00001", "erp_invoices", method).get(
            "agent_run"
        )
        is None
    )


def test_declines_for_agents_without_erp_skills_and_below_the_floor(erp_db: ErpDatabase) -> None:
    assert (
        ask(graph_with(erp_db), "Show me invoice INV-2025-00001", "general_chat").get("agent_run")
        is None
    )
    strict = graph_with(erp_db, min_confidence=0.99)
    assert ask(strict, "Show me invoice INV-2025-00001", "erp_invoices").get("agent_run") is None


@pytest.mark.parametrize(
    "text",
    [
        "How are we doing this month?",
        "Give me the overdue invoices grouped by customer",
        "Show overdue invoices for Nordwind and the stock of BRK-2210",
        "What is the status of invoice 10482?",
        "Compare invoices issued in January and February",
        "Which invoices are not overdue for Nordwind?",
        "Show invoices for '; DROP TABLE invoices; --",
        "Show me invoice INV-2025-00412 and INV-2025-00413",
        "Show invoices for Nordwind GmbH and Baker & Sons",
        "Which invoices are due?",
        # December without a year: the one six months back or the one five months ahead.
        # ("due in July" on 30 June is the coming July: tests/test_erp_record_filters.py.)
        "invoices due in December",
    ],
)
def test_declines_vague_multi_part_and_unreadable_requests(erp_db: ErpDatabase, text: str) -> None:
    assert ask(graph_with(erp_db), text, "erp_invoices").get("agent_run") is None


@pytest.mark.parametrize(
    ("text", "agent", "needle"),
    [
        ("What does Müller owe us?", "erp_customers", "Müller Metallbau GmbH (20005)"),
        ("Show open invoices for Kessler", "erp_invoices", "Keßler Autoteile e.K."),
        ("Show the balance of Zyxel Motors", "erp_customers", "'Zyxel Motors'"),
        ("Payments since 2025-13-45", "erp_payments", "'2025-13-45'"),
        ("Show me invoice INV-2025-99999", "erp_invoices", "No invoice INV-2025-99999"),
        (
            "Create a purchase order for 0 x BRK-2210 from Rheintal Bearings",
            "erp_purchasing",
            "at least 1 piece",
        ),
        (
            "Please order 5000000 pieces BRK-2210 at Rheintal Bearings",
            "erp_purchasing",
            "implausible",
        ),
    ],
)
def test_asks_instead_of_guessing(erp_db: ErpDatabase, text: str, agent: str, needle: str) -> None:
    values = ask(graph_with(erp_db), text, agent)
    assert values["agent_run"]["outcome"] == "clarify"
    assert needle in values["answer"]


def test_a_fully_specified_write_still_needs_approval(erp_db: ErpDatabase) -> None:
    graph = graph_with(erp_db)
    config = {"configurable": {"thread_id": "fp-write"}}
    with erp_db.read_session() as session:
        before = session.scalar(select(func.count()).select_from(m.PurchaseOrder))
    text = "Create a purchase order for 40 x BRK-2210 from Rheintal Bearings"
    paused = graph.invoke(
        {"messages": [HumanMessage(text)], "request": text, "route": route("erp_purchasing")},
        config,
    )
    change = paused["__interrupt__"][0].value["change"]
    assert change["action"] == "create_purchase_order" and "BRK-2210" in change["target_ids"]
    done = graph.invoke(Command(resume={"approved": True, "approver": "Jo"}), config)
    assert done["agent_run"]["outcome"] == "fast_path"
    assert done["messages"][-1].additional_kwargs["erp_write"]["status"] == "applied"
    with erp_db.read_session() as session:
        assert session.scalar(select(func.count()).select_from(m.PurchaseOrder)) == before + 1


def test_write_parameters_must_be_explicit_and_possible(erp_db: ErpDatabase) -> None:
    graph = graph_with(erp_db)
    no_reason = "Adjust the stock of BRK-2210 in the main warehouse to 40"
    assert ask(graph, no_reason, "erp_inventory").get("agent_run") is None
    negative = ask(
        graph, "Record a payment of -50 EUR for INV-2025-00001", "erp_payments", thread="neg"
    )
    assert negative["agent_run"]["outcome"] == "clarify"
    assert "more than 0 EUR" in negative["answer"] and "Nothing was changed" in negative["answer"]
    below_zero = ask(
        graph,
        "Adjust the stock of BRK-2210 in MAIN to -5, reason: count",
        "erp_inventory",
        thread="z",
    )
    assert "new_quantity must be between 0" in below_zero["answer"]


def test_writes_can_be_kept_off_the_fast_path(erp_db: ErpDatabase) -> None:
    graph = graph_with(erp_db, allow_writes=False)
    text = "Create a purchase order for 40 x BRK-2210 from Rheintal Bearings"
    assert ask(graph, text, "erp_purchasing").get("agent_run") is None


def test_cli_renderer_draws_the_rows_as_a_table(erp_db: ErpDatabase) -> None:
    values = ask(
        graph_with(erp_db), "Which products are below their reorder point?", "erp_inventory"
    )
    console = Console(record=True, width=160)
    console.print(render_erp_answer(values["messages"][-1]))
    output = console.export_text()
    assert "Below reorder point" in output and "Reorder point" in output
    for row_id in values["messages"][-1].additional_kwargs["erp"]["row_ids"][:3]:
        assert row_id in output
    console.print(render_erp_answer(AIMessage("plain text answer")))
    assert "plain text answer" in console.export_text()


@pytest.mark.parametrize(
    ("migrate", "cause", "fix"),
    [
        (True, "is empty (never seeded)", "`nova erp seed`"),
        (False, "has no ERP tables (never migrated)", "`nova erp migrate` then `nova erp seed`"),
        (None, "has no ERP tables (never migrated)", "`nova erp migrate` then `nova erp seed`"),
    ],
    ids=["unseeded", "unmigrated", "no-file"],
)
def test_an_unready_database_is_named_with_the_fix_by_fast_path_and_tools(
    tmp_path: Any, migrate: bool | None, cause: str, fix: str
) -> None:
    import sqlite3

    from nova.ledger.failures import FailureLedger
    from tools.erp import build_tools

    if migrate is False:
        sqlite3.connect(tmp_path / "erp.sqlite").close()  # a database file without the schema
    database = ErpDatabase(f"sqlite:///{tmp_path / 'erp.sqlite'}", migrate=bool(migrate))
    try:
        # The user's report: "No invoice INV-2025-00412; check the number", on a server
        # whose ERP database was never seeded.
        values = ask(graph_with(database), "Show me invoice INV-2025-00412", "erp_invoices")
        answer = values["messages"][-1].content
        assert f"The ERP database {database.display_url} {cause}" in answer and fix in answer
        assert "No invoice" not in answer and values["agent_run"]["outcome"] == "error"
        [record] = FailureLedger().list(thread_id="t")
        assert record.error_type == "ErpNotReady" and record.id[:12] in answer

        tools = {tool.name: tool for tool in build_tools(lambda: database)}
        for name, args in (
            ("erp_invoice_lookup", {"invoice_number": "INV-2025-00412"}),
            ("erp_record_payment", {"invoice_number": "INV-2025-00412", "amount": 10}),
        ):
            call = {"name": name, "args": args, "id": f"c-{name}", "type": "tool_call"}
            message = tools[name].invoke(call)
            assert message.status == "error" and cause in message.content, message.content
            assert fix in message.content
    finally:
        database.dispose()


def test_a_database_filled_later_is_answered_at_once(tmp_path: Any) -> None:
    from datetime import date

    database = ErpDatabase(f"sqlite:///{tmp_path / 'erp.sqlite'}")
    try:
        assert "never seeded" in (database.setup_problem() or "")
        with database.write_session() as session:
            customer = m.Customer(
                number="C-1", name="First", country="DE", created_on=date(2025, 1, 2)
            )
            session.add(customer)
        # An empty verdict is not remembered: the first customer makes it ready.
        assert database.setup_problem() is None
    finally:
        database.dispose()


def test_an_answer_in_a_project_the_route_chose_says_so(erp_db: ErpDatabase) -> None:
    text = "Which invoices are overdue for Nordwind GmbH?"
    scoped = {**route("erp_invoices"), "scope": "parts-shop, because no project was named"}
    state = {"messages": [HumanMessage(text)], "request": text, "route": scoped}
    values = graph_with(erp_db).invoke(state, {"configurable": {"thread_id": "scoped"}})
    message = values["messages"][-1]
    assert values["answer"].endswith("\nProject: parts-shop, because no project was named.")
    assert message.content == values["answer"]
    assert message.additional_kwargs[FAST_PATH_KEY]["skill"] == "erp_overdue_invoices"
    plain = ask(graph_with(erp_db), text, "erp_invoices", thread="plain")
    assert "Project:" not in plain["answer"]


def test_one_record_asked_and_several_found_goes_to_the_model(full_erp: ErpDatabase) -> None:
    graph = graph_with(full_erp)
    assert ask(graph, "where is my parcel for nordwind", "erp_shipping").get("agent_run") is None
    answered = ask(graph, "shipments to nordwind", "erp_shipping", thread="t2")
    assert answered["agent_run"]["outcome"] == "fast_path"
