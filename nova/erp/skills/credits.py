"""Money on a customer's account not yet set against an invoice, and what it could settle.

An unapplied payment or a standing credit note means an open invoice may not really be
owed: the balance nets them, and invoice answers name them, so Nova never reports as
simply owed (or chases) an invoice the customer has in fact paid.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from nova.erp import models as m
from nova.erp.results import money


@dataclass(frozen=True, slots=True)
class Credit:
    """Money on the account not yet set against what it pays for."""

    number: str
    cents: int
    invoice: str | None
    """The open invoice it is against (a credit note's), or ``None`` (on account)."""

    @property
    def kind(self) -> str:
        """``unapplied payment`` or ``credit note``, for answers."""
        return "unapplied payment" if self.number.startswith("PAY") else "credit note"


Outcome = Literal["settles", "reduces", "left_over", "unmatched"]


@dataclass(frozen=True, slots=True)
class CreditMatch:
    """What one credit could do to the open invoices: settle or reduce one, or nothing."""

    credit: Credit
    invoice: str | None
    outcome: Outcome

    def describe(self) -> str:
        """Say the match: ``PAY-2024-00289 (€747.94) settles INV-2024-00165``."""
        amount = f"{self.credit.number} (€{money(self.credit.cents):,.2f})"
        if self.outcome == "unmatched":
            return f"{amount} matches no open invoice"
        if self.outcome == "left_over":
            return f"{amount} is left over ({self.invoice} is covered)"
        return f"{amount} {self.outcome} {self.invoice}"


def credits_on_account(session: Session, customer_id: int) -> list[Credit]:
    """Return the customer's unapplied payments, then credit notes still standing, oldest first."""
    payments = session.execute(
        select(m.Payment.number, m.Payment.amount_cents)
        .where(m.Payment.customer_id == customer_id, m.Payment.invoice_id.is_(None))
        .order_by(m.Payment.paid_on, m.Payment.number)
    ).all()
    notes = session.execute(
        select(m.CreditNote.number, m.CreditNote.amount_cents, m.Invoice.number)
        .outerjoin(m.Invoice, m.Invoice.id == m.CreditNote.invoice_id)
        .where(
            m.CreditNote.customer_id == customer_id,
            # A note against a settled invoice has been refunded; one against an open
            # invoice (or none) still stands against what the customer owes.
            or_(
                m.CreditNote.invoice_id.is_(None),
                and_(m.Invoice.status == "open", m.Invoice.total_cents > m.Invoice.paid_cents),
            ),
        )
        .order_by(m.CreditNote.issue_date, m.CreditNote.number)
    ).all()
    return [Credit(n, c, None) for n, c in payments] + [Credit(n, c, i) for n, c, i in notes]


def open_items(session: Session, customer_id: int) -> list[tuple[str, int]]:
    """Return the customer's open invoices as ``(number, outstanding cents)``, oldest due first."""
    outstanding = m.Invoice.total_cents - m.Invoice.paid_cents
    rows = session.execute(
        select(m.Invoice.number, outstanding)
        .where(m.Invoice.customer_id == customer_id, m.Invoice.status == "open", outstanding > 0)
        .order_by(m.Invoice.due_date, m.Invoice.number)
    ).all()
    return [(str(number), int(cents)) for number, cents in rows]


def match_credits(credits: Iterable[Credit], items: list[tuple[str, int]]) -> list[CreditMatch]:
    """Say which open invoice each credit could settle: its own, or one of exactly its amount."""
    left = dict(items)
    matches = []
    for credit in credits:
        target = credit.invoice
        if target is None:
            target = next((n for n, _owed in items if left.get(n) == credit.cents), None)
        if target is None or target not in left:
            matches.append(CreditMatch(credit, None, "unmatched"))
            continue
        if left[target] == 0:
            matches.append(CreditMatch(credit, target, "left_over"))
            continue
        outcome: Outcome = "settles" if credit.cents >= left[target] else "reduces"
        left[target] = max(left[target] - credit.cents, 0)
        matches.append(CreditMatch(credit, target, outcome))
    return matches


def credits_against(session: Session, invoices: Iterable[tuple[str, str]]) -> list[CreditMatch]:
    """Return the credits that could settle or reduce any of ``invoices`` (number, customer no.).

    Only the named invoices' customers are looked at, and only matches to those invoices
    are kept: what an invoice answer must say before the invoice is called owed.
    """
    wanted = dict(invoices)
    found: list[CreditMatch] = []
    for customer_number in dict.fromkeys(wanted.values()):
        customer_id = session.scalar(
            select(m.Customer.id).where(m.Customer.number == customer_number)
        )
        if customer_id is None:
            continue
        credits = credits_on_account(session, customer_id)
        if not credits:
            continue
        found += [
            match
            for match in match_credits(credits, open_items(session, customer_id))
            if match.invoice in wanted and match.outcome in ("settles", "reduces")
        ]
    return found
