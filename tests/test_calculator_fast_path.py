"""The calculator answers exactly stated arithmetic without a model, and declines the rest."""

from __future__ import annotations

from decimal import Decimal

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from graphs.chat import build_chat_graph
from nova.calc import calculate
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
        {
            "messages": [("user", "15% off 2340")],
            "request": "15% off 2340",
            "route": route_to("calculator", "chat"),
        },
        {"configurable": {"thread_id": "calc"}},
    )
    assert values["agent_run"]["outcome"] == "fast_path"
    assert "After discount: 1,989.00" in values["messages"][-1].content
    assert "Read as: 15% discount on 2,340.00" in values["messages"][-1].content
