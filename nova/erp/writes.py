"""ERP write skills: each plans an exact change for a person to approve, then applies it.

A write skill's ``plan(session, args)`` validates the request against the database and
returns a ``WritePlan``: the ``ProposedChange`` shown to the approver (action, target ids,
amounts, before and after) and an ``apply`` function. ``apply`` runs later, inside the
approval transaction (``nova.erp.approval``), and re-checks the "before" values with
compare-and-set updates, so a change approved against stale data is refused rather than
applied on top of someone else's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import CursorResult, func, insert, select, update
from sqlalchemy.orm import Session

from nova.erp import models as m
from nova.erp.db import business_date
from nova.erp.results import Scalar, cents_of, money
from nova.erp.skills import (
    CUSTOMER_HELP,
    PRODUCT_HELP,
    SUPPLIER_HELP,
    InvoiceNumber,
    IsoDate,
    Name,
    NotFound,
    PaymentMethod,
    SkillArgs,
    SkillError,
    resolve_customer,
    resolve_product,
    resolve_supplier,
    resolve_warehouse,
)

MAX_QUANTITY = 100_000
"""Most pieces one purchase-order line or one stock adjustment may move."""
MAX_PAYMENT = Decimal("1000000")
"""Largest single payment accepted (EUR)."""


class StaleChange(SkillError):
    """The data changed between the proposal and the approval; nothing was written."""


Action = Literal["create_purchase_order", "record_payment", "send_invoice_reminder", "adjust_stock"]


class ProposedChange(BaseModel):
    """The exact change a write would make, shown to the approver before anything is written."""

    model_config = ConfigDict(frozen=True)

    action: Action
    tool: str
    summary: str
    """One sentence a person can approve or reject."""
    target_type: str
    target_ids: list[str]
    amounts: dict[str, Decimal] = {}
    before: dict[str, Scalar | list[str]] = {}
    after: dict[str, Scalar | list[str]] = {}

    @property
    def proposal_id(self) -> str:
        """Hash of the change: an approver may echo it to approve exactly this version."""
        body = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class WritePlan:
    """A validated change and how to apply it (``apply(session, approver) -> ids written``)."""

    change: ProposedChange
    apply: Callable[[Session, str], list[str]]


def _quantity(value: int) -> int:
    if value <= 0:
        raise ValueError(f"quantity must be at least 1 piece; got {value}")
    if value > MAX_QUANTITY:
        raise ValueError(
            f"quantity {value:,} is implausible; one line may order at most {MAX_QUANTITY:,} pieces"
        )
    return value


def _next_number(session: Session, column: Any, prefix: str, width: int) -> str:
    highest = session.scalar(select(func.max(column)).where(column.like(f"{prefix}%")))
    sequence = int(highest.rsplit("-", 1)[1]) + 1 if highest else 1
    return f"{prefix}{sequence:0{width}d}"


def _now() -> datetime:
    return datetime.now(UTC)


# --- create a purchase order ------------------------------------------------------------


class PurchaseOrderLineIn(BaseModel):
    """One line of a purchase order to create."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    product: Name = Field(description=PRODUCT_HELP)
    quantity: int = Field(description=f"Pieces to order, 1 to {MAX_QUANTITY:,}")

    @field_validator("quantity")
    @classmethod
    def _check_quantity(cls, value: int) -> int:
        return _quantity(value)


class CreatePurchaseOrderArgs(SkillArgs):
    """Arguments of ``erp_create_purchase_order``."""

    supplier: Name = Field(description=SUPPLIER_HELP)
    lines: list[PurchaseOrderLineIn] = Field(min_length=1, max_length=50)
    warehouse: Name = Field(default="MAIN", description="Deliver to MAIN (default) or ULM")
    expected_date: IsoDate | None = Field(
        default=None, description="Expected delivery; default: today + the supplier's lead time"
    )


def plan_create_purchase_order(session: Session, args: CreatePurchaseOrderArgs) -> WritePlan:
    """Propose a purchase order to a supplier for products and quantities, at current cost."""
    supplier = resolve_supplier(session, args.supplier)
    warehouse = resolve_warehouse(session, args.warehouse)
    today = business_date(session)
    expected = args.expected_date or today + timedelta(days=supplier.lead_time_days)
    if expected < today:
        raise SkillError(f"expected_date {expected} is in the past (today is {today})")
    products: list[tuple[m.Product, int]] = []
    for line in args.lines:
        product = resolve_product(session, line.product)
        if any(p.id == product.id for p, _ in products):
            raise SkillError(f"{product.sku} appears twice; put its whole quantity on one line")
        if not product.active:
            raise SkillError(f"{product.sku} is discontinued and cannot be ordered")
        products.append((product, line.quantity))
    total = sum(product.cost_cents * quantity for product, quantity in products)
    skus = [product.sku for product, _ in products]
    lines_text = [f"{q} x {p.sku} at {money(p.cost_cents)}" for p, q in products]
    change = ProposedChange(
        action="create_purchase_order",
        tool="erp_create_purchase_order",
        summary=(
            f"Create a purchase order to {supplier.name} ({supplier.number}) for "
            f"{'; '.join(lines_text)}, delivered to {warehouse} by {expected}, "
            f"total {money(total)} EUR"
        ),
        target_type="purchase_order",
        target_ids=[supplier.number, *skus],
        amounts={"total": money(total)},
        before={"purchase_order": None},
        after={
            "supplier": supplier.name,
            "warehouse": warehouse,
            "expected_date": expected,
            "lines": lines_text,
            "status": "ordered",
        },
    )

    def apply(write: Session, approver: str) -> list[str]:
        prefix = f"PO-{today.year}-"
        number = _next_number(write, m.PurchaseOrder.number, prefix, 4)
        po_id = write.execute(
            insert(m.PurchaseOrder)
            .values(
                number=number,
                supplier_id=supplier.id,
                warehouse=warehouse,
                order_date=today,
                expected_date=expected,
                received_date=None,
                status="ordered",
                total_cents=total,
                created_by=approver,
            )
            .returning(m.PurchaseOrder.id)
        ).scalar_one()
        write.execute(
            insert(m.PurchaseOrderLine),
            [
                {
                    "purchase_order_id": po_id,
                    "line_no": index,
                    "product_id": product.id,
                    "quantity": quantity,
                    "quantity_received": 0,
                    "unit_cost_cents": product.cost_cents,
                }
                for index, (product, quantity) in enumerate(products, start=1)
            ],
        )
        return [number]

    return WritePlan(change, apply)


# --- record a payment -------------------------------------------------------------------


class RecordPaymentArgs(SkillArgs):
    """Arguments of ``erp_record_payment``."""

    invoice_number: InvoiceNumber = Field(description="Invoice paid, e.g. INV-2025-00412")
    amount: Decimal = Field(description="Amount received in EUR, e.g. 1250.00")
    paid_on: IsoDate | None = Field(default=None, description="Day received; default today")
    method: PaymentMethod | None = Field(default=None, description="How it was paid, if known")
    reference: Annotated[str, Field(max_length=80)] | None = Field(
        default=None, description="Bank reference text"
    )
    customer: Name | None = Field(
        default=None, description=CUSTOMER_HELP + "; if given, must be the invoice's customer"
    )

    @field_validator("amount")
    @classmethod
    def _amount(cls, value: Decimal) -> Decimal:
        if value <= 0:
            raise ValueError(f"amount must be more than 0 EUR; got {value}")
        if value > MAX_PAYMENT:
            raise ValueError(f"amount {value} EUR is implausible (the limit is {MAX_PAYMENT} EUR)")
        try:
            cents_of(value)
        except ValueError:
            raise ValueError(f"amount {value} has fractions of a cent; use two decimals") from None
        return value


def plan_record_payment(session: Session, args: RecordPaymentArgs) -> WritePlan:
    """Propose booking a payment received against an open invoice (never more than is owed)."""
    today = business_date(session)
    found = session.execute(
        select(m.Invoice, m.Customer)
        .join(m.Customer, m.Invoice.customer_id == m.Customer.id)
        .where(m.Invoice.number == args.invoice_number)
    ).first()
    if found is None:
        raise NotFound(f"No invoice {args.invoice_number}; check the number")
    invoice, customer = found
    if args.customer and resolve_customer(session, args.customer).id != customer.id:
        raise SkillError(
            f"{args.invoice_number} belongs to {customer.name} ({customer.number}), "
            f"not to {args.customer!r}; check the invoice number"
        )
    outstanding = invoice.total_cents - invoice.paid_cents
    amount = cents_of(args.amount)
    if invoice.status != "open" or outstanding <= 0:
        raise SkillError(f"{invoice.number} is already paid in full; nothing is outstanding")
    if amount > outstanding:
        raise SkillError(
            f"{money(amount)} EUR is more than the {money(outstanding)} EUR outstanding on "
            f"{invoice.number}; record the invoice amount, and the rest as a separate payment"
        )
    paid_on = args.paid_on or today
    if paid_on > today:
        raise SkillError(f"paid_on {paid_on} is in the future (today is {today})")
    if paid_on < invoice.issue_date:
        raise SkillError(
            f"paid_on {paid_on} is before {invoice.number} was issued ({invoice.issue_date})"
        )
    paid_after = invoice.paid_cents + amount
    status_after = "paid" if paid_after >= invoice.total_cents else "open"
    change = ProposedChange(
        action="record_payment",
        tool="erp_record_payment",
        summary=(
            f"Record a payment of {money(amount)} EUR from {customer.name} ({customer.number}) "
            f"against {invoice.number}, received {paid_on}"
            + (f" by {args.method.replace('_', ' ')}" if args.method else "")
        ),
        target_type="invoice",
        target_ids=[invoice.number],
        amounts={"amount": money(amount)},
        before={
            "paid": money(invoice.paid_cents),
            "outstanding": money(outstanding),
            "status": invoice.status,
        },
        after={
            "paid": money(paid_after),
            "outstanding": money(invoice.total_cents - paid_after),
            "status": status_after,
        },
    )

    def apply(write: Session, approver: str) -> list[str]:
        updated: CursorResult[Any] = write.execute(  # type: ignore[assignment]
            update(m.Invoice)
            .where(m.Invoice.id == invoice.id, m.Invoice.paid_cents == invoice.paid_cents)
            .values(paid_cents=paid_after, status=status_after)
        )
        if updated.rowcount != 1:
            raise StaleChange(
                f"{invoice.number} changed after this payment was proposed; nothing was "
                "written. Ask again to see the current amounts."
            )
        number = _next_number(write, m.Payment.number, f"PAY-{paid_on.year}-", 5)
        write.execute(
            insert(m.Payment).values(
                number=number,
                customer_id=customer.id,
                invoice_id=invoice.id,
                paid_on=paid_on,
                amount_cents=amount,
                method=args.method,
                reference=args.reference or f"{invoice.number} (recorded by {approver})",
            )
        )
        return [number, invoice.number]

    return WritePlan(change, apply)


# --- send an invoice reminder -----------------------------------------------------------


class SendInvoiceReminderArgs(SkillArgs):
    """Arguments of ``erp_send_invoice_reminder``."""

    invoice_number: InvoiceNumber = Field(description="Overdue invoice, e.g. INV-2025-00412")
    channel: Literal["email", "letter"] = Field(default="email", description="email or letter")


def plan_send_invoice_reminder(session: Session, args: SendInvoiceReminderArgs) -> WritePlan:
    """Propose sending a payment reminder for an overdue invoice (queued and recorded as sent)."""
    today = business_date(session)
    found = session.execute(
        select(m.Invoice, m.Customer)
        .join(m.Customer, m.Invoice.customer_id == m.Customer.id)
        .where(m.Invoice.number == args.invoice_number)
    ).first()
    if found is None:
        raise NotFound(f"No invoice {args.invoice_number}; check the number")
    invoice, customer = found
    outstanding = invoice.total_cents - invoice.paid_cents
    if invoice.status != "open" or outstanding <= 0:
        raise SkillError(f"{invoice.number} is paid; there is nothing to remind about")
    if invoice.due_date >= today:
        raise SkillError(
            f"{invoice.number} is not overdue: it is due on {invoice.due_date}. "
            "Reminders go out once an invoice is past due."
        )
    sent = int(
        session.scalar(select(func.count()).where(m.InvoiceReminder.invoice_id == invoice.id)) or 0
    )
    if args.channel == "email":
        if not customer.email:
            raise SkillError(f"{customer.name} has no email address on file; send a letter")
        recipient = customer.email
    else:
        recipient = f"{customer.name}, {customer.street}, {customer.postcode} {customer.city}"
    level = sent + 1
    change = ProposedChange(
        action="send_invoice_reminder",
        tool="erp_send_invoice_reminder",
        summary=(
            f"Send reminder no. {level} for {invoice.number} ({money(outstanding)} EUR overdue "
            f"since {invoice.due_date}) to {customer.name} by {args.channel} ({recipient})"
        ),
        target_type="invoice",
        target_ids=[invoice.number],
        amounts={"amount_due": money(outstanding)},
        before={"reminders_sent": sent},
        after={"reminders_sent": level, "recipient": recipient, "channel": args.channel},
    )

    def apply(write: Session, approver: str) -> list[str]:
        now = _now()
        current = write.scalar(
            select(func.count()).where(m.InvoiceReminder.invoice_id == invoice.id)
        )
        if current != sent:
            raise StaleChange(
                f"Another reminder for {invoice.number} was recorded meanwhile; nothing was written"
            )
        reminder_id = write.execute(
            insert(m.InvoiceReminder)
            .values(
                invoice_id=invoice.id,
                level=level,
                channel=args.channel,
                recipient=recipient,
                amount_due_cents=outstanding,
                status="sent",
                created_at=now,
                sent_at=now,
            )
            .returning(m.InvoiceReminder.id)
        ).scalar_one()
        return [f"REM-{reminder_id}", invoice.number]

    return WritePlan(change, apply)


# --- adjust stock -----------------------------------------------------------------------


class AdjustStockArgs(SkillArgs):
    """Arguments of ``erp_adjust_stock``: give either ``change`` or ``new_quantity``."""

    product: Name = Field(description=PRODUCT_HELP)
    warehouse: Name = Field(description="MAIN or ULM")
    change: int | None = Field(default=None, description="Pieces to add (+) or remove (-)")
    new_quantity: int | None = Field(default=None, description="Counted quantity to set")
    reason: Annotated[str, Field(min_length=3, max_length=200)] = Field(
        description="Why, e.g. 'cycle count' or '3 damaged in storage'"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> AdjustStockArgs:
        if (self.change is None) == (self.new_quantity is None):
            raise ValueError("give either change (e.g. -3) or new_quantity (e.g. 42), not both")
        if self.change is not None:
            if self.change == 0:
                raise ValueError("change must not be 0; there is nothing to adjust")
            if abs(self.change) > MAX_QUANTITY:
                raise ValueError(
                    f"change {self.change:,} is implausible; at most {MAX_QUANTITY:,} pieces"
                )
        if self.new_quantity is not None and not 0 <= self.new_quantity <= 10 * MAX_QUANTITY:
            raise ValueError(
                f"new_quantity must be between 0 and {10 * MAX_QUANTITY:,}; got {self.new_quantity}"
            )
        return self


def plan_adjust_stock(session: Session, args: AdjustStockArgs) -> WritePlan:
    """Propose a stock correction for one product in one warehouse, booked as a movement."""
    product = resolve_product(session, args.product)
    warehouse = resolve_warehouse(session, args.warehouse)
    level = session.get(m.StockLevel, (product.id, warehouse))
    before = level.on_hand if level else 0
    after = before + args.change if args.change is not None else int(args.new_quantity or 0)
    delta = after - before
    if delta == 0:
        raise SkillError(f"{product.sku} in {warehouse} is already {before}; nothing to adjust")
    if after < 0:
        raise SkillError(
            f"{product.sku} in {warehouse} has {before} on hand; removing {-delta} would leave "
            f"{after}. Check the count."
        )
    today = business_date(session)
    change = ProposedChange(
        action="adjust_stock",
        tool="erp_adjust_stock",
        summary=(
            f"Adjust stock of {product.sku} ({product.name}) in {warehouse} from {before} to "
            f"{after} ({delta:+d}): {args.reason}"
        ),
        target_type="stock_level",
        target_ids=[f"{product.sku}@{warehouse}"],
        amounts={"quantity_change": Decimal(delta)},
        before={"on_hand": before},
        after={"on_hand": after, "reason": args.reason},
    )

    def apply(write: Session, approver: str) -> list[str]:
        if level is None:
            write.execute(
                insert(m.StockLevel).values(
                    product_id=product.id,
                    warehouse=warehouse,
                    on_hand=after,
                    reserved=0,
                    updated_at=_now(),
                )
            )
        else:
            updated: CursorResult[Any] = write.execute(  # type: ignore[assignment]
                update(m.StockLevel)
                .where(
                    m.StockLevel.product_id == product.id,
                    m.StockLevel.warehouse == warehouse,
                    m.StockLevel.on_hand == before,
                )
                .values(on_hand=after, updated_at=_now())
            )
            if updated.rowcount != 1:
                raise StaleChange(
                    f"The stock of {product.sku} in {warehouse} changed after this adjustment "
                    "was proposed; nothing was written. Ask again to see the current quantity."
                )
        movement_id = write.execute(
            insert(m.StockMovement)
            .values(
                product_id=product.id,
                warehouse=warehouse,
                moved_on=today,
                quantity=delta,
                kind="adjustment",
                reference=f"ADJ-{today:%Y%m%d}",
                note=args.reason,
                created_by=approver,
            )
            .returning(m.StockMovement.id)
        ).scalar_one()
        return [f"MOV-{movement_id}", f"{product.sku}@{warehouse}"]

    return WritePlan(change, apply)


@dataclass(frozen=True, slots=True)
class WriteSkill:
    """A write skill as the tool registry and the fast path see it."""

    name: str
    args: type[SkillArgs]
    plan: Callable[[Session, Any], WritePlan]
    description: str
    writes: bool = True


def _write(
    name: str, args: type[SkillArgs], plan: Callable[[Session, Any], WritePlan]
) -> WriteSkill:
    doc = (plan.__doc__ or "").strip().replace("Propose ", "", 1)
    description = (
        f"{doc[0].upper()}{doc[1:]} A person approves the exact change before it is written."
    )
    return WriteSkill(name=name, args=args, plan=plan, description=description)


WRITE_SKILLS: dict[str, WriteSkill] = {
    skill.name: skill
    for skill in (
        _write("erp_create_purchase_order", CreatePurchaseOrderArgs, plan_create_purchase_order),
        _write("erp_record_payment", RecordPaymentArgs, plan_record_payment),
        _write("erp_send_invoice_reminder", SendInvoiceReminderArgs, plan_send_invoice_reminder),
        _write("erp_adjust_stock", AdjustStockArgs, plan_adjust_stock),
    )
}
"""Write skills by tool name."""
