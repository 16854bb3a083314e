"""Resolving names, document numbers and periods without a model."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from nova.erp.intents import parse_number
from nova.erp.resolve import ManyPeriods, NameIndex, PeriodError, canonical_number, find_period

TODAY = date(2025, 6, 30)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("invoices from last month", date(2025, 5, 1), date(2025, 5, 31)),
        ("sales in March 2025", date(2025, 3, 1), date(2025, 3, 31)),
        ("sales in March", date(2025, 3, 1), date(2025, 3, 31)),
        ("sales in December", date(2024, 12, 1), date(2024, 12, 31)),
        ("payments since 2025-01-01", date(2025, 1, 1), TODAY),
        ("revenue in Q3", date(2024, 7, 1), date(2024, 9, 30)),
        ("revenue in Q1 2025", date(2025, 1, 1), date(2025, 3, 31)),
        ("this quarter", date(2025, 4, 1), TODAY),
        ("last quarter", date(2025, 1, 1), date(2025, 3, 31)),
        ("between 1 March 2025 and 2025-04-15", date(2025, 3, 1), date(2025, 4, 15)),
        ("over the last 30 days", date(2025, 6, 1), TODAY),
        ("past 12 months", date(2024, 7, 1), TODAY),
        ("year to date", date(2025, 1, 1), TODAY),
        ("in 2024", date(2024, 1, 1), date(2024, 12, 31)),
        ("last week", date(2025, 6, 23), date(2025, 6, 29)),
        ("yesterday", date(2025, 6, 29), date(2025, 6, 29)),
        ("paid on 3 March", date(2025, 3, 3), date(2025, 3, 3)),
        ("revenue since march", date(2025, 3, 1), TODAY),
        ("orders since march 2024", date(2024, 3, 1), TODAY),
        ("orders after april", date(2025, 5, 1), TODAY),
        ("customers since 2024", date(2024, 1, 1), TODAY),
        ("invoices from 2024", date(2024, 1, 1), date(2024, 12, 31)),
        ("orders from march", date(2025, 3, 1), date(2025, 3, 31)),
        ("payments since easter", date(2025, 4, 20), TODAY),
        ("orders on the 26th", date(2025, 6, 26), date(2025, 6, 26)),
        ("orders on the 31st", date(2025, 5, 31), date(2025, 5, 31)),
        ("avg invoice value 2024", date(2024, 1, 1), date(2024, 12, 31)),
        # Days of one month, and a day typed without its year that comes round again soon.
        ("open invoices due 1-6 july", date(2025, 7, 1), date(2025, 7, 6)),
        ("due between the 1st and 6th of july", date(2025, 7, 1), date(2025, 7, 6)),
        ("orders march 3-10 2024", date(2024, 3, 3), date(2024, 3, 10)),
        ("orders 3-10 march", date(2025, 3, 3), date(2025, 3, 10)),
        ("due 6 july", date(2025, 7, 6), date(2025, 7, 6)),
        ("paid on 1 december", date(2024, 12, 1), date(2024, 12, 1)),
        ("orders since 6 july", date(2024, 7, 6), TODAY),
        # Weekdays (TODAY is a Monday): the latest one; "next" looks ahead.
        ("payments on friday", date(2025, 6, 27), date(2025, 6, 27)),
        ("orders last monday", date(2025, 6, 23), date(2025, 6, 23)),
        ("orders on monday", TODAY, TODAY),
        ("due next friday", date(2025, 7, 4), date(2025, 7, 4)),
        # "since" a day or the last week/month: from its start up to today.
        ("credit notes since friday", date(2025, 6, 27), TODAY),
        ("stock corrections since last monday", date(2025, 6, 23), TODAY),
        ("orders since last week", date(2025, 6, 23), TODAY),
        ("orders since last month", date(2025, 5, 1), TODAY),
        # One weekend named as such: the latest Saturday and Sunday ("on weekends": every one).
        ("orders over the weekend", date(2025, 6, 28), date(2025, 6, 29)),
        ("payments at the weekend", date(2025, 6, 28), date(2025, 6, 29)),
        ("orders last weekend", date(2025, 6, 28), date(2025, 6, 29)),
    ],
)
def test_periods(text: str, start: date, end: date) -> None:
    period = find_period(text, TODAY)
    assert period is not None and (period.start, period.end) == (start, end)


def test_due_dates_look_ahead_when_not_clamped() -> None:
    week = find_period("due this week", TODAY, clamp=False)
    assert week is not None and (week.start, week.end) == (date(2025, 6, 30), date(2025, 7, 6))
    clamped = find_period("paid this week", TODAY)
    assert clamped is not None and clamped.end == TODAY
    july = find_period("due in July", TODAY, clamp=False)
    assert july is not None and not july.anchored


@pytest.mark.parametrize("text", ["top 5 customers", "orders with 10-20 units", "3-4 items"])
def test_number_ranges_without_a_month_are_no_period(text: str) -> None:
    assert find_period(text, TODAY) is None


def test_no_period_and_may_the_verb() -> None:
    assert find_period("which invoices may be overdue", TODAY) is None
    assert find_period("show stock of BRK-2210", TODAY) is None
    # A year-like number inside a request is a quantity or an amount, not a year.
    assert find_period("orders over 2024 euros", TODAY) is None


@pytest.mark.parametrize("text", ["since 2025-13-45", "on 31/02/2025", "since 2025-02-30"])
def test_malformed_dates_name_the_bad_text(text: str) -> None:
    with pytest.raises(PeriodError, match="YYYY-MM-DD"):
        find_period(text, TODAY)


def test_two_periods_are_not_one() -> None:
    with pytest.raises(ManyPeriods):
        find_period("compare sales in January and February", TODAY)
    with pytest.raises(PeriodError, match="ends before it starts"):
        find_period("from 2025-05-01 to 2025-04-01", TODAY)


INDEX = NameIndex(
    [
        (1, "20001", "Nordwind GmbH"),
        (2, "20004", "Kessler Automotive GmbH"),
        (3, "20010", "Keßler Autoteile e.K."),
        (4, "20005", "Müller Metallbau GmbH"),
        (5, "20009", "Müller Transporte KG"),
        (6, "20007", "Hoffmann Kfz-Teile GmbH"),
        (7, "20073", "Hoffmann Maschinenbau GmbH"),
        (8, "20002", "Baker & Sons Ltd"),
    ]
)


@pytest.mark.parametrize(
    ("query", "numbers"),
    [
        ("Nordwind", ["20001"]),
        ("nordwnd gmbh", ["20001"]),
        ("20007", ["20007"]),
        ("Kessler Automotive", ["20004"]),
        ("Mueller Metallbau", ["20005"]),
        ("Müller", ["20005", "20009"]),
        ("Kessler", ["20004", "20010"]),
        ("Zyxel Motors", []),
    ],
)
def test_name_lookup(query: str, numbers: list[str]) -> None:
    assert sorted(e.number for e in INDEX.lookup(query)) == sorted(numbers)


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("What does Nordwind's account look like", [["20001"]]),
        ("Look up the customer number for Hoffmann Kfz", [["20007"]]),
        ("invoices of Baker & Sons", [["20002"]]),
        ("what does müller owe", [["20005", "20009"]]),
        ("show the stock of everything", []),
        ("Nordwind and Kessler Automotive", [["20001"], ["20004"]]),
    ],
)
def test_names_found_in_sentences(text: str, numbers: list[list[str]]) -> None:
    found = INDEX.find_in_text(
        text, ignore=frozenset({"stock", "show", "the", "of", "and", "what", "does"})
    )
    assert [sorted(c.number for c in mention.candidates) for mention in found] == numbers


@pytest.mark.parametrize(
    ("kind", "text", "spelled"),
    [
        ("invoice", "inv-2025-412", "INV-2025-00412"),
        ("invoice", "INV 2025 00412", "INV-2025-00412"),
        ("order", "so4410", "SO-4410"),
        ("po", "PO-2025-193", "PO-2025-0193"),
        ("rma", "rma-2025-31", "RMA-2025-0031"),
        ("sku", "brk-2210", "BRK-2210"),
        ("sku", "RMA-0087", None),
        ("invoice", "10482", None),
    ],
)
def test_document_numbers(kind: str, text: str, spelled: str | None) -> None:
    assert canonical_number(kind, text) == spelled


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,250.00", "1250.00"),
        ("1.250,00", "1250.00"),
        ("89,90", "89.90"),
        ("1250", "1250"),
        ("10,000", "10000"),
    ],
)
def test_amounts_in_any_format(text: str, value: str) -> None:
    assert parse_number(text) == Decimal(value)
