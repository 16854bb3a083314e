"""ERP read skills and their tools: results, ids, clear errors on bad input, nothing written."""

from __future__ import annotations

import inspect as pyinspect
from datetime import date
from decimal import Decimal

import pytest
from langchain_core.messages import ToolMessage
from pydantic import ValidationError
from sqlalchemy import func, select

from nova.catalog import load_catalog
from nova.erp import models as m
from nova.erp import skills
from nova.erp.db import ErpDatabase
from nova.erp.skills import READ_SKILLS, AmbiguousName, NotFound
from nova.erp.writes import WRITE_SKILLS
from tools.registry import get_tools, tool_registry

pytest_plugins = ("tests.erp_fixtures",)

SQL_TEXT = "'; DROP TABLE invoices; --"


def run(database: ErpDatabase, name: str, **args: object):  # type: ignore[no-untyped-def]
    skill = READ_SKILLS[name]
    with database.read_session() as session:
        return skill.run(session, skill.args.model_validate(args))


def counts(database: ErpDatabase) -> dict[str, int]:
    with database.read_session() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (
                m.Invoice,
                m.Payment,
                m.PurchaseOrder,
                m.StockMovement,
                m.AuditLog,
                m.InvoiceReminder,
            )
        }


def test_every_catalog_erp_tool_is_registered_with_a_schema() -> None:
    names = {tool for spec in load_catalog() for tool in spec.tools if tool.startswith("erp_")}
    registry = tool_registry()
    assert names <= set(registry)
    assert set(READ_SKILLS) | set(WRITE_SKILLS) <= set(registry)
    for name in READ_SKILLS:
        schema = registry[name].tool_call_schema.model_json_schema()
        assert schema["type"] == "object" and "tool_call_id" not in schema.get("properties", {})


def test_overdue_invoices_match_a_plain_count(erp_db: ErpDatabase) -> None:
    result = run(erp_db, "erp_overdue_invoices", limit=200)
    with erp_db.read_session() as session:
        today = date(2025, 6, 30)
        invoices = [
            i
            for i in session.scalars(select(m.Invoice))
            if i.status == "open" and i.total_cents > i.paid_cents and i.due_date < today
        ]
    assert result.total_rows == len(invoices)
    assert set(result.row_ids) == {i.number for i in invoices}
    expected = Decimal(sum(i.total_cents - i.paid_cents for i in invoices)) / 100
    assert result.fact("outstanding") == expected
    assert all(row.days_overdue and row.days_overdue >= 1 for row in result.rows)
    assert [r.due_date for r in result.rows] == sorted(r.due_date for r in result.rows)


def test_customer_balance_sums_open_invoices(erp_db: ErpDatabase) -> None:
    with erp_db.read_session() as session:
        customer = session.scalars(select(m.Customer).order_by(m.Customer.id)).first()
        open_cents = sum(
            i.total_cents - i.paid_cents
            for i in session.scalars(select(m.Invoice).where(m.Invoice.customer_id == customer.id))
            if i.status == "open"
        )
    result = run(erp_db, "erp_customer_balance", customer=customer.name)
    row = result.rows[0]
    assert row.id == customer.number and row.outstanding == Decimal(open_cents) / 100
    assert row.credit_available == Decimal(customer.credit_limit_cents - open_cents) / 100


def test_sales_summary_groups_add_up(erp_db: ErpDatabase) -> None:
    result = run(
        erp_db,
        "erp_sales_summary",
        date_from="2025-01-01",
        date_to="2025-06-30",
        group_by="category",
    )
    assert sum(row.revenue for row in result.rows) == result.fact("revenue")
    monthly = run(erp_db, "erp_sales_summary", date_from="2025-01-01", date_to="2025-06-30")
    assert [row.id for row in monthly.rows] == sorted(row.id for row in monthly.rows)
    assert sum(row.orders for row in monthly.rows) == monthly.fact("orders")


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("erp_find_customer", {"query": "Nordwind"}),
        ("erp_find_product", {"query": "BRK-2210"}),
        ("erp_invoice_lookup", {"status": "overdue"}),
        ("erp_payment_history", {"date_from": "2025-06-01"}),
        ("erp_stock_level", {"product": "BRK-2210"}),
        ("erp_reorder_candidates", {}),
        ("erp_stock_movements", {"product": "BRK-2210"}),
        ("erp_customer_orders", {"status": "delivered", "limit": 3}),
        ("erp_top_customers", {"limit": 3}),
        ("erp_top_products", {"by": "units"}),
        ("erp_supplier_lead_times", {}),
        ("erp_purchase_orders", {}),
        ("erp_price_list", {"category": "filters"}),
        ("erp_shipment_status", {"status": "delivered", "limit": 5}),
        ("erp_returns", {}),
    ],
)
def test_every_read_skill_returns_rows_with_ids(
    erp_db: ErpDatabase, name: str, args: dict[str, object]
) -> None:
    result = run(erp_db, name, **args)
    assert result.rows, f"{name} found nothing in the sample"
    assert len(set(result.row_ids)) == len(result.rows) and all(result.row_ids)
    payload = result.payload()
    assert payload["row_ids"] == result.row_ids and payload["columns"][0]["key"] == "id"


def test_tool_returns_text_and_structured_artifact(erp_url: str) -> None:
    (tool,) = get_tools(["erp_overdue_invoices"])
    message = tool.invoke(
        {"name": tool.name, "args": {"limit": 3}, "id": "call_1", "type": "tool_call"}
    )
    assert isinstance(message, ToolMessage)
    assert message.artifact["skill"] == "erp_overdue_invoices"
    for row_id in message.artifact["row_ids"]:
        assert row_id in message.content


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        (
            "erp_customer_balance",
            {"customer": "Zyxel Motors"},
            "No customer matches 'Zyxel Motors'",
        ),
        ("erp_customer_balance", {"customer": SQL_TEXT}, "No customer matches"),
        ("erp_customer_balance", {"customer": "Müller"}, "matches 2 customers"),
        ("erp_invoice_lookup", {"invoice_number": "INV-2025-99999"}, "No invoice INV-2025-99999"),
        (
            "erp_invoice_lookup",
            {"invoice_number": "10482"},
            "not a invoice number; they look like INV-2025-00412",
        ),
        ("erp_payment_history", {"date_from": "2025-13-45"}, "write it as YYYY-MM-DD"),
        ("erp_payment_history", {"date_from": "2025-06-01", "date_to": "2025-01-01"}, "swap them"),
        ("erp_stock_level", {"product": "ZZZ-9999"}, "No product has SKU ZZZ-9999"),
        ("erp_order_status", {"order_number": SQL_TEXT}, "not a order number"),
        ("erp_find_product", {"query": SQL_TEXT}, "No product matches"),
        ("erp_top_customers", {"limit": 0}, "greater than or equal to 1"),
    ],
)
def test_bad_input_gets_a_clear_message_and_writes_nothing(
    erp_url: str, erp_db: ErpDatabase, name: str, args: dict[str, object], message: str
) -> None:
    before = counts(erp_db)
    (tool,) = get_tools([name])
    reply = tool.invoke({"name": name, "args": args, "id": "call_bad", "type": "tool_call"})
    assert message in reply.content
    assert counts(erp_db) == before
    with erp_db.read_session() as session:
        assert session.scalar(select(func.count()).select_from(m.Invoice)) > 0


def test_ambiguous_and_unknown_names_raise_typed_errors(erp_db: ErpDatabase) -> None:
    with erp_db.read_session() as session:
        with pytest.raises(AmbiguousName) as ambiguous:
            skills.resolve_customer(session, "Müller")
        assert {c.name for c in ambiguous.value.candidates} >= {
            "Müller Metallbau GmbH",
            "Müller Transporte KG",
        }
        with pytest.raises(NotFound, match="5-digit customer number"):
            skills.resolve_customer(session, "Quasar Logistik")
        assert skills.resolve_customer(session, "nordwnd gmbh").name == "Nordwind GmbH"
        assert skills.resolve_customer(session, "Kessler Automotive").number == "20004"


def test_args_refuse_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        READ_SKILLS["erp_overdue_invoices"].args.model_validate({"where": "1=1"})


def test_skills_build_queries_from_expressions_not_text() -> None:
    source = pyinspect.getsource(skills)
    assert "text(" not in source and "exec_driver_sql" not in source
