"""Customer read skills: find a customer, an account balance."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import Field, model_validator
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
    Country,
    Limit,
    Name,
    NotFound,
    SkillArgs,
    _count,
    _empty_hint,
    name_index,
    resolve_customer,
)
from nova.erp.skills.credits import Credit, credits_on_account, match_credits

# --- customers --------------------------------------------------------------------------


class FindCustomerArgs(SkillArgs):
    """Arguments of ``erp_find_customer``."""

    query: Name | None = Field(default=None, description=CUSTOMER_HELP)
    region: Name | None = Field(default=None, description="State/region, e.g. Bayern or Tirol")
    country: Country | None = Field(default=None, description="ISO country code, e.g. AT")
    blocked_only: bool = Field(default=False, description="Only accounts that are blocked")
    limit: Limit = 5

    @model_validator(mode="after")
    def _something(self) -> FindCustomerArgs:
        if not (self.query or self.region or self.country or self.blocked_only):
            raise ValueError(
                "give a name or number (query), a region, a country, or blocked_only=true"
            )
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
    if args.country:
        conditions.append(m.Customer.country == args.country)
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

    customer: Name | None = Field(
        default=None,
        description=CUSTOMER_HELP + "; omit to rank every customer by what they owe (net)",
    )
    overdue_only: bool = Field(
        default=False, description="Ranking only: rank by the overdue amount instead"
    )
    limit: Limit = 10


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
    unapplied_payments: Decimal = column("Unapplied payments", "money")
    open_credits: Decimal = column("Credit notes", "money")
    net_balance: Decimal = column("Net balance", "money")


def _balance(
    session: Session, customer: m.Customer, today: date
) -> tuple[BalanceRow, list[Credit], list[tuple[str, int]]]:
    outstanding = m.Invoice.total_cents - m.Invoice.paid_cents
    items = session.execute(
        select(m.Invoice.number, outstanding, m.Invoice.due_date)
        .where(
            m.Invoice.customer_id == customer.id,
            m.Invoice.status == "open",
            outstanding > 0,
        )
        .order_by(m.Invoice.due_date, m.Invoice.number)
    ).all()
    owed = sum(int(cents) for _n, cents, _d in items)
    late = [int(cents) for _n, cents, due in items if due < today]
    credits = credits_on_account(session, customer.id)
    unapplied = sum(c.cents for c in credits if c.number.startswith("PAY"))
    noted = sum(c.cents for c in credits) - unapplied
    row = BalanceRow(
        id=customer.number,
        name=customer.name,
        open_invoices=len(items),
        outstanding=money(owed),
        overdue_invoices=len(late),
        overdue_amount=money(sum(late)),
        credit_limit=money(customer.credit_limit_cents),
        credit_available=money(customer.credit_limit_cents - owed),
        payment_terms_days=customer.payment_terms_days,
        oldest_due_date=items[0][2] if items else None,
        unapplied_payments=money(unapplied),
        open_credits=money(noted),
        net_balance=money(owed - unapplied - noted),
    )
    return row, credits, [(str(n), int(cents)) for n, cents, _d in items]


def customer_balance(session: Session, args: CustomerBalanceArgs) -> SkillResult[BalanceRow]:
    """Show what one customer owes: open and overdue invoices, credit limit and credit left.

    Unapplied payments and credit notes still standing on the account are shown too, with
    the net balance and which open invoice each could settle, so an invoice already paid
    by an unmatched payment is not reported as simply owed. Without a customer, rank the
    customers by net balance (or by overdue amount) instead: who owes the most.
    """
    today = business_date(session)
    if args.customer is None:
        return _ranked_balances(session, args, today)
    customer = resolve_customer(session, args.customer)
    row, credits, open_items = _balance(session, customer, today)
    over = row.outstanding * 100 > customer.credit_limit_cents
    return SkillResult[BalanceRow](
        skill="erp_customer_balance",
        focus="record",
        title=f"Balance of {customer.name}",
        as_of=today,
        rows=[row],
        total_rows=1,
        facts=[
            Fact(key="over_limit", label="Over credit limit", value=over, kind="bool"),
            *(
                [Fact(key="settles", label="Could settle", value="; ".join(settles))]
                if (settles := [match.describe() for match in match_credits(credits, open_items)])
                else []
            ),
        ],
        row_type=BalanceRow,
    )


def _ranked_balances(
    session: Session, args: CustomerBalanceArgs, today: date
) -> SkillResult[BalanceRow]:
    owing = select(m.Invoice.customer_id).where(
        m.Invoice.status == "open", m.Invoice.total_cents > m.Invoice.paid_cents
    )
    customers = session.scalars(
        select(m.Customer).where(m.Customer.id.in_(owing)).order_by(m.Customer.number)
    ).all()
    rows = [_balance(session, customer, today)[0] for customer in customers]
    key = "overdue_amount" if args.overdue_only else "net_balance"
    ranked = sorted(
        (row for row in rows if getattr(row, key) > 0), key=lambda row: -getattr(row, key)
    )
    total = sum((getattr(row, key) for row in ranked), Decimal(0))
    label = "overdue amount" if args.overdue_only else "net balance"
    return SkillResult[BalanceRow](
        skill="erp_customer_balance",
        focus="list",
        title=f"Customers by {label}",
        as_of=today,
        rows=ranked[: args.limit],
        total_rows=len(ranked),
        facts=[
            Fact(key="ranked_by", label="Ranked by", value=label),
            Fact(key="customers", label="Customers owing", value=len(ranked), kind="int"),
            Fact(key="total", label=f"Total {label}", value=total, kind="money"),
        ],
        row_type=BalanceRow,
    )
