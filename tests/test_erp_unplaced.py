"""Every content word of a request must be placed: a rule that ignores a qualifier declines.

A rule's vocabulary lets words through so the rule can be tried; ``unplaced_words`` then
asks whether its reading accounted for each of them (a condition it applied, a field its
answer shows, a word naming the records). These requests used to be answered as if the
qualifier were not there.
"""

from __future__ import annotations

import pytest

from nova.erp.db import ErpDatabase
from nova.erp.intents import RULES, Decline, Plan, parse_request, skill_words, unplaced_words
from nova.erp.render import render_text
from tests.test_erp_intents_generalise import args, plan, run

pytest_plugins = ("tests.erp_fixtures",)


@pytest.mark.parametrize(
    ("text", "agent", "word"),
    [
        ("how reliable are the lead times of Eifel Filtertechnik", "erp_purchasing", "reliable"),
        ("payments from Nordwind usually by card", "erp_payments", "usually"),
        ("stock of BRK-2210 in the usual warehouse", "erp_inventory", "usual"),
    ],
)
def test_a_qualifier_the_rule_does_not_apply_declines(
    full_erp: ErpDatabase, text: str, agent: str, word: str
) -> None:
    decision = plan(full_erp, text, agent)
    assert isinstance(decision, Decline), decision
    assert repr(word) in decision.reason  # the reason names the word it could not apply


@pytest.mark.parametrize(
    ("text", "agent", "skill"),
    [
        ("Who is the VAT ID of Hoffmann Kfz-Teile GmbH", "erp_customers", "erp_find_customer"),
        ("Total value of invoices issued in March", "erp_invoices", "erp_invoice_lookup"),
        ("open returns waiting on us", "erp_returns", "erp_returns"),
        ("who owes us the most overdue money", "erp_invoices", "erp_customer_balance"),
        ("returns because of a wrong part this year", "erp_returns", "erp_returns"),
        ("Which items are we selling below cost?", "erp_pricing", "erp_price_list"),
        (
            "Show the payment history for Siering Kfz-Technik KG",
            "erp_payments",
            "erp_payment_history",
        ),
    ],
)
def test_words_naming_shown_fields_or_applied_conditions_are_placed(
    full_erp: ErpDatabase, text: str, agent: str, skill: str
) -> None:
    decision = plan(full_erp, text, agent)
    assert isinstance(decision, Plan) and decision.skill == skill, decision


def test_skill_words_come_from_the_skill_and_leave_conditions_out() -> None:
    balance = skill_words("erp_customer_balance")
    assert {"credit", "left", "limit"} <= balance  # its columns
    assert "overdue" not in balance  # a condition word must still be applied
    assert "vat" in skill_words("erp_find_customer")
    assert "reserv" in skill_words("erp_stock_level")  # "Reserved", stemmed


def test_unplaced_words_lists_what_the_rule_ignored(full_erp: ErpDatabase) -> None:
    rule = next(r for r in RULES if r.name == "supplier lead times")
    with full_erp.read_session() as session:
        request = parse_request("how reliable are supplier lead times", session)
    assert unplaced_words(request, rule) == ["reliable"]


def test_reorder_answer_states_both_comparisons(full_erp: ErpDatabase) -> None:
    # "needs reordering": the replenishment trigger, with the literal count beside it.
    decision = plan(full_erp, "what needs reordering", "erp_inventory")
    assert isinstance(decision, Plan) and decision.skill == "erp_reorder_candidates"
    result = run(full_erp, decision)
    headline = render_text(result).splitlines()[0]
    assert "available stock (on hand less reserved) at or below" in headline
    strictly = next(f.value for f in result.facts if f.key == "on_hand_below")
    assert f"compared by stock on hand, {strictly} strictly below it" in headline
    # "below the reorder point" taken literally: on hand strictly below, trigger count beside.
    literal = plan(full_erp, "what is below the reorder point", "erp_inventory")
    assert isinstance(literal, Plan) and args(literal).strictly_below
    below = run(full_erp, literal)
    assert below.total_rows == strictly
    line = render_text(below).splitlines()[0]
    assert "stock on hand strictly below the reorder point" in line
    assert f"({result.total_rows} with available stock" in line
    assert isinstance(plan(full_erp, "reorder candidates ulm", "erp_inventory"), Plan)


def test_a_count_of_other_records_than_the_plan_counts_declines(full_erp: ErpDatabase) -> None:
    # The structured reading would count the new customers, not their orders.
    text = "how many orders did we get from new customers this year"
    decision = plan(full_erp, text, "erp_reporting")
    assert isinstance(decision, Decline) and "counts customers" in decision.reason
    counted = plan(full_erp, "how many new customers this year", "erp_reporting")
    assert isinstance(counted, Plan) and args(counted).subject == "customers"


def test_older_than_counts_strictly_like_overdue_days(full_erp: ErpDatabase) -> None:
    older = plan(full_erp, "open orders older than 30 days", "erp_sales_orders")
    at_least = plan(full_erp, "open orders at least 30 days old", "erp_sales_orders")
    assert isinstance(older, Plan) and isinstance(at_least, Plan)
    assert (args(at_least).date_to - args(older).date_to).days == 1
