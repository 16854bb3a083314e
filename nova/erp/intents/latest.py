"""A record a request points to without its number: the newest one, or one by its reference.

"suter garage's last order"; "senn says their ref is SE-86082, which order is that".

"last order from suter garage, when and how much", "last po to brenner hydraulics", "when did
we last sell CLT-9837", "what did we last pay for FLT-2215": each asks about one record the
owner does not know the number of, the newest of its kind for a customer, a supplier or a
product. ``latest_record`` finds that record by its own date and returns the request as if
its number had been typed, so the record's own answer (every field: date, total, status,
reference, tracking, lines at their prices) answers the question, with a first line that
says which record was taken and why.

The reading is narrow on purpose. It applies only when the request names no document
number, at most one customer, supplier or product (each resolved), and every other word asks
about the record's own fields (``nova.erp.intents.RECORD_QUESTION_WORDS``); anything else
(a second condition, a category, several products fitting a description) is left to the
other readings or to the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from nova.erp import models as m
from nova.erp.intents.request import Request
from nova.erp.intents.rules import GLOBAL_WORDS
from nova.erp.resolve import normalise


@dataclass(frozen=True, slots=True)
class _Kind:
    """One kind of record the newest of which can be asked for."""

    field: str
    """The ``Request`` list its number goes into."""
    model: type[m.SalesOrder] | type[m.Invoice] | type[m.PurchaseOrder] | type[m.Return]
    dated: str
    """The column that makes a record newer (its own date, as its list sorts it)."""
    noun: str
    """What the reading line calls it."""
    customer: Any = None
    """Its customer column (purchase orders have none)."""


_KINDS = {
    "orders": _Kind("orders", m.SalesOrder, "order_date", "order", m.SalesOrder.customer_id),
    "invoices": _Kind("invoices", m.Invoice, "issue_date", "invoice", m.Invoice.customer_id),
    "pos": _Kind("pos", m.PurchaseOrder, "order_date", "purchase order"),
    "rmas": _Kind("rmas", m.Return, "requested_on", "return", m.Return.customer_id),
}

_NEWEST = r"(?:latest|last|most recent|newest|recent)"
_NOUN_KIND = {
    "order": "orders", "sales order": "orders",
    "invoice": "invoices", "inv": "invoices", "bill": "invoices",
    "po": "pos", "purchase order": "pos", "supplier order": "pos",
    "return": "rmas", "rma": "rmas",
}  # fmt: skip
_VERB_KIND = {
    # Selling is an order that went through: a cancelled order sold nothing.
    "sell": "orders", "sold": "orders",
    "buy": "pos", "bought": "pos", "purchase": "pos", "purchased": "pos", "restock": "pos",
    "restocked": "pos", "pay for": "pos", "paid for": "pos", "order in": "pos",
}  # fmt: skip
_BY_NOUN = re.compile(
    rf"\b{_NEWEST}\s+(?:one\s+)?("
    + "|".join(sorted(map(re.escape, _NOUN_KIND), key=len, reverse=True))
    + r")\b(?!\s+(?:lines?|items?)\b)"
)
_BY_VERB = re.compile(
    rf"\b{_NEWEST}\s+(?:time\s+)?(?:we\s+|did\s+we\s+)?("
    + "|".join(sorted(map(re.escape, _VERB_KIND), key=len, reverse=True))
    + r")\b"
)

_SPENT_WORDS = frozenset(
    """latest last most recent newest time one sell sold buy bought purchase purchased restock
    restocked pay paid order ordered in we""".split()
)
"""Words the newest-record reading itself explains."""
_FIELD_WORDS = {
    "orders": frozenset("ref reference tracking carrier much".split()),
    "pos": frozenset("cost costs price unit much".split()),
    "invoices": frozenset("inv much".split()),
    "rmas": frozenset(),
}
"""Field questions the record's answer settles beyond ``RECORD_QUESTION_WORDS``."""


@dataclass(frozen=True, slots=True)
class Latest:
    """The request with the newest record's number in it, and how it was found."""

    request: Request
    reading: str


def _newest(session: Session, query: Select[Any]) -> tuple[str, date] | None:
    row = session.execute(query.limit(1)).first()
    return (str(row[0]), row[1]) if row is not None else None


def latest_record(
    request: Request, session: Session, field_words: dict[str, frozenset[str]]
) -> Latest | None:
    """Return ``request`` with the newest record it points to, or ``None`` when it does not.

    Args:
        request: What ``parse_request`` found.
        session: Database session.
        field_words: Per record kind, the words that ask about one record's fields
            (``RECORD_QUESTION_WORDS``).

    """
    if any(getattr(request, kind.field) for kind in _KINDS.values()) or request.shipments:
        return None
    if request.references:
        return None  # an order named by its reference is that order (``referenced_order``)
    if request.unknown_name or request.product_choices or request.categories:
        return None
    if request.countries or request.warehouses or request.amounts or request.limit:
        return None
    noun = _BY_NOUN.search(request.norm)
    verb = _BY_VERB.search(request.norm)
    if (noun is None) == (verb is None):
        return None
    kind_name = _NOUN_KIND[noun.group(1)] if noun else _VERB_KIND[verb.group(1)]  # type: ignore[union-attr]
    if verb is not None and not request.skus:
        return None  # "when did we last sell": sell what?
    kind = _KINDS[kind_name]
    allowed = field_words[kind_name] | _FIELD_WORDS[kind_name] | _SPENT_WORDS
    if not set(request.residual) <= allowed | GLOBAL_WORDS:
        return None
    model = kind.model
    dated = getattr(model, kind.dated)
    query = select(model.number, dated).order_by(dated.desc(), model.id.desc())
    owner = ""
    if request.customers or request.customer_numbers:
        if request.count("customer") != 1 or kind.customer is None:
            return None
        mention = request.customers[0].resolved if request.customers else None
        number = request.customer_numbers[0] if request.customer_numbers else None
        if mention is None and number is None:
            return None
        customer = mention.number if mention is not None else number
        query = query.join(m.Customer, m.Customer.id == kind.customer).where(
            m.Customer.number == customer
        )
        owner = f" of {mention.name if mention is not None else 'customer ' + str(customer)}"
    if request.suppliers:
        supplier = request.suppliers[0].resolved
        if len(request.suppliers) != 1 or supplier is None or kind_name != "pos":
            return None
        query = query.join(m.Supplier, m.Supplier.id == m.PurchaseOrder.supplier_id).where(
            m.Supplier.number == supplier.number
        )
        owner += f" to {supplier.name}"
    if request.skus:
        if len(request.skus) != 1 or kind_name not in ("orders", "pos"):
            return None
        sku = request.skus[0]
        if kind_name == "orders":
            query = (
                query.join(m.SalesOrderLine, m.SalesOrderLine.order_id == m.SalesOrder.id)
                .join(m.Product, m.Product.id == m.SalesOrderLine.product_id)
                .where(m.Product.sku == sku, m.SalesOrder.status != "cancelled")
            )
            owner += f" with {sku} (cancelled orders left out)"
        else:
            query = (
                query.join(
                    m.PurchaseOrderLine, m.PurchaseOrderLine.purchase_order_id == m.PurchaseOrder.id
                )
                .join(m.Product, m.Product.id == m.PurchaseOrderLine.product_id)
                .where(m.Product.sku == sku)
            )
            owner += f" with {sku}"
    elif verb is not None:
        return None
    if not owner:
        return None  # "the last order": the newest of all is rarely what is meant; ask the model
    period = request.period
    if period is not None:
        query = query.where(dated >= period.start, dated <= period.end)
        owner += f" in {period.text}"
    found = _newest(session, query)
    if found is None:
        return None  # none at all: the list readings say so with their filters
    record, when = found
    reading = f"The latest {kind.noun}{owner}, by its {_DATE_NAMES[kind.dated]}: {record} ({when})."
    return Latest(_naming(request, kind.field, record), reading)


def _naming(request: Request, field: str, number: str) -> Request:
    """Return ``request`` as if it had named only the record ``number`` (in ``field``).

    What found the record (its customer, supplier, product, period, reference, the words
    that pointed to it) is spent; the record's own lookup answers every field asked.
    """
    named = replace(
        request,
        text=number,
        norm=normalise(number),
        customers=[],
        customer_numbers=[],
        suppliers=[],
        skus=[],
        references=[],
        period=None,
        residual=[],
        applied=set(),
    )
    setattr(named, field, [number])
    return named


_DATE_NAMES = {
    "order_date": "order date",
    "issue_date": "issue date",
    "requested_on": "request date",
}


_REFERENCE_WORDS = frozenset("says say said saying their customer ref reference which".split())
"""Words of a question that names an order by the customer's reference."""


def referenced_order(
    request: Request, session: Session, field_words: dict[str, frozenset[str]]
) -> Latest | None:
    """Return ``request`` with the order whose customer reference it names, or ``None``.

    Only when the reference is the one thing named (besides, perhaps, the customer, who must
    be the order's) and every other word asks about the order's own fields.
    """
    if len(request.references) != 1 or request.kinds() - {"references", "customer"}:
        return None
    if not set(request.residual) <= field_words["orders"] | _REFERENCE_WORDS | GLOBAL_WORDS:
        return None
    reference = request.references[0]
    query = (
        select(m.SalesOrder.number, m.Customer.number, m.Customer.name)
        .join(m.Customer, m.Customer.id == m.SalesOrder.customer_id)
        .where(func.lower(m.SalesOrder.customer_reference) == reference.lower())
    )
    rows = session.execute(query.limit(2)).all()
    if len(rows) != 1:
        return None  # none, or two orders share it: the lists and the model say which
    number, customer_number, customer_name = rows[0]
    if request.count("customer"):
        named = [c.resolved.number for c in request.customers if c.resolved is not None]
        if [*named, *request.customer_numbers] != [customer_number]:
            return None  # "winkler's ref ..." of another customer's order, or a name unclear
    return Latest(
        _naming(request, "orders", str(number)),
        f"Customer reference {reference} is order {number} of {customer_name}.",
    )
