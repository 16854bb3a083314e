"""The structured reading (measure × subject × grouping × filters × period) and ``erp_query``.

Figures are checked against plain SQL written here (an oracle independent of the query
builder), on the standard sample (``full_erp``, anchor 2025-06-30) and on Postgres.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from nova.erp.db import ErpDatabase
from nova.erp.intents import Decline, Plan, plan_request
from nova.erp.intents.structured import _AFTER_SUPERLATIVE
from nova.erp.render import render_text
from nova.erp.resolve import PeriodError, find_period
from nova.erp.seed import seed_database
from nova.erp.skills import READ_SKILLS, QueryArgs
from tests.erp_helpers import SMALL

pytest_plugins = ("tests.erp_fixtures",)

ALL_SKILLS = list(READ_SKILLS)


def plan(database: ErpDatabase, request: str, tools: list[str] | None = None) -> Any:
    with database.read_session() as session:
        return plan_request(request, session, tools or ALL_SKILLS)


def answer(database: ErpDatabase, request: str) -> tuple[Plan, str, Any]:
    decision = plan(database, request)
    assert isinstance(decision, Plan), decision
    with database.read_session() as session:
        result = READ_SKILLS[decision.skill].run(session, decision.args)
    return decision, render_text(result), result


def sql(database: ErpDatabase, query: str) -> Any:
    with database.read_session() as session:
        return session.execute(text(query)).all()


def test_a_count_over_a_period_is_read_and_matches_sql(full_erp: ErpDatabase) -> None:
    decision, answer_text, _ = answer(full_erp, "how many invoices did we raise last year")
    assert decision.skill == "erp_query"
    assert decision.args.subject == "invoices" and decision.args.measure == "count"
    assert (decision.args.date_from, decision.args.date_to) == (
        date(2024, 1, 1),
        date(2024, 12, 31),
    )
    (count,) = sql(
        full_erp,
        "select count(*) from invoices where issue_date between '2024-01-01' and '2024-12-31'",
    )[0]
    headline = answer_text.splitlines()[0]
    assert f"{count:,}" in headline and "issue date 2024-01-01 to 2024-12-31" in headline


def test_a_grouping_is_applied_and_every_group_matches_sql(full_erp: ErpDatabase) -> None:
    decision, _, result = answer(full_erp, "receivables by country")
    assert decision.args.group_by == "country" and decision.args.measure == "open_amount"
    expected = {
        country: (Decimal(cents) / 100).quantize(Decimal("0.01"))
        for country, cents in sql(
            full_erp,
            "select c.country, sum(i.total_cents - i.paid_cents) from invoices i join customers c "
            "on c.id = i.customer_id where i.status = 'open' group by c.country",
        )
    }
    assert {row.id: row.value for row in result.rows} == expected


def test_a_grouping_a_list_skill_would_drop_goes_to_the_query(full_erp: ErpDatabase) -> None:
    # erp_returns lists returns; "by reason" must not be answered with a plain list.
    decision, _, result = answer(full_erp, "returns by reason this year")
    assert decision.skill == "erp_query" and decision.args.group_by == "reason"
    counts = dict(
        sql(
            full_erp,
            "select reason, count(*) from returns where requested_on between '2025-01-01' and "
            "'2025-06-30' group by reason",
        )
    )
    assert {row.id: row.value for row in result.rows} == counts
    without_query = plan(full_erp, "returns by reason this year", ["erp_returns"])
    assert isinstance(without_query, Decline) and "group" in without_query.reason


def test_a_ranking_keeps_ties_and_says_so(full_erp: ErpDatabase) -> None:
    _, answer_text, result = answer(full_erp, "who returns the most stuff")
    top = sql(
        full_erp,
        "select count(*) n from returns group by customer_id order by n desc limit 1",
    )[0][0]
    tied = sql(
        full_erp,
        f"select count(*) from (select customer_id from returns group by customer_id "
        f"having count(*) = {top}) t",
    )[0][0]
    assert len(result.rows) == tied and all(row.value == top for row in result.rows)
    assert ("Tied at the top" if tied > 1 else "Top:") in answer_text.splitlines()[0]


def test_the_answer_states_what_was_left_out(full_erp: ErpDatabase) -> None:
    _, answer_text, _ = answer(full_erp, "avg order value this year")
    headline = answer_text.splitlines()[0]
    assert "cancelled orders excluded" in headline and "in total" in headline
    ((average,),) = sql(
        full_erp,
        "select avg(total_cents) from sales_orders where status != 'cancelled' and order_date "
        "between '2025-01-01' and '2025-06-30'",
    )
    assert f"€{Decimal(str(average / 100)).quantize(Decimal('0.01')):,}" in headline


@pytest.mark.parametrize(
    "request_text",
    [
        "how many invoices did we send by fax",  # a word nothing in the schema explains
        "how many FLT-2215 can i actually sell",  # what could happen, not what happened
        "slowest sellers this year",  # products with no sales are no group: bottom unknown
        "top 5 invoices of Nordwind",  # top by what?
        "how many orders per carrier",  # orders are not grouped by carrier
    ],
)
def test_what_cannot_be_applied_declines(full_erp: ErpDatabase, request_text: str) -> None:
    assert isinstance(plan(full_erp, request_text), Decline)


def test_a_payment_number_shows_whether_it_was_applied(full_erp: ErpDatabase) -> None:
    ((number, applied),) = sql(
        full_erp, "select number, invoice_id from payments where invoice_id is null limit 1"
    )
    assert applied is None
    decision, answer_text, _ = answer(full_erp, f"what invoice did {number.lower()} go against")
    assert decision.args.number == number
    assert "not applied to any invoice" in answer_text.splitlines()[0]


def test_a_product_description_is_applied_as_every_product_it_fits(full_erp: ErpDatabase) -> None:
    decision, answer_text, _ = answer(full_erp, "how many oil filters did we sell this year")
    assert decision.args.measure == "units"
    skus = {r[0] for r in sql(full_erp, "select sku from products where name like 'Oil Filter%'")}
    assert set(decision.args.products) == skus
    ((units,),) = sql(
        full_erp,
        "select sum(l.quantity) from sales_order_lines l join sales_orders o on o.id = l.order_id "
        "join products p on p.id = l.product_id where p.name like 'Oil Filter%' and o.status != "
        "'cancelled' and o.order_date between '2025-01-01' and '2025-06-30'",
    )
    assert f"{units:,}" in answer_text.splitlines()[0]


def test_the_plan_is_validated_against_the_schema() -> None:
    with pytest.raises(ValidationError, match="cannot be grouped by carrier"):
        QueryArgs(subject="invoices", group_by="carrier")
    with pytest.raises(ValidationError, match="no measure 'units'"):
        QueryArgs(subject="invoices", measure="units")
    with pytest.raises(ValidationError, match="no status 'late'"):
        QueryArgs(subject="orders", status="late")


def test_the_query_runs_on_postgres(postgres_url: str) -> None:
    database = ErpDatabase(postgres_url)
    seed_database(database, SMALL, reset=True)
    skill = READ_SKILLS["erp_query"]
    by_month = QueryArgs(subject="orders", measure="value", group_by="month")
    transit = QueryArgs(subject="shipments", measure="days_in_transit", group_by="carrier")
    with database.read_session() as session:
        months = skill.run(session, by_month)
        carriers = skill.run(session, transit)
        expected = session.execute(
            text(
                "select to_char(o.order_date, 'YYYY-MM'), sum(l.line_total_cents) from "
                "sales_orders o join sales_order_lines l on l.order_id = o.id where o.status != "
                "'cancelled' group by 1 order by 1"
            )
        ).all()
    assert [(r.id, r.value) for r in months.rows] == [
        (month, (Decimal(cents) / 100).quantize(Decimal("0.01"))) for month, cents in expected
    ]
    assert carriers.rows and all(row.value is not None for row in carriers.rows)
    database.dispose()


# --- coverage without losing precision (issue 13) --------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("h2 last year revenue", date(2024, 7, 1), date(2024, 12, 31)),
        ("first half this year", date(2025, 1, 1), date(2025, 6, 30)),
        ("invoices in q1 last year", date(2024, 1, 1), date(2024, 3, 31)),
    ],
)
def test_a_half_or_quarter_of_a_relative_year_is_one_period(
    text: str, start: date, end: date
) -> None:
    period = find_period(text, date(2025, 6, 30))
    assert period is not None and (period.start, period.end) == (start, end)


def test_two_halves_of_different_years_are_still_two_periods() -> None:
    with pytest.raises(PeriodError, match="more than one period"):
        find_period("h2 last year vs h1 this year revenue", date(2025, 6, 30))


def test_a_nationality_on_customers_filters_the_records_by_country(full_erp: ErpDatabase) -> None:
    decision, answer_text, _ = answer(full_erp, "payments from uk customers ytd")
    args = decision.args
    assert (args.subject, args.country) == ("payments", "GB")
    ((count, cents),) = sql(
        full_erp,
        "select count(*), sum(p.amount_cents) from payments p join customers c on c.id = "
        "p.customer_id where c.country = 'GB' and p.paid_on between '2025-01-01' and '2025-06-30'",
    )
    headline = answer_text.splitlines()[0]
    assert f"{count} payments" in headline and f"€{Decimal(cents) / 100:,}" in headline
    decision, _, _ = answer(full_erp, "overdue from swiss custs")
    assert (decision.args.subject, decision.args.status, decision.args.country) == (
        "invoices",
        "overdue",
        "CH",
    )


def test_customers_counted_next_to_a_country_are_not_read_as_their_records(
    full_erp: ErpDatabase,
) -> None:
    # The customers are what is counted here; the payments' country filter would count payments.
    assert isinstance(plan(full_erp, "how many uk customers paid this year"), Decline)


def test_money_received_and_supplier_spend_are_read_as_their_sums(full_erp: ErpDatabase) -> None:
    decision, _, _ = answer(full_erp, "money in per month this yr")
    assert (decision.args.subject, decision.args.measure, decision.args.group_by) == (
        "payments",
        "value",
        "month",
    )
    decision, _, _ = answer(full_erp, "how much did we spend with suppliers in may")
    assert (decision.args.subject, decision.args.measure) == ("purchase_orders", "value")
    assert decision.args.supplier is None and decision.args.group_by is None


@pytest.mark.parametrize(
    "request_text",
    [
        "how many suppliers did we spend with in may",  # counts suppliers, not orders
        "money in by carrier",  # payments have no carrier
    ],
)
def test_near_money_figures_still_decline(full_erp: ErpDatabase, request_text: str) -> None:
    assert isinstance(plan(full_erp, request_text), Decline)


def test_who_with_names_the_counterpart_and_who_alone_the_raiser(full_erp: ErpDatabase) -> None:
    decision, _, _ = answer(full_erp, "who did we raise the most pos with this year")
    assert decision.args.group_by == "supplier"
    decision, _, _ = answer(full_erp, "who raised the most pos this year")
    assert decision.args.group_by == "buyer"


def test_a_code_after_a_superlative_is_the_product_not_a_limit(full_erp: ErpDatabase) -> None:
    decision, _, result = answer(full_erp, "cheapest 5w30")
    assert decision.args.limit == 1 and len(result.rows) == 1
    # A number alone after the superlative stays a count of products ("cheapest 5 filters").
    assert _AFTER_SUPERLATIVE.search("cheapest 5 filters") is None
    assert _AFTER_SUPERLATIVE.search("cheapest 5w30").group(1) == "5w30"


def test_a_threshold_on_a_customer_figure_keeps_the_groups_above_it(full_erp: ErpDatabase) -> None:
    decision, answer_text, result = answer(full_erp, "customers who spent over 10k this year")
    args = decision.args
    assert (args.subject, args.measure, args.group_by, args.above) == (
        "orders",
        "value",
        "customer",
        Decimal(10000),
    )
    kept = sql(
        full_erp,
        "select c.name, sum(o.total_cents) v from sales_orders o join customers c on c.id = "
        "o.customer_id where o.status != 'cancelled' and o.order_date between '2025-01-01' and "
        "'2025-06-30' group by c.name having sum(o.total_cents) > 1000000",
    )
    assert {row.id for row in result.rows} == {name for name, _v in kept}
    assert f"({len(kept)} groups)" in answer_text.splitlines()[0]
    decision, answer_text, _ = answer(
        full_erp, "how many customers ordered more than 3 times this year"
    )
    assert (decision.args.measure, decision.args.above) == ("count", Decimal(3))
    ((count,),) = sql(
        full_erp,
        "select count(*) from (select customer_id from sales_orders where status != 'cancelled' "
        "and order_date between '2025-01-01' and '2025-06-30' group by customer_id "
        "having count(*) > 3) t",
    )
    assert f"({count} groups)" in answer_text.splitlines()[0]


@pytest.mark.parametrize(
    "request_text",
    [
        "customers with orders over 5k",  # each order over 5k, or their total?
        "customers who spent at least 10k this year",  # the query compares strictly
        "how much did we spend in may",  # bare "spend": our purchases or theirs
        # Owing: the net balance (the reading's "owe") or the open invoices? They differ.
        "how many custs owe us more than 2000",
    ],
)
def test_near_thresholds_still_decline(full_erp: ErpDatabase, request_text: str) -> None:
    decision = plan(full_erp, request_text)
    assert not (isinstance(decision, Plan) and decision.skill == "erp_query"), decision


def test_a_year_after_a_comparison_is_an_amount() -> None:
    assert find_period("open invoices over 2000", date(2025, 6, 30)) is None
    period = find_period("revenue 2024", date(2025, 6, 30))
    assert period is not None and period.start == date(2024, 1, 1)


def test_a_future_period_after_due_is_read_as_due_dates(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "invoices due next week")
    assert isinstance(decision, Plan) and decision.skill == "erp_invoice_lookup"
    assert (decision.args.due_from, decision.args.due_to) == (date(2025, 7, 7), date(2025, 7, 13))
    # Without "due" the future period dates the invoices themselves: none exist yet.
    assert isinstance(plan(full_erp, "invoices issued next week"), Decline)


def test_what_a_named_carrier_took_is_its_shipments(full_erp: ErpDatabase) -> None:
    decision, answer_text, _ = answer(full_erp, "how many parcels did ups take this yr")
    assert (decision.args.subject, decision.args.measure, decision.args.carrier) == (
        "shipments",
        "count",
        "UPS",
    )
    ((count,),) = sql(
        full_erp,
        "select count(*) from shipments where carrier = 'UPS' and shipped_on between "
        "'2025-01-01' and '2025-06-30'",
    )
    assert f"{count:,} shipments" in answer_text.splitlines()[0]
    # Without a carrier "take" is no shipment verb ("how much did we take in may": money?).
    assert isinstance(plan(full_erp, "how much did we take in may"), Decline)


def test_who_paid_asks_for_payers_not_the_payment_list(full_erp: ErpDatabase) -> None:
    # One row per payment would count a customer who paid twice twice.
    assert isinstance(plan(full_erp, "who paid by paypal last month"), Decline)
    decision = plan(full_erp, "payments by paypal last month")
    assert isinstance(decision, Plan) and decision.skill == "erp_payment_history"


def test_late_deliveries_over_a_period_decline_and_without_one_are_counted(
    full_erp: ErpDatabase,
) -> None:
    # Late is reached on the delivery day: "in june" may date the shipping or the delivery.
    assert isinstance(plan(full_erp, "late deliveries in june by carrier"), Decline)
    decision, _, _ = answer(full_erp, "late deliveries by carrier")
    assert (decision.args.status, decision.args.group_by) == ("late", "carrier")


def test_a_grouping_with_no_figure_named_states_sums_and_counts(full_erp: ErpDatabase) -> None:
    decision, _, result = answer(full_erp, "credit notes per month since jan")
    assert (decision.args.measure, decision.args.group_by) == ("value", "month")
    by_month = {
        month: (Decimal(cents) / 100, n)
        for month, cents, n in sql(
            full_erp,
            "select strftime('%Y-%m', issue_date), sum(amount_cents), count(*) from credit_notes "
            "where issue_date between '2025-01-01' and '2025-06-30' group by 1",
        )
    }
    assert {row.id: (row.value, row.count) for row in result.rows} == by_month
    # "how many" names the figure: the count alone.
    decision, _, _ = answer(full_erp, "how many credit notes per month since jan")
    assert decision.args.measure == "count"


def test_a_description_outside_the_named_category_is_not_applied_with_it(
    full_erp: ErpDatabase,
) -> None:
    # "3 discs" fits only clutch discs "3-piece", none in Brakes: both filters = "none match".
    decision = plan(full_erp, "cheapest 3 brake discs")
    assert not (isinstance(decision, Plan) and decision.skill == "erp_query"), decision
    decision, _, result = answer(full_erp, "cheapest brake disc")
    assert decision.args.limit == 1 and len(result.rows) == 1


def test_count_after_the_records_and_writing_invoices_are_read(full_erp: ErpDatabase) -> None:
    decision, _, _ = answer(full_erp, "invoice count per month 2025")
    assert (decision.args.subject, decision.args.measure, decision.args.group_by) == (
        "invoices",
        "count",
        "month",
    )
    decision, answer_text, _ = answer(full_erp, "how many invoices did we write in q1")
    assert (decision.args.date_from, decision.args.date_to) == (date(2025, 1, 1), date(2025, 3, 31))
    ((count,),) = sql(
        full_erp,
        "select count(*) from invoices where issue_date between '2025-01-01' and '2025-03-31'",
    )
    assert f"{count:,} invoices" in answer_text.splitlines()[0]
    # Bare "count" before a product asks for a stock count (a write), not a figure.
    assert isinstance(plan(full_erp, "count FLT-2215 again"), Decline)


def test_fastest_carrier_ranks_transit_days_from_the_bottom(full_erp: ErpDatabase) -> None:
    decision, answer_text, _ = answer(full_erp, "fastest carrier")
    args = decision.args
    assert (args.measure, args.group_by, args.rank, args.limit) == (
        "days_in_transit",
        "carrier",
        "lowest",
        1,
    )
    ((carrier, _days),) = sql(
        full_erp,
        "select carrier, avg(julianday(delivered_on) - julianday(shipped_on)) d from shipments "
        "where delivered_on is not null group by carrier order by d asc limit 1",
    )
    assert f"Top: {carrier} (" in answer_text.splitlines()[0]
    # "fastest" of anything without a duration the reading knows declines.
    assert isinstance(plan(full_erp, "fastest product"), Decline)


# --- purchasing and suppliers ---------------------------------------------------------------


def _shared_head_supplier(database: ErpDatabase) -> tuple[int, str, str]:
    """A supplier whose first name word another supplier shares: (id, head, clipped word)."""
    rows = sql(database, "select id, name from suppliers order by id")
    heads: dict[str, list[tuple[int, str]]] = {}
    for supplier_id, name in rows:
        heads.setdefault(name.split()[0].lower(), []).append((supplier_id, name))
    for head, named in heads.items():
        if len(named) > 1:
            supplier_id, name = named[0]
            second = name.split()[1].lower()
            assert all(n.split()[1].lower() != second for _, n in named[1:])
            return supplier_id, head, second[:6]
    pytest.skip("no two suppliers share a first word")


def test_open_purchase_orders_of_a_supplier_by_a_clipped_name(full_erp: ErpDatabase) -> None:
    supplier_id, head, clipped = _shared_head_supplier(full_erp)
    for request_text in (
        f"what have we got on order from {head} {clipped}",
        f"is anything due in from {head} {clipped}",
    ):
        decision, answer_text, result = answer(full_erp, request_text)
        assert (
            decision.skill == "erp_purchase_orders"
            and decision.args.model_dump()["status"] == "open"
        )
        assert decision.reading and "Open purchase orders" in decision.reading
        ((count, cents),) = sql(
            full_erp,
            "select count(*), coalesce(sum(total_cents), 0) from purchase_orders "
            f"where status = 'ordered' and supplier_id = {supplier_id}",
        )
        assert result.total_rows == count
        assert f"€{cents / 100:,.2f}" in answer_text.splitlines()[0] or count == 0
    # The head alone still names two suppliers: asked back, not guessed.
    assert not isinstance(plan(full_erp, f"what have we got on order from {head}"), Plan)
    # Due in a period: the period is the date the goods are expected, not the order date.
    due = plan(full_erp, "what is due in from suppliers this week")
    assert isinstance(due, Plan) and due.args.date_basis == "due"


def test_open_order_value_of_a_supplier_is_a_figure_matching_sql(full_erp: ErpDatabase) -> None:
    supplier_id, head, clipped = _shared_head_supplier(full_erp)
    decision, answer_text, _ = answer(
        full_erp, f"how much have we got on order with {head} {clipped}"
    )
    assert decision.skill == "erp_query"
    ((cents,),) = sql(
        full_erp,
        "select coalesce(sum(total_cents), 0) from purchase_orders "
        f"where status = 'ordered' and supplier_id = {supplier_id}",
    )
    assert f"€{cents / 100:,.2f}" in answer_text.splitlines()[0] and "open" in answer_text
    # The list of open orders is not the figure asked for; "suppliers" is no subject here.
    assert isinstance(plan(full_erp, "how much have we got on order with suppliers"), Decline)


def test_who_we_buy_a_product_from_reads_its_supplier(full_erp: ErpDatabase) -> None:
    ((sku, supplier),) = sql(
        full_erp,
        "select p.sku, s.name from products p join suppliers s on s.id = p.supplier_id "
        "order by p.sku limit 1",
    )
    decision, answer_text, _ = answer(full_erp, f"who do we buy {sku} from")
    assert decision.skill == "erp_find_product" and decision.reading
    assert f"supplier {supplier}" in answer_text
    # "who do we buy from": the suppliers, never the people who raised the orders.
    decision, _, _ = answer(full_erp, "who do we buy the most from")
    assert decision.args.model_dump()["group_by"] == "supplier"
    # A condition on the purchase the record cannot apply declines.
    assert isinstance(plan(full_erp, f"who do we buy {sku} from cheapest"), Decline)


def test_lead_time_filters_and_rankings_match_sql(full_erp: ErpDatabase) -> None:
    decision, answer_text, result = answer(full_erp, "suppliers with lead time over 2 weeks")
    assert decision.args.model_dump()["min_quoted_days"] == 14
    expected = {
        number
        for (number,) in sql(full_erp, "select number from suppliers where lead_time_days > 14")
    }
    assert {row.id for row in result.rows} == expected
    decision, answer_text, result = answer(full_erp, "avg lead time of our italian suppliers")
    assert decision.args.model_dump()["country"] == "IT"
    ((quoted,),) = sql(full_erp, "select avg(lead_time_days) from suppliers where country = 'IT'")
    assert f"{Decimal(str(quoted)).quantize(Decimal('0.1'))} days quoted" in answer_text
    decision, _, result = answer(full_erp, "which supplier has the shortest quoted lead time")
    assert decision.args.model_dump()["order"] == "shortest_quoted"
    shortest = {
        number
        for (number,) in sql(
            full_erp,
            "select number from suppliers "
            "where lead_time_days = (select min(lead_time_days) from suppliers)",
        )
    }
    assert {row.id for row in result.rows} == shortest  # ties with the first are kept
    decision, _, result = answer(full_erp, "which supplier actually takes longest to deliver")
    assert decision.args.model_dump()["order"] == "slowest_actual"
    assert isinstance(
        plan(full_erp, "which supplier actually quotes the longest lead time"), Decline
    )
    # A number the reading cannot place, or a grouping it cannot make, declines.
    assert isinstance(plan(full_erp, "lead times of 5 suppliers"), Decline)
    assert isinstance(plan(full_erp, "lead time over 2 weeks by country"), Decline)
    assert isinstance(plan(full_erp, "how reliable are italian suppliers lead times"), Decline)


def test_supplier_contact_is_read_from_its_record(full_erp: ErpDatabase) -> None:
    ((name, email, phone),) = sql(
        full_erp, "select name, email, phone from suppliers order by id limit 1"
    )
    decision, answer_text, _ = answer(full_erp, f"email for {name.lower()}")
    assert decision.skill == "erp_supplier_lead_times" and decision.reading
    assert email in answer_text and phone in answer_text
    # Suppliers have no address on record.
    assert isinstance(plan(full_erp, f"address of {name.lower()}"), Decline)


def test_stock_worth_at_cost_is_the_stock_value_and_at_cost_fits_nothing_else(
    full_erp: ErpDatabase,
) -> None:
    decision, _, result = answer(full_erp, "whats the stock in ulm worth at cost")
    assert decision.args.measure == "stock_value" and decision.args.warehouse == "ULM"
    ((cents,),) = sql(
        full_erp,
        "select sum(s.on_hand * p.cost_cents) from stock_levels s join products p"
        " on p.id = s.product_id where s.warehouse = 'ULM'",
    )
    assert next(f.value for f in result.facts if f.key == "value") == Decimal(cents) / 100
    assert isinstance(plan(full_erp, "revenue at cost last month"), Decline)


def test_deliveries_that_arrived_in_a_period_are_dated_by_delivery(full_erp: ErpDatabase) -> None:
    decision, text_, result = answer(full_erp, "how many deliveries arrived late in june")
    assert decision.args.dated_by == "delivered" and decision.args.status == "late"
    ((count,),) = sql(
        full_erp,
        "select count(*) from shipments where delivered_on between '2025-06-01' and"
        " '2025-06-30' and delivered_on > expected_delivery",
    )
    assert result.total_rows == count
    assert "delivered from 2025-06-01 to 2025-06-30" in text_.splitlines()[0]
    # Without an arrival verb the period could date either: still declined.
    assert isinstance(plan(full_erp, "late shipments in june"), Decline)


@pytest.mark.parametrize(
    ("request_text", "skill"),
    [
        ("phone no for donau components", "erp_supplier_lead_times"),
        ("did we issue a credit note for RMA-2025-0080", "erp_returns"),
    ],
)
def test_owner_shorthand_and_verbs_are_read(
    full_erp: ErpDatabase, request_text: str, skill: str
) -> None:
    decision = plan(full_erp, request_text)
    assert isinstance(decision, Plan) and decision.skill == skill


def test_a_superlative_with_a_singular_category_asks_for_one_product(full_erp: ErpDatabase) -> None:
    one = plan(full_erp, "lowest margin filter, in %")
    assert isinstance(one, Plan) and one.args.limit == 1
    many = plan(full_erp, "lowest margin filters")
    assert isinstance(many, Plan) and many.args.limit != 1
    # The noun first: "product with the highest margin" is one product as well.
    first = plan(full_erp, "product w the highest margin %")
    assert isinstance(first, Plan) and first.args.limit == 1
    several = plan(full_erp, "products with the highest margin")
    assert isinstance(several, Plan) and several.args.limit != 1


def test_the_biggest_one_after_a_list_is_one_row(full_erp: ErpDatabase) -> None:
    from nova.erp.followup import plan_followup

    with full_erp.read_session() as session:
        one = plan_followup(["open invoices for dobes", "the biggest one?"], session, ALL_SKILLS)
        several = plan_followup(
            ["open invoices for dobes", "the biggest ones?"], session, ALL_SKILLS
        )
    assert isinstance(one, Plan) and one.args.limit == 1
    assert isinstance(several, Plan) and several.args.limit != 1


def test_purchase_orders_due_in_a_span_are_the_open_ones_expected_then(
    full_erp: ErpDatabase,
) -> None:
    decision, text_, result = answer(full_erp, "which POs are due in this week")
    assert (decision.args.subject, decision.args.date_basis) == ("purchase_orders", "due")
    expected = sql(
        full_erp,
        "select number from purchase_orders where status = 'ordered'"
        " and expected_date between '2025-06-30' and '2025-07-06'",
    )
    assert expected and result.total_rows == len(expected)
    assert all(number in text_ for (number,) in expected)
    assert "expected date 2025-06-30 to 2025-07-06" in text_.splitlines()[0]
    # A past span: still open, or every one that was expected then? Not said.
    assert isinstance(plan(full_erp, "POs due last week"), Decline)


def test_po_spend_is_our_spending_on_purchase_orders(full_erp: ErpDatabase) -> None:
    decision, text_, _ = answer(full_erp, "po spend q2")
    assert (decision.args.subject, decision.args.measure) == ("purchase_orders", "value")
    ((cents,),) = sql(
        full_erp,
        "select sum(total_cents) from purchase_orders"
        " where order_date between '2025-04-01' and '2025-06-30'",
    )
    assert f"€{cents / 100:,.2f}" in text_


def test_the_weakest_category_is_ranked_only_when_every_category_sold(
    full_erp: ErpDatabase,
) -> None:
    decision, text_, _ = answer(full_erp, "weakest category this year by sales?")
    assert (decision.args.group_by, decision.args.rank) == ("category", "lowest")
    ((category, cents),) = sql(
        full_erp,
        """select p.category, sum(l.line_total_cents) as cents from sales_orders o
           join sales_order_lines l on l.order_id = o.id join products p on p.id = l.product_id
           where o.status <> 'cancelled' and o.order_date between '2025-01-01' and '2025-06-30'
           group by p.category order by cents asc limit 1""",
    )
    assert f"Top: {category} (€{cents / 100:,.2f})" in text_
    # One day: some categories sold nothing and would be missing from the bottom, not last.
    ((sold,),) = sql(
        full_erp,
        """select count(distinct p.category) from sales_orders o
           join sales_order_lines l on l.order_id = o.id join products p on p.id = l.product_id
           where o.status <> 'cancelled' and o.order_date = '2025-06-27'""",
    )
    ((every,),) = sql(full_erp, "select count(distinct category) from products")
    assert sold < every
    assert isinstance(plan(full_erp, "weakest category on 27 june"), Decline)


def test_a_named_customer_and_a_condition_is_answered_yes_or_no(full_erp: ErpDatabase) -> None:
    over = sql(
        full_erp,
        """select c.name from customers c join invoices i on i.customer_id = c.id
           where i.status = 'open' and c.name like 'Winkler Maschinenbau%'
           group by c.id having sum(i.total_cents - i.paid_cents) > c.credit_limit_cents""",
    )
    _, text_, _ = answer(full_erp, "winkler maschinenbau over credit limit?")
    assert text_.startswith("Yes: " if over else "No: ")
    if over:
        ((limit_cents,),) = sql(
            full_erp,
            "select credit_limit_cents from customers where name like 'Winkler Maschinenbau%'",
        )
        assert f"credit limit €{limit_cents / 100:,.2f}" in text_  # the limit it exceeds
    _, text_, _ = answer(full_erp, "nordwind gmbh over credit limit?")
    ((owed, limit),) = sql(
        full_erp,
        """select coalesce(sum(i.total_cents - i.paid_cents), 0), c.credit_limit_cents
           from customers c left join invoices i on i.customer_id = c.id and i.status = 'open'
           where c.name = 'Nordwind GmbH' group by c.id""",
    )
    assert text_.startswith("Yes: " if owed > limit else "No: ")
