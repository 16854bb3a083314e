"""The calculator answers exactly stated arithmetic without a model, and declines the rest."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from graphs.chat import build_chat_graph
from nova.calc import calculate, calculate_followup, missing_rate
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
        ("how many km is 120 miles", ["193.12 km"]),
        ("how many litres in 5 gallons", ["18.9271 litres"]),
        # The document discounted, who asks, and what is left: words without arithmetic.
        ("customer wants 5% off the 1,200 invoice", ["After discount: 1,140.00"]),
        ("10% rabatt auf 2.500 €, was bleibt übrig?", ["After discount: 2,250.00"]),
        ("kunde fragt: 119,00 brutto, was ist das netto bei 19%?", ["Net: 100.00"]),
        ("buying at 60, selling at 75, margin?", ["Margin: 20.00%", "Markup: 25.00%"]),
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
        "15% off 2340 per month",  # per month: a figure the discount reader does not place
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


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        # Expected values computed by hand, independently of nova.calc.
        # Change between an earlier and a later figure (from/to, was/now, last/this year).
        ("price went from 18.34 to 19.07 whats that in %", ["Change: 0.73", "Growth: 3.98%"]),
        ("price was 80 now 92, how many % up", ["Growth: 15.00%"]),
        ("turnover was 1200, now 1500 - change?", ["Change: 300.00", "Growth: 25.00%"]),
        ("revenue 41k last yr 48k this yr growth?", ["Growth: 17.07%"]),
        ("sales 80k last year, 72k this year, how much down", ["Growth: -10.00%"]),
        # Margin or markup the other way round: the most a cost can be for a selling price.
        ("sell at 129 and want 35% margin, max buy price?", ["Max cost: 83.85"]),  # 129 x 0.65
        ("sell for 59.90 with 30% margin, max cost?", ["Max cost: 41.93"]),  # 59.90 x 0.7
        ("selling price 50, markup 25%, what's the cost", ["Max cost: 40.00"]),  # 50 / 1.25
        ("markup 40% on 25 eur cost", ["Selling price: 35.00"]),  # 25 x 1.4
        # Cost and price named by "cost" and a bare "price".
        ("if cost is 18 and price 29 what's the margin", ["Margin: 37.93%", "Markup: 61.11%"]),
        ("purchase price 12 selling price 20 margin", ["Margin: 40.00%", "Markup: 66.67%"]),
        # Lists and splits.
        ("avg of 120, 95, 130", ["Average: 115.00"]),
        ("average of 40, 50 and 66", ["Average: 52.00"]),
        ("sum of 120, 95 and 130", ["Sum: 345.00"]),
        ("split 1250 three ways", ["Each: 416.67", "3 × 416.67 = 1,250.01"]),
        ("divide 900 into 4 parts", ["Each: 225.00"]),
        # VAT added on top of another calculation.
        ("95 eur/h for 14.5 hrs plus 19% vat", ["VAT 19%: 261.73", "Gross: 1,639.23"]),
        ("12 hours at 80 per hour plus 19% vat", ["Net: 960.00", "Gross: 1,142.40"]),
        ("2 x 150 plus 7% vat", ["VAT 7%: 21.00", "Gross: 321.00"]),
        # A discount, then VAT on what it leaves; a closing question naming the result.
        (
            "list price 189.90, he gets 8% off, plus 19% vat - what's the gross",
            ["After discount: 174.71", "Gross: 207.90"],
        ),
        ("100 minus 10% then 5% plus 19% vat", ["After all: 85.50 (14.50% off)", "Gross: 101.75"]),
        # "P% of N" as a term of plain arithmetic.
        ("7% of 250 plus 19% of 250", ["= 65.00"]),
        ("3% of 1200 minus 50", ["= -14.00"]),
        # Interest: compound yearly, with the simple figure beside it; or the one named.
        (
            "2.5% interest on 10000 for 3 years",
            ["Compound (yearly): 10,768.91, interest 768.91", "Simple: 10,750.00"],
        ),
        ("3% simple interest on 5000 for 4 years", ["Simple: 5,600.00, interest 600.00"]),
        # The rate said after a VAT question ("net of 238 gross" asks for it).
        ("net of 238 gross at 19% VAT", ["Net: 200.00", "VAT 19%: 38.00"]),
    ],
)
def test_reads_roles_lists_and_compositions(request_text: str, expected: list[str]) -> None:
    result = calculate(request_text)
    assert result is not None, request_text
    for line in expected:
        assert line in result.text, result.text
    assert result.reading


def test_interest_names_the_reading_it_used() -> None:
    result = calculate("2.5% interest on 10000 for 3 years")
    assert result is not None
    assert "compounded yearly" in result.reading
    simple = calculate("3% simple interest on 5000 for 4 years")
    assert simple is not None
    assert "Compound" not in simple.text


@pytest.mark.parametrize(
    "request_text",
    [
        "price was 80 now 92",  # the figures, but not what is asked about them
        "from 18.34 to 19.07 and 20 in %",  # a third figure with no role
        "want 35% margin, max buy price?",  # no selling price given
        "50 and 25% markup, cost and sell price?",  # which figure is which is not said
        "what selling price on 80 cost with 25% margin",  # 80 named both ways
        "if cost is 18 and 29 what's the margin",  # the second figure has no role
        "price 18 and price 29 margin",
        "avg of 120,95,130",  # decimal commas or list commas: not said
        "avg of 120,95, 130",
        "avg of 120, 95, 130 for march",
        "split 1250 three ways minus fees",
        "95 eur/h for 14.5 hrs plus 19%",  # 19% of what, and why: not said
        "7% of 250 plus 19%",
        "2.5% interest on 10000 for 3 months",  # monthly periods: not read
        "2.5% interest on 10000",  # no period
        "2.5% simple compound interest on 10000 for 3 years",
        "net of 238 gross",  # no VAT rate: asked for, never assumed
        "vat on 238?",
    ],
)
def test_declines_near_requests_it_cannot_read_exactly(request_text: str) -> None:
    assert calculate(request_text) is None


@pytest.mark.parametrize("request_text", ["net of 238 gross", "vat on 238?", "238 excl. mwst"])
def test_vat_without_a_rate_asks_for_one(request_text: str) -> None:
    question = missing_rate(request_text)
    assert question is not None
    assert "Which VAT rate should I use?" in question
    assert re.findall(r"\d+", question) == re.findall(r"\d+", request_text)  # no rate made up


@pytest.mark.parametrize("request_text", ["net of 238 gross for Baker", "238 net", "238 gross"])
def test_asks_for_a_vat_rate_only_where_vat_is_asked(request_text: str) -> None:
    assert missing_rate(request_text) is None
    assert calculate(request_text) is None


def test_the_chat_subgraph_asks_for_the_vat_rate() -> None:
    graph = build_chat_graph().compile(checkpointer=InMemorySaver())
    values = graph.invoke(
        {  # type: ignore[call-overload]  # a plain-dict input, as the server sends it
            "messages": [("user", "net of 238 gross")],
            "request": "net of 238 gross",
            "route": route_to("calculator", "chat"),
        },
        {"configurable": {"thread_id": "calc-vat-rate"}},
    )
    assert values["agent_run"]["outcome"] == "clarify"
    assert "Which VAT rate should I use?" in values["messages"][-1].content


def test_vat_is_not_added_twice() -> None:
    assert calculate("2 x 150 plus 7% vat plus 19% vat") is None


def test_successive_discounts_are_taken_one_after_the_other() -> None:
    result = calculate("1850 minus 8% then 3% skonto")
    assert result is not None
    assert result.lines[-1] == "After all: 1,650.94 (10.76% off)"  # not 11% of 1850
    assert "Skonto 3%: 51.06" in result.lines[1]
    # A VAT step is not a discount: VAT is added to what the discount leaves, never taken off.
    with_vat = calculate("1850 minus 8% then plus 19% vat")
    assert with_vat is not None
    assert with_vat.lines[-1] == "Gross: 2,025.38"  # 1,702.00 net + 19%
    assert not any("Discount 19%" in line for line in with_vat.lines)


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        # The amount's own label decides VAT's direction: this one is net, so VAT is added.
        ("whats the gross for 845.50 net at 7 percent vat", "Gross: 904.69"),
        ("remove 19 % vat from 59,50", "Net: 50.00"),
        # German words the owner types, read as the English ones.
        ("wieviel prozent sind 312 von 4.800", "6.50%"),
        ("netto 1.387,34 plus 19% mwst was ist brutto", "Gross: 1,650.93"),
        ("simple interest on 25.000 at 4,5% for 3 years", "interest 3,375.00"),
        ("what's 1,850 as a percent of 23,400", "7.91%"),
        ("umsatz letztes jahr 412.300 dieses jahr 447.850 um wieviel prozent gestiegen", "8.62%"),
        ("cost is 220, need a 40% markup, what do i charge", "Selling price: 308.00"),
    ],
)
def test_blind_owner_phrasings(request_text: str, expected: str) -> None:
    result = calculate(request_text)
    assert result is not None and any(expected in line for line in result.lines), result


def test_a_dot_thousands_number_in_an_english_request_is_not_guessed() -> None:
    # "25.000" is 25,000 in German and 25 with three decimals in English.
    assert calculate("interest on 25.000 at 4.5% for 3 years") is None


@pytest.mark.parametrize(
    ("turns", "expected"),
    [
        (["19% vat on 120", "and on an 85 eur one"], "Gross: 101.15"),
        (["markup 25% on 40 cost", "and 40%?"], "Selling price: 56.00"),
        (["15% off 2340", "what about 1,200", "and 900?"], "After discount: 765.00"),
        # A bare number the size of the earlier rate, far from the amount, is the new rate:
        # 1286.40 x 7% = 90.048; 120 x 19% stays 19% when the follow-up is 30 (an amount).
        (["19% on 1286.40?", "and at 7"], "7% of 1,286.40: 90.05"),
        (["19% vat on 120", "and at 30?"], "Gross: 35.70"),
    ],
)
def test_a_follow_up_gives_the_earlier_calculation_a_new_figure(
    turns: list[str], expected: str
) -> None:
    result = calculate_followup(turns)
    assert result is not None and expected in result.lines


@pytest.mark.parametrize(
    "turns",
    [
        ["15% off 2340", "and the customer?"],  # no figure
        ["15% off 2340", "and 900 for acme"],  # a word the follow-up cannot carry
        ["split 120 and 80 between us", "and 50?"],  # two amounts: which one is replaced?
    ],
)
def test_a_follow_up_that_is_not_one_new_figure_is_not_calculated(turns: list[str]) -> None:
    assert calculate_followup(turns) is None


def test_the_graph_answers_a_calculation_follow_up_without_a_model() -> None:
    from tests.thread_helpers import scripted_graph, turn

    graph = scripted_graph()
    turn(graph, "19% vat on 120", "calc-1")
    state = turn(graph, "and on an 85 eur one", "calc-1")
    assert state["route"]["method"] == "followup"
    assert state["agent_run"]["outcome"] == "fast_path"
    assert "Gross: 101.15" in state["messages"][-1].content


def test_a_percentage_on_an_amount_states_the_part_and_the_total() -> None:
    # 1286.40 x 0.19 = 244.416; 1286.40 + 244.416 = 1530.816 (by hand)
    result = calculate("19% on 1286.40?")
    assert result is not None
    assert result.lines == ("19% of 1,286.40: 244.42", "With it: 1,530.82")
    # Another word beside it says what the percentage is: not this reading.
    assert calculate("19% on 1286.40 for acme") is None


@pytest.mark.parametrize(
    ("request_text", "end"),
    [
        ("if mrr goes from 58k up 3% every month, where are we after 12 months", "82,694.13"),
        ("users 1200 falling 2% a week for 10 weeks", "980.49"),
        ("10000 up 5% yearly after 3 years", "11,576.25"),
    ],
)
def test_compound_growth_over_whole_periods(request_text: str, end: str) -> None:
    result = calculate(request_text)
    assert result is not None
    assert f"End value: {end}" in result.lines
    assert "compounded" in result.reading


@pytest.mark.parametrize(
    "request_text",
    [
        "58k up 3% a month for 2 years",  # the rate's period and the count's differ
        "58000 up 3% and 12 months",  # no period to the rate
        "58k up and down 3% every month for 12 months",  # which way
    ],
)
def test_compound_growth_declines_what_it_cannot_read_exactly(request_text: str) -> None:
    assert calculate(request_text) is None


def test_compounding_said_after_the_rate() -> None:
    result = calculate("5000 at 2.5% for 3 yrs compounding yearly, what do i end up with")
    assert result is not None and "End value: 5,384.45" in result.lines
    # A yearly rate compounded monthly is not a monthly rate: not guessed.
    assert calculate("5000 at 2.5% for 3 years compounded monthly") is None


def test_growth_with_what_grew_named_first() -> None:
    result = calculate("mrr went from 58k to 64.5k, growth in %?")
    assert result is not None and "Growth: 11.21%" in result.lines


@pytest.mark.parametrize(
    ("request_text", "line"),
    [
        # Gross and net named together is a VAT question, without the word "VAT".
        ("brutto 2.499 inkl 19% – wie viel netto?", "Net: 2,100.00"),
        ("3% skonto auf 4.380,00 – was zahlt der kunde?", "After Skonto: 4,248.60"),
    ],
)
def test_german_vat_and_skonto_as_the_owner_types_them(request_text: str, line: str) -> None:
    result = calculate(request_text)
    assert result is not None and line in result.lines
    assert calculate("100 incl 19% tip") is None  # "incl" alone says nothing of VAT


def test_what_the_customer_pays_after_skonto() -> None:
    result = calculate("2% skonto on 3,456.78 - what do they pay")
    assert result is not None
    assert "Skonto 2%: 69.14" in result.text and "After Skonto: 3,387.64" in result.text
