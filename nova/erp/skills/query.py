"""The general ERP query: measure × subject × grouping × filters × period × ranking.

``erp_query`` answers the aggregate questions no list skill answers ("how many invoices did
we raise last year", "receivables by country", "which carrier do we use most") from one
declared schema: ``SUBJECTS`` says, for every subject (orders, invoices, payments, …), which
measures it can compute, which dimensions it can group by and which statuses it can filter
on, each with the SQLAlchemy expression behind it. ``QueryArgs`` is a parsed plan validated
against that schema; ``run_query`` builds one SQL statement from it. The fast path fills the
plan from the request's words (``nova.erp.intents.structured``); a model agent fills it as a
tool's arguments. Every answer states its reading (what was counted, what was left out, the
period) in its first line, so a figure is never shown without what it means.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

from dateutil.relativedelta import relativedelta
from pydantic import Field, model_validator
from sqlalchemy import (
    Integer,
    and_,
    case,
    cast,
    distinct,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from nova.erp import models as m
from nova.erp.db import business_date
from nova.erp.results import Fact, Kind, Row, SkillResult, column
from nova.erp.skills.common import (
    CUSTOMER_HELP,
    SUPPLIER_HELP,
    Country,
    IsoDate,
    Limit,
    Name,
    NotFound,
    SkillArgs,
    SkillError,
    resolve_category,
    resolve_customer,
    resolve_product,
    resolve_supplier,
)

Subject = Literal[
    "orders",
    "invoices",
    "payments",
    "returns",
    "shipments",
    "purchase_orders",
    "customers",
    "stock_movements",
    "stock",
    "credit_notes",
    "products",
    "suppliers",
]
Measure = Literal[
    "count",
    "value",
    "average_value",
    "units",
    "discount",
    "average_discount_pct",
    "profit",
    "open_amount",
    "days_to_pay",
    "days_to_ship",
    "days_in_transit",
    "reserved",
    "on_hand",
    "available",
    "stock_value",
    "price",
    "margin_pct",
    "markup_pct",
    "credit_limit",
]
Dimension = Literal[
    "month", "weekday", "country", "customer", "category", "product", "carrier", "reason",
    "supplier", "status", "method", "warehouse", "buyer",
]  # fmt: skip
CustomerCondition = Literal[
    "ordered", "not_ordered", "new", "over_credit_limit", "owing", "open_invoices"
]


# --- the declared schema ------------------------------------------------------------------

Expr = ColumnElement[Any]


@dataclass(frozen=True, slots=True)
class MeasureSpec:
    """A figure a subject can compute: its label, display kind and aggregate expression."""

    label: str
    kind: Kind
    aggregate: Callable[[Dialect], Expr]
    grain: Literal["row", "line"] = "row"
    """``line``: computed over order/PO lines (the query joins them)."""
    total: Callable[[Dialect], Expr] | None = None
    """For an average: the sum it averages, stated beside it."""


@dataclass(frozen=True, slots=True)
class SubjectSpec:
    """One thing the owner asks about, with what can be computed, grouped and filtered."""

    noun: str
    """Plural noun for the answer ("orders")."""
    entity: Any
    date_column: Any | None
    date_label: str
    measures: dict[str, MeasureSpec]
    dimensions: frozenset[str]
    statuses: dict[str, Callable[[date], Expr]] = field(default_factory=dict)
    """Status filters by name, built for the business date."""
    default_filter: tuple[str, Callable[[], Expr]] | None = None
    """What is left out unless a status is asked for (cancelled orders), with its wording."""
    customer_column: Any | None = None
    number_column: Any | None = None
    amount_column: Any | None = None
    """Each record's own amount, which ``amount_above`` compares ("orders over 2k")."""
    due_column: Any | None = None
    """A second date the period may apply to (``date_basis="due"``): invoices' due date."""
    due_label: str = "due date"
    """How the answer names ``due_column`` (a purchase order's is its expected date)."""
    arrival_column: Any | None = None
    """A date the records arrived on (``date_basis="received"``): a purchase order's receipt."""
    arrival_label: str = "received date"


def _cents(expr: Any) -> Expr:
    return func.coalesce(func.sum(expr), 0)


UNSOLD = "unsold"
"""Products with no sale in the period: no line on a sales order that was not cancelled."""


def _sold(date_from: date | None, date_to: date | None) -> Expr:
    """Whether the product (``Product.id``) is on a not-cancelled order dated in the span."""
    placed = [
        m.SalesOrderLine.product_id == m.Product.id,
        m.SalesOrder.status != "cancelled",
    ]
    if date_from is not None:
        placed.append(m.SalesOrder.order_date >= date_from)
    if date_to is not None:
        placed.append(m.SalesOrder.order_date <= date_to)
    return exists(
        select(m.SalesOrderLine.id)
        .join(m.SalesOrder, m.SalesOrder.id == m.SalesOrderLine.order_id)
        .where(*placed)
    )


@dataclass(frozen=True, slots=True)
class Dialect:
    """Date arithmetic, which SQLite and PostgreSQL spell differently."""

    postgres: bool

    def days(self, later: Any, earlier: Any) -> Expr:
        """Days from ``earlier`` to ``later`` (dates)."""
        if self.postgres:
            return later - earlier
        return func.julianday(later) - func.julianday(earlier)

    def month(self, day: Any) -> Expr:
        """``YYYY-MM`` of a date."""
        return func.to_char(day, "YYYY-MM") if self.postgres else func.strftime("%Y-%m", day)

    def weekday(self, day: Any) -> Expr:
        """0 (Sunday) to 6 of a date."""
        if self.postgres:
            return cast(func.extract("dow", day), Integer)
        return cast(func.strftime("%w", day), Integer)


def _movement_kind(kind: str) -> Callable[[date], Expr]:
    return lambda today: m.StockMovement.kind == kind


SO, SOL, INV, PAY = m.SalesOrder, m.SalesOrderLine, m.Invoice, m.Payment
RET, SHP, PO, POL = m.Return, m.Shipment, m.PurchaseOrder, m.PurchaseOrderLine

SUBJECTS: dict[str, SubjectSpec] = {
    "orders": SubjectSpec(
        "orders",
        SO,
        SO.order_date,
        "order date",
        {
            "count": MeasureSpec("number of orders", "int", lambda d: func.count(distinct(SO.id))),
            "value": MeasureSpec(
                "order value", "money", lambda d: _cents(SOL.line_total_cents), "line"
            ),
            "average_value": MeasureSpec(
                "average order value",
                "money",
                lambda d: func.avg(SO.total_cents),
                total=lambda d: _cents(SO.total_cents),
            ),
            "units": MeasureSpec("units", "qty", lambda d: _cents(SOL.quantity), "line"),
            "discount": MeasureSpec(
                "discount given (list value less net line amounts)",
                "money",
                lambda d: _cents(SOL.quantity * SOL.unit_price_cents - SOL.line_total_cents),
                "line",
            ),
            "average_discount_pct": MeasureSpec(
                "average line discount", "pct", lambda d: func.avg(SOL.discount_pct), "line"
            ),
            "profit": MeasureSpec(
                "gross profit (net line amounts less units × current product cost)",
                "money",
                lambda d: _cents(SOL.line_total_cents - SOL.quantity * m.Product.cost_cents),
                "line",
            ),
            # What was earned on what was sold, as a share of it; a product's list margin
            # ("margin on BRK-2897") is the products' measure of the same name.
            "margin_pct": MeasureSpec(
                "gross margin % of net sales (net line amounts less units × current product cost)",
                "pct",
                lambda d: (
                    func.sum(SOL.line_total_cents - SOL.quantity * m.Product.cost_cents)
                    * 100.0
                    / func.nullif(func.sum(SOL.line_total_cents), 0)
                ),
                "line",
            ),
        },
        frozenset({"month", "weekday", "country", "customer", "category", "product", "status"}),
        {
            "cancelled": lambda today: SO.status == "cancelled",
            "open": lambda today: SO.status == "open",
            "shipped": lambda today: SO.status.in_(("shipped", "delivered")),
            "delivered": lambda today: SO.status == "delivered",
        },
        ("cancelled orders excluded", lambda: SO.status != "cancelled"),
        SO.customer_id,
        SO.number,
        amount_column=SO.total_cents,
    ),
    "invoices": SubjectSpec(
        "invoices",
        INV,
        INV.issue_date,
        "issue date",
        {
            "count": MeasureSpec("number of invoices", "int", lambda d: func.count(INV.id)),
            "value": MeasureSpec("invoiced total", "money", lambda d: _cents(INV.total_cents)),
            "average_value": MeasureSpec(
                "average invoice total",
                "money",
                lambda d: func.avg(INV.total_cents),
                total=lambda d: _cents(INV.total_cents),
            ),
            "open_amount": MeasureSpec(
                "amount still open", "money", lambda d: _cents(INV.total_cents - INV.paid_cents)
            ),
            "days_to_pay": MeasureSpec(
                "average days from issue to payment (payments applied to an invoice)",
                "days",
                lambda d: func.avg(d.days(PAY.paid_on, INV.issue_date)),
            ),
        },
        frozenset({"month", "country", "customer", "status"}),
        {
            "open": lambda today: INV.status == "open",
            "paid": lambda today: INV.status == "paid",
            "overdue": lambda today: and_(INV.status == "open", INV.due_date < today),
            "not_due": lambda today: and_(INV.status == "open", INV.due_date >= today),
            # Some money received, some still owed.
            "partly_paid": lambda today: and_(
                INV.status == "open", INV.paid_cents > 0, INV.paid_cents < INV.total_cents
            ),
        },
        None,
        INV.customer_id,
        INV.number,
        amount_column=INV.total_cents,
        due_column=INV.due_date,
    ),
    "payments": SubjectSpec(
        "payments",
        PAY,
        PAY.paid_on,
        "payment date",
        {
            "count": MeasureSpec("number of payments", "int", lambda d: func.count(PAY.id)),
            "value": MeasureSpec("amount received", "money", lambda d: _cents(PAY.amount_cents)),
            "average_value": MeasureSpec(
                "average payment",
                "money",
                lambda d: func.avg(PAY.amount_cents),
                total=lambda d: _cents(PAY.amount_cents),
            ),
        },
        frozenset({"month", "country", "customer", "method"}),
        {
            "unapplied": lambda today: PAY.invoice_id.is_(None),
            "applied": lambda today: PAY.invoice_id.is_not(None),
        },
        None,
        PAY.customer_id,
        PAY.number,
        amount_column=PAY.amount_cents,
    ),
    "returns": SubjectSpec(
        "returns",
        RET,
        RET.requested_on,
        "request date",
        {
            "count": MeasureSpec("number of returns", "int", lambda d: func.count(RET.id)),
            "units": MeasureSpec("units returned", "qty", lambda d: _cents(RET.quantity)),
        },
        frozenset({"month", "country", "customer", "category", "product", "reason", "status"}),
        {
            "rejected": lambda today: RET.status == "rejected",
            "refunded": lambda today: RET.status == "refunded",
            "open": lambda today: RET.status.in_(("requested", "received")),
        },
        None,
        RET.customer_id,
        RET.number,
    ),
    "shipments": SubjectSpec(
        "shipments",
        SHP,
        SHP.shipped_on,
        "ship date",
        {
            "count": MeasureSpec("number of shipments", "int", lambda d: func.count(SHP.id)),
            "value": MeasureSpec("shipping cost", "money", lambda d: _cents(SHP.cost_cents)),
            "average_value": MeasureSpec(
                "average shipping cost",
                "money",
                lambda d: func.avg(SHP.cost_cents),
                total=lambda d: _cents(SHP.cost_cents),
            ),
            "days_to_ship": MeasureSpec(
                "average days from order date to shipping",
                "days",
                lambda d: func.avg(d.days(SHP.shipped_on, SO.order_date)),
            ),
            "days_in_transit": MeasureSpec(
                "average days from shipping to delivery (delivered shipments)",
                "days",
                lambda d: func.avg(d.days(SHP.delivered_on, SHP.shipped_on)),
            ),
        },
        frozenset({"month", "country", "customer", "carrier", "status"}),
        {
            "delivered": lambda today: SHP.status == "delivered",
            "in_transit": lambda today: SHP.status == "in_transit",
            # Late as the shipment list counts it: delivered after the expected day, or still
            # under way past it; "running late" is only the second.
            "late": lambda today: or_(
                SHP.delivered_on > SHP.expected_delivery,
                and_(SHP.delivered_on.is_(None), SHP.expected_delivery < today),
            ),
            "running_late": lambda today: and_(
                SHP.status == "in_transit", SHP.expected_delivery < today
            ),
            # The service level booked with the carrier.
            "express": lambda today: SHP.service == "express",
            "standard_service": lambda today: SHP.service == "standard",
        },
        None,
        SO.customer_id,
        SHP.number,
    ),
    "purchase_orders": SubjectSpec(
        "purchase orders",
        PO,
        PO.order_date,
        "order date",
        {
            "count": MeasureSpec("number of purchase orders", "int", lambda d: func.count(PO.id)),
            "value": MeasureSpec("purchase order value", "money", lambda d: _cents(PO.total_cents)),
            "average_value": MeasureSpec(
                "average purchase order value",
                "money",
                lambda d: func.avg(PO.total_cents),
                total=lambda d: _cents(PO.total_cents),
            ),
        },
        frozenset({"month", "supplier", "status", "warehouse", "buyer"}),
        {
            "open": lambda today: PO.status == "ordered",
            "received": lambda today: PO.status == "received",
            # Received with fewer units than ordered on at least one line.
            "short": lambda today: and_(
                PO.status == "received",
                exists(
                    select(POL.id).where(
                        POL.purchase_order_id == PO.id, POL.quantity_received < POL.quantity
                    )
                ),
            ),
            # As the purchase-order list counts it: received after the expected date, or
            # still open past it.
            "late": lambda today: or_(
                PO.received_date > PO.expected_date,
                and_(PO.status == "ordered", PO.expected_date < today),
            ),
            # Late and still to come: what the owner chases a supplier about.
            "running_late": lambda today: and_(PO.status == "ordered", PO.expected_date < today),
        },
        None,
        None,
        PO.number,
        amount_column=PO.total_cents,
        # "POs due in this week": when the supplier said the goods would arrive.
        due_column=PO.expected_date,
        due_label="expected date",
        arrival_column=PO.received_date,
    ),
    "customers": SubjectSpec(
        "customers",
        m.Customer,
        None,
        "",
        {
            "count": MeasureSpec("number of customers", "int", lambda d: func.count(m.Customer.id)),
            # Listed or ranked, each customer's own limit; as one figure, their average.
            "credit_limit": MeasureSpec(
                "average credit limit", "money", lambda d: func.avg(m.Customer.credit_limit_cents)
            ),
        },
        frozenset({"country"}),
        {"blocked": lambda today: m.Customer.blocked.is_(True)},
        None,
        m.Customer.id,
        m.Customer.number,
    ),
    "stock_movements": SubjectSpec(
        "stock movements",
        m.StockMovement,
        m.StockMovement.moved_on,
        "booking date",
        {
            "count": MeasureSpec(
                "number of bookings", "int", lambda d: func.count(m.StockMovement.id)
            ),
            "units": MeasureSpec("net units", "qty", lambda d: _cents(m.StockMovement.quantity)),
        },
        frozenset({"month", "product", "category", "warehouse"}),
        {kind: _movement_kind(kind) for kind in ("adjustment", "receipt", "sale", "return")},
        None,
        None,
        None,
    ),
    "stock": SubjectSpec(
        "stock levels",
        m.StockLevel,
        None,
        "",
        {
            "on_hand": MeasureSpec("units on hand", "qty", lambda d: _cents(m.StockLevel.on_hand)),
            "reserved": MeasureSpec(
                "units reserved", "qty", lambda d: _cents(m.StockLevel.reserved)
            ),
            "available": MeasureSpec(
                "units available (on hand less reserved)",
                "qty",
                lambda d: _cents(m.StockLevel.on_hand - m.StockLevel.reserved),
            ),
            "stock_value": MeasureSpec(
                "stock value at cost (units on hand × current product cost)",
                "money",
                lambda d: _cents(m.StockLevel.on_hand * m.Product.cost_cents),
            ),
        },
        frozenset({"product", "category", "warehouse", "supplier"}),
        # Without a period, "never sold"; a request's period replaces it (``run_query``).
        {UNSOLD: lambda today: not_(_sold(None, today))},
    ),
    "suppliers": SubjectSpec(
        "suppliers",
        m.Supplier,
        None,
        "",
        {"count": MeasureSpec("number of suppliers", "int", lambda d: func.count(m.Supplier.id))},
        frozenset({"country"}),
        {},
        None,
        None,
        m.Supplier.number,
    ),
    "products": SubjectSpec(
        "products",
        m.Product,
        None,
        "",
        {
            "count": MeasureSpec("number of products", "int", lambda d: func.count(m.Product.id)),
            "price": MeasureSpec(
                "average list price", "money", lambda d: func.avg(m.Product.unit_price_cents)
            ),
            "margin_pct": MeasureSpec(
                "average margin on list price",
                "pct",
                lambda d: func.avg(
                    (m.Product.unit_price_cents - m.Product.cost_cents)
                    * 100.0
                    / m.Product.unit_price_cents
                ),
            ),
            # A markup is on cost, a margin on price: 50% markup is a 33.3% margin.
            "markup_pct": MeasureSpec(
                "average markup on cost",
                "pct",
                lambda d: func.avg(
                    (m.Product.unit_price_cents - m.Product.cost_cents)
                    * 100.0
                    / func.nullif(m.Product.cost_cents, 0)
                ),
            ),
        },
        frozenset({"category", "supplier"}),
        {
            "below_cost": lambda today: m.Product.unit_price_cents < m.Product.cost_cents,
            "inactive": lambda today: m.Product.active.is_(False),
            UNSOLD: lambda today: not_(_sold(None, today)),
        },
        None,
        None,
        m.Product.sku,
    ),
    "credit_notes": SubjectSpec(
        "credit notes",
        m.CreditNote,
        m.CreditNote.issue_date,
        "issue date",
        {
            "count": MeasureSpec(
                "number of credit notes", "int", lambda d: func.count(m.CreditNote.id)
            ),
            "value": MeasureSpec("credited", "money", lambda d: _cents(m.CreditNote.amount_cents)),
        },
        frozenset({"month", "country", "customer"}),
        {},
        None,
        m.CreditNote.customer_id,
        m.CreditNote.number,
        amount_column=m.CreditNote.amount_cents,
    ),
}
"""Every subject ``erp_query`` knows, with what it can compute, group by and filter on."""

ADDITIVE = frozenset(
    {"count", "value", "units", "discount", "profit", "open_amount", "reserved", "on_hand",
     "available", "stock_value"}
)  # fmt: skip
"""Measures whose groups add up to a total (averages and durations do not)."""

LIST_SUBJECTS = frozenset(
    {"orders", "invoices", "payments", "returns", "credit_notes", "customers", "shipments",
     "products", "suppliers", "purchase_orders"}
)  # fmt: skip
"""Subjects whose matching records can be listed one per row (``list_rows``)."""

AMOUNT_LISTS = frozenset(
    {"orders", "invoices", "payments", "credit_notes", "products", "purchase_orders"}
)
"""Listed subjects with an amount, which a ranking ("biggest unpaid invoice") orders by."""

HOME_SKILLS: dict[str, str] = {
    "invoices": "erp_overdue_invoices", "payments": "erp_payment_history",
    "returns": "erp_returns", "credit_notes": "erp_returns",
    "shipments": "erp_shipment_status", "purchase_orders": "erp_purchase_orders",
    "suppliers": "erp_supplier_lead_times", "customers": "erp_customer_balance",
    "stock": "erp_stock_level", "stock_movements": "erp_stock_movements",
    "products": "erp_price_list",
}  # fmt: skip
"""For each subject, the dedicated read skill about the same records. Every ERP agent has
``erp_query``; the agent holding this skill is the one whose domain the records are, so a
routing decision made from a query names that agent (``home_skill``)."""

SALES_SKILL = "erp_sales_summary"
"""Sales figures (order value, units, profit, or orders counted per customer, product, month
…) are the reporting agent's domain."""


def home_skill(args: QueryArgs) -> str | None:
    """Return the dedicated read skill about what ``args`` asks (see ``HOME_SKILLS``).

    ``None`` for orders counted or listed as they are: those are both the order agent's
    records and the reporting agent's sales, so the query itself names no single home.
    """
    if args.subject == "orders":
        if args.measure != "count" or args.group_by not in (None, "status"):
            return SALES_SKILL
        return None
    return HOME_SKILLS[args.subject]


DIMENSION_LABELS: dict[str, str] = {
    "month": "month", "weekday": "weekday", "country": "customer country",
    "customer": "customer", "category": "category", "product": "product",
    "carrier": "carrier", "reason": "reason", "supplier": "supplier", "status": "status",
    "method": "payment method", "warehouse": "warehouse", "buyer": "person who raised it",
}  # fmt: skip


class QueryArgs(SkillArgs):
    """Arguments of ``erp_query``: one measure of one subject, optionally grouped and ranked."""

    subject: Subject = Field(description="What is counted or summed")
    measure: Measure = Field(default="count", description="The figure computed")
    group_by: Dimension | None = Field(default=None, description="One row per value of this")
    rank: Literal["highest", "lowest"] | None = Field(
        default=None, description="Order the groups by the measure (default: by the group)"
    )
    limit: Limit | None = Field(
        default=None, description="Most groups to show; ties with the last one are kept"
    )
    also_measure: Measure | None = Field(
        default=None,
        description="A second figure to rank the groups by, stated beside the first when the "
        "request names none ('top customers by credit notes': by number, and by amount)",
    )
    list_rows: bool = Field(default=False, description="List the matching records, not a figure")
    oldest_first: bool = Field(
        default=False, description="List the records oldest first (default: newest first)"
    )
    number: Name | None = Field(
        default=None, description="One record by its number (PAY-2025-01157, CN-2025-0041)"
    )
    date_from: IsoDate | None = Field(default=None, description="First day, YYYY-MM-DD")
    date_to: IsoDate | None = Field(default=None, description="Last day, YYYY-MM-DD")
    customer: Name | None = Field(default=None, description=CUSTOMER_HELP)
    supplier: Name | None = Field(default=None, description=SUPPLIER_HELP)
    country: Country | None = Field(default=None, description="Customer (or destination) country")
    country_excluded: bool = Field(
        default=False, description="Every country but ``country`` ('outside germany')"
    )
    category: Name | None = Field(default=None, description="Product category")
    products: list[Name] = Field(default=[], description="SKUs (any of them)")
    status: str | None = Field(
        default=None,
        description="A status the subject declares ('unsold' for products and stock: no sale "
        "dated in the period)",
    )
    carrier: Name | None = None
    method: Literal["bank_transfer", "sepa_debit", "card", "paypal", "cash"] | None = Field(
        default=None, description="How the payments were made (payments only)"
    )
    warehouse: Literal["MAIN", "ULM"] | None = Field(
        default=None, description="Warehouse (stock, stock movements, purchase orders)"
    )
    created_by: Name | None = Field(default=None, description="Who raised it (purchase orders)")
    above: Decimal | None = Field(
        default=None,
        description="Only groups whose figure is strictly above this (euros for money); "
        "needs group_by ('customers who spent over 10k': order value per customer above 10000)",
    )
    amount_above: Decimal | None = Field(
        default=None,
        description="Only records whose own amount (order, invoice or PO total, payment, "
        "credit note) is strictly above this, in euros ('orders over 2k')",
    )
    weekdays: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default=[],
        description="Only records dated on these weekdays, 0 = Sunday … 6 = Saturday "
        "('payments on saturdays': [6])",
    )
    date_basis: Literal["due", "received"] | None = Field(
        default=None,
        description="'due': the period and weekdays apply to the due date (invoices), "
        "not the issue date; 'received': to the date goods arrived (purchase orders)",
    )
    skip: int = Field(
        default=0,
        ge=0,
        le=20,
        description="Ranked groups to pass over first ('second biggest customer': 1)",
    )
    exclude_customer: Name | None = Field(
        default=None, description="Leave out this customer's records ('apart from Dobes')"
    )
    customer_condition: CustomerCondition | None = Field(
        default=None,
        description="customers only: ordered / not_ordered in the period, new in the period, "
        "over_credit_limit, owing (positive open balance), open_invoices (any open invoice)",
    )

    @model_validator(mode="after")
    def _fits_schema(self) -> QueryArgs:
        spec = SUBJECTS[self.subject]
        if self.measure not in spec.measures:
            raise ValueError(
                f"{self.subject} have no measure {self.measure!r}; they have "
                + ", ".join(spec.measures)
            )
        if self.group_by is not None and self.group_by not in spec.dimensions:
            raise ValueError(
                f"{self.subject} cannot be grouped by {self.group_by}; by "
                + ", ".join(sorted(spec.dimensions))
            )
        if self.status is not None and status_filter(spec, self.status) is None:
            raise ValueError(
                f"{self.subject} have no status {self.status!r}; they have "
                + (", ".join(spec.statuses) or "none")
            )
        if self.amount_above is not None and spec.amount_column is None:
            raise ValueError(f"{self.subject} have no amount of their own to compare")
        if self.weekdays and spec.date_column is None:
            raise ValueError(f"{self.subject} have no date whose weekday to filter on")
        if self.date_basis == "due" and spec.due_column is None:
            raise ValueError(f"{self.subject} have no due date")
        if self.country_excluded and self.country is None:
            raise ValueError("country_excluded needs the country left out")
        if self.date_basis == "received" and spec.arrival_column is None:
            raise ValueError(f"{self.subject} have no received date")
        if self.also_measure is not None and (
            self.also_measure not in spec.measures or self.rank is None or self.group_by is None
        ):
            raise ValueError(
                "also_measure ranks the groups a second way: it needs rank, "
                "group_by and a measure of the subject"
            )
        if self.skip and (self.rank is None or self.group_by is None):
            raise ValueError("skip passes over ranked groups: it needs rank and group_by")
        if self.exclude_customer is not None and spec.customer_column is None:
            raise ValueError(f"{self.subject} are not recorded per customer")
        if self.above is not None and self.group_by is None:
            raise ValueError("above keeps groups whose figure exceeds it: it needs group_by")
        if self.customer_condition and self.subject != "customers":
            raise ValueError("customer_condition applies to subject customers only")
        if self.created_by and self.subject != "purchase_orders":
            raise ValueError("created_by applies to purchase orders only")
        if self.method and self.subject != "payments":
            raise ValueError("method applies to payments only")
        if self.carrier and self.subject != "shipments":
            raise ValueError("carrier applies to shipments only")
        if self.warehouse and self.subject not in ("stock", "stock_movements", "purchase_orders"):
            raise ValueError("warehouse applies to stock, stock movements and purchase orders")
        if self.supplier and self.subject not in (
            "purchase_orders",
            "stock",
            "stock_movements",
            "products",
        ):
            raise ValueError("supplier applies to purchase orders and stock only")
        ranked_limits = self.subject == "customers" and self.measure == "credit_limit"
        if self.rank and self.list_rows and self.subject not in AMOUNT_LISTS and not ranked_limits:
            raise ValueError("a ranked list orders amounts of " + ", ".join(sorted(AMOUNT_LISTS)))
        if self.oldest_first and (not self.list_rows or self.rank or spec.date_column is None):
            raise ValueError("oldest_first orders a list of dated records, without a rank")
        if self.list_rows and (self.subject not in LIST_SUBJECTS or self.group_by):
            raise ValueError("list_rows lists records of " + ", ".join(sorted(LIST_SUBJECTS)))
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError(f"date_from {self.date_from} is after date_to {self.date_to}")
        if (
            (self.date_from or self.date_to)
            and spec.date_column is None
            and self.customer_condition not in ("ordered", "not_ordered", "new")
            and self.status != UNSOLD
        ):
            raise ValueError(f"{self.subject} have no date to filter on")
        return self


def _with_po_items(session: Session, args: QueryArgs, rows: list[Any]) -> list[Any]:
    """Say on each purchase order how many of the products asked about it holds.

    Short deliveries ("which POs came in short") show the lines that came in short.
    """
    picked: list[Any] = []
    if args.status == "short":
        picked.append(POL.quantity_received < POL.quantity)
    if args.products:
        picked.append(m.Product.sku.in_([resolve_product(session, p).sku for p in args.products]))
    if args.category:
        picked.append(m.Product.category == resolve_category(session, args.category))
    lines = session.execute(
        select(
            PO.number, POL.quantity, POL.quantity_received, m.Product.sku, PO.received_date,
            PO.expected_date,
        )
        .join(POL, POL.purchase_order_id == PO.id)
        .join(m.Product, m.Product.id == POL.product_id)
        .where(PO.number.in_([row.id for row in rows]), *picked)
        .order_by(PO.number, POL.line_no)
    ).all()  # fmt: skip
    items: dict[str, list[str]] = {}
    late: dict[str, int] = {}
    today = business_date(session)
    for number, quantity, received, sku, received_on, expected in lines:
        if number not in items and received_on is None:
            # Goods still to come: when the supplier said they would arrive.
            items[number] = [f"expected {expected.isoformat()}"]
        if args.status in ("late", "running_late"):
            # How late each one is (or was): what a supplier is held to.
            late[number] = ((received_on or today) - expected).days
        items.setdefault(number, []).append(f"{quantity} x {sku} ({received} received)")
    return [
        row.model_copy(
            update={"items": "; ".join(items.get(row.id, [])), "days_late": late.get(row.id)}
        )
        for row in rows
    ]


def _po_holds(product_condition: Any) -> Expr:
    """Purchase orders with at least one line for a product that meets ``product_condition``."""
    return exists(
        select(POL.id)
        .join(m.Product, m.Product.id == POL.product_id)
        .where(POL.purchase_order_id == PO.id, product_condition)
    )


OWED_STATUSES = frozenset({"open", "overdue", "not_due", "not_paid", "partly_paid"})
"""Invoice statuses whose amount that matters is what is still owed (total less paid)."""

NOT = "not_"
"""Prefix of a status negated ("not_shipped"): every record that has not reached it."""


def status_filter(spec: SubjectSpec, status: str) -> Callable[[date], Expr] | None:
    """Return the filter of ``status`` on ``spec``, a negated one included, or ``None``."""
    if status in spec.statuses:
        return spec.statuses[status]
    base = status.removeprefix(NOT)
    if base == status or base not in spec.statuses:
        return None
    positive = spec.statuses[base]
    return lambda today: not_(positive(today))


class QueryRow(Row):
    """One group (or the whole selection) and its figures."""

    id: str = column("Group")
    name: str | None = column("Name", default=None)
    """The group's name when its id is a code (a product's name beside its SKU)."""
    value: Decimal | int | None = column("Value")
    count: int = column("Records", "int")


# --- the query builder --------------------------------------------------------------------


def _money(cents: Any) -> Decimal:
    return (Decimal(str(cents or 0)) / 100).quantize(Decimal("0.01"))


def _figure(kind: Kind, raw: Any) -> Decimal | int | None:
    if raw is None:
        return None
    if kind == "money":
        return _money(raw)
    if kind in ("days", "pct"):
        return Decimal(str(raw)).quantize(Decimal("0.01"))
    return int(raw)


def run_query(session: Session, args: QueryArgs, *, beside: bool = True) -> SkillResult[QueryRow]:
    """Compute a measure of one subject, optionally grouped, ranked and filtered (the schema).

    ``beside``: also state the figures a total is read beside (margin with profit); off for
    the queries that compute those figures.
    """
    spec = SUBJECTS[args.subject]
    today = business_date(session)
    measure = spec.measures[args.measure]
    dialect = Dialect(postgres=session.get_bind().dialect.name == "postgresql")
    line_grain = measure.grain == "line" or (
        args.subject == "orders"
        and (args.group_by in ("category", "product") or args.category or args.products)
    )
    reading: list[str] = []
    conditions: list[Any] = []
    joins: list[tuple[Any, ...]] = []

    def join(entity: Any, on: Any) -> None:
        if all(entity is not e for e, _ in joins):
            joins.append((entity, on))

    date_column, date_label = spec.date_column, spec.date_label
    if args.date_basis == "due":
        date_column, date_label = spec.due_column, spec.due_label
    elif args.date_basis == "received":
        date_column, date_label = spec.arrival_column, spec.arrival_label
    base: Any = spec.entity
    # --- how each subject reaches customers, products and lines
    if args.subject == "orders" and line_grain:
        join(SOL, SOL.order_id == SO.id)
    if args.subject == "invoices" and args.measure == "days_to_pay":
        join(PAY, PAY.invoice_id == INV.id)
    if args.subject == "shipments":
        join(SO, SO.id == SHP.order_id)

    def need_customer() -> None:
        if args.subject != "customers":
            join(m.Customer, m.Customer.id == spec.customer_column)

    def need_product() -> None:
        if args.subject == "orders":
            join(SOL, SOL.order_id == SO.id)
            join(m.Product, m.Product.id == SOL.product_id)
        elif args.subject in ("returns", "stock_movements", "stock"):
            join(m.Product, m.Product.id == spec.entity.product_id)
        elif args.subject == "products":
            pass
        else:
            raise SkillError(f"{spec.noun} are not recorded per product")

    if args.measure in ("profit", "stock_value") or (
        args.subject == "orders" and args.measure == "margin_pct"
    ):
        need_product()
    if args.warehouse:
        conditions.append(spec.entity.warehouse == args.warehouse)
        reading.append(f"warehouse {args.warehouse}")
    # --- filters
    if args.measure == "open_amount" and args.status is None:
        conditions.append(INV.status == "open")  # only open invoices have anything open
        reading.append("open invoices")
    elif args.status == UNSOLD:
        # "dead stock since new year": the products with no sale in the period asked about.
        need_product()
        conditions.append(not_(_sold(args.date_from, args.date_to)))
        span = f"dated {_span(args.date_from, args.date_to)}" if args.date_from else "ever"
        reading.append(f"with no sale {span} on an order that was not cancelled")
    elif args.status is not None:
        condition = status_filter(spec, args.status)
        assert condition is not None  # validated by QueryArgs
        conditions.append(condition(today))
        reading.append(
            _STATUS_WORDS.get((args.subject, args.status))
            or _STATUS_WORDS.get(args.status, args.status.replace("_", " "))
        )
        if args.status.startswith(NOT) and spec.default_filter is not None:
            # "orders not shipped yet": the open ones; a cancelled order is not waiting to ship.
            conditions.append(spec.default_filter[1]())
            reading.append(spec.default_filter[0])
    elif spec.default_filter is not None:
        conditions.append(spec.default_filter[1]())
        reading.append(spec.default_filter[0])
    if args.date_from or args.date_to:
        if date_column is not None:
            if args.group_by == "month":
                args = _whole_months(args, reading)
            if args.date_from:
                conditions.append(date_column >= args.date_from)
            if args.date_to:
                conditions.append(date_column <= args.date_to)
            reading.append(f"{date_label} {_span(args.date_from, args.date_to)}")
    if args.weekdays:
        days = sorted(set(args.weekdays))
        conditions.append(dialect.weekday(date_column).in_(days))
        named = " or ".join(f"{_WEEKDAYS[d]}s" for d in days)
        reading.append(f"{date_label} on {named}")
    if args.amount_above is not None:
        amount_column: Any = spec.amount_column  # validated by QueryArgs
        if args.subject == "invoices" and args.status in OWED_STATUSES:
            # "open invoices over 2k": what is still owed on each, as the list shows it.
            amount_column = INV.total_cents - INV.paid_cents
            reading.append(f"{spec.noun} with over €{args.amount_above:,.2f} still open each")
        else:
            reading.append(f"{spec.noun} over €{args.amount_above:,.2f} each")
        conditions.append(amount_column > args.amount_above * 100)
    if args.customer:
        if spec.customer_column is None:
            raise SkillError(f"{spec.noun} are not recorded per customer")
        customer = resolve_customer(session, args.customer)
        conditions.append(spec.customer_column == customer.id)
        reading.append(f"customer {customer.name} ({customer.number})")
    if args.exclude_customer:
        left_out = resolve_customer(session, args.exclude_customer)
        conditions.append(spec.customer_column != left_out.id)
        reading.append(f"leaving out {left_out.name} ({left_out.number})")
    if args.country:
        inside = "outside" if args.country_excluded else "in"

        def in_country(column: Any) -> Expr:
            return column != args.country if args.country_excluded else column == args.country

        if args.subject == "shipments":
            conditions.append(in_country(SHP.destination_country))
            reading.append(f"{'not ' if args.country_excluded else ''}to {args.country}")
        elif args.subject == "suppliers":
            conditions.append(in_country(m.Supplier.country))
            reading.append(f"{inside} {args.country}")
        elif spec.customer_column is not None:
            need_customer()
            conditions.append(in_country(m.Customer.country))
            reading.append(f"customers {inside} {args.country}")
        else:
            raise SkillError(f"{spec.noun} are not recorded per country")
    if args.supplier:
        supplier = resolve_supplier(session, args.supplier)
        if args.subject == "purchase_orders":
            conditions.append(PO.supplier_id == supplier.id)
        elif args.subject == "products":
            conditions.append(m.Product.supplier_id == supplier.id)
        else:
            need_product()
            conditions.append(m.Product.supplier_id == supplier.id)
        reading.append(f"supplier {supplier.name}")
    if args.category:
        category = resolve_category(session, args.category)
        if args.subject == "purchase_orders":
            conditions.append(_po_holds(m.Product.category == category))
        else:
            need_product()
            conditions.append(m.Product.category == category)
        reading.append(f"category {category}")
    if args.products:
        products = [resolve_product(session, ref) for ref in args.products]
        if args.subject == "purchase_orders":
            # Purchase orders with such a line; joining the lines would count each PO and
            # sum its total once per line.
            conditions.append(_po_holds(m.Product.id.in_([p.id for p in products])))
        else:
            need_product()
            conditions.append(m.Product.id.in_([p.id for p in products]))
        if len(products) > 3:
            reading.append(f"{len(products)} products: " + ", ".join(p.sku for p in products))
        else:
            reading.append(", ".join(f"{p.sku} {p.name}" for p in products))
    if args.carrier:
        carriers = [str(c) for c in session.scalars(select(SHP.carrier).distinct())]
        carrier = next((c for c in carriers if c.casefold() == args.carrier.casefold()), None)
        if carrier is None:
            raise NotFound(
                f"No carrier {args.carrier!r}; carriers are {', '.join(sorted(carriers))}"
            )
        conditions.append(SHP.carrier == carrier)
        reading.append(f"carrier {carrier}")
    if args.method:
        conditions.append(PAY.method == args.method)
        reading.append(f"paid by {args.method.replace('_', ' ')}")
    if args.created_by:
        people = [str(p) for p in session.scalars(select(PO.created_by).distinct()) if p]
        wanted = args.created_by.casefold()
        fits = [p for p in people if wanted in p.casefold().split() or p.casefold() == wanted]
        if len(fits) != 1:
            raise NotFound(f"No one called {args.created_by!r} raises purchase orders")
        conditions.append(PO.created_by == fits[0])
        reading.append(f"raised by {fits[0]}")
    if args.measure == "days_in_transit":
        conditions.append(SHP.delivered_on.is_not(None))
    if args.number:
        if spec.number_column is None:
            raise SkillError(f"{spec.noun} have no number")
        conditions.append(spec.number_column == args.number.upper())
        reading.append(f"number {args.number.upper()}")
    # "who owes us money" on the other reading: open invoices alone, before unapplied
    # payments and credit notes; a list of owing customers states both.
    open_reading: list[Any] | None = None
    if args.customer_condition:
        if args.customer_condition == "owing":
            open_reading = [*conditions, _open_cents() > 0]
        conditions.append(_customer_condition(args, today))
        reading.append(_condition_words(args))
    # --- grouping
    group: Any = None
    if args.group_by is not None:
        match args.group_by:
            case "month" | "weekday":
                if date_column is None:
                    raise SkillError(f"{spec.noun} have no date to group by")
                group = (dialect.month if args.group_by == "month" else dialect.weekday)(
                    date_column
                )
            case "country":
                if args.subject == "shipments":
                    group = SHP.destination_country
                elif args.subject == "suppliers":
                    group = m.Supplier.country
                else:
                    need_customer()
                    group = m.Customer.country
            case "customer":
                need_customer()
                group = m.Customer.name
            case "category":
                need_product()
                group = m.Product.category
            case "product":
                need_product()
                group = m.Product.sku
            case "carrier":
                group = SHP.carrier
            case "reason":
                group = RET.reason
            case "supplier":
                if args.subject == "purchase_orders":
                    join(m.Supplier, m.Supplier.id == PO.supplier_id)
                else:
                    need_product()
                    join(m.Supplier, m.Supplier.id == m.Product.supplier_id)
                group = m.Supplier.name
            case "status":
                group = spec.entity.status
            case "method":
                group = PAY.method
            case "warehouse":
                group = spec.entity.warehouse
            case "buyer":
                group = PO.created_by
    count_expr = (
        # Stock is held per product and warehouse; the owner counts products.
        func.count(distinct(m.StockLevel.product_id))
        if args.subject == "stock"
        else func.count(distinct(spec.entity.id))
        if hasattr(spec.entity, "id")
        else func.count()
    )
    value_expr = measure.aggregate(dialect)
    if args.list_rows:
        return _list(
            session, args, spec, base, joins, conditions, reading, today, open_reading=open_reading
        )
    columns = [group.label("grp") if group is not None else literal("all").label("grp")]
    total_expr = measure.total(dialect) if measure.total is not None else literal(None)
    stmt = select(
        *columns, value_expr.label("value"), count_expr.label("n"), total_expr.label("total")
    ).select_from(base)
    for entity, on in joins:
        stmt = stmt.join(entity, on)
    if conditions:
        stmt = stmt.where(*conditions)
    if group is not None:
        stmt = stmt.group_by(group)
        if args.above is not None:
            # HAVING on the figure itself, in its stored unit (money is summed in cents).
            raw_above = args.above * 100 if measure.kind == "money" else args.above
            stmt = stmt.having(value_expr > raw_above)
            reading.append(f"only those above {_fmt(args.above, measure.kind)}")
        if args.rank == "highest":
            stmt = stmt.order_by(value_expr.desc(), group)
        elif args.rank == "lowest":
            stmt = stmt.order_by(value_expr.asc(), group)
        else:
            stmt = stmt.order_by(group)
    raw = session.execute(stmt).all()
    rows = [
        QueryRow(
            id=_group_name(args.group_by, r.grp),
            value=_figure(measure.kind, r.value),
            count=int(r.n or 0),
        )
        for r in raw
        if not (group is None and r.n == 0 and measure.kind in ("days", "pct"))
    ]
    if args.group_by == "product" and rows:
        # A bare SKU means nothing to most readers: name each product beside it.
        names = {
            sku: name
            for sku, name in session.execute(
                select(m.Product.sku, m.Product.name).where(
                    m.Product.sku.in_([row.id for row in rows])
                )
            )
        }
        rows = [row.model_copy(update={"name": names.get(row.id)}) for row in rows]
    if args.group_by == "month":
        # "2025-04" sorts and cites; "April 2025" is what the owner reads.
        rows = [row.model_copy(update={"name": _month_name(row.id)}) for row in rows]
    base_total = _money(raw[0].total) if raw and raw[0].total is not None else None
    single = rows[0] if group is None and rows else None
    if group is None:
        rows = []  # one figure: the headline and the facts carry it
    if args.skip and group is not None:
        ranked_first = rows[: args.skip]
        rows = rows[args.skip :]
        if rows and ranked_first and rows[0].value == ranked_first[-1].value:
            # "second biggest" when the first two tie: which one is second is not in the data.
            raise SkillError(
                f"{ranked_first[-1].id} and {rows[0].id} tie at "
                f"{_fmt(rows[0].value, measure.kind)}: no one is ranked {args.skip + 1}"
            )
        reading.append(
            "passing over the first "
            + ", ".join(f"{r.id} ({_fmt(r.value, measure.kind)})" for r in ranked_first)
        )
    total_rows = len(rows)
    # With only two groups ("which warehouse has more brakes"), the top one is half of a
    # comparison: both are shown, the top first.
    if args.limit is not None and group is not None and len(rows) > max(args.limit, 2):
        cut = rows[args.limit - 1].value
        keep = args.limit
        while keep < len(rows) and args.rank and rows[keep].value == cut:
            keep += 1  # a tie with the last row shown is shown too
        rows = rows[:keep]
    label = measure.label
    if args.group_by:
        label += f" per {DIMENSION_LABELS[args.group_by]}"
        if args.rank:
            label += f", {args.rank} first"
    headline = _headline(spec, args, measure, [single] if single else rows, reading, total_rows)
    if args.also_measure is not None and rows:
        headline += _ranked_also(session, args, rows)
    if beside and single is not None and single.count and args.subject == "orders":
        headline += _margin_beside(session, args, single.value)
    if beside and single is not None and single.count and args.measure == "count":
        headline += _worth_beside(session, args)
    if beside and single is not None and single.count and args.measure == "stock_value":
        units = _figure_with(session, args, "on_hand")
        if isinstance(units, int | Decimal):
            headline += f" Units on hand: {_fmt(units, 'qty')}."
    if group is not None and not args.rank and args.measure in ADDITIVE and rows:
        overall = sum((r.value or 0 for r in rows), Decimal(0) if measure.kind == "money" else 0)
        headline = headline.removesuffix(".") + f"; {_fmt(overall, measure.kind)} in total."
    if single is not None and base_total is not None and single.count:
        headline = headline.removesuffix(".") + f" (€{base_total:,.2f} in total)."
    facts = [
        Fact(key="reading", label="Reading", value=headline),
        Fact(key="measure", label="Measure", value=label),
    ]
    if single is not None:
        facts.append(Fact(key="value", label=measure.label, value=single.value, kind=measure.kind))
        facts.append(Fact(key="records", label=spec.noun, value=single.count, kind="int"))
    return SkillResult[QueryRow](
        skill="erp_query",
        title=label[0].upper() + label[1:],
        as_of=today,
        rows=rows,
        total_rows=total_rows,
        facts=facts,
        row_type=QueryRow,
    )


_STATUS_WORDS: dict[str | tuple[str, str], str] = {
    ("purchase_orders", "late"): "received after the expected date, or still open past it",
    ("purchase_orders", "running_late"): "still open past the expected date",
    ("purchase_orders", "short"): "received short (fewer units than ordered on a line)",
    "cancelled": "cancelled only",
    "open": "open only",
    "paid": "paid only",
    "overdue": "overdue (open, past their due date)",
    "not_due": "open and not yet due",
    "unapplied": "not applied to any invoice",
    "applied": "applied to an invoice",
    "rejected": "rejected only",
    "refunded": "refunded only",
    "in_transit": "in transit",
    "express": "sent express",
    "standard_service": "sent standard (not express)",
    "late": "delivered late or still under way past the expected day",
    "running_late": "in transit past their expected delivery",
    "delivered": "delivered",
    "received": "received",
    "shipped": "shipped or delivered",
    "adjustment": "adjustments",
    "receipt": "goods receipts",
    "sale": "sales bookings",
    "return": "return bookings",
    "blocked": "blocked",
    "partly_paid": "partly paid (open, some money received)",
    "below_cost": "list price below cost",
    "inactive": "inactive",
}

_MONTH_KEY = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def _whole_months(args: QueryArgs, reading: list[str]) -> QueryArgs:
    """Start a rolling window of whole months at a month's first day when grouping by month.

    "orders per month, last 6 months" ends today and so starts the day after the same day six
    months ago (2024-12-31 .. 2025-06-30): grouped by month that is seven groups, the first a
    one-day stub. The owner means six calendar months, the last one as far as it goes; the
    reading says so. A window that starts on any other day ("since 15 March") is left as asked.
    """
    start, end = args.date_from, args.date_to
    if start is None or end is None or start.day == 1:
        return args
    months = (end.year - start.year) * 12 + end.month - start.month
    # The window "last N months" reads as (nova.erp.resolve.find_period): N months back from
    # `end`, plus a day. Any other span is left as asked.
    if not 1 <= months <= 120 or start != end - relativedelta(months=months) + timedelta(days=1):
        return args
    first = start + relativedelta(months=1, day=1)
    reading.append(f"whole months {first:%B %Y} to {end:%B %Y}")
    return args.model_copy(update={"date_from": first})


def _month_name(key: str) -> str | None:
    if not _MONTH_KEY.fullmatch(key):
        return None
    return f"{calendar.month_name[int(key[5:7])]} {key[:4]}"


def _group_name(dimension: str | None, value: Any) -> str:
    if dimension is None:
        return "total"
    if dimension == "weekday" and value is not None:
        return _WEEKDAYS[int(value)]
    return str(value) if value is not None else "–"


def _span(start: date | None, end: date | None) -> str:
    if start and end:
        return f"{start.isoformat()} to {end.isoformat()}"
    if start:
        return f"from {start.isoformat()}"
    return f"up to {end.isoformat()}" if end else ""


def _open_cents() -> Any:
    """Per customer (correlated): what its open invoices still owe, in cents."""
    return (
        select(func.coalesce(func.sum(INV.total_cents - INV.paid_cents), 0))
        .where(INV.customer_id == m.Customer.id, INV.status == "open")
        .scalar_subquery()
    )


def _net_balance_cents() -> Any:
    """Return, per customer (correlated), what it really owes in cents.

    Open invoices less unapplied payments and credit notes raised against still-open invoices.
    """
    customer = m.Customer
    unapplied = (
        select(func.coalesce(func.sum(PAY.amount_cents), 0))
        .where(PAY.customer_id == customer.id, PAY.invoice_id.is_(None))
        .scalar_subquery()
    )
    credits = (
        select(func.coalesce(func.sum(m.CreditNote.amount_cents), 0))
        .where(
            m.CreditNote.customer_id == customer.id,
            m.CreditNote.invoice_id.in_(select(INV.id).where(INV.status == "open")),
        )
        .scalar_subquery()
    )
    return _open_cents() - unapplied - credits


def _condition_amount(args: QueryArgs) -> Any | None:
    """Return the figure a money condition on customers is about, to show on each one.

    "customers who owe us money" without what each owes would hide the answer.
    """
    match args.customer_condition:
        case "owing":
            return _net_balance_cents()
        case "over_credit_limit" | "open_invoices":
            return _open_cents()
    return None


def _customer_condition(args: QueryArgs, today: date) -> Expr:
    customer = m.Customer
    placed = [SO.customer_id == customer.id, SO.status != "cancelled"]
    if args.date_from:
        placed.append(SO.order_date >= args.date_from)
    if args.date_to:
        placed.append(SO.order_date <= args.date_to)
    match args.customer_condition:
        case "ordered":
            return exists(select(SO.id).where(*placed))
        case "not_ordered":
            ever = exists(select(SO.id).where(SO.customer_id == customer.id))
            return and_(ever, ~exists(select(SO.id).where(*placed)))
        case "new":
            new = [customer.created_on >= args.date_from] if args.date_from else []
            if args.date_to:
                new.append(customer.created_on <= args.date_to)
            return and_(*new) if new else literal(True)
        case "over_credit_limit":
            return _open_cents() > customer.credit_limit_cents
        case "owing":
            return _net_balance_cents() > 0
        case "open_invoices":
            return _open_cents() > 0
    raise AssertionError(args.customer_condition)


def _condition_words(args: QueryArgs) -> str:
    span = _span(args.date_from, args.date_to)
    match args.customer_condition:
        case "ordered":
            return f"with a (not cancelled) order dated {span}"
        case "not_ordered":
            return f"who have ordered before but placed no order dated {span}"
        case "new":
            return f"whose account was opened {span}"
        case "over_credit_limit":
            return "whose open invoices exceed their credit limit"
        case "open_invoices":
            return "with open invoices (the amount still open on them, before any money on account)"
        case "owing":
            return (
                "owing us money on the net balance (open invoices less unapplied payments and "
                "credit notes on open invoices)"
            )
    return ""


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _fmt(value: Decimal | int | None, kind: Kind) -> str:
    if value is None:
        return "–"
    if kind == "money":
        return f"€{value:,.2f}"
    if kind == "pct":
        # Three significant figures in a sentence ("31.3%", "4.27%"); the table keeps cents.
        number = Decimal(value)
        shown = number.quantize(Decimal("0.1"), ROUND_HALF_UP) if abs(number) >= 10 else number
        return f"{shown}%"
    if kind == "days":
        # Three significant figures in a sentence, as for shares ("115.2 days", "3.04 days");
        # the table keeps two places.
        number = Decimal(value)
        shown = number.quantize(Decimal("0.1"), ROUND_HALF_UP) if abs(number) >= 10 else number
        return f"{shown} days"
    return f"{value:,}"


def _worth_beside(session: Session, args: QueryArgs) -> str:
    """State what the records counted come to ("8 invoices": "€4,348.36 still open on them").

    A count of money records is read beside their amount: what is still owed for open
    invoices, the total for any other subject with an amount of its own.
    """
    spec = SUBJECTS[args.subject]
    owed = args.subject == "invoices" and args.status in OWED_STATUSES
    measure = "open_amount" if owed else "value"
    if spec.amount_column is None or measure not in spec.measures:
        return ""
    value = _figure_with(session, args, measure)
    if not isinstance(value, Decimal):
        return ""
    return f" {'Still open on them' if owed else 'Together worth'}: {_fmt(value, 'money')}."


def _figure_with(session: Session, args: QueryArgs, measure: str) -> object:
    """Return the one figure ``args`` gives with ``measure`` instead of its own."""
    result = run_query(session, args.model_copy(update={"measure": measure}), beside=False)
    return next((fact.value for fact in result.facts if fact.key == "value"), None)


def _margin_beside(session: Session, args: QueryArgs, computed: Decimal | int | None) -> str:
    """State gross profit and margin % together: "margin last month" may mean either.

    The euros and the share of net sales are two faces of one figure; an owner who asked for
    one reads the other at no cost, and neither answer is wrong for him. ``computed`` is the
    figure the query already has (``args.measure``); the other two are read here.
    """
    if args.measure not in ("profit", "margin_pct") or computed is None:
        return ""
    figures: dict[str, Decimal] = {args.measure: Decimal(computed)}
    for measure in {"profit", "margin_pct", "value"} - {args.measure}:
        value = _figure_with(session, args, measure)
        if not isinstance(value, (Decimal, int)):
            return ""  # no sales in the span: nothing to relate the figure to
        figures[measure] = Decimal(value)
    if args.measure == "profit":
        return (
            f" That is a gross margin of {_fmt(figures['margin_pct'], 'pct')} on net sales of "
            f"{_fmt(figures['value'], 'money')}."
        )
    return (
        f" Gross profit {_fmt(figures['profit'], 'money')} on net sales of "
        f"{_fmt(figures['value'], 'money')}."
    )


def _ranked_also(session: Session, args: QueryArgs, rows: list[QueryRow]) -> str:
    """Say how the groups rank by the other figure the request may have meant.

    "Top 5 customers by credit notes" names no figure: by number and by amount are both
    fair readings. The answer ranks by one and states the other's ranking when it differs,
    so the owner never acts on a reading he did not mean without seeing the other.
    """
    assert args.also_measure is not None
    other = run_query(
        session,
        args.model_copy(update={"measure": args.also_measure, "also_measure": None}),
    )
    label = (
        "amount"
        if args.also_measure == "value"
        else SUBJECTS[args.subject].measures[args.also_measure].label
    )
    kind = SUBJECTS[args.subject].measures[args.also_measure].kind
    same = [r.id for r in other.rows] == [r.id for r in rows]
    ranked = ", ".join(
        f"{r.id}{f' ({r.name})' if r.name and not same else ''} {_fmt(r.value, kind)}"
        for r in other.rows
    )
    if same:
        return f" Ranked by {label}, the order is the same: {ranked}."
    return f" Ranked by {label} instead: {ranked}."


def _headline(
    spec: SubjectSpec,
    args: QueryArgs,
    measure: MeasureSpec,
    rows: list[QueryRow],
    reading: list[str],
    total_rows: int,
) -> str:
    where = f" ({'; '.join(reading)})" if reading else ""
    if args.group_by is None:
        row = rows[0] if rows else None
        if row is None or (row.count == 0 and measure.kind in ("days", "pct")):
            return f"No {spec.noun} match{where}."
        noun = "products" if args.subject == "stock" else spec.noun
        counted = f" over {row.count:,} {noun}" if args.measure != "count" else f" {noun}"
        return f"{_cap(measure.label)}{where}: {_fmt(row.value, measure.kind)}{counted}."
    if not rows:
        return f"No {spec.noun} match{where}."
    order = f", {args.rank} first" if args.rank else ""
    groups = "group" if total_rows == 1 else "groups"
    shown = (
        f"top {len(rows)} of {total_rows}" if len(rows) < total_rows else f"{total_rows} {groups}"
    )
    top = ""
    if args.rank and rows:
        ties = [r for r in rows if r.value == rows[0].value]
        names = ", ".join(f"{r.id} ({r.name})" if r.name else r.id for r in ties)
        lead = "Tied at the top" if len(ties) > 1 else "Top"
        top = f" {lead}: {names} ({_fmt(rows[0].value, measure.kind)})."
    return (
        f"{_cap(measure.label)} per {DIMENSION_LABELS[args.group_by]}{where}{order} ({shown}).{top}"
    )


class ListedRow(Row):
    """One record of a listing query."""

    id: str = column("Number")
    order: str | None = column("Order", default=None)
    name: str = column("Customer")
    on: date | None = column("Date", "date")
    amount: Decimal | None = column("Amount", "money", default=None)
    price: Decimal | None = column("List price", "money", default=None)
    cost: Decimal | None = column("Cost", "money", default=None)
    """Products only: what a unit costs us, the other side of the margin."""
    credit_limit: Decimal | None = column("Credit limit", "money", default=None)
    """Customers over their credit limit: the limit their open amount exceeds."""
    carrier: str | None = column("Carrier", default=None)
    """Shipments only: whom to chase about a late or missing parcel."""
    tracking: str | None = column("Tracking", default=None)
    """Shipments only: the number the carrier knows the parcel by."""
    expected: date | None = column("Expected", "date", default=None)
    """Shipments in transit or late only: the day the parcel was expected."""
    margin: Decimal | None = column("Margin %", "pct", default=None)
    """Products only: (list price - cost) / list price, so a list of parts shows both."""
    items: str | None = column("Items", default=None)
    """Purchase orders picked by product: how many of those products each one holds."""
    status: str | None = column("Status", default=None)
    """The record's own status ("orders not delivered yet": open or shipped)."""


class ProductListedRow(ListedRow):
    """A product in a listing: its name, not a customer's, beside its SKU."""

    name: str = column("Product")
    on_hand: int | None = column("On hand", "qty", default=None)
    """Unsold products only: the units lying in stock (both warehouses)."""
    stock_value: Decimal | None = column("Stock value at cost", "money", default=None)
    """Unsold products only: those units at the product's current cost."""


class PaymentListedRow(ListedRow):
    """A payment or credit note in a listing, with the invoice it went against."""

    order: str | None = column("Invoice", default=None)


class SupplierListedRow(ListedRow):
    """A purchase order or supplier in a listing, named by its supplier."""

    name: str = column("Supplier")
    days_late: int | None = column("Days late", "int", default=None)
    """Late purchase orders only: days past the expected date (so far, if still open)."""


_LISTED_ROWS: dict[str, type[ListedRow]] = {
    "products": ProductListedRow,
    "suppliers": SupplierListedRow,
    "purchase_orders": SupplierListedRow,
    "payments": PaymentListedRow,
    "credit_notes": PaymentListedRow,
}


def _list(
    session: Session,
    args: QueryArgs,
    spec: SubjectSpec,
    base: Any,
    joins: list[tuple[Any, ...]],
    conditions: list[Any],
    reading: list[str],
    today: date,
    *,
    open_reading: list[Any] | None = None,
) -> SkillResult[Any]:
    amount: Any = {
        "orders": SO.total_cents,
        "invoices": INV.total_cents,
        "payments": PAY.amount_cents,
        "credit_notes": m.CreditNote.amount_cents,
        "returns": literal(None),
        "customers": (
            m.Customer.credit_limit_cents
            if args.measure == "credit_limit"
            else _condition_amount(args)
            if args.customer_condition
            else None
        ),
        "shipments": literal(None),
        "products": m.Product.unit_price_cents,
        "suppliers": literal(None),
        "purchase_orders": PO.total_cents,
    }[args.subject]
    if amount is None:
        amount = literal(None)
    order: Any = {"shipments": SO.number, "returns": SO.number}.get(args.subject, literal(None))
    if args.subject in ("payments", "credit_notes"):
        # Which invoice a payment or credit went against: the question people ask of one.
        invoice = m.Invoice.__table__.alias("applied_invoice")
        joins = [*joins, (invoice, invoice.c.id == spec.entity.invoice_id, "outer")]
        order = invoice.c.number
    if args.subject == "returns":
        joins = [*joins, (SO, SO.id == RET.order_id)]
    if args.subject == "invoices" and args.status in OWED_STATUSES:
        amount = INV.total_cents - INV.paid_cents  # what is still owed on each
    on = spec.date_column if spec.date_column is not None else m.Customer.created_on
    if args.date_basis == "due" and spec.due_column is not None:
        on = spec.due_column  # "what's due in july": the dates that put them in the list
    elif args.date_basis == "received" and spec.arrival_column is not None:
        on = spec.arrival_column  # "which POs came in last week": the day each arrived
    number: Any = spec.number_column
    name: Any = m.Customer.name
    if args.subject == "products":
        name, on = m.Product.name, literal(None)
    elif args.subject == "suppliers":
        name, on = m.Supplier.name, literal(None)
    elif args.subject == "purchase_orders":
        name = m.Supplier.name
        joins = [*joins, (m.Supplier, m.Supplier.id == PO.supplier_id)]
    elif args.subject != "customers":
        joins = [*joins, (m.Customer, m.Customer.id == spec.customer_column)]
    seen: list[Any] = []
    carrier: Any = SHP.carrier if args.subject == "shipments" else literal(None)
    # A parcel is chased with the carrier by its tracking number.
    tracking: Any = SHP.tracking_number if args.subject == "shipments" else literal(None)
    # A parcel in transit is late against the day it was expected.
    expected: Any = (
        SHP.expected_delivery
        if args.subject == "shipments" and args.status in ("running_late", "late", "in_transit")
        else literal(None)
    )
    margin: Any = (
        (m.Product.unit_price_cents - m.Product.cost_cents) * 100.0 / m.Product.unit_price_cents
        if args.subject == "products"
        else literal(None)
    )
    status: Any = (
        spec.entity.status
        if args.subject in ("orders", "invoices", "returns", "shipments", "purchase_orders")
        # A product out of the range says so ("is the v-belt still in the range?").
        else case((m.Product.active.is_(False), "inactive"), else_=None)
        if args.subject == "products"
        else literal(None)
    )
    cost: Any = m.Product.cost_cents if args.subject == "products" else literal(None)
    credit_limit: Any = (
        m.Customer.credit_limit_cents
        if args.subject == "customers"
        and (args.customer_condition == "over_credit_limit" or args.measure == "credit_limit")
        else literal(None)
    )
    # Products that did not sell: what lies in stock of each, and its worth at cost.
    unsold = args.subject == "products" and args.status == UNSOLD
    held: Any = (
        select(func.coalesce(func.sum(m.StockLevel.on_hand), 0))
        .where(m.StockLevel.product_id == m.Product.id)
        .scalar_subquery()
        if unsold
        else literal(None)
    )
    held_value: Any = held * m.Product.cost_cents if unsold else literal(None)
    stmt = select(
        number, name, on, amount, order, carrier, margin, status, cost, credit_limit, held,
        held_value, tracking, expected,
    ).select_from(base)  # fmt: skip
    for entity, condition, *how in joins:
        if any(entity is e for e in seen):
            continue
        seen.append(entity)
        stmt = stmt.join(entity, condition, isouter=bool(how))
    stmt = stmt.where(*conditions).distinct()
    if unsold and args.rank is None:
        stmt = stmt.order_by(held_value.desc(), number)
        reading.append("most stock value first")
    elif args.subject in ("products", "suppliers") and args.rank is None:
        stmt = stmt.order_by(number)
    elif args.rank is not None:
        stmt = stmt.order_by(amount.desc() if args.rank == "highest" else amount.asc(), number)
        what = (
            "price"
            if args.subject == "products"
            else "credit limit"
            if args.measure == "credit_limit"
            else "amount"
        )
        first = "highest" if args.rank == "highest" else "lowest"
        reading.append(f"{first} {what} first")
    elif args.oldest_first:
        stmt = stmt.order_by(on.asc(), number)
        reading.append("oldest first")
    else:
        stmt = stmt.order_by(on.desc(), number)
    raw = session.execute(stmt).all()
    total = len(raw)
    limit = args.limit or 50
    row_type = _LISTED_ROWS.get(args.subject, ListedRow)
    products = args.subject == "products"  # a product's figure is its list price
    rows = [
        row_type(
            id=str(r[0]), name=str(r[1]), on=r[2], order=r[4], carrier=r[5],
            margin=Decimal(str(r[6])).quantize(Decimal("0.1")) if r[6] is not None else None,
            price=_money(r[3]) if products and r[3] is not None else None,
            cost=_money(r[8]) if r[8] is not None else None,
            credit_limit=_money(r[9]) if r[9] is not None else None,
            amount=_money(r[3]) if not products and r[3] is not None else None,
            status=r[7],
            tracking=r[12],
            expected=r[13],
            **({"on_hand": r[10], "stock_value": _money(r[11])} if unsold else {}),
        )
        for r in raw[:limit]
    ]  # fmt: skip
    # The lines of the orders asked about: the products named, the short ones, or every line
    # of orders still to come (with the date they are expected).
    shown_lines = (
        args.products
        or args.category
        or args.status
        in (
            "short",
            "open",
            "late",
            "running_late",
        )
    )
    if args.subject == "purchase_orders" and shown_lines and rows:
        rows = _with_po_items(session, args, rows)
    where = f" ({'; '.join(reading)})" if reading else ""
    # Summed over every match, also those past the rows shown (products carry a price).
    amounts = [_money(r[3]) for r in raw if r[3] is not None]
    worth = ""
    if args.measure == "credit_limit" and args.rank and amounts:
        # "who has the highest credit limit": how many customers tie at the top is said, not
        # only the first of them by number.
        top = amounts[0]
        tied = sum(1 for a in amounts if a == top)
        if tied > len(rows):
            worth = f"; {tied:,} share the {args.rank} limit, €{top:,.2f}"
    elif unsold:
        units = sum(int(r[10] or 0) for r in raw)
        worth = f", holding {units:,} units worth €{sum(_money(r[11]) for r in raw):,.2f} at cost"
    elif amounts and args.subject != "products":
        summed = f"€{sum(amounts, Decimal(0)):,.2f}"
        # A customer is not "worth" what it owes: its figure is the balance the condition
        # is about, summed over the customers listed.
        worth = (
            f", worth {summed}"
            if args.subject != "customers"
            else f", owing {summed} in all"
            if args.customer_condition == "owing"
            else f", with {summed} open in all"
        )
    headline = f"{total:,} {spec.noun if total != 1 else spec.noun[:-1]}{where}{worth}:"
    if open_reading is not None:
        # Both readings of "owe": the list is the net balance; say what open invoices alone
        # come to, so the owner sees which customers' debts are settled by money on account.
        customers, cents = session.execute(
            select(func.count(distinct(m.Customer.id)), func.sum(_open_cents()))
            .select_from(base)
            .where(*open_reading)
        ).one()
        open_total = _money(cents or 0)
        if (customers, open_total) != (total, sum(amounts, Decimal(0))):
            headline = headline.removesuffix(":") + (
                f" (on open invoices alone, before unapplied payments and credit notes: "
                f"{customers:,} customer{'' if customers == 1 else 's'}, €{open_total:,.2f}):"
            )
    if args.number and len(rows) == 1:
        row = rows[0]
        applied = (
            f"applied to invoice {row.order}"
            if row.order
            else "not applied to any invoice (unapplied, on account)"
        )
        headline = (
            f"{spec.noun[:-1].capitalize()} {row.id} "
            f"{'from' if args.subject == 'payments' else 'to'} {row.name}: €{row.amount:,.2f} on "
            f"{row.on.isoformat() if row.on else '–'}, {applied}."
        )
    elif not rows:
        headline = f"No {spec.noun} match{where}."
    if args.subject == "customers" and args.customer_condition and args.customer:
        # "winkler maschinenbau over credit limit?": one named customer and a condition is
        # a yes-or-no question; the answer says which before the record that shows it.
        headline = f"{'Yes' if rows else 'No'}: {headline[0].lower()}{headline[1:]}"
    return SkillResult[ListedRow](
        skill="erp_query",
        title=f"{spec.noun[0].upper()}{spec.noun[1:]}",
        as_of=today,
        rows=rows,
        total_rows=total,
        facts=[Fact(key="reading", label="Reading", value=headline)],
        row_type=row_type,
    )


__all__ = [
    "HOME_SKILLS",
    "SALES_SKILL",
    "SUBJECTS",
    "CustomerCondition",
    "Dimension",
    "Measure",
    "QueryArgs",
    "QueryRow",
    "Subject",
    "SubjectSpec",
    "home_skill",
    "run_query",
]
