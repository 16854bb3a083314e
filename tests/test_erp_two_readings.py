"""Requests with a second fair reading, or a figure left unsaid, answered so both are seen.

Each test pins one mechanism against plain SQL on the standard sample (``full_erp``, anchor
2025-06-30), with a near request that must still be read (or declined) as before:

* a ranking by number of records that names no figure also states the ranking by amount
  (or by units, for returns) when it differs;
* a comparison that names no figure compares sales, and warehouses compare their units;
* "avg order size" is the mean order value, a bare "order size" is not read;
* "stock adjustments this month" lists the bookings with their products;
* "is X on order?" states how many of X each purchase order brings;
* "did X pay?" with no invoice, period or "anything" declines (pay what?);
* a bare four-digit number is the sales order it names, never an amount or a year;
* "who owes us the most" names the top debtor first.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from nova.erp.compare import run_comparison
from nova.erp.db import ErpDatabase
from nova.erp.intents import Decline, Plan
from nova.erp.intents.compare import Comparison, plan_comparison
from nova.erp.render import render_text
from nova.erp.skills import READ_SKILLS
from tests.erp_helpers import answer_read, assert_read_alike, plan_read

pytest_plugins = ("tests.erp_fixtures",)

ALL_SKILLS = list(READ_SKILLS)


plan = plan_read
answer = answer_read


def rows(database: ErpDatabase, sql: str, **bound: Any) -> list[Any]:
    with database.read_session() as session:
        return list(session.execute(text(sql), bound))


def euros(cents: int) -> str:
    return f"€{Decimal(cents) / 100:,.2f}"


def test_a_ranking_by_number_states_the_ranking_by_amount(full_erp: ErpDatabase) -> None:
    decision, said = answer(full_erp, "top 5 customers by credit notes ytd")
    assert decision.args.measure == "count"
    by_amount = rows(
        full_erp,
        """select c.name, sum(cn.amount_cents) as cents from credit_notes cn
           join customers c on c.id = cn.customer_id
           where cn.issue_date between '2025-01-01' and '2025-06-30'
           group by c.id order by cents desc limit 5""",
    )
    assert "Ranked by amount instead: " in said
    for name, cents in by_amount:
        assert f"{name} {euros(cents)}" in said


def test_a_ranking_of_returns_states_the_units_returned(full_erp: ErpDatabase) -> None:
    _, said = answer(full_erp, "most returned product ytd")
    ((sku, units),) = rows(
        full_erp,
        """select p.sku, sum(r.quantity) as units from returns r
           join products p on p.id = r.product_id
           where r.requested_on between '2025-01-01' and '2025-06-30'
           group by p.id order by units desc limit 1""",
    )
    assert "Ranked by units returned instead: " in said
    assert sku in said and f" {units}." in said


def test_a_ranking_whose_figure_is_named_states_no_second_one(full_erp: ErpDatabase) -> None:
    for request in ("top 5 customers by number of orders this yr", "most returned product by qty"):
        decision = plan(full_erp, request)
        assert isinstance(decision, Plan), decision
        assert decision.args.also_measure is None


def test_a_comparison_naming_no_figure_compares_sales(full_erp: ErpDatabase) -> None:
    with full_erp.read_session() as session:
        reading = plan_comparison("nordwind this year vs last year", session, ALL_SKILLS)
        assert isinstance(reading, Comparison), reading
        assert reading.reading == "No figure was named: compared on sales."
        result = run_comparison(session, reading)
    assert result is not None
    said = render_text(result)
    for start, end in (("2025-01-01", "2025-06-30"), ("2024-01-01", "2024-12-31")):
        ((cents,),) = rows(
            full_erp,
            """select coalesce(sum(l.line_total_cents), 0) from sales_order_lines l
               join sales_orders o on o.id = l.order_id join customers c on c.id = o.customer_id
               where o.status != 'cancelled' and c.number = '20001'
               and o.order_date between :start and :end""",
            start=start,
            end=end,
        )
        assert euros(cents) in said


def test_two_warehouses_compare_their_units(full_erp: ErpDatabase) -> None:
    with full_erp.read_session() as session:
        reading = plan_comparison("units in main vs ulm", session, ALL_SKILLS)
        assert isinstance(reading, Comparison), reading
        assert [side.plan.args.warehouse for side in reading.sides] == ["MAIN", "ULM"]
        assert {side.plan.args.measure for side in reading.sides} == {"on_hand"}
        result = run_comparison(session, reading)
    assert result is not None
    said = render_text(result)
    for warehouse, units in rows(
        full_erp, "select warehouse, sum(on_hand) from stock_levels group by warehouse"
    ):
        assert f"{units:,}" in said, warehouse
    # With no warehouse and no product, "units" alone is still nothing to compute.
    assert isinstance(plan(full_erp, "units"), Decline)


def test_an_average_size_is_the_mean_value_and_a_bare_size_is_not_read(
    full_erp: ErpDatabase,
) -> None:
    decision = plan(full_erp, "avg invoice size this yr")
    assert isinstance(decision, Plan), decision
    assert (decision.args.subject, decision.args.measure) == ("invoices", "average_value")
    for request in ("order size", "biggest order size"):
        assert isinstance(plan(full_erp, request), Decline), request


def test_adjustments_in_a_period_are_listed_with_their_products(full_erp: ErpDatabase) -> None:
    decision, said = answer(full_erp, "stock adjustments this month")
    assert decision.skill == "erp_stock_movements"
    booked = rows(
        full_erp,
        """select p.sku, m.quantity from stock_movements m join products p on p.id = m.product_id
           where m.kind = 'adjustment' and m.moved_on between '2025-06-01' and '2025-06-30'""",
    )
    assert booked
    assert f"{len(booked)} stock movements" in said
    for sku, quantity in booked:
        assert sku in said and f"quantity {quantity}" in said
    # A figure asked for stays the query's net units.
    figure = plan(full_erp, "how many units were adjusted this month")
    assert not (isinstance(figure, Plan) and figure.skill == "erp_stock_movements")


def test_a_product_on_order_states_how_many_each_po_brings(full_erp: ErpDatabase) -> None:
    decision, said = answer(full_erp, "is the needle bearing 6204-2rs man tgx on order?")
    assert decision.skill == "erp_purchase_orders"
    on_order = rows(
        full_erp,
        """select po.number, sum(l.quantity) from purchase_order_lines l
           join purchase_orders po on po.id = l.purchase_order_id
           join products p on p.id = l.product_id
           where p.sku = 'BRG-8391' and po.status = 'ordered' group by po.id""",
    )
    assert on_order
    for number, quantity in on_order:
        line = next(line for line in said.splitlines() if line.startswith(f"- {number}:"))
        assert f"{quantity} x BRG-8391" in line


@pytest.mark.parametrize(
    "request_text",
    ["did gierschner pay?", "has petz paid"],
)
def test_did_they_pay_with_nothing_named_declines(full_erp: ErpDatabase, request_text: str) -> None:
    decision = plan(full_erp, request_text)
    assert isinstance(decision, Decline), decision


def test_did_they_pay_anything_in_a_period_is_still_answered(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "did petz pay anything this year")
    assert isinstance(decision, Plan), decision
    assert decision.skill == "erp_payment_history"


def test_a_bare_four_digit_number_is_the_order_it_names(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "tracking no for 4912")
    assert isinstance(decision, Plan), decision
    assert decision.args.order_number == "SO-4912"
    # An amount, a quantity and a year keep their meaning.
    over = plan(full_erp, "orders over 1500")
    assert isinstance(over, Plan) and over.args.amount_above == Decimal(1500)
    year = plan(full_erp, "sales 2024")
    assert isinstance(year, Plan), year
    assert "SO-2024" not in str(year.args)
    # A number that is no order stays unexplained.
    assert isinstance(plan(full_erp, "tracking no for 9999"), Decline)


def test_who_owes_the_most_names_the_top_debtor_first(full_erp: ErpDatabase) -> None:
    _, said = answer(full_erp, "who owes us the most")
    headline = said.splitlines()[0]
    ((name, number),) = rows(
        full_erp,
        """select c.name, c.number from customers c
           join invoices i on i.customer_id = c.id and i.status = 'open'
           group by c.id
           order by sum(i.total_cents - i.paid_cents)
             - coalesce((select sum(p.amount_cents) from payments p
                         where p.customer_id = c.id and p.invoice_id is null), 0)
             - coalesce((select sum(cn.amount_cents) from credit_notes cn
                         join invoices j on j.id = cn.invoice_id
                         where cn.customer_id = c.id and j.status = 'open'), 0) desc
           limit 1""",
    )
    assert headline.startswith(f"{name} (customer {number}) owes the most: net balance €")


def test_a_payment_method_filters_a_figure_of_payments(full_erp: ErpDatabase) -> None:
    decision, said = answer(full_erp, "how much came in by sepa this month")
    assert decision.args.method == "sepa_debit"
    ((cents, count),) = rows(
        full_erp,
        """select sum(amount_cents), count(*) from payments where method = 'sepa_debit'
           and paid_on between '2025-06-01' and '2025-06-30'""",
    )
    assert f"{euros(cents)} over {count} payments" in said
    # Grouped by method, or a method of something that is not a payment: not read so.
    grouped = plan(full_erp, "payments by method this yr")
    assert isinstance(grouped, Plan) and grouped.args.method is None
    assert isinstance(plan(full_erp, "orders paid by paypal last month"), Decline)


def test_reject_as_a_verb_is_the_rejected_status(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "how many returns did we reject last month")
    assert isinstance(decision, Plan), decision
    assert decision.args.status == "rejected"


def test_which_warehouse_has_more_shows_both_top_first(full_erp: ErpDatabase) -> None:
    decision, said = answer(full_erp, "which warehouse has more brake stuff")
    assert (decision.args.subject, decision.args.group_by) == ("stock", "warehouse")
    ranked = rows(
        full_erp,
        """select s.warehouse, sum(s.on_hand) as units from stock_levels s
           join products p on p.id = s.product_id where p.category = 'Brakes'
           group by s.warehouse order by units desc""",
    )
    assert said.index(f"- {ranked[0][0]}:") < said.index(f"- {ranked[1][0]}:")
    for warehouse, units in ranked:
        assert f"- {warehouse}: value {units}" in said
    # "more ... than" is a comparison or a threshold, not the top.
    threshold = plan(full_erp, "which customer bought more than 5 times")
    assert isinstance(threshold, Plan) and threshold.args.rank is None


def test_a_comparison_of_products_bought_names_no_figure_and_declines(
    full_erp: ErpDatabase,
) -> None:
    with full_erp.read_session() as session:
        # More pieces or more euros: the verb alone does not say.
        products = plan_comparison(
            "did the dutch buy more brakes or filters this yr", session, ALL_SKILLS
        )
        markets = plan_comparison(
            "did we sell more to austria or switzerland this yr", session, ALL_SKILLS
        )
    assert isinstance(products, Decline), products
    assert isinstance(markets, Comparison), markets
    assert markets.reading == "No figure was named: compared on sales."


def test_late_purchase_orders_are_those_received_late_or_still_open_past_due(
    full_erp: ErpDatabase,
) -> None:
    decision, said = answer(full_erp, "donau components how many pos late")
    assert decision.args.status == "late"
    ((count,),) = rows(
        full_erp,
        """select count(*) from purchase_orders po join suppliers s on s.id = po.supplier_id
           where s.name = 'Donau Components' and (po.received_date > po.expected_date
           or (po.status = 'ordered' and po.expected_date < '2025-06-30'))""",
    )
    assert count > 0
    assert f"{count} purchase orders" in said
    # "Overdue" stays the open ones past their expected date.
    overdue = plan(full_erp, "overdue pos")
    assert isinstance(overdue, Plan) and overdue.args.status == "overdue"


def test_did_they_pay_an_invoice_is_the_invoice_and_its_payments(full_erp: ErpDatabase) -> None:
    for request in ("did langer pay inv 2025-00907", "has langer paid INV-2025-00907"):
        decision = plan(full_erp, request)
        assert isinstance(decision, Plan), decision
        assert decision.skill == "erp_invoice_lookup", request
    # Without an invoice, a period and "anything" keep the payment history.
    history = plan(full_erp, "did langer pay anything this year")
    assert isinstance(history, Plan) and history.skill == "erp_payment_history"


def test_who_buys_the_most_of_a_product_states_the_units_too(full_erp: ErpDatabase) -> None:
    decision, said = answer(full_erp, "who buys the most needle bearings man tgx")
    assert (decision.args.measure, decision.args.also_measure) == ("value", "units")
    ((name, units),) = rows(
        full_erp,
        """select c.name, sum(l.quantity) as units from sales_order_lines l
           join sales_orders o on o.id = l.order_id join customers c on c.id = o.customer_id
           join products p on p.id = l.product_id
           where p.sku = 'BRG-8391' and o.status != 'cancelled'
           group by c.id order by units desc limit 1""",
    )
    assert f"{name} {units}" in said


def test_a_ranking_of_customers_for_a_category_ranks_their_orders(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "top 3 customers for brakes this year")
    assert isinstance(decision, Plan), decision
    args = decision.args
    assert (args.subject, args.group_by, args.category, args.limit) == (
        "orders",
        "customer",
        "Brakes",
        3,
    )


@pytest.mark.parametrize(
    ("typed", "plain"),
    [
        ("welche kunden sind aktuell gesperrt?", "which customers are blocked"),
        ("wie viel ist im juni an zahlungen reingekommen?", "how much in payments came in in june"),
        ("klausner landtechnik - contact person + email?", "klausner landtechnik contact"),
        (
            "any shipments still in transit that shouldve arrived by now?",
            "shipments running late",
        ),
        ("open POs - how many and total value?", "how many open POs and whats the total"),
        ("revenue mtd?", "revenue this month"),
        ("ist die rechnung 2025-00457 bezahlt?", "is INV-2025-00457 paid"),
        ("invoice 2025-00457 paid?", "INV-2025-00457 paid?"),
        ("top5 customers this year", "top 5 customers this year"),
        ("when did dobes last pay", "dobes last payment"),
        ("wann hat dobes zuletzt bezahlt", "dobes last payment"),
    ],
)
def test_everyday_forms_read_as_the_plain_request(
    full_erp: ErpDatabase, typed: str, plain: str
) -> None:
    assert_read_alike(full_erp, typed, plain)


@pytest.mark.parametrize(
    ("request_text", "reason"),
    [
        # An instruction to act: a list of the supplier's POs would read as done.
        ("order the clutch discs from delta bearings now pls", "asks for an action"),
        ("ship order 4912 today", "asks for an action"),
        # "What's reserved" asks which stock is, not one figure over all of it.
        ("what's reserved right now", "which records"),
        ("what stock is reserved", "which records"),
        # Ordered and arrived: the period may be either date.
        ("which pos that we placed came in last week", "either date"),
    ],
)
def test_a_request_the_reading_would_change_declines(
    full_erp: ErpDatabase, request_text: str, reason: str
) -> None:
    decision = plan(full_erp, request_text)
    assert isinstance(decision, Decline), decision
    assert reason in decision.reason


@pytest.mark.parametrize(
    "request_text",
    ["order 4921 status", "purchase orders from eifel filtertechnik", "email for delta hydraulics"],
)
def test_nouns_that_look_like_actions_are_still_read(
    full_erp: ErpDatabase, request_text: str
) -> None:
    assert isinstance(plan(full_erp, request_text), Plan), request_text


def test_a_comparison_per_group_declines(full_erp: ErpDatabase) -> None:
    with full_erp.read_session() as session:
        grouped = plan_comparison("sales per category q2 vs q1", session, ALL_SKILLS)
        total = plan_comparison("sales q2 vs q1", session, ALL_SKILLS)
    assert isinstance(grouped, Decline) and "per group" in grouped.reason
    assert isinstance(total, Comparison)


def test_what_we_last_paid_for_a_part_stays_our_purchase_price(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "what did we last pay for FLT-2215 and who from")
    assert isinstance(decision, Plan) and decision.skill == "erp_purchase_orders", decision


def test_a_count_after_a_bottom_ranking_is_its_limit(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "smallest 3 invoices this year")
    assert isinstance(decision, Plan), decision
    assert (decision.args.rank, decision.args.limit) == ("lowest", 3)
    # "last 5 months" stays a period.
    period = plan(full_erp, "sales in the last 5 months")
    assert isinstance(period, Plan), period
    assert getattr(period.args, "limit", None) in (None, 20, 25)


def test_the_same_period_last_year_is_the_left_period_a_year_earlier(
    full_erp: ErpDatabase,
) -> None:
    with full_erp.read_session() as session:
        reading = plan_comparison("senn ytd vs same time last yr", session, ALL_SKILLS)
        assert isinstance(reading, Comparison), reading
        result = run_comparison(session, reading)
    assert result is not None
    said = render_text(result)
    for start, end in (("2025-01-01", "2025-06-30"), ("2024-01-01", "2024-06-30")):
        ((cents,),) = rows(
            full_erp,
            """select coalesce(sum(l.line_total_cents), 0) from sales_order_lines l
               join sales_orders o on o.id = l.order_id join customers c on c.id = o.customer_id
               where o.status != 'cancelled' and c.name like 'Senn%'
               and o.order_date between :start and :end""",
            start=start,
            end=end,
        )
        assert euros(cents) in said


@pytest.mark.parametrize(
    ("request_text", "subject", "group"),
    [
        # Suppliers are paid by us: the spending is ours, on purchase orders.
        ("top 3 suppliers by what we spent ytd", "purchase_orders", "supplier"),
        # What customers spend with us is our sales.
        ("which customers spent the most this year", "orders", "customer"),
    ],
)
def test_spending_is_read_by_who_spends(
    full_erp: ErpDatabase, request_text: str, subject: str, group: str
) -> None:
    decision = plan(full_erp, request_text)
    assert isinstance(decision, Plan), decision
    assert (decision.args.subject, decision.args.measure, decision.args.group_by) == (
        subject,
        "value",
        group,
    )
    # With nobody named, "spent" still reads both ways.
    assert isinstance(plan(full_erp, "where did we spend the most last yr"), Decline)
