"""Invoice and payment read skills: look-up, overdue, payment history."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, model_validator
from sqlalchemy import Select, case, func, select
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
)
from nova.erp.skills.common import (
    CUSTOMER_HELP,
    InvoiceNumber,
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
    resolve_customer,
)
from nova.erp.skills.credits import credits_against

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
    # An open invoice an unapplied payment or credit note could settle may not be owed at
    # all: say so wherever the invoice is shown, before anyone chases the customer for it.
    matches = credits_against(
        session, [(row.id, row.customer_number) for row in rows if row.outstanding > 0]
    )
    if matches:
        facts.append(
            Fact(
                key="settled_by",
                label="On account, not yet matched",
                value="; ".join(f"{match.credit.kind} {match.describe()}" for match in matches),
            )
        )
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
    oldest_first: bool = Field(
        default=False, description="List the oldest invoice first (default: newest first)"
    )

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
    if args.status != "any":
        note_filter(session, "status", args.status)
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
        [m.Invoice.issue_date, m.Invoice.number]
        if args.oldest_first
        else [m.Invoice.issue_date.desc(), m.Invoice.number.desc()],
        args.limit,
        today,
        _period_facts(args.issued_from, args.issued_to),
        "record" if args.invoice_number or (args.order_number and not args.customer) else "list",
    )
    if args.invoice_number and not result.rows:
        raise NotFound(
            f"No invoice {args.invoice_number}; check the number (they look like INV-2025-00412)"
        )
    if args.invoice_number:
        # "when was INV-… paid": the payments booked against it, each with its date.
        payments = session.execute(
            select(m.Payment.number, m.Payment.paid_on, m.Payment.amount_cents)
            .join(m.Invoice, m.Payment.invoice_id == m.Invoice.id)
            .where(m.Invoice.number == args.invoice_number)
            .order_by(m.Payment.paid_on, m.Payment.number)
        ).all()
        if payments:
            shown = "; ".join(
                f"{number} on {paid_on.isoformat()}, €{money(cents):,.2f}"
                for number, paid_on, cents in payments
            )
            result.facts.append(Fact(key="payments", label="Payments", value=shown, kind="text"))
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
    largest_first: bool = Field(
        default=False, description="List the largest payments first (default: newest first)"
    )
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
        base.order_by(
            *([m.Payment.amount_cents.desc()] if args.largest_first else []),
            m.Payment.paid_on.desc(),
            m.Payment.number.desc(),
        ).limit(args.limit)
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
    # Payment behaviour over all matching payments, not only the rows shown.
    for paid_on, issued, due in session.execute(
        base.with_only_columns(m.Payment.paid_on, m.Invoice.issue_date, m.Invoice.due_date).where(
            m.Payment.invoice_id.is_not(None)
        )
    ):
        delays.append((paid_on - issued).days)
        late.append((paid_on - due).days)
    facts = [
        Fact(key="count", label="Payments", value=count, kind="int"),
        Fact(key="total", label="Received", value=money(total), kind="money"),
        *_period_facts(args.date_from, args.date_to),
    ]
    if args.limit == 1 and rows and count > 1 and not args.largest_first:
        # "When did dobes last pay": the one shown is the latest, which the headline says.
        latest = rows[0]
        facts.append(
            Fact(
                key="latest",
                label="Latest payment",
                value=f"{latest.id} on {latest.paid_on}, €{latest.amount:,.2f}",
            )
        )
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
