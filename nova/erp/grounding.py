"""Find the numbers in a text and check them against source texts (``numbers_grounded``).

A number is read however it is written: ``1,234.50``, ``1234.5``, ``€1.234,50`` and
``1 234,50`` are all 1234.5. A separator followed by exactly three digits is ambiguous
(``1,234`` is 1234 in English and 1.234 in German), so both readings are kept and either
may match. ISO dates (``2025-03-01``) and document ids (``INV-2025-00412``, ``BRK-2210``)
are compared as whole tokens, not as loose digits.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal

DATE_RE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
ID_RE = re.compile(r"\b[A-Z]{1,4}-(?:[0-9A-Z]+-)*\d[0-9A-Z]*(?:@[A-Z]+)?(?:/\d+)?\b")
NUMBER_RE = re.compile(
    r"(?<![\w.,])(?P<n>\d{1,3}(?:[,.\u202f\u00a0 "
    r"]\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?)(?![\w]|[.,]\d)"
)
LIST_INDEX_RE = re.compile(r"(?m)^\s*(?:[-*•]\s*)?#?(?P<n>\d{1,3})[.)]\s")

ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class Mention:
    """One number, date or id as written in a text, with every value it can mean."""

    text: str
    kind: Literal["number", "date", "id"]
    values: frozenset[Decimal]
    start: int


def readings(token: str) -> frozenset[Decimal]:
    """Return the values ``token`` may mean: ``1,234`` → {1234, 1.234}; ``1.234,50`` → {1234.5}."""
    raw = token.replace("\u202f", " ").replace("\u00a0", " ")
    if " " in raw:
        raw = raw.replace(" ", "")
    values: set[str] = set()
    if "," in raw and "." in raw:
        decimal_sep = "," if raw.rfind(",") > raw.rfind(".") else "."
        thousands = "." if decimal_sep == "," else ","
        values.add(raw.replace(thousands, "").replace(decimal_sep, "."))
    elif "," in raw or "." in raw:
        sep = "," if "," in raw else "."
        parts = raw.split(sep)
        if len(parts) > 2:
            values.add(raw.replace(sep, ""))
        else:
            head, tail = parts
            values.add(f"{head}.{tail}")
            if len(tail) == 3:
                values.add(head + tail)
    else:
        values.add(raw)
    result = set()
    for value in values:
        try:
            result.add(Decimal(value).normalize())
        except InvalidOperation:
            continue
    return frozenset(result)


def mentions(text: str, *, skip_list_indices: bool = False) -> list[Mention]:
    """Return the dates, ids and numbers in ``text``, in order.

    Digits inside an id or a date are part of it, not numbers of their own.
    """
    found: list[Mention] = []
    # Characters inside a date or id found so far. A mask, not a list of spans: sources
    # with long tables hold thousands of ids, and checking each match against every span
    # took ~0.6 s per check of a pipeline's answer.
    taken = bytearray(len(text))

    def take(start: int, end: int) -> None:
        taken[start:end] = b"\x01" * (end - start)

    for match in DATE_RE.finditer(text):
        found.append(Mention(match.group(0), "date", frozenset(), match.start()))
        take(*match.span())
    for match in ID_RE.finditer(text):
        if any(taken[match.start() : match.end()]):
            continue
        found.append(Mention(match.group(0), "id", frozenset(), match.start()))
        take(*match.span())
    indices = {m.start("n") for m in LIST_INDEX_RE.finditer(text)} if skip_list_indices else set()
    for match in NUMBER_RE.finditer(text):
        start, end = match.span("n")
        if start in indices or any(taken[start:end]):
            continue
        found.append(Mention(match.group("n"), "number", readings(match.group("n")), start))
    return sorted(found, key=lambda mention: mention.start)


@dataclass(frozen=True, slots=True)
class Grounds:
    """Everything the sources state: numeric values, dates and ids."""

    numbers: frozenset[Decimal]
    dates: frozenset[str]
    ids: frozenset[str]

    @classmethod
    def of(cls, texts: list[str]) -> Grounds:
        """Collect the grounds of ``texts``; a date also grounds its year, month and day."""
        parts = [_grounds_of_text(text) for text in texts]
        return cls(
            frozenset().union(*(p.numbers for p in parts)),
            frozenset().union(*(p.dates for p in parts)),
            frozenset().union(*(p.ids for p in parts)),
        )

    def supports(self, mention: Mention, *, arithmetic: bool = False) -> bool:
        """Whether ``mention`` is stated by the sources (a number may be rounded from one).

        With ``arithmetic``, a number computed from two stated numbers (their sum,
        difference, product, quotient or percentage, at the precision it is written with)
        counts as stated too: "40 - 20 = 20 days" is grounded by 40 and 20.
        """
        if self._stated(mention):
            return True
        return arithmetic and mention.kind == "number" and self._derived(mention)

    def _derived(self, mention: Mention) -> bool:
        # Bounded: the largest 60 source values (3,600 pairs) are enough for an answer's
        # totals and differences; small values are excluded, as almost anything derives 3.
        values = sorted((n for n in self.numbers if n != 0), key=abs, reverse=True)[:60]
        for value in mention.values:
            places = max(0, -int(value.as_tuple().exponent))
            if abs(value) < 10 and places == 0:
                continue
            step = ONE.scaleb(-places)
            for a in values:
                for b in values:
                    for result in _combinations(a, b):
                        try:
                            if result.quantize(step, rounding=ROUND_HALF_UP) == value:
                                return True
                        except InvalidOperation:  # too many digits at this precision
                            continue
        return False

    def _stated(self, mention: Mention) -> bool:
        if mention.kind == "date":
            return mention.text in self.dates
        if mention.kind == "id":
            return mention.text in self.ids or mention.text.split("@", 1)[0] in self.ids
        for value in mention.values:
            if value in self.numbers or -value in self.numbers:
                return True
            # "about €1,235" for 1234.50 is a rounding, an invented 1,300 is not. Small
            # numbers must match exactly: almost anything rounds to 3.
            places = max(0, -int(value.as_tuple().exponent))
            if places <= 1 and abs(value) >= 10:
                step = ONE.scaleb(-places)
                if any(n.quantize(step, rounding=ROUND_HALF_UP) == value for n in self.numbers):
                    return True
        return False


@functools.lru_cache(maxsize=2048)
def _grounds_of_text(text: str) -> Grounds:
    # Cached: blame judges many states (and offers corrections for many steps) against
    # the same tool results and skill outputs.
    numbers: set[Decimal] = set()
    dates: set[str] = set()
    ids: set[str] = set()
    for mention in mentions(text):
        if mention.kind == "number":
            numbers |= mention.values
        elif mention.kind == "date":
            dates.add(mention.text)
            numbers |= {Decimal(part).normalize() for part in mention.text.split("-")}
        else:
            ids.add(mention.text)
            # "SO-4410" grounds "order 4410"; "BRK-2210@MAIN" grounds "BRK-2210".
            ids.add(mention.text.split("@", 1)[0].split("/", 1)[0])
            for part in re.findall(r"\d+", mention.text):
                numbers.add(Decimal(part).normalize())
    return Grounds(frozenset(numbers), frozenset(dates), frozenset(ids))


def _combinations(a: Decimal, b: Decimal) -> Iterator[Decimal]:
    yield a + b
    yield a - b
    yield a * b
    yield a * b / 100
    if b:
        yield a / b
        yield a / b * 100


def ungrounded(
    answer: str, sources: list[str], request: str = "", *, arithmetic: bool = False
) -> list[Mention]:
    """Return what ``answer`` states (numbers, dates, ids) that no source nor the request states.

    List indices ("1. ", "2) ") at the start of a line are not claims and are skipped.
    With ``arithmetic``, a number computed from two stated numbers is grounded too, and so
    is an amount (written with decimals) that a two-operation chain over the figures the
    answer shows gives (its grounded numbers and the request's: "owes 747.94; after
    payments of 300 and 150, 297.94 is left"). Chains are tried over those few figures
    only, never over every source number.
    """
    grounds = Grounds.of([*sources, request])
    found = mentions(answer, skip_list_indices=True)
    missing = [m for m in found if not grounds.supports(m, arithmetic=arithmetic)]
    if not arithmetic or not missing:
        return missing
    operands = _shown_operands(found, grounds, request)
    if len(operands) < 3:
        return missing
    # Only figures written with decimals (amounts): chains over a few whole numbers give
    # too many whole numbers for one of them to be evidence.
    return [
        m
        for m in missing
        if m.kind != "number"
        or not m.values
        or _places(max(m.values)) == 0
        or not _gives(operands, m)
    ]


def _shown_operands(found: list[Mention], grounds: Grounds, request: str) -> list[Decimal]:
    """Return the grounded figures an answer shows and the request's, largest first."""
    cited = [m for m in found if m.kind == "number" and grounds.supports(m)]
    asked = [m for m in mentions(request) if m.kind == "number"]
    return sorted({min(m.values) for m in [*cited, *asked] if m.values}, reverse=True)


@dataclass(frozen=True, slots=True)
class Miscomputed:
    """A computed number in an answer that the figures the answer cites do not give."""

    mention: Mention
    operands: tuple[Decimal, ...]
    """The grounded figures the answer (and the request) state, which it computed from."""
    recomputed: tuple[Decimal, ...]
    """What two of them give: sums and differences first (figures of one unit), then
    products, quotients and percentages, then two-operation chains over three of them;
    nearest first within each."""


MAX_CHAIN_OPERANDS = 8
"""Most figures whose two-operation chains are tried (8: about 4,000 results); with more,
only single operations are (a chain over many figures gives almost any number)."""


def _recomputations(operands: list[Decimal]) -> Iterator[tuple[int, Decimal]]:
    """Yield ``(rank, result)`` for what the operands give, simplest first.

    Sums and differences (rank 0), the other single operations (rank 1), then
    two-operation chains: a sum, difference or percentage of two figures, plus or minus a
    third (rank 2: "total of two invoices minus a payment") or one of the two again (rank
    3: "the amount less a 2% discount"), when there are at most ``MAX_CHAIN_OPERANDS``.
    """
    for i, a in enumerate(operands):
        for j, b in enumerate(operands):
            if i != j:
                for n, result in enumerate(_combinations(a, b)):
                    yield (0 if n < 2 else 1), result
    if len(operands) > 2:
        yield 0, sum(operands, Decimal(0))
    if len(operands) > MAX_CHAIN_OPERANDS:
        return
    for i, a in enumerate(operands):
        for j, b in enumerate(operands):
            if i == j:
                continue
            share = a * b / 100
            for first in (a + b, a - b, share):
                for k, c in enumerate(operands):
                    if k == i and first is not share:
                        continue  # (a ± b) ± a says nothing a single operation does not
                    rank = 2 if k not in (i, j) else 3  # three figures before a reused one
                    yield rank, first + c
                    yield rank, first - c
                    yield rank, c - first


def _places(value: Decimal) -> int:
    return max(0, -int(value.as_tuple().exponent))


def _rounded(operands: list[Decimal], places: int) -> dict[Decimal, int]:
    """Return what two operands give, at ``places`` decimals, with each result's best rank."""
    step = ONE.scaleb(-places)
    results: dict[Decimal, int] = {}
    for rank, result in _recomputations(operands):
        try:
            rounded = result.quantize(step, rounding=ROUND_HALF_UP)
        except InvalidOperation:  # too many digits at this precision
            continue
        results[rounded] = min(rank, results.get(rounded, rank))
    return results


def _gives(operands: list[Decimal], mention: Mention) -> bool:
    results = _rounded(operands, _places(max(mention.values)))
    return any(v in results or -v in results for v in mention.values)


def miscomputed(answer: str, sources: list[str], request: str = "") -> list[Miscomputed]:
    """Return the numbers ``answer`` computed wrongly from the figures it cites.

    A number no source states but two source numbers give is a computation (one that no
    two give is an invention, ``numbers_grounded``'s concern). An answer shows its reader
    the operands: the grounded figures it states beside it, and the figures of the user's
    request ("if they pay 24, what is left?"). When there are at least two and no sum,
    difference, product, quotient or percentage of two of them (nor their total, nor a
    two-operation chain over three of them such as a total minus a payment, nor one with
    another computed figure of the answer) gives the number at the precision it is written
    with, the arithmetic is wrong: "owes 48.74; after a payment of 24.00, 42.74 is
    left". A computed figure that is itself an operand of another ("50 percent of it is
    24.37": a rate the answer chose) is not a result. Whole numbers under 10 are left
    alone (counts and ordinals, which almost anything gives).
    """
    grounds = Grounds.of([*sources, request])
    found = mentions(answer, skip_list_indices=True)
    operands = _shown_operands(found, grounds, request)
    if len(operands) < 2:
        return []
    unstated = [
        m
        for m in found
        if m.kind == "number"
        and m.values
        and not grounds.supports(m)
        and not (abs(max(m.values)) < 10 and _places(max(m.values)) == 0)
    ]
    # One that no two sources give is an invention (numbers_grounded's), not arithmetic.
    computed = [m for m in unstated if grounds.supports(m, arithmetic=True)]
    wrong = []
    for mention in computed:
        others = [min(m.values) for m in unstated if m is not mention]
        if _gives([*operands, *others], mention):
            continue
        # A rate the answer chose ("50 percent of it is 24.37") is an operand, not a result.
        if any(_gives([*operands, min(mention.values)], m) for m in unstated if m is not mention):
            continue
        value = max(mention.values)
        results = _rounded(operands, _places(value))
        nearest = sorted((r for r in results if r > 0), key=lambda r: (results[r], abs(r - value)))
        chosen = nearest[:3]
        # The nearest two-operation result too: a chain's figure is rarely among the first.
        chained = sorted((r for r in nearest if results[r] >= 2), key=lambda r: abs(r - value))
        chosen += [r for r in chained[:1] if r not in chosen]
        wrong.append(Miscomputed(mention, tuple(operands), tuple(chosen)))
    return wrong
