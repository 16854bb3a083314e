"""Read an ERP request without a model: which skill, with which arguments, or why not.

``parse_request`` finds everything checkable in the text (document numbers, SKUs, a
period, amounts, limits, categories, warehouses, customer and supplier names) and keeps
the words it could not explain. ``plan_request`` then applies the intent ``RULES``: a
rule fits when its trigger words are present, every entity it needs was found, it uses
every entity that was found, and every left-over word is in its vocabulary. Exactly one
skill must fit, otherwise the request is declined (a model agent takes it). Names that
fit two customers and dates that cannot be read produce a clarifying question.

The design errs towards declining: an unknown word, a second period, an entity the skill
cannot use ("grouped by", "compare", "why", "not") all send the request to the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import ValidationError
from rapidfuzz.distance import DamerauLevenshtein
from sqlalchemy import select
from sqlalchemy.orm import Session

from nova.erp import models as m
from nova.erp import resolve as r
from nova.erp.db import business_date
from nova.erp.skills import READ_SKILLS, AmbiguousName, SkillArgs, name_index
from nova.erp.writes import WRITE_SKILLS

# --- what a request contains ------------------------------------------------------------


@dataclass(slots=True)
class Request:
    """Everything ``parse_request`` found in a request."""

    text: str
    today: date
    norm: str = ""
    period: r.Period | None = None
    due_period: r.Period | None = None
    """The period unclipped, for due dates (set when the request says "due")."""
    invoices: list[str] = field(default_factory=list)
    orders: list[str] = field(default_factory=list)
    pos: list[str] = field(default_factory=list)
    rmas: list[str] = field(default_factory=list)
    shipments: list[str] = field(default_factory=list)
    trackings: list[str] = field(default_factory=list)
    skus: list[str] = field(default_factory=list)
    customer_numbers: list[str] = field(default_factory=list)
    customers: list[r.Mention] = field(default_factory=list)
    suppliers: list[r.Mention] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    warehouses: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    amounts: list[Decimal] = field(default_factory=list)
    min_amount: Decimal | None = None
    days: int | None = None
    limit: int | None = None
    percent: Decimal | None = None
    quantities: list[tuple[int, str]] = field(default_factory=list)
    delta: int | None = None
    method: str | None = None
    reason: str | None = None
    residual: list[str] = field(default_factory=list)
    """Words no entity explains; a rule's vocabulary must cover them."""
    unknown_name: str | None = None
    """A capitalised phrase after for/from/of that names no customer or supplier."""
    product_choices: list[tuple[str, str]] = field(default_factory=list)
    """Products a description fits when it fits several (SKU, name): a question to ask."""
    reading: str | None = None
    """How a request that reads two ways was read ("Ranked by revenue"); shown with the answer."""
    applied: set[str] = field(default_factory=set)
    """Condition words a filter, a ranking or an entity actually used (see ``CONDITION_WORDS``)."""

    def count(self, kind: str) -> int:
        """How many entities of ``kind`` were found (scalars count once)."""
        if kind == "customer":
            return len(self.customers) + len(self.customer_numbers)
        if kind == "supplier":
            return len(self.suppliers)
        value = getattr(self, kind)
        return len(value) if isinstance(value, list) else int(value is not None)

    def kinds(self) -> set[str]:
        """Kinds of entity present (what a rule must use)."""
        present = {
            name
            for name in (
                "invoices",
                "orders",
                "pos",
                "rmas",
                "shipments",
                "trackings",
                "skus",
                "categories",
                "warehouses",
                "countries",
                "amounts",
                "quantities",
            )
            if getattr(self, name)
        }
        if self.customers or self.customer_numbers:
            present.add("customer")
        if self.suppliers:
            present.add("supplier")
        for name in ("period", "min_amount", "days", "limit", "percent", "delta", "method"):
            if getattr(self, name) is not None:
                present.add(name)
        return present


class NotForFastPath(ValueError):
    """A rule fits the words but the skill would answer a different question; decline."""


class Unclear(ValueError):
    """The request names something that cannot be resolved; the message is the question to ask."""


# --- parsing ----------------------------------------------------------------------------

_NUMBER = r"\d{1,3}(?:[,.]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_CURRENCY = r"(?:€|eur\b|euros?\b)"
MONEY_RE = re.compile(
    rf"(?P<sign>[-−]\s*|minus\s+)?(?:{_CURRENCY}\s*(?P<sign2>[-−]\s*)?(?P<a>{_NUMBER})\s*(?P<ka>k\b)?"
    rf"|(?P<b>{_NUMBER})\s*(?P<kb>k\b)?\s*{_CURRENCY})",
    re.IGNORECASE,
)
MIN_AMOUNT_RE = re.compile(
    rf"\b(?:over|above|more than|at least|greater than|exceeding|bigger than|larger than)\s+"
    rf"{_CURRENCY}?\s*(?P<n>{_NUMBER})(?![\d.,])\s*(?P<k>k\b)?"
    r"(?!\s*(?:days?|weeks?|months?|years?|%|pieces|pcs|units|x)\b)"
    rf"\s*{_CURRENCY}?",
    re.IGNORECASE,
)
DAYS_RE = re.compile(
    r"\b(?:more than|over|older than|at least|longer "
    r"than|>)\s*(?P<n>\d{1,4})\s*days?\b(?:\s+(?:overdue|late|past due|old))?",
    re.IGNORECASE,
)
LIMIT_RE = re.compile(
    r"\b(?:top|last|latest|first|best|recent|newest)\s+(?P<n>\d{1,3})\b(?!\s*(?:days?|weeks?|months?|years?)\b)",
    re.IGNORECASE,
)
PERCENT_RE = re.compile(r"(?P<n>\d{1,3}(?:\.\d)?)\s*%")
QUANTITY_RE = re.compile(
    r"(?P<q>-?\d[\d,]*)\s*(?:x|×|pcs\.?|pieces|units|pc)?\s*(?:of\s+)?(?:pieces\s+)?"
    rf"(?P<sku>{r.SKU_BODY})\b",
    re.IGNORECASE,
)
ORDER_BARE_RE = re.compile(
    r"\b(?:sales\s+)?order\s+(?P<label>no\.?\s*|number\s+|nr\.?\s*)?#?\s*(?P<n>\d{4,6})\b"
    r"(?!\s*(?:x|×|pcs|pieces|units|pc|€|eur|euros?)\b)(?![.,]\d)",
    re.IGNORECASE,
)
"""A sales order named by its number alone, without the ``SO-`` prefix."""
DELTA_RE = re.compile(r"(?<![\w-])(?P<d>[+-]\d{1,6})\b")
REASON_RE = re.compile(r"\b(?:reason|because|due to)\b\s*:?\s*(?P<why>[^.;]{3,120})", re.IGNORECASE)
TARGET_RE = re.compile(
    r"\b(?:to|=)\s*(?P<n>[-+]?\d{1,7})\b(?:\s*(?:pieces|pcs|units))?", re.IGNORECASE
)
QUOTED_RE = re.compile(r"[\"“](?P<q>[^\"”]{2,80})[\"”]")
WAREHOUSE_RE = re.compile(
    r"\b(?:(?P<a>main|ulm)\s+warehouse|warehouse\s+(?P<b>main|ulm)|in\s+(?P<c>ulm)|(?P<d>MAIN|ULM))\b",
    re.IGNORECASE,
)
METHODS = {
    "bank transfer": "bank_transfer",
    "transfer": "bank_transfer",
    "wire": "bank_transfer",
    "sepa": "sepa_debit",
    "direct debit": "sepa_debit",
    "card": "card",
    "credit card": "card",
    "paypal": "paypal",
    "cash": "cash",
}
METHOD_RE = re.compile(
    r"\b(" + "|".join(sorted(METHODS, key=len, reverse=True)) + r")\b", re.IGNORECASE
)
_NAME_AFTER = re.compile(
    r"\b(?:for|from|of|to|by|customer|supplier|at|with)\s+"
    r"(?P<name>[A-ZÄÖÜ][^\W\d_]+(?:[\s-]+(?:&\s+)?[A-ZÄÖÜ][^\W\d_]+\.?){0,3})(?![\w-])"
)


def parse_number(text: str) -> Decimal:
    """Read ``1,250.00``, ``1.250,00``, ``1250`` or ``89,90`` as a ``Decimal``.

    Raises:
        ValueError: when the text is not a number.

    """
    value = text.strip()
    if "," in value and "." in value:
        decimal_sep = "," if value.rfind(",") > value.rfind(".") else "."
        thousands = "." if decimal_sep == "," else ","
        value = value.replace(thousands, "").replace(decimal_sep, ".")
    elif "," in value:
        head, _, tail = value.rpartition(",")
        value = value.replace(",", "") if len(tail) == 3 else f"{head.replace(',', '')}.{tail}"
    elif value.count(".") > 1 or (value.count(".") == 1 and len(value.rpartition(".")[2]) == 3):
        value = value.replace(".", "")
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None


def _categories(session: Session) -> dict[str, str]:
    names = [str(c) for c in session.scalars(select(m.Product.category).distinct())]
    aliases: dict[str, str] = {}
    for name in names:
        base = r.normalise(name)
        singular = base[:-1] if base.endswith("s") else base
        for alias in {base, singular, f"{singular}s", f"{singular} parts", f"{base} parts"}:
            aliases[alias] = name
    return aliases


ERP_WORDS = frozenset(
    """invoice invoices order orders payment payments stock price prices cost costs sales revenue
    customer customers supplier suppliers product products return returns shipment shipments
    balance credit limit overdue open paid due total value margin lead time times status
    warehouse reorder movements movement tracking carrier delivery deliveries parcel refund
    turnover top best list show find main low high new old last this week month year quarter day
    days today yesterday all much many""".split()
)
"""Words that never count as a customer or supplier name on their own."""


def _mask(text: str, spans: Iterable[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        for index in range(start, end):
            chars[index] = " "
    return "".join(chars)


def _fold(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


_CONNECTORS = frozenset({"for", "the", "a", "an", "of", "on", "fits", "fitting"})


def _described_products(
    request: Request,
    session: Session,
    words: list[str],
    consumed: set[int],
    categories: frozenset[str],
) -> None:
    """Find products named by description ("the ceramic brake pads") rather than by SKU.

    A run of two or more words, each a word of product names and one of them more than a
    category or a rule's word, must fit every word of one product's name: that product's SKU
    is taken. Fitting two to six products makes a question; fitting more is no mention.
    """
    products = [(e.number, e.name) for e in name_index(session, m.Product).entities]
    folded = [(sku, name, {_fold(w) for w in r.normalise(name).split()}) for sku, name in products]
    vocabulary = set().union(*(tokens for _s, _n, tokens in folded)) if folded else set()
    common = GLOBAL_WORDS | ALL_RULE_WORDS | ERP_WORDS

    def usable(index: int) -> bool:
        word = words[index]
        return (
            index not in consumed
            and _fold(word) in vocabulary
            and (word not in common or word in categories)
        )

    position = 0
    while position < len(words):
        if not usable(position):
            position += 1
            continue
        end = position
        while end < len(words):
            if usable(end):
                end += 1
                continue
            # "the air filter for the Ford Transit": a connector inside one description
            gap = end
            while gap < len(words) and words[gap] in _CONNECTORS and gap not in consumed:
                gap += 1
            if gap == end or gap >= len(words) or not usable(gap):
                break
            end = gap
        run = [w for w in words[position:end] if w not in _CONNECTORS]
        wanted = {_fold(w) for w in run}
        # A common word that goes on naming the same products ("Ford Transit") belongs too.
        while (
            end < len(words)
            and end not in consumed
            and _fold(words[end]) in vocabulary
            and any(wanted | {_fold(words[end])} <= tokens for _s, _n, tokens in folded)
        ):
            run.append(words[end])
            wanted.add(_fold(words[end]))
            end += 1
        distinctive = [w for w in run if w not in categories and _fold(w) not in categories]
        if len(run) >= 2 and distinctive:
            fits = [(sku, name) for sku, name, tokens in folded if wanted <= tokens]
            if len(fits) == 1:
                request.skus.append(fits[0][0])
                consumed.update(range(position, end))
            elif 2 <= len(fits) <= 6:
                request.product_choices = fits
                consumed.update(range(position, end))
        position = end


def _known_words(session: Session) -> frozenset[str]:
    names = [
        e.name
        for model in (m.Customer, m.Supplier, m.Product)
        for e in name_index(session, model).entities
    ]
    return frozenset(w for name in names for w in r.normalise(name).split()) | frozenset(
        " ".join(_categories(session)).split()
    )


_WORD = re.compile(r"(?<![\w-])[^\W\d_]{4,}(?![\w-])")


def _spelled(text: str, session: Session) -> str:
    """Correct one-letter typos of rule words ("runing low", "lsit", "staus").

    Only a word no rule, name or category knows is changed, only to the one rule word
    at Damerau-Levenshtein distance 1 (a swap counts once; words of four letters only by
    a swap), and never to a condition word: a typo must not add a filter.
    """
    vocabulary = GLOBAL_WORDS | ALL_RULE_WORDS | ERP_WORDS
    known = vocabulary | _known_words(session) | frozenset(r.COUNTRIES)
    targets = sorted(vocabulary - CONDITION_WORDS)

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        lower = r.normalise(word)
        if lower in known or " " in lower:
            return word
        close = [
            target
            for target in targets
            if abs(len(target) - len(lower)) <= 1
            and DamerauLevenshtein.distance(lower, target) == 1
            and (len(lower) > 4 or sorted(lower) == sorted(target))
        ]
        return close[0] if len(close) == 1 else word

    return _WORD.sub(fix, text)


def parse_request(text: str, session: Session, *, today: date | None = None) -> Request:
    """Find every entity in ``text`` that can be checked against the ERP.

    Raises:
        Unclear: a date cannot be read, or two periods are mentioned.

    """
    today = today or business_date(session)
    text = _spelled(text, session)
    request = Request(text=text, today=today, norm=r.normalise(text))
    spans: list[tuple[int, int]] = []

    def take(
        pattern: re.Pattern[str], spell: Callable[[re.Match[str]], str], into: list[str]
    ) -> None:
        for match in pattern.finditer(text):
            if any(a < match.end() and match.start() < b for a, b in spans):
                continue
            into.append(spell(match))
            spans.append(match.span())

    for match in QUOTED_RE.finditer(text):
        spans.append(match.span())
        request.residual.append("\x00quoted")
    take(r.INVOICE_RE, r.canonical_invoice, request.invoices)
    take(r.PO_RE, r.canonical_po, request.pos)
    take(r.RMA_RE, r.canonical_rma, request.rmas)
    take(r.SHIPMENT_RE, lambda mt: f"SH-{mt.group(1)}", request.shipments)
    for match in QUANTITY_RE.finditer(text):
        sku = match.group("sku").upper()  # letters, a dash, digits: upper case is canonical
        request.quantities.append((int(match.group("q").replace(",", "")), sku))
        # Only the quantity is taken here; the SKU itself is found with the others below.
        spans.append((match.start(), match.start("sku")))
    take(r.SKU_RE, r.canonical_sku, request.skus)
    take(r.ORDER_RE, r.canonical_order, request.orders)
    for match in ORDER_BARE_RE.finditer(text):
        # "order 1261": the sales order SO-1261 (only the number is taken; "order" stays).
        if not any(a < match.end() and match.start() < b for a, b in spans):
            request.orders.append(f"SO-{int(match.group('n'))}")
            label = match.start("label") if match.group("label") else match.start("n")
            spans.append((label, match.end("n")))
    take(r.CUSTOMER_NUMBER_RE, lambda mt: mt.group(1), request.customer_numbers)
    take(r.TRACKING_RE, lambda mt: mt.group(1), request.trackings)
    try:
        request.period = r.find_period(_mask(text, spans), today)
    except r.ManyPeriods as error:
        raise NotForFastPath(str(error)) from None
    except r.PeriodError as error:
        raise Unclear(str(error)) from None
    if request.period is not None:
        spans.append(request.period.span)
        if re.search(r"\bdue\b", request.norm):
            # Due dates lie ahead too: "due this week" runs to Sunday, not to today.
            request.due_period = r.find_period(_mask(text, spans[:-1]), today, clamp=False)
    for pattern, setter in (
        (DAYS_RE, "days"),
        (LIMIT_RE, "limit"),
    ):
        for match in pattern.finditer(text):
            if any(a < match.end() and match.start() < b for a, b in spans):
                continue
            setattr(request, setter, int(match.group("n")))
            # Keep the words ("overdue", "top") for the rules; drop only the number.
            spans.append(match.span("n"))
            request.applied.update(r.normalise(match.group(0)).split())
    for match in MIN_AMOUNT_RE.finditer(text):
        if any(a < match.end() and match.start() < b for a, b in spans):
            continue
        value = parse_number(match.group("n")) * (1000 if match.group("k") else 1)
        request.min_amount = value
        spans.append(match.span())
    for match in MONEY_RE.finditer(text):
        if any(a < match.end() and match.start() < b for a, b in spans):
            continue
        number = match.group("a") or match.group("b")
        thousand = match.group("ka") or match.group("kb")
        sign = -1 if match.group("sign") or match.group("sign2") else 1
        request.amounts.append(sign * parse_number(number) * (1000 if thousand else 1))
        spans.append(match.span())
    for match in PERCENT_RE.finditer(text):
        request.percent = Decimal(match.group("n"))
        spans.append(match.span())
    if re.search(r"\b(adjust|correct|set|count|counted)\b", request.norm):
        # "to 42" / "to -5" sets a quantity (a negative one is refused); "+5" / "-3" changes it.
        for match in TARGET_RE.finditer(_mask(text, spans)):
            request.quantities.append((int(match.group("n")), ""))
            spans.append(match.span())
    for match in DELTA_RE.finditer(_mask(text, spans)):
        request.delta = int(match.group("d"))
        spans.append(match.span())
    for match in WAREHOUSE_RE.finditer(_mask(text, spans)):
        code = next(g for g in match.groups() if g).upper()
        if code not in request.warehouses:
            request.warehouses.append(code)
        spans.append(match.span())
    if re.search(r"\b(pay|pays|paid|paying|payment|payments)\b", request.norm):
        for match in METHOD_RE.finditer(_mask(text, spans)):
            request.method = METHODS[match.group(1).lower()]
            spans.append(match.span())
    if re.search(r"\b(adjust|correct|correction|set|count|counted|write off)\b", request.norm):
        # The reason of a stock correction is free text, not words a rule must understand.
        for match in REASON_RE.finditer(_mask(text, spans)):
            request.reason = match.group("why").strip()
            spans.append(match.span())
    masked = _mask(text, spans)
    norm_masked = r.normalise(masked)
    aliases = _categories(session)
    ignore = ERP_WORDS | GLOBAL_WORDS | frozenset(aliases) | frozenset(r.COUNTRIES)
    # Names first: "Delta Hydraulics" is a supplier even though "hydraulics" is a category.
    customers = name_index(session, m.Customer).find_in_text(norm_masked, ignore=ignore)
    suppliers = name_index(session, m.Supplier).find_in_text(norm_masked, ignore=ignore)
    consumed: set[int] = set()
    for mention in [*customers, *suppliers]:
        consumed |= mention.consumed
    request.customers = customers
    # A span naming both a customer and a supplier counts as the customer.
    request.suppliers = [
        s for s in suppliers if not any(c.consumed & s.consumed for c in customers)
    ]
    words = norm_masked.split()
    _described_products(request, session, words, consumed, frozenset(aliases))
    position = 0
    while position < len(words):
        if position in consumed:
            position += 1
            continue
        for size in (3, 2, 1):
            phrase = " ".join(words[position : position + size])
            if (
                len(phrase.split()) == size
                and phrase in aliases
                and not consumed & set(range(position, position + size))
            ):
                if aliases[phrase] not in request.categories:
                    request.categories.append(aliases[phrase])
                consumed |= set(range(position, position + size))
                position += size - 1
                break
        position += 1
    for size in (2, 1):
        for position in range(len(words) - size + 1):
            span = set(range(position, position + size))
            phrase = " ".join(words[position : position + size])
            if phrase in r.COUNTRIES and not consumed & span:
                if r.COUNTRIES[phrase] not in request.countries:
                    request.countries.append(r.COUNTRIES[phrase])
                consumed |= span
    request.residual += [word for index, word in enumerate(words) if index not in consumed]
    # "for Zyxel Motors": a name-shaped phrase that matched nothing is worth a clear answer.
    unknown = set(request.residual) - GLOBAL_WORDS - ALL_RULE_WORDS
    if unknown:
        for match in _NAME_AFTER.finditer(masked):
            phrase_words = set(r.tokens(match.group("name")))
            if unknown and unknown <= phrase_words:
                request.unknown_name = match.group("name").strip()
                break
    return request


# --- rules ------------------------------------------------------------------------------

GLOBAL_WORDS = frozenset(
    """a an the this that these those it its is are was were be been being am do does did
    have has had can could would will may might shall me my we our ours us you your i
    he his she her they their them what whats which who whom whose when where how many much
    of for to from in on at by with about as and so far yet still already just only up
    all any some every there here please pls plz thanks thank hey hi hello nova ok okay
    show list give tell find get pull look lookup check display see know need want fetch
    bring provide let info information details detail overview number numbers currently
    current right now s t quick quickly again also too our entire full whole kindly
    everything e g ie eg across system""".split()
)
"""Words any rule accepts (they carry no meaning a skill could miss)."""

_W = frozenset

CONDITION_WORDS = frozenset(
    """below under beneath less fewer lower cheaper above more greater higher exceeding exceeds
    most least top bottom worst best biggest largest smallest highest lowest cheapest dearest
    oldest newest earliest latest last first recent except excluding without not no never
    nothing cancelled canceled returned rejected refunded open paid unpaid settled overdue
    late delayed shipped delivered pending partial partially fully outstanding owed owing
    unapplied unmatched applied matched margin margins profit profitable loss units volume
    quantity defective faulty broken damaged wrong country countries reason reasons why
    incoming outgoing receipts adjustments discount discounted net credited refunds
    refund""".split()
)
"""Words that narrow, rank or negate: each one left in a request must have been applied.

A rule's vocabulary lets such a word through only so the rule can be tried; the answer is
given only if the builder used the word (``_flag``), an entity consumed it (``DAYS_RE``,
``LIMIT_RE``), or the skill does what it says by its nature (``Rule.implies``). Otherwise
the fast path declines, naming the word, instead of answering a broader question.
"""


@dataclass(frozen=True, slots=True)
class Rule:
    """One way a request maps onto a skill."""

    name: str
    skill: str
    trigger: re.Pattern[str]
    """Must match the normalised request."""
    uses: frozenset[str]
    """Entity kinds the rule consumes; any other entity present makes it not fit."""
    requires: frozenset[str]
    vocabulary: frozenset[str]
    build: Callable[[Request, Session], dict[str, Any]]
    priority: int = 0
    multi: frozenset[str] = frozenset()
    """Entity kinds the rule takes several of (PO lines); of any other, one at most."""
    implies: frozenset[str] = frozenset()
    """Condition words the skill honours by its nature ("overdue" for the overdue list)."""


def _t(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _customer(request: Request, session: Session) -> str | None:
    if request.customer_numbers:
        return request.customer_numbers[0]
    if not request.customers:
        return None
    mention = request.customers[0]
    if mention.resolved is None:
        raise AmbiguousName("customer", mention.text, list(mention.candidates))
    return mention.resolved.number


def _supplier(request: Request, session: Session) -> str | None:
    if not request.suppliers:
        return None
    mention = request.suppliers[0]
    if mention.resolved is None:
        raise AmbiguousName("supplier", mention.text, list(mention.candidates))
    return mention.resolved.number


def _dates(request: Request, start: str = "date_from", end: str = "date_to") -> dict[str, Any]:
    if request.period is None:
        return {}
    return {start: request.period.start, end: request.period.end}


def _limit(request: Request, default: int | None = None) -> dict[str, Any]:
    value = request.limit or default
    return {"limit": value} if value else {}


def _flag(request: Request, pattern: str) -> re.Match[str] | None:
    """Search the request for a condition; its words count as applied when it is found."""
    match = re.search(pattern, request.norm)
    if match:
        request.applied.update(match.group(0).split())
    return match


def _invoice_status(rq: Request) -> str:
    if _flag(
        rq,
        r"\b(unpaid|open|outstanding|still owed|owed|owing|not (yet )?paid|unsettled|not "
        r"settled|pending)\b",
    ):
        return "open"
    if re.search(r"\b(been|was|were|has|have|is)\s+paid\b", rq.norm):
        return "any"
    if _flag(rq, r"\b(paid|settled)\b"):
        return "paid"
    return "any"


def _group_by(request: Request) -> str:
    for pattern, group in (
        (r"\b(by|per|each)\s+(product group|category|categories|product category)\b", "category"),
        (r"\b(by|per|each)\s+(weekday|day of the week)\b", "weekday"),
        (r"\b(by|per|each)\s+week\b|\bweekly\b", "week"),
        (r"\b(by|per|each)\s+day\b|\bdaily\b", "day"),
        (r"\b(by|per|each)\s+month\b|\bmonthly\b", "month"),
        (r"\b(by|per|each)\s+customer\b", "customer"),
        (r"\b(by|per|each)\s+(product|sku)\b", "product"),
    ):
        if _flag(request, pattern):
            return group
    period = request.period
    if period and period.start and period.end and (period.end - period.start).days > 62:
        return "month"
    return "none"


INVOICE_WORDS = _W(
    """invoice invoices inv bill bills status due date paid payed been open outstanding amount
    total value owed owing issued issue unpaid left yet settled pending still when was were
    state""".split()
)
OVERDUE_WORDS = _W(
    """overdue invoice invoices bills past due late unpaid outstanding open days day old older
    than more longer over least customer customers payers who which owes owe money amount
    total value oldest since""".split()
)
PAYMENT_WORDS = _W(
    """payment payments paid pay pays paying received receive got money history incoming
    transactions transaction last latest recent recently usually average avg days quickly fast
    long takes take time behaviour behavior method methods unapplied unmatched matched applied
    customer customers reference ref anything something made came in total over assigned
    allocated linked unassigned unallocated no without not yet sitting invoice invoices""".split()
)
STOCK_WORDS = _W(
    """stock stocks level levels inventory on hand available availability quantity quantities
    qty pieces units left have got many much warehouse warehouses reserved reservations after
    free in versus vs compared both each per location locations count sku skus item items""".split()
)
REORDER_WORDS = _W(
    """reorder reordering reordered point points below under low running short stock stocks
    needs need needed order ordering items item products product skus sku what which list out
    of empty zero available nothing replenish replenishment candidates level levels flagged
    marked showing warehouse warehouses""".split()
)
MOVEMENT_WORDS = _W(
    """movement movements moves moved stock booked booking bookings out in into incoming
    outgoing history ledger transactions changes changed receipts receipt sales adjustments
    went came who over past""".split()
)
ORDER_WORDS = _W(
    """order orders sales sale so status lines line items item content contents contain
    confirmed complete completed state what s in is it placed where shipped delivered
    details""".split()
)
CUSTOMER_ORDER_WORDS = _W(
    """order orders ordered sales sale placed entered history open shipped delivered cancelled
    canceled last latest recent recently did buy bought purchase purchases customer customers
    new many count number""".split()
)
SALES_WORDS = _W(
    """sales sale revenue revenues turnover sold sell selling total totals figures numbers
    orders order average value aov by per month months monthly week weekly day daily weekday
    weekdays group product category categories customer made make earn earned did units
    overall ranked ranking""".split()
)
TOP_CUSTOMER_WORDS = _W(
    """top best biggest largest most important customers customer clients by revenue sales
    turnover ranked ranking share spend spent bought value who are were comes come""".split()
)
TOP_PRODUCT_WORDS = _W(
    """top best selling sellers seller bestsellers bestselling most sold popular products
    product items parts skus by revenue units volume quantity ranked ranking what which are
    were""".split()
)
LEAD_WORDS = _W(
    """lead time times leadtime delivery deliver delivers take takes long usually supplier
    suppliers average actual quoted days how fast reliable""".split()
)
PO_WORDS = _W(
    """purchase order orders po pos status open outstanding overdue late received pending
    sent placed lines line items what s the arrive arrival expected we got have on from
    supplier suppliers outstanding past expected delivery date dates due""".split()
)
PRICE_WORDS = _W(
    """price prices pricing cost costs costing margin margins sell selling charge charged list
    dealer net buy pay pays purchase what much does do we for the discount discounted their
    versus vs products product items below under less than gross loss making negative at
    beneath purchasing paid own landed unit worst lowest smallest thinnest poorest weakest best
    highest biggest largest top most least profitable profitability""".split()
)
PRODUCT_WORDS = _W(
    """product products item items details sku skus look up search find part parts""".split()
)
CUSTOMER_WORDS = _W(
    """customer customers card account details contact person phone number email mail address
    billing vat id tax payment terms who find look up record data""".split()
)
BALANCE_WORDS = _W(
    """balance owe owes owed owing outstanding credit limit limits left available remaining
    over exceeded above account open invoices invoice debt current money total how much""".split()
)
SHIPMENT_WORDS = _W(
    """shipment shipments shipped ship shipping tracking track number carrier parcel parcels
    package packages delivery deliveries delivered arrive arrived transit status went out
    sent dispatched late delayed cost costs where via which dhl dpd ups gls db schenker
    use used orders""".split()
)
RETURN_WORDS = _W(
    """return returns returned rma rmas refund refunded refunds credit note notes status
    open still back sent came defective faulty reason rejected received pending waiting
    inspection invoice""".split()
)
REMINDER_WORDS = _W(
    """send reminder reminders remind dunning letter chase payment email mail customer
    about""".split()
)
RECORD_WORDS = _W(
    """record book enter register post payment received got paid from for against of partial
    on""".split()
)
PO_CREATE_WORDS = _W(
    """create place raise make new purchase order po order buy for from at with please
    supplier""".split()
)
ADJUST_WORDS = _W(
    """adjust adjustment correct correction set stock count counted book booking change
    write off to by reason damaged found because""".split()
)


def _b_invoice(rq: Request, s: Session) -> dict[str, Any]:
    args: dict[str, Any] = {"invoice_number": rq.invoices[0]}
    customer = _customer(rq, s)
    if customer:
        args["customer"] = customer
    return args


def _b_invoices(rq: Request, s: Session) -> dict[str, Any]:
    args: dict[str, Any] = {"status": _invoice_status(rq), **_limit(rq)}
    if _flag(rq, r"\b(oldest|earliest)\b"):
        args["oldest_first"] = True
    customer = _customer(rq, s)
    if customer:
        args["customer"] = customer
    if rq.orders:
        args["order_number"] = rq.orders[0]
    if rq.min_amount is not None:
        args["min_amount"] = rq.min_amount
    if rq.due_period is not None:
        if not rq.due_period.anchored:
            raise NotForFastPath(
                f"{rq.due_period.text!r} without a year is ambiguous for due dates"
            )
        args |= {"due_from": rq.due_period.start, "due_to": rq.due_period.end}
    elif rq.period is not None:
        args |= _dates(rq, "issued_from", "issued_to")
    return args


def _b_overdue(rq: Request, s: Session) -> dict[str, Any]:
    args: dict[str, Any] = {**_limit(rq)}
    customer = _customer(rq, s)
    if customer:
        args["customer"] = customer
    if rq.days is not None:
        args["min_days_overdue"] = rq.days + (0 if _flag(rq, r"\bat least\b") else 1)
    return args


def _b_balance(rq: Request, s: Session) -> dict[str, Any]:
    return {"customer": _customer(rq, s)}


def _b_debtors(rq: Request, s: Session) -> dict[str, Any]:
    _flag(rq, RANK_MOST)
    args: dict[str, Any] = {"limit": rq.limit or 10}
    if _flag(rq, r"\b(overdue|late|past due)\b"):
        args["overdue_only"] = True
        rq.reading = "Ranked by overdue amount."
    else:
        rq.reading = (
            "Ranked by net balance (open invoices less unapplied payments and credit notes)."
        )
    return args


RANK_MOST = r"\b(most|biggest|largest|highest|top|greatest)\b"
"""Words that rank from the top; a rule for a ranking must find one."""


def _b_find_customer(rq: Request, s: Session) -> dict[str, Any]:
    return {"query": _customer(rq, s)}


def _b_payments(rq: Request, s: Session) -> dict[str, Any]:
    args: dict[str, Any] = {**_dates(rq), **_limit(rq)}
    customer = _customer(rq, s)
    if customer:
        args["customer"] = customer
    if rq.invoices:
        args["invoice_number"] = rq.invoices[0]
    if rq.method:
        args["method"] = rq.method
    if rq.min_amount is not None:
        args["min_amount"] = rq.min_amount
    if _flag(
        rq,
        r"\b(unapplied|unmatched|unassigned|unallocated|not (yet )?(matched|assigned|allocated|"
        r"applied)|couldn t match|could not match|(have|has|with) no invoice( assigned| linked)?|"
        r"without (an )?invoice)\b",
    ):
        args["unapplied_only"] = True
    return args


def _b_stock(rq: Request, s: Session) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if rq.skus:
        args["product"] = rq.skus[0]
    else:
        args["category"] = rq.categories[0]
    if len(rq.warehouses) == 1:
        args["warehouse"] = rq.warehouses[0]
    return args


def _b_reorder(rq: Request, s: Session) -> dict[str, Any]:
    args: dict[str, Any] = {**_limit(rq)}
    if rq.categories:
        args["category"] = rq.categories[0]
    if rq.warehouses:
        args["warehouse"] = rq.warehouses[0]
    if _flag(rq, r"\b(out of stock|zero stock|nothing available|empty|sold out)\b"):
        args["out_of_stock_only"] = True
    return args


def _b_movements(rq: Request, s: Session) -> dict[str, Any]:
    args: dict[str, Any] = {"product": rq.skus[0], **_dates(rq), **_limit(rq)}
    if rq.warehouses:
        args["warehouse"] = rq.warehouses[0]
    kinds = {kind for kind, words in MOVEMENT_KINDS.items() if _flag(rq, words)}
    if kinds == {"receipt", "sale"} and _flag(
        rq, r"\b(incoming and outgoing|outgoing and incoming|in and out|ins and outs)\b"
    ):
        kinds = set()  # both directions: every movement
    if len(kinds) > 1:
        raise NotForFastPath(f"several kinds of stock movement at once: {sorted(kinds)}")
    if kinds:
        args["kind"] = kinds.pop()
    return args


MOVEMENT_KINDS: dict[str, str] = {
    "receipt": r"\b(incoming|receipts?|received|goods in|came in)\b",
    "sale": r"\b(outgoing|sales?|sold|went out|shipped out)\b",
    "return": r"\b(returns?|returned|came back)\b",
    "adjustment": r"\b(adjustments?|adjusted|corrections?|corrected|write offs?)\b",
}
"""Kinds of stock movement, as people put them."""


def _b_order(rq: Request, s: Session) -> dict[str, Any]:
    return {"order_number": rq.orders[0]}


def _b_customer_orders(rq: Request, s: Session) -> dict[str, Any]:
    args: dict[str, Any] = {**_dates(rq), **_limit(rq)}
    if rq.days is not None:
        if rq.period is not None or not _flag(rq, r"\b(older than|more than|over)\b"):
            raise NotForFastPath("an age in days with a period, or not as 'older than'")
        # "older than 30 days": placed on or before the day 30 days ago
        args["date_to"] = rq.today - timedelta(days=rq.days)
    customer = _customer(rq, s)
    if customer:
        args["customer"] = customer
    for word, status in (
        ("open", "open"),
        ("shipped", "shipped"),
        ("delivered", "delivered"),
        ("cancell?ed", "cancelled"),
    ):
        if _flag(rq, rf"\b{word}\b"):
            args["status"] = status
    if rq.skus:
        args["product"] = rq.skus[0]
    return args


def _b_sales(rq: Request, s: Session) -> dict[str, Any]:
    assert rq.period is not None and rq.period.start and rq.period.end
    args: dict[str, Any] = {**_dates(rq), "group_by": _group_by(rq)}
    customer = _customer(rq, s)
    if customer:
        args["customer"] = customer
    if rq.categories:
        args["category"] = rq.categories[0]
    if rq.skus:
        args["product"] = rq.skus[0]
    return args


def _b_top_customers(rq: Request, s: Session) -> dict[str, Any]:
    said = _flag(rq, r"\b(revenue|sales|turnover|spend|spent|bought)\b")
    rq.reading = "Ranked by revenue." if said else "Ranked by revenue (net sales value)."
    args: dict[str, Any] = {**_dates(rq), **_limit(rq)}
    if rq.countries:
        args["country"] = rq.countries[0]
    return args


def _b_customers_in(rq: Request, s: Session) -> dict[str, Any]:
    return {"country": rq.countries[0], "limit": rq.limit or 50}


def _b_top_products(rq: Request, s: Session) -> dict[str, Any]:
    args: dict[str, Any] = {**_dates(rq), **_limit(rq)}
    if _flag(rq, r"\b(units|volume|quantity|quantities|pieces|most sold|how many)\b"):
        args["by"] = "units"
        rq.reading = "Ranked by units sold."
    elif _flag(rq, r"\b(revenue|turnover|sales value|value)\b"):
        rq.reading = "Ranked by revenue."
    else:
        rq.reading = "Ranked by revenue (net sales value), not units sold; ask by units for that."
    if rq.categories:
        args["category"] = rq.categories[0]
    return args


def _b_lead(rq: Request, s: Session) -> dict[str, Any]:
    args: dict[str, Any] = {}
    supplier = _supplier(rq, s)
    if supplier:
        args["supplier"] = supplier
    if rq.categories:
        args["category"] = rq.categories[0]
    return args


def _b_pos(rq: Request, s: Session) -> dict[str, Any]:
    args: dict[str, Any] = {**_dates(rq), **_limit(rq)}
    if rq.pos:
        args["po_number"] = rq.pos[0]
    supplier = _supplier(rq, s)
    if supplier:
        args["supplier"] = supplier
    if _flag(rq, r"\b(overdue|late)\b"):
        args["status"] = "overdue"
    elif _flag(rq, r"\b(open|outstanding|pending|on order)\b"):
        args["status"] = "open"
    elif _flag(rq, r"\breceived\b"):
        args["status"] = "received"
    if rq.skus:
        args["product"] = rq.skus[0]
    return args


def _b_prices(rq: Request, s: Session) -> dict[str, Any]:
    args: dict[str, Any] = {**_limit(rq)}
    if rq.skus:
        args["product"] = rq.skus[0]
    if rq.categories:
        args["category"] = rq.categories[0]
    customer = _customer(rq, s)
    if customer:
        args["customer"] = customer
        # A customer's price is the list price less their discount: their net price.
        _flag(rq, r"\b(discount|discounted|net)\b")
    if rq.percent is not None and _flag(
        rq, r"\bmargins?\b(?: \w+){0,3}? (?:below|under|less than|lower than|beneath)\b"
    ):
        args["max_margin_pct"] = rq.percent
    elif _flag(rq, BELOW_COST):
        args["max_margin_pct"] = Decimal(0)
    low = r"\b(worst|lowest|smallest|thinnest|poorest|weakest|least profitable)"
    high = r"\b(best|highest|biggest|largest|top|most profitable)"
    margin = r"( \w+)?( margins?| profitability)?\b"
    if _flag(rq, low + margin) and re.search(r"\b(margins?|profitable|profitability)\b", rq.norm):
        args["order"] = "lowest_margin"
        rq.reading = "Sorted by margin % on the list price (price less cost), lowest first."
    elif _flag(rq, high + margin) and re.search(
        r"\b(margins?|profitable|profitability)\b", rq.norm
    ):
        args["order"] = "highest_margin"
        rq.reading = "Sorted by margin % on the list price (price less cost), highest first."
    return args


BELOW_COST = (
    r"\b(?:below|under|less than|lower than|beneath|at or below)\s+(?:(?:the|our|its|their|what"
    r"|we|it|they)\s+)*(?:(?:purchase|purchasing|buying|buy|unit|landed|own|pay|paid)\s+)?"
    r"(?:cost|costs|cost price|price we pay)\b|\b(?:at a loss|loss making|negative margins?)\b"
)
"""Selling below what a product costs us, however it is put."""


def _b_product(rq: Request, s: Session) -> dict[str, Any]:
    return {"query": rq.skus[0]}


def _b_shipments(rq: Request, s: Session) -> dict[str, Any]:
    args: dict[str, Any] = {**_dates(rq), **_limit(rq)}
    if rq.orders:
        args["order_number"] = rq.orders[0]
    if rq.trackings:
        args["tracking_number"] = rq.trackings[0]
    if rq.shipments:
        args["shipment_number"] = rq.shipments[0]
    customer = _customer(rq, s)
    if customer:
        args["customer"] = customer
    one = bool(rq.orders or rq.trackings or rq.shipments)
    if one:
        # One shipment's record shows whether it was delivered, and when.
        _flag(rq, r"\b(delivered|arrived|shipped|late|delayed)\b")
    if _flag(rq, r"\bin transit\b|\bon (the|its) way\b"):
        args["status"] = "in_transit"
    elif _flag(rq, r"\b(late|delayed)\b"):
        if rq.period is not None:
            raise NotForFastPath("the period filters the shipping date, not the delivery date")
        args["status"] = "late"
    elif not one and _flag(rq, r"\bdelivered\b"):
        if rq.period is not None:
            raise NotForFastPath("the period filters the shipping date, not the delivery date")
        args["status"] = "delivered"
    carriers = {
        "DB Schenker" if "schenker" in carrier else carrier.upper()
        for carrier in ("dhl", "dpd", "ups", "gls", "db schenker", "schenker")
        if _flag(rq, rf"\b{carrier}\b")
    }
    if len(carriers) > 1:
        raise NotForFastPath(f"several carriers at once: {sorted(carriers)}")
    if carriers:
        args["carrier"] = carriers.pop()
    return args


RETURN_REASONS: dict[str, str] = {
    "defective": r"\b(defective|faulty|broken|not working|doesn t work|failed|defect|defects)\b",
    "wrong_part": r"\b(wrong|incorrect) (parts?|items?|products?|skus?|ones?)\b|\bwrong\b(?! way)",
    "damaged_in_transit": r"\b(damaged|damage|transport damage|transit damage|shipping damage)\b",
    "not_needed": r"\b(not|no longer|wasn t|weren t|didn t|did not) (needed|need|required)\b"
    r"|\b(unneeded|unwanted|surplus)\b",
    "ordered_twice": r"\b(ordered twice|duplicate|duplicated|double order(ed)?|ordered double)\b",
}
"""Return reasons the ERP records, as people put them."""


def _b_returns(rq: Request, s: Session) -> dict[str, Any]:
    args: dict[str, Any] = {**_dates(rq), **_limit(rq)}
    if rq.period is not None and _flag(rq, r"\b(credit notes?|refunds?|refunded)\b"):
        raise NotForFastPath("returns are filtered by request date, not by refund date")
    if rq.rmas:
        args["rma_number"] = rq.rmas[0]
    if rq.invoices:
        args["invoice_number"] = rq.invoices[0]
    if rq.orders:
        args["order_number"] = rq.orders[0]
    if rq.skus:
        args["product"] = rq.skus[0]
    customer = _customer(rq, s)
    if customer:
        args["customer"] = customer
    reasons = [reason for reason, words in RETURN_REASONS.items() if _flag(rq, words)]
    if len(reasons) > 1:
        raise NotForFastPath(f"several return reasons at once: {reasons}")
    if reasons:
        args["reason"] = reasons[0]
    if _flag(rq, r"\b(open|pending|waiting|inspection)\b"):
        args["status"] = "open"
    elif _flag(rq, r"\brejected\b"):
        args["status"] = "rejected"
    elif _flag(rq, r"\b(refunded|refunds?|credit notes?|credited)\b") and not (
        rq.rmas or rq.invoices or rq.orders
    ):
        # A credit note exists only for a refunded return; one document's returns show
        # each return's status and credit, so they are listed whatever their status.
        args["status"] = "refunded"
    return args


def _b_reminder(rq: Request, s: Session) -> dict[str, Any]:
    return {
        "invoice_number": rq.invoices[0],
        "channel": "letter" if _flag(rq, r"\bletter\b") else "email",
    }


def _b_record_payment(rq: Request, s: Session) -> dict[str, Any]:
    args: dict[str, Any] = {"invoice_number": rq.invoices[0], "amount": rq.amounts[0]}
    if rq.method:
        args["method"] = rq.method
    customer = _customer(rq, s)
    if customer:
        args["customer"] = customer
    if rq.period is not None and rq.period.start == rq.period.end:
        args["paid_on"] = rq.period.start
    return args


def _b_create_po(rq: Request, s: Session) -> dict[str, Any]:
    args: dict[str, Any] = {
        "supplier": _supplier(rq, s),
        "lines": [{"product": sku, "quantity": quantity} for quantity, sku in rq.quantities],
    }
    if rq.warehouses:
        args["warehouse"] = rq.warehouses[0]
    return args


def _b_adjust(rq: Request, s: Session) -> dict[str, Any]:
    sku = rq.skus[0] if rq.skus else rq.quantities[0][1]
    args: dict[str, Any] = {"product": sku, "warehouse": rq.warehouses[0]}
    if rq.delta is not None:
        args["change"] = rq.delta
    else:
        quantity = next((q for q, qsku in rq.quantities if qsku in (sku, "")), None)
        args["new_quantity"] = quantity
    if not rq.reason:
        raise NotForFastPath("a stock correction needs its reason ('reason: ...' / 'because ...')")
    args["reason"] = rq.reason
    return args


_PERIOD = _W({"period"})


RULES: tuple[Rule, ...] = (
    Rule(
        "invoice by number",
        "erp_invoice_lookup",
        _t(r"."),
        _W({"invoices", "customer"}),
        _W({"invoices"}),
        INVOICE_WORDS,
        _b_invoice,
        2,
        implies=_W("open outstanding owed owing paid pending settled unpaid overdue late".split()),
    ),
    Rule(
        "invoice of an order",
        "erp_invoice_lookup",
        _t(r"\b(invoice|invoices|bill)\b"),
        _W({"orders"}),
        _W({"orders"}),
        INVOICE_WORDS | _W({"sales", "order", "for", "so"}),
        _b_invoices,
        3,
        implies=_W("open outstanding owed owing paid pending settled unpaid overdue late".split()),
    ),
    Rule(
        "invoices by filter",
        "erp_invoice_lookup",
        _t(r"\b(invoices?|bills?)\b"),
        _W({"customer", "period", "min_amount", "limit"}),
        _W(),
        INVOICE_WORDS
        | _W(
            {"issued", "sent", "billed", "we", "over", "above", "euros", "latest", "last", "recent"}
            | {"oldest", "earliest", "newest"}
        ),
        _b_invoices,
        implies=_W("last latest recent newest".split()),
    ),
    Rule(
        "overdue invoices",
        "erp_overdue_invoices",
        _t(r"\b(overdue|past due|late pay|more than \w+ days|longer than \w+ days)\b"),
        _W({"customer", "days", "limit"}),
        _W(),
        OVERDUE_WORDS,
        _b_overdue,
        1,
        implies=_W("late open outstanding overdue unpaid oldest owed owing".split()),
    ),
    Rule(
        "customer balance",
        "erp_customer_balance",
        _t(
            r"\b(balance|owe|owes|owed|owing|credit limit|credit left|credit does|over "
            r"(their|its|the) (credit )?limit|outstanding)\b"
        ),
        _W({"customer"}),
        _W({"customer"}),
        BALANCE_WORDS | _W({"their", "does", "do", "on", "us", "have"}),
        _b_balance,
        1,
        implies=_W("above open outstanding owed owing overdue".split()),
    ),
    Rule(
        "who owes the most",
        "erp_customer_balance",
        _t(
            r"\b(owes?|owing|owed|debtors?|receivables?|balances?|outstanding)\b.*"
            + RANK_MOST
            + "|"
            + RANK_MOST
            + r".*\b(owes?|owing|owed|debtors?|receivables?|balances?|outstanding)\b"
        ),
        _W({"limit"}),
        _W(),
        BALANCE_WORDS
        | _W("who which customers customer clients us most biggest largest highest top".split())
        | _W("greatest debtors debtor receivables overdue late past due money balances".split()),
        _b_debtors,
        2,
    ),
    Rule(
        "customers in a country",
        "erp_find_customer",
        _t(r"\b(customers?|clients?|accounts?)\b"),
        _W({"countries", "limit"}),
        _W({"countries"}),
        _W("customers customer clients client accounts based located list many count".split()),
        _b_customers_in,
    ),
    Rule(
        "customer card",
        "erp_find_customer",
        _t(
            r"\b(customer|contact|phone|email|mail|address|vat|payment terms|terms|customer "
            r"number|card|details|find|look up|who is)\b"
        ),
        _W({"customer"}),
        _W({"customer"}),
        CUSTOMER_WORDS | _W({"their", "does", "do", "have"}),
        _b_find_customer,
    ),
    Rule(
        "payments",
        "erp_payment_history",
        _t(r"\b(payments?|paid|pay|pays|paying|received)\b"),
        _W({"customer", "invoices", "period", "method", "min_amount", "limit"}),
        _W(),
        PAYMENT_WORDS | _W({"usually", "by", "via", "with", "us", "we"}),
        _b_payments,
        implies=_W("last latest recent newest paid".split()),
    ),
    Rule(
        "stock level",
        "erp_stock_level",
        _t(
            r"\b(stock|in stock|on hand|available|availability|inventory|have|how "
            r"many|quantity|left)\b"
        ),
        _W({"skus", "categories", "warehouses"}),
        _W(),
        STOCK_WORDS,
        _b_stock,
        implies=_W("quantity units".split()),
    ),
    Rule(
        "reorder candidates",
        "erp_reorder_candidates",
        _t(
            r"\b(reorder|reordering|low stock|running low|below (the |their |its )?reorder|out of "
            r"stock|needs? (re)?ordering|short on|replenish)\b"
        ),
        _W({"categories", "warehouses", "limit", "period"}),
        _W(),
        REORDER_WORDS | _W({"this", "week", "right", "now", "today", "pls"}),
        _b_reorder,
        1,
        implies=_W("below under".split()),
    ),
    Rule(
        "stock movements",
        "erp_stock_movements",
        _t(
            r"\b(movements?|moved|booked|in and out|incoming|outgoing|stock history|bookings|went "
            r"out)\b"
        ),
        _W({"skus", "period", "warehouses", "limit"}),
        _W({"skus"}),
        MOVEMENT_WORDS,
        _b_movements,
        1,
    ),
    Rule(
        "order status",
        "erp_order_status",
        _t(r"."),
        _W({"orders"}),
        _W({"orders"}),
        ORDER_WORDS,
        _b_order,
        implies=_W("shipped delivered open cancelled canceled".split()),
    ),
    Rule(
        "customer orders",
        "erp_customer_orders",
        _t(r"\b(orders?|ordered|order history|bought|buy)\b"),
        _W({"customer", "period", "limit", "skus", "days"}),
        _W(),
        CUSTOMER_ORDER_WORDS
        | _W({"today", "entered", "many", "right", "now", "with", "totals", "total", "value"})
        | _W({"received", "came", "got", "older", "than", "more", "over", "still", "days", "day"}),
        _b_customer_orders,
        implies=_W("last latest recent newest".split()),
    ),
    Rule(
        "sales summary",
        "erp_sales_summary",
        _t(r"\b(sales|revenue|turnover|sold|sell|average order value|aov)\b"),
        _W({"period", "customer", "categories", "skus"}),
        _PERIOD,
        SALES_WORDS | _W({"how", "much", "did", "we", "in", "total"}),
        _b_sales,
        implies=_W("units".split()),
    ),
    Rule(
        "top customers",
        "erp_top_customers",
        _t(r"\b(top|best|biggest|largest|most important)\b.*\b(customers?|clients?)\b"),
        _W({"period", "limit", "countries"}),
        _W(),
        TOP_CUSTOMER_WORDS,
        _b_top_customers,
        1,
        implies=_W("best biggest largest most top".split()),
    ),
    Rule(
        "top products",
        "erp_top_products",
        _t(
            r"\b(top|best|most)\b.*\b(products?|items?|parts?|skus?|sellers?|selling|sold)\b"
            r"|\bbest ?sell"
        ),
        _W({"period", "limit", "categories"}),
        _W(),
        TOP_PRODUCT_WORDS,
        _b_top_products,
        1,
        implies=_W("best most top".split()),
    ),
    Rule(
        "supplier lead times",
        "erp_supplier_lead_times",
        _t(r"\b(lead times?|leadtime|how long does .* (take|deliver)|delivery times?)\b"),
        _W({"supplier", "categories"}),
        _W(),
        LEAD_WORDS | _W({"of", "our", "all"}),
        _b_lead,
        1,
    ),
    Rule(
        "purchase orders",
        "erp_purchase_orders",
        _t(r"\b(purchase orders?|pos?|on order from suppliers?|supplier orders?)\b"),
        _W({"pos", "supplier", "period", "skus", "limit"}),
        _W(),
        PO_WORDS,
        _b_pos,
        1,
    ),
    Rule(
        "prices",
        "erp_price_list",
        _t(
            r"\b(price|prices|price list|cost|costs|margin|margins|sell (it )?for|charge|dealer "
            r"price|at a loss|loss making|profitable|profitability)\b"
        ),
        _W({"skus", "categories", "customer", "percent", "limit"}),
        _W(),
        PRICE_WORDS,
        _b_prices,
        implies=_W("margin margins".split()),
    ),
    Rule(
        "product details",
        "erp_find_product",
        _t(r"\b(product details|details|sku|look up|find|supplier|who sells|which supplier)\b"),
        _W({"skus"}),
        _W({"skus"}),
        PRODUCT_WORDS | _W({"who", "sells", "supplies", "supplier", "which", "for"}),
        _b_product,
    ),
    Rule(
        "shipments",
        "erp_shipment_status",
        _t(
            r"\b(shipments?|shipped|ship|shipping|tracking|track|carrier|parcel|package|deliver|delivered"
            r"|delivery|deliveries|in transit|went out|dispatched)\b"
        ),
        _W({"orders", "trackings", "shipments", "customer", "period", "limit"}),
        _W(),
        SHIPMENT_WORDS
        | _W(
            {"order", "for", "has", "yet", "did", "leave", "left", "us", "total", "spend", "spent"}
        ),
        _b_shipments,
        1,
        implies=_W("shipped".split()),
    ),
    Rule(
        "returns",
        "erp_returns",
        _t(r"\b(returns?|returned|rmas?|refunds?|refunded|credit notes?|sent back|came back)\b"),
        _W({"rmas", "invoices", "orders", "skus", "customer", "period", "limit"}),
        _W(),
        RETURN_WORDS
        | _W({"issued", "for", "was", "been", "parts", "products", "as"})
        | _W("wrong incorrect part item items damaged damage transit transport shipping".split())
        | _W("needed need required longer unneeded unwanted surplus twice duplicate".split())
        | _W("duplicated double ordered broken working defect defects failed due".split())
        | _W("because anymore not with why reason reasons".split()),
        _b_returns,
        1,
        implies=_W("returned reason reasons why".split()),
    ),
    Rule(
        "send reminder",
        "erp_send_invoice_reminder",
        _t(r"\b(remind|reminder|dunning|chase)\b"),
        _W({"invoices", "customer"}),
        _W({"invoices"}),
        REMINDER_WORDS | _W({"for", "a", "to", "by"}),
        _b_reminder,
        4,
    ),
    Rule(
        "record payment",
        "erp_record_payment",
        _t(
            r"\b(record|book|enter|register|post|log)\b.*\bpayment\b|\bpayment\b.*\b(record|book|enter|register|post)\b"
        ),
        _W({"invoices", "amounts", "customer", "method", "period"}),
        _W({"invoices", "amounts"}),
        RECORD_WORDS | PAYMENT_WORDS,
        _b_record_payment,
        4,
        implies=_W("paid partial".split()),
    ),
    Rule(
        "create purchase order",
        "erp_create_purchase_order",
        _t(r"\b(create|place|raise|make|order|buy)\b"),
        _W({"quantities", "skus", "supplier", "warehouses"}),
        _W({"quantities", "supplier"}),
        PO_CREATE_WORDS | _W({"x", "pieces", "pcs", "units"}),
        _b_create_po,
        4,
        implies=_W("units".split()),
    ),
    Rule(
        "adjust stock",
        "erp_adjust_stock",
        _t(
            r"\b(adjust|correct|correction|set|write "
            r"off|book)\b.*\bstock\b|\bstock\b.*\b(adjust|correct|correction|set)\b"
        ),
        _W({"skus", "quantities", "delta", "warehouses"}),
        _W({"warehouses"}),
        ADJUST_WORDS | _W({"x", "pieces", "pcs", "units", "of", "in", "the"}),
        _b_adjust,
        4,
        implies=_W("damaged reason units".split()),
    ),
)
"""Every intent the fast path knows, tried together; exactly one skill must fit."""

ALL_RULE_WORDS = frozenset().union(*(rule.vocabulary for rule in RULES))


Order = Literal["oldest", "newest"]

SUPERLATIVES: dict[str, Order] = {
    "oldest": "oldest",
    "earliest": "oldest",
    "newest": "newest",
    "latest": "newest",
    "most recent": "newest",
}
"""Superlatives that pick one end of a date-ordered list."""

FIRST_ROW: dict[str, Order] = {
    # Each skill's ORDER BY in nova/erp/skills/ decides which row comes first.
    "erp_overdue_invoices": "oldest",  # due date ascending
    "erp_invoice_lookup": "newest",  # issue date descending (unless oldest_first)
    "erp_payment_history": "newest",  # paid on descending
    "erp_stock_movements": "newest",  # moved on descending
    "erp_customer_orders": "newest",  # order date descending
    "erp_purchase_orders": "newest",  # order date descending
    "erp_shipment_status": "newest",  # shipped on descending
    "erp_returns": "newest",  # requested on descending
}
"""Which end of the date order each list skill returns first."""

ONE_OF = re.compile(
    r"\b(?:oldest|earliest|newest|latest|most recent|last|biggest|largest|best|top|worst"
    r"|highest|lowest)\s+(?:[\w-]+\s+){0,2}?(?:invoice|order|payment|shipment|return|product"
    r"|customer|item|part|supplier|sku|po|debtor|seller)\b(?!s)"
)
"""A superlative with a singular noun asks for one row ("the oldest unpaid invoice")."""


def _superlative(norm: str) -> tuple[Order, tuple[str, ...]] | None:
    for phrase, order in sorted(SUPERLATIVES.items(), key=lambda item: -len(item[0])):
        if re.search(rf"\b{phrase}\b", norm):
            return order, tuple(phrase.split())
    return None


@dataclass(frozen=True, slots=True)
class Plan:
    """The fast path can answer: run ``skill`` with ``args``."""

    skill: str
    args: SkillArgs
    rule: str
    reading: str | None = None
    """How a request that reads two ways was read; the answer's first line."""

    @property
    def writes(self) -> bool:
        """Whether the skill changes data (and so needs approval)."""
        return self.skill in WRITE_SKILLS


@dataclass(frozen=True, slots=True)
class Clarify:
    """The request is ERP-shaped but something in it must be fixed first; ``question`` says what."""

    question: str
    skill: str | None = None


@dataclass(frozen=True, slots=True)
class Decline:
    """The fast path will not answer (the model agent should); ``reason`` is for logs and evals."""

    reason: str


Decision = Plan | Clarify | Decline


def _args_model(skill: str) -> type[SkillArgs]:
    if skill in READ_SKILLS:
        return READ_SKILLS[skill].args
    return WRITE_SKILLS[skill].args


def plan_request(
    text: str, session: Session, tools: Iterable[str], *, today: date | None = None
) -> Decision:
    """Decide how to answer ``text`` with the skills in ``tools`` and no model.

    Returns:
        ``Plan`` (one skill fits, every argument resolved), ``Clarify`` (ambiguous name,
        unreadable date, invalid value) or ``Decline`` (anything else).

    """
    allowed = {tool for tool in tools if tool in READ_SKILLS or tool in WRITE_SKILLS}
    if not allowed:
        return Decline("the agent has no ERP skills")
    if len(text) > 400:
        return Decline("too long for the fast path")
    try:
        request = parse_request(text, session, today=today)
    except NotForFastPath as error:
        return Decline(str(error))
    except Unclear as error:
        return Clarify(str(error))
    if request.product_choices:
        # Ask which product only when the request could be answered once it is known.
        first = request.product_choices[0][0]
        trial = replace(request, skus=[*request.skus, first], product_choices=[], applied=set())
        decision = plan_parsed(trial, session, allowed)
        if not isinstance(decision, Plan):
            return decision
        listing = "; ".join(f"{name} ({sku})" for sku, name in request.product_choices)
        return Clarify(f"Which product do you mean: {listing}?", decision.skill)
    return plan_parsed(request, session, allowed)


def plan_parsed(request: Request, session: Session, allowed: Iterable[str]) -> Decision:
    """Apply the intent ``RULES`` to an already parsed request (see ``plan_request``).

    Args:
        request: What ``parse_request`` found (or a merge of several turns' findings,
            ``nova.erp.followup``).
        session: Database session, for resolving names.
        allowed: The ERP skills the agent may use.

    """
    allowed = set(allowed)
    present = request.kinds()
    fits: list[Rule] = []
    for rule in RULES:
        if rule.skill not in allowed or not rule.trigger.search(request.norm):
            continue
        if not rule.requires <= present or not present <= rule.uses:
            continue
        if not set(request.residual) <= GLOBAL_WORDS | rule.vocabulary:
            continue
        if any(request.count(kind) > 1 for kind in present - rule.multi):
            continue  # "INV-1 and INV-2": the skill takes one, answering one would drop the other
        fits.append(rule)
    if not fits:
        if request.unknown_name and any(
            rule.skill in allowed and ("customer" in rule.uses or "supplier" in rule.uses)
            for rule in RULES
        ):
            return Clarify(
                f"I couldn't find a customer or supplier called {request.unknown_name!r}. Check "
                "the "
                "spelling, or give the customer number (5 digits)."
            )
        unknown = sorted(set(request.residual) - GLOBAL_WORDS - ALL_RULE_WORDS)
        return Decline(
            f"no rule fits (unexplained words: {unknown[:5]})" if unknown else "no rule fits"
        )
    top = max(rule.priority for rule in fits)
    best = [rule for rule in fits if rule.priority == top]
    if len({rule.skill for rule in best}) > 1:
        return Decline("several skills fit: " + ", ".join(sorted({rule.skill for rule in best})))
    rule = best[0]
    try:
        raw = rule.build(request, session)
    except NotForFastPath as error:
        return Decline(str(error))
    except AmbiguousName as error:
        return Clarify(
            f"Which {error.kind} do you mean: "
            + "; ".join(f"{c.name} ({c.number})" for c in error.candidates[:6])
            + "?",
            rule.skill,
        )
    superlative = _superlative(request.norm)
    if superlative is not None and FIRST_ROW.get(rule.skill) == superlative[0]:
        request.applied.update(superlative[1])  # the skill lists that end first
    if (
        ONE_OF.search(request.norm)
        and request.limit is None
        and "limit" in _args_model(rule.skill).model_fields
    ):
        raw["limit"] = 1
    unapplied = sorted((set(request.residual) & CONDITION_WORDS) - request.applied - rule.implies)
    if unapplied:
        return Decline(f"{rule.skill} cannot apply {', '.join(map(repr, unapplied))}")
    try:
        args = _args_model(rule.skill).model_validate(raw)
    except ValidationError as error:
        if rule.skill in WRITE_SKILLS:  # an impossible quantity or amount: say what is wrong
            problems = "; ".join(
                item["msg"].removeprefix("Value error, ") for item in error.errors()
            )
            return Clarify(
                f"I can't do that as asked: {problems}. Nothing was changed.", rule.skill
            )
        return Decline(f"arguments incomplete for {rule.skill}: {error.errors()[0]['msg']}")
    return Plan(rule.skill, args, rule.name, request.reading)
