"""Read a request as measure × subject × grouping × filters × period × ranking.

``plan_query`` turns what ``parse_request`` found (names, countries, categories, SKUs, a
period, a limit) plus the left-over words into ``QueryArgs`` for ``erp_query``
(``nova.erp.skills.query``), whose declared schema says what each subject can compute.
The words are read with a small declarative vocabulary per role (``VOCABULARY``: subject
nouns, measures, dimensions, rankings, statuses, customer conditions), general business
English as an owner types it, never phrases of any dataset.

The guard is the same as the rules': every word that carries meaning must be consumed by
one slot of the plan, every entity found must be applied, and a slot the schema cannot
honour ("invoices by carrier") declines. So a request is answered with everything it asks
for, or handed to the model with the words that could not be applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from nova.erp import models as m
from nova.erp.resolve import normalise
from nova.erp.skills import name_index

from nova.erp.intents.request import Request
from nova.erp.intents.rules import GLOBAL_WORDS
from nova.erp.skills.query import LIST_SUBJECTS, SUBJECTS, QueryArgs

# --- the vocabulary -------------------------------------------------------------------------
# Each entry: phrase -> (role, value). Roles: subject, measure, verb (subject with a default
# measure), dim (a dimension named after by/per/each/which), rank, status (subject-specific,
# checked against the schema), condition (customers), op (by/per/which: grouping markers),
# filler (words that only carry the sentence, consumed without meaning).


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
            "orders": "order,orders,sales order,sales orders,order lines,order line,lines",
            "invoices": "invoice,invoices,bill,bills",
            "payments": "payment,payments",
            "returns": "return,returns,rma,rmas",
            "shipments": "shipment,shipments,delivery,deliveries,parcel,parcels,consignments",
            "purchase_orders": "purchase order,purchase orders,po,pos,supplier orders",
            "customers": "customer,customers,cust,custs,client,clients,accounts,account",
            "stock_movements": "stock movements,movements,bookings,stock bookings",
            "stock": "stock,inventory",
            "credit_notes": "credit note,credit notes,credits",
        },
    ),
    **_entries(
        "measure",
        {
            "count": "how many,number of,count,no of",
            "value": "how much,total,totals,value,sum,worth,amount",
            "average": "average,avg,mean,on average,typical",
            "units": "units,pieces,quantity,qty",
            "discount": "discount,discounts,discount given",
            "profit": "profit,gross profit,profits",
            "open_amount": "receivables,owed,outstanding,unpaid amount,open amount",
            "reserved": "reserved,allocated",
            "days_to_pay": "take to pay,days to pay,time to pay,pay time",
            "days_to_ship": "time to ship,days to ship,how fast do we ship,how quickly do we ship",
            "days_in_transit": "delivery time,delivery times,transit time,days in transit",
        },
    ),
    **_entries(
        "verb",
        {
            "orders": "sell,sold,sales,revenue,revenues,turnover,selling,sells",
            "invoices": "invoiced,billed,raised invoices",
            "payments": "collect,collected,received,came in,got paid",
            "purchase_orders": "spent on purchasing,spend on purchasing,purchasing spend,"
            "bought from suppliers",
            "shipments": "ship,shipped,send out,sent out",
            "returns": "returned",
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
    **_entries("op", {"which": "which,what", "who": "who,whos,who is"}),
    **_entries(
        "rank",
        {
            "highest": "most,best,highest,top,biggest,largest,main,busiest,greatest,most common",
            "lowest": "least,worst,lowest,fewest,smallest,weakest,quietest,slowest",
        },
    ),
    **_entries(
        "status",
        {
            "cancelled": "cancelled,canceled,cancel,cancellations",
            "open": "open,unpaid,pending,still open",
            "paid": "paid,settled",
            "overdue": "overdue,past due",
            "not_due": "not due,not yet due,not due yet",
            "unapplied": "unapplied,unallocated,unmatched,on account",
            "rejected": "rejected,refused,declined,knocked back,knock back,turned down,turn down",
            "refunded": "refunded",
            "late": "late,delayed,running late",
            "in_transit": "in transit,on the way",
            "delivered": "delivered",
            "received": "received",
            "on_order": "on order",
            "adjustment": "adjustment,adjustments,stock adjustments,corrections",
            "receipt": "receipts,goods receipts,goods in",
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
    **_entries(
        "filler",
        {
            "": "did,do,does,we,our,us,in,on,so far,to date,overall,altogether,in total,"
            "was,were,had,has,have,is,are,give away,gave away,given,give,raise,raised,issued,"
            "sent,use,used,place,placed,get,got,there,been,make,made,come,came,stuff,things",
        },
    ),
}
"""Every word or phrase the structured reading understands, with its role."""

MEASURE_SUBJECT: dict[str, str] = {
    "open_amount": "invoices",
    "days_to_pay": "invoices",
    "days_to_ship": "shipments",
    "days_in_transit": "shipments",
    "discount": "orders",
    "profit": "orders",
    "reserved": "stock",
}
"""The subject a measure belongs to when the request names none ("receivables")."""

DIMENSION_SUBJECT: dict[str, str] = {
    "carrier": "shipments",
    "reason": "returns",
    "method": "payments",
}
"""The subject a grouping implies when the request names none ("which carrier ...")."""

STATUS_SUBJECT: dict[str, str] = {"on_order": "purchase_orders", "unapplied": "payments"}
"""The subject a status implies when the request names none ("on order with ...")."""

STATUS_OF_SUBJECT: dict[tuple[str, str], str] = {
    ("purchase_orders", "on_order"): "open",
    ("purchase_orders", "open"): "open",
    ("stock_movements", "received"): "receipt",
    ("stock_movements", "receipt"): "receipt",
    ("stock_movements", "adjustment"): "adjustment",
    ("returns", "open"): "open",
    ("shipments", "late"): "late",
    ("invoices", "open"): "open",
    ("invoices", "overdue"): "overdue",
    ("invoices", "not_due"): "not_due",
}
"""Status words that name a different schema status for some subjects."""


# --- reading --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Slots:
    subjects: list[str] = field(default_factory=list)
    measures: list[str] = field(default_factory=list)
    verbs: list[str] = field(default_factory=list)
    dims: list[tuple[int, str]] = field(default_factory=list)
    ops: list[tuple[int, str]] = field(default_factory=list)
    ranks: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    tokens: list[tuple[int, str, str]] = field(default_factory=list)
    """(position, role, value) in reading order."""


_LONGEST = max(len(phrase) for phrase in VOCABULARY)


def _read(words: list[str]) -> _Slots:
    slots = _Slots()
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
    carriers = {normalise(c): str(c) for c in session.scalars(select(m.Shipment.carrier).distinct())}
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
        products = [(e.number, e.name) for e in name_index(session, m.Product).entities]
        names = [(sku, {f for w in normalise(name).split() for f in _forms(w)}) for sku, name in products]
        # "oil filters": the category word belongs to the description when both fit a name.
        extra = [w for c in categories for w in normalise(c).split()]
        for words in ([*left, *extra], left) if extra else (left,):
            fits = [sku for sku, forms in names if all(_forms(w) & forms for w in words)]
            if fits and len(fits) <= 40 and (len(words) > 1 or len(fits) <= 6):
                found["products"] = fits
                if words is not left:
                    found["category"] = None
                left = []
                break
    return found, left


def _forms(word: str) -> set[str]:
    """A word and its singular forms ("boxes" → box, boxe; "filters" → filter)."""
    forms = {word}
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        forms.add(word[:-1])
        if word.endswith("es"):
            forms.add(word[:-2])
    return forms


def plan_query(request: Request, session: Session) -> QueryArgs | str:
    """Read ``request`` as one ``erp_query`` plan, or say why not (a decline reason)."""
    tokens = _read(request.residual)
    values: dict[str, Any] = {}
    if tokens.unknown:
        values, left = _data_values(tokens.unknown, request.categories, session)
        if left:
            return f"words the structured reading cannot place: {sorted(set(left))[:5]}"
        if "products" in values and request.skus:
            return "a product named twice"
    for kind in ("invoices", "orders", "pos", "rmas", "shipments", "trackings", "amounts",
                 "quantities", "warehouses", "percent", "delta", "method", "min_amount",
                 "days"):  # fmt: skip
        if request.count(kind):
            return f"{kind} in the request: not an aggregate question"
    if request.product_choices or request.unknown_name:
        return "a product or name to settle first"
    # --- assign each token to a slot, dimensions by their marker
    subjects: list[str] = []
    measures: list[str] = []
    verbs: list[str] = []
    ranks: list[str] = []
    statuses: list[str] = []
    conditions: list[str] = []
    group: str | None = None
    marker: str | None = None
    dims_unmarked: list[str] = []
    seq = tokens.tokens
    for index, (_pos, role, value) in enumerate(seq):
        if role == "op":
            if value == "who":  # "who returns the most": customers, ranked
                if group not in (None, "customer"):
                    return "two groupings"
                group, marker = "customer", None
                continue
            marker = value
            continue
        if role == "dim":
            after_group = marker == "group" and index > 0 and seq[index - 1][1] == "op"
            after_which = marker == "which" and index > 0 and seq[index - 1][1] == "op"
            if after_group or after_which:
                if group is not None and group != value:
                    return "two groupings"
                group = value
                marker = None
                continue
            dims_unmarked.append(value)
            marker = None
            continue
        marker = None if role not in ("filler",) else marker
        if role == "subject":
            subjects.append(value)
        elif role == "measure":
            measures.append(value)
        elif role == "verb":
            verbs.append(value)
        elif role == "rank":
            ranks.append(value)
        elif role == "status":
            statuses.append(value)
        elif role == "condition":
            conditions.append(value)
    # A dimension word not after by/per/which ("customers", "products") is a subject noun
    # when the vocabulary has it as one; otherwise it names the thing to rank.
    for value in dims_unmarked:
        if value == "customer" and not (ranks and group is None):
            subjects.append("customers")
        elif group is None and ranks:
            group = value  # "main reason for returns", "worst month": the thing ranked
        else:
            return f"{value!r} is named but not grouped by or filtered on"
    # --- the subject
    subject_set = set(subjects) | set(verbs)
    if "customers" in subject_set and (conditions or subject_set == {"customers"}):
        subject_set = {"customers"} | (subject_set & {"orders"} if "ordered" in conditions else set())
        subject_set.discard("orders")
    if "stock" in subject_set and statuses and set(statuses) <= {"adjustment", "receipt", "received"}:
        subject_set = (subject_set - {"stock"}) | {"stock_movements"}
    implied = False
    if not subject_set:
        # No noun: the measure or the grouping names the subject ("receivables by country",
        # "which carrier do we use most"); a ranked month or category means sales.
        subject_set = {MEASURE_SUBJECT[m] for m in measures if m in MEASURE_SUBJECT}
        if not subject_set:
            subject_set = {STATUS_SUBJECT[s] for s in statuses if s in STATUS_SUBJECT}
        if not subject_set and request.suppliers:
            subject_set = {"purchase_orders"}
        if not subject_set and group in DIMENSION_SUBJECT:
            subject_set = {DIMENSION_SUBJECT[group]}
        if not subject_set and group is not None and ranks:
            subject_set, implied = {"orders"}, True
    if "adjustment" in statuses and not subject_set - {"stock"}:
        subject_set = {"stock_movements"}
    if len(subject_set) != 1:
        return f"subject unclear: {sorted(subject_set) or 'none'}"
    subject = subject_set.pop()
    spec = SUBJECTS[subject]
    # --- the measure
    measure = _measure(subject, set(measures), ["sales"] if implied else verbs, request)
    if measure is None:
        return f"measure unclear for {subject}: {sorted(set(measures))}"
    if subject == "customers" and group == "customer":
        group = None  # "which customers ...": list them
    list_rows = False
    if not measures and group is None and not ranks:
        if subjects and subject in LIST_SUBJECTS:
            list_rows = True
        else:
            return "nothing to compute"
    if ranks and group is None:
        return "a ranking without anything to rank"
    # --- status and conditions
    status: str | None = None
    for word in statuses:
        mapped = STATUS_OF_SUBJECT.get((subject, word), word)
        if mapped not in spec.statuses:
            return f"{subject} cannot be filtered as {word!r}"
        if status is not None and status != mapped:
            return "two statuses"
        status = mapped
    condition: str | None = None
    if conditions:
        if subject != "customers" or len(set(conditions)) > 1:
            return f"conditions {conditions} do not apply to {subject}"
        condition = conditions[0]
    if subject == "customers" and "open_amount" in measures:
        condition, measure = "owing", "count"
    args: dict[str, Any] = {
        "subject": subject,
        "measure": measure,
        "group_by": group,
        "list_rows": list_rows,
    }
    if ranks:
        if len(set(ranks)) > 1:
            return "two rankings"
        if ranks[0] == "lowest" and group not in ("month", "weekday", "country", "status"):
            # Customers or products that sold nothing are no group at all: the bottom of a
            # grouped list is not the slowest seller.
            return "a ranking from the bottom over records that may have none"
        args["rank"] = ranks[0]
        args["limit"] = request.limit or (1 if _singular(seq) else 10)
    elif request.limit is not None:
        return "a limit without a ranking"
    if status:
        args["status"] = status
    if condition:
        args["customer_condition"] = condition
    if request.period is not None:
        args["date_from"] = request.period.start
        args["date_to"] = request.period.end
    if request.customers or request.customer_numbers:
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
    args |= values
    if args.get("category", "") is None:
        del args["category"]
    if measure == "count" and "orders" in verbs and (args.get("products") or args.get("category")):
        args["measure"] = "units"  # "how many oil filters did we sell": units, not orders
    try:
        return QueryArgs.model_validate(args)
    except ValidationError as error:
        return f"the plan does not fit the schema: {error.errors()[0]['msg']}"


def _singular(seq: list[tuple[int, str, str]]) -> bool:
    """Whether the ranked thing is asked for in the singular ("which carrier")."""
    return True


def _measure(subject: str, measures: set[str], verbs: list[str], request: Request) -> str | None:
    spec = SUBJECTS[subject]
    wanted = set(measures)
    if "average" in wanted:
        wanted.discard("average")
        wanted.discard("value")
        for specific in ("days_to_pay", "days_to_ship", "days_in_transit"):
            if specific in wanted:
                return specific if specific in spec.measures else None
        if "discount" in wanted:
            return "average_discount_pct" if subject == "orders" else None
        if wanted - {"count"}:
            return None
        return "average_value" if "average_value" in spec.measures else None
    for specific in ("days_to_pay", "days_to_ship", "days_in_transit", "discount", "profit",
                     "reserved", "units", "open_amount"):  # fmt: skip
        if specific in wanted:
            if len(wanted - {specific, "value", "count" if specific == "units" else ""}) > 0:
                return None
            if specific == "open_amount" and subject == "customers":
                return "count"
            return specific if specific in spec.measures else None
    if wanted == {"count"} or (not wanted and subject != "stock"):
        if "count" in wanted or not verbs or subject in ("shipments", "returns"):
            return "count"
        return "value" if "value" in spec.measures else "count"
    if wanted == {"value"} or wanted == {"value", "count"} and False:
        return "value" if "value" in spec.measures else None
    return None
