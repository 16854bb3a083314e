"""Model-free arithmetic for the calculator agent: the requests it can read exactly.

``calculate(text)`` reads one request the way the calculator agent's description scopes it —
VAT added or taken out, discounts and Skonto, "P% of N", margin and markup, growth between
two figures, hours at a rate, unit conversions, and plain arithmetic — and returns the
result with the reading it used ("19% VAT taken out of 595.00 gross"). It answers only when
the whole request is accounted for: every number has a role and every other word is one
the reading explains or a filler word. Anything else (a currency exchange, a word it cannot
place, two numbers too many) returns ``None`` and the request goes to the model, because a
confident wrong figure is worse than "I need a model for this". A currency conversion
converts at the rate the request states; without one, ``missing_rate`` gives the question
that asks for it (the calculator knows no exchange rates).

Money is computed in ``Decimal`` and rounded half up to cents; unit conversions use pint.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
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
    usd dollars dollar € $ ? = get gets got need
    """.split()
)

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


def _explained(words: list[str], allowed: set[str]) -> bool:
    return all(word in FILLER or word in allowed for word in words)


_VAT = {"vat", "tax", "mwst", "ust", "sales"}
_GROSS = {"gross", "incl", "including", "inclusive", "inkl", "brutto", "included", "contains"}
_NET = {"net", "netto", "excl", "excluding", "before", "without"}
_DISCOUNT = {"off", "discount", "rabatt", "skonto", "less", "minus", "reduced", "by", "cash"}
_MARGIN = {"margin", "markup", "mark", "up"}
_BUY = {"buy", "bought", "cost", "costs", "purchase", "purchased", "ek"}
_SELL = {"sell", "sold", "selling", "sale", "sales", "vk"}
_GROWTH = {"growth", "grow", "grew", "change", "increase", "decrease", "from", "rise", "fell"}


def _rate_and_amount(tokens: list[Token]) -> tuple[Token, Token] | None:
    """Return the request's one percentage and one other number, if that is all it has."""
    rates = [t for t in tokens if t.percent]
    amounts = [t for t in tokens if not t.percent]
    return (rates[0], amounts[0]) if len(rates) == 1 and len(amounts) == 1 else None


def _vat(text: str, tokens: list[Token], words: list[str]) -> Calculation | None:
    pair = _rate_and_amount(tokens)
    if pair is None or not _VAT & set(words):
        return None
    percent, number = pair
    if not _explained(words, _VAT | _GROSS | _NET | {"add", "plus", "on", "rate"}):
        return None
    rate, amount = percent.value / 100, number.value
    if _GROSS & set(words) and not ({"add", "plus", "on"} & set(words) and not _NET & set(words)):
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
    if not _explained(words, _DISCOUNT | {"on", "take", "apply", "after"}):
        return None
    rate, amount = percent.value / 100, number.value
    kind = "Skonto" if "skonto" in words else "discount"
    return Calculation(
        reading=f"{percent.value}% {kind} on {money(amount)}",
        lines=(
            f"{kind.capitalize()} {percent.value}%: {money(amount * rate)}",
            f"After {kind}: {money(amount * (1 - rate))}",
        ),
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
    )


def _role(text: str, before: int, after: int) -> str | None:
    """Return ``cost`` or ``price`` from the words just before a number (``buy 42.80``)."""
    words = set(re.findall(r"[a-z]+", text[before:after].lower()))
    cost, price = bool(words & _BUY), bool(words & _SELL)
    return "cost" if cost and not price else "price" if price and not cost else None


def _margin(text: str, tokens: list[Token], words: list[str]) -> Calculation | None:
    if len(tokens) != 2 or any(t.percent for t in tokens) or not _MARGIN & set(words):
        return None
    if not _explained(words, _MARGIN | _BUY | _SELL | {"percent", "in", "profit"}):
        return None
    roles = [_role(text, 0, tokens[0].start), _role(text, tokens[0].end, tokens[1].start)]
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
    pair = _rate_and_amount(tokens)
    if pair is None or not _BUY & set(words):
        return None
    percent, number = pair
    if not _explained(words, _MARGIN | _BUY | _SELL | {"target", "want", "wanted"}):
        return None
    kind = {"margin"} & set(words) or {"markup", "mark"} & set(words)
    if len(kind) != 1 or ("margin" in words and ({"markup", "mark"} & set(words))):
        return None
    rate, cost = percent.value / 100, number.value
    if "margin" in words:
        if rate >= 1:
            return None
        price, basis = cost / (1 - rate), "margin on the selling price"
    else:
        price, basis = cost * (1 + rate), "markup on the cost"
    return Calculation(
        reading=f"cost {money(cost)} with a {percent.value}% {basis}",
        lines=(f"Selling price: {money(price)}", f"Profit: {money(price - cost)}"),
    )


def _growth(text: str, tokens: list[Token], words: list[str]) -> Calculation | None:
    if len(tokens) != 2 or any(t.percent for t in tokens) or not _GROWTH & set(words):
        return None
    if "from" not in words or "to" not in words:
        return None
    if not _explained(words, _GROWTH | {"percent", "in", "the", "between"}):
        return None
    old, new = tokens[0].value, tokens[1].value
    if old == 0:
        return None
    return Calculation(
        reading=f"change from {money(old)} to {money(new)}, relative to {money(old)}",
        lines=(f"Change: {money(new - old)}", f"Growth: {pct((new - old) / old * 100)}"),
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
    )


_CONVERSION = re.compile(
    r"\s*(?:convert\s+|what\s+is\s+|what's\s+|how\s+many\s+\w+\s+(?:is|are)\s+)?"
    r"(?P<num>[\d.,]+)\s*(?P<src>[a-zA-Z/°µ²€$£¥ ]+?)\s+(?:in|to|into|as)\s+"
    r"(?P<dst>[a-zA-Z/°µ²€$£¥ ]+?)\s*\??\s*",
    flags=re.IGNORECASE,
)
""""N <unit> in|to|into|as <unit>" (optionally "convert …", "what is …")."""

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
    match = _CONVERSION.fullmatch(text)
    if match is None or len(tokens) != 1 or re.search(r"[€$£¥]", match["src"] + match["dst"]):
        return None
    import pint

    registry = _units()
    try:
        source = registry.Quantity(parse_number(match["num"]), _unit(match["src"]))
        target = source.to(_unit(match["dst"]))
    except (pint.errors.PintError, InvalidOperation, AttributeError, TypeError, ValueError):
        return None  # not a unit pint knows (currencies are not): a model's job
    magnitude = Decimal(str(round(float(target.magnitude), 4))).normalize()
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
    if not tokens or any(t.percent for t in tokens):
        return None
    if not _explained(words, set(_ARITHMETIC_WORDS) | {"by"}):
        return None
    expression, last = [], 0
    for token in tokens:
        expression.append(text[last : token.start])
        expression.append(str(token.value))
        last = token.end
    expression.append(text[last:])
    source = " ".join(expression).lower()
    for word, symbol in _ARITHMETIC_WORDS.items():
        source = re.sub(rf"\b{word}\b(\s+by)?", f" {symbol} ", source)
    source = re.sub(r"[a-z€$?=']+", " ", source)
    if not re.fullmatch(r"[\d.\s+\-*/()]+", source) or not re.search(r"[+\-*/]", source):
        return None
    from simpleeval import SimpleEval

    try:
        value = SimpleEval().eval(source.strip())
        result = Decimal(str(value))
    except Exception:  # a malformed expression is not this reader's to fix
        return None
    shown = " ".join(source.split())
    return Calculation(reading=f"the expression {shown}", lines=(f"{shown} = {money(result)}",))


READERS: tuple[Callable[[str, list[Token], list[str]], Calculation | None], ...] = (
    _vat,
    _discount,
    _percent_of,
    _margin,
    _price_for_margin,
    _growth,
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


def calculate(text: str) -> Calculation | None:
    """Return the model-free answer to ``text``, or ``None`` when it cannot be read exactly.

    Every reader that accepts the request must agree; two different readings decline.
    """
    if _NOT_ARITHMETIC.search(text):
        return None
    tokens = _tokens(text)
    if not tokens:
        return None
    words = _words(text, tokens)
    readings = [r for reader in READERS if (r := reader(text, tokens, words)) is not None]
    if not readings or any(r.lines != readings[0].lines for r in readings[1:]):
        return None
    return readings[0]
