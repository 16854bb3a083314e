"""Returns read skills: return requests (RMAs) and credits."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nova.erp import models as m
from nova.erp.db import business_date
from nova.erp.results import (
    Fact,
    Row,
    SkillResult,
    column,
    money,
)
from nova.erp.skills.common import (
    CUSTOMER_HELP,
    PRODUCT_HELP,
    InvoiceNumber,
    Limit,
    Name,
    NotFound,
    OrderNumber,
    RmaNumber,
    _Period,
    _period_facts,
    _period_filter,
    note_filter,
    resolve_customer,
    resolve_product,
)

ReturnState = Literal["requested", "received", "refunded", "rejected", "open", "any"]
ReturnReason = Literal[
    "defective", "wrong_part", "damaged_in_transit", "not_needed", "ordered_twice"
]


class ReturnsArgs(_Period):
    """Arguments of ``erp_returns`` (dates filter the request date)."""

    rma_number: RmaNumber | None = Field(default=None, description="e.g. RMA-2025-0031")
    customer: Name | None = Field(default=None, description=CUSTOMER_HELP)
    order_number: OrderNumber | None = Field(default=None, description="e.g. SO-4410")
    invoice_number: InvoiceNumber | None = Field(
        default=None, description="Returns credited against this invoice"
    )
    product: Name | None = Field(default=None, description=PRODUCT_HELP)
    status: ReturnState = Field(
        default="any",
        description="requested, received, refunded, rejected, open (not yet decided) or any",
    )
    reason: ReturnReason | None = None
    limit: Limit = 20


class ReturnRow(Row):
    """A return (RMA) and its credit note."""

    id: str = column("RMA")
    requested_on: date = column("Requested", "date")
    customer: str = column("Customer")
    order: str = column("Order")
    sku: str = column("SKU")
    quantity: int = column("Qty", "qty")
    reason: str = column("Reason")
    status: str = column("Status")
    received_on: date | None = column("Received", "date")
    credit_note: str | None = column("Credit note")
    credit_amount: Decimal | None = column("Credited", "money")


def returns(session: Session, args: ReturnsArgs) -> SkillResult[ReturnRow]:
    """List returns (RMAs) and their credit notes by number, customer, order, status or date."""
    conditions: list[Any] = _period_filter(m.Return.requested_on, args.date_from, args.date_to)
    if args.rma_number:
        conditions.append(m.Return.number == args.rma_number)
    if args.customer:
        conditions.append(m.Return.customer_id == resolve_customer(session, args.customer).id)
    if args.order_number:
        conditions.append(m.SalesOrder.number == args.order_number)
    if args.invoice_number:
        conditions.append(m.Invoice.number == args.invoice_number)
    if args.product:
        conditions.append(m.Return.product_id == resolve_product(session, args.product).id)
    if args.status != "any":
        note_filter(session, "status", args.status)
    if args.status == "open":
        conditions.append(m.Return.status.in_(("requested", "received")))
    elif args.status != "any":
        conditions.append(m.Return.status == args.status)
    if args.reason:
        conditions.append(m.Return.reason == args.reason)
    base = (
        select(
            m.Return,
            m.Customer.name,
            m.SalesOrder.number,
            m.Product.sku,
            m.CreditNote.number,
            m.CreditNote.amount_cents,
        )
        .join(m.Customer, m.Return.customer_id == m.Customer.id)
        .join(m.SalesOrder, m.Return.order_id == m.SalesOrder.id)
        .join(m.Product, m.Return.product_id == m.Product.id)
        .outerjoin(m.CreditNote, m.CreditNote.return_id == m.Return.id)
        .outerjoin(m.Invoice, m.CreditNote.invoice_id == m.Invoice.id)
        .where(*conditions)
    )
    count, credited, units = session.execute(
        base.with_only_columns(
            func.count(),
            func.coalesce(func.sum(m.CreditNote.amount_cents), 0),
            func.coalesce(func.sum(m.Return.quantity), 0),
        )
    ).one()
    rows = [
        ReturnRow(
            id=ret.number,
            requested_on=ret.requested_on,
            customer=customer,
            order=order,
            sku=sku,
            quantity=ret.quantity,
            reason=ret.reason,
            status=ret.status,
            received_on=ret.received_on,
            credit_note=note,
            credit_amount=money(amount) if amount is not None else None,
        )
        for ret, customer, order, sku, note, amount in session.execute(
            base.order_by(m.Return.requested_on.desc(), m.Return.number.desc()).limit(args.limit)
        )
    ]
    if args.rma_number and not rows:
        raise NotFound(f"No return {args.rma_number}; RMA numbers look like RMA-2025-0031")
    return SkillResult[ReturnRow](
        skill="erp_returns",
        focus="record" if args.rma_number else "list",
        title="Returns",
        as_of=business_date(session),
        rows=rows,
        total_rows=count,
        facts=[
            Fact(key="count", label="Returns", value=count, kind="int"),
            Fact(key="units", label="Units returned", value=int(units), kind="qty"),
            Fact(key="credited", label="Credited", value=money(credited), kind="money"),
            *_period_facts(args.date_from, args.date_to),
        ],
        row_type=ReturnRow,
    )
