"""Stock that does not sell, document numbers without their year, and words owners mix in.

Checked against plain SQL on the standard sample (``full_erp``, business date 2025-06-30):

* "dead stock since new year", "nothing sold in 6 months": products with no line on an order
  that was not cancelled in the period, listed with what lies in stock and its worth at cost,
  or the stock value of them all, with the units beside it. Without a period it declines.
* "po 120", "rechnung 1061": a number whose year is left out is the one year that has it, the
  year the request names, or a question listing the years that have it.
* A count and an amount asked together ("how many … and for how much"), German ERP words in
  an English sentence ("gutschriften"), supplier deliveries by arrival, open POs already late,
  and a product's stock with the purchase orders that bring more.
"""

from __future__ import annotations

from decimal import Decimal

from nova.erp.db import ErpDatabase
from nova.erp.intents import Clarify, Decline, Plan
from tests.erp_helpers import answer_read, plan_read, sql_rows

pytest_plugins = ("tests.erp_fixtures",)

NOT_SOLD_SINCE = """
    select p.sku, coalesce(sum(s.on_hand), 0) as units, coalesce(sum(s.on_hand), 0) * p.cost_cents
    from products p left join stock_levels s on s.product_id = p.id
    where not exists (
        select 1 from sales_order_lines l join sales_orders o on o.id = l.order_id
        where l.product_id = p.id and o.status <> 'cancelled' and o.order_date >= '{start}'
          and o.order_date <= '2025-06-30')
    group by p.id order by 3 desc, p.sku
"""


def _euros(cents: int) -> str:
    return f"€{Decimal(cents) / 100:,.2f}"


def test_dead_stock_lists_what_did_not_sell_with_its_stock_and_worth(full_erp: ErpDatabase) -> None:
    plan, answer = answer_read(full_erp, "dead stock: what hasnt sold at all since new year")
    rows = sql_rows(full_erp, NOT_SOLD_SINCE.format(start="2025-01-01"))
    assert rows and plan.args.status == "unsold"
    units = sum(r[1] for r in rows)
    assert f"{len(rows)} products" in answer
    assert f"{units:,} units worth {_euros(sum(r[2] for r in rows))} at cost" in answer
    first = answer.splitlines()[1]  # the largest stock value first
    assert rows[0][0] in first and f"stock value at cost {_euros(rows[0][2])}" in first


def test_money_in_what_has_not_sold_is_its_stock_value_with_the_units(
    full_erp: ErpDatabase,
) -> None:
    text = "how much money is sitting in the dead stuff, nothing sold in 6 months"
    plan, answer = answer_read(full_erp, text)
    assert plan.args.subject == "stock" and plan.args.measure == "stock_value"
    rows = sql_rows(full_erp, NOT_SOLD_SINCE.format(start="2024-12-30"))
    assert _euros(sum(r[2] for r in rows)) in answer
    assert f"over {len(rows)} products" in answer
    assert f"Units on hand: {sum(r[1] for r in rows):,}" in answer


def test_not_sold_needs_a_period_and_a_count_counts_products(full_erp: ErpDatabase) -> None:
    assert isinstance(plan_read(full_erp, "what hasnt sold"), Decline)
    _, answer = answer_read(full_erp, "how many products havent sold at all this year")
    rows = sql_rows(full_erp, NOT_SOLD_SINCE.format(start="2025-01-01"))
    assert f"{len(rows)} products" in answer


def test_a_document_number_without_its_year_asks_which_year(full_erp: ErpDatabase) -> None:
    both = [
        n
        for (n,) in sql_rows(
            full_erp,
            "select number from purchase_orders where number like 'PO-%-0120' order by number",
        )
    ]
    assert len(both) == 2
    decision = plan_read(full_erp, "po 120 - status?")
    assert isinstance(decision, Clarify)
    assert all(number in decision.question for number in both)
    named = plan_read(full_erp, "po 120 from this year")
    assert isinstance(named, Plan) and named.args.po_number == "PO-2025-0120"
    # A number no year holds is not invented.
    assert not isinstance(plan_read(full_erp, "invoice 99999"), Plan)


def test_a_count_and_its_amount_asked_together_are_answered_together(
    full_erp: ErpDatabase,
) -> None:
    _, answer = answer_read(full_erp, "how many credit notes went out in june and for how much")
    ((count, cents),) = sql_rows(
        full_erp,
        "select count(*), sum(amount_cents) from credit_notes "
        "where issue_date between '2025-06-01' and '2025-06-30'",
    )
    assert f"{count} credit notes" in answer and _euros(cents) in answer


def test_german_erp_words_in_an_english_sentence_are_read(full_erp: ErpDatabase) -> None:
    plan, _ = answer_read(full_erp, "who got the most gutschriften h1")
    assert plan.args.subject == "credit_notes"
    assert plan.reading is not None and plan.reading.startswith("Read from German")
    plan, _ = answer_read(full_erp, "storniert in h1: how many orders, how much")
    assert plan.args.status == "cancelled"


def test_supplier_deliveries_that_showed_up_late_are_dated_by_arrival(
    full_erp: ErpDatabase,
) -> None:
    plan, answer = answer_read(full_erp, "which supplier deliveries showed up late last week")
    assert plan.args.subject == "purchase_orders" and plan.args.date_basis == "received"
    late = sql_rows(
        full_erp,
        "select number from purchase_orders where received_date > expected_date "
        "and received_date between '2025-06-23' and '2025-06-29'",
    )
    assert late and f"{len(late)} purchase orders" in answer
    assert all(number in answer for (number,) in late)


def test_open_pos_already_late_are_those_still_open_past_the_expected_date(
    full_erp: ErpDatabase,
) -> None:
    plan, answer = answer_read(full_erp, "any open PO already past its date?")
    assert plan.args.status == "running_late"
    ((count,),) = sql_rows(
        full_erp,
        "select count(*) from purchase_orders where status = 'ordered' "
        "and expected_date < '2025-06-30'",
    )
    assert (f"{count} purchase order" in answer) if count else answer.startswith("No ")


def test_stock_of_a_product_names_the_purchase_orders_bringing_more(
    full_erp: ErpDatabase,
) -> None:
    ((sku, number, expected, supplier),) = sql_rows(
        full_erp,
        "select p.sku, po.number, po.expected_date, s.name from purchase_orders po "
        "join purchase_order_lines l on l.purchase_order_id = po.id "
        "join products p on p.id = l.product_id join suppliers s on s.id = po.supplier_id "
        "where po.status = 'ordered' order by po.expected_date, po.number limit 1",
    )
    _, answer = answer_read(full_erp, f"stock of {sku}")
    assert f"incoming {number}" in answer
    assert f"from {supplier}, expected {expected}" in answer
