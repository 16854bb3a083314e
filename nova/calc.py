"""Model-free arithmetic for the calculator agent: the requests it can read exactly.

``calculate(text)`` reads one request the way the calculator agent's description scopes it —
VAT added or taken out, discounts and Skonto, "P% of N", margin and markup (and back: the
most a cost can be for a selling price), the change between an earlier and a later figure
(from/to, was/now, last/this year), sums, averages and equal splits, hours at a rate, yearly
interest, unit conversions, plain arithmetic with "P% of N" terms, and VAT added on top of
any of these that has one total — and returns the result with the reading it used ("19% VAT
taken out of 595.00 gross"). A number's role comes from the words beside it ("sell at 129",
"25 eur cost"), never from its position alone. It answers only when
the whole request is accounted for: every number has a role and every other word is one
the reading explains or a filler word. Anything else (a currency exchange, a word it cannot
place, two numbers too many) returns ``None`` and the request goes to the model, because a
confident wrong figure is worse than "I need a model for this". A currency conversion
converts at the rate the request states; without one, ``missing_rate`` gives the question
that asks for it (the calculator knows no exchange rates), and VAT on an amount with no rate
("net of 238 gross") asks which rate, never assumes 19%.

Money is computed in ``Decimal`` and rounded half up to cents; unit conversions use pint.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")

# Words that carry no arithmetic meaning in a request; anything else must be explained by
# the reading that matched, or the request is not answered.
FILLER = frozenset(
    """
    what whats what's is are the a an how much many please calculate compute work out tell me
    give i my me do we you can could would should be it its it's that this for of in at to and
    then with if there here price prices amount total value number result eur euro euros
    usd dollars dollar € $ ? = get gets got need list pls plz asks asked wants he she
    quick one n & we'd
    """.split()
)

GERMAN_FILLER = frozenset(
    """
    was wie viel wieviel ist sind der die das den dem des ein eine einen ich wir mir mich
    und oder dann noch nochmal von vom zu zum zur bei auf aus mit für fur im in an am um
    bitte mal also kommt raus rechne rechnen ergibt macht es da zahlt zahlen kunde fragt
    """.split()
)
"""German closed-class words (the owner types German as often as English): they carry no
arithmetic meaning either. German words that do ("netto", "brutto", "mwst", "rabatt",
"skonto", "ek", "vk") are in the readers' own word sets."""

_GERMAN_TERMS = {
    "von": "of", "prozent": "percent", "marge": "margin", "aufschlag": "markup",
    "einkauf": "cost", "einkaufspreis": "cost", "verkaufspreis": "price", "preis": "price",
    "zinsen": "interest", "zins": "interest", "jahre": "years", "jahr": "year",
    "jahren": "years", "durchschnitt": "average", "summe": "sum", "gestiegen": "increase",
    "gesunken": "decrease", "steigerung": "increase", "umsatz": "revenue",
    "letztes": "last", "dieses": "this",
    "abzüglich": "minus", "abzgl": "minus", "zzgl": "plus", "zuzüglich": "plus",
    "inkl": "incl", "inklusive": "incl", "exkl": "excl", "stunden": "hours", "std": "hours",
}  # fmt: skip
"""German calculator words, read as the English ones the readers know (the owner types both)."""
_GERMAN_TERM = re.compile(r"\b(" + "|".join(map(re.escape, _GERMAN_TERMS)) + r")\b", re.I)

_DOT_THOUSANDS = re.compile(r"(?<![\w.,])\d{1,3}(?:\.\d{3})+(?![\w.,])")
""""25.000": German for 25,000, or 25 with three decimals; read only when the request is
German (a German word or a decimal comma), declined otherwise."""
_GERMAN_CUE = re.compile(r"\d,\d{1,2}(?!\d)|\b(?:" + "|".join(sorted(GERMAN_FILLER)) + r")\b", re.I)

_NUMBER = re.compile(
    r"(?<![\w.,])"
    r"(?P<num>\d{1,3}(?:\.\d{3})+,\d{1,2}"  # 1.299,90 (German)
    r"|\d{1,3}(?:,\d{3})+(?:\.\d+)?"  # 1,299.90
    r"|\d+,\d{1,2}(?![\d])"  # 12,5 (decimal comma)
    r"|\d+(?:\.\d+)?)"
    r"(?P<suffix>k\b|m\b)?",
)
_PERCENT = re.compile(r"^\s*(?:%|percent\b|per\s*cent\b|pct\b)")


def parse_number(raw: str, suffix: str | None = None) -> Decimal:
    """Read ``1,299.90``, ``1.299,90``, ``12,5`` or ``48`` (with ``k``/``m``) as a Decimal."""
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+,\d{1,2}", raw):
        value = Decimal(raw.replace(".", "").replace(",", "."))
    elif re.fullmatch(r"\d+,\d{1,2}", raw):
        value = Decimal(raw.replace(",", "."))
    else:
        value = Decimal(raw.replace(",", ""))
    return value * {"k": 1000, "m": 1_000_000}.get(suffix or "", 1)


@dataclass(frozen=True, slots=True)
class Token:
    """A number in the request, whether it is a percentage, and its text span."""

    value: Decimal
    percent: bool
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Calculation:
    """A model-free answer: the figures, and how the request was read."""

    reading: str
    """What Nova computed, in words (shown so the owner can check the interpretation)."""
    lines: tuple[str, ...]
    """The results, one per line (``"Net: 500.00"``)."""
    total: Decimal | None = None
    """The one figure a later step can build on (VAT added to it), where there is one."""

    @property
    def text(self) -> str:
        """Return the answer as shown to the owner (Markdown: one result per list item)."""
        return "\n".join([*(f"- {line}" for line in self.lines), "", f"_Read as: {self.reading}._"])


def money(value: Decimal) -> str:
    """Format ``value`` as ``1,989.00`` (rounded half up to cents)."""
    return f"{value.quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"


def pct(value: Decimal) -> str:
    """Format a percentage with two decimals (``38.77%``)."""
    return f"{value.quantize(CENT, rounding=ROUND_HALF_UP):,.2f}%"


def _tokens(text: str) -> list[Token]:
    found = []
    for match in _NUMBER.finditer(text):
        percent = bool(_PERCENT.match(text[match.end() :]))
        end = match.end()
        if percent:
            end += _PERCENT.match(text[match.end() :]).end()  # type: ignore[union-attr]
        found.append(
            Token(parse_number(match["num"], match["suffix"]), percent, match.start(), end)
        )
    return found


def _words(text: str, tokens: list[Token]) -> list[str]:
    """Return the request's words outside its numbers, lower-cased, punctuation stripped."""
    pieces, last = [], 0
    for token in tokens:
        pieces.append(text[last : token.start])
        last = token.end
    pieces.append(text[last:])
    return re.findall(r"[a-zäöüß€$]+(?:'[a-z]+)?", " ".join(pieces).lower())


def _explained(words: list[str], allowed: AbstractSet[str]) -> bool:
    return all(word in FILLER or word in GERMAN_FILLER or word in allowed for word in words)


_VAT = {"vat", "tax", "mwst", "ust", "sales"}
_GROSS = {"gross", "incl", "including", "inclusive", "inkl", "brutto", "included", "contains"}
_NET = {"net", "netto", "excl", "excluding", "before", "without"}
_DISCOUNT = {"off", "discount", "rabatt", "skonto", "less", "minus", "reduced", "by", "cash"}
_MARGIN = {"margin", "markup", "mark", "up"}
_BUY = {"buy", "buying", "bought", "cost", "costs", "purchase", "purchased", "ek"}
_SELL = {"sell", "sells", "sold", "selling", "sale", "sales", "vk", "charge"}
_GROWTH = {"growth", "grow", "grew", "change", "increase", "decrease", "from", "rise", "fell"}


def _rate_and_amount(tokens: list[Token]) -> tuple[Token, Token] | None:
    """Return the request's one percentage and one other number, if that is all it has."""
    rates = [t for t in tokens if t.percent]
    amounts = [t for t in tokens if not t.percent]
    return (rates[0], amounts[0]) if len(rates) == 1 and len(amounts) == 1 else None


def _amount_label(text: str, number: Token) -> str | None:
    """Return ``net`` or ``gross`` when the word right after (else before) a number says so."""
    after = re.match(r"\s*(?:eur|euro|euros|€)?\s*([a-zä]+)", text[number.end :].lower())
    before = re.search(r"([a-zä]+)\s*(?:eur|euro|euros|€)?\s*$", text[: number.start].lower())
    for found in (after, before):
        word = found.group(1) if found else ""
        if word in _NET - {"before", "without"}:
            return "net"
        if word in _GROSS - {"contains", "included"}:
            return "gross"
    return None


def _vat(text: str, tokens: list[Token], words: list[str]) -> Calculation | None:
    pair = _rate_and_amount(tokens)
    # Gross and net named together ("brutto 2.499 inkl 19%, wie viel netto?") is VAT too.
    if pair is None or not (_VAT & set(words) or (_GROSS & set(words) and _NET & set(words))):
        return None
    percent, number = pair
    vat_words = {"add", "plus", "on", "rate", "at", "remove", "removed", "out", "extract", "from"}
    if not _explained(words, _VAT | _GROSS | _NET | vat_words):
        return None
    rate, amount = percent.value / 100, number.value
    # The amount's own label decides first: "the gross for 845.50 net" gives a net amount,
    # whatever else the sentence says; "1190 brutto" a gross one.
    label = _amount_label(text, number)
    if label is None and {"remove", "removed", "out", "extract"} & set(words):
        label = "gross"  # "remove 19% vat from 59,50": the amount holds the VAT
    taken_out = (
        label == "gross"
        if label is not None
        else bool(_GROSS & set(words))
        and not ({"add", "plus", "on"} & set(words) and not _NET & set(words))
    )
    if taken_out:
        net = amount / (1 + rate)
        return Calculation(
            reading=f"{percent.value}% VAT taken out of {money(amount)} gross",
            lines=(
                f"Net: {money(net)}",
                f"VAT {percent.value}%: {money(amount - net)}",
                f"Gross: {money(amount)}",
            ),
        )
    vat = amount * rate
    return Calculation(
        reading=f"{percent.value}% VAT added to {money(amount)} net",
        lines=(
            f"Net: {money(amount)}",
            f"VAT {percent.value}%: {money(vat)}",
            f"Gross: {money(amount + vat)}",
        ),
    )


def _discount(text: str, tokens: list[Token], words: list[str]) -> Calculation | None:
    pair = _rate_and_amount(tokens)
    if pair is None or not _DISCOUNT & set(words) - {"by"}:
        return None
    percent, number = pair
    # "2% skonto on 3,456.78 - what do they pay": what is left is what the customer pays.
    paying = {"pay", "pays", "they", "customer", "client"}
    # What is left after it ("was bleibt übrig"), and the document it is taken off.
    left = {"left", "remains", "remaining", "bleibt", "übrig", "ubrig", "rest"}
    documents = {"order", "invoice", "quote", "bill", "rechnung", "auftrag", "angebot"}
    allowed = _DISCOUNT | {"on", "take", "apply", "after"} | paying | left | documents
    if not _explained(words, allowed):
        return None
    rate, amount = percent.value / 100, number.value
    kind = "Skonto" if "skonto" in words else "discount"
    return Calculation(
        reading=f"{percent.value}% {kind} on {money(amount)}",
        lines=(
            f"{kind.capitalize()} {percent.value}%: {money(amount * rate)}",
            f"After {kind}: {money(amount * (1 - rate))}",
        ),
        total=(amount * (1 - rate)).quantize(CENT, rounding=ROUND_HALF_UP),
    )


def _successive_discounts(text: str, tokens: list[Token], words: list[str]) -> Calculation | None:
    """Read "1850 minus 8% then 3% skonto": discounts taken one after the other.

    One amount, first, and two or more percentages, each taken off what the one before left
    (8% then 3% is 10.76% off, not 11%). Only discount words, "then", "another" and "and"
    may join them.
    """
    rates = [t for t in tokens if t.percent]
    if len(rates) < 2 or tokens[0].percent or any(not t.percent for t in tokens[1:]):
        return None
    if not _DISCOUNT & set(words) - {"by"}:
        return None
    if not _explained(words, _DISCOUNT | {"then", "another", "further", "and", "on", "after"}):
        return None
    amount = remaining = tokens[0].value
    lines = []
    for rate in rates:
        kind = (
            "Skonto" if re.search(r"skonto", text[rate.end : rate.end + 12], re.I) else "Discount"
        )
        off = remaining * rate.value / 100
        remaining -= off
        lines.append(f"{kind} {rate.value}%: {money(off)}, leaves {money(remaining)}")
    lines.append(f"After all: {money(remaining)} ({pct((amount - remaining) / amount * 100)} off)")
    steps = " then ".join(f"{r.value}%" for r in rates)
    return Calculation(
        reading=f"{steps} taken off {money(amount)} one after the other",
        lines=tuple(lines),
        total=remaining.quantize(CENT, rounding=ROUND_HALF_UP),
    )


def _share(text: str, tokens: list[Token], words: list[str]) -> Calculation | None:
    """Read "what's 1,850 as a percent of 23,400": the first figure as a share of the second."""
    if len(tokens) != 2 or any(t.percent for t in tokens) or "percent" not in words:
        return None
    between = text[tokens[0].end : tokens[1].start].lower()
    if not re.fullmatch(r"\s*(?:as\s+a\s+percent(?:age)?\s+)?of\s*", between):
        return None
    if not _explained(words, {"percent", "percentage", "as", "share", "sind", "is"}):
        return None
    part, whole = tokens[0].value, tokens[1].value
    if whole == 0:
        return None
    return Calculation(
        reading=f"{money(part)} as a share of {money(whole)}",
        lines=(f"{money(part)} of {money(whole)} = {pct(part / whole * 100)}",),
    )


def _percent_of(text: str, tokens: list[Token], words: list[str]) -> Calculation | None:
    if len(tokens) != 2 or not (tokens[0].percent and not tokens[1].percent):
        return None
    between = text[tokens[0].end : tokens[1].start].strip().lower()
    if between != "of" or not _explained(words, set()):
        return None
    value = tokens[1].value * tokens[0].value / 100
    return Calculation(
        reading=f"{tokens[0].value}% of {money(tokens[1].value)}",
        lines=(f"{tokens[0].value}% of {money(tokens[1].value)} = {money(value)}",),
        total=value,
    )


def _percent_on(text: str, tokens: list[Token], words: list[str]) -> Calculation | None:
    """Read "19% on 1286.40": the percentage of the amount, and the amount with it added.

    Without a word saying which ("vat", "discount", "of"), "on" reads as a surcharge (VAT,
    a fee) or as the share alone; the answer states both figures, so either reading finds
    its number.
    """
    if len(tokens) != 2 or not (tokens[0].percent and not tokens[1].percent):
        return None
    between = text[tokens[0].end : tokens[1].start].strip().lower()
    if between != "on" or not _explained(words, {"on"}):
        return None
    rate, amount = tokens[0].value, tokens[1].value
    part = amount * rate / 100
    return Calculation(
        reading=f"{rate}% on {money(amount)}: the {rate}% and the amount with it added",
        lines=(f"{rate}% of {money(amount)}: {money(part)}", f"With it: {money(amount + part)}"),
        total=amount + part,
    )


def _role(near: list[str]) -> str | None:
    """Return ``cost`` or ``price`` from the words next to a number (``buy 42.80``).

    "price" alone names the selling price, but not beside a buying word ("buy price").
    """
    words = set(near)
    cost = bool(words & _BUY)
    price = bool(words & _SELL) or ("price" in words and not cost)
    return "cost" if cost and not price else "price" if price and not cost else None


def _number_role(text: str, tokens: list[Token], index: int) -> str | None:
    """Return the role (``cost``/``price``) of ``tokens[index]`` from the words around it.

    The three words just before it (since the previous number) name it ("sell at 129"); the
    words after it count only up to a percentage or the end ("25 eur cost, 40% markup"), since
    the words before another figure are that figure's. Two sides naming different roles: none.
    """
    token = tokens[index]
    start = tokens[index - 1].end if index else 0
    before = _role(re.findall(r"[a-z]+", text[start : token.start].lower())[-3:])
    after = None
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    if following is None or following.percent:
        end = following.start if following else len(text)
        after = _role(re.findall(r"[a-z]+", text[token.end : end].lower())[:3])
    if before and after and before != after:
        return None
    return before or after


def _margin(text: str, tokens: list[Token], words: list[str]) -> Calculation | None:
    if len(tokens) != 2 or any(t.percent for t in tokens) or not _MARGIN & set(words):
        return None
    if not _explained(words, _MARGIN | _BUY | _SELL | {"percent", "in", "profit", "on", "at"}):
        return None
    roles = [_number_role(text, tokens, 0), _number_role(text, tokens, 1)]
    if sorted(map(str, roles)) != ["cost", "price"]:
        return None  # which figure is the cost is not said: a model's call
    cost, price = (
        (tokens[0].value, tokens[1].value)
        if roles[0] == "cost"
        else (tokens[1].value, tokens[0].value)
    )
    if cost <= 0 or price <= 0:
        return None
    profit = price - cost
    return Calculation(
        reading=f"cost {money(cost)}, selling price {money(price)}; margin on the price, "
        "markup on the cost",
        lines=(
            f"Profit: {money(profit)}",
            f"Margin: {pct(profit / price * 100)}",
            f"Markup: {pct(profit / cost * 100)}",
        ),
    )


def _price_for_margin(text: str, tokens: list[Token], words: list[str]) -> Calculation | None:
    """Margin or markup to reach: the selling price from a cost, or the most a cost can be."""
    pair = _rate_and_amount(tokens)
    if pair is None or not (_BUY | _SELL) & set(words):
        return None
    percent, number = pair
    allowed = _MARGIN | _BUY | _SELL | {"target", "want", "wanted", "on", "at", "max", "maximum"}
    if not _explained(words, allowed):
        return None
    kind = {"margin"} & set(words) or {"markup", "mark"} & set(words)
    if len(kind) != 1 or ("margin" in words and ({"markup", "mark"} & set(words))):
        return None
    role = _number_role(text, tokens, tokens.index(number))
    if role is None and _BUY & set(words) and not _SELL & set(words):
        role = "cost"  # "25 with a 40% markup, buy price": only a cost is named
    if role is None:
        return None
    rate, amount = percent.value / 100, number.value
    if "margin" in words and rate >= 1:
        return None
    basis = "margin on the selling price" if "margin" in words else "markup on the cost"
    if role == "cost":
        price = amount / (1 - rate) if "margin" in words else amount * (1 + rate)
        return Calculation(
            reading=f"cost {money(amount)} with a {percent.value}% {basis}",
            lines=(f"Selling price: {money(price)}", f"Profit: {money(price - amount)}"),
            total=price,
        )
    cost = amount * (1 - rate) if "margin" in words else amount / (1 + rate)
    return Calculation(
        reading=f"selling price {money(amount)} with a {percent.value}% {basis}: "
        "the most the cost can be",
        lines=(f"Max cost: {money(cost)}", f"Profit: {money(amount - cost)}"),
        total=cost,
    )


def _skeleton(text: str, tokens: list[Token]) -> str:
    """Return ``text`` lower-cased with each number as ``#`` (a percentage as ``#%``)."""
    pieces, last = [], 0
    for token in tokens:
        pieces.append(text[last : token.start].lower())
        pieces.append("#%" if token.percent else "#")
        last = token.end
    pieces.append(text[last:].lower())
    return "".join(pieces)


_PERIOD = r"(?:yr|year|month|quarter|week)"
_OLD_THEN_NEW = (
    re.compile(r"\bfrom\s+#\s+(?:up\s+|down\s+)?to\s+#"),
    re.compile(r"\bwas\s+#\s*[,;]?\s*(?:and\s+|but\s+)?(?:is\s+)?now\s+(?:is\s+)?#"),
    re.compile(rf"#\s+last\s+{_PERIOD}\s*[,;]?\s*(?:and\s+)?#\s+this\s+{_PERIOD}"),
    re.compile(rf"\blast\s+{_PERIOD}\s+#\s*[,;]?\s*(?:and\s+)?this\s+{_PERIOD}\s+#"),
)
"""Where the earlier figure is said to be the earlier one: from/to, was/now, last/this year."""
_GROWTH_ASKED = {"growth", "change", "changed", "increase", "decrease", "rise", "up", "down"}


def _growth(text: str, tokens: list[Token], words: list[str]) -> Calculation | None:
    if len(tokens) != 2 or any(t.percent for t in tokens):
        return None
    skeleton = _skeleton(text, tokens)
    shapes = [i for i, shape in enumerate(_OLD_THEN_NEW) if shape.search(skeleton)]
    if len(shapes) != 1:
        return None
    if shapes[0] != 0 and not (_GROWTH_ASKED & set(words) or "%" in skeleton.replace("#%", "")):
        return None  # "was 80 now 92" says the figures, not that the change is asked
    allowed = _GROWTH | _GROWTH_ASKED | {"percent", "percentage", "in", "between", "went", "by"}
    allowed |= {"was", "now", "last", "this", "yr", "year", "month", "quarter", "week"}
    allowed |= {"revenue", "turnover", "sales", "yoy", "rose", "increased", "decreased"}
    allowed |= {"up", "down", "drop", "dropped", "fall", "raised", "is"}
    # Words before the first figure only name what changed ("mrr went from 58k to 64.5k").
    named = set(_words(text[: tokens[0].start], []))
    if not _explained([w for w in words if w not in named], allowed):
        return None
    old, new = tokens[0].value, tokens[1].value
    if old == 0:
        return None
    return Calculation(
        reading=f"change from {money(old)} to {money(new)}, relative to {money(old)}",
        lines=(f"Change: {money(new - old)}", f"Growth: {pct((new - old) / old * 100)}"),
    )


_UNIT = r"(?P<unit>day|week|month|quarter|year|yr)"
_PERIODIC_RATE = re.compile(
    rf"#%\s+(?:a|an|per|every|each|each and every)\s+{_UNIT}\b"
    r"|#%\s+(?P<adverb>daily|weekly|monthly|quarterly|yearly|annually)\b"
)
_COMPOUNDING = re.compile(
    r"\bcompound(?:ed|ing|s)?\s+(?P<adverb>daily|weekly|monthly|quarterly|yearly|annually)\b"
)
_PERIOD_COUNT = re.compile(
    r"\b(?:after|for|over|in|within)\s+#\s+(?P<units>days?|weeks?|months?|quarters?|years?|yrs?)\b"
)
_ADVERB_UNIT = {
    "daily": "day", "weekly": "week", "monthly": "month", "quarterly": "quarter",
    "yearly": "year", "annually": "year",
}  # fmt: skip
_DOWN = frozenset(
    """down falls falling fell drops dropping dropped declines declining shrinks shrinking
    decrease decreases decreasing loses losing""".split()
)
_UP = frozenset(
    """up grows growing grow rises rising rise increases increasing increase gains gaining
    compound compounds compounding compounded""".split()
)
_COMPOUND_WORDS = (
    _UP
    | _DOWN
    | set(
        """goes go going from where will after for over within every each per a an end by day
        days week weeks month months quarter quarters year years yr yrs daily weekly monthly
        quarterly yearly annually starting start at land be we are so then""".split()
    )
)


def _compound_growth(text: str, tokens: list[Token], words: list[str]) -> Calculation | None:
    """Grow (or shrink) a starting figure by a rate each period, for whole periods.

    "if mrr goes from 58k up 3% every month, where are we after 12 months": 58,000 × 1.03¹².
    The rate's period and the count's period must be the same unit. Words before the first
    number only name what grows ("mrr", "users"): they do not change the arithmetic.
    """
    rates = [t for t in tokens if t.percent]
    amounts = [t for t in tokens if not t.percent]
    if len(rates) != 1 or len(amounts) != 2:
        return None
    skeleton = _skeleton(text, tokens).lower()
    # The period is said with the rate ("3% a month") or with the compounding ("at 2.5% for
    # 3 yrs compounding yearly").
    rate_match = _PERIODIC_RATE.search(skeleton) or _COMPOUNDING.search(skeleton)
    count_match = _PERIOD_COUNT.search(skeleton)
    if rate_match is None or count_match is None:
        return None
    groups = rate_match.groupdict()
    unit = groups.get("unit") or _ADVERB_UNIT[groups["adverb"]]
    unit = "year" if unit == "yr" else unit
    counted = count_match["units"].rstrip("s")
    if (counted if counted != "yr" else "year") != unit:
        return None  # "3% a month for 2 years": the periods differ; not converted here
    # The count is the number inside the "after N months" phrase; the other is the start.
    count_index = skeleton[: count_match.start()].count("#") - skeleton[
        : count_match.start()
    ].count("#%")
    if not 0 <= count_index < 2:
        return None
    periods, start = amounts[count_index].value, amounts[1 - count_index].value
    if periods != periods.to_integral_value() or not 0 < periods <= 600 or start <= 0:
        return None
    named = set(_words(text[: tokens[0].start], []))
    down, up = bool(_DOWN & set(words)), bool(_UP & set(words))
    if down == up or not _explained([w for w in words if w not in named], _COMPOUND_WORDS):
        return None
    rate = rates[0].value / 100 * (-1 if down else 1)
    end = start * (1 + rate) ** int(periods)
    sign = "down" if down else "up"
    head = (
        f"{money(start)} {sign} {rates[0].value.normalize():f}% each {unit}, compounded, "
        f"after {periods.normalize():f} {unit}s"
    )
    return Calculation(
        reading=head,
        lines=(f"End value: {money(end)}", f"Change: {money(end - start)}"),
        total=end,
    )


_COUNTS = dict(
    zip(
        "two three four five six seven eight nine ten eleven twelve".split(),
        range(2, 13),
        strict=True,
    )
)
_SPLIT = re.compile(
    r"\s*(?:split|divide|share)\s+#\s+(?:(?:into|in|between|among)\s+)?"
    rf"(?P<count>#|{'|'.join(_COUNTS)})\s+(?:equal\s+)?(?:ways|parts|people|persons|shares)"
    r"(?:\s+(?:evenly|equally))?\s*[?.!]*\s*"
)


def _split(text: str, tokens: list[Token], words: list[str]) -> Calculation | None:
    """Split an amount N ways: "split 1250 three ways", "divide 900 into 4 parts"."""
    if any(t.percent for t in tokens):
        return None
    match = _SPLIT.fullmatch(_skeleton(text, tokens))
    if match is None:
        return None
    amount = tokens[0].value
    if match["count"] == "#":
        if len(tokens) != 2 or tokens[1].value != tokens[1].value.to_integral_value():
            return None
        count = int(tokens[1].value)
    else:
        if len(tokens) != 1:
            return None
        count = _COUNTS[match["count"]]
    if count < 2:
        return None
    each = (amount / count).quantize(CENT, rounding=ROUND_HALF_UP)
    lines = [f"Each: {money(each)}"]
    if each * count != amount:
        lines.append(f"Rounding: {count} × {money(each)} = {money(each * count)}")
    return Calculation(
        reading=f"{money(amount)} split into {count} equal parts", lines=tuple(lines)
    )


_LIST = re.compile(
    r"\s*(?:(?:what'?s|what\s+is|calculate|give\s+me)\s+)?(?:the\s+)?"
    r"(?P<op>avg|average|mean|sum|total)\s+(?:of\s+)?"
    r"(?P<items>#(?:\s*(?:,\s*and|,|;|and)\s*#)+)\s*[?.!]*\s*"
)


def _list(text: str, tokens: list[Token], words: list[str]) -> Calculation | None:
    """Sum or average a list: "avg of 120, 95, 130", "sum of 120, 95 and 130"."""
    if len(tokens) < 2 or any(t.percent for t in tokens):
        return None
    match = _LIST.fullmatch(_skeleton(text, tokens))
    if match is None:
        return None
    if "," in match["items"] and any("," in text[t.start : t.end] for t in tokens):
        return None  # "120,95, 130": a decimal comma or a list comma, not said
    values = [t.value for t in tokens]
    total = sum(values, Decimal(0))
    listed = ", ".join(money(v) for v in values)
    if match["op"] in {"sum", "total"}:
        return Calculation(
            reading=f"the sum of {listed}", lines=(f"Sum: {money(total)}",), total=total
        )
    mean = total / len(values)
    return Calculation(
        reading=f"the average (mean) of {listed}",
        lines=(f"Average: {money(mean)}", f"Sum: {money(total)} over {len(values)} figures"),
        total=mean,
    )


_INTEREST_WORDS = {"interest", "on", "for", "over", "at", "years", "year", "yrs", "yr"}
_INTEREST_WORDS |= {"per", "pa", "p", "annum", "yearly", "annual", "annually", "a"}
_INTEREST_WORDS |= {"compound", "compounded", "simple", "invested", "invest", "deposit", "loan"}


def _interest(text: str, tokens: list[Token], words: list[str]) -> Calculation | None:
    """Yearly interest on an amount for whole years: compound yearly, simple shown too."""
    rates = [t for t in tokens if t.percent]
    amounts = [t for t in tokens if not t.percent]
    if len(rates) != 1 or len(amounts) != 2 or "interest" not in words:
        return None
    if not _explained(words, _INTEREST_WORDS):
        return None
    periods = [t for t in amounts if re.match(r"\s*(?:years?|yrs?)\b", text[t.end :].lower())]
    if len(periods) != 1:
        return None
    years = periods[0].value
    principal = next(t for t in amounts if t is not periods[0]).value
    if years != years.to_integral_value() or not 0 < years <= 100 or principal <= 0:
        return None
    simple_only, compound_only = "simple" in words, bool({"compound", "compounded"} & set(words))
    if simple_only and compound_only:
        return None
    rate = rates[0].value / 100
    compound = principal * (1 + rate) ** int(years)
    simple = principal * (1 + rate * years)
    head = f"{rates[0].value}% a year on {money(principal)} for {years.normalize():f} years"
    compound_line = f"Compound (yearly): {money(compound)}, interest {money(compound - principal)}"
    simple_line = f"Simple: {money(simple)}, interest {money(simple - principal)}"
    if simple_only:
        return Calculation(reading=f"{head}, simple interest", lines=(simple_line,), total=simple)
    if compound_only:
        return Calculation(
            reading=f"{head}, compounded yearly", lines=(compound_line,), total=compound
        )
    return Calculation(
        reading=f"{head}, compounded yearly (simple interest, not compounded, below it)",
        lines=(compound_line, simple_line),
    )


_HOURS = re.compile(
    r"(?P<h>[\d.,]+)\s*(?:h|hrs?|hours?)\b"
    r"(?:\s*(?:and\s*)?(?P<m>\d+)\s*(?:min|mins|minutes?)\b)?"
)
_RATE = re.compile(
    r"(?:€\s*)?(?P<r>[\d.,]+)\s*(?:eur\s*|euros?\s*|€\s*)?(?:per|/|an|a)\s*(?:hour|h|hr)\b"
)


def _hours_at_rate(text: str, tokens: list[Token], words: list[str]) -> Calculation | None:
    low = text.lower()
    hours_match, rate_match = _HOURS.search(low), _RATE.search(low)
    if hours_match is None or rate_match is None:
        return None
    if hours_match.start() <= rate_match.start() < hours_match.end():
        return None  # one number cannot be both
    if len(tokens) != (3 if hours_match["m"] else 2) or any(t.percent for t in tokens):
        return None
    allowed = {
        "h",
        "hr",
        "hrs",
        "hour",
        "hours",
        "min",
        "mins",
        "minute",
        "minutes",
        "per",
        "at",
        "x",
        "times",
        "an",
        "a",
        "bill",
        "billed",
        "rate",
        "day",
        "for",
        "work",
        "worked",
    }
    if not _explained(words, allowed):
        return None
    try:
        hours = parse_number(hours_match["h"])
        hours += Decimal(hours_match["m"]) / 60 if hours_match["m"] else 0
        rate = parse_number(rate_match["r"])
    except InvalidOperation:
        return None
    return Calculation(
        reading=f"{hours.normalize():f} hours at {money(rate)} per hour",
        lines=(f"Total: {money(hours * rate)}",),
        total=hours * rate,
    )


_CONVERSION = re.compile(
    r"\s*(?:convert\s+|what\s+is\s+|what's\s+|how\s+many\s+\w+\s+(?:is|are)\s+)?"
    r"(?P<num>[\d.,]+)\s*(?P<src>[a-zA-Z/°µ²€$£¥ ]+?)\s+(?:in|to|into|as)\s+"
    r"(?P<dst>[a-zA-Z/°µ²€$£¥ ]+?)\s*\??\s*",
    flags=re.IGNORECASE,
)
""""N <unit> in|to|into|as <unit>" (optionally "convert …", "what is …")."""
_CONVERSION_ASKED_FIRST = re.compile(
    r"\s*how\s+(?:many|much)\s+(?P<dst>[a-zA-Z/°µ² ]+?)\s+(?:is|are|in|make|makes)\s+"
    r"(?P<num>[\d.,]+)\s*(?P<src>[a-zA-Z/°µ² ]+?)\s*\??\s*",
    flags=re.IGNORECASE,
)
""""how many <unit> is N <unit>": the unit asked for named first ("how many km is 120 miles")."""

_CURRENCY_CODES = """
    EUR USD GBP CHF JPY CNY PLN CZK HUF SEK NOK DKK RON BGN TRY CAD AUD NZD INR BRL MXN ZAR
    HKD SGD KRW RUB UAH ILS AED
""".split()
"""ISO 4217 codes of the most traded currencies (and of the owner's neighbours)."""

CURRENCIES: dict[str, str] = {
    **{code.lower(): code for code in _CURRENCY_CODES},
    **{"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY"},
    **{"euro": "EUR", "euros": "EUR", "dollar": "USD", "dollars": "USD", "us dollars": "USD"},
    **{"pound": "GBP", "pounds": "GBP", "sterling": "GBP", "swiss francs": "CHF"},
    **{"francs": "CHF", "yen": "JPY", "zloty": "PLN", "zlotys": "PLN"},
}
"""Currency spellings (ISO code, symbol, English name) and their ISO 4217 code."""


def missing_rate(text: str) -> str | None:
    """Return the question to ask when ``text`` converts one currency into another.

    The calculator knows no exchange rates (and looks none up): "250 eur in usd?" needs
    a rate the owner gives, so it is asked for instead of guessed or sent to a model
    that would have to guess it too.
    """
    if (question := _missing_vat_rate(text)) is not None:
        return question
    match = _CONVERSION.fullmatch(text)
    if match is None or len(_tokens(text)) != 1:
        return None
    source = CURRENCIES.get(" ".join(match["src"].lower().split()))
    target = CURRENCIES.get(" ".join(match["dst"].lower().split()))
    if source is None or target is None or source == target:
        return None
    return (
        f"I have no exchange rate for {source} to {target}, and I do not look rates up. "
        f"What rate should I use? Say it like: {match['num']} {source} in {target} at "
        f"<{target} per {source}>."
    )


def _missing_vat_rate(text: str) -> str | None:
    """Return the question for VAT on one amount with no rate ("net of 238 gross").

    Which rate applies (19%, 7%, another country's) is the owner's to say, not assumed.
    """
    tokens = _tokens(text)
    if len(tokens) != 1 or tokens[0].percent or _NOT_ARITHMETIC.search(text):
        return None
    words = _words(text, tokens)
    said = set(words)
    named = said & {"vat", "mwst", "ust", "tax"} or (said & _GROSS and said & _NET)
    if not named or not _explained(words, _VAT | _GROSS | _NET | {"add", "plus", "on", "rate"}):
        return None
    return (
        "Which VAT rate should I use? I do not assume one. Say it with the rate, like: "
        f"{text.strip().rstrip('?').strip()} at <rate>% VAT."
    )


_EXCHANGE = re.compile(
    _CONVERSION.pattern.removesuffix(r"\s*\??\s*")
    + r"\s+at\s+(?P<rate>[\d.,]+)(?:\s*(?P<per>[a-zA-Z€$£¥ ]+?))?\s*\??\s*",
    flags=re.IGNORECASE,
)


def _currency(name: str | None) -> str | None:
    return CURRENCIES.get(" ".join(name.lower().split())) if name else None


def _exchange(text: str, tokens: list[Token], words: list[str]) -> Calculation | None:
    """Convert at the rate the request gives: "250 eur in usd at 1.08 (usd per eur)"."""
    match = _EXCHANGE.fullmatch(text)
    if match is None or len(tokens) != 2:
        return None
    source, target = _currency(match["src"]), _currency(match["dst"])
    if source is None or target is None or source == target:
        return None
    per = " ".join((match["per"] or "").lower().split())
    if per and per != f"{target} per {source}".lower():
        return None  # a rate stated the other way round, or in words this reader cannot place
    amount, rate = parse_number(match["num"]), parse_number(match["rate"])
    return Calculation(
        reading=f"{money(amount)} {source} at {rate.normalize():f} {target} per {source}",
        lines=(f"{money(amount)} {source} = {money(amount * rate)} {target}",),
    )


def _convert(text: str, tokens: list[Token], words: list[str]) -> Calculation | None:
    match = _CONVERSION.fullmatch(text) or _CONVERSION_ASKED_FIRST.fullmatch(text)
    if match is None or len(tokens) != 1 or re.search(r"[€$£¥]", match["src"] + match["dst"]):
        return None
    import pint

    registry = _units()
    try:
        source = registry.Quantity(parse_number(match["num"]), _unit(match["src"]))
        target = source.to(_unit(match["dst"]))
    except (pint.errors.PintError, InvalidOperation, AttributeError, TypeError, ValueError):
        return None  # not a unit pint knows (currencies are not): a model's job
    # About six significant digits: 6.2137 miles, 193.12 km (not 193.1213).
    places = 4 if abs(target.magnitude) < 100 else 2
    magnitude = Decimal(str(round(float(target.magnitude), places))).normalize()
    return Calculation(
        reading=f"unit conversion {match['num']} {match['src'].strip()} → {match['dst'].strip()}",
        lines=(f"{match['num']} {match['src'].strip()} = {magnitude:f} {match['dst'].strip()}",),
    )


def _unit(name: str) -> str:
    name = name.strip().lower()
    aliases = {
        "km/h": "kilometer/hour",
        "kmh": "kilometer/hour",
        "gallons": "US_liquid_gallon",
        "gallon": "US_liquid_gallon",
        "us gallons": "US_liquid_gallon",
        "litres": "liter",
        "litre": "liter",
        "metres": "meter",
        "metre": "meter",
    }
    return aliases.get(name, name.replace(" ", "_"))


@functools.cache
def _units() -> Any:
    # pint takes most of a second to build its registry: only a conversion pays for it.
    import pint

    return pint.UnitRegistry(cache_folder=None)


_ARITHMETIC_WORDS = {
    "plus": "+",
    "minus": "-",
    "times": "*",
    "x": "*",
    "multiplied": "*",
    "divided": "/",
    "over": "/",
}


def _arithmetic(text: str, tokens: list[Token], words: list[str]) -> Calculation | None:
    """Plain arithmetic; "P% of N" is one term in it ("7% of 250 plus 19% of 250")."""
    if not tokens or not _explained(words, set(_ARITHMETIC_WORDS) | {"by"}):
        return None
    expression: list[str] = []
    terms: list[tuple[Decimal, Decimal]] = []
    last, index = 0, 0
    while index < len(tokens):
        token = tokens[index]
        expression.append(text[last : token.start])
        if token.percent:
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if following is None or following.percent:
                return None
            if text[token.end : following.start].strip().lower() != "of":
                return None
            expression.append(f" @{len(terms)} ")
            terms.append((token.value, following.value))
            last, index = following.end, index + 2
        else:
            expression.append(str(token.value))
            last, index = token.end, index + 1
    expression.append(text[last:])
    source = " ".join(expression).lower()
    for word, symbol in _ARITHMETIC_WORDS.items():
        source = re.sub(rf"\b{word}\b(\s+by)?", f" {symbol} ", source)
    source = re.sub(r"[a-z€$?=']+", " ", source)
    if not re.fullmatch(r"[\d.\s+\-*/()@]+", source) or not re.search(r"[+\-*/]", source):
        return None  # one "P% of N" alone is _percent_of's
    shown = " ".join(source.split())
    for number, (rate, amount) in enumerate(terms):
        shown = shown.replace(f"@{number}", f"{rate}% of {amount}", 1)
        source = source.replace(f"@{number}", f"({rate * amount / 100})", 1)
    from simpleeval import SimpleEval

    try:
        value = SimpleEval().eval(source.strip())
        result = Decimal(str(value))
    except Exception:  # a malformed expression is not this reader's to fix
        return None
    return Calculation(
        reading=f"the expression {shown}", lines=(f"{shown} = {money(result)}",), total=result
    )


READERS: tuple[Callable[[str, list[Token], list[str]], Calculation | None], ...] = (
    _vat,
    _discount,
    _successive_discounts,
    _share,
    _percent_of,
    _percent_on,
    _margin,
    _price_for_margin,
    _growth,
    _compound_growth,
    _split,
    _list,
    _interest,
    _hours_at_rate,
    _convert,
    _exchange,
    _arithmetic,
)


# Numbers that are not quantities: dates (2025-06-30, 30.06.2025, 6/3/1) and document or
# product identifiers (INV-2025-00412, SO-4410, FLT-0087).
_NOT_ARITHMETIC = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}|\b\d{1,2}[./]\d{1,2}[./]\d{1,4}\b|[A-Za-z]+-\d|\d-[A-Za-z]"
)


_PLUS_VAT = re.compile(
    r"(?P<base>.*\d.*?)[\s,;]*(?:plus|\+|add|and|with)\s+(?P<rate>\d+(?:[.,]\d+)?)\s*"
    r"(?:%|percent|pct)\s*(?:vat|mwst|ust|sales\s+tax|tax)\s*[?.!]*"
    # a closing question that only names the result: "- what's the gross", ", total?"
    r"(?:\s*[-–,;:]?\s*(?:(?:what(?:'s|s| is)?|so)\s+)?(?:the\s+)?"
    r"(?:gross|total|final(?:\s+price)?|end\s+price)\s*[?.!]*)?\s*",
    flags=re.IGNORECASE,
)
"""A calculation with VAT added on top: "95 eur/h for 14.5 hrs plus 19% vat"."""


def _plus_vat(text: str) -> Calculation | None:
    match = _PLUS_VAT.fullmatch(text)
    if match is None or _PLUS_VAT.fullmatch(match["base"]):
        return None  # VAT on VAT is not a reading
    base = calculate(match["base"])
    if base is None or base.total is None:
        return None
    rate = parse_number(match["rate"])
    vat = base.total * rate / 100
    return Calculation(
        reading=f"{base.reading}, plus {rate}% VAT on it",
        lines=(
            *base.lines,
            f"Net: {money(base.total)}",
            f"VAT {rate}%: {money(vat)}",
            f"Gross: {money(base.total + vat)}",
        ),
        total=base.total + vat,
    )


_FOLLOWUP_WORDS = frozenset(
    "and on for what about with same how one instead then if it at now just".split()
)
"""Words a calculation follow-up may carry besides its one new figure ("and on an 85 eur
one?", "what about 40%", "same with 2,340")."""


def substituted(earlier: str, followup: str) -> str | None:
    """Return ``earlier`` with its one figure of the follow-up's kind replaced, or ``None``.

    "19% vat on 120" then "and on 85?" is "19% vat on 85"; "markup 25% on 40 cost" then "and
    40%?" is "markup 40% on 40 cost". The follow-up must carry one figure and nothing but
    filler and follow-up words, and the earlier request exactly one figure of that kind
    (an amount, or a percentage); anything else is not a substitution.
    """
    new = _tokens(followup)
    if len(new) != 1 or re.search(r"\d", _skeleton(followup, new).replace("#", " ")):
        return None
    if not _explained(_words(followup, new), set(_FOLLOWUP_WORDS) | {"%"}):
        return None
    earlier_tokens = _tokens(earlier)
    old = [t for t in earlier_tokens if t.percent == new[0].percent]
    if not new[0].percent and (rate := _bare_rate(new[0], earlier_tokens)) is not None:
        # "19% on 1286.40" then "and at 7": a bare 7 beside an earlier rate and amount is the
        # rate (its size is the rate's, far from the amount's); it replaces the percentage.
        old, new = [rate], [Token(new[0].value, True, new[0].start, new[0].end)]
    if len(old) != 1:
        return None
    replacement = followup[new[0].start : new[0].end]
    if new[0].percent and not replacement.rstrip().endswith("%"):
        replacement += "%"  # a bare number read as the rate
    return earlier[: old[0].start] + replacement + earlier[old[0].end :]


_RATE_SIZE_RATIO = Decimal(10)
"""How much nearer in size a bare follow-up number must be to the earlier rate than to the
earlier amount to be read as the rate (7 after "19% on 1286.40": 2.7× from 19, 184× from
1286.40)."""


def _bare_rate(number: Token, earlier: list[Token]) -> Token | None:
    """Return the earlier percentage a bare follow-up number replaces, or ``None``."""
    rates = [t for t in earlier if t.percent]
    amounts = [t for t in earlier if not t.percent]
    if len(rates) != 1 or len(amounts) != 1 or not 0 < number.value <= 100:
        return None
    if rates[0].value <= 0 or amounts[0].value <= 0:
        return None

    def distance(a: Decimal, b: Decimal) -> Decimal:
        return max(a, b) / min(a, b)

    to_rate = distance(number.value, rates[0].value)
    to_amount = distance(number.value, amounts[0].value)
    return rates[0] if to_amount >= to_rate * _RATE_SIZE_RATIO else None


def calculate_followup(turns: list[str]) -> Calculation | None:
    """Answer the last of a thread's ``turns`` as a new figure in the calculation before it."""
    if len(turns) < 2:
        return None
    base = turns[0]
    for later in turns[1:-1]:
        candidate = substituted(base, later)
        if candidate is not None and calculate(candidate) is not None:
            base = candidate
        elif calculate(later) is not None:
            base = later  # a turn that stated a calculation of its own starts again
    candidate = substituted(base, turns[-1])
    if candidate is None:
        return None
    result = calculate(candidate)
    if result is None:
        return None
    return Calculation(
        reading=f"{result.reading} (the earlier calculation with the new figure: {candidate!r})",
        lines=result.lines,
        total=result.total,
    )


def calculate(text: str) -> Calculation | None:
    """Return the model-free answer to ``text``, or ``None`` when it cannot be read exactly.

    Every reader that accepts the request must agree; two different readings decline. A
    digit that is not part of a number this module reads ("120,95,130") declines too.
    """
    if _NOT_ARITHMETIC.search(text):
        return None
    text = _GERMAN_TERM.sub(lambda m: _GERMAN_TERMS[m.group(1).lower()], text)
    if _DOT_THOUSANDS.search(text):
        if not _GERMAN_CUE.search(_DOT_THOUSANDS.sub(" ", text)):
            return None  # "25.000" could be 25 or 25,000: not guessed
        text = _DOT_THOUSANDS.sub(lambda m: m.group(0).replace(".", ""), text)
    tokens = _tokens(text)
    if not tokens or re.search(r"\d", _skeleton(text, tokens).replace("#", " ")):
        return None
    words = _words(text, tokens)
    readings = [r for reader in READERS if (r := reader(text, tokens, words)) is not None]
    if (composed := _plus_vat(text)) is not None:
        readings.append(composed)
    if not readings or any(r.lines != readings[0].lines for r in readings[1:]):
        return None
    return readings[0]
