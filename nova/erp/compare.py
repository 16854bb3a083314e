"""Run a comparison's two plans and state them as one answer: both figures, the difference, the %.

``nova.erp.intents.compare`` reads "X vs Y" as two plans that differ only in what is
contrasted; ``run_comparison`` runs both with their own skills and composes one
``SkillResult``: a row per side (its figure and the records it was computed over), a headline
with both figures, the difference and the % change against the base side, and the reading
each figure was computed with. Every figure is one the sides' own results returned; only the
difference and the change are computed here, from those two figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from nova.erp.intents import Plan
from nova.erp.intents.compare import COMPARE_SKILL, Comparison, Side
from nova.erp.intents.structured import VOCABULARY
from nova.erp.render import fmt, render_text
from nova.erp.resolve import normalise
from nova.erp.results import Fact, Kind, Row, SkillResult, column, one_place
from nova.erp.skills import READ_SKILLS

_UNIT_WORDS = frozenset(
    " ".join(phrase)
    for phrase, (role, value) in VOCABULARY.items()
    if (role, value) == ("measure", "units")
)
"""What asks for units rather than money ("units", "pieces", "qty"), as the reader knows it."""

SALES_READING = {
    "revenue": "revenue = order lines of non-cancelled orders, by order date",
    "units": "units = quantities on order lines of non-cancelled orders, by order date",
    "average_order_value": "average order value = revenue / number of non-cancelled orders",
}
"""How the sales summary's figures are computed (``nova.erp.skills.sales``)."""


class ComparisonRow(Row):
    """One side of a comparison: its figure and the records it was computed over."""

    id: str = column("Side")
    value: Decimal | int | None = column("Value")
    count: int | None = column("Records", "int", default=None)


@dataclass(frozen=True, slots=True)
class _Figure:
    label: str
    value: Any
    kind: Kind
    count: int | None
    reading: str


def _asks_units(text: str) -> bool:
    norm = f" {normalise(text)} "
    return any(f" {phrase} " in norm for phrase in _UNIT_WORDS)


_AVERAGE_ORDER = re.compile(r"\b(?:average|avg|mean)\b(?:\s+\w+)?\s+orders?\b|\baov\b")
"""What asks for the average order value, which the sales summary states beside revenue."""


def _sales_figure(text: str) -> str:
    """Which of the sales summary's figures a side asks for: revenue unless it says otherwise."""
    if _AVERAGE_ORDER.search(normalise(text)):
        return "average_order_value"
    return "units" if _asks_units(text) else "revenue"


def _figure(side: Side, result: SkillResult[Any]) -> _Figure | None:
    """Return the one figure ``result`` states for ``side`` and how it was read, or ``None``."""
    first_line = render_text(result).splitlines()[0]
    if result.skill == "erp_query":
        if not result.has_fact("value"):
            return None
        value = next(f for f in result.facts if f.key == "value")
        records = result.fact("records")
        return _Figure(
            str(result.fact("measure")),
            value.value,
            value.kind,
            records if isinstance(records, int) else None,
            first_line,
        )
    if result.skill == "erp_payment_history":
        # "payments june vs may": the money received, over the payments it came in.
        total = next(f for f in result.facts if f.key == "total")
        count = result.fact("count")
        return _Figure(
            "payments received",
            total.value,
            total.kind,
            count if isinstance(count, int) else None,
            f"payments received = sum of payments by payment date. {first_line}",
        )
    if result.skill == "erp_sales_summary":
        key = _sales_figure(side.text)
        fact = next(f for f in result.facts if f.key == key)
        orders = result.fact("orders")
        return _Figure(
            key.replace("_", " "),
            fact.value,
            fact.kind,
            orders if isinstance(orders, int) else None,
            f"{SALES_READING[key]}. {first_line}",
        )
    return None


_SIGNED = re.compile(r"^(?=[€\d])")


def _signed(value: Decimal | int, kind: Kind) -> str:
    text = fmt(value, kind)
    return _SIGNED.sub("+", text) if value > 0 else text


def _days(plan: Plan) -> int | None:
    start, end = getattr(plan.args, "date_from", None), getattr(plan.args, "date_to", None)
    return (end - start).days + 1 if start and end else None


def run_comparison(session: Session, comparison: Comparison) -> SkillResult[ComparisonRow] | None:
    """Run both sides of ``comparison`` and compose one result; ``None`` when a side has no figure.

    Raises:
        SkillError: a side's skill could not run (``nova.erp.skills``).

    """
    figures: list[_Figure] = []
    results: list[SkillResult[Any]] = []
    for side in comparison.sides:
        result = READ_SKILLS[side.plan.skill].run(session, side.plan.args)
        figure = _figure(side, result)
        if figure is None or figure.value is None:
            return None
        figures.append(figure)
        results.append(result)
    if figures[0].kind != figures[1].kind or figures[0].label != figures[1].label:
        return None
    kind = figures[0].kind
    base = comparison.base
    other = 1 - base
    labels = [side.label for side in comparison.sides]
    difference = figures[other].value - figures[base].value
    change = (
        f", {_signed(one_place(Decimal(difference) * 100 / Decimal(figures[base].value)), 'pct')}"
        if figures[base].value
        else ", no % change from zero"
    )
    if comparison.kind == "period":
        delta = f"change from {labels[base]} to {labels[other]}: {_signed(difference, kind)}"
    else:
        delta = f"{labels[other]} against {labels[base]}: {_signed(difference, kind)}"
    measure = figures[0].label
    headline = (
        f"{measure[:1].upper()}{measure[1:]}: {labels[0]} {fmt(figures[0].value, kind)} vs "
        f"{labels[1]} {fmt(figures[1].value, kind)}; {delta}{change}."
    )
    if comparison.kind == "period":
        lengths = [_days(side.plan) for side in comparison.sides]
        if None not in lengths and lengths[0] != lengths[1]:
            # "this year vs last year" on 30 June: half a year against a whole one.
            headline += f" The periods differ in length: {lengths[0]} and {lengths[1]} days."
    readings = [
        f"Reading ({label}): {figure.reading}"
        for label, figure in zip(labels, figures, strict=True)
    ]
    rows = [
        ComparisonRow(id=label, value=figure.value, count=figure.count)
        for label, figure in zip(labels, figures, strict=True)
    ]
    return SkillResult[ComparisonRow](
        skill=COMPARE_SKILL,
        title=f"{measure[:1].upper()}{measure[1:]} compared",
        as_of=results[0].as_of,
        rows=rows,
        total_rows=len(rows),
        facts=[
            Fact(key="reading", label="Comparison", value=headline),
            Fact(key="readings", label="Readings", value="\n".join(readings)),
            Fact(key="difference", label="Difference", value=difference, kind=kind),
        ],
        row_type=ComparisonRow,
    )


__all__ = ["ComparisonRow", "run_comparison"]
