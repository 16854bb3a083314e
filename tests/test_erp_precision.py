"""The fast path refuses a reading it has no evidence for (issue #13: precision first).

Each declined request below was answered confidently before, with a figure for a different
question; each control next to it is the plain question the same mechanism must still answer.
Runs against the standard sample (``full_erp``), as the owner evaluation does.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from nova.catalog import default_catalog
from nova.erp.db import ErpDatabase
from nova.erp.intents import (
    Decline,
    Plan,
    answers_one_record,
    counted_noun,
    parse_request,
    plan_request,
)
from nova.erp.intents.structured import plan_query
from nova.erp.render import render_text
from nova.erp.skills import READ_SKILLS
from nova.erp.skills.query import QueryArgs

pytest_plugins = ("tests.erp_fixtures",)


def plan(database: ErpDatabase, text: str, agent: str | None = None) -> Any:
    tools = default_catalog().agents[agent].tools if agent else list(READ_SKILLS)
    with database.read_session() as session:
        return plan_request(text, session, tools)


def run(database: ErpDatabase, decision: Plan) -> Any:
    with database.read_session() as session:
        return READ_SKILLS[decision.skill].run(session, decision.args)


def structured(database: ErpDatabase, text: str) -> QueryArgs | str:
    with database.read_session() as session:
        return plan_query(parse_request(text, session), session)


@pytest.mark.parametrize(
    ("text", "agent", "reason"),
    [
        # A slot filled by a default or an ignored word, not by the request.
        ("how much did we sell per order last month", None, "'per orders'"),
        ("how many orders per customer on average", None, "measure unclear"),
        ("number of order lines last month", None, "order lines"),
        ("what did we buy last week", None, "verb alone"),
        ("which carrier is the most expensive", None, "carrier"),
        ("what discount does nordwind get", None, "discount"),
        ("what did we make on brakes", None, "revenue or profit"),
        ("is anything reserved in ulm", None, "'any' asks which records"),
        # A word that says what is asked, swallowed elsewhere.
        ("sales from march to may", None, "'may'"),
        ("how much do we owe eifel filtertechnik", None, "['owe']"),
        ("how many customers pay by card", None, "counts payments, not customers"),
        ("invoices paid in full last month", "erp_invoices", "issue date"),
        ("what's left to ship", None, "still to happen"),
        ("how many days does nordwind have to pay", None, "still to happen"),
        ("is revenue up this month", None, "trend"),
        ("how many invoices are unpaid for more than 30 days", None, "issue or from the due"),
        # Since the records began, or since January? "before" is left unread.
        ("sales before june", None, "'before'"),
        ("slowest month by delivery time", None, "most days"),
    ],
)
def test_a_reading_without_evidence_declines(
    full_erp: ErpDatabase, text: str, agent: str | None, reason: str
) -> None:
    decision = plan(full_erp, text, agent)
    assert isinstance(decision, Decline), decision
    assert reason in decision.reason


@pytest.mark.parametrize(
    ("text", "skill", "expected"),
    [
        ("revenue from france this quarter", "erp_query", {"measure": "value", "country": "FR"}),
        (
            "average shipping cost per parcel this quarter",
            "erp_query",
            {"subject": "shipments", "measure": "average_value"},
        ),
        (
            "how much discount did nordwind get this year",
            "erp_query",
            {"measure": "discount", "customer": "20001"},
        ),
        (
            "how much did we spend with merkur autoteile last year",
            "erp_query",
            {"supplier": "S-118"},
        ),
        ("sales in may", "erp_sales_summary", {}),
        ("total reserved in ulm", "erp_query", {"measure": "reserved", "warehouse": "ULM"}),
        ("invoices more than 30 days overdue", "erp_overdue_invoices", {"min_days_overdue": 31}),
        ("how many invoices are 90+ days late", "erp_overdue_invoices", {"min_days_overdue": 90}),
    ],
)
def test_the_same_mechanisms_leave_plain_questions_answered(
    full_erp: ErpDatabase, text: str, skill: str, expected: dict[str, Any]
) -> None:
    decision = plan(full_erp, text)
    assert isinstance(decision, Plan), decision
    assert decision.skill == skill
    assert {key: getattr(decision.args, key) for key in expected} == expected


@pytest.mark.parametrize(
    ("text", "noun"),
    [
        ("how many customers pay by card", "customers"),
        ("how many overdue invoices does dobes have", "invoices"),
        ("how many items are flagged as low stock", "products"),
        ("how many oil filters did we sell", None),
    ],
)
def test_counted_noun(text: str, noun: str | None) -> None:
    assert counted_noun(text) == noun


def test_a_verb_with_its_records_named_lists_them(full_erp: ErpDatabase) -> None:
    listed = structured(full_erp, "payments collected last week")
    assert isinstance(listed, QueryArgs), listed
    assert (listed.subject, listed.list_rows) == ("payments", True)
    figure = structured(full_erp, "how much did we collect last week")
    assert isinstance(figure, QueryArgs), figure
    assert (figure.subject, figure.measure, figure.list_rows) == ("payments", "value", False)
    # Money received holds nothing else to ask about: "what did we collect" lists the
    # payments (their number and total in the headline); what was bought could be the
    # products, the units or the value, so the verb alone still declines there.
    collected = structured(full_erp, "what did we collect last week")
    assert isinstance(collected, QueryArgs), collected
    assert (collected.subject, collected.list_rows) == ("payments", True)
    assert "verb alone" in str(structured(full_erp, "what did we buy last week"))


def test_listed_shipments_name_their_carrier(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "shipments running late")
    assert isinstance(decision, Plan) and decision.skill == "erp_query", decision
    with full_erp.read_session() as session:
        result = READ_SKILLS["erp_query"].run(session, decision.args)
    assert result.rows and all(row.carrier for row in result.rows)
    assert f"carrier {result.rows[0].carrier}" in render_text(result)


@pytest.mark.parametrize(
    ("text", "kept", "not_read_as"),
    [
        ("which orders are stuck in ulm", "stuck", "stock"),
        ("what rates do we charge nordwind", "rates", "dates"),
        ("orders filled last week", "filled", "billed"),
    ],
)
def test_a_real_word_is_never_corrected_into_a_rule_word(
    full_erp: ErpDatabase, text: str, kept: str, not_read_as: str
) -> None:
    with full_erp.read_session() as session:
        request = parse_request(text, session)
    assert kept in request.residual and not_read_as not in request.residual


def test_a_word_of_the_structured_vocabulary_is_no_typo(full_erp: ErpDatabase) -> None:
    # "custs" is one letter from "costs": read as that, "top custs" listed product prices.
    # It is the owner's shorthand for customers.
    with full_erp.read_session() as session:
        request = parse_request("top custs", session)
    assert "customers" in request.residual and "costs" not in request.residual
    decision = plan(full_erp, "top custs")
    assert not isinstance(decision, Plan) or decision.skill != "erp_price_list"


def test_a_typo_of_a_rule_word_is_still_corrected(full_erp: ErpDatabase) -> None:
    with full_erp.read_session() as session:
        request = parse_request("whats below reoder level", session)
    assert "reorder" in request.residual


@pytest.mark.parametrize(
    "text",
    [
        "did cooper pay his invoice",
        "tracking number for the Kessler Transport delivery?",
        "where is my parcel for nordwind",
    ],
)
def test_one_record_asked_is_not_answered_with_a_list(full_erp: ErpDatabase, text: str) -> None:
    decision = plan(full_erp, text)
    assert isinstance(decision, Plan) and decision.one_record, decision
    result = run(full_erp, decision)
    assert result.total_rows > 1 and not answers_one_record(decision, result.total_rows)
    assert answers_one_record(decision, 1)


@pytest.mark.parametrize(
    "text",
    ["the invoice for order SO-1101", "what was the order value for turner last month"],
)
def test_a_named_record_or_a_figure_is_no_one_record_question(
    full_erp: ErpDatabase, text: str
) -> None:
    decision = plan(full_erp, text)
    assert isinstance(decision, Plan) and not decision.one_record, decision


def test_a_payment_period_that_may_date_the_invoice_declines(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "did baker pay the invoice from march", "erp_payments")
    assert isinstance(decision, Decline) and "may date the invoices" in decision.reason
    assert isinstance(plan(full_erp, "payments from baker in march", "erp_payments"), Plan)


@pytest.mark.parametrize(
    ("text", "noun"),
    [
        ("customers with overdue invoices", "customers"),
        ("which customers have overdue invoices", "customers"),
        ("which parts were returned this month", "parts"),
    ],
)
def test_customers_or_products_asked_are_not_answered_with_documents(
    full_erp: ErpDatabase, text: str, noun: str
) -> None:
    decision = plan(full_erp, text)
    assert isinstance(decision, Decline) and f"not the {noun} asked for" in decision.reason


def test_a_count_of_customers_with_documents_is_still_answered(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "how many customers have something overdue")
    assert isinstance(decision, Plan) and decision.skill == "erp_overdue_invoices"


def test_one_ordinary_word_of_product_names_names_no_products(full_erp: ErpDatabase) -> None:
    # "long" is a word of a few spark plugs' names ("long life"), not a description here.
    assert "products" not in str(structured(full_erp, "how long has nordwind been a customer"))
    answered = structured(full_erp, "how many alternators do we have")
    assert isinstance(answered, QueryArgs) and answered.products


def test_a_named_document_settles_which_customer_a_name_means(full_erp: ErpDatabase) -> None:
    # Two Winklers; the invoice is Winkler Maschinenbau's.
    decision = plan(full_erp, "has winkler paid INV-2025-00118 yet")
    assert isinstance(decision, Plan) and decision.args.customer == "20071"


def test_a_customer_named_with_an_order_must_own_it(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "where's hochreiters order 4907 at")
    assert isinstance(decision, Plan) and decision.skill == "erp_order_status"
    text = render_text(run(full_erp, decision))
    assert "shipment status in_transit, expected 2025-07-01" in text
    # SO-1004 is Meyer's: answering with it would accept the wrong premise silently.
    wrong = plan(full_erp, "what did acme order on SO-1004")
    assert isinstance(wrong, Decline) and "not an order of the customer named" in wrong.reason


def test_run_together_sizes_are_read_as_product_names_write_them(full_erp: ErpDatabase) -> None:
    # "20l" for the "20 L" of "Gear Oil 75W-90 20 L ...": the four tins, each one's stock.
    answered = structured(full_erp, "gear oil 20l how many tins in stock")
    assert isinstance(answered, QueryArgs)
    assert sorted(answered.products or []) == ["LUB-4290", "LUB-5179", "LUB-7631", "LUB-7790"]


def test_a_markup_is_not_read_as_a_margin(full_erp: ErpDatabase) -> None:
    # A markup is on cost ((price - cost) / cost), a margin on price: different figures.
    decision = plan(full_erp, "markup on the hydraulic hose 3/8 for deutz")
    assert isinstance(decision, Plan) and decision.args.measure == "markup_pct"


def test_invoices_due_are_the_open_ones(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "invoices due this week", "erp_invoices")
    assert isinstance(decision, Plan) and decision.args.status == "open"
    paid = plan(full_erp, "invoices due this week that are paid", "erp_invoices")
    assert not isinstance(paid, Plan) or paid.args.status != "open"


def test_products_ranked_by_the_query_are_named(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "top 10 parts by qty 2024")
    assert isinstance(decision, Plan) and decision.skill == "erp_query"
    text = render_text(run(full_erp, decision))
    assert "Needle Bearing 6204-2RS MAN TGX" in text


def test_one_named_customer_who_bought_is_their_orders(full_erp: ErpDatabase) -> None:
    answered = structured(full_erp, "how much has dobes bought this year")
    assert isinstance(answered, QueryArgs)
    assert (answered.subject, answered.measure, answered.customer_condition) == (
        "orders",
        "value",
        None,
    )
    listed = structured(full_erp, "customers who ordered this year")
    assert isinstance(listed, QueryArgs) and listed.customer_condition == "ordered"


def test_an_order_list_states_its_value_without_cancelled_orders(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "orders from dobes this year")
    assert isinstance(decision, Plan) and decision.skill == "erp_customer_orders"
    headline = render_text(run(full_erp, decision)).splitlines()[0]
    assert "(2 cancelled; without them " in headline and "worth €7,533.06)" in headline


def test_what_was_ordered_is_answered_with_what_each_order_holds(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "what did senn order this year")
    assert isinstance(decision, Plan) and decision.skill == "erp_customer_orders"
    assert decision.args.with_lines
    shown = render_text(run(full_erp, decision))
    with full_erp.read_session() as session:
        lines = session.execute(
            text(
                "select o.number, p.sku, l.quantity from sales_order_lines l "
                "join sales_orders o on o.id = l.order_id join products p on p.id = l.product_id "
                "join customers c on c.id = o.customer_id where c.name like 'Senn%' "
                "and o.order_date between '2025-01-01' and '2025-06-30' "
                "order by o.order_date desc, o.id desc"
            )
        ).all()
    assert lines
    for number, sku, quantity in lines[:5]:
        row = next(line for line in shown.splitlines() if line.startswith(f"- {number}:"))
        assert f"{quantity} x {sku}" in row
    # A plain list of orders does not spell out their lines.
    listed = plan(full_erp, "orders from senn this year")
    assert isinstance(listed, Plan) and not listed.args.with_lines


def test_a_person_or_a_customers_cost_is_not_read_as_a_price_list(full_erp: ErpDatabase) -> None:
    # "who is our best seller" asks for a person; "what did dobes cost us" for a figure the
    # request does not name. Neither is a product ranking or a customer's price list.
    assert isinstance(plan(full_erp, "who is our best seller"), Decline)
    assert isinstance(plan(full_erp, "what did dobes cost us"), Decline)
    best = plan(full_erp, "best seller last month")
    assert isinstance(best, Plan) and best.skill == "erp_top_products"
    prices = plan(full_erp, "what does dobes pay for BRK-2897")
    assert isinstance(prices, Plan) and prices.skill == "erp_price_list"


def test_a_margin_ranking_is_by_the_exact_margin_not_the_rounded_one(
    full_erp: ErpDatabase,
) -> None:
    from tests.erp_helpers import answer_read, sql_rows

    # Shown margins are rounded to 0.1%; two products can share one, but only one is first.
    ((sku,),) = sql_rows(
        full_erp,
        """select sku from products where active = 1
           order by 1.0 * (unit_price_cents - cost_cents) / unit_price_cents desc limit 1""",
    )
    _, said = answer_read(full_erp, "product w the highest margin %")
    assert said.splitlines()[1].startswith(f"- {sku}:")
