"""The fast path on requests as the owner types them: precision guards and the new readings.

Runs against the standard sample (``full_erp``: 300 customers, 400 products, anchor
2025-06-30, seed 42), the one the evaluation dataset describes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from nova.catalog import default_catalog
from nova.erp import models as m
from nova.erp.db import ErpDatabase
from nova.erp.intents import Clarify, Decline, Plan, plan_request
from nova.erp.render import render_text
from nova.erp.skills import READ_SKILLS
from tests.test_erp_fast_path import ask, graph_with

pytest_plugins = ("tests.erp_fixtures",)

ALL_SKILLS = list(READ_SKILLS)


def plan(database: ErpDatabase, text: str, agent: str | None = None) -> Any:
    tools = default_catalog().agents[agent].tools if agent else ALL_SKILLS
    with database.read_session() as session:
        return plan_request(text, session, tools)


def args(decision: Plan) -> Any:
    return decision.args  # typed per skill; Any lets a test read that skill's fields


def run(database: ErpDatabase, decision: Plan) -> Any:
    with database.read_session() as session:
        return READ_SKILLS[decision.skill].run(session, decision.args)


# --- precision: a condition the fast path cannot apply is never silently dropped --------


@pytest.mark.parametrize(
    ("text", "agent", "word"),
    [
        ("Which invoices have been paid by Nordwind?", "erp_invoices", "paid"),
        ("returns that are not defective", "erp_returns", "not"),
    ],
)
def test_a_condition_word_it_cannot_apply_declines_naming_it(
    full_erp: ErpDatabase, text: str, agent: str, word: str
) -> None:
    decision = plan(full_erp, text, agent)
    assert isinstance(decision, Decline)
    assert "cannot apply" in decision.reason and repr(word) in decision.reason


@pytest.mark.parametrize(
    "text",
    [
        "list shipments this week: DHL vs UPS",
        "returns because of a wrong part or ordered twice",
        "ovrdue invoices",  # a typo is never corrected into a condition word
        "Which products do we sell below the competitor's price?",
        "orders older than 30 days in May",
        "POs ordered in may that arrived late",  # the order date or the received date?
        "returns of Nordwind in transit",
    ],
)
def test_requests_with_conditions_it_cannot_honour_decline(
    full_erp: ErpDatabase, text: str
) -> None:
    assert isinstance(plan(full_erp, text), Decline)


def test_below_purchase_cost_is_applied_as_a_filter(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "Which products do we sell below purchase cost?", "erp_pricing")
    assert isinstance(decision, Plan) and decision.skill == "erp_price_list"
    assert args(decision).max_margin_pct == Decimal(0)
    result = run(full_erp, decision)
    with full_erp.read_session() as session:
        products = session.scalar(select(func.count()).select_from(m.Product))
    assert result.total_rows < products
    assert all(row.margin_pct < 0 for row in result.rows)


# --- readings of requests that read two ways --------------------------------------------


@pytest.mark.parametrize(
    ("text", "by", "needle"),
    [
        ("best selling parts last month", "revenue", "not units sold"),
        ("top 5 products by units this year", "units", "units sold"),
        ("top products by revenue in 2024", "revenue", "Ranked by revenue."),
    ],
)
def test_a_ranking_says_which_reading_it_used(
    full_erp: ErpDatabase, text: str, by: str, needle: str
) -> None:
    decision = plan(full_erp, text, "erp_reporting")
    assert isinstance(decision, Plan) and decision.skill == "erp_top_products"
    assert args(decision).by == by
    assert decision.reading is not None and needle in decision.reading


def test_the_answer_states_the_reading_on_its_first_line(full_erp: ErpDatabase) -> None:
    values = ask(graph_with(full_erp), "best selling parts last month", "erp_reporting")
    assert values["agent_run"]["outcome"] == "fast_path"
    assert values["answer"].splitlines()[0].startswith("Ranked by revenue")


def test_products_by_worst_margin_are_sorted_lowest_first(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "products with the worst margin", "erp_pricing")
    assert isinstance(decision, Plan) and args(decision).order == "lowest_margin"
    assert decision.reading and "lowest first" in decision.reading
    margins = [row.margin_pct for row in run(full_erp, decision).rows]
    assert margins == sorted(margins)


def test_the_oldest_unpaid_invoice_is_one_row_oldest_first(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "what's the oldest unpaid invoice?", "erp_invoices")
    assert isinstance(decision, Plan)
    assert args(decision).oldest_first and args(decision).limit == 1
    (row,) = run(full_erp, decision).rows
    with full_erp.read_session() as session:
        oldest = session.scalar(
            select(func.min(m.Invoice.issue_date)).where(
                m.Invoice.status == "open", m.Invoice.total_cents > m.Invoice.paid_cents
            )
        )
    assert row.issue_date == oldest


# --- balances: unapplied payments and credit notes ---------------------------------------


def test_a_balance_sets_an_unapplied_payment_against_the_invoice_it_settles(
    full_erp: ErpDatabase,
) -> None:
    decision = plan(full_erp, "How much does Nordwind owe us?", "erp_invoices")
    assert isinstance(decision, Plan)
    result = run(full_erp, decision)
    (row,) = result.rows
    assert row.outstanding == row.unapplied_payments > 0
    assert row.net_balance == 0
    facts = {fact.key: fact.value for fact in result.facts}
    assert "PAY-2024-00289" in facts["settles"] and "settles INV-" in facts["settles"]
    text = render_text(result)
    assert "unapplied payments" in text and "Net balance €0.00" in text


def test_who_owes_the_most_ranks_customers_by_net_balance(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "who owes us the most", "erp_customers")
    assert isinstance(decision, Plan) and decision.skill == "erp_customer_balance"
    assert args(decision).customer is None
    assert decision.reading and "net balance" in decision.reading
    rows = run(full_erp, decision).rows
    balances = [row.net_balance for row in rows]
    assert balances == sorted(balances, reverse=True) and all(b > 0 for b in balances)
    assert "20001" not in {row.id for row in rows}  # Nordwind's payment covers its invoice


# --- things written as people write them --------------------------------------------------


def test_an_order_number_without_its_prefix(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "what's in order no. 1261", "erp_sales_orders")
    assert isinstance(decision, Plan) and args(decision).order_number == "SO-1261"


def test_a_name_with_and_for_ampersand(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "balance of Baker and Son", "erp_customers")
    assert isinstance(decision, Plan) and args(decision).customer == "20002"


def test_a_product_named_by_description(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "stock of the ceramic brake pads", "erp_inventory")
    assert isinstance(decision, Plan) and args(decision).product == "BRK-5990"
    several = plan(full_erp, "stock of the air filter for the Ford Transit", "erp_inventory")
    assert isinstance(several, Clarify)
    assert "FLT-1011" in several.question and "FLT-8383" in several.question


def test_customers_in_a_country(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "which customers are in Austria", "erp_customers")
    assert isinstance(decision, Plan) and args(decision).country == "AT"
    result = run(full_erp, decision)
    assert result.total_rows > 0 and {row.country for row in result.rows} == {"AT"}


def test_return_reasons_as_people_put_them(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "returns because of a wrong part this year", "erp_returns")
    assert isinstance(decision, Plan) and args(decision).reason == "wrong_part"
    assert {row.reason for row in run(full_erp, decision).rows} <= {"wrong_part"}


def test_movement_kinds_and_credit_notes_are_filters(full_erp: ErpDatabase) -> None:
    incoming = plan(full_erp, "incoming movements of BRK-2210 this year", "erp_inventory")
    assert isinstance(incoming, Plan) and args(incoming).kind == "receipt"
    both = plan(full_erp, "incoming and outgoing movements of BRK-2210", "erp_inventory")
    assert isinstance(both, Plan) and args(both).kind is None
    notes = plan(full_erp, "credit notes of Nordwind", "erp_returns")
    assert isinstance(notes, Plan) and args(notes).status == "refunded"
    assert isinstance(plan(full_erp, "which products are discounted", "erp_pricing"), Decline)


def test_top_payments_are_the_largest_not_the_latest(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "top 5 payments from Nordwind", "erp_payments")
    assert isinstance(decision, Plan) and args(decision).largest_first
    amounts = [row.amount for row in run(full_erp, decision).rows]
    assert amounts == sorted(amounts, reverse=True)
    assert isinstance(plan(full_erp, "top 5 invoices of Nordwind", "erp_invoices"), Decline)


def test_one_letter_typos_of_rule_words(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "whats runing low in the warehouse?", "erp_inventory")
    assert isinstance(decision, Plan) and decision.skill == "erp_reorder_candidates"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("revenue in 2019", "records start"),
        ("how many items are on order SO-1002", "lines"),
        ("what share of revenue is the best customer", "share"),
    ],
)
def test_a_question_the_skill_would_answer_differently_declines(
    full_erp: ErpDatabase, text: str, reason: str
) -> None:
    decision = plan(full_erp, text)
    assert isinstance(decision, Decline) and reason in decision.reason


def test_the_guards_leave_the_plain_questions_alone(full_erp: ErpDatabase) -> None:
    assert isinstance(plan(full_erp, "sales last year"), Plan)
    assert isinstance(plan(full_erp, "status of SO-1002"), Plan)
    assert isinstance(plan(full_erp, "what's running low"), Plan)
    # Answered with the list's reading stated: "at or below the reorder point".
    assert isinstance(plan(full_erp, "products under the reorder point"), Plan)


@pytest.mark.parametrize(
    ("text", "spelled"),
    [
        ("anything we're selling under what we pay for it", "we are selling"),
        ("what do i need to reorder that isnt already on order", "that is not already"),
        ("customers who havent ordered in 6 months", "who have not ordered"),
    ],
)
def test_contractions_are_spelled_out(full_erp: ErpDatabase, text: str, spelled: str) -> None:
    from nova.erp.intents.parsing import parse_request

    with full_erp.read_session() as session:
        assert spelled in parse_request(text, session).text


def test_yr_is_read_as_year(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "top 3 customers this yr")
    assert isinstance(decision, Plan) and args(decision).date_from is not None
    assert args(decision).date_from.month == 1 and args(decision).date_from.day == 1


def test_out_for_delivery_is_in_transit(full_erp: ErpDatabase) -> None:
    decision = plan(full_erp, "which shipments are out for delivery")
    assert isinstance(decision, Plan) and args(decision).status == "in_transit"
