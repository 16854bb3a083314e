"""The calculator answers exactly stated arithmetic without a model, and declines the rest."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from graphs.chat import build_chat_graph
from nova.calc import calculate, missing_rate
from nova.testing import route_to


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        # Expected values computed by hand, independently of nova.calc.
        ("what's 19% vat on 1.250,50 €", ["Gross: 1,488.10"]),
        ("gross 1190 incl. 19% VAT, what's the net", ["Net: 1,000.00", "VAT 19%: 190.00"]),
        ("20% off 79.95", ["After discount: 63.96"]),
        ("3% skonto on 12,400", ["Skonto 3%: 372.00", "After Skonto: 12,028.00"]),
        ("12.5% of 640", ["12.5% of 640.00 = 80.00"]),
        ("bought for 80, sell for 100 - margin?", ["Margin: 20.00%", "Markup: 25.00%"]),
        ("growth from 200 to 250 in percent", ["Growth: 25.00%"]),
        ("2 hours and 30 minutes at 90 per hour", ["Total: 225.00"]),
        ("(12 + 8) * 3 - 4", ["= 56.00"]),
        ("10 km in miles", ["6.2137"]),
    ],
)
def test_reads_exact_requests(request_text: str, expected: list[str]) -> None:
    result = calculate(request_text)
    assert result is not None, request_text
    for line in expected:
        assert line in result.text
    assert result.reading  # the answer always says how it read the request


@pytest.mark.parametrize(
    "request_text",
    [
        "250 eur in usd?",  # no exchange rates: a model (or the owner) must say which
        "15% off 2340 for Baker & Sons",  # a customer's price is erp_pricing's question
        "what's 19% of our revenue last month",  # figures from the ERP, not given
        "margin on 42 and 69",  # which one is the cost is not said
        "what markup for a 30% margin",  # no cost given
        "split 1200 between the three of us fairly",  # words it cannot place
        "Show me invoice INV-2025-00412",
        "2025-06-30",  # a date, not 2025 minus 6 minus 30
        "orders since 30.06.2025",
        "SO-4410",
        "6/3/1",
    ],
)
def test_declines_what_it_cannot_read_exactly(request_text: str) -> None:
    assert calculate(request_text) is None


def test_german_and_english_number_formats() -> None:
    from nova.calc import parse_number

    assert parse_number("1.299,90") == Decimal("1299.90")
    assert parse_number("1,299.90") == Decimal("1299.90")
    assert parse_number("12,5") == Decimal("12.5")
    assert parse_number("48", "k") == Decimal("48000")


def test_the_chat_subgraph_answers_without_a_model() -> None:
    graph = build_chat_graph().compile(checkpointer=InMemorySaver())
    values = graph.invoke(
        {  # type: ignore[call-overload]  # a plain-dict input, as the server sends it
            "messages": [("user", "15% off 2340")],
            "request": "15% off 2340",
            "route": route_to("calculator", "chat"),
        },
        {"configurable": {"thread_id": "calc"}},
    )
    assert values["agent_run"]["outcome"] == "fast_path"
    assert "After discount: 1,989.00" in values["messages"][-1].content
    assert "Read as: 15% discount on 2,340.00" in values["messages"][-1].content


@pytest.mark.parametrize(
    ("request_text", "line"),
    [
        # Expected values computed by hand: 250 x 1.08 and 1,000 x 1.1.
        ("250 eur in usd at 1.08", "250.00 EUR = 270.00 USD"),
        ("250 eur in usd at 1.08 usd per eur", "250.00 EUR = 270.00 USD"),
        ("1,000 € to $ at 1.1", "1,000.00 EUR = 1,100.00 USD"),
    ],
)
def test_converts_currencies_at_the_rate_the_request_gives(request_text: str, line: str) -> None:
    result = calculate(request_text)
    assert result is not None
    assert line in result.text


def test_a_rate_stated_the_other_way_round_is_not_guessed() -> None:
    assert calculate("250 eur in usd at 0.92 eur per usd") is None


@pytest.mark.parametrize(
    ("request_text", "pair"),
    [("250 eur in usd?", "EUR to USD"), ("convert 100 dollars to euros", "USD to EUR")],
)
def test_a_currency_conversion_without_a_rate_asks_for_one(request_text: str, pair: str) -> None:
    question = missing_rate(request_text)
    assert question is not None
    assert pair in question
    assert "What rate should I use?" in question
    # The only figure in the question is the request's own amount: no made-up rate.
    assert re.findall(r"\d+", question) == re.findall(r"\d+", request_text)


@pytest.mark.parametrize(
    "request_text",
    ["10 km in miles", "250 eur in eur", "250 eur in usd at 1.08", "19% vat on 200 eur"],
)
def test_only_a_conversion_between_two_currencies_needs_a_rate(request_text: str) -> None:
    assert missing_rate(request_text) is None


def test_the_chat_subgraph_asks_for_the_rate() -> None:
    graph = build_chat_graph().compile(checkpointer=InMemorySaver())
    values = graph.invoke(
        {  # type: ignore[call-overload]  # a plain-dict input, as the server sends it
            "messages": [("user", "250 eur in usd?")],
            "request": "250 eur in usd?",
            "route": route_to("calculator", "chat"),
        },
        {"configurable": {"thread_id": "calc-rate"}},
    )
    assert values["agent_run"]["outcome"] == "clarify"
    assert "What rate should I use?" in values["messages"][-1].content
