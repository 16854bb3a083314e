"""Comparisons on the fast path ("X vs Y"): two sides planned, run, and stated as one answer.

Figures are checked against plain SQL written here, on the standard sample (``full_erp``,
anchor 2025-06-30). A comparison whose side does not plan in full must still decline.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from sqlalchemy import text

from nodes.erp_fast_path import FAST_PATH_KEY, make_erp_fast_path_node
from nova.erp.compare import run_comparison
from nova.erp.db import ErpDatabase
from nova.erp.intents import Decline
from nova.erp.intents.compare import COMPARE_SKILL, Comparison, plan_comparison
from nova.erp.render import render_text
from nova.erp.skills import READ_SKILLS
from nova.state import NovaContext, NovaState
from nova.testing import route_to

pytest_plugins = ("tests.erp_fixtures",)

ALL_SKILLS = list(READ_SKILLS)

REVENUE = """
    select coalesce(sum(l.line_total_cents), 0) from sales_order_lines l
    join sales_orders o on o.id = l.order_id
    join products p on p.id = l.product_id
    join customers c on c.id = o.customer_id
    where o.status != 'cancelled' and o.order_date between :start and :end
"""


def revenue(database: ErpDatabase, start: str, end: str, extra: str = "", **bound: Any) -> Decimal:
    with database.read_session() as session:
        cents = session.execute(
            text(REVENUE + extra), {"start": start, "end": end, **bound}
        ).scalar_one()
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def compared(database: ErpDatabase, request: str) -> tuple[Comparison, str]:
    with database.read_session() as session:
        reading = plan_comparison(request, session, ALL_SKILLS)
        assert isinstance(reading, Comparison), reading
        result = run_comparison(session, reading)
    assert result is not None
    assert result.total_rows == 2
    return reading, render_text(result)


def euros(value: Decimal) -> str:
    sign = "-" if value < 0 else "+"
    return f"{sign}€{abs(value):,.2f}"


def change(new: Decimal, base: Decimal) -> str:
    pct = (new - base) * 100 / base
    return f"{'+' if pct > 0 else ''}{pct.quantize(Decimal('0.1'))}%"


def test_two_customers_share_the_period_and_measure(full_erp: ErpDatabase) -> None:
    reading, answer = compared(full_erp, "nordwind vs dobes sales this yr")
    assert reading.kind == "customer"
    period = ("2025-01-01", "2025-06-30")
    numbers = [side.plan.args.model_dump()["customer"] for side in reading.sides]
    nordwind, dobes = (
        revenue(full_erp, *period, " and c.number = :n", n=number) for number in numbers
    )
    headline = answer.splitlines()[0]
    assert f"€{nordwind:,.2f}" in headline and f"€{dobes:,.2f}" in headline
    # Against the second side named: the difference and the % change from it.
    assert euros(nordwind - dobes) in headline and change(nordwind, dobes) in headline
    assert "revenue = order lines of non-cancelled orders, by order date" in answer


def test_two_periods_change_from_the_earlier(full_erp: ErpDatabase) -> None:
    reading, answer = compared(full_erp, "june vs may revenue")
    assert reading.kind == "period" and reading.base == 1  # May is earlier: the base
    june = revenue(full_erp, "2025-06-01", "2025-06-30")
    may = revenue(full_erp, "2025-05-01", "2025-05-31")
    headline = answer.splitlines()[0]
    assert f"€{june:,.2f}" in headline and f"€{may:,.2f}" in headline
    assert euros(june - may) in headline and change(june, may) in headline


def test_a_month_of_last_year_and_a_shared_word_before_the_split(full_erp: ErpDatabase) -> None:
    reading, answer = compared(full_erp, "april sales vs april last yr")
    assert [side.text for side in reading.sides] == ["april sales", "sales april 2024"]
    now = revenue(full_erp, "2025-04-01", "2025-04-30")
    then = revenue(full_erp, "2024-04-01", "2024-04-30")
    assert change(now, then) in answer.splitlines()[0]


def test_the_contrasted_span_takes_the_whole_period(full_erp: ErpDatabase) -> None:
    # "h1" alone is this year's first half too, but the rest ("sales this yr") would then
    # still name a period: the span is "h1 this yr", and each side names one period.
    reading, answer = compared(full_erp, "sales h1 this yr vs h1 last yr")
    assert [side.text for side in reading.sides] == ["sales h1 this yr", "sales h1 last yr"]
    now = revenue(full_erp, "2025-01-01", "2025-06-30")
    then = revenue(full_erp, "2024-01-01", "2024-06-30")
    assert change(now, then) in answer.splitlines()[0]


def test_two_categories_with_a_shared_rolling_period(full_erp: ErpDatabase) -> None:
    reading, answer = compared(full_erp, "brakes vs suspension, revenue last 12 months")
    assert reading.kind == "categories"
    brakes, suspension = (
        revenue(full_erp, "2024-07-01", "2025-06-30", " and p.category = :c", c=category)
        for category in ("Brakes", "Suspension")
    )
    headline = answer.splitlines()[0]
    assert f"€{brakes:,.2f}" in headline and f"€{suspension:,.2f}" in headline


def test_unequal_periods_are_said(full_erp: ErpDatabase) -> None:
    _reading, answer = compared(full_erp, "sales this year compared to last year")
    assert "differ in length: 181 and 366 days" in answer.splitlines()[0]


@pytest.mark.parametrize(
    ("request_text", "why"),
    [
        # A side that does not plan: categories hold products, which have no date.
        ("brakes vs filters last month", "does not plan"),
        # Two things contrasted at once: a customer and a period.
        ("nordwind sales this year vs dobes last year", "no one thing"),
        # "winkler" fits two customers: the side does not plan in full.
        ("nordwind vs winkler sales this yr", "no one thing"),
        # A threshold, not a second side.
        ("customers who ordered more than 3 times this year", "no one split word"),
        # The same skill, but a list of records: no one figure to compare.
        ("invoices for nordwind vs dobes this year", "no single figure"),
    ],
)
def test_a_comparison_that_does_not_plan_in_full_declines(
    full_erp: ErpDatabase, request_text: str, why: str
) -> None:
    with full_erp.read_session() as session:
        decision = plan_comparison(request_text, session, ALL_SKILLS)
    assert isinstance(decision, Decline)
    assert why in decision.reason


def test_the_node_answers_a_comparison_and_declines_a_broken_one(full_erp: ErpDatabase) -> None:
    builder = StateGraph(NovaState, context_schema=NovaContext)
    builder.add_node("fast_path", make_erp_fast_path_node(database=full_erp))
    builder.add_edge(START, "fast_path")
    graph = builder.compile(checkpointer=InMemorySaver())

    def ask(request: str, thread: str) -> dict[str, Any]:
        state = {
            "messages": [HumanMessage(request)],
            "request": request,
            "route": route_to("erp_reporting", "erp", confidence=0.93, margin=0.5),
        }
        return graph.invoke(state, {"configurable": {"thread_id": thread}})

    answered = ask("q1 vs q2 sales", "a")
    assert answered["agent_run"]["outcome"] == "fast_path"
    message = answered["messages"][-1]
    assert message.additional_kwargs[FAST_PATH_KEY]["skill"] == COMPARE_SKILL
    assert message.additional_kwargs["erp"]["total_rows"] == 2
    q1 = revenue(full_erp, "2025-01-01", "2025-03-31")
    q2 = revenue(full_erp, "2025-04-01", "2025-06-30")
    assert change(q2, q1) in answered["answer"].splitlines()[0]
    assert ask("brakes vs filters last month", "b").get("agent_run") is None


def test_payments_and_the_average_order_value_are_compared_as_figures(
    full_erp: ErpDatabase,
) -> None:
    _, answer = compared(full_erp, "payments in june vs may")
    with full_erp.read_session() as session:
        june, may = (
            Decimal(
                session.execute(
                    text("select sum(amount_cents) from payments where paid_on between :a and :b"),
                    {"a": start, "b": end},
                ).scalar_one()
            )
            / 100
            for start, end in (("2025-06-01", "2025-06-30"), ("2025-05-01", "2025-05-31"))
        )
    assert answer.startswith("Payments received: June 2025")
    assert f"€{june:,.2f}" in answer and f"€{may:,.2f}" in answer
    _, answer = compared(full_erp, "average order value h1 2025 vs h1 2024")
    assert answer.startswith("Average order value: H1 2025")


def test_a_german_comparison_is_read_in_english_as_a_whole(full_erp: ErpDatabase) -> None:
    reading, answer = compared(full_erp, "umsatz q2 vs q1")
    assert reading.reading is not None and reading.reading.startswith("Read from German")
    assert euros(revenue(full_erp, "2025-04-01", "2025-06-30"))[1:] in answer


def test_against_splits_a_comparison_as_vs_does(full_erp: ErpDatabase) -> None:
    _, against = compared(full_erp, "h1 against h1 last year")
    _, versus = compared(full_erp, "h1 vs h1 last year")
    assert against == versus
