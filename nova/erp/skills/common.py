"""Shared pieces of the ERP read skills: errors, argument types, name resolution, ``Skill``."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from rapidfuzz import fuzz, process
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from nova.erp import models as m
from nova.erp.db import ErpDatabase, per_session
from nova.erp.resolve import Named, NameIndex, canonical_number, core_name, normalise
from nova.erp.results import AppliedFilter, Fact, SkillResult

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
Country = Annotated[
    str,
    BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v),
    Field(pattern="^[A-Z]{2}$"),
]
"""An ISO 3166 two-letter country code, as customers and suppliers store it."""

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


# --- applied filters --------------------------------------------------------------------

_FILTERS_KEY = "nova_erp_applied_filters"
"""``Session.info`` key of the filters the running skill has applied (see ``recording_filters``)."""


def note_filter(session: Session, kind: str, value: str) -> None:
    """Record that the running skill narrowed its rows to ``kind`` ``value``.

    The ``resolve_*`` look-ups call this for every name they resolve; a skill calls it for
    a condition no look-up resolves (an invoice status). Outside ``recording_filters``
    nothing is kept.
    """
    applied = session.info.get(_FILTERS_KEY)
    if applied is not None:
        item = AppliedFilter(kind=kind, value=value)
        if item not in applied:
            applied.append(item)


def recording_filters(
    run: Callable[[Session, ArgsT], ResultT],
) -> Callable[[Session, ArgsT], ResultT]:
    """Wrap a skill so its ``SkillResult`` lists the filters it applied (``note_filter``).

    Done once around every skill rather than in each one, so no skill can apply a named
    filter that its answer then leaves unsaid.
    """

    @functools.wraps(run)  # keeps the annotations: rules read the skill's row type from them
    def run_recording(session: Session, args: ArgsT) -> ResultT:
        outer = session.info.get(_FILTERS_KEY)
        session.info[_FILTERS_KEY] = []
        try:
            result = run(session, args)
            applied = session.info[_FILTERS_KEY]
        finally:
            if outer is None:
                session.info.pop(_FILTERS_KEY, None)
            else:
                session.info[_FILTERS_KEY] = outer
        if isinstance(result, SkillResult) and applied:
            return result.model_copy(update={"filters": [*result.filters, *applied]})
        return result

    return run_recording


# --- shared look-ups --------------------------------------------------------------------

_index_lock = threading.Lock()
_indexes: dict[tuple[str, str], tuple[tuple[int, int], NameIndex]] = {}

_Indexed = type[m.Customer] | type[m.Supplier] | type[m.Product]


def name_index(session: Session, model: _Indexed) -> NameIndex:
    """Return the name index of customers, suppliers or products (rebuilt when rows change)."""
    return per_session(session, ("name_index", model.__tablename__), lambda: _index(session, model))


def _index(session: Session, model: _Indexed) -> NameIndex:
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


CLOSE_CUTOFF = 70.0
"""Below ``NameIndex.LOOKUP_CUTOFF``: too far to resolve a name, close enough to suggest."""


def closest_names(index: NameIndex, ref: str, limit: int = 3) -> str:
    """Return " The closest are A (n), B (n)." for names near ``ref``, or "" when none is."""
    wanted = core_name(ref)
    if not wanted:
        return ""
    scored = process.extract(
        wanted,
        [entity.core for entity in index.entities],
        scorer=fuzz.WRatio,
        limit=limit,
        score_cutoff=CLOSE_CUTOFF,
    )
    if not scored:
        return ""
    names = ", ".join(
        f"{index.entities[position].name} ({index.entities[position].number})"
        for _core, _score, position in scored
    )
    return f" The closest are: {names}."


def _labelled(name: str, number: str) -> str:
    return f"{name} ({number})"


def resolve_customer(session: Session, ref: str) -> m.Customer:
    """Return the one customer ``ref`` (name or number) means.

    Raises:
        NotFound: no customer is close. AmbiguousName: several are.

    """
    index = name_index(session, m.Customer)
    matches = index.lookup(ref)
    if not matches:
        raise NotFound(
            f"No customer matches {ref!r}.{closest_names(index, ref)} Check the spelling, or "
            "give part of the name or the 5-digit customer number (erp_find_customer "
            f"searches).{_empty_hint(session, m.Customer)}"
        )
    if len(matches) > 1:
        raise AmbiguousName("customer", ref, matches)
    customer = session.get(m.Customer, matches[0].id)
    assert customer is not None
    note_filter(session, "customer", _labelled(customer.name, customer.number))
    return customer


def resolve_supplier(session: Session, ref: str) -> m.Supplier:
    """Return the one supplier ``ref`` (name or number) means.

    Raises:
        NotFound: no supplier is close. AmbiguousName: several are.

    """
    index = name_index(session, m.Supplier)
    matches = index.lookup(ref.upper() if ref.upper().startswith("S-") else ref)
    if not matches:
        close = closest_names(index, ref)
        names = ", ".join(e.name for e in index.entities[:8])
        raise NotFound(f"No supplier matches {ref!r}.{close or f' Suppliers include: {names}, …'}")
    if len(matches) > 1:
        raise AmbiguousName("supplier", ref, matches)
    supplier = session.get(m.Supplier, matches[0].id)
    assert supplier is not None
    note_filter(session, "supplier", _labelled(supplier.name, supplier.number))
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
        note_filter(session, "product", _labelled(product.name, product.sku))
        return product
    index = name_index(session, m.Product)
    matches = index.lookup(ref)
    if not matches:
        raise NotFound(
            f"No product matches {ref!r}.{closest_names(index, ref)} Give its SKU (like "
            "BRK-2210) or search with erp_find_product."
        )
    if len(matches) > 1:
        raise AmbiguousName("product", ref, matches)
    product = session.get(m.Product, matches[0].id)
    assert product is not None
    note_filter(session, "product", _labelled(product.name, product.sku))
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
            note_filter(session, "warehouse", f"{code} ({city})")
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
            note_filter(session, "category", category)
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
