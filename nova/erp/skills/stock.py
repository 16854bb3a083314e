"""Product and stock read skills: products, stock levels, reorder, movements."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, model_validator
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from nova.erp import models as m
from nova.erp.db import business_date
from nova.erp.resolve import canonical_number, normalise
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
    Limit,
    Name,
    NotFound,
    SkillArgs,
    _empty_hint,
    _Period,
    _period_facts,
    _period_filter,
    resolve_category,
    resolve_product,
    resolve_warehouse,
)
from nova.erp.skills.purchasing import received_lead_times

# --- products and stock -----------------------------------------------------------------


class FindProductArgs(SkillArgs):
    """Arguments of ``erp_find_product``."""

    query: Name = Field(description="SKU like BRK-2210, or words of the product name")
    category: Name | None = Field(default=None, description="Product category, e.g. Filters")
    limit: Limit = 10


class ProductRow(Row):
    """A product with price, cost and stock."""

    id: str = column("SKU")
    name: str = column("Product")
    category: str = column("Category")
    unit_price: Decimal = column("Price", "money")
    cost: Decimal = column("Cost", "money")
    margin_pct: Decimal = column("Margin %", "pct")
    on_hand: int = column("On hand", "qty")
    available: int = column("Available", "qty")
    supplier: str | None = column("Supplier")
    status: str | None = column("Status", default=None)
    """"inactive" for a product no longer in the range; nothing for an active one."""
    lead_time: str | None = column("Supplier's lead time", default=None)
    """What the supplier quotes, and what its received orders took on average ("how long
    do they take" is asked of a product's supplier as often as its name)."""


def _lead_times(session: Session, supplier_ids: set[int]) -> dict[int, str]:
    """Describe each supplier's quoted lead time beside the average its received POs took.

    The average is the one ``erp_supplier_lead_times`` states, computed the same way.
    """
    took = received_lead_times(session, supplier_ids)
    described = {}
    for supplier_id, days in session.execute(
        select(m.Supplier.id, m.Supplier.lead_time_days).where(m.Supplier.id.in_(supplier_ids))
    ):
        text = f"quoted {days} days"
        if spans := took.get(supplier_id):
            average = one_place(sum(span for span, _late in spans) / len(spans))
            text += f", {average} days on average over {len(spans)} received orders"
        described[supplier_id] = text
    return described


def _stock_totals(session: Session, product_ids: list[int]) -> dict[int, tuple[int, int]]:
    rows = session.execute(
        select(
            m.StockLevel.product_id, func.sum(m.StockLevel.on_hand), func.sum(m.StockLevel.reserved)
        )
        .where(m.StockLevel.product_id.in_(product_ids))
        .group_by(m.StockLevel.product_id)
    )
    return {pid: (int(on_hand or 0), int(reserved or 0)) for pid, on_hand, reserved in rows}


def find_product(session: Session, args: FindProductArgs) -> SkillResult[ProductRow]:
    """Find products by SKU or name words: price, cost, margin, stock and supplier."""
    from rapidfuzz import fuzz, process

    conditions: list[Any] = []
    if args.category:
        conditions.append(m.Product.category == resolve_category(session, args.category))
    sku = canonical_number("sku", args.query)
    if sku:
        conditions.append(m.Product.sku == sku)
        ranked_ids = None
    else:
        candidates = session.execute(select(m.Product.id, m.Product.name).where(*conditions)).all()
        scored = process.extract(
            normalise(args.query),
            {pid: normalise(name) for pid, name in candidates},
            scorer=fuzz.token_set_ratio,
            limit=None,
            score_cutoff=75,
        )
        ranked_ids = [pid for _name, _score, pid in sorted(scored, key=lambda s: (-s[1], s[2]))]
        conditions.append(m.Product.id.in_(ranked_ids))
    products = list(
        session.execute(
            select(m.Product, m.Supplier.name)
            .outerjoin(m.Supplier, m.Product.supplier_id == m.Supplier.id)
            .where(*conditions)
        )
    )
    if ranked_ids is not None:
        order = {pid: i for i, pid in enumerate(ranked_ids)}
        products.sort(key=lambda pair: order[pair[0].id])
    if not products:
        raise NotFound(
            f"No product matches {args.query!r}; try the SKU or fewer "
            f"words.{_empty_hint(session, m.Product)}"
        )
    shown = products[: args.limit]
    stock = _stock_totals(session, [p.id for p, _ in shown])
    lead_times = _lead_times(session, {p.supplier_id for p, _ in shown if p.supplier_id})
    rows = [
        ProductRow(
            id=product.sku,
            name=product.name,
            category=product.category,
            unit_price=money(product.unit_price_cents),
            cost=money(product.cost_cents),
            margin_pct=percent(
                product.unit_price_cents - product.cost_cents, product.unit_price_cents
            ),
            on_hand=stock.get(product.id, (0, 0))[0],
            available=stock.get(product.id, (0, 0))[0] - stock.get(product.id, (0, 0))[1],
            supplier=supplier,
            lead_time=lead_times.get(product.supplier_id) if product.supplier_id else None,
            status=None if product.active else "inactive",
        )
        for product, supplier in shown
    ]
    return SkillResult[ProductRow](
        skill="erp_find_product",
        focus="record" if sku else "list",
        title="Products",
        as_of=business_date(session),
        rows=rows,
        total_rows=len(products),
        facts=[Fact(key="count", label="Products found", value=len(products), kind="int")],
        row_type=ProductRow,
    )


class StockLevelArgs(SkillArgs):
    """Arguments of ``erp_stock_level``."""

    product: Name | None = Field(default=None, description=PRODUCT_HELP)
    category: Name | None = Field(
        default=None, description="Every product of a category, e.g. Brakes"
    )
    warehouse: Name | None = Field(default=None, description="MAIN or ULM; omit for both")
    limit: Limit = 50

    @model_validator(mode="after")
    def _one(self) -> StockLevelArgs:
        if bool(self.product) == bool(self.category):
            raise ValueError("give either a product (SKU or exact name) or a category")
        return self


class StockRow(Row):
    """Stock of one product in one warehouse."""

    id: str = column("SKU@warehouse")
    sku: str = column("SKU")
    name: str = column("Product")
    warehouse: str = column("Warehouse")
    on_hand: int = column("On hand", "qty")
    reserved: int = column("Reserved", "qty")
    available: int = column("Available", "qty")
    reorder_point: int = column("Reorder point", "qty")
    incoming: str | None = column("Incoming")
    """The open purchase orders for this product and warehouse ("PO-2025-0125: 280 from
    Donau Components, expected 2025-07-03"): "on order" answers "when does it come in" only
    with the orders that say when and from whom."""


_OpenLine = tuple[int, str, str, int, str, date]
"""An open purchase-order line: product id, warehouse, PO number, units still to come,
supplier, expected date."""


def _open_po_lines(session: Session, product_ids: list[int]) -> list[_OpenLine]:
    """Return the lines of open purchase orders for these products, earliest expected first."""
    rows = session.execute(
        select(
            m.PurchaseOrderLine.product_id,
            m.PurchaseOrder.warehouse,
            m.PurchaseOrder.number,
            m.PurchaseOrderLine.quantity - m.PurchaseOrderLine.quantity_received,
            m.Supplier.name,
            m.PurchaseOrder.expected_date,
        )
        .join(m.PurchaseOrder, m.PurchaseOrderLine.purchase_order_id == m.PurchaseOrder.id)
        .join(m.Supplier, m.PurchaseOrder.supplier_id == m.Supplier.id)
        .where(m.PurchaseOrder.status == "ordered", m.PurchaseOrderLine.product_id.in_(product_ids))
        .order_by(m.PurchaseOrder.expected_date, m.PurchaseOrder.number)
    )
    return [
        (product_id, warehouse, number, int(quantity), supplier, expected)
        for product_id, warehouse, number, quantity, supplier, expected in rows
    ]


def _on_order_of(lines: list[_OpenLine]) -> dict[tuple[int, str], int]:
    """Units still to come per product and warehouse."""
    totals: dict[tuple[int, str], int] = {}
    for product_id, warehouse, _number, quantity, _supplier, _expected in lines:
        totals[product_id, warehouse] = totals.get((product_id, warehouse), 0) + quantity
    return totals


def _incoming_of(lines: list[_OpenLine]) -> dict[tuple[int, str], str]:
    """Describe the open purchase orders of each product and warehouse, earliest expected first."""
    orders: dict[tuple[int, str], list[str]] = {}
    for product_id, warehouse, number, quantity, supplier, expected in lines:
        if quantity > 0:
            orders.setdefault((product_id, warehouse), []).append(
                f"{number}: {quantity} from {supplier}, expected {expected.isoformat()}"
            )
    return {key: "; ".join(texts) for key, texts in orders.items()}


def _on_order(session: Session, product_ids: list[int]) -> dict[tuple[int, str], int]:
    return _on_order_of(_open_po_lines(session, product_ids))


def stock_level(session: Session, args: StockLevelArgs) -> SkillResult[StockRow]:
    """Show stock on hand, reserved and available per warehouse for a product or a category."""
    conditions: list[Any] = []
    if args.product:
        conditions.append(m.StockLevel.product_id == resolve_product(session, args.product).id)
    else:
        conditions.append(m.Product.category == resolve_category(session, args.category or ""))
    if args.warehouse:
        conditions.append(m.StockLevel.warehouse == resolve_warehouse(session, args.warehouse))
    stmt = (
        select(m.StockLevel, m.Product)
        .join(m.Product, m.StockLevel.product_id == m.Product.id)
        .where(*conditions)
        .order_by(m.Product.sku, m.StockLevel.warehouse)
    )
    pairs = list(session.execute(stmt))
    # One read of the open PO lines gives both what is on order and which orders bring it.
    open_lines = _open_po_lines(session, sorted({product.id for _, product in pairs}))
    incoming = _incoming_of(open_lines)
    rows = [
        StockRow(
            id=f"{product.sku}@{level.warehouse}",
            sku=product.sku,
            name=product.name,
            warehouse=level.warehouse,
            on_hand=level.on_hand,
            reserved=level.reserved,
            available=level.on_hand - level.reserved,
            reorder_point=product.reorder_point,
            incoming=incoming.get((product.id, level.warehouse)),
        )
        for level, product in pairs
    ]
    on_order = _on_order_of(open_lines)
    facts = [
        Fact(key="on_hand", label="On hand", value=sum(r.on_hand for r in rows), kind="qty"),
        Fact(key="reserved", label="Reserved", value=sum(r.reserved for r in rows), kind="qty"),
        Fact(key="available", label="Available", value=sum(r.available for r in rows), kind="qty"),
        Fact(
            key="on_order",
            label="On order from suppliers",
            value=sum(on_order.values()),
            kind="qty",
        ),
    ]
    return SkillResult[StockRow](
        skill="erp_stock_level",
        title="Stock",
        as_of=business_date(session),
        rows=rows[: args.limit],
        total_rows=len(rows),
        facts=facts,
        row_type=StockRow,
    )


class ReorderCandidatesArgs(SkillArgs):
    """Arguments of ``erp_reorder_candidates``."""

    category: Name | None = Field(default=None, description="Only this category, e.g. Filters")
    warehouse: Name | None = Field(default=None, description="MAIN or ULM; omit for both")
    out_of_stock_only: bool = Field(default=False, description="Only items with nothing available")
    strictly_below: bool = Field(
        default=False,
        description=(
            "Stock on hand strictly below the reorder point (the literal 'below'), instead of "
            "the replenishment trigger: available stock at or below it"
        ),
    )
    limit: Limit = 25


class ReorderRow(Row):
    """A product at or below its reorder point in one warehouse."""

    id: str = column("SKU@warehouse")
    sku: str = column("SKU")
    name: str = column("Product")
    warehouse: str = column("Warehouse")
    available: int = column("Available", "qty")
    reorder_point: int = column("Reorder point", "qty")
    on_order: int = column("On order", "qty")
    suggested_qty: int = column("Suggested order", "qty")
    supplier: str | None = column("Supplier")


def reorder_candidates(session: Session, args: ReorderCandidatesArgs) -> SkillResult[ReorderRow]:
    """List products at or below their reorder point (low stock), the most short first."""
    available = m.StockLevel.on_hand - m.StockLevel.reserved
    scope: list[Any] = [m.Product.active.is_(True)]
    if args.category:
        scope.append(m.Product.category == resolve_category(session, args.category))
    if args.warehouse:
        scope.append(m.StockLevel.warehouse == resolve_warehouse(session, args.warehouse))
    trigger = available <= m.Product.reorder_point
    literal = m.StockLevel.on_hand < m.Product.reorder_point
    if args.out_of_stock_only:
        chosen = available <= 0
    else:
        chosen = literal if args.strictly_below else trigger
    stmt = (
        select(m.StockLevel, m.Product, m.Supplier.name)
        .join(m.Product, m.StockLevel.product_id == m.Product.id)
        .outerjoin(m.Supplier, m.Product.supplier_id == m.Supplier.id)
        .where(*scope, chosen)
        .order_by(available - m.Product.reorder_point, m.Product.sku, m.StockLevel.warehouse)
    )
    found = list(session.execute(stmt))
    # "Below the reorder point" reads two ways: the replenishment trigger (available at or
    # below the point) or the literal comparison (on hand strictly below it). The list holds
    # the reading asked for; the answer states how many the other gives, so the owner sees
    # both comparisons.
    other = session.scalar(
        select(func.count())
        .select_from(m.StockLevel)
        .join(m.Product, m.StockLevel.product_id == m.Product.id)
        .where(*scope, trigger if args.strictly_below else literal)
    )
    on_order = _on_order(session, sorted({product.id for _, product, _ in found}))
    rows = []
    for level, product, supplier in found[: args.limit]:
        pending = on_order.get((product.id, level.warehouse), 0)
        rows.append(
            ReorderRow(
                id=f"{product.sku}@{level.warehouse}",
                sku=product.sku,
                name=product.name,
                warehouse=level.warehouse,
                available=level.on_hand - level.reserved,
                reorder_point=product.reorder_point,
                on_order=pending,
                suggested_qty=max(product.reorder_qty - pending, 0),
                supplier=supplier,
            )
        )
    return SkillResult[ReorderRow](
        skill="erp_reorder_candidates",
        title=(
            "Out of stock"
            if args.out_of_stock_only
            else "Below reorder point"
            if args.strictly_below
            else "Reorder candidates"
        ),
        as_of=business_date(session),
        rows=rows,
        total_rows=len(found),
        facts=[
            Fact(key="count", label="Items", value=len(found), kind="int"),
            Fact(
                key="available_at_or_below" if args.strictly_below else "on_hand_below",
                label=(
                    "Available at or below the reorder point"
                    if args.strictly_below
                    else "On hand strictly below the reorder point"
                ),
                value=int(other or 0),
                kind="int",
            ),
        ],
        row_type=ReorderRow,
    )


MovementKind = Literal["receipt", "sale", "return", "adjustment", "opening"]


class StockMovementsArgs(_Period):
    """Arguments of ``erp_stock_movements``."""

    product: Name | None = Field(default=None, description=PRODUCT_HELP)
    warehouse: Name | None = Field(default=None, description="MAIN or ULM; omit for both")
    kind: MovementKind | None = Field(
        default=None, description="receipt, sale, return, adjustment or opening"
    )
    limit: Limit = 25

    @model_validator(mode="after")
    def _something(self) -> StockMovementsArgs:
        if not self.product and not (self.date_from or self.date_to):
            raise ValueError("give a product or a date range (date_from/date_to)")
        return self


class MovementRow(Row):
    """One stock movement."""

    id: str = column("Movement")
    moved_on: date = column("Date", "date")
    sku: str = column("SKU")
    warehouse: str = column("Warehouse")
    quantity: int = column("Quantity", "qty")
    kind: str = column("Kind")
    reference: str | None = column("Reference")
    note: str | None = column("Note")
    created_by: str | None = column("By")


def stock_movements(session: Session, args: StockMovementsArgs) -> SkillResult[MovementRow]:
    """List stock movements (receipts, sales, returns, adjustments), newest first."""
    conditions: list[Any] = _period_filter(m.StockMovement.moved_on, args.date_from, args.date_to)
    if args.product:
        conditions.append(m.StockMovement.product_id == resolve_product(session, args.product).id)
    if args.warehouse:
        conditions.append(m.StockMovement.warehouse == resolve_warehouse(session, args.warehouse))
    if args.kind:
        conditions.append(m.StockMovement.kind == args.kind)
    base = (
        select(m.StockMovement, m.Product.sku)
        .join(m.Product, m.StockMovement.product_id == m.Product.id)
        .where(*conditions)
    )
    count, incoming, outgoing = session.execute(
        base.with_only_columns(
            func.count(),
            func.coalesce(
                func.sum(case((m.StockMovement.quantity > 0, m.StockMovement.quantity), else_=0)), 0
            ),
            func.coalesce(
                func.sum(case((m.StockMovement.quantity < 0, -m.StockMovement.quantity), else_=0)),
                0,
            ),
        )
    ).one()
    rows = [
        MovementRow(
            id=f"MOV-{movement.id}",
            moved_on=movement.moved_on,
            sku=sku,
            warehouse=movement.warehouse,
            quantity=movement.quantity,
            kind=movement.kind,
            reference=movement.reference,
            note=movement.note,
            created_by=movement.created_by,
        )
        for movement, sku in session.execute(
            base.order_by(m.StockMovement.moved_on.desc(), m.StockMovement.id.desc()).limit(
                args.limit
            )
        )
    ]
    return SkillResult[MovementRow](
        skill="erp_stock_movements",
        title="Stock movements",
        as_of=business_date(session),
        rows=rows,
        total_rows=count,
        facts=[
            Fact(key="count", label="Movements", value=count, kind="int"),
            Fact(key="in", label="Units in", value=int(incoming), kind="qty"),
            Fact(key="out", label="Units out", value=int(outgoing), kind="qty"),
            Fact(key="net", label="Net change", value=int(incoming) - int(outgoing), kind="qty"),
            *_period_facts(args.date_from, args.date_to),
        ],
        row_type=MovementRow,
    )
