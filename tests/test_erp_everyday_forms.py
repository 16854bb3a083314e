"""Everyday forms of requests the readers already answer, checked against plain SQL.

"What did reicher order last" asks for the latest order as "reicher's last order" does (and
when two were placed that day, both are the last one); comparison signs typed before a figure
("overdue >30 days", "orders > 2000 eur") read as the words; "shld have arrived by now" is a
parcel running late; a customer on the phone about an order names nothing to filter on.
Figures come from the standard sample (``full_erp``, business date 2025-06-30).
"""

from __future__ import annotations

from datetime import date

from nova.erp.db import ErpDatabase
from tests.erp_helpers import answer_read, assert_read_alike, plan_read, sql_rows

pytest_plugins = ("tests.erp_fixtures",)


def test_the_last_order_said_with_the_verb_is_the_latest_one(full_erp: ErpDatabase) -> None:
    for said in ("what did reicher order last", "what has reicher last ordered"):
        plan, answer = answer_read(full_erp, said)
        assert plan.args.limit == 1, said
    ((number,),) = sql_rows(
        full_erp,
        "select o.number from sales_orders o join customers c on c.id = o.customer_id "
        "where c.name like 'Reicher%' order by o.order_date desc, o.id desc limit 1",
    )
    assert number in answer
    # "Last week" is a period, not the latest order.
    assert plan_read(full_erp, "what did reicher order last week").args.limit != 1


def test_orders_placed_the_same_day_as_the_last_one_are_shown_with_it(
    full_erp: ErpDatabase,
) -> None:
    rows = sql_rows(
        full_erp,
        "select c.name, o.order_date, count(*) from sales_orders o "
        "join customers c on c.id = o.customer_id "
        "where o.order_date = (select max(order_date) from sales_orders o2 "
        "where o2.customer_id = o.customer_id) group by c.id having count(*) > 1 limit 1",
    )
    assert rows, "the sample has a customer with two orders on its latest day"
    name, day, count = rows[0]
    _, answer = answer_read(full_erp, f"last order from {name}")
    assert answer.count(f"ordered {day}") == count


def test_comparison_signs_read_as_the_words(full_erp: ErpDatabase) -> None:
    assert_read_alike(full_erp, "overdue >30 days", "more than 30 days overdue")
    assert_read_alike(full_erp, "orders > 2000 eur last month", "orders over 2000 eur last month")


def test_a_parcel_that_shld_have_arrived_is_running_late(full_erp: ErpDatabase) -> None:
    said = "any parcels that shld have arrived by now but are still on the road?"
    assert_read_alike(full_erp, said, "shipments running late")


def test_who_is_calling_narrows_nothing(full_erp: ErpDatabase) -> None:
    plan, answer = answer_read(
        full_erp, "customer on the phone about his order ref AM-46031, where is it"
    )
    ((number,),) = sql_rows(
        full_erp, "select number from sales_orders where customer_reference = 'AM-46031'"
    )
    assert plan.args.order_number == number and number in answer


def test_a_late_parcel_is_listed_with_its_tracking_number(full_erp: ErpDatabase) -> None:
    _, answer = answer_read(full_erp, "any parcels that shouldve arrived by now but havent?")
    late = sql_rows(
        full_erp,
        "select number, tracking_number, expected_delivery from shipments "
        "where status = 'in_transit' and expected_delivery < '2025-06-30'",
    )
    assert late
    for number, tracking, expected in late:
        assert f"{number}:" in answer and f"tracking {tracking}, expected {expected}" in answer


def test_a_product_out_of_the_range_says_so(full_erp: ErpDatabase) -> None:
    ((sku,),) = sql_rows(full_erp, "select sku from products where active = 0 limit 1")
    _, answer = answer_read(full_erp, f"is {sku} still in the range")
    assert "inactive" in answer
    ((active,),) = sql_rows(full_erp, "select sku from products where active = 1 limit 1")
    _, answer = answer_read(full_erp, f"is {active} still in the range")
    assert "inactive" not in answer


def test_orders_with_suppliers_are_purchase_orders(full_erp: ErpDatabase) -> None:
    plan, answer = answer_read(full_erp, "welche bestellungen bei lieferanten sind noch offen?")
    assert plan.args.subject == "purchase_orders" and plan.args.status == "open"
    open_pos = sql_rows(full_erp, "select number from purchase_orders where status = 'ordered'")
    assert f"{len(open_pos)} purchase orders" in answer


def test_a_state_asked_about_today_is_the_state_as_of_today(full_erp: ErpDatabase) -> None:
    # "this morning" dates nothing: the overdue invoices as of today, not those issued today.
    ((count, cents),) = sql_rows(
        full_erp,
        "select count(*), sum(total_cents - paid_cents) from invoices "
        "where status = 'open' and due_date < '2025-06-30'",
    )
    _, answer = answer_read(full_erp, "total overdue this morning")
    assert f"€{cents / 100:,.2f} over {count} invoices" in answer
    # Records dated today keep the day: "invoices issued today that are open".
    plan = plan_read(full_erp, "invoices issued today that are open")
    assert plan.args.issued_from == plan.args.issued_to == date(2025, 6, 30)


def test_whats_on_order_from_a_supplier_lists_what_each_po_brings(
    full_erp: ErpDatabase,
) -> None:
    rows = sql_rows(
        full_erp,
        "select po.number, l.quantity - l.quantity_received, p.sku from purchase_orders po "
        "join suppliers s on s.id = po.supplier_id "
        "join purchase_order_lines l on l.purchase_order_id = po.id "
        "join products p on p.id = l.product_id "
        "where s.name = 'Eifel Filtertechnik' and po.status = 'ordered'",
    )
    assert rows
    _, answer = answer_read(full_erp, "evrything on order from eifel filter")
    for number, quantity, sku in rows:
        assert number in answer and f"{quantity} x {sku}" in answer


def test_numbers_said_in_words_read_as_digits(full_erp: ErpDatabase) -> None:
    # Voice typing: "ninety days", a document number said digit by digit or as a compound.
    assert_read_alike(full_erp, "overdue more than ninety days", "overdue more than 90 days")
    for said, typed in (
        ("po one two eight", "po 128"),
        ("po one two oh", "po 120"),
        ("cn seventy one", "cn 71"),
    ):
        spoken, written = plan_read(full_erp, said), plan_read(full_erp, typed)
        assert type(spoken) is type(written) and str(spoken) == str(written), said
    # A lone small number stays a word ("which one", "the last two"): only compounds change.
    from nova.erp.intents.parsing import _numbers_in_digits

    assert _numbers_in_digits("which one is the last two") == "which one is the last two"


def test_homophones_and_contractions_the_next_word_settles(full_erp: ErpDatabase) -> None:
    assert_read_alike(full_erp, "who is over there credit limit", "who is over their credit limit")
    assert_read_alike(
        full_erp, "anything in transit thats running late", "shipments in transit running late"
    )
    assert_read_alike(
        full_erp,
        "thermostat t6 standard.. are we loosing money on it",
        "thermostat t6 standard.. are we losing money on it",
    )
