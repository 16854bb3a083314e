"""Margins the owner asks about: a product's list margin, its markup, and the margin earned.

A margin with a period ("gross margin last month", "margin on filters this year") can only
be the margin earned on what was sold in it: net line amounts less units × current cost. The
answer states the euros and the share of net sales together, so either reading is seen. A
rate named ("margin %", "the best margin") ranks by the share; "the most margin" by euros.
A markup is on cost, a margin on price. Each test checks the figures against plain SQL on the
standard sample (``full_erp``, anchor 2025-06-30).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from nova.erp.db import ErpDatabase
from nova.erp.intents import Decline, Plan
from tests.erp_helpers import answer_read, plan_read, sql_rows

pytest_plugins = ("tests.erp_fixtures",)

MAY = "o.order_date between '2025-05-01' and '2025-05-31'"
H1 = "o.order_date between '2025-01-01' and '2025-06-30'"
EARNED = """select sum(l.line_total_cents - l.quantity * p.cost_cents) as profit,
                   sum(l.line_total_cents) as sales
            from sales_orders o join sales_order_lines l on l.order_id = o.id
            join products p on p.id = l.product_id
            where o.status <> 'cancelled' and {where}"""


def euros(cents: int) -> str:
    return f"€{Decimal(cents) / 100:,.2f}"


def share(part: int, whole: int, places: str = "0.1") -> str:
    value = (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal(places), ROUND_HALF_UP)
    return f"{value}%"


def test_a_margin_over_a_period_is_earned_on_sales_in_euros_and_percent(
    full_erp: ErpDatabase,
) -> None:
    ((profit, sales),) = sql_rows(full_erp, EARNED.format(where=MAY))
    for request in ("gross margin last month", "margin last month"):
        decision, said = answer_read(full_erp, request)
        assert (decision.args.subject, decision.args.measure) == ("orders", "profit")
        assert euros(profit) in said
        assert f"gross margin of {share(profit, sales)} on net sales of {euros(sales)}" in said
    decision, said = answer_read(full_erp, "overall margin % last month")
    assert decision.args.measure == "margin_pct"
    assert share(profit, sales) in said and euros(profit) in said


def test_a_margin_over_a_period_keeps_its_filters(full_erp: ErpDatabase) -> None:
    ((profit, sales),) = sql_rows(full_erp, EARNED.format(where=f"{H1} and p.category = 'Filters'"))
    decision, said = answer_read(full_erp, "margin on filters this year")
    assert decision.args.category == "Filters"
    assert euros(profit) in said and share(profit, sales) in said


def test_the_best_margin_ranks_by_rate_and_the_most_margin_by_euros(
    full_erp: ErpDatabase,
) -> None:
    by_rate = sql_rows(
        full_erp,
        EARNED.format(where=H1).replace("select", "select p.category,", 1)
        + " group by p.category order by 1.0 * profit / sales desc limit 1",
    )
    decision, said = answer_read(full_erp, "which category has the best margin on sales this yr")
    assert (decision.args.measure, decision.args.group_by) == ("margin_pct", "category")
    assert f"Top: {by_rate[0].category} ({share(by_rate[0].profit, by_rate[0].sales)})" in said
    ((name, profit),) = sql_rows(
        full_erp,
        f"""select c.name, sum(l.line_total_cents - l.quantity * p.cost_cents) as profit
            from sales_orders o join sales_order_lines l on l.order_id = o.id
            join products p on p.id = l.product_id join customers c on c.id = o.customer_id
            where o.status <> 'cancelled' and {H1}
            group by c.id order by profit desc limit 1""",
    )
    decision, said = answer_read(full_erp, "which customer brings the most margin ytd")
    assert decision.args.measure == "profit"
    assert f"Top: {name} ({euros(profit)})" in said


def test_a_products_margin_without_a_period_is_its_list_margin(full_erp: ErpDatabase) -> None:
    ((price, cost),) = sql_rows(
        full_erp, "select unit_price_cents, cost_cents from products where sku = 'BRK-2897'"
    )
    _, said = answer_read(full_erp, "margin on BRK-2897")
    assert f"margin {euros(price - cost)} ({share(price - cost, price)})" in said
    # On list prices, whatever period is named: the products' own margin, never sales.
    decision = plan_read(full_erp, "which category has the best margin on list prices this year")
    assert not (isinstance(decision, Plan) and decision.args.subject == "orders")


def test_a_markup_is_on_cost(full_erp: ErpDatabase) -> None:
    ((price, cost),) = sql_rows(
        full_erp, "select unit_price_cents, cost_cents from products where sku = 'BRK-2897'"
    )
    decision, said = answer_read(full_erp, "markup on BRK-2897")
    assert decision.args.measure == "markup_pct"
    assert share(price - cost, cost) in said
    assert share(price - cost, price) not in said  # not the margin on price


def test_what_we_make_is_read_once_the_figure_is_named(full_erp: ErpDatabase) -> None:
    # "what do we make on X" alone is revenue or profit; naming the margin settles it.
    assert isinstance(plan_read(full_erp, "what do we make on nordwind this year"), Decline)
    decision = plan_read(full_erp, "what margin do we make on nordwind this year")
    assert isinstance(decision, Plan) and decision.args.measure == "profit"
