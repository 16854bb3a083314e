"""Read a request as measure × subject × grouping × filters × period × ranking.

``plan_query`` turns what ``parse_request`` found (names, countries, categories, SKUs, a
period, a limit) plus the left-over words into ``QueryArgs`` for ``erp_query``
(``nova.erp.skills.query``), whose declared schema says what each subject can compute.
The words are read with a small declarative vocabulary per role (``VOCABULARY``: subject
nouns, measures, dimensions, rankings, statuses, customer conditions), general business
English as an owner types it, never phrases of any dataset. Words the vocabulary does not
know may still name stored values: a carrier ("dhl"), the person who raised purchase orders
("eleni"), or products by description ("oil filters": every product whose name has all the
words, plurals folded; the answer lists them). A few words refine any plan: an amount after
the records is each record's own ("orders over 2k"), a plural weekday filters their date
("payments on saturdays"), "due" moves the period to invoices' due dates ("what's due in
july"), "second"/"third" pass over ranked groups and "apart from X" leaves a customer out.

The guard is the same as the rules': every word that carries meaning must be consumed by
one slot of the plan, every entity found must be applied, and a slot the schema cannot
honour ("invoices by carrier") declines. So a request is answered with everything it asks
for, or handed to the model with the words that could not be applied.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from nova.erp import models as m
from nova.erp.intents.parsing import english_words
from nova.erp.intents.request import Request
from nova.erp.intents.rules import GLOBAL_WORDS
from nova.erp.resolve import Named, NameIndex, normalise
from nova.erp.skills import name_index
from nova.erp.skills.query import (
    AMOUNT_LISTS,
    LIST_SUBJECTS,
    NOT,
    SUBJECTS,
    QueryArgs,
    status_filter,
)

# --- the vocabulary -------------------------------------------------------------------------
# Each entry: phrase -> (role, value). Roles: subject, measure, verb (subject with a default
# measure), dim (a dimension named after by/per/each/which), rank, status (subject-specific,
# checked against the schema), condition (customers), op (by/per/which: grouping markers),
# filler (words that only carry the sentence, consumed without meaning).


NEGATION = "not_status"
"""The word ``_negations`` puts for a "not" that negates the status after it."""


def _entries(role: str, table: dict[str, str]) -> dict[tuple[str, ...], tuple[str, str]]:
    out: dict[tuple[str, ...], tuple[str, str]] = {}
    for value, phrases in table.items():
        for phrase in phrases.split(","):
            out[tuple(phrase.split())] = (role, value)
    return out


VOCABULARY: dict[tuple[str, ...], tuple[str, str]] = {
    **_entries(
        "subject",
        {
            "orders": "order,orders,sales order,sales orders",
            # Lines sum like their orders (value, units) but do not count like them.
            "order_lines": "order lines,order line,lines,line items",
            "invoices": "invoice,invoices,bill,bills",
            "payments": "payment,payments",
            "returns": "return,returns,rma,rmas",
            "shipments": "shipment,shipments,delivery,deliveries,parcel,parcels,consignments",
            "purchase_orders": "purchase order,purchase orders,po,pos,supplier orders",
            "customers": "customer,customers,cust,custs,client,clients,accounts,account",
            # Not bare "bookings": many businesses call their orders bookings.
            "stock_movements": "stock movements,movements,stock bookings",
            "stock": "stock,inventory",
            "credit_notes": "credit note,credit notes,credits",
            "products": "articles,article,catalogue,catalog,product range,range",
            "suppliers": "vendors,vendor list,supplier list,suppliers list",
        },
    ),
    **_entries(
        "measure",
        {
            # Not the bare verb: "count BLT-2139 again" asks for a stock count (a write).
            # "late most often", "how often": the number of records.
            "count": "how many,number of,count of,no of,often,how often",
            "value": "how much,total,totals,value,sum,worth,amount,money",
            # "avg order size": the mean value; a bare "order size" is one order's, not a total.
            "size": "size,sizes",
            "average": "average,avg,mean,on average,typical",
            "units": "units,pieces,quantity,qty,pcs,tins,cans,bottles,boxes,packs,sets",
            "discount": "discount,discounts,discount given",
            "profit": "profit,gross profit,profits",
            "open_amount": "receivables,owed,outstanding,unpaid amount,open amount",
            "reserved": "reserved,allocated",
            "days_to_pay": "take to pay,days to pay,time to pay,pay time,days to get paid",
            "days_to_ship": "time to ship,days to ship,dispatch time",
            "days_in_transit": "delivery time,delivery times,transit time,days in transit",
            "on_hand": "on hand,in stock,stock level,stock levels,left,remaining,in the warehouse",
            "price": "price,prices,priced,list price,list prices,pricing",
            "margin_pct": "margin,margins,gross margin,gross margins",
            # A markup is on cost ((price - cost) / cost), a margin on price.
            "markup_pct": "markup,markups,mark up,mark-up",
            "credit_limit": "credit limit,credit limits,credit line,credit lines",
            "shipping_cost": "shipping cost,shipping costs,freight,freight cost,freight costs,"
            "postage",
        },
    ),
    **_entries(
        "verb",
        {
            "orders": "sell,sold,selling,sells,buy,buys,bought from us,buy from us,buys from us",
            "invoices": "invoiced,billed,raised invoices",
            "payments": "collect,collected,received,came in,got paid",
            "purchase_orders": "bought from suppliers,we buy,we bought,we purchase,we purchased,"
            "purchasing,we order from,we ordered from",
            "shipments": "ship,shipped,went out,gone out,go out,dispatched",
            "returns": "returned,came back,comes back,come back,sent back,send back",
            "credit_notes": "credited,refunded in total",
        },
    ),
    # Nouns (and spending verbs) that name the money figure itself: evidence of the measure
    # as well as of the subject, where a verb such as "buy" names only the subject.
    **_entries(
        "figure",
        {
            "orders": "sales,revenue,revenues,turnover,spent with us,spend with us,spends with us",
            "purchase_orders": "spent on purchasing,spend on purchasing,purchasing spend,"
            "spend with,spent with,spending with,purchases",
            # Money that reached us: the payments received, not the sales invoiced. Not bare
            # "cash", which is also a payment method.
            "payments": "money in,cash in,money received,cash received,money came in,"
            "cash came in,incoming payments,incoming money",
            # Bare "spent": the customers' purchases from us, or ours from suppliers; settled
            # only by a per-customer threshold ("customers who spent over 10k").
            "spend": "spent,spend,spends,spending",
        },
    ),
    **_entries(
        "dim",
        {
            "month": "month,months,monthly",
            "weekday": "weekday,day of the week,weekdays",
            "country": "country,countries",
            "customer": "customer,customers,client,clients",
            "category": "category,categories,product group,product groups",
            "product": "product,products,item,items,part,parts,sku,skus,sellers",
            "carrier": "carrier,carriers,courier,couriers",
            "reason": "reason,reasons",
            "supplier": "supplier,suppliers,vendor,vendors",
            "status": "status",
            "method": "method,methods,payment method",
            "warehouse": "warehouse,warehouses",
        },
    ),
    **_entries("op", {"group": "by,per,each,for each,for every,broken down by,split by"}),
    **_entries("unit", {"days": "days,day"}),
    # A "not" before a status ("orders not shipped yet"), marked by ``_negations``.
    **_entries("negate", {"": NEGATION}),
    # "largest credit note we ever issued": every record, whatever its date (no period).
    **_entries("all_time", {"": "ever,of all time,all time,since we started,since the start"}),
    # "what is the stock worth at cost": the valuation basis, which only stock value uses.
    **_entries("basis", {"cost": "at cost,at cost price,at purchase cost,valued at cost"}),
    # "invoice count": the number of the records just named. Not bare "count", which also
    # asks for a stock count ("count BLT-2139 again").
    **_entries("count_noun", {"count": "count"}),
    # "how many parcels did ups take": what a carrier named in the request carried.
    **_entries("carried", {"shipments": "take,took,taken,carry,carried,carries,handle,handled"}),
    # "ordered more than 3 times": the threshold counts records; only read with a threshold.
    **_entries("times", {"count": "times"}),
    **_entries("rank_count", {"highest": "busiest", "lowest": "quietest"}),
    # "oldest unpaid invoice": the records by their own date, the earliest first.
    **_entries("age", {"oldest": "oldest,earliest"}),
    # "second biggest customer": the ranked groups to pass over; only right before a ranking.
    **_entries("ordinal", {"1": "second,2nd", "2": "third,3rd"}),
    # "payments on saturdays": the records dated on that weekday (0 = Sunday), any week. Only
    # plurals: a bare "saturday" may be one date ("what came in on saturday").
    **_entries(
        "on_days",
        {
            "1": "mondays",
            "2": "tuesdays",
            "3": "wednesdays",
            "4": "thursdays",
            "5": "fridays",
            "6": "saturdays",
            "0": "sundays",
            # Not "the weekend": that is one weekend, a period (``find_period``).
            "0,6": "weekends,on a weekend,on weekends,at weekends",
        },
    ),
    # "what's due in july", "invoices falling due next week": the period is the due date.
    **_entries(
        "due",
        {
            "": "due,falling due,fall due,falls due,fell due,coming due,come due,comes due,"
            "become due,becoming due,due for payment,"
            # A purchase order's expected date is when it falls due to arrive.
            "expected,expected in,expected to arrive"
        },
    ),
    # "biggest customer apart from putz": a customer named after these is left out.
    **_entries(
        "exclude",
        {
            "": "apart from,excluding,except,except for,other than,besides,leaving out,leave out,"
            "not counting,not including,without counting"
        },
    ),
    # Speed ranks a duration from the bottom: the fewest days.
    **_entries("rank_speed", {"lowest": "fastest,quickest"}),
    **_entries(
        "rank_price",
        {
            "lowest": "cheapest,least expensive,lowest priced",
            "highest": "most expensive,priciest,dearest,highest priced",
        },
    ),
    **_entries("op", {"which": "which,what", "who": "who,whos,who is"}),
    **_entries(
        "rank",
        {
            "highest": "most,best,highest,top,biggest,largest,main,greatest,most common,strongest",
            "lowest": "least,worst,lowest,fewest,smallest,weakest,slowest,bottom",
        },
    ),
    **_entries(
        "status",
        {
            "cancelled": "cancelled,canceled,cancel,cancellations",
            "open": "open,unpaid,pending,still open",
            "paid": "paid,settled",
            "ambiguous_paid": "been paid,has been paid,have been paid",
            "overdue": "overdue,past due",
            "partly_paid": "partly paid,part paid,partially paid,paid in part,short paid",
            "not_due": "not due,not yet due,not due yet,but not due,but not yet due,"
            "but not due yet",
            "unapplied": "unapplied,unallocated,unmatched,on account",
            "rejected": "rejected,refused,declined,turned down",
            "refunded": "refunded",
            "late": "late,delayed",
            # Goods received with fewer units than ordered (not "short paid", read above).
            "short": "short,came in short,received short,short delivered,short delivery,"
            "short deliveries,short shipped,short shipment,short shipments,delivered short",
            "running_late": "running late,late right now,currently late,overdue deliveries",
            "in_transit": "in transit,on the way",
            "express": "express,by express,sent express,went express,express service",
            "standard_service": "standard shipping,standard delivery,standard service,"
            "standard shipments,sent standard",
            "delivered": "delivered,arrived",
            "received": "received,receive",
            "on_order": "on order",
            "adjustment": "adjustment,adjustments,stock adjustments,corrections",
            "receipt": "receipts,goods receipts,goods in,goods received,received from suppliers",
            "below_cost": "below cost,under cost,less than cost,at a loss,loss making,lose money,"
            "losing money,negative margin,priced below cost,priced under cost,below purchase cost,"
            "under purchase cost",
            "inactive": "inactive,discontinued",
            "unsold": "not sold,has not sold,have not sold,did not sell,does not sell,not selling,"
            "not sold at all,has not sold at all,have not sold at all,did not sell at all,"
            "no sales,zero sales,nothing sold,dead stock,dead stuff,dead items,dead parts,"
            "shelf warmers,shelf warmer,"
            "has not moved,have not moved,not moving,not moved",
            "blocked": "blocked,on stop,on hold",
        },
    ),
    **_entries(
        "condition",
        {
            "not_ordered": "have not ordered,has not ordered,not ordered,did not order,"
            "have not bought,has not bought,not bought",
            "ordered": "ordered,placed an order,bought",
            "new": "new",
            "over_credit_limit": "over their credit limit,over credit limit,over their limit,"
            "above their credit limit,exceeding their credit limit,over the credit limit",
            "owing": "owe us money,owe money,owe us,owing us money,owing money,owing",
        },
    ),
    # Words with two plausible figures behind them: "how much did we make" is revenue or
    # profit; the reading refuses rather than pick one.
    **_entries(
        "unsure",
        {
            "revenue or profit": "we make,we made,did we make,do we make,makes us,made us,"
            "make us,earn,earned,earns,earning,earnings",
        },
    ),
    **_entries(
        "filler",
        {
            "": "did,do,does,we,our,us,in,on,so far,to date,overall,altogether,in total,"
            "was,were,had,has,have,is,are,give away,gave away,given,give,raise,raised,issued,"
            "sent,sent out,send out,use,used,place,placed,get,gets,got,there,been,make,made,"
            "write,wrote,written,people,ppl,"
            "come,came,stuff,things,gave,give,given,to us,supply,supplies,supplied,sitting in,"
            "tied up in",
        },
    ),
}
"""Every word or phrase the structured reading understands, with its role."""

_LIST_PRICE = re.compile(r"\blist (?:price|prices)\b|\bcatalog(?:ue)? price")
"""A margin "on list prices": the products' own, whatever period is named."""
_PERCENT = re.compile(r"%|\bpercent\b|\bper cent\b|\bpct\b|\bprozent\b|\bin percentage\b")

_RATE_RANK = re.compile(r"\b(?:best|highest|worst|lowest|thinnest|fattest)(?: gross)? margins?\b")

MEASURE_SUBJECT: dict[str, str] = {
    "open_amount": "invoices",
    "days_to_pay": "invoices",
    "days_to_ship": "shipments",
    "days_in_transit": "shipments",
    "discount": "orders",
    "profit": "orders",
    "reserved": "stock",
    "on_hand": "stock",
    "price": "products",
    "margin_pct": "products",
    "markup_pct": "products",
    "shipping_cost": "shipments",
    "credit_limit": "customers",
}
"""The subject a measure belongs to when the request names none ("receivables")."""

DIMENSION_SUBJECT: dict[str, str] = {
    "carrier": "shipments",
    "reason": "returns",
    "method": "payments",
}
"""The subject a grouping implies when the request names none ("which carrier ...")."""

STATUS_SUBJECT: dict[str, str] = {
    "on_order": "purchase_orders",
    "unapplied": "payments",
    "receipt": "stock_movements",
    "adjustment": "stock_movements",
    "below_cost": "products",
    "unsold": "products",
    "blocked": "customers",
    "overdue": "invoices",
    "not_due": "invoices",
    "partly_paid": "invoices",
    "in_transit": "shipments",  # "anything still in transit?": parcels on their way
    "express": "shipments",  # "how many went express in june": parcels sent express
    "standard_service": "shipments",
    "short": "purchase_orders",  # "any short deliveries": suppliers' deliveries to us
    "cancelled": "orders",  # "did dobes cancel anything last week": their orders
    "running_late": "shipments",
}
CONDITION_SUBJECT = "customers"
"""Customer conditions ("over their credit limit") make the subject customers."""
"""The subject a status implies when the request names none ("on order with ...")."""

EVENT_DATED = frozenset(
    {("orders", "delivered"), ("orders", "shipped"), ("invoices", "paid"),
     ("returns", "refunded"), ("returns", "received"), ("purchase_orders", "received"),
     ("shipments", "late")}
)  # fmt: skip
"""Statuses reached on a date of their own, which a period on the subject's date would miss."""

_STANDING_STATES = frozenset(
    {"open", "overdue", "not_due", "partly_paid", "running_late", "in_transit", "blocked"}
)
"""Statuses a record is in, as of a day, rather than events dated on it."""
_EVENT_WORDS = re.compile(
    r"\b(?:issued|sent|created|raised|ordered|placed|came in|received|booked|written|new|"
    r"shipped|dispatched|invoiced|dated)\b"
)
"""Words that date the records themselves ("invoices issued today that are open")."""

STATUS_OF_SUBJECT: dict[tuple[str, str], str] = {
    ("purchase_orders", "on_order"): "open",
    ("purchase_orders", "delivered"): "received",  # a supplier's delivery is our receipt
    ("purchase_orders", "open"): "open",
    ("stock_movements", "received"): "receipt",
    ("stock_movements", "receipt"): "receipt",
    ("stock_movements", "adjustment"): "adjustment",
    ("returns", "open"): "open",
    ("shipments", "late"): "late",
    ("purchase_orders", "late"): "late",
    ("purchase_orders", "running_late"): "running_late",
    ("purchase_orders", "overdue"): "running_late",  # an overdue PO: open past its date
    ("shipments", "running_late"): "running_late",
    ("invoices", "open"): "open",
    ("invoices", "overdue"): "overdue",
    ("invoices", "not_due"): "not_due",
    ("invoices", "partly_paid"): "partly_paid",
    ("payments", "received"): "",
}
"""Status words that name a different schema status for some subjects."""


_GROUP_WORDS = [
    " ".join(p) for p, (role, _v) in VOCABULARY.items() if role == "op" and _v == "group"
]
_DIM_WORDS = [" ".join(p) for p, (role, _v) in VOCABULARY.items() if role == "dim"]
_GROUPING = re.compile(
    r"\b(?:" + "|".join(sorted(map(re.escape, _GROUP_WORDS), key=len, reverse=True)) + r")\s+"
    r"(?:" + "|".join(sorted(map(re.escape, _DIM_WORDS), key=len, reverse=True)) + r")\b"
)


def grouping(norm: str) -> str | None:
    """Return the grouping a normalised request asks for ("by country"), or ``None``."""
    match = _GROUPING.search(norm)
    return match.group(0) if match else None


# --- reading --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Tokens:
    """The request's left-over words, read against ``VOCABULARY`` (longest phrase first)."""

    tokens: list[tuple[int, str, str]] = field(default_factory=list)
    """(position, role, value) in reading order."""
    unknown: list[str] = field(default_factory=list)
    """Words that carry meaning and that no role explains."""


_LONGEST = max(len(phrase) for phrase in VOCABULARY)


def _read(words: list[str]) -> _Tokens:
    slots = _Tokens()
    position = 0
    while position < len(words):
        for size in range(min(_LONGEST, len(words) - position), 0, -1):
            phrase = tuple(words[position : position + size])
            if phrase in VOCABULARY:
                role, value = VOCABULARY[phrase]
                slots.tokens.append((position, role, value))
                position += size
                break
        else:
            word = words[position]
            if word not in GLOBAL_WORDS:
                slots.unknown.append(word)
            position += 1
    return slots


def _data_values(
    words: list[str], categories: list[str], session: Session
) -> tuple[dict[str, Any], list[str]]:
    """Explain words by values stored in the data: carriers, buyers, products by description.

    Returns the filters found and the words still unexplained. A product description must
    fit every word of one or more product names (plurals folded), and is applied as "any of
    these products", which the answer lists.
    """
    found: dict[str, Any] = {}
    left = list(words)
    carriers = {
        normalise(c): str(c) for c in session.scalars(select(m.Shipment.carrier).distinct())
    }
    for name, carrier in carriers.items():
        parts = name.split()
        for index in range(len(left) - len(parts) + 1):
            if left[index : index + len(parts)] == parts:
                found["carrier"] = carrier
                del left[index : index + len(parts)]
                break
    buyers = [str(p) for p in session.scalars(select(m.PurchaseOrder.created_by).distinct()) if p]
    for word in list(left):
        fits = [p for p in buyers if word in normalise(p).split()]
        if len(fits) == 1:
            found["created_by"] = fits[0]
            left.remove(word)
    if left:
        names, heads = _product_forms(name_index(session, m.Product))
        # "oil filters": the category word belongs to the description when both fit a name.
        extra = [w for c in categories for w in normalise(c).split()]
        for words in ([*left, *extra], left) if extra else (left,):
            fits = [sku for sku, forms in names if all(_forms(w) & forms for w in words)]
            if len(words) == 1 and not _names_products(words[0], [heads[sku] for sku in fits]):
                continue
            if fits and extra and words is left and not _in_categories(session, fits, categories):
                # "cheapest 3 brake discs": "3 discs" fits clutch discs "3-piece", none of them
                # brakes; both filters together would answer "none match".
                continue
            if fits and len(fits) <= 40 and (len(words) > 1 or len(fits) <= 6):
                found["products"] = fits
                if words is not left:
                    found["category"] = None
                left = []
                break
    return found, left


def _in_categories(session: Session, skus: list[str], categories: list[str]) -> bool:
    """Whether any of ``skus`` lies in one of the named ``categories`` (folded as stored)."""
    wanted = {normalise(c) for c in categories}
    stored = session.scalars(select(m.Product.category).where(m.Product.sku.in_(skus)))
    return any(normalise(str(c)) in wanted for c in stored)


def _names_products(word: str, heads: list[frozenset[str]]) -> bool:
    """Whether one word on its own names products: their type, or a code no dictionary holds.

    "alternators", "h7", "2sn" name products; "long" or "ceramic" are words of a few product
    names ("long life", "ceramic") that mean something else in a question ("how long has ...").
    ``heads`` holds the forms of the first two words (the product type) of each product fitted.
    """
    if heads and all(_forms(word) & head for head in heads):
        return True
    return any(ch.isalpha() for ch in word) and word not in english_words()


@functools.lru_cache(maxsize=4)
def _product_forms(
    index: NameIndex,
) -> tuple[list[tuple[str, frozenset[str]]], dict[str, frozenset[str]]]:
    """Return each product's name word forms, and those of its first two words, by SKU.

    Computed once per product index (rebuilt only when the products change): building them
    for ~400 names cost ~20 ms a request, and every request the route node checks against
    the ERP pays it (``nodes.erp_route``).
    """
    names = [
        (entity.number, frozenset(f for w in name.split() for f in _forms(w)))
        for entity, name in zip(index.entities, index.normalised, strict=True)
    ]
    heads = {
        entity.number: frozenset(f for w in name.split()[:2] for f in _forms(w))
        for entity, name in zip(index.entities, index.normalised, strict=True)
    }
    return names, heads


def _forms(word: str) -> set[str]:
    """Return a word and its singular forms ("boxes": box, boxe; "filters": filter)."""
    forms = {word}
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        forms.add(word[:-1])
        if word.endswith("es"):
            forms.add(word[:-2])
    return forms


LINE_MEASURES = frozenset({"value", "units", "discount", "average_discount_pct", "profit"})
"""Measures of orders computed over their lines, which "order lines" may ask for."""

_PER_WORDS = frozenset({"per", "each", "every"})


def _says_per(words: list[str], position: int) -> bool:
    """Whether the grouping marker at ``position`` is "per"/"each"/"for each" (not "by")."""
    following = words[position + 1] if position + 1 < len(words) else ""
    return words[position] in _PER_WORDS or (words[position] == "for" and following in _PER_WORDS)


def plan_query(request: Request, session: Session) -> QueryArgs | str:
    """Read ``request`` as one ``erp_query`` plan, or say why not (a decline reason)."""
    if request.payments or request.credit_notes:
        return _record(request)
    if MODAL.search(request.norm):
        return "a question about what could or will happen, not what the records hold"
    since = (
        _since(request)
        if re.search(r"\b(?:not|nothing|no|never)\b", request.norm) and request.period is None
        else None
    )
    residual, negated = _contrasted(request.residual)
    residual = _negations(residual)
    tokens = _read(residual)
    values: dict[str, Any] = {}
    if tokens.unknown:
        values, left = _data_values(tokens.unknown, request.categories, session)
        if left:
            return f"words the structured reading cannot place: {sorted(set(left))[:5]}"
        if "products" in values and request.skus:
            return "a product named twice"
    threshold = _threshold(request)
    if isinstance(threshold, str):
        return threshold
    for kind in ("invoices", "orders", "pos", "rmas", "shipments", "trackings", "references",
                 "amounts",
                 "quantities", "percent", "delta",
                 *(() if threshold is not None else ("min_amount",)),
                 "days"):  # fmt: skip
        if request.count(kind):
            return f"{kind} in the request: not an aggregate question"
    if request.unknown_name:
        return "a name to settle first"
    if request.product_choices:
        # "cheapest brake disc", "rear wiper motors, how many left": a ranking or a total over
        # every product the description fits (the answer names each); anything else asks.
        if not any(role in ("rank_price", "measure") for _p, role, _v in tokens.tokens):
            return "a product to settle first"
        values["products"] = [sku for sku, _name in request.product_choices]
    # --- assign each token to a slot, dimensions by their marker
    subjects: list[str] = []
    measures: list[str] = []
    verbs: list[str] = []
    ranks: list[str] = []
    statuses: list[str] = []
    conditions: list[str] = []
    group: str | None = None
    marker: str | None = None
    marker_at = 0
    day_unit = False
    singular = False
    group_from_which = False
    dims_unmarked: list[tuple[str, bool]] = []
    figure_named = False
    times = False
    speed = False
    at_cost = False
    all_time = False
    oldest = False
    group_per = False
    weekdays: set[int] = set()
    due = False
    due_span: tuple[date, date] | str | None = None
    skip = 0
    exclude = False
    per_record: list[str] = []
    """Subjects named after "per"/"each" ("per order"): a denominator, not a grouping."""
    seq = tokens.tokens
    for index, (position, role, value) in enumerate(seq):
        negated_next = index > 0 and seq[index - 1][1] == "negate"
        if role == "negate":
            if index + 1 == len(seq) or seq[index + 1][1] not in ("status", "verb"):
                return "'not' before nothing the reading can negate"
            continue
        if role == "unsure":
            if value == "revenue or profit" and any(
                r_ == "measure" and v_ in ("profit", "margin_pct") for _p, r_, v_ in seq
            ):
                continue  # "what margin do we make on hochreiter": the figure is named
            return f"{residual[position]!r} reads as {value}"
        if role == "op":
            if value == "who":  # "who returns the most": customers, ranked
                if _WHO_OF_ONE.search(" ".join(residual[position:])):
                    # "biggest payment since easter, who sent it": the party of one record,
                    # not the customers ranked by how many they sent.
                    return "'who … it' asks about one record's party, not a ranking of them"
                if group not in (None, "customer"):
                    return "two groupings"
                group, marker, singular = "customer", None, True
                continue
            marker, marker_at = value, position
            continue
        if role == "dim":
            after_group = marker == "group" and index > 0 and seq[index - 1][1] == "op"
            after_which = marker == "which" and index > 0 and seq[index - 1][1] == "op"
            if after_group or after_which:
                if group is not None and group != value:
                    return "two groupings"
                group = value
                group_from_which = after_which
                group_per = after_group and _says_per(residual, marker_at)
                singular = after_which and not residual[position].endswith("s")
                marker = None
                continue
            if value == "customer" and position > 0 and residual[position - 1] in ("a", "an"):
                # "biggest open invoice of a swiss customer": the records of some customer
                # (the country filters them), not customers ranked.
                marker = None
                continue
            dims_unmarked.append((value, residual[position].endswith("s")))
            marker = None
            continue
        if marker == "group" and role != "filler" and _says_per(residual, marker_at):
            # "shipping cost per order": an average over records, never a grouping; any
            # other word after "per"/"each" is a grouping the reading cannot honour.
            if role != "subject":
                return f"'per' before {residual[position]!r}: no grouping it can apply"
            per_record.append(value)
        marker = None if role not in ("filler",) else marker
        if role == "subject":
            subjects.append(value)
        elif role == "measure":
            measures.append(value)
        elif role == "verb" and negated_next:
            if value != "shipments":
                return f"'not' before {residual[position]!r}: no status it negates"
            statuses.append(NOT + "shipped")  # "orders not shipped yet"
        elif role == "verb" and value == "payments" and residual[position] in ("came", "come"):
            # "orders that came in on sundays": the records named arrived; money only when
            # nothing else is named ("how much came in").
            if not subjects:
                verbs.append(value)
        elif role == "verb":
            verbs.append(value)
        elif role == "figure":
            verbs.append(value)
            figure_named = True
        elif role == "carried":
            if "carrier" not in values:
                return f"{residual[position]!r} with no carrier that took the shipments"
            verbs.append(value)
        elif role == "count_noun":
            if index == 0 or seq[index - 1][1] != "subject":
                return "'count' not after the records it counts"
            measures.append(value)
        elif role == "times":
            if threshold is None:
                return "'times' without a number of times"
            times = True
        elif role == "rank":
            ranks.append(value)
        elif role == "status":
            statuses.append(NOT + value if negated_next else value)
        elif role == "condition":
            conditions.append(value)
        elif role == "unit":
            day_unit = True
        elif role == "basis":
            at_cost = True
        elif role == "age":
            oldest = True
        elif role == "all_time":
            if request.period is not None:
                return "'ever' with a period"
            all_time = True
        elif role == "rank_price":
            ranks.append(value)
            measures.append("price")
        elif role == "rank_speed":
            ranks.append(value)
            speed = True
        elif role == "rank_count":
            ranks.append(value)  # "busiest day": the most orders, not the most revenue
            measures.append("count")
        elif role == "ordinal":
            if index + 1 == len(seq) or not seq[index + 1][1].startswith("rank"):
                return f"{residual[position]!r} not before a ranking"
            skip = int(value)
        elif role == "on_days":
            weekdays |= {int(day) for day in value.split(",")}
        elif role == "due":
            due = True
        elif role == "exclude":
            exclude = True
        if role == "subject" and group is None:
            singular = not residual[position].endswith("s")
    if marker == "group" and _says_per(residual, marker_at):
        return "'per' at the end: nothing it groups by"
    realised_pct = False
    if (
        "margin_pct" in measures
        and (request.period is not None or all_time)
        and not _LIST_PRICE.search(request.norm)
    ):
        # "margin on filters this year", "gross margin last month": a margin over a period is
        # earned on what was sold in it (net line amounts less cost); a product's list margin
        # has no date. Euros unless a percentage is asked; the answer states both.
        # "best margin" is a rate ("the best margin on sales"); "the most margin" is euros.
        realised_pct = (
            _PERCENT.search(request.text.lower()) is not None
            or _RATE_RANK.search(request.norm) is not None
        )
        measures = ["profit" if m_ == "margin_pct" else m_ for m_ in measures]
    lines = "order_lines" in subjects or "order_lines" in per_record
    subjects = ["orders" if s == "order_lines" else s for s in subjects]
    per_record = ["orders" if s == "order_lines" else s for s in per_record]
    if group_from_which and not any(role.startswith("rank") for _p, role, _v in seq):
        # "which customers are blocked": no ranking, so the noun is what is listed.
        if group == "customer":
            subjects.append("customers")
        elif group == "product":
            subjects.append("products")
        elif group == "supplier":
            subjects.append("suppliers")  # "which suppliers are in italy": the suppliers
        else:
            return f"'which {group}' with nothing to rank it by"
        group = None
    # A dimension word not after by/per/which ("customers", "products") is a subject noun
    # when the vocabulary has it as one; otherwise it names the thing to rank.
    for value, plural in dims_unmarked:
        singular = singular or not plural
        if value == "customer" and not (ranks and group is None):
            subjects.append("customers")
        elif value == "supplier" and not ranks:
            subjects.append("suppliers")
        elif value == "product" and (
            "price" in measures or statuses or request.suppliers or request.categories or not ranks
        ):
            subjects.append("products")
        elif group is None and ranks:
            group = value  # "main reason for returns", "worst month": the thing ranked
        else:
            return f"{value!r} is named but not grouped by or filtered on"
    if conditions == ["ordered"] and (request.customers or request.customer_numbers):
        # "how much has dobes bought": one customer named, so "bought" is what they did (the
        # orders), not a condition picking customers who ordered.
        conditions, verbs = [], [*verbs, "orders"]
    amount_above = None
    if threshold is not None and _record_threshold(
        subjects, group, conditions, request, times=times, figure=figure_named or "spend" in verbs
    ):
        # "orders over 2k last month": each order's own total, not a figure per customer.
        noun = _noun_after_amount(request)
        if noun is not None:
            return f"'{noun}' after the number: a count of them, not an amount of money"
        amount_above, threshold = threshold, None
    if threshold is not None:
        # "customers who spent over 10k", "how many customers ordered more than 3 times": one
        # figure per customer, kept where it exceeds the number.
        per_customer = _per_customer(
            subjects, group, conditions, verbs, measures, times=times, figure=figure_named
        )
        if isinstance(per_customer, str):
            return per_customer
        subjects, group, conditions, verbs, measures = per_customer
    elif "spend" in verbs:
        if "count" in measures:
            # "how many orders and total spend": two figures, which one reading cannot give.
            return "a count and the money spent asked together"
        spent_on = _spender(group, subjects, request)
        if spent_on is None:
            return "'spent' reads as customers' purchases or ours"
        # The money spent is the value of the spender's records: our purchase orders with a
        # supplier, a customer's orders with us (then grouped by customer, not counted).
        verbs = [v for v in verbs if v != "spend"]
        if spent_on == "orders":
            subjects = [s_ for s_ in subjects if s_ != "customers"]
            group = group or "customer"
        subjects = [*subjects, spent_on]
        figure_named = True
        measures = [*measures, "value"]
    # --- the subject
    subject_set = set(subjects) | set(verbs)
    if "customers" in subject_set and (conditions or subject_set == {"customers"}):
        subject_set = {"customers"} | (
            subject_set & {"orders"} if "ordered" in conditions else set()
        )
        subject_set.discard("orders")
    implied_by_measure = {MEASURE_SUBJECT[m] for m in measures if m in MEASURE_SUBJECT}
    if not ranks and _customers_first_with(seq, residual) and subject_set - {"customers"}:
        # "customers in switzerland with open invoices": the customers are what is asked for,
        # the invoices only pick them; customers with an open invoice is the one such
        # reading kept.
        if subject_set != {"customers", "invoices"} or set(statuses) - {"open"} or conditions:
            return "customers picked by their records: only open invoices are read"
        subject_set, statuses, conditions = {"customers"}, [], ["open_invoices"]
    qualified = _customers_qualify(subject_set, conditions, statuses, request)
    if qualified is not None:
        subject_set = {qualified}  # "payments from uk customers": the payments, by country
    if figure_named and not conditions and not ranks and group is None:
        # "spend with suppliers", "sales to customers": the money figure's own counterpart,
        # named without a condition, is every counterpart; the figure is the subject.
        for figure, party in _COUNTERPART.items():
            if subject_set == {figure, party} and figure in verbs:
                subject_set = {figure}
    if subject_set == {"customers"} and not conditions and len(implied_by_measure) == 1:
        subject_set = implied_by_measure  # "days our customers take to pay": the invoices'
    if "below_cost" in statuses:
        subject_set.discard("orders")  # "selling below cost": the products' prices
        verbs = [v for v in verbs if v != "orders"]
    if (
        "stock" in subject_set
        and statuses
        and set(statuses) <= {"adjustment", "receipt", "received"}
    ):
        subject_set = (subject_set - {"stock"}) | {"stock_movements"}
    implied = False
    if not subject_set:
        # No noun: the measure or the grouping names the subject ("receivables by country",
        # "which carrier do we use most"); a ranked month or category means sales.
        subject_set = {MEASURE_SUBJECT[m] for m in measures if m in MEASURE_SUBJECT}
        if not subject_set:
            subject_set = {STATUS_SUBJECT[s] for s in statuses if s in STATUS_SUBJECT}
        if not subject_set and conditions:
            subject_set = {CONDITION_SUBJECT}
        if not subject_set and due:
            subject_set = {"invoices"}  # "what's due in july": money owed on invoices
        if (
            not subject_set
            and group == "warehouse"
            and (request.categories or values.get("products") or request.skus)
            and set(measures) <= {"count", "units", "on_hand", "reserved"}
        ):
            subject_set = {"stock"}  # "which warehouse has the most brakes": units on hand
        if (
            not subject_set
            and request.categories
            and (not measures or "price" in measures)
            and (group is None or group in SUBJECTS["products"].dimensions)
        ):
            subject_set = {"products"}  # "list all filters", "cheapest brake disc"
        named = values.get("products") or request.skus
        if not subject_set and named and set(measures) <= {"count", "units", "on_hand"}:
            subject_set = {"stock"}  # "how many brake discs do we have": what is on hand
        in_units = set(measures) <= {"units", "on_hand", "reserved"}
        if not subject_set and request.warehouses and measures and in_units:
            subject_set = {"stock"}  # "units in ulm": what a warehouse holds, in units
        customer_named = bool(request.customers or request.customer_numbers)
        if not subject_set and customer_named and statuses == ["open"] and not measures:
            # "hecker – anything open?": what a customer has open with us is its open
            # invoices ("offene Posten"); the answer says so.
            subject_set = {"invoices"}
        if not subject_set and request.suppliers:
            subject_set = {"purchase_orders"}
        if not subject_set and group == "supplier" and "late" in statuses:
            subject_set = {"purchase_orders"}  # "which supplier was late most often": our POs
        if not subject_set and group in DIMENSION_SUBJECT:
            subject_set = {DIMENSION_SUBJECT[group]}
        if not subject_set and group is not None and ranks:
            subject_set, implied = {"orders"}, True
    if "adjustment" in statuses and not subject_set - {"stock"}:
        subject_set = {"stock_movements"}
    if subject_set == {"orders"} and request.suppliers and not request.customers:
        # "orders from elbe bremsentechnik": orders placed with a supplier are our purchase
        # orders; a sales order has a customer, never a supplier.
        subject_set = {"purchase_orders"}
    if due and subject_set == {"suppliers"}:
        subject_set = {"purchase_orders"}  # "what's expected from suppliers": their orders
    if (
        subject_set == {"orders", "suppliers"}
        and "orders" in subjects  # the noun: "which supplier sells X" is the product's supplier
        and group is None
        and not ranks
    ):
        # "orders with suppliers still open" ("bestellungen bei lieferanten"): our purchase
        # orders; a sales order has a customer, never a supplier.
        subject_set = {"purchase_orders"}
    if subject_set == {"shipments", "suppliers"}:
        # "supplier deliveries", "deliveries from suppliers": our shipments go to customers;
        # what a supplier delivers is a purchase order coming in.
        subject_set = {"purchase_orders", "suppliers"}
    if subject_set == {"purchase_orders", "suppliers"} and group is None and not ranks:
        # "what did we buy from suppliers in h1": the suppliers are whom the purchase orders
        # went to, not a second subject (a ranking of suppliers groups by them instead).
        subject_set = {"purchase_orders"}
    if len(subject_set) != 1:
        return f"subject unclear: {sorted(subject_set) or 'none'}"
    subject = subject_set.pop()
    spec = SUBJECTS[subject]
    if all_time and spec.date_column is None:
        # "did we ever sell below cost" asks about past sales, not today's prices.
        return f"'ever' of {subject}, which have no date: the reading would give today's state"
    if subject == "invoices" and "on_hand" in measures:
        # "partly paid invoices - what's left on them": what is still owed on them.
        measures = ["open_amount" if m_ == "on_hand" else m_ for m_ in measures]
    both = _COUNT_AND_AMOUNT.search(request.norm) is not None and subject in AMOUNT_LISTS
    if both and set(measures) - {"count"} and "count" in measures:
        # "how many and what's left on them": the number and the amount of the same records,
        # both stated by the list's headline (an open invoice's amount is what it still owes).
        amount = set(measures) - {"count"}
        owed = subject == "invoices" and bool(set(statuses) & _OWED_STATUSES)
        if amount not in ({"value"}, {"open_amount"}) or (amount == {"open_amount"}) != owed:
            return f"a count and {sorted(amount)} of {subject}: not both in one answer"
        measures = ["count"]
    if subject == "purchase_orders" and "open_amount" in measures:
        # "value of supplier orders still outstanding": the open ones, by their value.
        measures = ["value" if m_ == "open_amount" else m_ for m_ in measures]
        statuses = [*statuses, "open"] if "open" not in statuses else statuses
    if subject == "products" and "unsold" in statuses and {"value", "on_hand"} & set(measures):
        # "how much money sits in what hasn't sold": their stock, at cost (products have no
        # value of their own; the answer names the measure).
        subject, spec = "stock", SUBJECTS["stock"]
        measures = ["stock_value" if m_ == "value" else m_ for m_ in measures]
    # --- the measure
    measure = _measure(subject, set(measures), ["sales"] if implied else verbs, request)
    if measure is None:
        return f"measure unclear for {subject}: {sorted(set(measures))}"
    if realised_pct and measure == "profit":
        measure = "margin_pct"  # the orders' own: earned on net sales, as a percentage
    if group_per and "average" in measures:
        # "avg per customer": the mean over the customers, or each customer's own mean.
        return f"an average per {group} reads as the mean over them or each one's mean"
    if negated is not None and (
        not (measures or figure_named) or _MEASURE_CLASS.get(measure, measure) == negated
    ):
        # "top customers by orders, not value": the measure named must be another one.
        return f"'not {negated}' without another figure named, or with that figure"
    if at_cost and measure != "stock_value":
        return f"'at cost' for {measure}, a figure not valued at cost"
    if (
        measure == "discount"
        and (request.customers or request.customer_numbers)
        and "value" not in measures
        and request.period is None
    ):
        # "what discount does nordwind get": the customer's agreed rate, or the discount
        # given on their orders; only "how much" / "total" or a period says which.
        return "a customer's discount reads as their agreed rate or as the discount given"
    if per_record and ("average" not in measures or set(per_record) != {subject}):
        return f"'per {per_record[0]}' asks for a ratio the reading does not compute"
    if (
        not measures
        and not verbs
        and group is not None
        and not ranks
        and subject in AMOUNT_LISTS
        and subject != "products"
        and "value" in spec.measures
    ):
        # "credit notes per month": no figure named, so each group's sum, which the answer
        # states beside its number of records (a count alone would drop the amounts).
        measure = "value"
    if speed and not measure.startswith("days_"):
        # "fastest carrier": with no duration named, a carrier's speed is its transit time;
        # anything else ("fastest product") has no duration the reading can rank.
        if measures or subject != "shipments" or group != "carrier":
            return "'fastest' with no duration to rank"
        measure = "days_in_transit"
    if lines and measure not in LINE_MEASURES:
        return "order lines are summed, not counted, by the structured reading"
    if not measures and verbs and not figure_named and group is None and not ranks and not implied:
        # "what did we buy last week": a figure (value? units? which products?) that only
        # the verb suggests; answering the total would pick one reading without evidence.
        # With the records named ("shipments that went out today") they are listed, and so
        # are payments ("what came in on friday"): money received holds nothing else to ask
        # about, and the list states both how many and how much.
        if subject not in LIST_SUBJECTS or not (subjects or subject == "payments"):
            return f"no figure named for {subject}: the verb alone does not say what to compute"
        verbs, measure = [], "count"
    if subject == "stock" and group is None and len(values.get("products", request.skus)) > 1:
        group = "product"  # several products: each one's stock, and the total in the headline
    if subject == "stock_movements" and measure == "count":
        measure = "units"  # net units, stated with the number of bookings
    if (
        measure.startswith("days_")
        and ranks
        and re.search(r"\b(?:slowest|weakest)\b", request.norm)
    ):
        # "slowest" ranks sales from the bottom, but a duration from the top (most days).
        return "'slowest' of a duration is the most days, not the fewest"
    if day_unit and not measure.startswith("days_"):
        return "days named but no duration measured"
    if subject == "customers" and group == "customer":
        group = None  # "which customers ...": list them
    if subject == "products" and group == "product":
        group = None  # "which products ...": list them
    if subject == "purchase_orders" and group == "customer":
        # "who raised the most POs": the person, not a customer; but "who did we raise POs
        # with": the counterpart of the orders, the supplier.
        group = "supplier" if _WHO_WITH.search(request.norm) else "buyer"
    if subject == "products" and ranks and group is None and measure != "price":
        return "products are ranked by price only"
    listed_prices = False
    if (
        subject == "products"
        and (measure == "price" or (measure == "margin_pct" and values.get("products")))
        and "average" not in measures
        and not ranks
    ):
        # "the price of the golf brake pads", "margin on oil filters": each one's, listed
        measure = "count"
        listed_prices = True
    list_rows = listed_prices
    if not measures and group is None and not ranks and not verbs:
        if subject == "stock":
            pass  # the stock on hand
        elif subject == "stock_movements":
            measure = "units"
        elif (
            subjects or conditions or statuses or due or subject in ("products", "payments")
        ) and (subject in LIST_SUBJECTS):
            list_rows = True
        else:
            return "nothing to compute"
    if measures == ["count"] and group is None and not ranks and subject != "products" and both:
        # "how many and what's still open on them": both figures, which the list's headline
        # states (the number of records and what they come to).
        list_rows = True
    if (
        _WHICH_ANY.search(request.norm)
        and not list_rows
        and group is None
        and not ranks
        and not (values.get("products") or request.skus)
        # "any stock adjustments last week?": the bookings of a period are listed one by one.
        and not (subject == "stock_movements" and not measures and request.period is not None)
    ):
        # "anything reserved in main?": which records, not one figure over all of them.
        return "'any' asks which records; the reading would give one figure"
    if ranks and group is None:
        if not (
            (subjects or subject == "products" or _ONE_OF_THEM.search(request.norm))
            and subject in AMOUNT_LISTS
            and measure in ("count", "value", "price")
        ) and not (subject == "customers" and measure == "credit_limit"):
            return "a ranking without anything to rank"
        if not _SIZE_RANK.search(request.norm):
            return "a ranking of records by no stated size ('top 5 invoices': by what?)"
        list_rows = True  # "biggest unpaid invoice": the records, largest amount first
    # --- status and conditions
    status: str | None = None
    if "partly_paid" in statuses:
        # "partly paid invoices still open": partly paid ones are open by definition.
        statuses = [s_ for s_ in statuses if s_ != "open"]
    if subject == "orders" and NOT + "shipped" in statuses and "open" in statuses:
        # "open orders not shipped yet": an open order is one not shipped; one status, said twice.
        statuses = [s_ for s_ in statuses if s_ != "open"]
    if "running_late" in statuses:
        # "in transit that should have arrived by now": running late ones are in transit.
        statuses = [s_ for s_ in statuses if s_ != "in_transit"]
    if due:
        if SUBJECTS[subject].due_column is None:
            return f"'due' of {subject}, which have no due date"
        due_span = _due_span(request)
        if isinstance(due_span, str):
            return due_span
        if not statuses:
            if due_span[1] < request.today:
                # "what fell due in may": the ones still open, or every one due then?
                return "due in a past period with no status: still open, or all that fell due"
            statuses = ["open"]  # "what's due next week": a paid invoice is no longer due
    elif request.due_period is not None:
        return "'due' in a phrase of its own and a period: the period may be the due date"
    if (
        ranks
        and re.search(r"\b(?:most|least) often\b", request.norm)
        and ({"late", "running_late", "short"} & set(statuses))
    ):
        # "which carrier is late most often": the most late parcels, or the largest share of
        # its parcels late? The carrier with the most parcels leads the first.
        return "'late most often' ranks by the number late or by the share late"
    arrival = set(statuses) - {"delivered", "received"}
    if (
        subject == "purchase_orders"
        and arrival in ({"late"}, {"short"})
        and arrival != set(statuses)
    ):
        # "POs that arrived late", "received POs that came in short": the late or short ones
        # are among those that came in.
        statuses = list(arrival)
    if subject == "purchase_orders" and set(statuses) in (
        {"open", "late"},
        {"open", "overdue"},
        {"open", "running_late"},
    ):
        # "open POs already late", "POs running late": still to come, past the expected date.
        statuses = ["running_late"]
    if "ambiguous_paid" in statuses:
        return "'been paid' reads as fully or partly paid"
    for word in statuses:
        base = word.removeprefix(NOT)
        mapped = STATUS_OF_SUBJECT.get((subject, base), base)
        if not mapped:
            if base != word:
                return f"'not {base}' of {subject}: all of them are"
            continue  # "payments received": every payment is received
        if base != word:
            if base == "delivered" and re.search(r"\bnot (?:yet )?arrived\b", request.norm):
                # "not arrived yet": still open, or due and missing? The expected date is
                # what the owner wants to see, which the list of records does not give.
                return "'not arrived' reads as open or as late"
            if mapped not in _NEGATABLE:
                # "invoices not overdue": the open ones not yet due, or every one including
                # the paid; "not late": not yet late, or on time.
                return f"'not {base}' reads two ways"
            mapped = NOT + mapped  # "orders not shipped yet": every one that has not been
        if status_filter(spec, mapped) is None:
            return f"{subject} cannot be filtered as {word!r}"
        if status is not None and status != mapped:
            return "two statuses"
        status = mapped
    condition: str | None = None
    if subject == "orders" and set(conditions) == {"ordered"} and _ONLY_ACTIVE.search(request.norm):
        conditions = []  # "customers by revenue that ordered something": every group has orders
    if conditions:
        if subject != "customers" or len(set(conditions)) > 1:
            return f"conditions {conditions} do not apply to {subject}"
        condition = conditions[0]
    if subject == "customers" and "open_amount" in measures:
        condition, measure = "owing", "count"
    period = request.period
    arrived = (
        subject == "purchase_orders"
        and request.period is not None
        and re.search(r"\b(?:came|come|comes|arrived|arrive|arrives|received|delivered|got|"
                      r"deliveries|delivery)\b", request.norm)
    )  # fmt: skip
    if arrived and re.search(r"\b(?:ordered|placed|raised|order date|sent out)\b", request.norm):
        # "POs ordered in may that arrived late": which of the two dates is the period's?
        return "purchase orders ordered and arrived: the period may be either date"
    if arrived:
        # "which POs came in last week": the period is the day the goods arrived.
        if status not in (None, "received", "late", "short"):
            return f"{status} purchase orders that arrived in a period"
        if status is None:
            status = "received"
    elif (
        status in _STANDING_STATES
        and request.period is not None
        and request.period.start == request.period.end == request.today
        and not _EVENT_WORDS.search(request.norm)
    ):
        # "total overdue this morning", "what's open right now today": the state as of today,
        # not the records dated today (which would read €0.00 over none).
        period = None
    elif (subject, status) in EVENT_DATED and period is not None and not due:
        # "orders delivered last month": the period would filter the order date instead.
        return f"{status} {subject} over a period: the period is not the {status} date"
    if (
        subject == "invoices"
        and status in ("open", "overdue", "not_due", "partly_paid")
        and (measure == "value" or (group and not measures) or (due and not measures))
    ):
        measure = "open_amount"  # "how much is overdue", "overdue by customer": what is owed
    args: dict[str, Any] = {
        "subject": subject,
        "measure": measure,
        "group_by": group,
        "list_rows": list_rows,
    }
    if ranks:
        if len(set(ranks)) > 1:
            return "two rankings"
        if (
            ranks[0] == "lowest"
            and group is not None
            # (A carrier is known only by the parcels it took: each one has records.)
            and group not in ("month", "weekday", "country", "status", "carrier")
            and not measure.startswith("days_")  # a group with no records has no duration
            and not (
                group == "category"
                and subject == "orders"
                and not (request.customers or request.customer_numbers or values)
                and _every_category_sold(session, request)
            )
            and not _ONLY_ACTIVE.search(request.norm)
        ):
            # Customers or products that sold nothing are no group at all: the bottom of a
            # grouped list is not the slowest seller.
            return "a ranking from the bottom over records that may have none"
        args["rank"] = ranks[0]
        after = _AFTER_SUPERLATIVE.search(request.norm)
        if after is not None:
            singular = not after.group(1).endswith("s")  # "cheapest filter": the one
        if _ONE_OF_THEM.search(request.norm):
            singular = True  # "open invoices for senn" then "the biggest one?": one row
        args["limit"] = request.limit or (1 if singular else 10)
        other = _OTHER_RANKING.get(subject)
        if group is not None and measure == "count" and not measures and not figure_named and other:
            # "top 5 customers by credit notes", "most returned product": by how many, or by
            # how much? The count ranks; the answer states the other ranking beside it.
            args["also_measure"] = other
        if (
            subject == "orders"
            and group is not None
            and group != "product"
            and measure == "value"
            and not measures
            and not figure_named
            and (values.get("products") or request.skus or request.categories)
        ):
            # "who buys the most needle bearings": the most euros, or the most pieces? The
            # value ranks (as for any sales figure); the units ranking is stated beside it.
            args["also_measure"] = "units"
    elif oldest:
        if not list_rows or spec.date_column is None:
            return "'oldest' of something that is not a list of dated records"
        # "oldest PO still not delivered": the records, the earliest first; one when singular.
        args["oldest_first"] = True
        args["limit"] = request.limit or (1 if singular else None)
    elif request.limit is not None:
        return "a limit without a ranking"
    if oldest and ranks:
        return "'oldest' with a ranking by size"
    if status:
        args["status"] = status
    if condition:
        args["customer_condition"] = condition
    if condition == "not_ordered" and period is not None and not _LAPSE_PERIOD.search(period.text):
        # "haven't ordered since january" presupposes an earlier order (lapsed customers);
        # "haven't bought anything this year" does not: it includes customers who never
        # ordered. Which one a calendar period means, the request does not say.
        return "'not ordered' in a calendar period: lapsed customers, or all without an order"
    if due and isinstance(due_span, tuple):
        args["date_from"], args["date_to"] = due_span
        args["date_basis"] = "due"
    elif period is not None:
        args["date_from"] = period.start
        args["date_to"] = period.end
        if arrived:
            args["date_basis"] = "received"
    elif condition == "not_ordered" or status == "unsold":
        # "haven't ordered in 6 months", "nothing sold in 6 months": a negation over the
        # months up to today.
        if since is None:
            return f"no period for {'not ordered' if condition else 'not sold'}"
        args["date_from"], args["date_to"] = since, request.today
    if weekdays:
        if spec.date_column is None:
            return f"{subject} have no date whose weekday to filter on"
        args["weekdays"] = sorted(weekdays)
    if amount_above is not None:
        if (
            spec.amount_column is None
            or group == "customer"
            or measure not in ("count", "value", "open_amount")
        ):
            return f"an amount to exceed that {subject} carry no amount of their own for"
        args["amount_above"] = amount_above
    if skip:
        if "rank" not in args or group is None or list_rows:
            return "'second' or 'third' of records, not of ranked groups"
        args["skip"] = skip
    if (request.customers or request.customer_numbers) and spec.customer_column is None:
        return f"{subject} are not recorded per customer"
    if exclude:
        excluded = _excluded_customer(request)
        if isinstance(excluded, str):
            return excluded
        args["exclude_customer"] = excluded.number
    elif request.customers or request.customer_numbers:
        if request.count("customer") > 1:
            return "several customers"
        if request.customer_numbers:
            args["customer"] = request.customer_numbers[0]
        else:
            mention = request.customers[0]
            if mention.resolved is None:
                return "customer name fits several"
            args["customer"] = mention.resolved.number
    if request.suppliers:
        if len(request.suppliers) > 1 or request.suppliers[0].resolved is None:
            return "supplier unclear"
        args["supplier"] = request.suppliers[0].resolved.number
    if request.countries_excluded:
        if request.countries or len(request.countries_excluded) > 1:
            return "several countries"
        args["country"], args["country_excluded"] = request.countries_excluded[0], True
    if request.countries:
        if len(request.countries) > 1:
            return "several countries"
        args["country"] = request.countries[0]
    if request.categories:
        if len(request.categories) > 1:
            return "several categories"
        args["category"] = request.categories[0]
    if request.skus:
        args["products"] = list(request.skus)
    if request.warehouses:
        if len(request.warehouses) > 1:
            return "several warehouses"
        args["warehouse"] = request.warehouses[0]
    if request.method:
        if subject != "payments" or group == "method":
            return f"a payment method for {subject}, which are not paid by one"
        args["method"] = request.method  # "paypal payments in june", "came in by sepa"
    args |= values
    if threshold is not None:
        if group != "customer" or ranks or list_rows or args["measure"] not in ("count", "value"):
            return "an amount to exceed with no per-customer figure to compare it with"
        args["above"] = threshold
    if args.get("category", "") is None:
        del args["category"]
    if measure == "count" and "orders" in verbs and (args.get("products") or args.get("category")):
        args["measure"] = "units"  # "how many oil filters did we sell": units, not orders
    try:
        return QueryArgs.model_validate(args)
    except ValidationError as error:
        return f"the plan does not fit the schema: {error.errors()[0]['msg']}"


RECORD_WORDS = frozenset(
    """payment payments credit note notes cn pay invoice invoices customer who whos paid pay
    amount much when date what for against applied allocated matched go went did that it is
    was status details about this""".split()
)
"""Words asking about a payment's or credit note's own fields, all of which the answer shows."""


def _record(request: Request) -> QueryArgs | str:
    """Show one payment or credit note by its number, with every field the owner may ask."""
    numbers = [*request.payments, *request.credit_notes]
    if len(numbers) != 1 or request.kinds() - {"payments", "credit_notes"}:
        return "a record number with other things to find"
    unknown = set(request.residual) - GLOBAL_WORDS - RECORD_WORDS
    if unknown:
        return f"words the record lookup cannot place: {sorted(unknown)[:5]}"
    subject = "payments" if request.payments else "credit_notes"
    args: dict[str, Any] = {"subject": subject, "list_rows": True, "number": numbers[0]}
    return QueryArgs.model_validate(args)


def _every_category_sold(session: Session, request: Request) -> bool:
    """Whether every product category sold something in the request's period.

    The bottom of a ranking by sales is only the weakest category when no category sold
    nothing at all (a category without sales is no group in the ranking, so it would be left
    out rather than come last). With a sale in each, "weakest category this year" is sound.
    """
    sold = (
        select(m.Product.category)
        .join(m.SalesOrderLine, m.SalesOrderLine.product_id == m.Product.id)
        .join(m.SalesOrder, m.SalesOrder.id == m.SalesOrderLine.order_id)
        .where(m.SalesOrder.status != "cancelled")
    )
    if request.period is not None and request.period.start is not None:
        sold = sold.where(m.SalesOrder.order_date >= request.period.start)
    if request.period is not None and request.period.end is not None:
        sold = sold.where(m.SalesOrder.order_date <= request.period.end)
    every = set(session.scalars(select(m.Product.category).distinct()))
    return every <= set(session.scalars(sold.distinct()))


_ONLY_ACTIVE = re.compile(
    r"\b(?:that|which|who|ones that|only ones that|only those that|of those that)\s+"
    r"(?:actually\s+|really\s+)?(?:sold|ordered|bought)\s+(?:at all|something|anything)\b"
    r"|\bonly (?:the )?ones that (?:actually )?(?:sold|ordered|bought)\b"
)
"""The bottom of a ranking over those with records at all ("bottom 5 customers by revenue
ytd that ordered something"): the groups the query has are exactly those."""


def _spender(group: str | None, subjects: list[str], request: Request) -> str | None:
    """Return whose records "spent" sums, or ``None`` when the request does not say.

    "top 3 suppliers by what we spent", "po spend per supplier": suppliers are paid by us, so
    the spending is ours, on purchase orders. "which customers spent the most" (with no "we"):
    what customers spend with us is our sales.
    """
    customers_named = bool(request.customers or request.customer_numbers)
    # "who did we spend the most with on purchasing": "who" is the supplier then.
    purchasing = re.search(r"\bon purchasing\b", request.norm) is not None
    if (
        group == "supplier"
        or request.suppliers
        or "purchase_orders" in subjects  # "po spend q2": the purchase orders named
        or purchasing
    ) and not (customers_named or (group == "customer" and not purchasing)):
        return "purchase_orders"
    if (group == "customer" or "customers" in subjects or customers_named) and not re.search(
        r"\bwe\b", request.norm
    ):
        # "nordwind spend per month": a customer named spends with us (its orders).
        return "orders"
    return None


_OTHER_RANKING = {
    "returns": "units",
    "credit_notes": "value",
    "invoices": "value",
    "payments": "value",
    "purchase_orders": "value",
}
"""The second figure a ranking by number of records may have meant, per subject."""
_LAPSE_PERIOD = re.compile(r"^(?:since|in the last|in the past|last|past|for)\b.*\d|^since\b")
"""A period measured back from today ("since march", "last 3 months"), as a lapse is stated."""
_ONE_OF_THEM = re.compile(r"\b(?:most|least|\w+est)\s+one\b")
""""the biggest one": one of the records the request (or the thread before it) is about."""
_WHO_WITH = re.compile(r"\bwho\b.*\b(?:with|from)\b")
_WHO_OF_ONE = re.compile(r"^who(?:\s+\w+){1,2}\s+(?:it|that one|this one)\b")
""""Who ... with", "who do we buy from": the other party, not the person who made them."""
_COUNT_WORDS = r"(?:how many|count|number of)"
_AMOUNT_WORDS = r"(?:how much|what(?:s| is)? left|total(?: value)?|value|worth|amount)"
_COUNT_AND_AMOUNT = re.compile(
    r"\bhow many\b(?:\s+\w+){0,3}\s+and\s+(?:what|whats|what is)\b"
    rf"|\b{_COUNT_WORDS}\b.*\band\b.*\b{_AMOUNT_WORDS}\b"
    rf"|\b{_AMOUNT_WORDS}\b.*\band\b.*\b{_COUNT_WORDS}\b"
    rf"|\b{_COUNT_WORDS}\b[^.;?]*[,:][^.;?]*\b{_AMOUNT_WORDS}\b"
)
"""A count and a second figure asked together ("how many and what's left on them", "how
many did we send out and for how much", "credit notes in june, count and total"): a count of
money records states their amount too, so one answer holds both."""
_OWED_STATUSES = frozenset({"open", "overdue", "not_due", "partly_paid"})
"""Invoice statuses whose listed amount is what is still owed."""
_WHICH_ANY = re.compile(
    r"\b(?:anything|anyone|anybody|any)\b"
    # "what's reserved right now": which stock is, not one figure over all of it.
    r"|^(?:what s|whats|what is|what are|what)\s+(?:\w+\s+(?:is|are)\s+)?"
    r"(?:reserved|on order|in transit|late|overdue|open|pending|due|outstanding)\b"
)
_SIZE_RANK = re.compile(
    r"\b(?:biggest|largest|highest|smallest|lowest|cheapest|least expensive|most expensive|"
    r"priciest|dearest|highest priced|lowest priced)\b"
)
_AFTER_SUPERLATIVE = re.compile(
    r"\b(?:cheapest|least expensive|lowest priced|most expensive|priciest|dearest|highest "
    r"priced)\s+(?!\d+\b)(\w+)"
)
# ("may" is left out: it is the month far more often than the modal in these requests.)
MODAL = re.compile(r"\b(?:can|could|will|would|should|might)\b(?! you\b)|\bgoing to\b")
_SPAN = re.compile(
    r"\b(?:in|for|within)\s+(?:the\s+)?(?:last\s+|past\s+)?(\d{1,3}|a(?:\s+(?:whole|full))?)\s+"
    r"(day|week|month|year)s?\b"
)
"""A span back from today that a negation covers ("in 6 months", "for a whole year")."""


_NEGATED_MEASURES = {
    **dict.fromkeys("count number numbers".split(), "count"),
    **dict.fromkeys("units pieces qty quantity pcs".split(), "units"),
    **dict.fromkeys(
        "value values euros euro eur amount amounts money total totals sales revenue".split(),
        "value",
    ),
}
"""A figure a request rules out ("by count, not value"), by the class of measure it names."""
_MEASURE_CLASS = {"open_amount": "value", "stock_value": "value"}
"""Measures that report the same kind of figure as another one ("value")."""
_CONTRAST_LINKS = frozenset({"by", "the", "in", "of"})


_NEGATABLE = frozenset({"shipped", "delivered", "paid", "received", "refunded", "blocked"})
"""Statuses a record reaches once, in its life, so that "not" one of them is plain: the
records that have not reached it yet (a refinement such as "overdue" is not one)."""
_NEGATION_FILLER = frozenset({"yet", "been", "even", "already", "be"})


def _negations(words: list[str]) -> list[str]:
    """Mark each "not" (with "yet", "been" ...) right before a status or "shipped".

    "orders not shipped yet", "invoices that haven't been paid": the status's complement
    (``nova.erp.skills.query.NOT``). A "not" that starts a phrase of its own ("not due",
    "not ordered") is left to that phrase; any other "not" stays, and declines.
    """
    out: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word == "not" and not any(
            tuple(words[index : index + size]) in VOCABULARY for size in range(2, _LONGEST + 1)
        ):
            end = index + 1
            while end < len(words) and words[end] in _NEGATION_FILLER:
                end += 1
            following = next(
                (
                    VOCABULARY[phrase]
                    for size in range(min(_LONGEST, len(words) - end), 0, -1)
                    if (phrase := tuple(words[end : end + size])) in VOCABULARY
                ),
                None,
            )
            if following is not None and (
                following[0] == "status" or following == ("verb", "shipments")
            ):
                out.append(NEGATION)  # "haven't gone out", "not yet delivered"
                index = end
                continue
        out.append(word)
        index += 1
    return out


def _contrasted(words: list[str]) -> tuple[list[str], str | None]:
    """Drop a ruled-out figure ("not value", "not by sales") and return its measure class.

    Only a figure directly after "not" counts: "orders not shipped" keeps its "not", which
    no reading places, so it still declines.
    """
    for index, word in enumerate(words):
        if word != "not":
            continue
        end = index + 1
        while end < len(words) and words[end] in _CONTRAST_LINKS:
            end += 1
        if end < len(words) and words[end] in _NEGATED_MEASURES:
            return [*words[:index], *words[end + 1 :]], _NEGATED_MEASURES[words[end]]
    return words, None


def _since(request: Request) -> date | None:
    match = _SPAN.search(request.norm)
    if match is None:
        return None
    count, unit = match.group(1), match.group(2)
    n = int(count) if count.isdigit() else 1
    delta = {
        "day": relativedelta(days=n), "week": relativedelta(weeks=n),
        "month": relativedelta(months=n), "year": relativedelta(years=n),
    }[unit]  # fmt: skip
    # The span's words leave the residual from its end, where such a span is said ("sitting
    # in the dead stuff, nothing sold in 6 months": the second "in", not the first).
    words = request.residual
    for word in ("in", "for", "within", "the", "last", "past", *count.split(), unit, f"{unit}s"):
        if word in words:
            del words[len(words) - 1 - words[::-1].index(word)]
    return request.today - delta


def _measure(subject: str, measures: set[str], verbs: list[str], request: Request) -> str | None:
    spec = SUBJECTS[subject]
    wanted = set(measures)
    if "size" in wanted:
        if "average" not in wanted:
            return None
        wanted = (wanted - {"size"}) | {"value"}
    if "average" in wanted:
        wanted.discard("average")
        wanted.discard("value")
        for specific in ("days_to_pay", "days_to_ship", "days_in_transit"):
            if specific in wanted:
                return specific if specific in spec.measures else None
        if "discount" in wanted:
            return "average_discount_pct" if subject == "orders" else None
        if wanted == {"shipping_cost"} and subject == "shipments":
            return "average_value"  # "average shipping cost"
        if "count" in wanted:
            return None  # "how many orders per customer on average": an average of counts
        if wanted in ({"margin_pct"}, {"markup_pct"}, {"price"}) and subject == "products":
            return wanted.pop()  # "average margin", "average price"
        if wanted == {"credit_limit"} and subject == "customers":
            return "credit_limit"  # "avg credit limit of our customers"
        if wanted:
            return None
        return "average_value" if "average_value" in spec.measures else None
    if "credit_limit" in wanted:
        # A customer's own limit, listed or ranked ("highest credit limit"); a sum of limits
        # ("total credit limit") is no figure anyone extends.
        return "credit_limit" if wanted == {"credit_limit"} and subject == "customers" else None
    if "shipping_cost" in wanted:
        if subject != "shipments" or wanted - {"shipping_cost", "value", "average"}:
            return None
        return "value"
    if subject == "stock":
        if "units" not in wanted and re.search(r"\bmoney\b", request.norm):
            return "stock_value"  # "how much money do we have in stock": its value at cost
        if wanted <= {"count", "units", "on_hand"} or (
            wanted <= {"count", "units", "on_hand", "value"} and wanted & {"units", "on_hand"}
        ):
            return "on_hand"  # "total units on hand"
        if wanted <= {"value"} and re.search(r"\b(worth|value|money)\b", request.norm):
            return "stock_value"  # "what is our stock worth"
        if wanted <= {"value"}:
            return "on_hand"  # "how much stock", "total stock": units
    if subject == "products" and wanted in ({"price"}, {"margin_pct"}, {"markup_pct"}):
        return wanted.pop()
    if subject == "products" and "price" in wanted and wanted <= {"price", "count"}:
        return "count"
    for specific in ("days_to_pay", "days_to_ship", "days_in_transit", "discount", "profit",
                     "reserved", "units", "open_amount"):  # fmt: skip
        if specific in wanted:
            # "units" only names the unit of a reservation ("reserved units in ulm").
            also = {"units": "count", "reserved": "units"}.get(specific, "")
            if len(wanted - {specific, "value", also}) > 0:
                return None
            if specific == "open_amount" and subject == "customers":
                return "count"
            return specific if specific in spec.measures else None
    if wanted == {"count"} or (not wanted and subject != "stock"):
        if "count" in wanted or not verbs or subject in ("shipments", "returns"):
            return "count"
        if "value" not in spec.measures:
            # "revenue from the new customers": a figure of their orders, not a count of them.
            return None
        return "value"
    if wanted == {"value"} or (wanted == {"value", "count"} and False):
        return "value" if "value" in spec.measures else None
    return None


_COUNTERPART = {"orders": "customers", "payments": "customers", "purchase_orders": "suppliers"}
"""The other party every record of a money figure has: naming it alone adds no condition."""


def _customers_first_with(seq: list[tuple[int, str, str]], residual: list[str]) -> bool:
    """Whether customers are the first thing named and "with" follows ("customers ... with")."""
    first = next(
        (
            (position, value)
            for position, role, value in seq
            if role == "subject" or (role == "dim" and value == "customer")
        ),
        None,
    )
    if first is None or first[1] not in ("customers", "customer"):
        return False
    return "with" in residual[first[0] + 1 :]


def _customers_qualify(
    subject_set: set[str], conditions: list[str], statuses: list[str], request: Request
) -> str | None:
    """Return the records' subject when "customers" only says whose they are, else ``None``.

    "payments from uk customers", "sales to dutch customers", "overdue from swiss custs": the
    nationality picks customers, and the records of those customers are what is summed or
    counted (the query filters them by the customer's country). Only with a country named:
    without one, "customers" next to another subject may be what is counted ("how many
    customers paid"), which the counted-noun guard then catches anyway. Customer conditions
    ("owe us", "ordered") keep customers as the subject.
    """
    if not request.countries or conditions or "customers" not in subject_set:
        return None
    others = subject_set - {"customers"}
    if not others:
        # No other noun: a status may name the records ("overdue": invoices).
        others = {STATUS_SUBJECT[s] for s in statuses if s in STATUS_SUBJECT} - {"customers"}
    if len(others) != 1:
        return None
    subject = next(iter(others))
    return subject if SUBJECTS[subject].customer_column is not None else None


_AT_LEAST = re.compile(r"\bat least\b")


def _threshold(request: Request) -> Decimal | str | None:
    """Return the number a per-customer figure must exceed ("over 10k", "more than 3"), if any.

    "at least" is left to the model: the query keeps figures strictly above the number.
    """
    if request.min_amount is None:
        return None
    if _AT_LEAST.search(request.norm):
        return "'at least' an amount: the reading compares strictly"
    return request.min_amount


def _per_customer(
    subjects: list[str],
    group: str | None,
    conditions: list[str],
    verbs: list[str],
    measures: list[str],
    *,
    times: bool,
    figure: bool,
) -> tuple[list[str], str, list[str], list[str], list[str]] | str:
    """Read a threshold as a figure per customer: (subjects, group, conditions, verbs, measures).

    The customers are the groups, their records the subject: "ordered more than 3 times"
    counts orders per customer, "spent over 10k" sums their order value; "how many customers"
    then asks for the number of customers kept, which the answer states as its groups. Any
    other use of the number (an order over 5k, a customer with a figure the reading cannot
    tell) declines.
    """
    if "customers" not in subjects and group != "customer":
        return "an amount to exceed with no per-customer figure"
    if group not in (None, "customer"):
        return "two groupings"
    subjects = [s for s in subjects if s != "customers"]
    if conditions == ["ordered"]:
        conditions, verbs = [], [*verbs, "orders"]  # "ordered more than 3 times": their orders
    if conditions:
        return f"customer conditions {conditions} with an amount to exceed"
    verbs = ["orders" if v == "spend" else v for v in verbs]
    wanted = [m for m in measures if m != "count"]  # "how many customers": the groups kept
    if times:
        if wanted:
            return "a number of times with another figure"
        return subjects, "customer", conditions, verbs, ["count"]
    if not figure or set(wanted) - {"value"}:
        # "customers with orders over 5k": each order, or their total? A money figure named
        # ("spent", "revenue") says it is the total.
        return "an amount to exceed without a money figure it applies to"
    return subjects, "customer", conditions, verbs, ["value"]


_AMOUNT_SUBJECTS = frozenset({"orders", "invoices", "payments", "credit_notes", "purchase_orders"})
"""Subjects whose records carry an amount of their own ("orders over 2k")."""


def _record_threshold(
    subjects: list[str],
    group: str | None,
    conditions: list[str],
    request: Request,
    *,
    times: bool,
    figure: bool,
) -> bool:
    """Whether an amount to exceed is each record's own amount ("invoices over 1000").

    The records must be the first thing named and the only records named; customers may
    appear only as whose records they are, picked by a country ("orders for customers in
    austria over 1000"). A money figure ("spent over 10k"), "times", a customer condition or
    a grouping by customer keeps the per-customer reading.
    """
    if times or figure or conditions or group == "customer" or not subjects:
        return False
    head = subjects[0]
    if head not in _AMOUNT_SUBJECTS or set(subjects) - {head, "customers"}:
        return False
    return "customers" not in subjects or bool(request.countries)


_NOUN_AFTER = re.compile(
    r"\b(?:over|above|more than|greater than|exceeding|bigger than|larger than)\s+"
    r"(?:€\s*)?[\d.,]+\s*k?\s+([a-z]+)"
)


def _noun_after_amount(request: Request) -> str | None:
    """Return a counted noun right after the threshold ("more than 5 lines"), if there is one."""
    match = _NOUN_AFTER.search(request.text.lower())
    if match is None:
        return None
    word = match.group(1)
    role = VOCABULARY.get((word,), ("", ""))[0]
    return word if role in ("subject", "dim", "measure", "times", "unit") else None


_EXCLUDING = re.compile(
    r"\b(?:apart from|excluding|except(?: for)?|other than|besides|leaving out|not counting|"
    r"not including|without counting)\s+(?P<rest>.+)$"
)


def _excluded_customer(request: Request) -> Named | str:
    """Return the one customer named after "excluding" ("apart from putz"), or why not."""
    if request.customer_numbers or len(request.customers) != 1:
        return "a customer to leave out must be the one customer named"
    match = _EXCLUDING.search(request.norm)
    mention = request.customers[0]
    if match is None or mention.resolved is None:
        return "the customer to leave out is unclear"
    after = match.group("rest").split()
    if not set(normalise(mention.text).split()) <= set(after):
        return "the customer named is not the one left out"
    return mention.resolved


_NEAR_MONTH = 62
"""Days ahead within which a month named without a year is the coming one, for due dates."""


def _due_span(request: Request) -> tuple[date, date] | str:
    """Return the due-date span a request names ("due in july", "falling due next week").

    A month named without a year is the latest one that has begun for what has happened;
    a due date may lie ahead, so for due dates it is the nearer of that month and the same
    month a year on, when that one begins within two months ("due in july" on 30 June: this
    July), or the month that has begun when it ended at most two months ago. Any other
    period without a year is ambiguous and declines.
    """
    period = request.due_period
    if period is None or period.start is None or period.end is None:
        return "'due' with no period: the reading would list every open invoice"
    start, end = period.start, period.end
    if period.anchored:
        return start, end
    whole_month = start.day == 1 and end == start + relativedelta(months=1, days=-1)
    ahead = start + relativedelta(years=1)
    if whole_month and 0 < (ahead - request.today).days <= _NEAR_MONTH:
        return ahead, ahead + relativedelta(months=1, days=-1)
    if whole_month and (request.today - end).days <= _NEAR_MONTH:
        return start, end  # the current month, or one just past: the nearer one
    return f"{period.text!r} without a year is ambiguous for due dates"
