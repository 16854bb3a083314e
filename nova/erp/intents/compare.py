"""Read a comparison ("nordwind vs winkler sales this yr") as two requests the reader answers.

A comparison names one thing twice around a split word ("vs", "versus", "compared to/with",
"or", "than" after a comparative): two customers, two periods, two categories, two
warehouses, two suppliers, two countries or two products. Everything else in the request
(the measure, the other filters, the period when the periods are not what is contrasted) is
shared by both sides. ``plan_comparison`` finds the contrasted phrase on each side of the
split (``_contrast``), writes each side as a request of its own (the whole request without
the other side's phrase), and plans both with the ordinary reader (``plan_request``).

Both sides must plan in full, with the same skill, to arguments that differ only in the
contrasted filter, and to a result that is one figure (``FIGURE_SKILLS``); anything else
declines, so a comparison is answered with every condition applied or handed to the model.
No phrase of any request is written here: the split words, the words that only ask for the
comparison's result ("more", "growth") and the entity readers are all the structure there is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, timedelta

from sqlalchemy.orm import Session

from nova.erp.db import business_date
from nova.erp.intents import Decline, Plan, plan_request
from nova.erp.intents.german import dictionary_gloss, to_english
from nova.erp.intents.parsing import english_words, known_words, parse_request
from nova.erp.intents.request import NotForFastPath, Request, Unclear
from nova.erp.intents.rules import GLOBAL_WORDS
from nova.erp.intents.structured import grouping
from nova.erp.resolve import normalise

COMPARE_SKILL = "erp_compare"
"""The name a composite answer of two plans is recorded under (no skill of its own)."""

_SPLIT_WORDS = frozenset({"vs", "vs.", "v", "v.", "versus", "or", "than", "against"})
_SPLIT_PAIRS = frozenset({("compared", "to"), ("compared", "with")})
_COMPARATIVES = frozenset(
    {"more", "less", "fewer", "higher", "lower", "bigger", "smaller", "larger"}
)
"""Words that ask which side is larger: the composite answer states both and the difference."""
_RESULT_WORDS = frozenset({"growth", "change", "difference", "diff", "%"})
"""Words that ask for the comparison's own result, which the composite answer states."""
_PUNCTUATION = ",.;:?!()"

_MONTH = (
    r"(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)"
)
_MONTH_OF_YEAR = re.compile(
    rf"\b(?:this\s+)?(?P<m>{_MONTH})\s+(?:of\s+)?(?P<rel>this|last|previous)\s+(?:year|yr)\b"
    rf"|\bthis\s+(?P<m2>{_MONTH})\b",
    re.IGNORECASE,
)
"""A month named within a year relative to today ("april last yr", "this june")."""

FIGURE_SKILLS = frozenset({"erp_query", "erp_sales_summary", "erp_payment_history"})
"""Skills whose plan can state one figure; the query only when it neither groups nor lists."""

CONTRAST_FIELDS: dict[str, frozenset[str]] = {
    "period": frozenset({"date_from", "date_to"}),
    "customer": frozenset({"customer"}),
    "supplier": frozenset({"supplier"}),
    "categories": frozenset({"category"}),
    "warehouses": frozenset({"warehouse"}),
    "countries": frozenset({"country"}),
    "skus": frozenset({"products", "product", "sku"}),
}
"""The arguments each contrasted kind may set; the two sides' plans may differ in no other."""

_BARE_READS = frozenset({"period", "warehouses"})
"""Kinds a bare word reads as only after "in" ("may", "main"): tried so when contrasted."""


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a comparison: its own request, how it is labelled, and its plan."""

    label: str
    text: str
    plan: Plan


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two plans that differ only in the contrasted ``kind``; ``base`` is the side compared to.

    The base is the earlier period when periods are compared ("june vs may": the change from
    May), otherwise the second side named ("nordwind vs winkler": Nordwind against Winkler).
    """

    kind: str
    sides: tuple[Side, Side]
    base: int
    reading: str | None = None
    """How the request was read where it left something unsaid (the figure compared)."""


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    words: list[str]
    """The words that replace the span in the side's own request ("in may" for "may")."""
    value: tuple[object, ...]
    label: str


def _bare(word: str) -> str:
    return word.strip(_PUNCTUATION).lower()


def _split(words: list[str]) -> tuple[list[str], list[str]] | None:
    """Cut the request at its one split word; ``None`` when there is none or several."""
    cuts: list[tuple[int, int]] = []
    for index, word in enumerate(words):
        bare = _bare(word)
        following = _bare(words[index + 1]) if index + 1 < len(words) else ""
        if (bare, following) in _SPLIT_PAIRS:
            cuts.append((index, index + 2))
        elif bare in _SPLIT_WORDS and word.strip(_PUNCTUATION) != "":
            if bare == "than" and (
                not following[:1].isalnum()
                or following[:1].isdigit()
                or not any(_bare(w) in _COMPARATIVES for w in words[:index])
            ):
                continue  # "more than 3 times", "other than cash": a threshold, no second side
            cuts.append((index, index + 1))
    if len(cuts) != 1:
        return None
    start, end = cuts[0]
    left, right = words[:start], words[end:]
    return (left, right) if left and right else None


def calendar_name(start: date | None, end: date | None) -> str | None:
    """Name a span that is one calendar unit ("2024", "H1 2025", "Q2 2025", "May 2025")."""
    if start is None or end is None or start.day != 1 or start.year != end.year:
        return None
    if (end + timedelta(days=1)).day != 1:
        return None  # not a month's last day
    months = end.month - start.month + 1
    if months == 12:
        return str(start.year)
    if months == 6 and start.month in (1, 7):
        return f"H{1 if start.month == 1 else 2} {start.year}"
    if months == 3 and start.month % 3 == 1:
        return f"Q{start.month // 3 + 1} {start.year}"
    if months == 1:
        return f"{start:%B %Y}"
    return None


def _values(request: Request, kind: str) -> tuple[tuple[object, ...], str] | None:
    """Return the contrastable ``kind``'s value in ``request`` and its label (``None``: absent)."""
    if kind == "period":
        period = request.period
        if period is None:
            return None
        span = (
            period.start.isoformat()
            if period.start == period.end and period.start
            else calendar_name(period.start, period.end) or f"{period.start}..{period.end}"
        )
        return (period.start, period.end), span
    if kind in ("customer", "supplier"):
        mentions = request.customers if kind == "customer" else request.suppliers
        numbers = request.customer_numbers if kind == "customer" else []
        if len(mentions) + len(numbers) != 1:
            return None
        if numbers:
            return (numbers[0],), f"customer {numbers[0]}"
        found = mentions[0].resolved
        if found is None:
            return None
        return (found.number,), f"{found.name} ({found.number})"
    listed = getattr(request, kind)
    if len(listed) != 1:
        return None
    return (listed[0],), str(listed[0])


def _parse(words: list[str], session: Session, today: date) -> Request | None:
    if not words:
        return None
    try:
        return parse_request(" ".join(words), session, today=today)
    except (NotForFastPath, Unclear):
        return None


def _pure(request: Request, kind: str) -> bool:
    """Whether ``request`` holds the ``kind`` entity and nothing else that carries meaning."""
    return (
        request.kinds() == {kind}
        and not request.product_choices
        and request.unknown_name is None
        and set(request.residual) <= GLOBAL_WORDS
    )


def _meaning(
    request: Request, left_out: str
) -> tuple[dict[str, tuple[tuple[object, ...], str] | None], list[str], set[str]]:
    """Say what a request holds besides ``left_out``: its other entities, kinds and words."""
    entities = {kind: _values(request, kind) for kind in CONTRAST_FIELDS if kind != left_out}
    words = sorted(set(request.residual) - GLOBAL_WORDS)
    return entities, words, request.kinds() - {left_out}


def _span(
    words: list[str], kind: str, session: Session, today: date, *, at_end: bool
) -> _Found | None:
    """Find the shortest span of ``words`` that is the ``kind`` entity alone.

    Taking the span out must leave the rest of the side reading as it did, less that entity:
    the same other entities and the same words ("first half this" is no span of "first half
    this yr": the rest, "yr", would be a stray word). Spans nearer the split word come first:
    the end of the left side, the start of the right.
    """
    size = len(words)
    for length in range(1, size + 1):
        starts = range(size - length, -1, -1) if at_end else range(size - length + 1)
        for start in starts:
            span, rest_words = (
                words[start : start + length],
                words[:start] + words[start + length :],
            )
            # A bare word reads as a period or warehouse after "in"; one already there stays.
            after_in = start > 0 and _bare(words[start - 1]) == "in"
            variants = [span, ["in", *span]] if kind in _BARE_READS and not after_in else [span]
            for variant in variants:
                request = _parse(variant, session, today)
                if request is None or not _pure(request, kind):
                    continue
                found = _values(request, kind)
                whole = _parse(words[:start] + variant + words[start + length :], session, today)
                rest = _parse(rest_words, session, today) if rest_words else None
                if found is None or whole is None or _values(whole, kind) != found:
                    continue
                if rest is None:
                    if rest_words or whole.kinds() != {kind}:
                        continue  # the shared words do not read on their own
                elif kind in rest.kinds() or _meaning(rest, kind) != _meaning(whole, kind):
                    continue
                return _Found(start, start + length, variant, found[0], found[1])
    return None


def _year_months(text: str, today: date) -> str:
    """Write a month within a relative year as the month and its year ("april 2024")."""

    def dated(match: re.Match[str]) -> str:
        month = match.group("m") or match.group("m2")
        rel = (match.group("rel") or "this").lower()
        return f"{month} {today.year if rel == 'this' else today.year - 1}"

    return _MONTH_OF_YEAR.sub(dated, text)


_SAME_PERIOD = re.compile(
    r"^(?:the\s+)?same\s+(?:period|time|days|dates|stretch)\s+(?:of\s+|in\s+)?"
    r"(?:last|previous|the\s+previous)\s+(?:year|yr)$"
)
"""The left side's period a year earlier ("sales since easter vs same period last yr")."""


def _year_earlier(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _elided(left: list[str], right: list[str], session: Session, today: date) -> list[str]:
    """Complete "this year than last": the right side's bare "last" takes the left's unit.

    "… vs same period last year" takes the left side's period, a year earlier, as dates.
    """
    same_period = _SAME_PERIOD.match(" ".join(_bare(w) for w in right)) is not None
    if not same_period and [_bare(w) for w in right] != ["last"]:
        return right
    request = _parse(left, session, today)
    period = request.period if request else None
    if same_period:
        if period is None or period.start is None or period.end is None:
            return right
        start, end = _year_earlier(period.start), _year_earlier(period.end)
        return ["from", start.isoformat(), "to", end.isoformat()]
    words = period.text.lower().split() if period else []
    if len(words) == 2 and words[0] == "this":
        return ["last", words[1]]
    return right


def _contrast(
    left: list[str], right: list[str], session: Session, today: date
) -> tuple[str, _Found, _Found] | None:
    """Find the one kind named differently on both sides, and its span on each."""
    found: list[tuple[str, _Found, _Found]] = []
    for kind in CONTRAST_FIELDS:
        a = _span(left, kind, session, today, at_end=True)
        if a is None:
            continue
        b = _span(right, kind, session, today, at_end=False)
        if b is not None and a.value != b.value:
            found.append((kind, a, b))
    return found[0] if len(found) == 1 else None


def _differs(a: Plan, b: Plan, kind: str) -> str | None:
    """Say why two sides' plans are not the same question about two things, or ``None``."""
    if a.skill != b.skill:
        return f"the sides read as different skills ({a.skill}, {b.skill})"
    if a.skill not in FIGURE_SKILLS:
        return f"{a.skill} states no single figure to compare"
    first, second = a.args.model_dump(), b.args.model_dump()
    changed = {key for key in first if first[key] != second.get(key)}
    if not changed:
        return "the sides read the same"
    if not changed <= CONTRAST_FIELDS[kind]:
        return f"the sides differ in {sorted(changed - CONTRAST_FIELDS[kind])}, not only {kind}"
    if a.skill == "erp_query" and (first["group_by"] or first["list_rows"] or first["number"]):
        return "the query's plan is a list or a grouping, not one figure"
    if a.reading != b.reading or a.one_record or b.one_record:
        return "the sides read two ways"
    return None


_SALES_BY_DEFAULT = frozenset({"period", "customer", "categories", "countries", "skus"})
"""Kinds whose comparison, with no figure named, is of sales (warehouses hold stock, and
suppliers are bought from: neither has an obvious default figure)."""
_NO_FIGURE = ("subject unclear: none", "nothing to compute")
_ONLY_A_VERB = "no figure named for orders"
"""A side that only says "sell" or "buy": sales, unless products are compared ("did they buy
more brakes or filters": more pieces, or more euros?)."""


def _names_no_figure(decline: Decline, kind: str) -> bool:
    """Whether a side declined only because it names nothing to compute."""
    if _ONLY_A_VERB in decline.reason:
        return kind not in ("categories", "skus")
    return any(reason in decline.reason for reason in _NO_FIGURE)


def _plan_sides(
    texts: tuple[str, str], session: Session, allowed: list[str], today: date
) -> list[Plan] | Decline:
    """Plan each side's own request with the reader, or say why a side does not plan."""
    plans: list[Plan] = []
    for side in texts:
        decision = plan_request(side, session, allowed, today=today)
        if not isinstance(decision, Plan) or decision.writes:
            reason = decision.reason if isinstance(decision, Decline) else "no read plan"
            return Decline(f"side {side!r} does not plan: {reason}")
        plans.append(decision)
    return plans


def plan_comparison(
    text: str, session: Session, tools: Iterable[str], *, today: date | None = None
) -> Comparison | Decline:
    """Read ``text`` as a comparison of two things and plan each side, or say why not.

    Returns:
        ``Comparison`` (both sides planned in full, differing only in what is contrasted)
        or ``Decline`` (not a comparison, or a side the reader cannot answer in full).

    """
    today = today or business_date(session)
    german = to_english(text, known_words(session), english_words(), dictionary_gloss())
    if german is not None:
        # "umsatz q2 vs q1": read in English as a whole, so both sides carry one reading
        # (each side read from German alone would name its own translation).
        compared = _plan_comparison(german, session, list(tools), today)
        if isinstance(compared, Decline):
            return compared
        said = f"Read from German as “{german}”."
        return replace(compared, reading=f"{said} {compared.reading or ''}".strip())
    return _plan_comparison(text, session, list(tools), today)


def _plan_comparison(
    text: str, session: Session, allowed: list[str], today: date
) -> Comparison | Decline:
    words = _year_months(text, today).split()
    if len(words) > 24:
        return Decline("too long to read as a comparison")
    asked = [w for w in words if _bare(w) in _COMPARATIVES or w.strip(_PUNCTUATION) == "%"]
    if len(asked) > 1:
        return Decline("several comparatives")
    if grouping(normalise(text)) is not None:
        # "sales per category q2 vs q1": the composite answer compares two totals.
        return Decline("a comparison per group; the composite answer compares totals")
    split = _split(words)
    if split is None:
        return Decline("no one split word ('vs', 'or', 'than', 'compared to')")
    left, right = (
        [w for w in side if _bare(w) not in _COMPARATIVES | _RESULT_WORDS] for side in split
    )
    right = _elided(left, right, session, today)
    contrast = _contrast(left, right, session, today)
    if contrast is None:
        return Decline("no one thing named differently on both sides")
    kind, a, b = contrast
    texts = (
        " ".join(left[: a.start] + a.words + left[a.end :] + right[: b.start] + right[b.end :]),
        " ".join(left[: a.start] + left[a.end :] + right[: b.start] + b.words + right[b.end :]),
    )
    plans = _plan_sides(texts, session, allowed, today)
    reading = None
    if isinstance(plans, Decline) and kind in _SALES_BY_DEFAULT and _names_no_figure(plans, kind):
        # "nordwind this year vs last year", "austria vs switzerland": two customers, periods
        # or markets with no figure named are compared on sales, which the answer names.
        texts = (f"sales {texts[0]}", f"sales {texts[1]}")
        plans = _plan_sides(texts, session, allowed, today)
        reading = "No figure was named: compared on sales."
    if isinstance(plans, Decline):
        return plans
    problem = _differs(plans[0], plans[1], kind)
    if problem is not None:
        return Decline(problem)
    base = 1
    if kind == "period":
        starts = [found.value[0] for found in (a, b)]
        first = [start if isinstance(start, date) else date.min for start in starts]
        base = 0 if first[0] <= first[1] else 1
    sides = (
        Side(a.label, texts[0], plans[0]),
        Side(b.label, texts[1], plans[1]),
    )
    return Comparison(kind, sides, base, reading)


__all__ = ["COMPARE_SKILL", "FIGURE_SKILLS", "Comparison", "Side", "plan_comparison"]
