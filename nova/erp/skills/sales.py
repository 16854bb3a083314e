"""Sales read skills: order status, a customer's orders, summaries and rankings."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, model_validator
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from nova.erp import models as m
from nova.erp.db import business_date
from nova.erp.results import (
    Fact,
    Row,
    SkillResult,
    column,
    money,
    percent,
)
from nova.erp.skills.common import (
    CUSTOMER_HELP,
    PRODUCT_HELP,
    Country,
    IsoDate,
    Limit,
    Name,
    NotFound,
    OrderNumber,
    SkillArgs,
    _Period,
    _period_facts,
    _period_filter,
    note_filter,
    resolve_category,
    resolve_customer,
    resolve_product,
)

# --- sales orders -----------------------------------------------------------------------


class OrderStatusArgs(SkillArgs):
    """Arguments of ``erp_order_status``."""

    order_number: OrderNumber | None = Field(default=None, description="e.g. SO-4410")
    customer_reference: Name | None = Field(
        default=None, description="The customer's own reference, e.g. KS-88123"
    )

    @model_validator(mode="after")
    def _one(self) -> OrderStatusArgs:
        if bool(self.order_number) == bool(self.customer_reference):
            raise ValueError("give either order_number or customer_reference")
        return self


class OrderLineRow(Row):
    """A line of a sales order."""

    id: str = column("Line")
    sku: str = column("SKU")
    name: str = column("Product")
    quantity: int = column("Qty", "qty")
    unit_price: Decimal = column("Unit price", "money")
    discount_pct: int = column("Discount %", "int")
    line_total: Decimal = column("Line total", "money")


def _order_lines(session: Session, order_id: int) -> list[Any]:
    """Return an order's lines with each product's SKU and name, in line order."""
    return list(
        session.execute(
            select(m.SalesOrderLine, m.Product.sku, m.Product.name)
            .join(m.Product, m.SalesOrderLine.product_id == m.Product.id)
            .where(m.SalesOrderLine.order_id == order_id)
            .order_by(m.SalesOrderLine.line_no)
        ).all()
    )


def order_status(session: Session, args: OrderStatusArgs) -> SkillResult[OrderLineRow]:
    """Show a sales order: status, customer, lines, shipment (carrier, tracking) and invoice."""
    condition = (
        m.SalesOrder.number == args.order_number
        if args.order_number
        else func.lower(m.SalesOrder.customer_reference) == (args.customer_reference or "").lower()
    )
    found = session.execute(
        select(m.SalesOrder, m.Customer)
        .join(m.Customer, m.SalesOrder.customer_id == m.Customer.id)
        .where(condition)
    ).first()
    if found is None:
        what = args.order_number or f"with customer reference {args.customer_reference!r}"
        raise NotFound(f"No sales order {what}; order numbers look like SO-4410")
    order, customer = found
    lines = _order_lines(session, order.id)
    rows = [
        OrderLineRow(
            id=f"{order.number}/{line.line_no}",
            sku=sku,
            name=name,
            quantity=line.quantity,
            unit_price=money(line.unit_price_cents),
            discount_pct=line.discount_pct,
            line_total=money(line.line_total_cents),
        )
        for line, sku, name in lines
    ]
    facts = [
        Fact(key="order", label="Order", value=order.number),
        Fact(key="status", label="Status", value=order.status),
        Fact(key="customer", label="Customer", value=customer.name),
        Fact(key="customer_number", label="Customer no.", value=customer.number),
        Fact(key="order_date", label="Ordered", value=order.order_date, kind="date"),
        Fact(key="total", label="Order total", value=money(order.total_cents), kind="money"),
        Fact(key="customer_reference", label="Customer reference", value=order.customer_reference),
    ]
    shipment = session.scalar(
        select(m.Shipment).where(m.Shipment.order_id == order.id).order_by(m.Shipment.id)
    )
    if shipment is not None:
        facts += [
            Fact(key="shipment", label="Shipment", value=shipment.number),
            Fact(key="carrier", label="Carrier", value=shipment.carrier),
            Fact(key="tracking_number", label="Tracking", value=shipment.tracking_number),
            Fact(key="shipped_on", label="Shipped", value=shipment.shipped_on, kind="date"),
            Fact(key="delivered_on", label="Delivered", value=shipment.delivered_on, kind="date"),
            Fact(key="shipment_status", label="Shipment status", value=shipment.status),
            Fact(
                key="expected_delivery",
                label="Expected delivery",
                value=shipment.expected_delivery,
                kind="date",
            ),
        ]
    invoice = session.scalar(select(m.Invoice).where(m.Invoice.order_id == order.id))
    if invoice is not None:
        facts += [
            Fact(key="invoice", label="Invoice", value=invoice.number),
            Fact(key="invoice_status", label="Invoice status", value=invoice.status),
            Fact(
                key="invoice_outstanding",
                label="Outstanding",
                value=money(invoice.total_cents - invoice.paid_cents),
                kind="money",
            ),
        ]
    return SkillResult[OrderLineRow](
        skill="erp_order_status",
        focus="record",
        title=f"Sales order {order.number}",
        as_of=business_date(session),
        rows=rows,
        total_rows=len(rows),
        facts=facts,
        row_type=OrderLineRow,
    )


OrderStatus = Literal["open", "shipped", "delivered", "cancelled", "any"]


class CustomerOrdersArgs(_Period):
    """Arguments of ``erp_customer_orders``."""

    customer: Name | None = Field(
        default=None, description=CUSTOMER_HELP + "; omit for all customers"
    )
    status: OrderStatus = Field(
        default="any", description="open, shipped, delivered, cancelled or any"
    )
    product: Name | None = Field(default=None, description="Only orders containing this SKU")
    with_lines: bool = Field(
        default=False,
        description="Also state what each order shown holds (its lines): 'what did X order'",
    )
    limit: Limit = 20


LINES_SHOWN = 10
"""Most orders whose lines an answer states (the newest); more would bury the list."""


class OrderRow(Row):
    """A sales order."""

    id: str = column("Order")
    order_date: date = column("Ordered", "date")
    customer: str = column("Customer")
    customer_number: str = column("Customer no.")
    status: str = column("Status")
    lines: int = column("Lines", "int")
    total: Decimal = column("Total", "money")
    customer_reference: str | None = column("Their ref.")
    holds: str | None = column("Items", default=None)
    """What the order holds, when asked ("what did X order")."""


def _holds(session: Session, order_id: int) -> str:
    """Return an order's lines as "quantity x SKU name", in line order."""
    return "; ".join(
        f"{line.quantity} x {sku} {name}" for line, sku, name in _order_lines(session, order_id)
    )


_TIES_SHOWN_UP_TO = 5
"""A short list ("the last order", "last 3 orders") also shows orders dated the same day as
its last one: which of them is "the last" the records cannot say."""


def customer_orders(session: Session, args: CustomerOrdersArgs) -> SkillResult[OrderRow]:
    """List sales orders by customer, period, status or product, newest first, with their value."""
    conditions: list[Any] = _period_filter(m.SalesOrder.order_date, args.date_from, args.date_to)
    if args.customer:
        conditions.append(m.SalesOrder.customer_id == resolve_customer(session, args.customer).id)
    if args.status != "any":
        note_filter(session, "status", args.status)
    if args.status != "any":
        conditions.append(m.SalesOrder.status == args.status)
    if args.product:
        product = resolve_product(session, args.product)
        conditions.append(
            m.SalesOrder.id.in_(
                select(m.SalesOrderLine.order_id).where(m.SalesOrderLine.product_id == product.id)
            )
        )
    line_count = (
        select(func.count())
        .where(m.SalesOrderLine.order_id == m.SalesOrder.id)
        .correlate(m.SalesOrder)
        .scalar_subquery()
    )
    base = (
        select(m.SalesOrder, m.Customer.number, m.Customer.name, line_count)
        .join(m.Customer, m.SalesOrder.customer_id == m.Customer.id)
        .where(*conditions)
    )
    count, total = session.execute(
        base.with_only_columns(func.count(), func.coalesce(func.sum(m.SalesOrder.total_cents), 0))
    ).one()
    # Sales figures leave cancelled orders out: say how much of the value they are, so
    # "how much did X order" is answered on both readings.
    cancelled, cancelled_total = session.execute(
        base.where(m.SalesOrder.status == "cancelled").with_only_columns(
            func.count(), func.coalesce(func.sum(m.SalesOrder.total_cents), 0)
        )
    ).one()
    shown = session.execute(
        base.order_by(m.SalesOrder.order_date.desc(), m.SalesOrder.id.desc()).limit(args.limit)
    ).all()
    if args.limit <= _TIES_SHOWN_UP_TO and len(shown) == args.limit:
        # "their last order" when two were placed that day: both are the last one.
        boundary, seen = shown[-1][0].order_date, {order.id for order, *_ in shown}
        tied = session.execute(
            base.where(m.SalesOrder.order_date == boundary).order_by(m.SalesOrder.id.desc())
        ).all()
        shown = [*shown, *(row for row in tied if row[0].id not in seen)]
    rows = [
        OrderRow(
            id=order.number,
            order_date=order.order_date,
            customer=name,
            customer_number=number,
            status=order.status,
            lines=lines,
            total=money(order.total_cents),
            customer_reference=order.customer_reference,
        )
        for order, number, name, lines in shown
    ]
    # One order shown ("cooper's last order, what and when"): what it holds, too.
    contents = []
    if len(shown) == 1:
        order = shown[0][0]
        holds = _holds(session, order.id)
        contents = [Fact(key="contents", label=f"Lines of {order.number}", value=holds)]
    elif args.with_lines or len(shown) > args.limit:
        # "what did zobel order this month": each order's lines (the newest LINES_SHOWN).
        rows = [
            row.model_copy(update={"holds": _holds(session, order.id)})
            if index < LINES_SHOWN
            else row
            for index, (row, (order, *_rest)) in enumerate(zip(rows, shown, strict=True))
        ]
    return SkillResult[OrderRow](
        skill="erp_customer_orders",
        title="Sales orders",
        as_of=business_date(session),
        rows=rows,
        total_rows=count,
        facts=[
            *contents,
            Fact(key="count", label="Orders", value=count, kind="int"),
            Fact(key="total", label="Order value", value=money(total), kind="money"),
            Fact(key="cancelled", label="Cancelled orders", value=cancelled, kind="int"),
            Fact(
                key="not_cancelled",
                label="Orders without cancelled ones",
                value=count - cancelled,
                kind="int",
            ),
            Fact(
                key="not_cancelled_total",
                label="Order value without cancelled orders",
                value=money(total - cancelled_total),
                kind="money",
            ),
            *_period_facts(args.date_from, args.date_to),
        ],
        row_type=OrderRow,
    )


# --- reporting --------------------------------------------------------------------------

GroupBy = Literal["month", "week", "day", "weekday", "category", "customer", "product", "none"]
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class SalesSummaryArgs(SkillArgs):
    """Arguments of ``erp_sales_summary``."""

    date_from: IsoDate = Field(description="First day, YYYY-MM-DD")
    date_to: IsoDate = Field(description="Last day, YYYY-MM-DD")
    group_by: GroupBy = Field(
        default="month",
        description="month, week, day, weekday, category, customer, product or none",
    )
    customer: Name | None = Field(default=None, description=CUSTOMER_HELP)
    category: Name | None = Field(default=None, description="Product category, e.g. Brakes")
    product: Name | None = Field(default=None, description=PRODUCT_HELP)

    @model_validator(mode="after")
    def _ordered(self) -> SalesSummaryArgs:
        if self.date_from > self.date_to:
            raise ValueError(
                f"date_from {self.date_from} is after date_to {self.date_to}; swap them"
            )
        return self


class SalesRow(Row):
    """Sales of one group (a month, a category, a customer, …)."""

    id: str = column("Group")
    label: str = column("Period / group")
    orders: int = column("Orders", "int")
    units: int = column("Units", "qty")
    revenue: Decimal = column("Revenue", "money")
    share_pct: Decimal = column("Share %", "pct")
    """Of all sales in the period, also when the summary is filtered to a customer or product."""


def _sales_lines(session: Session, args: SalesSummaryArgs, extra: list[Any]) -> Select[Any]:
    conditions: list[Any] = [
        m.SalesOrder.status != "cancelled",
        m.SalesOrder.order_date >= args.date_from,
        m.SalesOrder.order_date <= args.date_to,
        *extra,
    ]
    if args.customer:
        conditions.append(m.SalesOrder.customer_id == resolve_customer(session, args.customer).id)
    if args.category:
        conditions.append(m.Product.category == resolve_category(session, args.category))
    if args.product:
        conditions.append(m.SalesOrderLine.product_id == resolve_product(session, args.product).id)
    return (
        select(m.SalesOrder.id)
        .select_from(m.SalesOrderLine)
        .join(m.SalesOrder, m.SalesOrderLine.order_id == m.SalesOrder.id)
        .join(m.Product, m.SalesOrderLine.product_id == m.Product.id)
        .where(*conditions)
    )


def sales_summary(session: Session, args: SalesSummaryArgs) -> SkillResult[SalesRow]:
    """Summarise sales (revenue, orders, units, average order value) over a period.

    Groups by month, week, day, weekday, category, customer or product.
    """
    base = _sales_lines(session, args, [])
    revenue = func.sum(m.SalesOrderLine.line_total_cents)
    units = func.sum(m.SalesOrderLine.quantity)
    orders = func.count(func.distinct(m.SalesOrder.id))
    total_orders, total_units, total_revenue = session.execute(
        base.with_only_columns(orders, func.coalesce(units, 0), func.coalesce(revenue, 0))
    ).one()
    filtered = any((args.customer, args.category, args.product))
    # A share within a filtered total says nothing (one customer's sales are 100% of
    # themselves); shares are of all sales in the period, whatever the filters.
    all_revenue = int(
        session.scalar(
            _sales_lines(
                session,
                args.model_copy(update={"customer": None, "category": None, "product": None}),
                [],
            ).with_only_columns(func.coalesce(revenue, 0))
        )
        or 0
        if filtered
        else total_revenue
    )
    groups: dict[str, list[Any]] = {}
    if args.group_by in ("category", "customer", "product"):
        key_columns = {
            "category": (m.Product.category, m.Product.category),
            "customer": (m.Customer.number, m.Customer.name),
            "product": (m.Product.sku, m.Product.name),
        }[args.group_by]
        grouped = base.with_only_columns(*key_columns, orders, units, revenue).group_by(
            *key_columns
        )
        if args.group_by == "customer":
            grouped = grouped.join(m.Customer, m.SalesOrder.customer_id == m.Customer.id)
        for key, label, n_orders, n_units, cents in session.execute(grouped):
            groups[str(key)] = [str(label), n_orders, int(n_units), int(cents)]
        ordered = sorted(groups.items(), key=lambda item: (-item[1][3], item[0]))
    else:
        # Per day in SQL, then calendar groups in Python: the same on SQLite and Postgres.
        daily = base.with_only_columns(m.SalesOrder.order_date, orders, units, revenue).group_by(
            m.SalesOrder.order_date
        )
        for day, n_orders, n_units, cents in session.execute(daily):
            if args.group_by == "month":
                key, label = f"{day:%Y-%m}", f"{day:%B %Y}"
            elif args.group_by == "week":
                year, week, _ = day.isocalendar()
                key, label = f"{year}-W{week:02d}", f"week {week} of {year}"
            elif args.group_by == "weekday":
                key, label = str(day.weekday()), _WEEKDAYS[day.weekday()]
            elif args.group_by == "day":
                key, label = day.isoformat(), day.isoformat()
            else:
                key, label = "total", f"{args.date_from} to {args.date_to}"
            group = groups.setdefault(key, [label, 0, 0, 0])
            group[1] += n_orders
            group[2] += int(n_units)
            group[3] += int(cents)
        ordered = sorted(groups.items())
    rows = [
        SalesRow(
            id=key,
            label=label,
            orders=n_orders,
            units=n_units,
            revenue=money(cents),
            share_pct=percent(cents, all_revenue),
        )
        for key, (label, n_orders, n_units, cents) in ordered
    ]
    average = money(round(total_revenue / total_orders)) if total_orders else money(0)
    return SkillResult[SalesRow](
        skill="erp_sales_summary",
        title="Sales summary",
        as_of=business_date(session),
        rows=rows,
        total_rows=len(rows),
        facts=[
            Fact(key="revenue", label="Revenue", value=money(total_revenue), kind="money"),
            Fact(key="orders", label="Orders", value=total_orders, kind="int"),
            Fact(key="units", label="Units", value=int(total_units), kind="qty"),
            Fact(
                key="average_order_value", label="Average order value", value=average, kind="money"
            ),
            *_period_facts(args.date_from, args.date_to),
            *(
                [
                    Fact(
                        key="all_revenue",
                        label="All sales in the period",
                        value=money(all_revenue),
                        kind="money",
                    ),
                    Fact(
                        key="share_pct",
                        label="Share of all sales",
                        value=percent(total_revenue, all_revenue),
                        kind="pct",
                    ),
                ]
                if filtered
                else []
            ),
        ],
        row_type=SalesRow,
    )


class TopCustomersArgs(_Period):
    """Arguments of ``erp_top_customers`` (no dates: the last 12 months)."""

    limit: int = Field(default=10, ge=1, le=100, description="How many customers")
    country: Country | None = Field(default=None, description="Only customers in this country")


class TopCustomerRow(Row):
    """A customer ranked by revenue."""

    id: str = column("Customer no.")
    rank: int = column("Rank", "int")
    name: str = column("Customer")
    orders: int = column("Orders", "int")
    revenue: Decimal = column("Revenue", "money")
    share_pct: Decimal = column("Share %", "pct")


def _default_year(
    session: Session, date_from: date | None, date_to: date | None
) -> tuple[date, date, date]:
    today = business_date(session)
    end = date_to or today
    start = date_from or (end - timedelta(days=364))
    return start, end, today


def top_customers(session: Session, args: TopCustomersArgs) -> SkillResult[TopCustomerRow]:
    """Rank customers by revenue over a period (default: the last 12 months), with their share."""
    start, end, today = _default_year(session, args.date_from, args.date_to)
    conditions = [
        m.SalesOrder.status != "cancelled",
        m.SalesOrder.order_date >= start,
        m.SalesOrder.order_date <= end,
    ]
    if args.country:
        conditions.append(
            m.SalesOrder.customer_id.in_(
                select(m.Customer.id).where(m.Customer.country == args.country)
            )
        )
    revenue = func.sum(m.SalesOrder.total_cents)
    total = int(session.scalar(select(func.coalesce(revenue, 0)).where(*conditions)) or 0)
    ranked = session.execute(
        select(m.Customer.number, m.Customer.name, func.count(), revenue)
        .join(m.Customer, m.SalesOrder.customer_id == m.Customer.id)
        .where(*conditions)
        .group_by(m.Customer.number, m.Customer.name)
        .order_by(revenue.desc(), m.Customer.number)
    ).all()
    rows = [
        TopCustomerRow(
            id=number,
            rank=rank,
            name=name,
            orders=orders,
            revenue=money(cents),
            share_pct=percent(cents, total),
        )
        for rank, (number, name, orders, cents) in enumerate(ranked[: args.limit], start=1)
    ]
    top = sum(int(cents) for *_rest, cents in ranked[: args.limit])
    return SkillResult[TopCustomerRow](
        skill="erp_top_customers",
        title="Top customers by revenue",
        as_of=today,
        rows=rows,
        total_rows=len(ranked),
        facts=[
            *([Fact(key="country", label="Country", value=args.country)] if args.country else []),
            Fact(key="revenue", label="Revenue, all customers", value=money(total), kind="money"),
            Fact(
                key="top_revenue", label=f"Revenue, top {len(rows)}", value=money(top), kind="money"
            ),
            Fact(
                key="top_share_pct",
                label=f"Share of top {len(rows)}",
                value=percent(top, total),
                kind="pct",
            ),
            *_period_facts(start, end),
        ],
        row_type=TopCustomerRow,
    )


class TopProductsArgs(_Period):
    """Arguments of ``erp_top_products`` (no dates: the last 12 months)."""

    category: Name | None = Field(default=None, description="Only this category, e.g. Brakes")
    by: Literal["revenue", "units"] = Field(
        default="revenue", description="Rank by revenue or units sold"
    )
    limit: int = Field(default=10, ge=1, le=100, description="How many products")


class TopProductRow(Row):
    """A product ranked by sales."""

    id: str = column("SKU")
    rank: int = column("Rank", "int")
    name: str = column("Product")
    category: str = column("Category")
    units: int = column("Units", "qty")
    revenue: Decimal = column("Revenue", "money")


def top_products(session: Session, args: TopProductsArgs) -> SkillResult[TopProductRow]:
    """Rank products by revenue or units sold over a period (default: the last 12 months)."""
    start, end, today = _default_year(session, args.date_from, args.date_to)
    conditions: list[Any] = [
        m.SalesOrder.status != "cancelled",
        m.SalesOrder.order_date >= start,
        m.SalesOrder.order_date <= end,
    ]
    if args.category:
        conditions.append(m.Product.category == resolve_category(session, args.category))
    revenue = func.sum(m.SalesOrderLine.line_total_cents)
    units = func.sum(m.SalesOrderLine.quantity)
    measure = revenue if args.by == "revenue" else units
    ranked = session.execute(
        select(m.Product.sku, m.Product.name, m.Product.category, units, revenue)
        .select_from(m.SalesOrderLine)
        .join(m.SalesOrder, m.SalesOrderLine.order_id == m.SalesOrder.id)
        .join(m.Product, m.SalesOrderLine.product_id == m.Product.id)
        .where(*conditions)
        .group_by(m.Product.sku, m.Product.name, m.Product.category)
        .order_by(measure.desc(), m.Product.sku)
    ).all()
    rows = [
        TopProductRow(
            id=sku, rank=rank, name=name, category=category, units=int(n), revenue=money(cents)
        )
        for rank, (sku, name, category, n, cents) in enumerate(ranked[: args.limit], start=1)
    ]
    return SkillResult[TopProductRow](
        skill="erp_top_products",
        title=f"Top products by {args.by}",
        as_of=today,
        rows=rows,
        total_rows=len(ranked),
        facts=[Fact(key="ranked_by", label="Ranked by", value=args.by), *_period_facts(start, end)],
        row_type=TopProductRow,
    )
