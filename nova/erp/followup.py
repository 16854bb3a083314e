"""Resolve an elliptical ERP follow-up ("and the oldest one?") with the earlier turns' parameters.

A follow-up names only what changes. ``plan_followup`` parses every turn of the thread's
current topic (the request that was routed afresh, then each follow-up) with the same
parser as the fast path, and merges them in order: an entity kind a later turn names
replaces that kind from the earlier turns ("same for Nordwind" swaps the customer, "what
about last month?" swaps the period); kinds it does not name are inherited. The merged
request then goes through the same intent rules as a single request, so the fast path
answers a follow-up exactly as it would answer the equivalent full question, or declines.

Two parts of a follow-up carry no entity but must not be ignored:

* Pro-forms and connectives ("and", "same", "one") only point back; they are dropped
  from the words a rule must explain (``ANAPHORIC_WORDS``).
* A superlative ("the oldest one") asks for one row of an ordered list. It is answered
  only when the skill's own ordering puts that row first (``FIRST_ROW``): then the limit
  is 1. Any other ordering needs a model, so the request is declined.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from nova.erp.intents import (
    ALL_RULE_WORDS,
    FIRST_ROW,
    GLOBAL_WORDS,
    RECORD_QUESTION_WORDS,
    Clarify,
    Decision,
    Decline,
    NotForFastPath,
    Order,
    Plan,
    Request,
    Unclear,
    parse_request,
    plan_parsed,
    plan_request,
)
from nova.erp.intents.rules import _superlative
from nova.erp.models import Customer, Supplier, Warehouse
from nova.erp.resolve import normalise
from nova.erp.skills.common import name_index

__all__ = [
    "ANAPHORIC_WORDS",
    "FIRST_ROW",
    "asks_about_record_shown",
    "merge_requests",
    "names_erp_content",
    "plan_followup",
]


ANAPHORIC_WORDS = frozenset(
    """and or but also plus then so same one ones it its that those them they their too
    instead else either another other about how what""".split()
)
"""Closed-class words a follow-up uses to point back at the earlier turn (coordinating
conjunctions, pro-forms, "what/how about"): they carry no parameter of their own."""


# Entity kinds (``Request.kinds()``) and the fields that hold them.
_FIELDS: dict[str, tuple[str, ...]] = {
    "customer": ("customers", "customer_numbers"),
    "supplier": ("suppliers",),
    "period": ("period", "due_period"),
}


def _fields_of(kind: str) -> tuple[str, ...]:
    return _FIELDS.get(kind, (kind,))


def merge_requests(earlier: Request, later: Request) -> Request:
    """Merge a follow-up's parse into the earlier turns' parse.

    Every entity kind ``later`` names replaces that kind in ``earlier``; the others are
    inherited. Both turns' words count for the rules' triggers and vocabularies, except
    the follow-up's anaphoric words, which only point back.
    """
    merged = replace(
        earlier,
        text=f"{earlier.text} {later.text}",
        norm=f"{earlier.norm} {later.norm}",
        residual=[
            *earlier.residual,
            *(word for word in later.residual if word not in ANAPHORIC_WORDS),
        ],
        unknown_name=later.unknown_name,
    )
    for kind in later.kinds():
        for name in _fields_of(kind):
            setattr(merged, name, getattr(later, name))
    if later.customers or later.customer_numbers:
        # A new customer replaces the old one whether it was named or numbered.
        merged.customers = later.customers
        merged.customer_numbers = later.customer_numbers
    return merged


def plan_followup(
    turns: Sequence[str],
    session: Session,
    tools: Iterable[str],
    *,
    today: date | None = None,
) -> Decision:
    """Plan the last of ``turns`` as a follow-up to the ones before it.

    Args:
        turns: The topic's requests, oldest first: the request routed afresh, then its
            follow-ups; the last is the one to answer.
        session: ERP database session.
        tools: The ERP skills the agent may use.
        today: Business date (default: the database's).

    Returns:
        The follow-up's own plan when it is a complete request by itself; otherwise the
        plan of the merged turns, a question, or ``Decline``. A follow-up of several
        sentences whose whole reading declines is answered when exactly one of its
        sentences, read as the follow-up, is.

    """
    if not turns:
        return Decline("no request")
    decision = _plan_turns(turns, session, list(tools), today)
    sentences = [part for part in _SENTENCE_END.split(turns[-1].strip()) if part.strip()]
    if not isinstance(decision, Decline) or len(turns) < 2 or len(sentences) < 2:
        return decision
    # "it should have arrived friday. where is it": a sentence that states what the owner
    # expected is context, not a filter. Exactly one answerable sentence is the request.
    plans = [
        plan
        for sentence in sentences
        if isinstance(
            plan := _plan_turns([*turns[:-1], sentence], session, list(tools), today), Plan
        )
    ]
    return plans[0] if len(plans) == 1 else decision


_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")


def _plan_turns(
    turns: Sequence[str], session: Session, allowed: list[str], today: date | None
) -> Decision:
    alone = plan_request(turns[-1], session, allowed, today=today)
    if len(turns) == 1:
        return alone
    try:
        parsed = [parse_request(text, session, today=today) for text in turns]
    except NotForFastPath as error:
        return alone if isinstance(alone, Plan | Clarify) else Decline(str(error))
    except Unclear as error:
        return alone if isinstance(alone, Plan | Clarify) else Clarify(str(error))
    referred = _record_referred_to(parsed)
    if referred is not None:
        decision = plan_parsed(referred, session, allowed)
        if isinstance(decision, Plan | Clarify):
            return decision
    if isinstance(alone, Plan | Clarify) and _kind_of_record_shown(parsed) is None:
        return alone
    merged = parsed[0]
    order: Order | None = None
    for later in parsed[1:]:
        other = _the_other(merged, later, session)
        if isinstance(other, Decline):
            return other
        later = other
        superlative = _superlative(later.norm)
        if superlative is not None:
            order, words = superlative
            # The superlative becomes the ordering check below, not a word a rule must know.
            later = replace(later, residual=[w for w in later.residual if w not in words])
        merged = merge_requests(merged, later)
    decision = plan_parsed(merged, session, allowed)
    if not isinstance(decision, Plan) or order is None:
        return decision
    if FIRST_ROW.get(decision.skill) != order or "limit" not in type(decision.args).model_fields:
        return Decline(f"{decision.skill} does not list the {order} row first")
    return Plan(
        decision.skill,
        decision.args.model_copy(update={"limit": 1}),
        f"{decision.rule} (follow-up: the {order} one)",
        decision.reading,
    )


_THE_OTHER = re.compile(r"\b(?:the )?other\b(?! than\b)")
_WAREHOUSE_WORDS = re.compile(r"\b(?:warehouse|warehouses|lager|site|location|one)\b")


def _the_other(earlier: Request, later: Request, session: Session) -> Request | Decline:
    """Read "the other warehouse" as the one warehouse the earlier turns did not name.

    "Other" is a pro-form the merge would drop, which would answer the earlier question
    again: the other of two warehouses is named here; any other "other" declines.
    """
    if not _THE_OTHER.search(later.norm) or later.kinds():
        return later
    if _WAREHOUSE_WORDS.search(later.norm) and len(earlier.warehouses) == 1:
        codes = set(session.scalars(select(Warehouse.code)))
        rest = sorted(codes - set(earlier.warehouses))
        if len(rest) == 1:
            return replace(later, warehouses=rest)
    return Decline("'the other …' in a follow-up names nothing the earlier turns can swap")


REFERRING_PRO_FORMS = frozenset("it its this that".split())
"""Singular personal and demonstrative pro-forms: they stand for one thing named before
("anything on order for it?"). "one" and "same" are left out: they stand for a kind or a
request ("the oldest one" is another record of the same kind, "same for Nordwind" another
request)."""

ORGANISATION_PRO_FORMS = frozenset("they them their theirs".split())
"""Plural pro-forms, which stand for one record only when it is an organisation ("how much
do they owe?" after a customer); after one invoice they point at something else."""

_ONE_RECORD_KINDS = frozenset(
    {"invoices", "orders", "pos", "rmas", "shipments", "skus", "customer", "supplier"}
)
"""Entity kinds whose one value is one record a pro-form can stand for."""
_ORGANISATION_KINDS = frozenset({"customer", "supplier"})


def _one_record_shown(earlier: Sequence[Request]) -> tuple[Request, str] | None:
    """Return the last earlier turn that named anything, and its kind, if it named one record.

    One record: one kind of entity, one value of it ("Show me invoice INV-2025-00412",
    "stock FST-8357?"); ``None`` when no earlier turn named anything, or the last one named
    several things.
    """
    naming = [request for request in earlier if request.kinds()]
    if not naming:
        return None
    shown = naming[-1]
    kinds = shown.kinds()
    if len(kinds) != 1:
        return None
    kind = next(iter(kinds))
    return (shown, kind) if shown.count(kind) == 1 else None


def _record_referred_to(parsed: Sequence[Request]) -> Request | None:
    """Return the last turn with its pro-form replaced by the one record named before.

    "anything on order for it?" after "stock FST-8357?" asks its own question (open
    purchase orders) about the product the earlier turn named: it is read as "anything on
    order for FST-8357?", with the earlier turn's record and none of its words. Only when
    the last turn names nothing itself, has no superlative, refers back with a singular
    pro-form (or a plural one, for a customer or supplier), and the last turn that named
    anything named exactly one record;
    ``None`` otherwise.
    """
    *earlier, last = parsed
    if last.kinds() or _superlative(last.norm) is not None:
        return None
    one = _one_record_shown(earlier)
    if one is None or one[1] not in _ONE_RECORD_KINDS:
        return None
    shown, kind = one
    pro_forms = REFERRING_PRO_FORMS | (
        ORGANISATION_PRO_FORMS if kind in _ORGANISATION_KINDS else frozenset()
    )
    if not pro_forms & set(last.residual):
        return None
    referred = replace(last, residual=[word for word in last.residual if word not in pro_forms])
    for name in _fields_of(kind):
        setattr(referred, name, getattr(shown, name))
    if kind == "customer":
        referred.customers = shown.customers
        referred.customer_numbers = shown.customer_numbers
    return referred


def _kind_of_record_shown(parsed: Sequence[Request]) -> str | None:
    """Return the kind of the one document just shown, when the last turn names nothing.

    After "Show me invoice INV-2025-00412", "who is the customer?" is about that invoice's
    customer: read alone it would list every customer. A follow-up that names no entity
    of its own, when the last turn that named anything named exactly one document, is read
    with the earlier turns. ``None``: the last turn names something, or no one document
    (of a kind ``RECORD_QUESTION_WORDS`` knows) was shown.
    """
    *earlier, last = parsed
    if last.kinds():
        return None
    one = _one_record_shown(earlier)
    return one[1] if one is not None and one[1] in RECORD_QUESTION_WORDS else None


def asks_about_record_shown(turns: Sequence[str], session: Session) -> bool:
    """Whether the last of ``turns`` only asks about a field of the one record named before.

    "who is the customer?" after "Show me invoice INV-2025-00412" names no record, and every
    word it has asks about a field the invoice's answer shows (``RECORD_QUESTION_WORDS``):
    it is about that invoice, not a request for every customer. The route keeps such a
    turn with the thread's topic, however confidently the classifier reads it alone.

    Args:
        turns: The topic's requests, oldest first; the last is the turn to judge.
        session: ERP database session (to recognise names and numbers).

    """
    if len(turns) < 2:
        return False
    try:
        parsed = [parse_request(text, session) for text in turns]
    except (NotForFastPath, Unclear):
        return False
    kind = _kind_of_record_shown(parsed)
    if kind is None:
        return False
    words = set(parsed[-1].residual) - GLOBAL_WORDS
    return bool(words) and words <= RECORD_QUESTION_WORDS[kind]


def names_erp_content(text: str, session: Session) -> bool:
    """Whether ``text`` names anything an ERP skill could look up.

    True when the request holds an ERP entity (a customer, supplier, document number,
    SKU, period, amount…) or a word of the ERP rules' vocabulary; a request with neither
    ("Who is our accountant?") gives an ERP skill nothing to query.
    """
    return erp_mention(text, session) not in ("none", "unknown")


ErpMention = Literal["entity", "word", "none", "unknown"]
"""What a request names of the ERP: an entity, only words of its vocabulary, nothing, or
a name the ERP does not hold ("kessler landtechnik" when it knows only other Kesslers)."""


def _names_another_entity(request: Request, session: Session) -> bool:
    """Whether the request's only ERP entities are names the ERP holds only in part.

    "our contact at kessler landtechnik": "kessler" fits three customers, but the next word
    is a word of *other* customers' names ("Hochreiter Landtechnik GmbH") and of none of
    those three: the request names a business the ERP does not know, and a lookup would
    answer about the wrong one.
    """
    if request.kinds() - {"customer", "supplier"}:
        return False
    words = request.norm.split()
    mentions = [(m, Customer) for m in request.customers] + [
        (m, Supplier) for m in request.suppliers
    ]
    if not mentions:
        return False
    for mention, model in mentions:
        index = name_index(session, model)
        named = mention.text.split()
        after = next(
            (
                words[i + len(named)]
                for i in range(len(words) - len(named))
                if words[i : i + len(named)] == named
            ),
            None,
        )
        own = {word for c in mention.candidates for word in normalise(c.name).split()}
        if (
            after is None
            or after in own
            or after not in index.words
            or after in ALL_RULE_WORDS | GLOBAL_WORDS
            or after not in request.residual
        ):
            return False
    return True


def erp_mention(text: str, session: Session) -> ErpMention:
    """Say how much of the ERP ``text`` names (graded ``names_erp_content``).

    ``entity``: a customer, supplier, document number, SKU, period or amount, which only
    the ERP can look up. ``word``: only words of the ERP rules' vocabulary ("returns",
    "amount", "days"), which also occur in questions memory answers. ``none``: neither
    ("Who is our accountant?" gives an ERP skill nothing to query).
    """
    try:
        request = parse_request(text, session)
    except (NotForFastPath, Unclear):
        return "entity"  # it has a period or a date, even if an unreadable one
    if request.kinds():
        return "unknown" if _names_another_entity(request, session) else "entity"
    return "word" if (set(request.residual) - GLOBAL_WORDS) & ALL_RULE_WORDS else "none"
