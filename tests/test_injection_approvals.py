"""Approvals show the request, the agent, every value and its source (real supervisor graph)."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy import select

from graphs.common import build_agent_subgraph
from graphs.nova import build_nova_graph
from nova.erp import models as m
from nova.erp.db import ErpDatabase
from nova.state import NovaContext
from nova.testing import ScriptedChatModel, ScriptedModels, calls, route_to, says, tool_call

pytest_plugins = ("tests.erp_fixtures",)


def _open_invoice(database: ErpDatabase) -> str:
    with database.read_session() as session:
        query = select(m.Invoice.number).where(m.Invoice.status == "open").order_by(m.Invoice.id)
        return str(session.scalars(query).first())


def _pending(graph: object, config: dict[str, object]) -> list[object]:
    state = graph.get_state(config)  # type: ignore[attr-defined]
    return [i.value for t in state.tasks for i in t.interrupts]


def test_an_erp_approval_shows_request_agent_and_every_value_with_its_source(
    erp_db: ErpDatabase,
) -> None:
    invoice = _open_invoice(erp_db)
    request = f"Please book a card payment of 12.34 EUR on {invoice}, thanks"
    model = ScriptedChatModel.from_script(
        [
            calls(
                tool_call(
                    "erp_record_payment",
                    invoice_number=invoice,
                    amount="12.34",
                    method="card",
                    reference="REF-77123-XQ",
                )
            ),
            *[says("Done.")] * 3,
        ]
    )
    # The ERP agent loop without its fast path, so the model's own call reaches the gate.
    graph = build_agent_subgraph(
        "erp", model_factory=ScriptedModels({"erp_payments": model})
    ).compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "approval-review"}}
    graph.invoke(
        {
            "messages": [HumanMessage(request)],
            "request": request,
            "project": "parts-shop",
            "route": route_to("erp_payments", "erp"),
        },
        config,
        context=NovaContext(project="parts-shop"),
    )
    (payload,) = _pending(graph, config)
    review = payload["review"]  # type: ignore[index]
    assert review["request"] == request
    assert review["agent"] == "erp_payments"
    values = {v["field"]: v for v in review["values"]}
    assert set(values) >= {"invoice_number", "amount", "method", "reference"}
    assert values["amount"]["source"] == "your request"
    assert values["invoice_number"]["trust"] == "trusted"
    # The reference is written too, and the approval says nobody supplied it.
    assert values["reference"]["value"] == "REF-77123-XQ"
    assert values["reference"]["trust"] == "model"


def test_erp_tools_are_refused_in_a_project_that_does_not_own_the_erp(erp_db: ErpDatabase) -> None:
    model = ScriptedChatModel.from_script(
        [calls(tool_call("erp_find_customer", query="Acme")), says("Here you go.")]
    )
    graph = build_nova_graph(model_factory=ScriptedModels({"email_drafter": model})).compile(
        checkpointer=InMemorySaver()
    )
    result = graph.invoke(
        {"messages": [HumanMessage("Draft a note to Acme about the portal")]},
        {"configurable": {"thread_id": "scope"}},
        context=NovaContext(project="client-work", agent="email_drafter"),
    )
    refused = [msg for msg in result["messages"] if getattr(msg, "name", "") == "erp_find_customer"]
    assert refused and refused[0].status == "error"
    assert "belongs to projects that declare it" in refused[0].content


@pytest.mark.parametrize("project", ["parts-shop", "personal"])
def test_the_projects_that_own_the_erp_still_read_it(erp_db: ErpDatabase, project: str) -> None:
    with erp_db.read_session() as session:
        name = str(session.scalars(select(m.Customer.name).order_by(m.Customer.id)).first())
    model = ScriptedChatModel.from_script(
        [calls(tool_call("erp_find_customer", query=name)), says("Found them.")]
    )
    graph = build_nova_graph(model_factory=ScriptedModels({"email_drafter": model})).compile(
        checkpointer=InMemorySaver()
    )
    result = graph.invoke(
        {"messages": [HumanMessage("Draft a note to our customers")]},
        {"configurable": {"thread_id": "owner"}},
        context=NovaContext(project=project, agent="email_drafter"),
    )
    found = [msg for msg in result["messages"] if getattr(msg, "name", "") == "erp_find_customer"]
    assert found and found[0].status != "error"
