"""Shipping read skills: shipment status."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field
from sqlalchemy import and_, case, func, or_, select
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
    Limit,
    Name,
    NotFound,
    OrderNumber,
    ShipmentNumber,
    _Period,
    _period_facts,
    _period_filter,
    note_filter,
    resolve_customer,
)

# --- shipping ---------------------------------------------------------------------------

ShipmentState = Literal["in_transit", "delivered", "late", "any"]


class ShipmentStatusArgs(_Period):
    """Arguments of ``erp_shipment_status`` (dates filter the shipping date by default)."""

    order_number: OrderNumber | None = Field(default=None, description="e.g. SO-4410")
    tracking_number: Annotated[str, Field(min_length=6, max_length=40)] | None = Field(
        default=None, description="Carrier tracking number"
    )
    shipment_number: ShipmentNumber | None = Field(default=None, description="e.g. SH-100123")
    customer: Name | None = Field(default=None, description=CUSTOMER_HELP)
    carrier: Name | None = Field(default=None, description="DHL, DPD, UPS, GLS or DB Schenker")
    status: ShipmentState = Field(default="any", description="in_transit, delivered, late or any")
    dated_by: Literal["shipped", "delivered"] = Field(
        default="shipped",
        description="Which date the period filters: shipped (default) or delivered",
    )
    limit: Limit = 20


class ShipmentRow(Row):
    """A shipment with its tracking and delivery dates."""

    id: str = column("Shipment")
    order: str = column("Order")
    customer: str = column("Customer")
    carrier: str = column("Carrier")
    service: str = column("Service")
    tracking_number: str = column("Tracking")
    shipped_on: date = column("Shipped", "date")
    expected_delivery: date = column("Expected", "date")
    delivered_on: date | None = column("Delivered", "date")
    status: str = column("Status")
    days_late: int | None = column("Days late", "days")
    cost: Decimal = column("Cost", "money")


def shipment_status(session: Session, args: ShipmentStatusArgs) -> SkillResult[ShipmentRow]:
    """Track shipments by order, tracking number, customer, carrier or date.

    Returns carrier, tracking number, shipping and delivery dates, lateness and cost.
    """
    today = business_date(session)
    dated = m.Shipment.delivered_on if args.dated_by == "delivered" else m.Shipment.shipped_on
    conditions: list[Any] = _period_filter(dated, args.date_from, args.date_to)
    if args.order_number:
        conditions.append(m.SalesOrder.number == args.order_number)
    if args.tracking_number:
        conditions.append(
            m.Shipment.tracking_number == args.tracking_number.replace(" ", "").upper()
        )
    if args.shipment_number:
        conditions.append(m.Shipment.number == args.shipment_number)
    if args.customer:
        conditions.append(m.SalesOrder.customer_id == resolve_customer(session, args.customer).id)
    if args.carrier:
        conditions.append(func.lower(m.Shipment.carrier) == args.carrier.lower())
    late = or_(
        m.Shipment.delivered_on > m.Shipment.expected_delivery,
        and_(m.Shipment.delivered_on.is_(None), m.Shipment.expected_delivery < today),
    )
    if args.status != "any":
        note_filter(session, "status", args.status)
    if args.status == "late":
        conditions.append(late)
    elif args.status != "any":
        conditions.append(m.Shipment.status == args.status)
    base = (
        select(m.Shipment, m.SalesOrder.number, m.Customer.name)
        .join(m.SalesOrder, m.Shipment.order_id == m.SalesOrder.id)
        .join(m.Customer, m.SalesOrder.customer_id == m.Customer.id)
        .where(*conditions)
    )
    count, cost, late_count = session.execute(
        base.with_only_columns(
            func.count(),
            func.coalesce(func.sum(m.Shipment.cost_cents), 0),
            func.coalesce(func.sum(case((late, 1), else_=0)), 0),
        )
    ).one()
    rows = []
    for shipment, order, customer in session.execute(
        base.order_by(m.Shipment.shipped_on.desc(), m.Shipment.number.desc()).limit(args.limit)
    ):
        arrived = shipment.delivered_on or today
        rows.append(
            ShipmentRow(
                id=shipment.number,
                order=order,
                customer=customer,
                carrier=shipment.carrier,
                service=shipment.service,
                tracking_number=shipment.tracking_number,
                shipped_on=shipment.shipped_on,
                expected_delivery=shipment.expected_delivery,
                delivered_on=shipment.delivered_on,
                status=shipment.status,
                days_late=(arrived - shipment.expected_delivery).days
                if arrived > shipment.expected_delivery
                else None,
                cost=money(shipment.cost_cents),
            )
        )
    if not rows and (args.order_number or args.tracking_number or args.shipment_number):
        what = args.order_number or args.tracking_number or args.shipment_number
        if (
            args.order_number
            and session.scalar(
                select(m.SalesOrder.status).where(m.SalesOrder.number == args.order_number)
            )
            is None
        ):
            raise NotFound(f"No sales order {args.order_number}")
        if not args.order_number:
            raise NotFound(f"No shipment with {what}")
    return SkillResult[ShipmentRow](
        skill="erp_shipment_status",
        focus="record"
        if (args.order_number or args.tracking_number or args.shipment_number) and count == 1
        else "list",
        title="Shipments",
        as_of=today,
        rows=rows,
        total_rows=count,
        facts=[
            Fact(key="count", label="Shipments", value=count, kind="int"),
            Fact(key="late", label="Late", value=int(late_count), kind="int"),
            Fact(key="cost", label="Shipping cost", value=money(cost), kind="money"),
            *_period_facts(args.date_from, args.date_to),
            *(
                [Fact(key="dated_by", label="Dated by", value="delivery date")]
                if args.dated_by == "delivered" and (args.date_from or args.date_to)
                else []
            ),
        ],
        row_type=ShipmentRow,
    )
