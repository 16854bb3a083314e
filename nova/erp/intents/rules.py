"""The intent rules: words, condition words, builders of skill arguments, result orderings."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from nova.erp import models as m
from nova.erp.intents.request import (
    NotForFastPath,
    Request,
)
from nova.erp.skills import AmbiguousName

# --- rules ------------------------------------------------------------------------------

GLOBAL_WORDS = frozenset(
    """a an the this that these those it its is are was were be been being am do does did
    anyone anybody someone somebody
    have has had can could would will may might shall me my we our ours us you your i
    he his she her they their them what whats which who whom whose when where how many much
    of for to from in on at by with about as and so far yet still already just only up
    all any some every there here please pls plz thanks thank hey hi hello nova ok okay
    show list give tell find get pull look lookup check display see know need want fetch
    bring provide let info information details detail overview number numbers currently
    current right now s t quick quickly again also too our entire full whole kindly
    everything e g ie eg across system anything something actually really rn atm
    currently roughly approximately approx ballpark even ones""".split()
)
"""Words any rule accepts (they carry no meaning a skill could miss).

A hedge ("roughly how much") asks for less precision than the exact figure gives.
"""

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
    refund transit recently average avg mean per each""".split()
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
        owner = _document_customer(request, session)
        if owner is not None and owner in {c.id for c in mention.candidates}:
            # "has winkler paid INV-2025-00118": the invoice says which Winkler.
            return next(c.number for c in mention.candidates if c.id == owner)
        raise AmbiguousName("customer", mention.text, list(mention.candidates))
    return mention.resolved.number


def _document_customer(request: Request, session: Session) -> int | None:
    """Return the customer id of the one invoice or sales order the request names, if any."""
    if len(request.invoices) + len(request.orders) != 1:
        return None
    if request.invoices:
        wanted = select(m.Invoice.customer_id).where(m.Invoice.number == request.invoices[0])
    else:
        wanted = select(m.SalesOrder.customer_id).where(m.SalesOrder.number == request.orders[0])
    return session.scalar(wanted)


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
        # Every occurrence: "open returns waiting on us" says the one condition twice.
        for each in re.finditer(pattern, request.norm):
            request.applied.update(each.group(0).split())
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
    state overdue late already""".split()
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
    allocated linked unassigned unallocated no without not yet sitting invoice invoices biggest
    largest highest top single""".split()
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
_LEAD_TIME_ASKED = _W("how long take takes they it and lead time".split())
"""How long a product's supplier takes, which the product's record states beside its name."""
PRICE_WORDS = _W(
    """price prices pricing cost costs costing margin margins sell selling charge charged list
    dealer net buy pay pays purchase what much does do we for the discount discounted their
    versus vs products product items below under less than gross loss making negative at
    beneath purchasing paid own landed unit worst lowest smallest thinnest poorest weakest best
    highest biggest largest top most least profitable profitability after they he she wants
    """.split()
)
PRODUCT_WORDS = _W(
    """product products item items details sku skus look up search find part parts""".split()
)
CUSTOMER_WORDS = _W(
    """customer customers card account details contact person phone number email mail address
    billing vat id tax payment terms who find look up record data credit limit""".split()
)
BALANCE_WORDS = _W(
    """balance owe owes owed owing outstanding credit limit limits left available remaining
    over exceeded above account open invoices invoice debt current money total how much
    used vs versus now what they it""".split()
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
        if args["status"] == "any" and not re.search(r"\b(paid|settled)\b", rq.norm):
            # "invoices due this week": a paid invoice is no longer due; the open ones are.
            args["status"] = "open"
    elif rq.period is not None:
        args |= _dates(rq, "issued_from", "issued_to")
    return args


def _b_overdue(rq: Request, s: Session) -> dict[str, Any]:
    args: dict[str, Any] = {**_limit(rq)}
    customer = _customer(rq, s)
    if customer:
        args["customer"] = customer
    if rq.days is not None:
        if not re.search(r"\b(overdue|late|past (their |the )?due)\b", rq.norm):
            # "unpaid for more than 30 days", "open longer than 60 days": counted from the
            # issue date as much as from the due date; only "overdue"/"late" says which.
            raise NotForFastPath("days unpaid read from the issue or from the due date")
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


_YES_NO_PAID = re.compile(r"^(?:did|has|have)\b.*\b(?:pay|paid)\b")
"""A yes/no question whether someone paid ("did gierschner pay?", "has winkler paid")."""

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
    elif (
        customer
        and rq.period is None
        and _YES_NO_PAID.search(rq.norm)
        and not re.search(
            r"\b(any|anything|ever|last|latest|recent|recently|invoices?|bills?)\b", rq.norm
        )
    ):
        # "did gierschner pay?": pay what? Their open invoices (a balance question) or any
        # payment ever (the history): with no invoice (not even "his invoice"), period or
        # "anything", it reads both ways.
        raise NotForFastPath("'did they pay' names no invoice, period or payment")
    if rq.method:
        args["method"] = rq.method
    if rq.min_amount is not None:
        args["min_amount"] = rq.min_amount
    if _flag(rq, r"\b(biggest|largest|highest|top)( \d+)?( single)? payments?\b"):
        args["largest_first"] = True
        rq.reading = "Largest payments first."
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
    elif rq.categories:
        args["category"] = rq.categories[0]
    else:
        raise NotForFastPath("a stock level needs a product or a category")
    if len(rq.warehouses) == 1:
        args["warehouse"] = rq.warehouses[0]
    return args


def _b_reorder(rq: Request, s: Session) -> dict[str, Any]:
    args: dict[str, Any] = {**_limit(rq)}
    if rq.categories:
        args["category"] = rq.categories[0]
    if rq.warehouses:
        args["warehouse"] = rq.warehouses[0]
    if _flag(
        rq, r"\b(out of stock|zero stock|stock at zero|at zero|nothing available|empty|sold out)\b"
    ):
        args["out_of_stock_only"] = True
    elif re.search(r"\b(?:below|under|beneath|less than)\b", rq.norm) and not re.search(
        r"\b(?:at or below|at or under|or below|or under|at most|not above)\b", rq.norm
    ):
        # "below the reorder point" taken literally: on hand strictly below it. "Reorder",
        # "running low" and "at or below" keep the replenishment trigger.
        args["strictly_below"] = True
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
    if rq.count("customer"):
        # "hochreiters order 4907": the name says whose order it is, so it must agree.
        named = _customer(rq, s)
        owner = _document_customer(rq, s)
        if (
            owner is None
            or s.scalar(select(m.Customer.number).where(m.Customer.id == owner)) != named
        ):
            raise NotForFastPath(f"{rq.orders[0]} is not an order of the customer named")
    return {"order_number": rq.orders[0]}


def _b_customer_orders(rq: Request, s: Session) -> dict[str, Any]:
    if re.search(
        r"\b(how many|number of|which|what) (customers|clients)\b|\b(customers|clients) who\b",
        rq.norm,
    ):
        raise NotForFastPath("customers counted or listed, not their orders")
    if re.search(r"\bpurchase orders?\b|\bwe (buy|bought|purchase|purchased|order)\b", rq.norm):
        raise NotForFastPath("purchase orders are orders to suppliers, not customers' orders")
    if re.search(r"\b(on|in) order\b", rq.norm):
        # "what's on order for FST-3616" is stock on order from suppliers, not customers' orders.
        raise NotForFastPath("'on order' means open purchase orders, not sales orders")
    args: dict[str, Any] = {**_dates(rq), **_limit(rq)}
    if rq.days is not None:
        if rq.period is not None or not _flag(rq, r"\b(older than|more than|over|at least)\b"):
            raise NotForFastPath("an age in days with a period, or not as 'older than'")
        # "older than 30 days": more than 30 days old, so placed before the day 30 days ago
        # (as "more than 30 days overdue" counts); "at least 30 days" includes that day.
        strict = 0 if _flag(rq, r"\bat least\b") else 1
        args["date_to"] = rq.today - timedelta(days=rq.days + strict)
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
    if re.search(
        r"\bwhat\s+(?:did|does|do|has|have|had)\s+(?:\w+\s+){0,3}?"
        r"(?:order|orders|ordered|buy|buys|bought|get|got)\b",
        rq.norm,
    ):
        # "what did zobel order this month": the products, so each order's lines are shown.
        args["with_lines"] = True
    return args


def _b_sales(rq: Request, s: Session) -> dict[str, Any]:
    assert rq.period is not None
    if rq.period.start is None or rq.period.end is None:
        # "sales before march": the summary needs both ends (its own default is a month).
        raise NotForFastPath("the sales summary needs a period with a start and an end")
    args: dict[str, Any] = {**_dates(rq), "group_by": _group_by(rq)}
    # The summary states the average order value beside the revenue and the order count.
    _flag(rq, r"\b(average|avg|mean) order value\b")
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
    if re.search(r"\bwho\b", rq.norm) and re.search(r"\bsellers?\b", rq.norm):
        # "who is our best seller": a person (a sales rep), whom the records do not hold.
        raise NotForFastPath("'who … seller' asks for a person, not a product")
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


_LEAD_THRESHOLD = (
    r"\b(?P<op>over|more than|longer than|above|at least|under|less than|shorter than|below"
    r"|within)\s+(?P<n>\d{1,3})\s*(?P<unit>days?|weeks?)\b"
)


def _b_lead(rq: Request, s: Session) -> dict[str, Any]:
    args: dict[str, Any] = {**_limit(rq)}
    supplier = _supplier(rq, s)
    if supplier:
        args["supplier"] = supplier
    if rq.categories:
        args["category"] = rq.categories[0]
    if rq.countries:
        args["country"] = rq.countries[0]
    quoted = bool(_flag(rq, r"\b(quoted|quote|quotes|stated|promised|say|says)\b"))
    _flag(rq, r"\b(average|avg|mean)\b")  # the answer states the average lead times
    threshold = _flag(rq, _LEAD_THRESHOLD)
    if threshold is None and rq.days is not None:  # "more than 10 days" (read as days)
        threshold = re.search(r"(?P<op>over|more than|longer than|at least)\s+(?P<n>\d+)", rq.norm)
    if threshold is not None:
        days = int(threshold.group("n"))
        if (threshold.groupdict().get("unit") or "day").startswith("week"):
            days *= 7
        if threshold.group("op") in ("over", "more than", "longer than", "above"):
            args["min_quoted_days"] = days
        elif threshold.group("op") == "at least":
            args["min_quoted_days"] = days - 1
        elif threshold.group("op") == "within":
            args["max_quoted_days"] = days + 1
        else:
            args["max_quoted_days"] = days
        rq.reading = f"Filtered on the quoted lead time ({days} days)."
    slow = _flag(rq, r"\b(longest|slowest|worst|most)\b")
    fast = _flag(rq, r"\b(shortest|fastest|quickest|best|least)\b")
    if slow and fast:
        raise NotForFastPath("both ends of the lead times asked for")
    actual = bool(_flag(rq, r"\b(actual|actually|really|real|in practice)\b"))
    if quoted and actual and (slow or fast or not supplier):
        # One supplier's row states both ("real lead time vs what they promise"); a ranking
        # or a list sorts by one of them.
        raise NotForFastPath("both the quoted and the actual lead time asked for")
    if slow or fast:
        if actual:
            args["order"] = "slowest_actual" if slow else "fastest_actual"
            rq.reading = "Ranked by the actual average lead time of received POs."
        else:  # the supplier's lead time on record is the one it quotes
            args["order"] = "longest_quoted" if slow else "shortest_quoted"
            rq.reading = "Ranked by the quoted lead time (ask for actual ones to rank by POs)."
        if not supplier and not re.search(r"\bsuppliers\b", rq.norm):
            args["top"] = args.pop("limit", 1)  # "which supplier": the first, with ties
    elif quoted and threshold is None and not supplier:
        rq.reading = "Quoted and actual lead times side by side."
    return args


def _b_supplier_contact(rq: Request, s: Session) -> dict[str, Any]:
    if re.search(r"\baddress\b", rq.norm) and not re.search(r"\be ?mail address\b", rq.norm):
        raise NotForFastPath("supplier records hold an email and a phone number, no address")
    rq.reading = "The supplier's record: email and phone, with its lead times."
    return {"supplier": _supplier(rq, s)}


def _b_pos(rq: Request, s: Session) -> dict[str, Any]:
    if re.search(r"\b(how much|total|value|worth|sum)\b", rq.norm) and not rq.pos:
        # A figure, not a list: the structured reading sums purchase orders.
        raise NotForFastPath("a purchase order value is a figure, not the order list")
    args: dict[str, Any] = {**_dates(rq), **_limit(rq)}
    if rq.pos:
        args["po_number"] = rq.pos[0]
    supplier = _supplier(rq, s)
    if supplier:
        args["supplier"] = supplier
    if _flag(
        rq,
        r"\b(overdue|past (?:their|the|its) (?:expected|due)(?: delivery)? dates?"
        r"(?:,? (?:and )?(?:still )?not (?:in|received|arrived)(?: yet)?)?)\b",
    ):
        args["status"] = "overdue"  # still open past the expected date
    elif _flag(rq, r"\blate\b"):
        # Received after the expected date, or still open past it (no period: the period
        # would date the orders, not their lateness).
        args["status"] = "late"
        rq.reading = "Late: received after the expected date, or still open past it."
    elif _flag(rq, r"\b(open|outstanding|pending|on order|due in|coming in|expected in)\b"):
        args["status"] = "open"
        rq.reading = "Open purchase orders (not yet received), with their expected dates."
    elif _flag(rq, r"\breceived\b"):
        args["status"] = "received"
    if args.get("status") in ("received", "overdue", "late") and rq.period is not None:
        raise NotForFastPath("the period filters the order date, not the receipt or due date")
    if rq.period is not None and re.search(r"\b(due|expected|coming|arriv\w*)\b", rq.norm):
        raise NotForFastPath("the period filters the order date, not the expected date")
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
        if not (rq.skus or rq.categories) and re.search(r"\bcosts? us\b", rq.norm):
            # "what did dobes cost us": a customer costs us nothing on a price list (bad
            # debts? their discounts? returns?); which one, the request does not say.
            raise NotForFastPath("what a customer 'cost us' is not a price")
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
    # The margin word is checked first: ``_flag`` marks the superlative applied, which it is
    # only when the list is sorted by margin ("the highest price" is not).
    about_margin = re.search(r"\b(margins?|profitable|profitability)\b", rq.norm) is not None
    if about_margin and _flag(rq, low + margin):
        args["order"] = "lowest_margin"
        rq.reading = "Sorted by margin % on the list price (price less cost), lowest first."
    elif about_margin and _flag(rq, high + margin):
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


def _b_product_supplier(rq: Request, s: Session) -> dict[str, Any]:
    rq.reading = "The product's supplier, from its product record."
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
    # "arrived late in june", "delivered in may": the period dates the delivery. Without
    # such a verb, "late shipments in june" could date either; that is not guessed.
    arrival = not one and rq.period is not None and _flag(rq, r"\b(arrived|arriving|delivered)\b")
    if arrival:
        args["dated_by"] = "delivered"
    if _flag(rq, r"\bin transit\b|\bon (the|its) way\b|\bout for delivery\b"):
        args["status"] = "in_transit"
    elif _flag(rq, r"\b(late|delayed)\b"):
        if rq.period is not None and not arrival:
            raise NotForFastPath("the period filters the shipping date, not the delivery date")
        args["status"] = "late"
    elif not one and _flag(rq, r"\bdelivered\b"):
        if rq.period is not None and not arrival:
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
    "damaged_in_transit": r"\b(damaged( in (transit|shipping|delivery))?|damage|transport damage"
    r"|transit damage|shipping damage)\b",
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
        _flag(rq, r"\b(because|due to|as)\b")  # the reason's marker, now applied
    if _flag(
        rq,
        r"\b((?:pending|waiting|awaiting)(?: for)?(?: an?| our)? (?:decision|approval)|open|pending"
        r"|waiting|awaiting|inspection|undecided)\b",
    ):
        args["status"] = "open"  # requested, not yet decided
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
SUMMED = _W("total totals value worth sum amount".split())
"""Words asking for the money total a list's headline states ("invoiced €X", "€Y in total")."""


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
        implies=_W("last latest recent newest".split()) | SUMMED,
    ),
    Rule(
        "overdue invoices",
        "erp_overdue_invoices",
        _t(r"\b(overdue|past due|late pay|(?:more|longer) than \w+ days|at least \w+ days)\b"),
        _W({"customer", "days", "limit"}),
        _W(),
        OVERDUE_WORDS,
        _b_overdue,
        1,
        implies=_W("late open outstanding overdue unpaid oldest owe owes owed owing".split()),
    ),
    Rule(
        "customer balance",
        "erp_customer_balance",
        _t(
            r"\b(balance|owe|owes|owed|owing|credit limit|credit left|credit does|over "
            r"(their|its|his|her|the) (credit )?limit|outstanding)\b"
        ),
        _W({"customer"}),
        _W({"customer"}),
        BALANCE_WORDS | _W({"their", "does", "do", "on", "us", "have"}),
        _b_balance,
        1,
        # "credit limit vs what they owe", "how much is used": the balance states both.
        implies=_W("above open outstanding owed owing overdue used vs versus net".split()),
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
            r"number|card|details|find|look up|who is|based|located|credit limit)\b"
        ),
        _W({"customer"}),
        _W({"customer"}),
        CUSTOMER_WORDS | _W({"their", "does", "do", "have", "where", "based", "located"}),
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
        implies=_W("last latest recent newest paid incoming received".split()) | SUMMED,
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
            r"\b(reorder|reordering|low stock|running low|getting low|low on stock|below (the |"
            r"their |its )?reorder|out of stock|needs? (re)?ordering|short on|replenish|at zero "
            r"stock|zero stock|stock at zero|(?:items?|parts?|products?|skus?|ones) (?:that )?"
            r"(?:are |is )?(?:low|at zero))\b"
        ),
        _W({"categories", "warehouses", "limit", "period"}),
        _W(),
        REORDER_WORDS | _W({"this", "week", "right", "now", "today", "pls"}),
        _b_reorder,
        1,
        implies=_W("below under level levels point points".split()),
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
        _W({"orders", "customer"}),
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
        | _W({"received", "came", "got", "older", "than", "more", "over", "still", "days", "day"})
        | _W({"old", "least"}),
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
        _t(
            r"\b(lead times?|leadtime|how long does .* (take|deliver)|delivery times?"
            r"|takes? (the )?(longest|shortest) to deliver|deliver(s)? (the )?(fastest|slowest))\b"
        ),
        _W({"supplier", "categories", "countries", "days", "limit"}),
        _W(),
        LEAD_WORDS
        | _W({"of", "our", "all", "with", "over", "more", "than", "longer", "above", "least"})
        | _W({"under", "less", "shorter", "below", "within", "week", "weeks", "longest"})
        | _W({"shortest", "slowest", "fastest", "quickest", "quoted", "quote", "quotes"})
        | _W({"stated", "promised", "say", "says", "which", "who", "has", "have", "avg", "mean"})
        | _W({"actual", "actually", "really", "practice", "real", "vs", "versus", "promise"})
        | _W({"promises", "what", "whats", "they", "it", "order", "receipt", "to", "from"})
        # A threshold's number ("over 2 weeks"): the builder must apply it, or it declines.
        | _W(str(n) for n in range(1, 100)),
        _b_lead,
        1,
        # A supplier's row states its quoted and its actual lead time (order to receipt).
        implies=_W("promise promises promised vs versus receipt deliver delivers real".split()),
    ),
    Rule(
        # One supplier's punctuality: its row counts the POs received late and the share
        # on time. (Without a supplier named, "on time" may be about shipments to customers.)
        "supplier punctuality",
        "erp_supplier_lead_times",
        _t(r"\b(on time|punctual|punctuality|deliver(s|ed)? late|late deliver(y|ies))\b"),
        _W({"supplier"}),
        _W({"supplier"}),
        LEAD_WORDS | _W("on time punctual punctuality late how is are they does do".split()),
        _b_lead,
        1,
        implies=_W("deliver delivers delivered late".split()),
    ),
    Rule(
        # The supplier's record: its contact details beside its lead times.
        "supplier contact",
        "erp_supplier_lead_times",
        _t(r"\b(e ?mail|mail|phone|telephone|phone number|contact|contact details)\b"),
        _W({"supplier"}),
        _W({"supplier"}),
        _W("e email mail phone telephone number contact details supplier address".split()),
        _b_supplier_contact,
        2,
    ),
    Rule(
        "purchase orders",
        "erp_purchase_orders",
        _t(
            r"\b(purchase orders?|pos?|on order|supplier orders?|due in|coming in from"
            r"|expected in from)\b"
        ),
        _W({"pos", "supplier", "period", "skus", "limit"}),
        _W(),
        PO_WORDS | _W({"anything", "in", "with", "coming", "when"}),
        _b_pos,
        1,
    ),
    Rule(
        "prices",
        "erp_price_list",
        _t(
            r"\b(price|prices|price list|cost|costs|margin|margins|sell (it )?for|charge|dealer "
            r"price|at a loss|loss making|profitable|profitability|pays? for|(?:they|he|she) "
            r"pays?(?: (?:after|with) (?:their|his|her) discount)?)\b"
        ),
        _W({"skus", "categories", "customer", "percent", "limit"}),
        _W(),
        PRICE_WORDS,
        _b_prices,
        # The list shows the price we sell at and the cost we pay: "what do we sell it for",
        # "what does Acme pay" (their net price) ask for shown fields.
        # A customer's price is the one after their discount ("what do they pay after their
        # discount"); who wants it names the customer whose price it is.
        # The list shows both sides of "buy price vs sell price".
        implies=_W(
            "margin margins sell selling sold charge charged pay pays after wants buy vs "
            "versus".split()
        ),
    ),
    Rule(
        "product details",
        "erp_find_product",
        _t(
            r"\b(product details|details|sku|look up|find|supplier|who sells|which supplier|who "
            r"supplies|who makes|what is|whats|show|tell me about)\b|^\W*[a-z]{3}\W?\d{4}\W*$"
        ),
        _W({"skus"}),
        _W({"skus"}),
        PRODUCT_WORDS
        | _W({"who", "sells", "supplies", "supplier", "which", "for", "makes", "made", "about"})
        | _LEAD_TIME_ASKED,
        _b_product,
        # "which supplier sells it": the product's supplier, on its record.
        implies=_LEAD_TIME_ASKED | _W({"sells"}),
    ),
    Rule(
        # The product's supplier: "who do we buy the wiper blade from" (its record names it),
        # not the customers who bought it from us.
        "product supplier",
        "erp_find_product",
        _t(
            r"\b(who|where) do (we|you|i) (usually )?(buy|get|order|source|purchase) .+ from"
            r"(?:\W*$|\W+and how long do(?:es)? (?:they|it) take\W*$)"
        ),
        _W({"skus"}),
        _W({"skus"}),
        _W({"who", "where", "buy", "get", "order", "source", "purchase", "usually", "from"})
        | _LEAD_TIME_ASKED,
        _b_product_supplier,
        1,
        implies=_LEAD_TIME_ASKED,
    ),
    Rule(
        "shipments",
        "erp_shipment_status",
        _t(
            r"\b(shipments?|shipped|ship|shipping|tracking|track|carrier|parcel|package|deliver|delivered"
            r"|delivery|deliveries|in transit|went out|dispatched|sh \d{6})\b"
        ),
        _W({"orders", "trackings", "shipments", "customer", "period", "limit"}),
        _W(),
        SHIPMENT_WORDS
        | _W(
            {"order", "for", "has", "yet", "did", "leave", "left", "us", "total", "spend", "spent"}
        ),
        _b_shipments,
        1,
        # The list's headline states the shipping cost of what it lists.
        implies=_W("shipped spend spent cost costs".split()),
    ),
    Rule(
        "returns",
        "erp_returns",
        _t(r"\b(returns?|returned|rmas?|refunds?|refunded|credit notes?|sent back|came back)\b"),
        _W({"rmas", "invoices", "orders", "skus", "customer", "period", "limit"}),
        _W(),
        RETURN_WORDS
        | _W(
            {"issued", "issue", "raise", "raised", "for", "was", "been", "parts", "products", "as"}
        )
        | _W("wrong incorrect part item items damaged damage transit transport shipping".split())
        | _W("needed need required longer unneeded unwanted surplus twice duplicate".split())
        | _W("duplicated double ordered broken working defect defects failed due".split())
        | _W("because anymore not with why reason reasons".split())
        | _W("awaiting decision approval undecided".split()),
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

_ONE_OF_SUPERLATIVE = (
    r"\b(?:oldest|earliest|newest|latest|most recent|last|biggest|largest|best|top|worst"
    r"|highest|lowest)\s+(?:[\w-]+\s+){0,2}?"
)
ONE_OF = re.compile(
    _ONE_OF_SUPERLATIVE + r"(?:invoice|order|payment|shipment|return|product"
    r"|customer|item|part|supplier|sku|po|debtor|seller)\b(?!s)"
)
"""A superlative with a singular noun asks for one row ("the oldest unpaid invoice")."""
ONE_WITH = re.compile(
    r"\b(?:invoice|order|payment|shipment|return|product|customer|item|part|supplier|sku|po)"
    r"\s+(?:with|has|had|having|that has|which has)\s+(?:the\s+)?(?:oldest|newest|latest"
    r"|biggest|largest|best|worst|highest|lowest|most|least|smallest)\b"
)
"""The singular noun first ("product with the highest margin", "which customer has the most
orders"): one row as well."""
ONE_BY_VERB = re.compile(
    r"\b(?:last|latest|most recently)\s+(?:ordered|bought|order|buy)\b"
    r"|\b(?:order|ordered|buy|bought)\s+last\b(?!\s+(?:week|month|year|quarter|\d))"
)
"""The latest one said with the verb ("what did reicher order last", "what has she last
ordered"): the latest order, one row as "their last order" is."""


def asks_for_one(norm: str, categories: Iterable[str] = ()) -> bool:
    """Whether a superlative with a singular noun asks for one row.

    The noun is a record's ("the oldest unpaid invoice") or, singular, a product category
    the request names ("lowest margin filter": one filter, not the category's list).
    """
    if ONE_OF.search(norm) or ONE_WITH.search(norm) or ONE_BY_VERB.search(norm):
        return True
    for category in categories:
        singular = category.lower().removesuffix("s")
        if re.search(_ONE_OF_SUPERLATIVE + rf"{re.escape(singular)}\b(?!s)", norm):
            return True
    return False


def _superlative(norm: str) -> tuple[Order, tuple[str, ...]] | None:
    for phrase, order in sorted(SUPERLATIVES.items(), key=lambda item: -len(item[0])):
        if re.search(rf"\b{phrase}\b", norm):
            return order, tuple(phrase.split())
    return None
