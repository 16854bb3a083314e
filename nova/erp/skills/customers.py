"""Customer read skills: find a customer, an account balance."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import Field, model_validator
from sqlalchemy import case, func, select
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
    SkillArgs,
    _count,
    _empty_hint,
    name_index,
    resolve_customer,
)

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
