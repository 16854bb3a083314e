"""ERP read skills: one plain function per question, shared by the tools and the fast path.

Each skill takes a session (read-only for these) and its validated arguments model and
returns a ``SkillResult`` of typed rows with ids. Queries are SQLAlchemy expressions with
bound parameters, never SQL assembled from text. Names in arguments (customers,
suppliers, products) are resolved with ``nova.erp.resolve.NameIndex``; a name that fits
two rows raises ``AmbiguousName`` listing them, a name that fits none raises ``NotFound``.

``READ_SKILLS`` maps each tool name (``erp_invoice_lookup``, …) to its ``Skill``; the write
skills are in ``nova.erp.writes``.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from nova.erp import models as m
from nova.erp.db import ErpDatabase, business_date
from nova.erp.resolve import Named, NameIndex, canonical_number, normalise
from nova.erp.results import (
    Fact,
    Row,
    SkillResult,
    column,
    money,
    one_place,
    percent,
)

# --- errors -----------------------------------------------------------------------------


class SkillError(ValueError):
    """The request cannot be answered as asked; the message says why and what to do."""


class ErpNotReady(SkillError):
    """The ERP database has no tables or no data; the message names the command that fixes it."""


def require_data(database: ErpDatabase) -> None:
    """Raise ``ErpNotReady`` when ``database`` cannot answer anything yet (see ``setup_problem``).

    Skills call sites (the tools and the fast path) check this first, so an unseeded
    database is named as the cause instead of every lookup reporting "not found".
    """
    if problem := database.setup_problem():
        raise ErpNotReady(problem)


class NotFound(SkillError):
    """Nothing matches a name or number in the request."""


class AmbiguousName(SkillError):
    """A name fits several rows; ``candidates`` lists them so the user can pick one."""

    def __init__(self, kind: str, query: str, candidates: list[Named]) -> None:
        self.kind = kind
        self.query = query
        self.candidates = candidates
        listing = ", ".join(f"{c.name} ({c.number})" for c in candidates[:6])
        more = f" and {len(candidates) - 6} more" if len(candidates) > 6 else ""
        super().__init__(
            f"{query!r} matches {len(candidates)} {kind}s: {listing}{more}. "
            f"Say which one, by full name or {kind} number."
        )


# --- argument types ---------------------------------------------------------------------


def _iso_date(value: object) -> object:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"{value!r} is not a date; write it as YYYY-MM-DD, e.g. 2025-03-01"
            ) from None
    return value


def _document(kind: str, example: str) -> Callable[[object], object]:
    def check(value: object) -> object:
        if value is None or not isinstance(value, str):
            return value
        spelled = canonical_number(kind, value)
        if spelled is None:
            raise ValueError(
                f"{value!r} is not a {kind.replace('_', ' ')} number; they look like {example}"
            )
        return spelled

    return check


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Name = Annotated[str, Field(min_length=1, max_length=120)]
InvoiceNumber = Annotated[str, BeforeValidator(_document("invoice", "INV-2025-00412"))]
OrderNumber = Annotated[str, BeforeValidator(_document("order", "SO-4410"))]
PoNumber = Annotated[str, BeforeValidator(_document("po", "PO-2025-0193"))]
RmaNumber = Annotated[str, BeforeValidator(_document("rma", "RMA-2025-0031"))]
ShipmentNumber = Annotated[str, BeforeValidator(_document("shipment", "SH-100123"))]
Limit = Annotated[int, Field(ge=1, le=200, description="Most rows to return")]

CUSTOMER_HELP = "Customer name (or a distinctive part of it) or 5-digit customer number"
SUPPLIER_HELP = "Supplier name (or a distinctive part of it) or supplier number like S-105"
PRODUCT_HELP = "Product SKU like BRK-2210, or its exact name"


class SkillArgs(BaseModel):
    """Base of every skill's arguments: unknown fields are refused, text is stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class _Period(SkillArgs):
    """Arguments with an optional inclusive date range."""

    date_from: IsoDate | None = Field(default=None, description="First day, YYYY-MM-DD")
    date_to: IsoDate | None = Field(default=None, description="Last day, YYYY-MM-DD")

    @model_validator(mode="after")
    def _ordered(self) -> _Period:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError(
                f"date_from {self.date_from} is after date_to {self.date_to}; swap them"
            )
        return self


# --- shared look-ups --------------------------------------------------------------------

_index_lock = threading.Lock()
_indexes: dict[tuple[str, str], tuple[tuple[int, int], NameIndex]] = {}

_Indexed = type[m.Customer] | type[m.Supplier] | type[m.Product]


def name_index(session: Session, model: _Indexed) -> NameIndex:
    """Return the name index of customers, suppliers or products (rebuilt when rows change)."""
    number = m.Product.sku if model is m.Product else model.number  # type: ignore[union-attr]
    count, highest = session.execute(select(func.count(), func.max(model.id))).one()
    bind = session.get_bind()
    key = (str(bind.engine.url.database), model.__tablename__)
    signature = (count, highest or 0)
    with _index_lock:
        cached = _indexes.get(key)
        if cached and cached[0] == signature:
            return cached[1]
    rows = session.execute(select(model.id, number, model.name).order_by(model.id)).all()
    index = NameIndex([(row[0], row[1], row[2]) for row in rows])
    with _index_lock:
        _indexes[key] = (signature, index)
    return index


def _empty_hint(session: Session, model: _Indexed) -> str:
    if session.scalar(select(func.count()).select_from(model)) == 0:
        return " The ERP database is empty: run `nova erp seed` to create the sample business."
    return ""


def resolve_customer(session: Session, ref: str) -> m.Customer:
    """Return the one customer ``ref`` (name or number) means.

    Raises:
        NotFound: no customer is close. AmbiguousName: several are.

    """
    matches = name_index(session, m.Customer).lookup(ref)
    if not matches:
        raise NotFound(
            f"No customer matches {ref!r}. Check the spelling, or give part of the name or "
            "the 5-digit customer number (erp_find_customer "
            f"searches).{_empty_hint(session, m.Customer)}"
        )
    if len(matches) > 1:
        raise AmbiguousName("customer", ref, matches)
    customer = session.get(m.Customer, matches[0].id)
    assert customer is not None
    return customer


def resolve_supplier(session: Session, ref: str) -> m.Supplier:
    """Return the one supplier ``ref`` (name or number) means.

    Raises:
        NotFound: no supplier is close. AmbiguousName: several are.

    """
    matches = name_index(session, m.Supplier).lookup(
        ref.upper() if ref.upper().startswith("S-") else ref
    )
    if not matches:
        names = ", ".join(e.name for e in name_index(session, m.Supplier).entities[:8])
        raise NotFound(f"No supplier matches {ref!r}. Suppliers include: {names}, …")
    if len(matches) > 1:
        raise AmbiguousName("supplier", ref, matches)
    supplier = session.get(m.Supplier, matches[0].id)
    assert supplier is not None
    return supplier


def resolve_product(session: Session, ref: str) -> m.Product:
    """Return the product with SKU ``ref``, or the one product whose name ``ref`` is.

    Raises:
        NotFound: no such SKU or name. AmbiguousName: the name fits several products.

    """
    sku = canonical_number("sku", ref)
    if sku is not None:
        product = session.scalar(select(m.Product).where(m.Product.sku == sku))
        if product is None:
            raise NotFound(
                f"No product has SKU {sku}. Search by name with erp_find_product."
                f"{_empty_hint(session, m.Product)}"
            )
        return product
    matches = name_index(session, m.Product).lookup(ref)
    if not matches:
        raise NotFound(
            f"No product matches {ref!r}; give its SKU (like BRK-2210) or search with "
            "erp_find_product."
        )
    if len(matches) > 1:
        raise AmbiguousName("product", ref, matches)
    product = session.get(m.Product, matches[0].id)
    assert product is not None
    return product


def resolve_warehouse(session: Session, ref: str) -> str:
    """Return the warehouse code ``ref`` (code, name or city) means.

    Raises:
        NotFound: listing the warehouses.

    """
    wanted = normalise(ref).replace("warehouse", "").strip()
    rows = session.execute(select(m.Warehouse.code, m.Warehouse.name, m.Warehouse.city)).all()
    for code, name, city in rows:
        if wanted in (
            normalise(code),
            normalise(name).replace("warehouse", "").strip(),
            normalise(city),
        ):
            return str(code)
    known = ", ".join(f"{code} ({city})" for code, _n, city in rows)
    raise NotFound(f"No warehouse {ref!r}; the warehouses are {known}")


def resolve_category(session: Session, ref: str) -> str:
    """Return the product category ``ref`` means (case and plural forgiven).

    Raises:
        NotFound: listing the categories.

    """
    categories = [str(c) for c in session.scalars(select(m.Product.category).distinct())]
    wanted = normalise(ref)
    for category in categories:
        name = normalise(category)
        if wanted in (name, name.rstrip("s"), name + "s") or wanted.rstrip("s") == name.rstrip("s"):
            return category
    raise NotFound(f"No product category {ref!r}; categories are {', '.join(sorted(categories))}")


def _period_filter(column: Any, date_from: date | None, date_to: date | None) -> list[Any]:
    conditions = []
    if date_from is not None:
        conditions.append(column >= date_from)
    if date_to is not None:
        conditions.append(column <= date_to)
    return conditions


def _count(session: Session, stmt: Select[Any]) -> int:
    return int(
        session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    )


def _period_facts(date_from: date | None, date_to: date | None) -> list[Fact]:
    facts = []
    if date_from is not None:
        facts.append(Fact(key="date_from", label="From", value=date_from, kind="date"))
    if date_to is not None:
        facts.append(Fact(key="date_to", label="To", value=date_to, kind="date"))
    return facts


ArgsT = TypeVar("ArgsT", bound=SkillArgs)
ResultT = TypeVar("ResultT")


@dataclass(frozen=True, slots=True)
class Skill(Generic[ArgsT, ResultT]):
    """A skill as the tool registry and the fast path see it."""

    name: str
    args: type[ArgsT]
    run: Callable[[Session, ArgsT], ResultT]
    description: str
    writes: bool = False


# --- customers --------------------------------------------------------------------------


class FindCustomerArgs(SkillArgs):
    """Arguments of ``erp_find_customer``."""

    query: Name | None = Field(default=None, description=CUSTOMER_HELP)
    region: Name | None = Field(default=None, description="State/region, e.g. Bayern or Tirol")
    blocked_only: bool = Field(default=False, description="Only accounts that are blocked")
    limit: Limit = 5

    @model_validator(mode="after")
    def _something(self) -> FindCustomerArgs:
        if not (self.query or self.region or self.blocked_only):
            raise ValueError("give a name or number (query), a region, or blocked_only=true")
        return self


class CustomerRow(Row):
    """A customer card."""

    id: str = column("Customer no.")
    name: str = column("Name")
    contact: str | None = column("Contact")
    email: str | None = column("Email")
    phone: str | None = column("Phone")
    address: str = column("Address")
    region: str | None = column("Region")
    country: str = column("Country")
    vat_id: str | None = column("VAT ID")
    payment_terms_days: int = column("Terms (days)", "int")
    credit_limit: Decimal = column("Credit limit", "money")
    discount_pct: int = column("Discount %", "int")
    blocked: bool = column("Blocked", "bool")


def _customer_row(customer: m.Customer) -> CustomerRow:
    return CustomerRow(
        id=customer.number,
        name=customer.name,
        contact=customer.contact_name,
        email=customer.email,
        phone=customer.phone,
        address=f"{customer.street}, {customer.postcode} {customer.city}",
        region=customer.region,
        country=customer.country,
        vat_id=customer.vat_id,
        payment_terms_days=customer.payment_terms_days,
        credit_limit=money(customer.credit_limit_cents),
        discount_pct=customer.discount_pct,
        blocked=customer.blocked,
    )


def find_customer(session: Session, args: FindCustomerArgs) -> SkillResult[CustomerRow]:
    """Find customers by name or number (fuzzy), region or blocked status.

    Returns contact details, address, VAT ID, payment terms, credit limit and discount.
    """
    conditions: list[Any] = []
    if args.query:
        matches = name_index(session, m.Customer).lookup(args.query)
        if not matches:
            raise NotFound(
                f"No customer matches {args.query!r}. Check the spelling or give the 5-digit "
                f"customer number.{_empty_hint(session, m.Customer)}"
            )
        conditions.append(m.Customer.id.in_([match.id for match in matches]))
    if args.region:
        conditions.append(func.lower(m.Customer.region) == args.region.lower())
    if args.blocked_only:
        conditions.append(m.Customer.blocked.is_(True))
    stmt = select(m.Customer).where(*conditions).order_by(m.Customer.name)
    total = _count(session, stmt)
    rows = [_customer_row(c) for c in session.scalars(stmt.limit(args.limit))]
    return SkillResult[CustomerRow](
        skill="erp_find_customer",
        focus="record" if args.query and len(rows) == 1 else "list",
        title="Customers",
        as_of=business_date(session),
        rows=rows,
        total_rows=total,
        facts=[Fact(key="count", label="Customers found", value=total, kind="int")],
        row_type=CustomerRow,
    )


class CustomerBalanceArgs(SkillArgs):
    """Arguments of ``erp_customer_balance``."""

    customer: Name = Field(description=CUSTOMER_HELP)


class BalanceRow(Row):
    """What a customer owes, against their credit limit."""

    id: str = column("Customer no.")
    name: str = column("Name")
    open_invoices: int = column("Open invoices", "int")
    outstanding: Decimal = column("Outstanding", "money")
    overdue_invoices: int = column("Overdue invoices", "int")
    overdue_amount: Decimal = column("Overdue", "money")
    credit_limit: Decimal = column("Credit limit", "money")
    credit_available: Decimal = column("Credit left", "money")
    payment_terms_days: int = column("Terms (days)", "int")
    oldest_due_date: date | None = column("Oldest due", "date")


def customer_balance(session: Session, args: CustomerBalanceArgs) -> SkillResult[BalanceRow]:
    """Show what one customer owes: open and overdue invoices, credit limit and credit left."""
    customer = resolve_customer(session, args.customer)
    today = business_date(session)
    outstanding = m.Invoice.total_cents - m.Invoice.paid_cents
    overdue = m.Invoice.due_date < today
    count, owed, overdue_count, overdue_sum, oldest = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(outstanding), 0),
            func.coalesce(func.sum(case((overdue, 1), else_=0)), 0),
            func.coalesce(func.sum(case((overdue, outstanding), else_=0)), 0),
            func.min(m.Invoice.due_date),
        ).where(
            m.Invoice.customer_id == customer.id,
            m.Invoice.status == "open",
            outstanding > 0,
        )
    ).one()
    row = BalanceRow(
        id=customer.number,
        name=customer.name,
        open_invoices=count,
        outstanding=money(owed),
        overdue_invoices=overdue_count,
        overdue_amount=money(overdue_sum),
        credit_limit=money(customer.credit_limit_cents),
        credit_available=money(customer.credit_limit_cents - owed),
        payment_terms_days=customer.payment_terms_days,
        oldest_due_date=oldest,
    )
    return SkillResult[BalanceRow](
        skill="erp_customer_balance",
        focus="record",
        title=f"Balance of {customer.name}",
        as_of=today,
        rows=[row],
        total_rows=1,
        facts=[
            Fact(
                key="over_limit",
                label="Over credit limit",
                value=owed > customer.credit_limit_cents,
                kind="bool",
            )
        ],
        row_type=BalanceRow,
    )


# --- invoices and payments ----------------------------------------------------------------

InvoiceStatus = Literal["open", "paid", "overdue", "any"]


class InvoiceRow(Row):
    """An invoice with what is still owed on it."""

    id: str = column("Invoice")
    customer: str = column("Customer")
    customer_number: str = column("Customer no.")
    order: str | None = column("Order")
    issue_date: date = column("Issued", "date")
    due_date: date = column("Due", "date")
    total: Decimal = column("Total", "money")
    paid: Decimal = column("Paid", "money")
    outstanding: Decimal = column("Outstanding", "money")
    status: str = column("Status")
    days_overdue: int | None = column("Days overdue", "days")


_OUTSTANDING = m.Invoice.total_cents - m.Invoice.paid_cents


def _invoice_query() -> Select[m.Invoice, str, str, str]:
    return (
        select(m.Invoice, m.Customer.number, m.Customer.name, m.SalesOrder.number)
        .join(m.Customer, m.Invoice.customer_id == m.Customer.id)
        .outerjoin(m.SalesOrder, m.Invoice.order_id == m.SalesOrder.id)
    )


def _invoice_row(
    invoice: m.Invoice, number: str, name: str, order: str | None, today: date
) -> InvoiceRow:
    outstanding = invoice.total_cents - invoice.paid_cents
    late = invoice.status == "open" and outstanding > 0 and invoice.due_date < today
    return InvoiceRow(
        id=invoice.number,
        customer=name,
        customer_number=number,
        order=order,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        total=money(invoice.total_cents),
        paid=money(invoice.paid_cents),
        outstanding=money(outstanding),
        status="overdue" if late else invoice.status,
        days_overdue=(today - invoice.due_date).days if late else None,
    )


def _invoice_result(
    session: Session,
    skill: str,
    title: str,
    conditions: list[Any],
    order_by: list[Any],
    limit: int,
    today: date,
    extra_facts: list[Fact] | None = None,
    focus: Literal["record", "list"] = "list",
) -> SkillResult[InvoiceRow]:
    stmt = _invoice_query().where(*conditions)
    count, total, owed = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(m.Invoice.total_cents), 0),
            func.coalesce(func.sum(case((m.Invoice.status == "open", _OUTSTANDING), else_=0)), 0),
        )
        .select_from(m.Invoice)
        .join(m.Customer, m.Invoice.customer_id == m.Customer.id)
        .outerjoin(m.SalesOrder, m.Invoice.order_id == m.SalesOrder.id)
        .where(*conditions)
    ).one()
    rows = [
        _invoice_row(invoice, number, name, order, today)
        for invoice, number, name, order in session.execute(stmt.order_by(*order_by).limit(limit))
    ]
    facts = [
        Fact(key="count", label="Invoices", value=count, kind="int"),
        Fact(key="total", label="Invoiced", value=money(total), kind="money"),
        Fact(key="outstanding", label="Outstanding", value=money(owed), kind="money"),
        *(extra_facts or []),
    ]
    return SkillResult[InvoiceRow](
        skill=skill,
        focus=focus,
        title=title,
        as_of=today,
        rows=rows,
        total_rows=count,
        facts=facts,
        row_type=InvoiceRow,
    )


class InvoiceLookupArgs(SkillArgs):
    """Arguments of ``erp_invoice_lookup``."""

    invoice_number: InvoiceNumber | None = Field(default=None, description="e.g. INV-2025-00412")
    order_number: OrderNumber | None = Field(default=None, description="Sales order, e.g. SO-4410")
    customer: Name | None = Field(default=None, description=CUSTOMER_HELP)
    status: InvoiceStatus = Field(default="any", description="open, paid, overdue or any")
    issued_from: IsoDate | None = Field(default=None, description="Issued on or after, YYYY-MM-DD")
    issued_to: IsoDate | None = Field(default=None, description="Issued on or before, YYYY-MM-DD")
    due_from: IsoDate | None = Field(default=None, description="Due on or after, YYYY-MM-DD")
    due_to: IsoDate | None = Field(default=None, description="Due on or before, YYYY-MM-DD")
    min_amount: Decimal | None = Field(
        default=None, ge=0, le=10_000_000, description="Smallest invoice total in EUR"
    )
    limit: Limit = 20

    @model_validator(mode="after")
    def _something(self) -> InvoiceLookupArgs:
        given = (
            self.invoice_number,
            self.order_number,
            self.customer,
            self.issued_from,
            self.issued_to,
            self.due_from,
            self.due_to,
            self.min_amount,
        )
        if all(value is None for value in given) and self.status == "any":
            raise ValueError(
                "give an invoice number, an order number, a customer, a status or a date range"
            )
        return self


def invoice_lookup(session: Session, args: InvoiceLookupArgs) -> SkillResult[InvoiceRow]:
    """Look up invoices by number, sales order, customer, status, issue or due dates and amount."""
    today = business_date(session)
    conditions: list[Any] = []
    if args.invoice_number:
        conditions.append(m.Invoice.number == args.invoice_number)
    if args.order_number:
        conditions.append(m.SalesOrder.number == args.order_number)
    if args.customer:
        conditions.append(m.Invoice.customer_id == resolve_customer(session, args.customer).id)
    if args.status == "open":
        conditions += [m.Invoice.status == "open", _OUTSTANDING > 0]
    elif args.status == "paid":
        conditions.append(m.Invoice.status == "paid")
    elif args.status == "overdue":
        conditions += [m.Invoice.status == "open", _OUTSTANDING > 0, m.Invoice.due_date < today]
    conditions += _period_filter(m.Invoice.issue_date, args.issued_from, args.issued_to)
    conditions += _period_filter(m.Invoice.due_date, args.due_from, args.due_to)
    if args.min_amount is not None:
        conditions.append(m.Invoice.total_cents >= int(args.min_amount * 100))
    result = _invoice_result(
        session,
        "erp_invoice_lookup",
        "Invoices",
        conditions,
        [m.Invoice.issue_date.desc(), m.Invoice.number.desc()],
        args.limit,
        today,
        _period_facts(args.issued_from, args.issued_to),
        "record" if args.invoice_number or (args.order_number and not args.customer) else "list",
    )
    if args.invoice_number and not result.rows:
        raise NotFound(
            f"No invoice {args.invoice_number}; check the number (they look like INV-2025-00412)"
        )
    if args.order_number and not result.rows:
        if (
            session.scalar(select(m.SalesOrder.id).where(m.SalesOrder.number == args.order_number))
            is None
        ):
            raise NotFound(f"No sales order {args.order_number}")
    return result


class OverdueInvoicesArgs(SkillArgs):
    """Arguments of ``erp_overdue_invoices``."""

    customer: Name | None = Field(default=None, description=CUSTOMER_HELP + "; omit for all")
    min_days_overdue: int = Field(
        default=1, ge=1, le=3650, description="Only invoices at least this many days past due"
    )
    limit: Limit = 25


def overdue_invoices(session: Session, args: OverdueInvoicesArgs) -> SkillResult[InvoiceRow]:
    """List unpaid invoices past their due date, most overdue first, with the total outstanding."""
    today = business_date(session)
    conditions: list[Any] = [
        m.Invoice.status == "open",
        _OUTSTANDING > 0,
        m.Invoice.due_date <= today - timedelta(days=args.min_days_overdue),
    ]
    if args.customer:
        conditions.append(m.Invoice.customer_id == resolve_customer(session, args.customer).id)
    customers = session.scalar(
        select(func.count(func.distinct(m.Invoice.customer_id))).where(*conditions)
    )
    return _invoice_result(
        session,
        "erp_overdue_invoices",
        "Overdue invoices",
        conditions,
        [m.Invoice.due_date, m.Invoice.number],
        args.limit,
        today,
        [
            Fact(key="customers", label="Customers", value=customers or 0, kind="int"),
            Fact(
                key="min_days_overdue",
                label="At least days overdue",
                value=args.min_days_overdue,
                kind="int",
            ),
        ],
    )


PaymentMethod = Literal["bank_transfer", "sepa_debit", "card", "paypal", "cash"]


class PaymentHistoryArgs(_Period):
    """Arguments of ``erp_payment_history``."""

    customer: Name | None = Field(default=None, description=CUSTOMER_HELP)
    invoice_number: InvoiceNumber | None = Field(default=None, description="e.g. INV-2025-00412")
    method: PaymentMethod | None = None
    min_amount: Decimal | None = Field(
        default=None, ge=0, le=10_000_000, description="Smallest amount in EUR"
    )
    unapplied_only: bool = Field(
        default=False, description="Only payments not matched to an invoice"
    )
    reference: Name | None = Field(default=None, description="Text in the payment reference")
    limit: Limit = 20


class PaymentRow(Row):
    """A payment received."""

    id: str = column("Payment")
    paid_on: date = column("Paid on", "date")
    customer: str = column("Customer")
    customer_number: str = column("Customer no.")
    invoice: str | None = column("Invoice")
    amount: Decimal = column("Amount", "money")
    method: str | None = column("Method")
    reference: str | None = column("Reference")
    days_after_issue: int | None = column("Days after invoice", "days")


def payment_history(session: Session, args: PaymentHistoryArgs) -> SkillResult[PaymentRow]:
    """List payments received by customer, invoice, period, method or amount; unapplied too."""
    today = business_date(session)
    conditions: list[Any] = _period_filter(m.Payment.paid_on, args.date_from, args.date_to)
    if args.customer:
        conditions.append(m.Payment.customer_id == resolve_customer(session, args.customer).id)
    if args.invoice_number:
        conditions.append(m.Invoice.number == args.invoice_number)
    if args.method:
        conditions.append(m.Payment.method == args.method)
    if args.min_amount is not None:
        conditions.append(m.Payment.amount_cents >= int(args.min_amount * 100))
    if args.unapplied_only:
        conditions.append(m.Payment.invoice_id.is_(None))
    if args.reference:
        conditions.append(
            func.lower(m.Payment.reference).contains(args.reference.lower(), autoescape=True)
        )
    base = (
        select(
            m.Payment,
            m.Customer.number,
            m.Customer.name,
            m.Invoice.number,
            m.Invoice.issue_date,
            m.Invoice.due_date,
        )
        .join(m.Customer, m.Payment.customer_id == m.Customer.id)
        .outerjoin(m.Invoice, m.Payment.invoice_id == m.Invoice.id)
        .where(*conditions)
    )
    count, total = session.execute(
        base.with_only_columns(func.count(), func.coalesce(func.sum(m.Payment.amount_cents), 0))
    ).one()
    rows = []
    delays: list[int] = []
    late: list[int] = []
    for payment, number, name, invoice, issued, _due in session.execute(
        base.order_by(m.Payment.paid_on.desc(), m.Payment.number.desc()).limit(args.limit)
    ):
        rows.append(
            PaymentRow(
                id=payment.number,
                paid_on=payment.paid_on,
                customer=name,
                customer_number=number,
                invoice=invoice,
                amount=money(payment.amount_cents),
                method=payment.method,
                reference=payment.reference,
                days_after_issue=(payment.paid_on - issued).days if issued else None,
            )
        )
    if args.customer:
        # Payment behaviour over all matching payments, not only the rows shown.
        for paid_on, issued, due in session.execute(
            base.with_only_columns(
                m.Payment.paid_on, m.Invoice.issue_date, m.Invoice.due_date
            ).where(m.Payment.invoice_id.is_not(None))
        ):
            delays.append((paid_on - issued).days)
            late.append((paid_on - due).days)
    facts = [
        Fact(key="count", label="Payments", value=count, kind="int"),
        Fact(key="total", label="Received", value=money(total), kind="money"),
        *_period_facts(args.date_from, args.date_to),
    ]
    if delays:
        facts += [
            Fact(
                key="avg_days_to_pay",
                label="Average days from invoice to payment",
                value=one_place(sum(delays) / len(delays)),
                kind="days",
            ),
            Fact(
                key="avg_days_late",
                label="Average days after due date",
                value=one_place(sum(late) / len(late)),
                kind="days",
            ),
        ]
    return SkillResult[PaymentRow](
        skill="erp_payment_history",
        title="Payments",
        as_of=today,
        rows=rows,
        total_rows=count,
        facts=facts,
        row_type=PaymentRow,
    )


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


def _on_order(session: Session, product_ids: list[int]) -> dict[tuple[int, str], int]:
    rows = session.execute(
        select(
            m.PurchaseOrderLine.product_id,
            m.PurchaseOrder.warehouse,
            func.sum(m.PurchaseOrderLine.quantity - m.PurchaseOrderLine.quantity_received),
        )
        .join(m.PurchaseOrder, m.PurchaseOrderLine.purchase_order_id == m.PurchaseOrder.id)
        .where(m.PurchaseOrder.status == "ordered", m.PurchaseOrderLine.product_id.in_(product_ids))
        .group_by(m.PurchaseOrderLine.product_id, m.PurchaseOrder.warehouse)
    )
    return {(pid, code): int(quantity or 0) for pid, code, quantity in rows}


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
        )
        for level, product in pairs
    ]
    on_order = _on_order(session, sorted({product.id for _, product in pairs}))
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
    conditions: list[Any] = [m.Product.active.is_(True)]
    conditions.append(
        available <= 0 if args.out_of_stock_only else available <= m.Product.reorder_point
    )
    if args.category:
        conditions.append(m.Product.category == resolve_category(session, args.category))
    if args.warehouse:
        conditions.append(m.StockLevel.warehouse == resolve_warehouse(session, args.warehouse))
    stmt = (
        select(m.StockLevel, m.Product, m.Supplier.name)
        .join(m.Product, m.StockLevel.product_id == m.Product.id)
        .outerjoin(m.Supplier, m.Product.supplier_id == m.Supplier.id)
        .where(*conditions)
        .order_by(available - m.Product.reorder_point, m.Product.sku, m.StockLevel.warehouse)
    )
    found = list(session.execute(stmt))
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
        title="Out of stock" if args.out_of_stock_only else "Reorder candidates",
        as_of=business_date(session),
        rows=rows,
        total_rows=len(found),
        facts=[Fact(key="count", label="Items", value=len(found), kind="int")],
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
    lines = session.execute(
        select(m.SalesOrderLine, m.Product.sku, m.Product.name)
        .join(m.Product, m.SalesOrderLine.product_id == m.Product.id)
        .where(m.SalesOrderLine.order_id == order.id)
        .order_by(m.SalesOrderLine.line_no)
    ).all()
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
    limit: Limit = 20


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


def customer_orders(session: Session, args: CustomerOrdersArgs) -> SkillResult[OrderRow]:
    """List sales orders by customer, period, status or product, newest first, with their value."""
    conditions: list[Any] = _period_filter(m.SalesOrder.order_date, args.date_from, args.date_to)
    if args.customer:
        conditions.append(m.SalesOrder.customer_id == resolve_customer(session, args.customer).id)
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
        for order, number, name, lines in session.execute(
            base.order_by(m.SalesOrder.order_date.desc(), m.SalesOrder.id.desc()).limit(args.limit)
        )
    ]
    return SkillResult[OrderRow](
        skill="erp_customer_orders",
        title="Sales orders",
        as_of=business_date(session),
        rows=rows,
        total_rows=count,
        facts=[
            Fact(key="count", label="Orders", value=count, kind="int"),
            Fact(key="total", label="Order value", value=money(total), kind="money"),
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
            share_pct=percent(cents, total_revenue),
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
        ],
        row_type=SalesRow,
    )


class TopCustomersArgs(_Period):
    """Arguments of ``erp_top_customers`` (no dates: the last 12 months)."""

    limit: int = Field(default=10, ge=1, le=100, description="How many customers")


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


# --- purchasing -------------------------------------------------------------------------


class SupplierLeadTimesArgs(SkillArgs):
    """Arguments of ``erp_supplier_lead_times``."""

    supplier: Name | None = Field(default=None, description=SUPPLIER_HELP + "; omit for all")
    category: Name | None = Field(
        default=None, description="Only suppliers of this category, e.g. Filters"
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
    suppliers = list(
        session.scalars(select(m.Supplier).where(*conditions).order_by(m.Supplier.number))
    )
    received = session.execute(
        select(
            m.PurchaseOrder.supplier_id,
            m.PurchaseOrder.order_date,
            m.PurchaseOrder.expected_date,
            m.PurchaseOrder.received_date,
        ).where(
            m.PurchaseOrder.status == "received",
            m.PurchaseOrder.supplier_id.in_([s.id for s in suppliers]),
        )
    ).all()
    stats: dict[int, list[tuple[int, bool]]] = defaultdict(list)
    for supplier_id, ordered, expected, arrived in received:
        if arrived is not None:  # received POs always have a date; the column allows none
            stats[supplier_id].append(((arrived - ordered).days, arrived > expected))
    rows = []
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
            )
        )
    rows.sort(key=lambda row: (row.avg_actual_days is None, row.avg_actual_days or 0, row.id))
    return SkillResult[LeadTimeRow](
        skill="erp_supplier_lead_times",
        focus="record" if args.supplier else "list",
        title="Supplier lead times",
        as_of=business_date(session),
        rows=rows[: args.limit],
        total_rows=len(rows),
        facts=[Fact(key="count", label="Suppliers", value=len(rows), kind="int")],
        row_type=LeadTimeRow,
    )


PoStatus = Literal["open", "received", "overdue", "cancelled", "any"]


class PurchaseOrdersArgs(_Period):
    """Arguments of ``erp_purchase_orders`` (dates filter the order date)."""

    po_number: PoNumber | None = Field(default=None, description="e.g. PO-2025-0193")
    supplier: Name | None = Field(default=None, description=SUPPLIER_HELP)
    status: PoStatus = Field(
        default="any", description="open (not yet received), received, overdue, cancelled or any"
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
    if args.status == "open":
        conditions.append(m.PurchaseOrder.status == "ordered")
    elif args.status == "overdue":
        conditions += [m.PurchaseOrder.status == "ordered", m.PurchaseOrder.expected_date < today]
    elif args.status != "any":
        conditions.append(m.PurchaseOrder.status == args.status)
    if args.product:
        product = resolve_product(session, args.product)
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
    rows = []
    for po, supplier, n_lines in session.execute(
        base.order_by(m.PurchaseOrder.order_date.desc(), m.PurchaseOrder.number.desc()).limit(
            args.limit
        )
    ):
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
    limit: Limit = 25


class PriceRow(Row):
    """A product's prices."""

    id: str = column("SKU")
    name: str = column("Product")
    category: str = column("Category")
    list_price: Decimal = column("List price", "money")
    cost: Decimal = column("Cost", "money")
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
    for product in products:
        margin = percent(product.unit_price_cents - product.cost_cents, product.unit_price_cents)
        if args.max_margin_pct is not None and margin >= args.max_margin_pct:
            continue
        rows.append(
            PriceRow(
                id=product.sku,
                name=product.name,
                category=product.category,
                list_price=money(product.unit_price_cents),
                cost=money(product.cost_cents),
                margin_pct=margin,
                customer_price=(
                    money(round(product.unit_price_cents * (100 - discount) / 100))
                    if discount is not None
                    else None
                ),
            )
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


# --- shipping and returns ---------------------------------------------------------------

ShipmentState = Literal["in_transit", "delivered", "late", "any"]


class ShipmentStatusArgs(_Period):
    """Arguments of ``erp_shipment_status`` (dates filter the shipping date)."""

    order_number: OrderNumber | None = Field(default=None, description="e.g. SO-4410")
    tracking_number: Annotated[str, Field(min_length=6, max_length=40)] | None = Field(
        default=None, description="Carrier tracking number"
    )
    shipment_number: ShipmentNumber | None = Field(default=None, description="e.g. SH-100123")
    customer: Name | None = Field(default=None, description=CUSTOMER_HELP)
    carrier: Name | None = Field(default=None, description="DHL, DPD, UPS, GLS or DB Schenker")
    status: ShipmentState = Field(default="any", description="in_transit, delivered, late or any")
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
    conditions: list[Any] = _period_filter(m.Shipment.shipped_on, args.date_from, args.date_to)
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
        ],
        row_type=ShipmentRow,
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


def _skill(name: str, args: type[ArgsT], run: Callable[[Session, ArgsT], Any]) -> Skill[ArgsT, Any]:
    return Skill(name=name, args=args, run=run, description=(run.__doc__ or "").strip())


READ_SKILLS: dict[str, Skill[Any, SkillResult[Any]]] = {
    skill.name: skill
    for skill in (
        _skill("erp_find_customer", FindCustomerArgs, find_customer),
        _skill("erp_find_product", FindProductArgs, find_product),
        _skill("erp_invoice_lookup", InvoiceLookupArgs, invoice_lookup),
        _skill("erp_overdue_invoices", OverdueInvoicesArgs, overdue_invoices),
        _skill("erp_customer_balance", CustomerBalanceArgs, customer_balance),
        _skill("erp_payment_history", PaymentHistoryArgs, payment_history),
        _skill("erp_stock_level", StockLevelArgs, stock_level),
        _skill("erp_reorder_candidates", ReorderCandidatesArgs, reorder_candidates),
        _skill("erp_stock_movements", StockMovementsArgs, stock_movements),
        _skill("erp_order_status", OrderStatusArgs, order_status),
        _skill("erp_customer_orders", CustomerOrdersArgs, customer_orders),
        _skill("erp_sales_summary", SalesSummaryArgs, sales_summary),
        _skill("erp_top_customers", TopCustomersArgs, top_customers),
        _skill("erp_top_products", TopProductsArgs, top_products),
        _skill("erp_supplier_lead_times", SupplierLeadTimesArgs, supplier_lead_times),
        _skill("erp_purchase_orders", PurchaseOrdersArgs, purchase_orders),
        _skill("erp_price_list", PriceListArgs, price_list),
        _skill("erp_shipment_status", ShipmentStatusArgs, shipment_status),
        _skill("erp_returns", ReturnsArgs, returns),
    )
}
"""Read skills by tool name."""
