"""Typed results of ERP skills: rows with ids, a few facts, and their JSON payload.

Every skill returns a ``SkillResult[RowT]`` whose rows are pydantic models with an ``id``
(the business number a person can look up: ``INV-2025-00412``, ``BRK-2210@MAIN``). The
same result feeds the tool's message to a model, the fast path's answer, the CLI's Rich
table and the server's structured output (``SkillResult.payload()``), so every number
shown anywhere comes from one query result.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

Kind = Literal["text", "int", "qty", "money", "pct", "days", "date", "bool"]
"""How a value is shown: money as ``€1,234.50``, pct as ``12.5%``, dates as ISO, …"""

CENT = Decimal("0.01")
TENTH = Decimal("0.1")


def column(title: str, kind: Kind = "text", **kwargs: Any) -> Any:
    """Declare a row field with its table heading and display kind."""
    return Field(title=title, json_schema_extra={"kind": kind}, **kwargs)


def money(cents: int | None) -> Decimal:
    """Turn integer cents into a two-place ``Decimal`` (``None`` counts as zero)."""
    return (Decimal(cents or 0) / 100).quantize(CENT)


def one_place(value: float | Decimal) -> Decimal:
    """Round to one decimal place, half up (for averages and percentages)."""
    return Decimal(str(value)).quantize(TENTH, rounding=ROUND_HALF_UP)


def percent(part: int | Decimal, whole: int | Decimal) -> Decimal:
    """Return ``part`` as a percentage of ``whole`` to one place (0 when ``whole`` is 0)."""
    if not whole:
        return Decimal("0.0")
    return one_place(Decimal(part) * 100 / Decimal(whole))


def cents_of(amount: Decimal) -> int:
    """Turn a money amount into integer cents, refusing fractions of a cent."""
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"{amount} has more than two decimal places")
    return int(cents)


class Row(BaseModel):
    """Base of every result row: ``id`` is the business id the answer cites."""

    model_config = ConfigDict(frozen=True)

    id: str = column("ID")


RowT = TypeVar("RowT", bound=Row)

Scalar = str | int | Decimal | date | bool | None


class Fact(BaseModel):
    """One figure about the whole result (a total, a count, the period)."""

    model_config = ConfigDict(frozen=True)

    key: str
    label: str
    value: Scalar
    kind: Kind = "text"


class AppliedFilter(BaseModel):
    """A condition a request named that narrowed the result: a customer, a product, a status.

    Answers name every applied filter in their first line, so a figure for one customer is
    never read as the business's ("Customer Nordwind GmbH (20001): revenue €1,124.17").
    """

    model_config = ConfigDict(frozen=True)

    kind: str
    """What was filtered on: ``customer``, ``supplier``, ``product``, ``category``, ``status``…"""
    value: str
    """The filter as resolved, for people: ``Nordwind GmbH (20001)``, ``open``."""

    def describe(self) -> str:
        """Say the filter in words: ``customer Nordwind GmbH (20001)``."""
        return f"{self.kind} {self.value}"


class ColumnSpec(TypedDict):
    """A table column in the JSON payload."""

    key: str
    label: str
    kind: Kind


class FactPayload(TypedDict):
    """A fact in the JSON payload."""

    key: str
    label: str
    value: Any
    kind: Kind


class ErpPayload(TypedDict):
    """The structured result carried by a fast-path ``AIMessage`` and a tool's artifact."""

    skill: str
    title: str
    as_of: str
    columns: list[ColumnSpec]
    rows: list[dict[str, Any]]
    row_ids: list[str]
    row_count: int
    total_rows: int
    facts: list[FactPayload]
    filters: list[dict[str, str]]


def columns_of(row_type: type[Row]) -> list[ColumnSpec]:
    """Return the columns of ``row_type`` in field order, with their headings and kinds."""
    specs: list[ColumnSpec] = []
    for name, info in row_type.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        kind = extra.get("kind", "text")
        specs.append(ColumnSpec(key=name, label=info.title or name, kind=kind))  # type: ignore[typeddict-item]
    return specs


_PARAMETRISED: list[type[BaseModel]] = []
"""Every ``SkillResult[Row]`` class made so far, held strongly (see ``SkillResult``)."""


class SkillResult(BaseModel, Generic[RowT]):
    """What a read skill found: rows (each with an id), facts about them, and its business date."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Keep each parametrised class (``SkillResult[InvoiceRow]``) alive for the process.

        pydantic caches parametrised generics only weakly: once garbage collection ran
        between two skill calls, each call built its result class again (~0.5 ms, ~6 ms of
        a warm fast-path turn).
        """
        super().__pydantic_init_subclass__(**kwargs)
        _PARAMETRISED.append(cls)

    skill: str
    title: str
    as_of: date
    """The business date "today" meant for this result (see ``nova.erp.db.business_date``)."""
    rows: list[RowT]
    total_rows: int
    """Rows that matched before ``limit`` cut the list."""
    facts: list[Fact] = []
    filters: list[AppliedFilter] = []
    """The named conditions the rows were narrowed by (see ``AppliedFilter``)."""
    focus: Literal["record", "list"] = "list"
    """``record`` when the request named one record (an invoice number, a SKU): answers
    describe it in full; ``list`` answers summarise and list the rows."""
    row_type: type[Row] = Field(exclude=True)

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @property
    def row_ids(self) -> list[str]:
        """Ids of the rows, in order: what an answer cites."""
        return [row.id for row in self.rows]

    def fact(self, key: str) -> Scalar:
        """Return the value of the fact called ``key``.

        Raises:
            KeyError: naming the facts this result has.

        """
        for item in self.facts:
            if item.key == key:
                return item.value
        raise KeyError(f"No fact {key!r}; this result has {[f.key for f in self.facts]}")

    def has_fact(self, key: str) -> bool:
        """Whether a fact called ``key`` is present."""
        return any(item.key == key for item in self.facts)

    def payload(self) -> ErpPayload:
        """Return the result as plain JSON values (Decimal as strings, dates as ISO)."""
        facts = [
            FactPayload(**item.model_dump(mode="json"))  # type: ignore[typeddict-item]
            for item in self.facts
        ]
        return ErpPayload(
            skill=self.skill,
            title=self.title,
            as_of=self.as_of.isoformat(),
            columns=columns_of(self.row_type),
            rows=[row.model_dump(mode="json") for row in self.rows],
            row_ids=self.row_ids,
            row_count=len(self.rows),
            total_rows=self.total_rows,
            facts=facts,
            filters=[item.model_dump() for item in self.filters],
        )
