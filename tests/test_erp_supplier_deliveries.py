"""Suppliers' deliveries and a few more everyday readings, checked against plain SQL.

A purchase order arrives on its received date: "which POs came in late last month" dates the
POs by arrival, "late" means received after the expected date (or still open past it), and
"short" means received with fewer units than ordered on some line. "Late most often" reads
two ways (the most late deliveries, or the largest share late) and goes to the model. Also:
countries left out ("outside germany"), the current half year, "last <month>", a bare year
followed by "total", and a customer's credit limit beside what it owes. Figures come from
the standard sample (``full_erp``, business date 2025-06-30).
"""

from __future__ import annotations

from datetime import date

import pytest

from nova.erp.db import ErpDatabase
from nova.erp.intents import Clarify, Decline, Plan
from tests.erp_helpers import answer_read, assert_read_alike, plan_read, sql_rows

pytest_plugins = ("tests.erp_fixtures",)

LATE = "received_date > expected_date"


def test_pos_that_came_in_late_last_month_are_dated_by_arrival(full_erp: ErpDatabase) -> None:
    plan, answer = answer_read(full_erp, "which POs came in late last month")
    assert plan.args.date_basis == "received" and plan.args.status == "late"
    expected = sql_rows(
        full_erp,
        f"select number from purchase_orders where {LATE} "
        "and received_date between '2025-05-01' and '2025-05-31'",
    )
    assert expected
    assert f"{len(expected)} purchase orders" in answer
    for (number,) in expected[:5]:
        assert number in answer


def test_how_many_pos_arrived_late_last_year_counts_by_arrival(full_erp: ErpDatabase) -> None:
    plan, answer = answer_read(full_erp, "how many POs arrived late last yr")
    (count,) = sql_rows(
        full_erp,
        f"select count(*) from purchase_orders where {LATE} "
        "and received_date between '2024-01-01' and '2024-12-31'",
    )[0]
    assert plan.args.date_basis == "received"
    assert f"{count} purchase orders" in answer


def test_pos_received_in_a_period_are_listed_by_their_received_date(
    full_erp: ErpDatabase,
) -> None:
    plan, answer = answer_read(full_erp, "which po's came in last week")
    numbers = {
        number
        for (number,) in sql_rows(
            full_erp,
            "select number from purchase_orders "
            "where received_date between '2025-06-23' and '2025-06-29'",
        )
    }
    assert plan.args.date_basis == "received"
    assert numbers and all(number in answer for number in numbers)


def test_short_deliveries_list_the_lines_that_came_in_short(full_erp: ErpDatabase) -> None:
    _, answer = answer_read(full_erp, "which pos came in short this year")
    short = sql_rows(
        full_erp,
        "select distinct o.number, p.sku from purchase_orders o "
        "join purchase_order_lines l on l.purchase_order_id = o.id "
        "join products p on p.id = l.product_id "
        "where l.quantity_received < l.quantity and o.status = 'received' "
        "and o.received_date between '2025-01-01' and '2025-06-30'",
    )
    assert short
    for number, sku in short:
        assert number in answer and sku in answer


@pytest.mark.parametrize(
    "text",
    [
        "Which carrier is late most often?",  # the most late parcels, or the largest share?
        "which supplier was late most often this yr",
        "POs ordered in may that arrived late",  # which date is the period's?
        "anything from eifel filtertechnik not arrived yet",  # open, or late?
        "returns this half year - how many and whats the main reason",  # two questions
        "how many orders all time from nordwind and total spend",  # two figures
        "which carrier is late most often, in %",  # a share
    ],
)
def test_readings_that_would_answer_another_question_decline(
    full_erp: ErpDatabase, text: str
) -> None:
    assert isinstance(plan_read(full_erp, text), Decline), text


def test_a_country_left_out_filters_every_other_country(full_erp: ErpDatabase) -> None:
    plan, answer = answer_read(full_erp, "how many customers outside germany")
    (count,) = sql_rows(full_erp, "select count(*) from customers where country <> 'DE'")[0]
    assert plan.args.country == "DE" and plan.args.country_excluded
    assert f"{count} customers" in answer and "outside DE" in answer
    assert_read_alike(
        full_erp, "revenue from non-german customers this year", "revenue this year outside germany"
    )


def test_the_half_year_is_the_half_today_falls_in(full_erp: ErpDatabase) -> None:
    plan = plan_read(full_erp, "top 5 custs for the half year")
    assert isinstance(plan, Plan)
    assert (plan.args.date_from, plan.args.date_to) == (date(2025, 1, 1), date(2025, 6, 30))


def test_last_named_month_is_the_latest_one_that_has_ended(full_erp: ErpDatabase) -> None:
    may = plan_read(full_erp, "revenue last may")
    june = plan_read(full_erp, "revenue last june")  # June 2025 has not ended on the 30th
    assert isinstance(may, Plan) and isinstance(june, Plan)
    assert may.args.date_from == date(2025, 5, 1)
    assert (june.args.date_from, june.args.date_to) == (date(2024, 6, 1), date(2024, 6, 30))


def test_a_bare_year_before_total_is_the_period(full_erp: ErpDatabase) -> None:
    assert_read_alike(full_erp, "umsatz nordwind 2024 gesamt", "revenue nordwind in 2024")
    assert_read_alike(
        full_erp, "credit notes nordwind 2025 + total", "credit notes nordwind in 2025"
    )


def test_a_credit_limit_beside_what_is_owed_is_the_balance(full_erp: ErpDatabase) -> None:
    plan, answer = answer_read(full_erp, "dobes credit limit vs what they owe now")
    (limit,) = sql_rows(
        full_erp, "select credit_limit_cents from customers where name like 'Dobes%'"
    )[0]
    assert plan.skill == "erp_customer_balance"
    assert f"€{limit / 100:,.2f}" in answer
    asked = plan_read(full_erp, "is winkler over his limit")  # two Winklers: which one?
    assert isinstance(asked, Clarify)


def test_the_bottom_of_a_ranking_over_those_that_ordered_reads(full_erp: ErpDatabase) -> None:
    # Those with no orders are no group: "that ordered something" says they are not wanted.
    plan, answer = answer_read(full_erp, "bottom 3 customers by revenue ytd that ordered something")
    rows = sql_rows(
        full_erp,
        "select c.name from sales_orders o join customers c on c.id = o.customer_id "
        "where o.status <> 'cancelled' and o.order_date between '2025-01-01' and '2025-06-30' "
        "group by c.id order by sum(o.total_cents) asc limit 3",
    )
    assert plan.args.rank == "lowest"
    assert all(name in answer for (name,) in rows)
    assert isinstance(plan_read(full_erp, "bottom 3 customers by revenue ytd"), Decline)


def test_express_parcels_and_what_a_parcel_cost(full_erp: ErpDatabase) -> None:
    plan, answer = answer_read(full_erp, "how many express shipments in june")
    (count,) = sql_rows(
        full_erp,
        "select count(*) from shipments where service = 'express' "
        "and shipped_on between '2025-06-01' and '2025-06-30'",
    )[0]
    assert plan.args.status == "express" and f"{count} shipments" in answer
    assert_read_alike(full_erp, "ups avg cost per parcel", "ups average shipping cost per parcel")
    plan, answer = answer_read(full_erp, "which carrier was cheapest per parcel in june")
    (carrier,) = sql_rows(
        full_erp,
        "select carrier from shipments where shipped_on between '2025-06-01' and '2025-06-30' "
        "group by carrier order by avg(cost_cents) asc limit 1",
    )[0]
    assert plan.args.rank == "lowest" and f"Top: {carrier}" in answer


def test_what_a_customer_has_open_is_its_open_invoices(full_erp: ErpDatabase) -> None:
    plan, answer = answer_read(full_erp, "hecker anything open")
    numbers = sql_rows(
        full_erp,
        "select i.number from invoices i join customers c on c.id = i.customer_id "
        "where c.name = 'Hecker Kfz-Teile KG' and i.status = 'open'",
    )
    assert plan.reading == "Read “open” as open invoices."
    assert f"{len(numbers)} invoices" in answer
    assert all(number in answer for (number,) in numbers[:5])


def test_credit_limits_are_averaged_or_ranked_with_the_ties_named(full_erp: ErpDatabase) -> None:
    plan, answer = answer_read(full_erp, "avg credit limit of our customers")
    (average,) = sql_rows(full_erp, "select avg(credit_limit_cents) from customers")[0]
    assert plan.args.measure == "credit_limit"
    assert f"€{average / 100:,.2f}" in answer
    plan, answer = answer_read(full_erp, "customer with the highest credit limit")
    top, tied = sql_rows(
        full_erp,
        "select max(credit_limit_cents), (select count(*) from customers where "
        "credit_limit_cents = (select max(credit_limit_cents) from customers)) from customers",
    )[0]
    assert plan.args.rank == "highest"
    assert f"{tied} share the highest limit, €{top / 100:,.2f}" in answer
    # A sum of limits is no figure anyone extends.
    assert isinstance(plan_read(full_erp, "total credit limit"), Decline)
