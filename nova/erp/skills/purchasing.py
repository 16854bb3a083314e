"""Purchasing read skills: supplier lead times, purchase orders, price list."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from nova.erp import models as m
from nova.erp.db import business_date
from nova.erp.results import (
    Fact,
    Row,
    SkillResult,
    column,
    money,
    one_place,
    percent,
)
from nova.erp.skills.common import (
    PRODUCT_HELP,
    SUPPLIER_HELP,
    Country,
    Limit,
    Name,
    NotFound,
    PoNumber,
    SkillArgs,
    _Period,
    _period_facts,
    _period_filter,
    note_filter,
    resolve_category,
    resolve_customer,
    resolve_product,
    resolve_supplier,
)

# --- purchasing -------------------------------------------------------------------------


LeadOrder = Literal["fastest_actual", "slowest_actual", "shortest_quoted", "longest_quoted"]


class SupplierLeadTimesArgs(SkillArgs):
    """Arguments of ``erp_supplier_lead_times``."""

    supplier: Name | None = Field(default=None, description=SUPPLIER_HELP + "; omit for all")
    category: Name | None = Field(
        default=None, description="Only suppliers of this category, e.g. Filters"
    )
    country: Country | None = Field(default=None, description="Only suppliers in this country")
    min_quoted_days: int | None = Field(
        default=None, ge=0, description="Only suppliers quoting a lead time over this many days"
    )
    max_quoted_days: int | None = Field(
        default=None, ge=0, description="Only suppliers quoting a lead time under this many days"
    )
    order: LeadOrder = Field(
        default="fastest_actual",
        description="Sort by the actual average lead time from received POs (fastest or "
        "slowest first) or by the quoted lead time (shortest or longest first)",
    )
    top: int | None = Field(
        default=None,
        ge=1,
        le=50,
        description="Only the first N suppliers in this order, with any tied with the last",
    )
    limit: Limit = 50


class LeadTimeRow(Row):
    """A supplier's quoted and actual lead times."""

    id: str = column("Supplier no.")
    name: str = column("Supplier")
    quoted_days: int = column("Quoted (days)", "days")
    avg_actual_days: Decimal | None = column("Actual avg (days)", "days")
    received_pos: int = column("POs received", "int")
    late_pos: int = column("Late POs", "int")
    on_time_pct: Decimal | None = column("On time %", "pct")
    country: str | None = column("Country", default=None)
    email: str | None = column("Email", default=None)
    phone: str | None = column("Phone", default=None)


_LEAD_ORDERS = {
    "fastest_actual": "fastest actual average first",
    "slowest_actual": "slowest actual average first",
    "shortest_quoted": "shortest quoted lead time first",
    "longest_quoted": "longest quoted lead time first",
}


def received_lead_times(
    session: Session, supplier_ids: Iterable[int]
) -> dict[int, list[tuple[int, bool]]]:
    """Return each supplier's received POs as (days from order to receipt, arrived late)."""
    received = session.execute(
        select(
            m.PurchaseOrder.supplier_id,
            m.PurchaseOrder.order_date,
            m.PurchaseOrder.expected_date,
            m.PurchaseOrder.received_date,
        ).where(
            m.PurchaseOrder.status == "received",
            m.PurchaseOrder.supplier_id.in_(list(supplier_ids)),
        )
    ).all()
    stats: dict[int, list[tuple[int, bool]]] = defaultdict(list)
    for supplier_id, ordered, expected, arrived in received:
        if arrived is not None:  # received POs always have a date; the column allows none
            stats[supplier_id].append(((arrived - ordered).days, arrived > expected))
    return stats


def supplier_lead_times(session: Session, args: SupplierLeadTimesArgs) -> SkillResult[LeadTimeRow]:
    """Compare suppliers' quoted lead times with actual ones from received POs, fastest first."""
    conditions: list[Any] = []
    if args.supplier:
        conditions.append(m.Supplier.id == resolve_supplier(session, args.supplier).id)
    if args.category:
        category = resolve_category(session, args.category)
        conditions.append(
            m.Supplier.id.in_(select(m.Product.supplier_id).where(m.Product.category == category))
        )
    if args.country:
        conditions.append(m.Supplier.country == args.country)
    if args.min_quoted_days is not None:
        conditions.append(m.Supplier.lead_time_days > args.min_quoted_days)
    if args.max_quoted_days is not None:
        conditions.append(m.Supplier.lead_time_days < args.max_quoted_days)
    suppliers = list(
        session.scalars(select(m.Supplier).where(*conditions).order_by(m.Supplier.number))
    )
    stats = received_lead_times(session, [s.id for s in suppliers])
    rows = []
    ids = {supplier.number: supplier.id for supplier in suppliers}
    for supplier in suppliers:
        own = stats.get(supplier.id, [])
        late = sum(1 for _, was_late in own if was_late)
        rows.append(
            LeadTimeRow(
                id=supplier.number,
                name=supplier.name,
                quoted_days=supplier.lead_time_days,
                avg_actual_days=one_place(sum(days for days, _ in own) / len(own)) if own else None,
                received_pos=len(own),
                late_pos=late,
                on_time_pct=percent(len(own) - late, len(own)) if own else None,
                country=supplier.country,
                email=supplier.email,
                phone=supplier.phone,
            )
        )
    if args.order in ("shortest_quoted", "longest_quoted"):
        sign = 1 if args.order == "shortest_quoted" else -1
        rows.sort(key=lambda row: (sign * row.quoted_days, row.id))
    else:
        sign = 1 if args.order == "fastest_actual" else -1
        rows.sort(
            key=lambda row: (
                row.avg_actual_days is None,
                sign * (row.avg_actual_days or 0),
                row.id,
            )
        )
    if args.top is not None and len(rows) > args.top:
        quoted = args.order in ("shortest_quoted", "longest_quoted")

        def key(row: LeadTimeRow) -> Decimal | int | None:
            return row.quoted_days if quoted else row.avg_actual_days

        last = key(rows[args.top - 1])
        rows = rows[: args.top] + [r for r in rows[args.top :] if key(r) == last]
    facts = [Fact(key="count", label="Suppliers", value=len(rows), kind="int")]
    facts.append(Fact(key="ordered_by", label="Order", value=_LEAD_ORDERS[args.order]))
    chosen = [
        f"in {args.country}" if args.country else "",
        f"quoting over {args.min_quoted_days} days" if args.min_quoted_days is not None else "",
        f"quoting under {args.max_quoted_days} days" if args.max_quoted_days is not None else "",
        f"supplying {args.category}" if args.category else "",
    ]
    if any(chosen):
        facts.append(
            Fact(key="filters", label="Suppliers", value=", ".join(c for c in chosen if c))
        )
    if rows:
        facts.append(
            Fact(
                key="avg_quoted_days",
                label="Average quoted lead time (days)",
                value=one_place(Decimal(sum(row.quoted_days for row in rows)) / len(rows)),
                kind="days",
            )
        )
        measured = [days for row in rows for days, _ in stats.get(ids[row.id], [])]
        if measured:
            facts.append(
                Fact(
                    key="avg_actual_days",
                    label="Average actual lead time over received POs (days)",
                    value=one_place(Decimal(sum(measured)) / len(measured)),
                    kind="days",
                )
            )
    return SkillResult[LeadTimeRow](
        skill="erp_supplier_lead_times",
        focus="record" if args.supplier else "list",
        title="Supplier lead times",
        as_of=business_date(session),
        rows=rows[: args.limit],
        total_rows=len(rows),
        facts=facts,
        row_type=LeadTimeRow,
    )


PoStatus = Literal["open", "received", "overdue", "late", "cancelled", "any"]


class PurchaseOrdersArgs(_Period):
    """Arguments of ``erp_purchase_orders`` (dates filter the order date)."""

    po_number: PoNumber | None = Field(default=None, description="e.g. PO-2025-0193")
    supplier: Name | None = Field(default=None, description=SUPPLIER_HELP)
    status: PoStatus = Field(
        default="any",
        description="open (not yet received), received, overdue (open past the expected date), "
        "late (received after the expected date, or open past it), cancelled or any",
    )
    product: Name | None = Field(default=None, description="Only POs containing this SKU")
    limit: Limit = 20


class PurchaseOrderRow(Row):
    """A purchase order."""

    id: str = column("PO")
    supplier: str = column("Supplier")
    warehouse: str = column("Warehouse")
    order_date: date = column("Ordered", "date")
    expected_date: date = column("Expected", "date")
    received_date: date | None = column("Received", "date")
    status: str = column("Status")
    lines: int = column("Lines", "int")
    total: Decimal = column("Total", "money")
    days_late: int | None = column("Days late", "days")
    product_quantity: str | None = column("Of the product")
    """With a product asked about: how many of it the PO orders, and how many arrived."""
    items: str | None = column("Items", default=None)
    """Open POs with no product asked about: what each brings ("what's on order from X")."""


def purchase_orders(session: Session, args: PurchaseOrdersArgs) -> SkillResult[PurchaseOrderRow]:
    """List purchase orders by number, supplier, status (open/overdue/received), product or date."""
    today = business_date(session)
    conditions: list[Any] = _period_filter(m.PurchaseOrder.order_date, args.date_from, args.date_to)
    if args.po_number:
        conditions.append(m.PurchaseOrder.number == args.po_number)
    if args.supplier:
        conditions.append(
            m.PurchaseOrder.supplier_id == resolve_supplier(session, args.supplier).id
        )
    if args.status != "any":
        note_filter(session, "status", args.status)
    if args.status == "open":
        conditions.append(m.PurchaseOrder.status == "ordered")
    elif args.status == "overdue":
        conditions += [m.PurchaseOrder.status == "ordered", m.PurchaseOrder.expected_date < today]
    elif args.status == "late":
        # Late is late whether it has arrived since or not: "how many POs were late".
        conditions.append(
            or_(
                m.PurchaseOrder.received_date > m.PurchaseOrder.expected_date,
                and_(m.PurchaseOrder.status == "ordered", m.PurchaseOrder.expected_date < today),
            )
        )
    elif args.status != "any":
        conditions.append(m.PurchaseOrder.status == args.status)
    product = resolve_product(session, args.product) if args.product else None
    if product is not None:
        conditions.append(
            m.PurchaseOrder.id.in_(
                select(m.PurchaseOrderLine.purchase_order_id).where(
                    m.PurchaseOrderLine.product_id == product.id
                )
            )
        )
    lines = (
        select(func.count())
        .where(m.PurchaseOrderLine.purchase_order_id == m.PurchaseOrder.id)
        .correlate(m.PurchaseOrder)
        .scalar_subquery()
    )
    base = (
        select(m.PurchaseOrder, m.Supplier.name, lines)
        .join(m.Supplier, m.PurchaseOrder.supplier_id == m.Supplier.id)
        .where(*conditions)
    )
    count, total = session.execute(
        base.with_only_columns(
            func.count(), func.coalesce(func.sum(m.PurchaseOrder.total_cents), 0)
        )
    ).one()
    # "Is the needle bearing on order?": how many of it each PO brings, not only the PO.
    quantities: dict[int, tuple[int, int]] = {}
    if product is not None:
        quantities = {
            po_id: (int(ordered or 0), int(received or 0))
            for po_id, ordered, received in session.execute(
                select(
                    m.PurchaseOrderLine.purchase_order_id,
                    func.sum(m.PurchaseOrderLine.quantity),
                    func.sum(m.PurchaseOrderLine.quantity_received),
                )
                .where(m.PurchaseOrderLine.product_id == product.id)
                .group_by(m.PurchaseOrderLine.purchase_order_id)
            )
        }
    shown = session.execute(
        base.order_by(m.PurchaseOrder.order_date.desc(), m.PurchaseOrder.number.desc()).limit(
            args.limit
        )
    ).all()
    # Goods still to come, no product asked about: what each order brings.
    items: dict[int, list[str]] = {}
    if product is None and args.status in ("open", "overdue"):
        for po_id, quantity, sku in session.execute(
            select(
                m.PurchaseOrderLine.purchase_order_id,
                m.PurchaseOrderLine.quantity - m.PurchaseOrderLine.quantity_received,
                m.Product.sku,
            )
            .join(m.Product, m.Product.id == m.PurchaseOrderLine.product_id)
            .where(m.PurchaseOrderLine.purchase_order_id.in_([po.id for po, *_ in shown]))
            .order_by(m.PurchaseOrderLine.line_no)
        ):
            items.setdefault(po_id, []).append(f"{quantity} x {sku}")
    rows = []
    for po, supplier, n_lines in shown:
        arrived = po.received_date or (today if po.status == "ordered" else None)
        late = (arrived - po.expected_date).days if arrived and arrived > po.expected_date else None
        rows.append(
            PurchaseOrderRow(
                id=po.number,
                supplier=supplier,
                warehouse=po.warehouse,
                order_date=po.order_date,
                expected_date=po.expected_date,
                received_date=po.received_date,
                status=po.status,
                lines=n_lines,
                total=money(po.total_cents),
                days_late=late,
                product_quantity=(
                    f"{quantities[po.id][0]} x {product.sku}"
                    + (f" ({quantities[po.id][1]} received)" if quantities[po.id][1] else "")
                    if product is not None and po.id in quantities
                    else None
                ),
                items="; ".join(items[po.id]) if po.id in items else None,
            )
        )
    if args.po_number and not rows:
        raise NotFound(f"No purchase order {args.po_number}; PO numbers look like PO-2025-0193")
    facts = [
        Fact(key="count", label="Purchase orders", value=count, kind="int"),
        Fact(key="total", label="Value", value=money(total), kind="money"),
        *_period_facts(args.date_from, args.date_to),
    ]
    if args.po_number and rows:
        for line, sku in session.execute(
            select(m.PurchaseOrderLine, m.Product.sku)
            .join(m.Product, m.PurchaseOrderLine.product_id == m.Product.id)
            .join(m.PurchaseOrder, m.PurchaseOrderLine.purchase_order_id == m.PurchaseOrder.id)
            .where(m.PurchaseOrder.number == args.po_number)
            .order_by(m.PurchaseOrderLine.line_no)
        ):
            facts.append(
                Fact(
                    key=f"line_{line.line_no}",
                    label=f"Line {line.line_no}",
                    value=(
                        f"{line.quantity} x {sku} at {money(line.unit_cost_cents)} "
                        f"(received {line.quantity_received})"
                    ),
                )
            )
    return SkillResult[PurchaseOrderRow](
        skill="erp_purchase_orders",
        focus="record" if args.po_number else "list",
        title="Purchase orders",
        as_of=today,
        rows=rows,
        total_rows=count,
        facts=facts,
        row_type=PurchaseOrderRow,
    )


class PriceListArgs(SkillArgs):
    """Arguments of ``erp_price_list``."""

    category: Name | None = Field(default=None, description="Product category, e.g. Filters")
    product: Name | None = Field(default=None, description=PRODUCT_HELP)
    customer: Name | None = Field(
        default=None, description="Show this customer's net prices after their discount"
    )
    max_margin_pct: Decimal | None = Field(
        default=None, ge=-100, le=100, description="Only products with a margin below this %"
    )
    order: Literal["sku", "lowest_margin", "highest_margin"] = Field(
        default="sku", description="Sort by SKU, or by margin % (lowest or highest first)"
    )
    limit: Limit = 25


class PriceRow(Row):
    """A product's prices."""

    id: str = column("SKU")
    name: str = column("Product")
    category: str = column("Category")
    list_price: Decimal = column("List price", "money")
    cost: Decimal = column("Cost", "money")
    margin: Decimal = column("Margin", "money")
    """List price less cost, in euros: "the margin on X" is read as either, so both are shown."""
    margin_pct: Decimal = column("Margin %", "pct")
    customer_price: Decimal | None = column("Customer price", "money")


def price_list(session: Session, args: PriceListArgs) -> SkillResult[PriceRow]:
    """Show list prices, costs and margins of products; with a customer, their net prices."""
    conditions: list[Any] = [m.Product.active.is_(True)]
    if args.category:
        conditions.append(m.Product.category == resolve_category(session, args.category))
    if args.product:
        conditions.append(m.Product.id == resolve_product(session, args.product).id)
    discount = None
    facts: list[Fact] = []
    if args.customer:
        customer = resolve_customer(session, args.customer)
        discount = customer.discount_pct
        facts += [
            Fact(key="customer", label="Customer", value=customer.name),
            Fact(key="discount_pct", label="Customer discount %", value=discount, kind="int"),
        ]
    products = list(session.scalars(select(m.Product).where(*conditions).order_by(m.Product.sku)))
    rows = []
    exact: dict[str, Fraction] = {}  # the ranking's key: shown margins are rounded, ties are not
    for product in products:
        margin = percent(product.unit_price_cents - product.cost_cents, product.unit_price_cents)
        if args.max_margin_pct is not None and margin >= args.max_margin_pct:
            continue
        if product.unit_price_cents:
            exact[product.sku] = Fraction(
                product.unit_price_cents - product.cost_cents, product.unit_price_cents
            )
        rows.append(
            PriceRow(
                id=product.sku,
                name=product.name,
                category=product.category,
                list_price=money(product.unit_price_cents),
                cost=money(product.cost_cents),
                margin=money(product.unit_price_cents - product.cost_cents),
                margin_pct=margin,
                customer_price=(
                    money(round(product.unit_price_cents * (100 - discount) / 100))
                    if discount is not None
                    else None
                ),
            )
        )
    if args.order != "sku":
        rows.sort(
            key=lambda row: exact.get(row.id, Fraction(row.margin_pct)),
            reverse=args.order == "highest_margin",
        )
    facts.insert(0, Fact(key="count", label="Products", value=len(rows), kind="int"))
    return SkillResult[PriceRow](
        skill="erp_price_list",
        focus="record" if args.product else "list",
        title="Price list",
        as_of=business_date(session),
        rows=rows[: args.limit],
        total_rows=len(rows),
        facts=facts,
        row_type=PriceRow,
    )
