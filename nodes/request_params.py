"""Fill a pipeline's or skill's parameters from what a request states.

A request often says what a parameter should be: "more than 30 days overdue", "for last
week", "into French", "for Nordwind". ``extract_params`` reads those values and gives each
to the parameter it belongs to, driven only by the parameters' declared types and their
names and descriptions, so no pipeline needs its own phrase list:

1. **Scan** (no model): the request's typed values are found with Nova's existing
   readers: periods and dates (``nova.erp.resolve.find_period``, dateparser inside),
   document numbers, SKUs and customer numbers (the ``nova.erp.resolve`` patterns),
   customer names (the ERP's ``NameIndex``, rapidfuzz), amounts and percentages
   (``nova.erp.intents``), target languages (``tools.language``), plain numbers.
2. **Place**: each value goes to a parameter whose type accepts it. Where several could
   take it, and always for a bare number (a number's meaning is in the words beside it),
   the parameter whose name and description share the most words with the words around
   the value wins (rapidfuzz word similarity, so "customers" matches "customer").
3. **Model** (optional): parameters the scan cannot type (booleans, free strings, lists)
   are offered to the serving agent's model, which must quote the request words each
   value comes from; a value without a quote found in the request is not "stated" and is
   dropped.

What is stated is never silently replaced by a default: a value no parameter takes is
returned in ``Extraction.unplaced`` (the caller refuses or asks), and a name that fits two
customers is a question (``Extraction.question``). Each parameter's value carries its
source: ``caller`` (given explicitly), ``request``, ``model`` (read by the model from the
request), ``thread`` (the previous run on the same thread) or ``default``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args, get_origin

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field
from rapidfuzz import fuzz, process

from nova.erp import resolve as r

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from nova.pipelines.spec import PipelineSpec

log = logging.getLogger(__name__)

ParamKind = Literal[
    "integer",
    "number",
    "boolean",
    "string",
    "list",
    "text",
    "date",
    "period",
    "language",
    "languages",
    "customer",
    "product",
]
"""How a parameter's value can be read: ``text`` is the passage a request carries (quoted,
after a colon, below the first line); ``languages`` a list of language codes."""

TYPED_KINDS: frozenset[str] = frozenset(
    {"integer", "number", "text", "date", "period", "language", "languages", "customer", "product"}
)
"""Kinds read from a request without a model; the others need one."""

ParamSource = Literal["caller", "request", "model", "thread", "default"]
StatedKind = Literal[
    "number", "amount", "period", "language", "customer", "product", "reference", "name"
]

_ACCEPTS: dict[str, frozenset[str]] = {
    "number": frozenset({"integer", "number"}),
    "amount": frozenset({"number"}),
    "period": frozenset({"period"}),
    "day": frozenset({"date", "period"}),
    "language": frozenset({"language", "languages"}),
    "customer": frozenset({"customer"}),
    "product": frozenset({"product"}),
    "reference": frozenset(),
    "name": frozenset(),
}
"""Parameter kinds that can take each kind of stated value (a single day is a ``day``)."""

_WORD_MATCH = 85.0
"""rapidfuzz ratio at which two words count as the same (plural, small typo)."""
_CONTEXT_WORDS = 3
"""Content words on each side of a value that say what it is ("30 days overdue")."""
_NEGATIONS = frozenset({"except", "excluding", "exclude", "without", "not", "besides", "but"})
"""Words that turn a value into its opposite ("all customers except Nordwind"): a scan
cannot tell which parameter takes an exclusion, so such a value is never placed by it."""


@dataclass(frozen=True, slots=True)
class ParamField:
    """A parameter as the extractor sees it: name, kind, what it is for, its default."""

    name: str
    kind: ParamKind
    description: str
    default: Any = None
    required: bool = False

    @property
    def typed(self) -> bool:
        """Whether its value is read from a request without a model."""
        return self.kind in TYPED_KINDS


@dataclass(frozen=True, slots=True)
class Stated:
    """A value the request states, with the words it was read from."""

    kind: StatedKind
    text: str
    """The request's words (``"30"``, ``"last week"``, ``"Nordwind"``)."""
    value: Any
    context: tuple[str, ...] = ()
    """Normalised content words around the value (what the value is about)."""
    negated: bool = False
    """An exclusion word comes right before it ("except Nordwind")."""

    @property
    def accepts(self) -> frozenset[str]:
        """Parameter kinds that can take this value."""
        if self.kind == "period" and self.value["start"] == self.value["end"]:
            return _ACCEPTS["day"]
        return _ACCEPTS[self.kind]


@dataclass(slots=True)
class Extraction:
    """Parameters filled from a request: values, where each came from, what fits nowhere."""

    values: dict[str, Any] = field(default_factory=dict)
    """Values found (caller, request, model or thread); defaults are not included."""
    sources: dict[str, ParamSource] = field(default_factory=dict)
    evidence: dict[str, str] = field(default_factory=dict)
    """The request's words each request- or model-read value came from."""
    unplaced: list[Stated] = field(default_factory=list)
    """Stated values no parameter takes (the run must say so, not use a default)."""
    conflicts: list[str] = field(default_factory=list)
    """Stated values that contradict what the caller gave for the same parameter."""
    question: str | None = None
    """Something stated cannot be resolved (two customers fit a name); ask this."""
    notes: list[str] = field(default_factory=list)
    """What the extraction could not do (the model failed), for the run's record."""

    def complete(self, fields: Iterable[ParamField]) -> None:
        """Mark every parameter without a value as ``default`` (its declared default)."""
        for item in fields:
            self.sources.setdefault(item.name, "default")

    def problem(self, owner: str, fields: Iterable[ParamField]) -> str | None:
        """Return why the request cannot run as stated (a question or unplaced values), or None."""
        if self.question:
            return self.question
        if self.conflicts:
            return (
                "The request and the given parameters disagree: "
                + "; ".join(self.conflicts)
                + f". The {owner} did not run; give one value."
            )
        if not self.unplaced:
            return None
        listed = "; ".join(f"{f.name} ({f.kind}): {f.description}" for f in fields) or "none"
        stated = ", ".join(f"{s.text!r} ({_describe_kind(s)})" for s in self.unplaced)
        return (
            f"The request states {stated}, but no parameter of {owner} takes "
            f"{'it' if len(self.unplaced) == 1 else 'them'}, so it did not run with a default "
            f"instead. Its parameters: {listed}. Rephrase the request, or give the value "
            "explicitly (nova pipeline run NAME --param name=value)."
        )


def _describe_kind(stated: Stated) -> str:
    if stated.kind == "period":
        value = stated.value
        if value["start"] is None or value["end"] is None:
            return "an open-ended period"
        if value["start"] == value["end"]:
            return f"the date {value['start']}"
        return f"the period {value['start']} to {value['end']}"
    if stated.negated:
        return "an exclusion"
    if stated.kind == "customer":
        return f"customer {stated.value}"
    if stated.kind == "name":
        return "a name that matches no customer"
    if stated.kind == "language":
        return "language " + ", ".join(stated.value)
    return {"number": "a number", "amount": "an amount", "product": "a product"}.get(
        stated.kind, "a document number"
    )


# --- parameters from their declarations -----------------------------------------------------


def fields_from_pipeline(spec: PipelineSpec) -> list[ParamField]:
    """Return a pipeline's parameters as extractor fields (``from_request`` refines the kind)."""
    fields: list[ParamField] = []
    for name, param in spec.params.items():
        kind: ParamKind = param.type
        if param.from_request == "text":
            kind = "text"
        elif param.from_request == "languages":
            kind = "languages"
        fields.append(ParamField(name, kind, param.description, param.default, param.required))
    return fields


_NAME_KINDS: dict[str, ParamKind] = {"customer": "customer", "sku": "product", "product": "product"}
"""ERP skill arguments typed only as names: the argument's name says what it names."""


def fields_from_schema(model: type[BaseModel]) -> list[ParamField]:
    """Return a pydantic argument schema's fields as extractor fields (ERP skills' ``args``).

    ``int`` is an integer, ``float``/``Decimal`` a number, ``date`` a date, ``bool`` a
    boolean; a string named ``customer`` or ``sku`` names a customer or product. A pair
    ``date_from``/``date_to`` is one ``period`` field called ``date_from..date_to``
    (``split_period_values`` turns its value back into the two arguments).
    """
    fields: list[ParamField] = []
    names = set(model.model_fields)
    for name, info in model.model_fields.items():
        if name == "date_to" and "date_from" in names:
            continue
        annotation = info.annotation
        if get_origin(annotation) is not None and type(None) in get_args(annotation):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        if get_origin(annotation) is Annotated:  # IsoDate, Name: the type is the first argument
            annotation = get_args(annotation)[0]
        kind: ParamKind
        if name == "date_from" and "date_to" in names:
            name, kind = "date_from..date_to", "period"
        elif annotation is bool:
            kind = "boolean"
        elif annotation is int:
            kind = "integer"
        elif annotation in (float, Decimal):
            kind = "number"
        elif annotation is date:
            kind = "date"
        elif annotation is str and name in _NAME_KINDS:
            kind = _NAME_KINDS[name]
        elif get_origin(annotation) is list:
            kind = "list"
        else:
            kind = "string"
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        fields.append(ParamField(name, kind, info.description or name, default, info.is_required()))
    return fields


def split_period_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Turn ``fields_from_schema``'s ``date_from..date_to`` value back into both arguments."""
    out = dict(values)
    span = out.pop("date_from..date_to", None)
    if span is not None:
        out["date_from"], out["date_to"] = span["start"], span["end"]
    return out


# --- scanning a request ------------------------------------------------------------------------

_WEEKS_RE = re.compile(r"\b(?P<n>\d{1,3})\s*(?:weeks?|wks?)\b", re.IGNORECASE)
"""A span of whole weeks, which day-count parameters take as days."""
_NUMBER_RE = re.compile(r"(?<![\w.,/-])(?P<n>\d+(?:[.,]\d+)?)(?![\w/-]|[.,]\d)")
_REFERENCES = (r.INVOICE_RE, r.ORDER_RE, r.PO_RE, r.RMA_RE, r.SHIPMENT_RE, r.PAYMENT_RE)


def _mask(text: str, spans: Iterable[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _overlaps(span: tuple[int, int], spans: Iterable[tuple[int, int]]) -> bool:
    return any(span[0] < b and a < span[1] for a, b in spans)


def _content_words(text: str) -> list[str]:
    from nova.erp.intents import GLOBAL_WORDS

    return [w for w in r.normalise(text).split() if w not in GLOBAL_WORDS and not w.isdigit()]


def _context(text: str, start: int, end: int) -> tuple[str, ...]:
    before = _content_words(text[:start])[-_CONTEXT_WORDS:]
    after = _content_words(text[end:])[:_CONTEXT_WORDS]
    return (*before, *after)


def _negated(words_before: list[str]) -> bool:
    return bool(_NEGATIONS.intersection(words_before[-2:]))


def _range(start: date, end: date) -> dict[str, str]:
    from nova.pipelines.templates import range_label

    return {"start": start.isoformat(), "end": end.isoformat(), "label": range_label(start, end)}


def scan_request(
    text: str,
    *,
    today: date,
    session: Session | None = None,
    ignore: frozenset[str] = frozenset(),
) -> tuple[list[Stated], str | None]:
    """Find every typed value ``text`` states, without a model.

    Args:
        text: The instruction (without the passage a ``text`` parameter takes).
        today: What "last week" is relative to (the ERP's business date for ERP pipelines).
        session: An ERP session: customer names are looked up only with one.
        ignore: Words that never count as a customer name on their own (the pipeline's
            own vocabulary: "reminders", "report").

    Returns:
        The values in order of appearance, and a question when a stated value cannot be
        resolved (a name two customers share, a malformed date).

    """
    from nova.erp.intents import MONEY_RE, PERCENT_RE, parse_number
    from tools.language import parse_target_languages

    found: list[tuple[int, Stated]] = []
    spans: list[tuple[int, int]] = []

    def add(start: int, end: int, stated: Stated) -> None:
        if _negated(r.tokens(text[:start])):
            stated = replace(stated, negated=True)
        found.append((start, stated))
        spans.append((start, end))

    for pattern in _REFERENCES:
        for match in pattern.finditer(text):
            add(*match.span(), Stated("reference", match.group(0), match.group(0)))
    for match in r.SKU_RE.finditer(text):
        if not _overlaps(match.span(), spans):
            add(*match.span(), Stated("product", match.group(0), r.canonical_sku(match)))
    for match in r.CUSTOMER_NUMBER_RE.finditer(text):
        if not _overlaps(match.span(), spans):
            add(*match.span(), Stated("customer", match.group(0), match.group(1)))
    try:
        period = r.find_period(_mask(text, spans), today)
    except r.PeriodError as error:
        return [s for _, s in sorted(found, key=lambda pair: pair[0])], str(error)
    if period is not None:
        # An open range ("before March") is still stated: a period parameter that takes it
        # fails validation with a message, none taking it reports it; neither drops it.
        span_value = (
            _range(period.start, period.end)
            if period.start is not None and period.end is not None
            else {
                "start": period.start and period.start.isoformat(),
                "end": period.end and period.end.isoformat(),
                "label": period.text,
            }
        )
        add(*period.span, Stated("period", period.text, span_value, _context(text, *period.span)))
    for match in MONEY_RE.finditer(text):
        if not _overlaps(match.span(), spans):
            number = match.group("a") or match.group("b")
            thousand = 1000 if match.group("ka") or match.group("kb") else 1
            amount = float(parse_number(number) * thousand)
            add(*match.span(), Stated("amount", match.group(0).strip(), amount, ("amount",)))
    for match in _WEEKS_RE.finditer(text):
        if not _overlaps(match.span(), spans):
            # "more than 3 weeks late": a day-count parameter takes it in days.
            days = int(match.group("n")) * 7
            context = (*_context(text, *match.span()), "days")
            add(*match.span(), Stated("number", match.group(0), days, context))
    for match in PERCENT_RE.finditer(text):
        if not _overlaps(match.span(), spans):
            context = (*_context(text, *match.span()), "percent")
            add(*match.span(), Stated("number", match.group(0), float(match.group("n")), context))
    for match in _NUMBER_RE.finditer(text):
        if _overlaps(match.span(), spans):
            continue
        parsed = parse_number(match.group("n"))
        value: int | float = int(parsed) if parsed == parsed.to_integral_value() else float(parsed)
        add(
            *match.span(),
            Stated("number", match.group("n"), value, _context(text, *match.span())),
        )
    languages = parse_target_languages(_mask(text, spans))
    if languages:
        found.append((len(text), Stated("language", ", ".join(languages), languages)))
    question = None
    if session is not None:
        question = _customers(_mask(text, spans), session, ignore, found)
    return [s for _, s in sorted(found, key=lambda pair: pair[0])], question


def _customers(
    text: str, session: Session, ignore: frozenset[str], found: list[tuple[int, Stated]]
) -> str | None:
    from nova.erp import models as m
    from nova.erp.intents import ALL_RULE_WORDS, ERP_WORDS, GLOBAL_WORDS
    from nova.erp.intents.parsing import _NAME_AFTER
    from nova.erp.skills import name_index
    from tools.language import LANGUAGE_NAMES

    # Language names ("French") and the ERP's own vocabulary are never customer names.
    language_words = frozenset(
        r.normalise(name) for names in LANGUAGE_NAMES.values() for name in names
    )
    skip = ERP_WORDS | GLOBAL_WORDS | ignore | language_words
    words = r.tokens(text)
    explained: set[str] = set()
    for mention in name_index(session, m.Customer).find_in_text(text, ignore=skip):
        if mention.resolved is None:
            options = " or ".join(f"{c.name} ({c.number})" for c in mention.candidates)
            return f"Which customer do you mean by {mention.text!r}: {options}?"
        explained |= {words[i] for i in mention.consumed}
        before = words[max(0, mention.start - _CONTEXT_WORDS) : mention.start]
        stated = Stated(
            "customer",
            mention.text,
            mention.resolved.number,
            tuple(w for w in before if w not in GLOBAL_WORDS),
            negated=_negated(before),
        )
        # After every value found by position (mention positions count words, not characters).
        found.append((len(text) + mention.start, stated))
    # "for Zyxel Motors": a name-shaped phrase that names no customer is stated all the same.
    known = skip | ALL_RULE_WORDS | explained
    for match in _NAME_AFTER.finditer(text):
        phrase = match.group("name").strip()
        if set(r.tokens(phrase)) - known:
            found.append((match.start(), Stated("name", phrase, phrase)))
    return None


# --- placing values on parameters ------------------------------------------------------------


def _field_words(item: ParamField) -> list[str]:
    from nova.erp.intents import GLOBAL_WORDS

    words = [*item.name.replace("..", " ").split("_"), *r.normalise(item.description).split()]
    return [w for w in dict.fromkeys(words) if w and w not in GLOBAL_WORDS and not w.isdigit()]


def affinity(context: Iterable[str], item: ParamField) -> int:
    """Count the words around a value that the parameter's name or description also uses."""
    words = _field_words(item)
    if not words:
        return 0
    return sum(
        1
        for word in context
        if process.extractOne(word, words, scorer=fuzz.ratio, score_cutoff=_WORD_MATCH)
    )


def place(
    stated: Iterable[Stated], fields: Iterable[ParamField], given: Mapping[str, Any]
) -> Extraction:
    """Give each stated value to the one parameter it belongs to; keep the rest as unplaced.

    A value goes to a parameter whose kind accepts it. A bare number needs words in common
    with the parameter (its meaning is in them); for other values a single candidate is
    enough, and among several the one with most words in common wins, if it is the only
    one with that many. A value that belongs to a parameter the caller gave (``given``)
    is explained by it when the two agree, and a conflict when they do not.
    """
    out = Extraction()
    for value in stated:
        candidates = [f for f in fields if f.kind in value.accepts and f.name not in out.values]
        scored = sorted(
            ((affinity(value.context, f), f) for f in candidates),
            key=lambda pair: -pair[0],
        )
        needs_words = value.kind in ("number", "amount")
        chosen: ParamField | None = None
        if value.negated:
            scored = []  # an exclusion is not the value of the parameter it looks like
        if scored and (scored[0][0] > 0 or not needs_words):
            best = scored[0][0]
            if len(scored) == 1 or scored[1][0] < best:
                chosen = scored[0][1]
        if chosen is None:
            out.unplaced.append(value)
        elif chosen.name in given:
            if not _agrees(given[chosen.name], value, chosen):
                out.conflicts.append(
                    f"the request states {value.text!r} for {chosen.name}, but it was given "
                    f"as {json.dumps(given[chosen.name], default=str)}"
                )
        else:
            out.values[chosen.name] = _convert(value, chosen)
            out.sources[chosen.name] = "request"
            out.evidence[chosen.name] = value.text
    return out


def _agrees(given: Any, value: Stated, item: ParamField) -> bool:
    """Whether a caller's value says the same as a stated one (a name may be spelt apart)."""
    stated = _convert(value, item)
    if item.kind in ("customer", "product"):
        return str(given) == str(stated) or fuzz.WRatio(str(given), value.text) >= _WORD_MATCH
    if item.kind == "languages":
        return isinstance(given, list) and set(stated) <= set(given)
    if item.kind == "period":
        if isinstance(given, str):
            start, _, end = given.partition("..")
            given = {"start": start.strip(), "end": (end or start).strip()}
        return isinstance(given, Mapping) and (
            str(given.get("start")),
            str(given.get("end")),
        ) == (str(stated["start"]), str(stated["end"]))
    try:
        return float(given) == float(stated)
    except (TypeError, ValueError):
        return str(given) == str(stated)


def _convert(value: Stated, item: ParamField) -> Any:
    if item.kind == "date":
        return value.value["start"]
    if item.kind == "language":
        return value.value[0]
    return value.value


# --- the model, for what the scan cannot type --------------------------------------------------


class _Assignment(BaseModel):
    """One parameter value the request states."""

    name: str = Field(description="The parameter's name")
    value: Any = Field(description="The value, in the parameter's type")
    quote: str = Field(description="The exact words of the request that state it")


class FillParameters(BaseModel):
    """Set the parameters the request states; leave out those it does not mention."""

    assignments: list[_Assignment] = Field(default_factory=list)
    unmatched: list[str] = Field(
        default_factory=list,
        description="Exact words of the request that state a value no parameter takes",
    )


_MODEL_PROMPT = (
    "You read parameter values from a request. Use only what the request states; do not "
    "guess, do not fill in defaults, and quote the request's exact words for every value. "
    "If the request states a value no parameter takes (an amount, a filter, a date), list "
    "its words under 'unmatched'. Call the tool once."
)


def model_params(
    model: BaseChatModel, request: str, fields: list[ParamField], known: Mapping[str, Any]
) -> Extraction:
    """Ask ``model`` for the values of ``fields`` that ``request`` states (tool call, quoted).

    A value whose quote is not in the request, or that names no offered parameter, is
    dropped: only what the request states may fill a parameter.
    """
    offered = {f.name: f for f in fields}
    described = "\n".join(
        f"- {f.name} ({f.kind}, default {json.dumps(f.default, default=str)}): {f.description}"
        for f in fields
    )
    prompt = (
        f"Request:\n<request>\n{request}\n</request>\n\nParameters to fill:\n{described}\n\n"
        f"Already read from the request: {json.dumps(dict(known), default=str)}"
    )
    bound = model.bind_tools([FillParameters], tool_choice="FillParameters")
    reply = bound.invoke([SystemMessage(_MODEL_PROMPT), HumanMessage(prompt)])
    calls = [c for c in getattr(reply, "tool_calls", []) or [] if c["name"] == "FillParameters"]
    out = Extraction()
    if not calls:
        out.notes.append("the model did not call FillParameters; no values read by it")
        return out
    answer = FillParameters.model_validate(calls[0]["args"])
    folded = request.casefold()
    for item in answer.assignments:
        quote = item.quote.strip()
        if item.name not in offered or not quote or quote.casefold() not in folded:
            out.notes.append(f"ignored the model's {item.name}={item.value!r}: not stated")
            continue
        out.values[item.name] = item.value
        out.sources[item.name] = "model"
        out.evidence[item.name] = quote
    for words in answer.unmatched:
        if words.strip() and words.strip().casefold() in folded:
            out.unplaced.append(Stated("reference", words.strip(), words.strip()))
    return out


# --- everything together -----------------------------------------------------------------------


def extract_params(
    request: str,
    fields: list[ParamField],
    *,
    today: date,
    given: Mapping[str, Any] | None = None,
    thread: Mapping[str, tuple[Any, ParamSource]] | None = None,
    session: Session | None = None,
    model: BaseChatModel | None = None,
    ignore: frozenset[str] = frozenset(),
) -> Extraction:
    """Fill ``fields`` from the caller, the request, the model and the thread, in that order.

    Args:
        request: The request text.
        fields: The parameters (``fields_from_pipeline`` / ``fields_from_schema``).
        today: What relative dates are relative to.
        given: Values the caller gave explicitly (never overridden).
        thread: ``name -> (value, source)`` of the previous run on this thread; a value
            that was not a default there is reused for a parameter this request leaves open.
        session: An ERP session, to resolve customer names.
        model: A chat model for the parameters the scan cannot type; ``None`` skips them.
        ignore: Words that are never a customer name (the pipeline's own vocabulary).

    Returns:
        The values with their sources, the stated values no parameter takes, and a
        question when something stated cannot be resolved. Defaults are left to the
        caller's validation; ``Extraction.complete`` marks them.

    """
    from tools.language import split_request

    out = Extraction()
    given = dict(given or {})
    for name, value in given.items():
        out.values[name] = value
        out.sources[name] = "caller"
    instruction = request
    text_fields = [f for f in fields if f.kind == "text"]
    if request and text_fields:
        split = split_request(request)
        instruction = split.instruction
        for item in text_fields:
            if item.name not in out.values and split.text:
                out.values[item.name] = split.text
                out.sources[item.name] = "request"
                out.evidence[item.name] = split.text
                break
    if instruction.strip():
        words = ignore | frozenset(w for f in fields for w in _field_words(f))
        stated, question = scan_request(instruction, today=today, session=session, ignore=words)
        placed = place(
            stated, [f for f in fields if f.name not in out.values or f.name in given], given
        )
        out.values |= placed.values
        out.sources |= placed.sources
        out.evidence |= placed.evidence
        out.unplaced = placed.unplaced
        out.conflicts = placed.conflicts
        out.question = question
    open_fields = [f for f in fields if f.name not in out.values and not f.typed]
    if model is not None and open_fields and request.strip() and out.question is None:
        try:
            read = model_params(model, request, open_fields, out.values)
        except Exception as error:  # a failing model must not stop the pipeline
            log.warning("Reading parameters with the model failed: %s", error)
            out.notes.append(f"the model could not read parameters: {error}")
        else:
            out.values |= read.values
            out.sources |= read.sources
            out.evidence |= read.evidence
            # A value the scan could not place ("except Nordwind") is explained when the
            # model gave it to a parameter, quoting it.
            quotes = [q.casefold() for q in read.evidence.values()]
            out.unplaced = [
                u for u in out.unplaced if not any(u.text.casefold() in q for q in quotes)
            ]
            out.unplaced += read.unplaced
            out.notes += read.notes
    for name, (value, source) in (thread or {}).items():
        if name in out.values or source == "default" or name not in {f.name for f in fields}:
            continue
        out.values[name] = value
        out.sources[name] = "thread"
    return out


__all__ = [
    "TYPED_KINDS",
    "Extraction",
    "FillParameters",
    "ParamField",
    "ParamKind",
    "ParamSource",
    "Stated",
    "affinity",
    "extract_params",
    "fields_from_pipeline",
    "fields_from_schema",
    "model_params",
    "place",
    "scan_request",
    "split_period_values",
]
