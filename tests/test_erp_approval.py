"""ERP writes pause for human approval and apply exactly once (real graphs, scripted model)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nova.erp import models as m
from nova.erp.approval import InvalidApproval
from nova.erp.db import ErpDatabase
from nova.erp.writes import WRITE_SKILLS
from nova.testing import ScriptedChatModel, calls, says, tool_call
from tests.erp_helpers import agent_graph
from tools.erp import build_tools, write_tool

pytest_plugins = ("tests.erp_fixtures",)

APPROVE = {"approved": True, "approver": "Anna Berger"}


def snapshot(database: ErpDatabase) -> dict[str, int]:
    with database.read_session() as session:
        rows = {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (
                m.Payment,
                m.PurchaseOrder,
                m.PurchaseOrderLine,
                m.InvoiceReminder,
                m.StockMovement,
                m.AuditLog,
                m.IdempotencyRecord,
            )
        }
        rows["paid_cents"] = session.scalar(select(func.sum(m.Invoice.paid_cents)))
        rows["on_hand"] = session.scalar(select(func.sum(m.StockLevel.on_hand)))
    return rows


def open_invoice(database: ErpDatabase, *, overdue: bool = False) -> m.Invoice:
    with database.read_session() as session:
        query = select(m.Invoice).where(
            m.Invoice.status == "open", m.Invoice.total_cents - m.Invoice.paid_cents > 5000
        )
        if overdue:
            query = query.where(m.Invoice.due_date < func.date("2025-06-30"))
        return session.scalars(query.order_by(m.Invoice.id)).first()


def payment_call(invoice: m.Invoice) -> Any:
    return tool_call(
        "erp_record_payment", invoice_number=invoice.number, amount="12.34", method="card"
    )


def graph_for(call: Any, database: ErpDatabase | None = None, checkpointer: Any = None) -> Any:
    # Extra closing turns: replays and re-runs let the model speak again after the tool.
    model = ScriptedChatModel.from_script([calls(call), *[says("Done.")] * 4])
    tools = build_tools(lambda: database) if database else build_tools()
    return agent_graph(model, tools, checkpointer)


def tool_messages(values: dict[str, Any]) -> list[ToolMessage]:
    return [msg for msg in values["messages"] if isinstance(msg, ToolMessage)]


def test_approval_pauses_with_the_exact_change_then_applies_once(erp_db: ErpDatabase) -> None:
    invoice = open_invoice(erp_db)
    before = snapshot(erp_db)
    graph = graph_for(payment_call(invoice), erp_db)
    config = {"configurable": {"thread_id": "pay-1"}}
    paused = graph.invoke({"messages": [HumanMessage("Book 12.34 by card")]}, config)
    request = paused["__interrupt__"][0].value
    change = request["change"]
    assert request["type"] == "erp_write_approval"
    assert change["action"] == "record_payment" and change["target_ids"] == [invoice.number]
    assert change["amounts"] == {"amount": "12.34"}
    assert change["before"]["paid"] == f"{invoice.paid_cents / 100:.2f}"
    assert change["after"]["paid"] == f"{(invoice.paid_cents + 1234) / 100:.2f}"
    assert snapshot(erp_db) == before, "nothing may be written before approval"

    done = graph.invoke(Command(resume=APPROVE), config)
    assert "approved by Anna Berger" in tool_messages(done)[-1].content
    after = snapshot(erp_db)
    assert after["payments"] == before["payments"] + 1
    assert after["paid_cents"] == before["paid_cents"] + 1234
    with erp_db.read_session() as session:
        (audit,) = session.scalars(select(m.AuditLog)).all()
        assert audit.approver == "Anna Berger" and audit.action == "record_payment"
        assert audit.thread_id == "pay-1" and invoice.number in audit.target_ids
        assert session.get(m.IdempotencyRecord, audit.idempotency_key) is not None


def test_rejection_changes_nothing(erp_db: ErpDatabase) -> None:
    graph = graph_for(payment_call(open_invoice(erp_db)), erp_db)
    config = {"configurable": {"thread_id": "pay-reject"}}
    before = snapshot(erp_db)
    graph.invoke({"messages": [HumanMessage("pay")]}, config)
    done = graph.invoke(Command(resume={"approved": False, "reason": "amount is wrong"}), config)
    assert "Rejected: amount is wrong. Nothing was changed." in tool_messages(done)[-1].content
    assert snapshot(erp_db) == before


def test_resuming_twice_and_replaying_the_pause_apply_once(erp_db: ErpDatabase) -> None:
    graph = graph_for(payment_call(open_invoice(erp_db)), erp_db)
    config = {"configurable": {"thread_id": "pay-twice"}}
    before = snapshot(erp_db)
    graph.invoke({"messages": [HumanMessage("pay")]}, config)
    paused_at = graph.get_state(config).config
    graph.invoke(Command(resume=APPROVE), config)
    once = snapshot(erp_db)
    graph.invoke(Command(resume=APPROVE), config)  # a second resume of the same thread
    replay = graph.invoke(Command(resume=APPROVE), paused_at)  # resume the paused checkpoint again
    assert "Already done, nothing changed now" in tool_messages(replay)[-1].content
    assert snapshot(erp_db) == once
    assert once["payments"] == before["payments"] + 1 and once["audit_log"] == 1


class CrashAfterCommit(ErpDatabase):
    """A database whose first write transaction commits and then 'crashes' the process."""

    crashes = 1

    @contextmanager
    def write_session(self) -> Iterator[Session]:
        with super().write_session() as session:
            yield session
        if self.crashes:
            self.crashes -= 1
            raise RuntimeError("simulated crash after commit, before the checkpoint")


def test_rerun_after_a_crash_between_commit_and_checkpoint_applies_once(
    erp_url: str, tmp_path
) -> None:
    crashing = CrashAfterCommit(erp_url)
    invoice = open_invoice(crashing)
    before = snapshot(crashing)
    call = payment_call(invoice)
    checkpoints = sqlite3.connect(tmp_path / "checkpoints.sqlite", check_same_thread=False)
    config = {"configurable": {"thread_id": "pay-crash"}}
    graph = graph_for(call, crashing, SqliteSaver(checkpoints))
    graph.invoke({"messages": [HumanMessage("pay")]}, config)
    with pytest.raises(RuntimeError, match="simulated crash"):
        graph.invoke(Command(resume=APPROVE), config)
    committed = snapshot(crashing)
    assert committed["payments"] == before["payments"] + 1
    # A new process: fresh graph and model on the same durable checkpoints, resumed again.
    restarted = graph_for(call, crashing, SqliteSaver(checkpoints))
    values = restarted.invoke(Command(resume=APPROVE), config)
    assert "Already done" in tool_messages(values)[-1].content
    assert snapshot(crashing) == committed
    crashing.dispose()


def test_an_approval_must_name_the_approver(erp_db: ErpDatabase) -> None:
    graph = graph_for(payment_call(open_invoice(erp_db)), erp_db)
    config = {"configurable": {"thread_id": "pay-anonymous"}}
    before = snapshot(erp_db)
    graph.invoke({"messages": [HumanMessage("pay")]}, config)
    with pytest.raises(InvalidApproval, match="must name the approver"):
        graph.invoke(Command(resume={"approved": True}), config)
    assert snapshot(erp_db) == before
    graph.invoke(Command(resume=APPROVE), config)
    assert snapshot(erp_db)["payments"] == before["payments"] + 1


def run_approved(database: ErpDatabase, call: Any, thread: str) -> str:
    graph = graph_for(call, database)
    config = {"configurable": {"thread_id": thread}}
    paused = graph.invoke({"messages": [HumanMessage("do it")]}, config)
    assert "__interrupt__" in paused, (
        tool_messages(paused)[-1].content if tool_messages(paused) else paused
    )
    return tool_messages(graph.invoke(Command(resume=APPROVE), config))[-1].content


def test_purchase_order_reminder_and_stock_adjustment(erp_db: ErpDatabase) -> None:
    before = snapshot(erp_db)
    with erp_db.read_session() as session:
        supplier = session.scalars(select(m.Supplier).order_by(m.Supplier.id)).first()
        level = session.scalars(select(m.StockLevel).where(m.StockLevel.on_hand > 5)).first()
        product = session.get(m.Product, level.product_id)
    message = run_approved(
        erp_db,
        tool_call(
            "erp_create_purchase_order",
            supplier=supplier.name,
            lines=[{"product": product.sku, "quantity": 24}],
            warehouse="MAIN",
        ),
        "po",
    )
    assert "PO-2025-" in message
    invoice = open_invoice(erp_db, overdue=True)
    message = run_approved(
        erp_db, tool_call("erp_send_invoice_reminder", invoice_number=invoice.number), "rem"
    )
    assert invoice.number in message and "reminder no. 1" in message
    run_approved(
        erp_db,
        tool_call(
            "erp_adjust_stock",
            product=product.sku,
            warehouse=level.warehouse,
            change=-2,
            reason="2 damaged",
        ),
        "adj",
    )
    after = snapshot(erp_db)
    assert after["purchase_orders"] == before["purchase_orders"] + 1
    assert after["purchase_order_lines"] == before["purchase_order_lines"] + 1
    assert after["invoice_reminders"] == before["invoice_reminders"] + 1
    assert after["on_hand"] == before["on_hand"] - 2
    assert after["stock_movements"] == before["stock_movements"] + 1
    assert after["audit_log"] == 3
    with erp_db.read_session() as session:
        po = session.scalars(select(m.PurchaseOrder).order_by(m.PurchaseOrder.id.desc())).first()
        assert po.created_by == "Anna Berger" and po.total_cents == 24 * product.cost_cents
        reminder = session.scalars(select(m.InvoiceReminder)).one()
        assert reminder.status == "sent" and reminder.level == 1 and reminder.sent_at is not None
        movement = session.scalars(
            select(m.StockMovement).order_by(m.StockMovement.id.desc())
        ).first()
        assert (
            movement.quantity == -2
            and movement.note == "2 damaged"
            and movement.kind == "adjustment"
        )


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        (
            "erp_create_purchase_order",
            {"supplier": "S-101", "lines": [{"product": "BRK-2210", "quantity": 0}]},
            "at least 1 piece",
        ),
        (
            "erp_create_purchase_order",
            {"supplier": "S-101", "lines": [{"product": "BRK-2210", "quantity": -5}]},
            "at least 1 piece",
        ),
        (
            "erp_create_purchase_order",
            {"supplier": "S-101", "lines": [{"product": "BRK-2210", "quantity": 10_000_000}]},
            "implausible",
        ),
        (
            "erp_adjust_stock",
            {"product": "BRK-2210", "warehouse": "MAIN", "change": 0, "reason": "count"},
            "must not be 0",
        ),
        (
            "erp_adjust_stock",
            {"product": "BRK-2210", "warehouse": "MAIN", "change": -999_999, "reason": "x" * 5},
            "implausible",
        ),
        (
            "erp_adjust_stock",
            {"product": "BRK-2210", "warehouse": "MAIN", "change": -99_999, "reason": "count"},
            "would leave",
        ),
        (
            "erp_record_payment",
            {"invoice_number": "INV-2025-00001", "amount": "-5"},
            "more than 0 EUR",
        ),
        (
            "erp_record_payment",
            {"invoice_number": "INV-2025-00001", "amount": "99999999"},
            "implausible",
        ),
        (
            "erp_record_payment",
            {"invoice_number": "'; DROP TABLE invoices; --", "amount": "5"},
            "not a invoice number",
        ),
        (
            "erp_create_purchase_order",
            {
                "supplier": "'; DROP TABLE invoices; --",
                "lines": [{"product": "BRK-2210", "quantity": 5}],
            },
            "No supplier matches",
        ),
    ],
)
def test_impossible_writes_are_refused_before_asking(
    erp_db: ErpDatabase, name: str, args: dict[str, Any], message: str
) -> None:
    before = snapshot(erp_db)
    graph = graph_for(tool_call(name, **args), erp_db)
    values = graph.invoke(
        {"messages": [HumanMessage("write")]}, {"configurable": {"thread_id": f"bad-{name}"}}
    )
    assert "__interrupt__" not in values
    assert message in tool_messages(values)[-1].content
    assert snapshot(erp_db) == before


def test_overpayment_is_refused_with_the_outstanding_amount(erp_db: ErpDatabase) -> None:
    invoice = open_invoice(erp_db)
    owed = (invoice.total_cents - invoice.paid_cents) / 100
    graph = graph_for(
        tool_call("erp_record_payment", invoice_number=invoice.number, amount=f"{owed + 1:.2f}"),
        erp_db,
    )
    values = graph.invoke(
        {"messages": [HumanMessage("pay")]}, {"configurable": {"thread_id": "over"}}
    )
    assert f"{owed:.2f} EUR outstanding" in tool_messages(values)[-1].content


def test_sql_text_in_a_reason_is_stored_as_text(erp_db: ErpDatabase) -> None:
    with erp_db.read_session() as session:
        level = session.scalars(select(m.StockLevel).where(m.StockLevel.on_hand > 5)).first()
        sku = session.get(m.Product, level.product_id).sku
    reason = "'; DROP TABLE invoices; --"
    run_approved(
        erp_db,
        tool_call(
            "erp_adjust_stock", product=sku, warehouse=level.warehouse, change=1, reason=reason
        ),
        "sql",
    )
    with erp_db.read_session() as session:
        assert session.scalar(select(func.count()).select_from(m.Invoice)) > 0
        assert (
            session.scalars(select(m.StockMovement).order_by(m.StockMovement.id.desc()))
            .first()
            .note
            == reason
        )


def test_a_write_outside_a_graph_is_refused(erp_db: ErpDatabase) -> None:
    tool = write_tool(WRITE_SKILLS["erp_record_payment"], lambda: erp_db)
    invoice = open_invoice(erp_db)
    before = snapshot(erp_db)
    reply = tool.invoke(
        {
            "name": tool.name,
            "args": {"invoice_number": invoice.number, "amount": "1.00"},
            "id": "c1",
            "type": "tool_call",
        }
    )
    assert "need a person's approval" in reply.content
    assert snapshot(erp_db) == before


def test_two_writes_in_one_turn_are_refused(erp_db: ErpDatabase) -> None:
    invoice = open_invoice(erp_db)
    both = calls(
        tool_call("erp_record_payment", invoice_number=invoice.number, amount="1.00"),
        tool_call("erp_send_invoice_reminder", invoice_number=invoice.number),
    )
    model = ScriptedChatModel.from_script([both, says("Understood.")])
    graph = agent_graph(model, build_tools(lambda: erp_db))
    before = snapshot(erp_db)
    values = graph.invoke(
        {"messages": [HumanMessage("pay and remind")]}, {"configurable": {"thread_id": "two"}}
    )
    assert "__interrupt__" not in values
    replies = tool_messages(values)
    assert len(replies) == 2 and all("one write tool per turn" in r.content for r in replies)
    assert snapshot(erp_db) == before


def test_the_cli_shows_the_change_and_asks_before_resuming(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``nova ask`` and ``nova pipeline run`` resume a paused write with this answer."""
    from rich.prompt import Confirm, Prompt

    from nova.cli.apps import ask_approval

    monkeypatch.setenv("USER", "marta")
    change = {"type": "erp_write_approval", "skill": "erp_adjust_stock", "change": 5}
    assert ask_approval(change, interactive=False) is None
    assert '"erp_adjust_stock"' in capsys.readouterr().out

    monkeypatch.setattr(Confirm, "ask", classmethod(lambda cls, *a, **k: True))
    assert ask_approval(change, interactive=True) == {"approved": True, "approver": "marta"}
    monkeypatch.setattr(Confirm, "ask", classmethod(lambda cls, *a, **k: False))
    monkeypatch.setattr(Prompt, "ask", classmethod(lambda cls, *a, **k: "wrong warehouse"))
    assert ask_approval(change, interactive=True) == {
        "approved": False,
        "reason": "wrong warehouse",
        "approver": "marta",
    }
