"""Readings added for blind owner requests: the newest record, "ever", "not <status>",
"by X, not Y", and the guards that keep near requests declining.

Each answer is checked against plain SQL written here, on the standard sample (``full_erp``,
business date 2025-06-30); each reading has a near request that must still decline.
"""

from __future__ import annotations

import pytest

from nova.catalog import default_catalog
from nova.erp.db import ErpDatabase
from nova.erp.intents import Decline, Plan, plan_request
from nova.erp.render import render_text
from nova.erp.skills import READ_SKILLS
from tests.erp_helpers import answer_read as answer
from tests.erp_helpers import plan_read as plan
from tests.erp_helpers import sql_rows as sql

pytest_plugins = ("tests.erp_fixtures",)


def test_a_customers_latest_order_is_that_record_with_its_fields(full_erp: ErpDatabase) -> None:
    # The customer with the most orders, named by its first word as the owner types it.
    (name, number) = sql(
        full_erp,
        "select c.name, o.number from sales_orders o join customers c on c.id = o.customer_id "
        "where c.id = (select customer_id from sales_orders group by customer_id "
        "order by count(*) desc, customer_id limit 1) "
        "order by o.order_date desc, o.id desc limit 1",
    )[0]
    decision, shown = answer(full_erp, f"whats the ref on {name}'s latest order")
    assert decision.skill == "erp_order_status"
    assert decision.args.order_number == number
    assert decision.reading is not None and number in decision.reading
    assert number in shown


def test_the_last_purchase_of_a_product_is_its_newest_po_line(full_erp: ErpDatabase) -> None:
    (sku, po, cost) = sql(
        full_erp,
        "select p.sku, po.number, l.unit_cost_cents from purchase_order_lines l "
        "join purchase_orders po on po.id = l.purchase_order_id "
        "join products p on p.id = l.product_id "
        "order by po.order_date desc, po.id desc limit 1",
    )[0]
    newest = sql(
        full_erp,
        "select po.number from purchase_order_lines l join purchase_orders po "
        "on po.id = l.purchase_order_id join products p on p.id = l.product_id "
        f"where p.sku = '{sku}' order by po.order_date desc, po.id desc limit 1",
    )[0][0]
    assert newest == po
    decision, shown = answer(full_erp, f"what did we last pay for {sku} and who from")
    assert decision.skill == "erp_purchase_orders" and decision.args.po_number == po
    assert f"{cost / 100:.2f}" in shown


def test_when_we_last_sold_a_product_leaves_cancelled_orders_out(full_erp: ErpDatabase) -> None:
    (sku,) = sql(
        full_erp,
        "select p.sku from sales_order_lines l join products p on p.id = l.product_id "
        "join sales_orders o on o.id = l.order_id where o.status = 'cancelled' limit 1",
    )[0]
    expected = sql(
        full_erp,
        "select o.number from sales_order_lines l join sales_orders o on o.id = l.order_id "
        f"join products p on p.id = l.product_id where p.sku = '{sku}' "
        "and o.status <> 'cancelled' order by o.order_date desc, o.id desc limit 1",
    )[0][0]
    decision = plan(full_erp, f"when did we last sell {sku}")
    assert isinstance(decision, Plan) and decision.args.order_number == expected


@pytest.mark.parametrize(
    "request_text",
    [
        "when did we last sell",  # sell what?
        "the last order",  # the newest of all is rarely what is meant
        "last order from suter garage and what else did they buy this year",
    ],
)
def test_a_newest_record_without_its_owner_or_with_other_questions_declines(
    full_erp: ErpDatabase, request_text: str
) -> None:
    decision = plan(full_erp, request_text)
    assert not (isinstance(decision, Plan) and decision.reading and "latest" in decision.reading), (
        decision
    )


def test_ever_reads_all_records_but_not_todays_state(full_erp: ErpDatabase) -> None:
    (number, amount) = sql(
        full_erp, "select number, amount_cents from credit_notes order by amount_cents desc limit 1"
    )[0]
    decision, shown = answer(full_erp, "largest credit note we ever issued")
    assert decision.args.date_from is None and decision.args.date_to is None
    assert number in shown and f"{amount / 100:,.2f}" in shown
    # Products have no date: "ever" would answer with today's prices.
    assert isinstance(plan(full_erp, "did we ever sell below cost"), Decline)
    assert isinstance(plan(full_erp, "orders ever last month"), Decline)


def test_not_shipped_is_the_open_orders_without_cancelled_ones(full_erp: ErpDatabase) -> None:
    decision, shown = answer(full_erp, "orders not shipped yet")
    assert decision.args.status == "not_shipped"
    (count,) = sql(
        full_erp,
        "select count(*) from sales_orders where status not in ('shipped', 'delivered') "
        "and status <> 'cancelled'",
    )[0]
    assert shown.startswith(f"{count} orders") or f"{count} order" in shown.splitlines()[0]
    decision, _ = answer(full_erp, "orders not yet delivered")
    assert decision.args.status == "not_delivered"
    # A "not" before something that is no status stays unplaced.
    assert isinstance(plan(full_erp, "orders not from germany"), Decline)


def test_a_ruled_out_measure_keeps_the_named_one(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "top 5 customers this yr by number of orders not value")
    assert isinstance(decision, Plan)
    assert decision.args.measure == "count" and decision.args.limit == 5
    # The figure ruled out is the only one named: nothing is left to compute.
    assert isinstance(plan(full_erp, "top customers by value not value"), Decline)


@pytest.mark.parametrize(
    "request_text",
    [
        "how many orders last wk and how many of them got cancelled",
        "what % of sales this yr came from germany",
        "how many orders will we get in july",
        "sales to dutch customers - per customer avg, not total, last yr",
    ],
)
def test_requests_the_skills_would_answer_only_in_part_decline(
    full_erp: ErpDatabase, request_text: str
) -> None:
    assert isinstance(plan(full_erp, request_text), Decline)


def test_a_record_of_some_customer_is_ranked_by_itself(full_erp: ErpDatabase) -> None:
    (number,) = sql(
        full_erp,
        "select i.number from invoices i join customers c on c.id = i.customer_id "
        "where i.status = 'open' and c.country = 'CH' "
        "order by i.total_cents - i.paid_cents desc limit 1",
    )[0]
    decision, shown = answer(full_erp, "biggest open invoice of a swiss customer")
    assert decision.args.group_by is None and decision.args.limit == 1
    assert number in shown


def test_a_supplier_named_in_full_wins_over_a_customer_a_letter_away(
    full_erp: ErpDatabase,
) -> None:
    # The sample holds the supplier Brenner Hydraulics and the customer Renner Autohaus.
    assert sql(full_erp, "select 1 from suppliers where name = 'Brenner Hydraulics'")
    assert sql(full_erp, "select 1 from customers where name like 'Renner %'")
    decision = plan(full_erp, "last po to brenner hydraulics")
    assert isinstance(decision, Plan) and decision.skill == "erp_purchase_orders"
    assert decision.reading is not None and "Brenner Hydraulics" in decision.reading
    # A supplier has no balance the ERP keeps: not Renner's balance either.
    assert isinstance(plan(full_erp, "brenner balance"), Decline)


def test_a_german_request_is_read_as_english_and_says_so(full_erp: ErpDatabase) -> None:
    decision, shown = answer(full_erp, "umsatz letzter monat")
    assert decision.reading is not None and "revenue last month" in decision.reading
    (cents,) = sql(
        full_erp,
        "select sum(l.line_total_cents) from sales_order_lines l join sales_orders o "
        "on o.id = l.order_id where o.status <> 'cancelled' "
        "and o.order_date between '2025-05-01' and '2025-05-31'",
    )[0]
    assert f"{cents / 100:,.2f}" in shown
    decision, _ = answer(full_erp, "wie viele aufträge sind noch nicht raus")
    assert decision.args.status == "not_shipped" and decision.args.measure == "count"
    # A word neither table nor dictionary explains stays as typed, and the reader declines.
    assert isinstance(plan(full_erp, "umsatz mit quatschwort letzter monat"), Decline)


def test_english_requests_are_not_translated(full_erp: ErpDatabase) -> None:
    # "was" and "die" are German words too; an English request keeps them.
    for request_text in ("what was our revenue last month", "sales was up?"):
        decision = plan(full_erp, request_text)
        assert not (
            isinstance(decision, Plan) and decision.reading and "German" in decision.reading
        )


def test_margin_of_several_products_lists_each_one(full_erp: ErpDatabase) -> None:
    decision, shown = answer(full_erp, "margin on oil filters")
    assert decision.args.list_rows
    rows = sql(
        full_erp,
        "select sku, round((unit_price_cents - cost_cents) * 100.0 / unit_price_cents, 1) "
        "from products where name like 'Oil Filter%'",
    )
    assert len(rows) == len(decision.args.products)
    for sku, margin in rows:
        assert f"{sku}:" in shown and f"{margin:.1f}%" in shown


def test_customers_with_open_invoices_are_listed_with_what_is_open(full_erp: ErpDatabase) -> None:
    decision, shown = answer(full_erp, "customers in switzerland with open invoices")
    assert decision.args.subject == "customers"
    assert decision.args.customer_condition == "open_invoices"
    rows = sql(
        full_erp,
        "select c.name, sum(i.total_cents - i.paid_cents) from invoices i join customers c "
        "on c.id = i.customer_id where i.status = 'open' and c.country = 'CH' "
        "group by c.id having sum(i.total_cents - i.paid_cents) > 0",
    )
    assert shown.splitlines()[0].startswith(f"{len(rows)} customers")
    for name, cents in rows:
        assert name in shown and f"{cents / 100:,.2f}" in shown
    # Customers picked by another status of their records: no reading kept, so it declines.
    assert isinstance(plan(full_erp, "swiss customers with overdue invoices"), Decline)


def test_an_order_named_by_the_customers_reference_is_that_order(full_erp: ErpDatabase) -> None:
    (reference, number, name) = sql(
        full_erp,
        "select o.customer_reference, o.number, c.name from sales_orders o "
        "join customers c on c.id = o.customer_id where o.customer_reference is not null "
        "and (select count(*) from sales_orders x "
        "where x.customer_reference = o.customer_reference) = 1 limit 1",
    )[0]
    decision, shown = answer(
        full_erp, f"customer says their ref is {reference}, which order is that + has it shipped"
    )
    assert decision.skill == "erp_order_status" and decision.args.order_number == number
    assert decision.reading == f"Customer reference {reference} is order {number} of {name}."
    assert reference in shown
    # Another customer named beside it: not that customer's order, so no answer about it.
    other = sql(full_erp, f"select name from customers where name <> '{name}' limit 1")[0][0]
    decision = plan(full_erp, f"{other} ref {reference}")
    assert not (isinstance(decision, Plan) and decision.reading and reference in decision.reading)


def test_oldest_lists_dated_records_earliest_first(full_erp: ErpDatabase) -> None:
    (number,) = sql(
        full_erp,
        "select number from purchase_orders where status <> 'received' "
        "order by order_date, number limit 1",
    )[0]
    decision, shown = answer(full_erp, "oldest PO still not delivered?")
    assert decision.args.oldest_first and decision.args.limit == 1
    assert decision.args.status == "not_received"
    assert number in shown.splitlines()[1]
    # Customers have no date of their own to be oldest by here: declined.
    assert isinstance(plan(full_erp, "oldest customer"), Decline)


def test_a_negated_multiword_status_is_read(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "orders that havent gone out yet")
    assert isinstance(decision, Plan) and decision.args.status == "not_shipped"


def test_what_a_customer_pays_for_a_part_is_their_price(full_erp: ErpDatabase) -> None:
    (sku, price, discount) = sql(
        full_erp,
        "select p.sku, p.unit_price_cents, c.discount_pct from products p, customers c "
        "where c.name like 'Acme%' and c.discount_pct > 0 and p.active = 1 limit 1",
    )[0]
    decision, shown = answer(full_erp, f"what does acme pay for {sku}")
    assert decision.skill == "erp_price_list" and decision.args.customer is not None
    assert f"{price * (100 - discount) / 10000:,.2f}" in shown


def test_german_payment_terms_and_tracking_words_are_read(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "zahlungsziel und kreditlimit von müller metallbau?")
    assert isinstance(decision, Plan) and decision.skill == "erp_find_customer"
    (order,) = sql(
        full_erp,
        "select o.number from shipments s join sales_orders o on o.id = s.order_id limit 1",
    )[0]
    decision = plan(full_erp, f"sendungsnummer für {order}?")
    assert isinstance(decision, Plan) and decision.skill == "erp_shipment_status"


def test_purchase_orders_are_found_by_the_products_on_their_lines(full_erp: ErpDatabase) -> None:
    (sku,) = sql(
        full_erp,
        "select p.sku from purchase_order_lines l join purchase_orders po "
        "on po.id = l.purchase_order_id join products p on p.id = l.product_id "
        "where po.status = 'ordered' limit 1",
    )[0]
    expected = sql(
        full_erp,
        "select distinct po.number, po.total_cents from purchase_order_lines l "
        "join purchase_orders po on po.id = l.purchase_order_id "
        f"join products p on p.id = l.product_id where p.sku = '{sku}' and po.status = 'ordered'",
    )
    # With the stock agent's skills (no purchase-order list), the general query answers it.
    tools = default_catalog()["erp_inventory"].tools
    with full_erp.read_session() as session:
        decision = plan_request(f"anything on order for {sku}", session, tools)
        assert isinstance(decision, Plan) and decision.args.subject == "purchase_orders"
        shown = render_text(READ_SKILLS[decision.skill].run(session, decision.args))
    total = sum(cents for _, cents in expected) / 100
    # Each purchase order once, its own total once (not once per line).
    assert shown.splitlines()[0].startswith(f"{len(expected)} purchase order")
    assert f"€{total:,.2f}" in shown.splitlines()[0]
    for number, _cents in expected:
        assert number in shown


@pytest.mark.parametrize(
    "request_text",
    [
        # An action: a list of what it is about would read as done.
        "reorder everything under reorder point in ulm",
        "refund RMA-2025-0094 for drewes",
        # A second condition on the same records.
        "biggest customer this yr that also has something overdue",
    ],
)
def test_actions_and_also_conditions_are_not_answered_by_a_lookup(
    full_erp: ErpDatabase, request_text: str
) -> None:
    assert not isinstance(plan(full_erp, request_text), Plan)


def test_unpaid_and_open_invoices_are_listed_and_filtered_by_what_is_owed(
    full_erp: ErpDatabase,
) -> None:
    from nova.erp.skills import QueryArgs

    (count, owed) = sql(
        full_erp,
        "select count(*), sum(total_cents - paid_cents) from invoices where status = 'open' "
        "and total_cents - paid_cents > 200000",
    )[0]
    args = QueryArgs(subject="invoices", status="open", amount_above=2000, list_rows=True)
    with full_erp.read_session() as session:
        shown = render_text(READ_SKILLS["erp_query"].run(session, args))
    assert shown.splitlines()[0].startswith(f"{count} invoices")
    assert f"€{owed / 100:,.2f}" in shown.splitlines()[0]
    _decision, shown = answer(full_erp, "orders not delivered yet")
    statuses = {
        s
        for (s,) in sql(
            full_erp,
            "select distinct status from sales_orders where status in ('open', 'shipped')",
        )
    }
    for status in statuses:
        assert f", {status}," in shown  # each order says where it stands
