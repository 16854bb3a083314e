"""General readings of the query plan: a per-record amount, weekdays, due dates ahead, partly
paid invoices, the second of a ranking and a customer left out.

Each answer is checked against plain SQL written here, on the standard sample (``full_erp``,
business date 2025-06-30); each reading has a near request that must still decline.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text

from nova.erp.db import ErpDatabase
from nova.erp.intents import Decline, Plan
from nova.erp.seed import seed_database
from nova.erp.skills import READ_SKILLS, QueryArgs
from tests.erp_helpers import SMALL
from tests.erp_helpers import answer_read as answer
from tests.erp_helpers import plan_read as plan
from tests.erp_helpers import sql_rows as sql

pytest_plugins = ("tests.erp_fixtures",)


def euros(cents: int) -> str:
    return f"{Decimal(cents) / 100:,.2f}"


def test_an_amount_after_records_is_each_records_own_total(full_erp: ErpDatabase) -> None:
    ((count,),) = sql(
        full_erp,
        "select count(*) from sales_orders where status != 'cancelled' and total_cents > 200000 "
        "and order_date between '2025-05-01' and '2025-05-31'",
    )
    decision, shown = answer(full_erp, "orders over 2k last month, how many")
    assert decision.args.amount_above == Decimal(2000) and decision.args.group_by is None
    assert f": {count}" in shown.splitlines()[0] or f" {count} " in shown


def test_overdue_invoices_over_an_amount_are_listed_with_what_they_owe(
    full_erp: ErpDatabase,
) -> None:
    ((count, owed),) = sql(
        full_erp,
        "select count(*), sum(total_cents - paid_cents) from invoices where status = 'open' "
        "and due_date < '2025-06-30' and total_cents > 100000",
    )
    decision, shown = answer(full_erp, "overdue invoices over 1000")
    assert decision.args.status == "overdue" and decision.args.list_rows
    assert f"{count} invoices" in shown and euros(owed) in shown


@pytest.mark.parametrize(
    "request_text",
    [
        "orders with more than 5 lines last month",  # a number of lines, not an amount
        "customers with orders over 5k",  # each order, or the customer's total?
        "orders over at least 2k",  # 'at least': the query compares strictly
    ],
)
def test_near_amount_requests_still_decline(full_erp: ErpDatabase, request_text: str) -> None:
    assert isinstance(plan(full_erp, request_text), Decline)


def test_a_weekday_filters_the_records_date(full_erp: ErpDatabase) -> None:
    ((count, cents),) = sql(
        full_erp,
        "select count(*), sum(amount_cents) from payments where strftime('%w', paid_on) = '6' "
        "and paid_on between '2025-01-01' and '2025-06-30'",
    )
    assert count > 0
    decision, shown = answer(full_erp, "payments received on saturdays this year")
    assert decision.args.weekdays == [6]
    assert f"{count} payments" in shown and euros(cents) in shown


def test_orders_that_came_in_on_a_weekday_are_orders_not_payments(full_erp: ErpDatabase) -> None:
    ((count,),) = sql(
        full_erp,
        "select count(*) from sales_orders where status != 'cancelled' "
        "and strftime('%w', order_date) = '1' and order_date between '2025-01-01' and '2025-06-30'",
    )
    decision, shown = answer(full_erp, "how many orders came in on mondays this year")
    assert decision.args.subject == "orders" and decision.args.weekdays == [1]
    assert f": {count} orders" in shown


def test_a_single_weekday_is_one_date_not_every_such_day(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "payments received on saturday")
    assert isinstance(decision, Plan) and not getattr(decision.args, "weekdays", [])
    assert decision.args.date_from == decision.args.date_to  # the latest Saturday
    assert isinstance(plan(full_erp, "customers on saturdays"), Decline)  # no date to filter


def test_the_weekday_filter_runs_on_postgres(postgres_url: str) -> None:
    database = ErpDatabase(postgres_url)
    seed_database(database, SMALL, reset=True)
    args = QueryArgs(subject="payments", measure="count", weekdays=[0, 6])
    with database.read_session() as session:
        result = READ_SKILLS["erp_query"].run(session, args)
        ((expected,),) = session.execute(
            text("select count(*) from payments where extract(dow from paid_on) in (0, 6)")
        ).all()
    assert next(f.value for f in result.facts if f.key == "value") == expected
    database.dispose()


def test_whats_due_in_a_coming_month_is_the_open_invoices_due_then(full_erp: ErpDatabase) -> None:
    ((count, owed),) = sql(
        full_erp,
        "select count(*), sum(total_cents - paid_cents) from invoices where status = 'open' "
        "and due_date between '2025-07-01' and '2025-07-31'",
    )
    assert count > 0
    decision, shown = answer(full_erp, "whats due in july")
    assert decision.args.date_basis == "due" and decision.args.status == "open"
    assert f"{count} invoices" in shown and euros(owed) in shown


def test_invoices_falling_due_next_week_are_read_ahead(full_erp: ErpDatabase) -> None:
    ((count,),) = sql(
        full_erp,
        "select count(*) from invoices where status = 'open' "
        "and due_date between '2025-07-07' and '2025-07-13'",
    )
    decision, shown = answer(full_erp, "invoices falling due next week")
    assert (decision.args.date_from.isoformat(), decision.args.date_to.isoformat()) == (
        "2025-07-07",
        "2025-07-13",
    )
    assert f"{count} invoices" in shown or (count == 0 and "No invoices" in shown)


@pytest.mark.parametrize(
    "request_text",
    [
        "what fell due in may",  # the ones still open, or every one due then?
        "open invoices due in december",  # last December or the coming one
        "orders due in july",  # orders have no due date
    ],
)
def test_near_due_requests_still_decline(full_erp: ErpDatabase, request_text: str) -> None:
    assert isinstance(plan(full_erp, request_text), Decline)


def test_partly_paid_invoices_are_open_with_some_money_received(full_erp: ErpDatabase) -> None:
    ((count, left),) = sql(
        full_erp,
        "select count(*), sum(total_cents - paid_cents) from invoices where status = 'open' "
        "and paid_cents > 0 and paid_cents < total_cents",
    )
    assert count > 0
    decision, shown = answer(full_erp, "partly paid invoices - how many and whats left on them")
    assert decision.args.status == "partly_paid"
    assert f"{count} invoices" in shown and euros(left) in shown
    _decision, owed = answer(full_erp, "partly paid invoices, whats left on them")
    assert euros(left) in owed


def test_partly_delivered_purchase_orders_still_decline(full_erp: ErpDatabase) -> None:
    assert isinstance(plan(full_erp, "POs that were only partly delivered"), Decline)


_REVENUE_2024 = (
    "select c.name, sum(l.line_total_cents) v from sales_orders o "
    "join sales_order_lines l on l.order_id = o.id join customers c on c.id = o.customer_id "
    "where o.status != 'cancelled' and o.order_date between '2024-01-01' and '2024-12-31' "
    "{where} group by c.id, c.name order by v desc limit 2"
)


def test_the_second_biggest_customer_passes_over_the_first(full_erp: ErpDatabase) -> None:
    (first, _), (second, cents) = sql(full_erp, _REVENUE_2024.format(where=""))
    decision, shown = answer(full_erp, "second biggest customer last year")
    assert decision.args.skip == 1 and decision.args.limit == 1
    assert second in shown and euros(cents) in shown
    assert f"passing over the first {first}" in shown


def test_the_biggest_customer_apart_from_one_leaves_it_out(full_erp: ErpDatabase) -> None:
    (first, _), (second, cents) = sql(full_erp, _REVENUE_2024.format(where=""))
    decision, shown = answer(full_erp, f"biggest customer last year apart from {first}")
    assert decision.args.exclude_customer is not None and decision.args.customer is None
    assert second in shown and euros(cents) in shown


@pytest.mark.parametrize(
    "request_text",
    [
        "second biggest order last year",  # a record, not a ranked group
        "returns this year excluding rejected ones",  # no customer to leave out
        "second customer last year",  # 'second' before no ranking
    ],
)
def test_near_rank_requests_still_decline(full_erp: ErpDatabase, request_text: str) -> None:
    assert isinstance(plan(full_erp, request_text), Decline)
