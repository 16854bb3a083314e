"""What a request contains, as ``parse_request`` finds it, and the errors of reading one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from nova.erp import resolve as r

# --- what a request contains ------------------------------------------------------------


@dataclass(slots=True)
class Request:
    """Everything ``parse_request`` found in a request."""

    text: str
    today: date
    norm: str = ""
    period: r.Period | None = None
    due_period: r.Period | None = None
    """The period unclipped, for due dates (set when the request says "due")."""
    invoices: list[str] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)
    pos: list[str] = field(default_factory=list)
    rmas: list[str] = field(default_factory=list)
    shipments: list[str] = field(default_factory=list)
    trackings: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    """Customers' own order references ("their ref is SE-86082")."""
    payments: list[str] = field(default_factory=list)
    credit_notes: list[str] = field(default_factory=list)
    skus: list[str] = field(default_factory=list)
    customer_numbers: list[str] = field(default_factory=list)
    customers: list[r.Mention] = field(default_factory=list)
    suppliers: list[r.Mention] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    warehouses: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    countries_excluded: list[str] = field(default_factory=list)
    """Countries left out ("outside germany", "non-german customers")."""
    amounts: list[Decimal] = field(default_factory=list)
    min_amount: Decimal | None = None
    days: int | None = None
    limit: int | None = None
    percent: Decimal | None = None
    quantities: list[tuple[int, str]] = field(default_factory=list)
    delta: int | None = None
    method: str | None = None
    reason: str | None = None
    residual: list[str] = field(default_factory=list)
    """Words no entity explains; a rule's vocabulary must cover them."""
    unknown_name: str | None = None
    """A capitalised phrase after for/from/of that names no customer or supplier."""
    product_choices: list[tuple[str, str]] = field(default_factory=list)
    """Products a description fits when it fits several (SKU, name): a question to ask."""
    reading: str | None = None
    """How a request that reads two ways was read ("Ranked by revenue"); shown with the answer."""
    german: str | None = None
    """The request as typed when it was German and ``text`` is its English reading."""
    applied: set[str] = field(default_factory=set)
    """Condition words a filter, a ranking or an entity actually used (see ``CONDITION_WORDS``)."""

    def count(self, kind: str) -> int:
        """How many entities of ``kind`` were found (scalars count once)."""
        if kind == "customer":
            return len(self.customers) + len(self.customer_numbers)
        if kind == "supplier":
            return len(self.suppliers)
        value = getattr(self, kind)
        return len(value) if isinstance(value, list) else int(value is not None)

    def kinds(self) -> set[str]:
        """Kinds of entity present (what a rule must use)."""
        present = {
            name
            for name in (
                "invoices",
                "orders",
                "pos",
                "rmas",
                "shipments",
                "trackings",
                "references",
                "payments",
                "credit_notes",
                "skus",
                "categories",
                "warehouses",
                "countries",
                "countries_excluded",
                "amounts",
                "quantities",
            )
            if getattr(self, name)
        }
        if self.customers or self.customer_numbers:
            present.add("customer")
        if self.suppliers:
            present.add("supplier")
        for name in ("period", "min_amount", "days", "limit", "percent", "delta", "method"):
            if getattr(self, name) is not None:
                present.add(name)
        return present


class NotForFastPath(ValueError):
    """A rule fits the words but the skill would answer a different question; decline."""


class Unclear(ValueError):
    """The request names something that cannot be resolved; the message is the question to ask."""
