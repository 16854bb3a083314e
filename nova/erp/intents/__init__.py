"""Read an ERP request without a model: which skill, with which arguments, or why not.

``parse_request`` finds everything checkable in the text (document numbers, SKUs, a
period, amounts, limits, categories, warehouses, customer and supplier names) and keeps
the words it could not explain. ``plan_request`` then applies the intent ``RULES``: a
rule fits when its trigger words are present, every entity it needs was found, it uses
every entity that was found, and every left-over word is in its vocabulary. Exactly one
skill must fit, otherwise the request is declined (a model agent takes it). Names that
fit two customers and dates that cannot be read produce a clarifying question.

When no rule fits, ``structured`` reads the request as one plan for the general query skill
``erp_query`` (measure × subject × grouping × filters × period × ranking); a question about
one named record's own fields ("when's PO-2025-0120 coming in") is answered by that record.

The package: ``request`` (what a request contains), ``parsing`` (``parse_request``),
``rules`` (the words, condition words, rules and their argument builders), ``structured``
(``plan_query``) and this module (``plan_request`` / ``plan_parsed``).

The design errs towards declining: an unknown word, a second period, an entity the skill
cannot use ("grouped by", "compare", "why", "not") all send the request to the model.
"""

from __future__ import annotations

import functools
import re
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nova.erp import models as m
from nova.erp.intents.latest import Latest, latest_record, referenced_order
from nova.erp.intents.parsing import (
    ERP_WORDS,
    MONEY_RE,
    PERCENT_RE,
    parse_number,
    parse_request,
)
from nova.erp.intents.request import (
    NotForFastPath,
    Request,
    Unclear,
)
from nova.erp.intents.rules import (
    ALL_RULE_WORDS,
    CONDITION_WORDS,
    FIRST_ROW,
    GLOBAL_WORDS,
    RULES,
    SUPERLATIVES,
    Order,
    Rule,
    _superlative,
    asks_for_one,
)
from nova.erp.intents.structured import MODAL, VOCABULARY, grouping, plan_query
from nova.erp.resolve import normalise
from nova.erp.results import Row, columns_of
from nova.erp.skills import READ_SKILLS, AmbiguousName, SkillArgs
from nova.erp.skills.query import QueryArgs
from nova.erp.skills.stock import StockLevelArgs, StockMovementsArgs
from nova.erp.writes import WRITE_SKILLS


@dataclass(frozen=True, slots=True)
class Plan:
    """The fast path can answer: run ``skill`` with ``args``."""

    skill: str
    args: SkillArgs
    rule: str
    reading: str | None = None
    """How a request that reads two ways was read; the answer's first line."""
    one_record: bool = False
    """The request asks about one record it does not name ("the delivery to Kessler").

    Its answer must hold one row: a list of several does not say which one was meant, so the
    fast path hands such a result to the model (``answers_one_record``).
    """

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
    decision = _plan_request(request, session, allowed)
    if isinstance(decision, Plan) and decision.skill in READ_SKILLS:
        why = _not_a_lookup(request.norm)
        if why is not None:
            return Decline(why)
    if request.german is not None and isinstance(decision, Plan):
        # The owner sees what the German was read as, before any figure.
        read = f"Read from German as “{request.text}”."
        return replace(decision, reading=f"{read} {decision.reading}" if decision.reading else read)
    return decision


_ACTION = re.compile(
    r"^(?:please |pls |can you |could you )?(?:reorder(?! (?:candidates?|points?|levels?|list|"
    r"report|suggestions?)\b)|refund|cancel|book|create|raise|adjust|"
    r"block|unblock|delete|remove|change|update|write off|send(?! me\b)|chase|remind|approve|"
    r"buy|purchase(?! orders?\b)|place|ship|"
    # "order the clutch discs from delta": the verb, not "order 4921" or "order status".
    r"order(?= (?:the|a|an|some|more|another|them|it|those|these|new|what|everything)\b))\b"
)
"""A request that opens with an action ("reorder everything under reorder point in ulm"):
a read skill would only list what the action is about, which reads as done."""
_ALSO_CONDITION = re.compile(r"\b(?:that|who|which|and)\s+(?:\w+\s+)?also\b")
"""A second condition on the same records ("biggest customer that also has something
overdue"), which one reading applies as if it were the first."""


def _not_a_lookup(norm: str) -> str | None:
    """Say why a read skill must not answer ``norm`` (an action, a second condition)."""
    if _ACTION.search(norm):
        return "the request asks for an action; the read skills only look things up"
    if _ALSO_CONDITION.search(norm):
        return "'also' adds a condition on the same records that the reading does not apply"
    return None


def _plan_request(request: Request, session: Session, allowed: set[str]) -> Decision:
    if request.product_choices:
        ranked = _structured(request, session, allowed)
        if isinstance(ranked, Plan):
            # "cheapest brake disc": every product the description fits, ranked
            return replace(ranked, one_record=asks_for_one_record(request, ranked))
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
    """Read an already parsed request (see ``_plan_parsed``), marking one-record questions."""
    decision = _plan_parsed(request, session, allowed)
    if isinstance(decision, Plan) and asks_for_one_record(request, decision):
        return replace(decision, one_record=True)
    return decision


_ONE_RECORD = re.compile(
    r"\b(?:the|my|his|her|their|its|that)\s+(?:[a-z]+\s+){0,2}?"
    r"(?:invoice|order|delivery|parcel|shipment|payment|return|purchase order|po)"
    r"(?=\s*$|\s+(?:for|from|to|of|with|by|on|is|was|has|had|been|go|gone|went|get|got|"
    r"arrive|arrived|ship|shipped|paid|sent|still|yet|already)\b)"
)
"""A definite singular record ("the delivery to weber", "their invoice", "my parcel yet")."""


_OWNERS_RECORD = re.compile(
    r"\b[^\W\d_][\w-]*['’]s\s+(?:last\s+|latest\s+|recent\s+|current\s+)?"
    r"(?:invoice|order|delivery|parcel|shipment|payment|return|purchase order|po)"
    r"(?=\s*(?:$|[?.!,;]|now\b|today\b))",
    re.IGNORECASE,
)
"""A customer's singular record, ending the clause ("where's hecker's shipment")."""


def asks_for_one_record(request: Request, plan: Plan) -> bool:
    """Whether ``request`` asks about one record that it does not name by number.

    "did cooper pay their invoice", "tracking number for the Kessler delivery": a list of
    every invoice or shipment of the customer answers a different question. A record named
    by its number, or a plan that keeps one row ("the last delivery": limit 1), is one.
    """
    if request.kinds() & (_RECORD_KINDS | {"payments", "credit_notes", "trackings"}):
        return False
    if getattr(plan.args, "limit", None) == 1:
        return False
    if any(value for name, value in plan.args if name.endswith("_number")):
        return False  # the plan names the record ("their latest order": SO-4933)
    return (
        _ONE_RECORD.search(request.norm) is not None
        or _OWNERS_RECORD.search(request.text) is not None
    )


def answers_one_record(plan: Plan, total_rows: int) -> bool:
    """Whether a result of ``total_rows`` rows answers ``plan``'s request (see ``one_record``)."""
    return not plan.one_record or total_rows <= 1


def _plan_parsed(request: Request, session: Session, allowed: Iterable[str]) -> Decision:
    """Read an already parsed request (see ``plan_request``): structured, rules, or decline.

    The intent ``RULES`` are tried first (a rule that leaves a grouping such as "by reason"
    unapplied declines); when they decline, the structured reading
    (``nova.erp.intents.structured``), then a question about one named record's fields,
    before the request goes to the model.

    Args:
        request: What ``parse_request`` found (or a merge of several turns' findings,
            ``nova.erp.followup``).
        session: Database session, for resolving names.
        allowed: The ERP skills the agent may use.

    """
    allowed = set(allowed)
    if _COUNT_AND_RANKING.search(request.norm):
        return Decline("a count and a ranking asked together; the skills answer one")
    if _SUBSET_QUESTION.search(request.norm) and not _LIMIT_USED.search(request.norm):
        # "how many orders last week and how many of them got cancelled": one skill answers
        # one of the two questions (the cancelled ones), which reads as the answer to both.
        return _pointed_plan(request, session, allowed, (latest_record,)) or Decline(
            "a second question about part of the first; the skills answer one"
        )
    if _NEWEST_RECORD_STATUS.search(request.norm):
        # "has lindau's latest order shipped": the newest order's own status, not the newest
        # of the shipped ones, which the customer-orders list filtered by status would give.
        pointed = _pointed_plan(request, session, allowed, (latest_record,))
        if pointed is not None:
            return pointed
    decision = _plan_rules(replace(request, applied=set(request.applied)), session, allowed)
    if not isinstance(decision, Decline):
        return decision
    structured = _structured(request, session, allowed)
    if isinstance(structured, Plan):
        return structured
    question = _record_question(request)
    if question is not None:
        answer = _plan_rules(question, session, allowed)
        if isinstance(answer, Plan):
            return answer
    pointed = _pointed_plan(request, session, allowed, (latest_record, referenced_order))
    if pointed is not None:
        return pointed
    if isinstance(structured, Decline):
        # Both readings' reasons, so a log or an evaluation says what each could not place.
        return Decline(f"{decision.reason}; structured reading: {structured.reason}")
    return decision


def _pointed_plan(
    request: Request,
    session: Session,
    allowed: set[str],
    readers: Iterable[Callable[[Request, Session, dict[str, frozenset[str]]], Latest | None]],
) -> Plan | None:
    """Plan the one record ``request`` points to without its number, saying how it was found.

    ``readers`` find it (``latest_record``: a customer's last order; ``referenced_order``:
    an order by the customer's reference); the record's own lookup answers it.
    """
    for reader in readers:
        found = reader(request, session, RECORD_QUESTION_WORDS)
        if found is not None:
            answer = _plan_rules(found.request, session, allowed)
            if isinstance(answer, Plan):
                return replace(answer, reading=found.reading)
    return None


def _plan_rules(request: Request, session: Session, allowed: set[str]) -> Decision:
    """Apply the intent ``RULES``: exactly one skill must fit, with every condition applied."""
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
    guard = _unanswerable(request, session, rule.skill)
    if guard is not None:
        return Decline(guard)
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
        asks_for_one(request.norm, request.categories)
        and request.limit is None
        and "limit" in _args_model(rule.skill).model_fields
    ):
        raw["limit"] = 1
    unapplied = sorted((set(request.residual) & CONDITION_WORDS) - request.applied - rule.implies)
    if unapplied:
        return Decline(f"{rule.skill} cannot apply {', '.join(map(repr, unapplied))}")
    unplaced = unplaced_words(request, rule)
    if unplaced:
        return Decline(f"{rule.skill} cannot place {', '.join(map(repr, unplaced))}")
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
    group = grouping(request.norm)
    if group is not None and not set(group.split()) <= request.applied:
        return Decline(f"{rule.skill} cannot group {group!r}")
    return Plan(rule.skill, args, rule.name, request.reading)


def unplaced_words(request: Request, rule: Rule) -> list[str]:
    """Return the request's content words that ``rule``'s reading neither uses nor names.

    A rule's vocabulary lets a word through so the rule can be tried; that does not mean
    the skill applies it. A left-over word is accounted for when it is a function word,
    part of what the rule's trigger matched (the words that chose the skill), a condition
    the builder applied, one the skill honours by its nature (``Rule.implies``), or a word
    that only names the records or figures asked about (``NEUTRAL_WORDS``). Anything else
    ("versus", "reliable", "popular", "confirmed") is a qualifier the answer would silently
    ignore, so the request goes to the model instead.
    """
    words = set(request.residual) - GLOBAL_WORDS - request.applied - rule.implies - NEUTRAL_WORDS
    if not words:
        return []
    shown = skill_words(rule.skill) | _stems(rule.name.split())
    words = {w for w in words if w not in shown and _stem(w) not in shown}
    named = sorted(request.kinds() & _RECORD_KINDS)
    if len(named) == 1 and request.count(named[0]) == 1 and named[0] in rule.requires:
        # One record named and looked up: its answer shows every field asked about.
        words -= RECORD_QUESTION_WORDS[named[0]]
    if "when" in request.residual:
        words -= _DATE_FIELDS  # "when is ... due": the date the listed records show
    if rule.trigger.pattern != ".":
        for match in rule.trigger.finditer(request.norm):
            words -= set(match.group(0).split())
    return sorted(w for w in words if not w.startswith("\x00"))


_SUFFIX = re.compile(r"(?:ations?|ions?|ings?|ed|es|s|e)$")


def _stem(word: str) -> str:
    """Cut one inflection off ``word`` ("reservations", "reserved": "reserv"), keeping 4 letters."""
    stem = _SUFFIX.sub("", word) if not word.endswith("ss") else word
    return stem if len(stem) >= 4 else word


def _stems(words: Iterable[str]) -> frozenset[str]:
    return frozenset(w for word in words for w in (word, _stem(word)))


@functools.cache
def skill_words(skill: str) -> frozenset[str]:
    """Return the words naming what ``skill``'s answer shows: its columns and its purpose.

    Read from the skill itself (the headings of its result rows and the first sentence of
    its description), so a word asking for a shown field ("VAT ID", "credit left", "days
    late") is accounted for, and a new skill or column needs no word list of its own.
    """
    if skill in READ_SKILLS:
        found = READ_SKILLS[skill]
        text = found.description.split(".")[0]
        result = typing.get_type_hints(found.run).get("return")
        meta = getattr(result, "__pydantic_generic_metadata__", {})
        rows = meta.get("args") or ()
        if rows and isinstance(rows[0], type) and issubclass(rows[0], Row):
            text += " " + " ".join(column["label"] for column in columns_of(rows[0]))
    else:
        text = (WRITE_SKILLS[skill].description or "").split(".")[0]
    return _stems(normalise(text).split()) - CONDITION_WORDS


def _structured(request: Request, session: Session, allowed: set[str]) -> Decision | None:
    """Read the request as one ``erp_query`` plan when no intent rule fits it."""
    if QUERY_SKILL not in allowed or _SHARE.search(request.norm):
        return None
    plan = plan_query(replace(request, residual=list(request.residual)), session)
    if isinstance(plan, str):
        return Decline(plan)
    guard = _unanswerable(request, session, QUERY_SKILL, due_dates=plan.date_basis == "due")
    if guard is not None:
        return Decline(guard)
    counted = counted_noun(request.norm)
    kept_groups = plan.above is not None and counted == "customers" and plan.group_by == "customer"
    if (
        counted not in (None, "stock")
        and plan.measure == "count"
        and counted != plan.subject
        and not kept_groups  # "how many customers ordered more than 3 times": the groups kept
    ):
        # "how many orders did we get from new customers": the plan counts the customers.
        return Decline(f"the reading counts {plan.subject}, the request {counted}")
    one_product = _one_product_stock(plan, allowed)
    if one_product is not None:
        return one_product
    movements = _movement_list(plan, request, allowed)
    if movements is not None:
        return movements
    reading = None
    if plan.subject == "payments" and _CAME_IN.search(request.norm):
        # Orders and goods come in too; most owners mean money, and the answer says so.
        reading = "Read “came in” as payments received."
    elif (
        plan.subject == "invoices"
        and plan.status == "open"
        and not _INVOICE_NAMED.search(request.norm)
    ):
        reading = "Read “open” as open invoices."  # "hecker – anything open?"
    return Plan(QUERY_SKILL, plan, "structured query", reading)


_INVOICE_NAMED = re.compile(r"\b(?:invoices?|inv|invs|bills?|posten|receivables?|owe[sd]?|owing)\b")
"""Words that already say the open records are invoices (no reading line needed)."""
_CAME_IN = re.compile(r"\b(?:came|come|coming) in\b(?!.*\b(?:payments?|money|cash)\b)")
"""Money that came in, said without naming it ("what came in on saturday")."""


STOCK_SKILL = "erp_stock_level"
MOVEMENTS_SKILL = "erp_stock_movements"
_STOCK_LEVEL_READS = frozenset({"subject", "measure", "products", "warehouse"})
"""The query arguments a stock level carries over; any other one set keeps the plan a query."""


def _sets_beyond(plan: QueryArgs, reads: frozenset[str]) -> bool:
    """Whether ``plan`` sets an argument outside ``reads`` (one another skill cannot apply).

    Derived from ``QueryArgs``' fields, so an argument added to the query later is covered too.
    """
    return any(
        getattr(plan, name) != field.get_default(call_default_factory=True)
        for name, field in QueryArgs.model_fields.items()
        if name not in reads
    )


def _one_product_stock(plan: QueryArgs, allowed: set[str]) -> Plan | None:
    """Read one product's units ("LUB-7939 in ulm") with the stock skill instead.

    The query skill sums units on hand, one figure; for one product the stock skill states the
    same units with what is reserved, available and on order, which is what "how many do we
    have" means to someone about to sell or reorder it. Any other argument (a period, a
    grouping, a ranking, a limit, a filter) is one the stock skill cannot apply.
    """
    if (
        STOCK_SKILL not in allowed
        or plan.subject != "stock"
        or plan.measure != "on_hand"
        or len(plan.products) != 1
        or _sets_beyond(plan, _STOCK_LEVEL_READS)
    ):
        return None
    args = StockLevelArgs(product=plan.products[0], warehouse=plan.warehouse)
    return Plan(STOCK_SKILL, args, "stock level")


_MOVEMENT_LIST_READS = frozenset({"subject", "measure", "status", "date_from", "date_to",
                                  "warehouse", "products"})  # fmt: skip
_MOVEMENT_KINDS = ("adjustment", "receipt", "sale", "return")
_FIGURE_WORDS = re.compile(
    r"\b(?:how many|how much|net|total|totals|sum|count|units|qty|quantity|pieces|pcs)\b"
)


def _movement_list(plan: QueryArgs, request: Request, allowed: set[str]) -> Plan | None:
    """Read "stock adjustments this month" as the bookings themselves, not their net units.

    With no figure asked for, the owner wants to see which products were adjusted and by how
    much; the query would only sum them. The movements skill lists them, one line each.
    """
    if (
        MOVEMENTS_SKILL not in allowed
        or plan.subject != "stock_movements"
        or plan.measure != "units"
        or plan.date_from is None
        or plan.status not in (None, *_MOVEMENT_KINDS)
        or len(plan.products) > 1
        or _FIGURE_WORDS.search(request.norm)
        or _sets_beyond(plan, _MOVEMENT_LIST_READS)
    ):
        return None
    args = StockMovementsArgs.model_validate(
        {
            "product": plan.products[0] if plan.products else None,
            "warehouse": plan.warehouse,
            "kind": plan.status,
            "date_from": plan.date_from,
            "date_to": plan.date_to,
        }
    )
    return Plan(MOVEMENTS_SKILL, args, "stock movements")


QUERY_SKILL = "erp_query"


_SUBSET_QUESTION = re.compile(
    r"\b(?:and|but)\s+(?:how many|how much|what|which|who)\s+"
    r"(?:of them|of those|of these|of it|are|were|is|was|did|got|have|has|had)\b"
)
"""A second question about part of what the first one counted ("... and how many of them")."""
_COUNT_AND_RANKING = re.compile(
    r"\bhow many\b.*\b(?:and|plus)\s+(?:what|whats|which|who)(?:\s+is|\s+s|\s+was|\s+are)?\s+"
    r"(?:the\s+|our\s+)?(?:main|top|most|biggest|commonest|usual|typical)\b"
)
"""A count and a ranking asked together ("how many returns and what's the main reason")."""
_NEWEST_RECORD_STATUS = re.compile(
    r"\b(?:latest|last|most recent|newest)\s+(?:order|invoice|po|return)\b.*\b(?:shipped|"
    r"delivered|arrived|received|paid|cancelled|canceled|refunded|go out|gone out|went out)\b"
    r"|\b(?:shipped|delivered|arrived|paid|cancelled|canceled)\b.*\b(?:latest|last|most recent|"
    r"newest)\s+(?:order|invoice|po|return)\b"
)
"""A status asked of the newest record ("has their last order shipped", "last invoice paid?")."""
_LIMIT_USED = re.compile(
    r"\blimit\b.*\band how much (?:of it )?(?:is |has been |they have )?(?:used|left|available)\b"
)
""""credit limit and how much of it is used": the balance states both, so it is one question."""

_RECORD_KINDS = frozenset({"invoices", "orders", "pos", "rmas", "shipments"})
_DATE_FIELDS = frozenset({"due", "issued"})
"""Date fields every invoice row shows, asked with "when"."""


def _record_question(request: Request) -> Request | None:
    """One document named, and only questions about its fields: the request without them."""
    present = request.kinds()
    if len(present) != 1 or not present <= _RECORD_KINDS or request.count(next(iter(present))) != 1:
        return None
    kind = next(iter(present))
    words = set(request.residual) - GLOBAL_WORDS
    if "and" in request.residual or request.unknown_name:
        return None  # "SO-1101 and has the invoice been paid": a second question
    if not words or not words <= RECORD_QUESTION_WORDS[kind]:
        return None
    return replace(request, residual=[], applied=set())


# A share ("how much of our sales is ..."), a count of an order's lines, or a strict
# "below" the reorder point: the skills answer something close but not that.
_SHARE = re.compile(r"\bhow much of\b|\bshare\b|\bpercentage\b|\bproportion\b")
_SHARE_SIGN = re.compile(
    r"\bwhat\s*%|%\s*of\b|\bpercent\s+of\b|\bwhat percent\b"
    # "late most often, in %": a share; "lowest margin, in %" is a rate already.
    r"|^(?!.*\b(?:margin|margins|markup|discount|rate|growth)\b).*\b(?:in|as)\s+(?:a\s+)?(?:%|percent\b)"
)
"""A share asked with the percent sign ("what % of sales"), not a percentage given ("10% off")."""


_PENDING = re.compile(
    r"\b(?:left|still|yet|waiting|need|needs|needed|have|has|had|got|supposed|ready)\s+to\s+"
    r"(?:be\s+)?[a-z]+|\b(?:orders?|items?|parts?|invoices?|parcels?|shipments?|what|stuff)\s+"
    r"to\s+(?:be\s+)?(?:ship|send|deliver|dispatch|invoice|bill|pack|pick|pay)\w*"
)
"""An action still to come ("left to ship", "orders to be invoiced", "have to pay")."""
_TREND = re.compile(
    r"\b(?:is|are|was|were|going|gone|went|go|goes)\s+(?:[a-z]+\s+){0,2}(?:up|down)\b"
)
"""A rise or fall asked about ("is revenue up this month", "are returns going down")."""

EVENT_WORDS: dict[str, tuple[re.Pattern[str], str]] = {
    "erp_invoice_lookup": (re.compile(r"\b(?:paid|payed|settled)\b"), "issue date"),
    "erp_customer_orders": (re.compile(r"\b(?:shipped|delivered|dispatched)\b"), "order date"),
    "erp_returns": (re.compile(r"\b(?:refunded|credited|received)\b"), "request date"),
}
"""Statuses reached on a date of their own, for list skills whose period is another date."""

COUNTED: dict[str, frozenset[str]] = {
    "erp_payment_history": frozenset({"payments"}),
    "erp_customer_orders": frozenset({"orders"}),
    "erp_sales_summary": frozenset({"orders"}),
    "erp_invoice_lookup": frozenset({"invoices"}),
    "erp_overdue_invoices": frozenset({"invoices", "customers"}),
    "erp_returns": frozenset({"returns"}),
    "erp_shipment_status": frozenset({"shipments"}),
    "erp_purchase_orders": frozenset({"purchase_orders"}),
    "erp_find_customer": frozenset({"customers"}),
    "erp_top_customers": frozenset({"customers"}),
    "erp_customer_balance": frozenset({"invoices"}),
    "erp_reorder_candidates": frozenset({"products"}),
    "erp_price_list": frozenset({"products"}),
    "erp_find_product": frozenset({"products"}),
    "erp_stock_level": frozenset({"products", "stock"}),
    "erp_top_products": frozenset({"products"}),
    "erp_stock_movements": frozenset({"stock_movements"}),
    "erp_supplier_lead_times": frozenset({"purchase_orders", "suppliers"}),
}
"""What each list skill's answer counts (its rows, or the records its headline counts)."""

_LISTING = "history record records recorded enter entered receive receives issue issues"
_DIM_NOUNS = {"product": "products", "customer": "customers", "supplier": "suppliers"}
NEUTRAL_WORDS = (
    frozenset(
        word
        for phrase, (role, _value) in VOCABULARY.items()
        if role in ("subject", "filler") or (role == "dim" and _value in _DIM_NOUNS)
        for word in phrase
    )
    | frozenset(_LISTING.split())
    | frozenset({"money"})
)
"""Words that name the records asked about or only carry the sentence: no condition.

Besides the structured vocabulary's record nouns and fillers, ``_LISTING`` words ask for
records as they were recorded ("history", "entered", "received") without narrowing them,
and "money" names the figure a reading reports (owed, spent, sold), never a condition on it
("who owes us the most overdue money" is the largest overdue balance).

Product, customer and supplier nouns count too: used as a grouping ("by customer") they are
caught by the grouping check, which every rule's answer must pass.
"""

_ASKING = "status state where whats when happening going on with at it its this that the"
RECORD_QUESTION_WORDS: dict[str, frozenset[str]] = {
    kind: frozenset(f"{_ASKING} {words}".split())
    for kind, words in {
        "orders": "order sales shipped delivered cancelled canceled customer who whos placed "
        "open items contents total value date dated gone left yet still ship out go went where "
        "arrive arrived",
        "invoices": "invoice paid open due amount total customer who whos still yet date issued "
        "outstanding left remaining owed owing",
        "pos": "po purchase order supplier who whos expected arrive arriving arrived coming in "
        "come received due yet still open date",
        "rmas": "return rma customer who whos reason refunded received back open still yet date",
        "shipments": "shipment delivered carrier tracking shipped arrive arriving arrived date "
        "where yet still",
    }.items()
}
"""Words that ask about one record's own fields; its answer shows every one of them.

A status word asked of one named record ("has SO-4907 shipped?", "PO-2025-0120 received?")
is a question the record's answer settles, not a filter that could drop the record.
"""

_NOUNS: dict[str, str] = {
    " ".join(phrase): (_DIM_NOUNS[value] if role == "dim" else value)
    for phrase, (role, value) in VOCABULARY.items()
    if role == "subject" or (role == "dim" and value in _DIM_NOUNS)
}
"""Nouns naming what is counted, as the structured reading's vocabulary knows them."""
_HOW_MANY = re.compile(r"\b(?:how many|number of|no of|count of)\s+((?:\S+\s+){0,3}\S+)")


def counted_noun(norm: str) -> str | None:
    """Return the subject a "how many ..." asks to count ("how many customers pay by card")."""
    match = _HOW_MANY.search(norm)
    if match is None:
        return None
    words = match.group(1).split()
    for index in range(len(words)):
        for size in (2, 1):
            phrase = " ".join(words[index : index + size])
            if phrase in _NOUNS:
                return _NOUNS[phrase]
    return None


_WHAT_BOUGHT = re.compile(
    r"\bwhat\s+(?:did|does|do|has|have|had)\s+(?:\w+\s+){0,3}?"
    # "what have we got on order": the status "on order", not a purchase.
    r"(?<!\bon\s)(?:order|orders|ordered|buy|buys|bought|purchase|purchased|get|got)\b"
    r"(?!\s+on\s+order\b)"
)
"""A question about what was ordered: the products ("what did senn order", "what has X bought")."""
DOCUMENT_LISTS = frozenset(
    {"erp_overdue_invoices", "erp_invoice_lookup", "erp_customer_orders", "erp_payment_history",
     "erp_returns", "erp_shipment_status"}
)  # fmt: skip
"""Skills whose rows are documents (invoices, orders, payments, ...), one customer's or all."""
_LISTED = r"(?P<noun>customers|clients|custs|accounts|products|parts|items|skus|articles)"
_WHICH_LISTED = re.compile(
    rf"\b(?:which|what|list|show|all)\s+(?:(?:of\s+)?(?:our|the)\s+)?{_LISTED}\b"
    rf"|^{_LISTED.replace('noun', 'first')}\s+(?:with|who|that|whose|which|[a-z]{{2,}}ing)\b"
)
"""A request that asks for customers or products to be listed ("which customers ...",
"customers paying by card")."""


_EXPECTED_DATES = frozenset({"erp_purchase_orders", "erp_shipment_status"})
"""Skills whose records carry dates still to come (an expected delivery)."""
_RECORD_LISTS_OF_PEOPLE = frozenset({"erp_payment_history", "erp_overdue_invoices"})
"""Lists with one row per record, several of which may share a customer."""
_DUE_DATES = frozenset({"erp_invoice_lookup"})
"""Skills that apply a period after "due" to due dates, which lie ahead ("due next week")."""


def _unanswerable(
    request: Request, session: Session, skill: str, *, due_dates: bool = False
) -> str | None:
    """Say why ``skill`` would answer a different question than ``request`` asks, or ``None``.

    ``due_dates``: the plan applies the period to due dates, which may lie ahead.
    """
    counted = counted_noun(request.norm)
    if _SHARE.search(request.norm) or _SHARE_SIGN.search(request.text.lower()):
        return "a share of a total is not computed by the fast path"
    if skill not in WRITE_SKILLS and MODAL.search(request.norm):
        # "how many orders will we get in july": a forecast, which no record holds.
        return "a question about what could or will happen, not what the records hold"
    if skill != "erp_reorder_candidates" and skill not in WRITE_SKILLS:
        if _PENDING.search(request.norm):
            # "what's left to ship", "how many days does X have to pay": what is still to
            # happen or is owed by the terms, which no list of past records states.
            return "a question about what is still to happen or required, not past records"
        if _TREND.search(request.norm):
            return "a trend ('is revenue up') compares periods; the fast path states one"
    if (
        skill in DOCUMENT_LISTS
        and (listed := _WHICH_LISTED.search(request.norm)) is not None
        and counted is None
    ):
        # "which customers have overdue invoices", "which parts were returned": the list holds
        # invoices or returns (25 of 133 shown), not the customers or products asked for.
        noun = listed.group("noun") or listed.group("first")
        return f"{skill} lists documents, not the {noun} asked for"
    if skill == QUERY_SKILL and _WHAT_BOUGHT.search(request.norm):
        # "what did senn order on the 26th": the products, which a list of orders (number,
        # date, value) does not show.
        return "what was ordered is the products; the order list shows orders and values"
    if skill == "erp_payment_history" and request.period is not None:
        if re.search(r"\b(?:invoice|invoices|bill|bills)\b", request.norm):
            # "did baker pay the invoice from march": the period may date the invoice; the
            # payment list reads it as the payment date.
            return "the period may date the invoices; the payment list dates the payments"
    event = EVENT_WORDS.get(skill)
    if request.period is not None and event is not None and event[0].search(request.norm):
        # "invoices paid last month": the period is the payment date, the skill's is another.
        return f"{skill} filters its period by {event[1]}, not by when the status was reached"
    if counted is not None and skill in COUNTED and counted not in COUNTED[skill]:
        # "how many customers pay by card": the payment list counts payments, not payers.
        return f"{skill} counts {', '.join(sorted(COUNTED[skill]))}, not {counted}"
    if skill in _RECORD_LISTS_OF_PEOPLE and re.search(r"^\s*who\b", request.norm):
        # "who paid by paypal last month": the payers; the list has one row per payment, so
        # a customer who paid twice is counted twice.
        return f"'who' asks for the people; {skill} lists their records"
    if skill == "erp_order_status" and re.search(r"\bhow many\b", request.norm):
        return "the order status does not count an order's lines"
    # "below the reorder point" is answered with the list's own reading, stated in its first
    # line ("at or below the reorder point"): reordering at the point is the usual meaning.
    period = request.period
    if (
        period is not None
        and period.start is not None
        and period.start > request.today
        and skill not in _EXPECTED_DATES
        and not ((skill in _DUE_DATES or due_dates) and request.due_period is not None)
    ):
        # "what will nordwind order next month": records hold what happened; a list of the
        # month's orders (none yet) would answer a forecast with "no orders".
        return f"{period.text!r} lies after {request.today.isoformat()}; the records hold the past"
    if period is not None and period.end is not None:
        first = session.scalar(select(func.min(m.SalesOrder.order_date)))
        if first is not None and period.end < first:
            return f"the records start on {first.isoformat()}, after {period.text!r}"
    return None


__all__ = [
    "ALL_RULE_WORDS",
    "CONDITION_WORDS",
    "ERP_WORDS",
    "FIRST_ROW",
    "GLOBAL_WORDS",
    "MONEY_RE",
    "PERCENT_RE",
    "RULES",
    "SUPERLATIVES",
    "Clarify",
    "Decision",
    "Decline",
    "NotForFastPath",
    "Order",
    "Plan",
    "Request",
    "Rule",
    "Unclear",
    "answers_one_record",
    "asks_for_one_record",
    "parse_number",
    "parse_request",
    "plan_parsed",
    "plan_request",
    "skill_words",
    "unplaced_words",
]
