"""Assumption checks: small, deterministic verdicts on what an agent produced.

Each check returns a ``CheckResult``; the agent catalog names the checks an agent's output
must pass (``checks:`` in its YAML file).
"""

from __future__ import annotations

import functools
import logging
import re as _re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from nova.glossary import (
    Glossary,
    TermLike,
    inflected_count,
    inflected_terms,
    number_words_in,
    numbers_in,
    protected_spans,
    strip_protected,
)
from nova.messages import message_text
from nova.state import CheckOutcome, JudgedStep

_log = logging.getLogger("nova.checks")


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict of one assumption check."""

    name: str
    passed: bool
    detail: str = ""


# --- translation checks -------------------------------------------------------------------


def _count(haystack: str, needle: str, *, fold: bool) -> int:
    if fold:
        return haystack.casefold().count(needle.casefold())
    return haystack.count(needle)


def _number_word_problems(
    source: str, translation: str, source_language: str | None, target: str | None
) -> list[str]:
    # "zwei Wochen" is not a protected span (nothing to mask), so "three weeks" would pass.
    # The translation may write the number as a word or in digits.
    need = number_words_in(source, source_language) if source_language else None
    if not need:
        return []
    have = Counter(number_words_in(translation, target) or ()) if target else Counter()
    have.update(int(n) for n in numbers_in(translation) if n.isdigit() and int(n) <= 12)
    return [
        f"number {value} written as a word ({have[value]}/{count})"
        for value, count in sorted(Counter(need).items())
        if have[value] < count
    ]


def glossary_preserved(
    source: str,
    translation: str,
    glossary: Glossary | Iterable[TermLike] | None = None,
    *,
    target: str | None = None,
    source_language: str | None = None,
) -> CheckResult:
    """Check that every protected span of ``source`` reached ``translation`` intact.

    Product codes, numbers, placeholders, tags, URLs, e-mail addresses and protected
    glossary terms must appear unchanged, as often as in the source; glossary terms with an
    approved translation into ``target`` must appear as that translation, and an inflected
    term (``Lieferscheine``, which masking leaves to the model) as an inflected form of it
    (``delivery notes``). Numbers 2 to 12 written as words (``zwei Wochen``) must come
    out as the same number, in words or digits, when both languages are known.

    Args:
        source: The text that was translated.
        translation: The translation to verify.
        glossary: The project's glossary.
        target: Target language code; without it, approved translations are not checked
            (protected spans still are).
        source_language: Source language code, for terms approved in both languages.

    """
    spans = protected_spans(source, glossary, target=target, source=source_language)
    problems: list[str] = []
    source_numbers = Counter(span.text for span in spans if span.kind == "number")
    translated_numbers = Counter(numbers_in(translation))
    for number, needed in source_numbers.items():
        if translated_numbers[number] < needed:
            problems.append(f"number {number!r} ({translated_numbers[number]}/{needed})")
    problems += _number_word_problems(source, translation, source_language, target)
    needed_text = Counter((span.expected, span.kind) for span in spans if span.kind != "number")
    inflected: dict[str, list[str]] = {}
    if target:
        for form, approved in inflected_terms(
            source, glossary, target=target, source=source_language
        ):
            inflected.setdefault(approved, []).append(form)
    for (expected, kind), needed in needed_text.items():
        if kind == "glossary_term" and expected in inflected:
            continue  # counted with its inflected forms below
        # Approved translations may be re-cased at a sentence start; everything else is exact.
        have = _count(translation, expected, fold=kind == "glossary_term")
        if have < needed:
            label = kind.replace("_", " ")
            problems.append(f"{label} {expected!r} ({have}/{needed})")
    for approved, forms in inflected.items():
        # "Bremsscheiben" was not masked: any inflected form of "brake disc" will do.
        needed = len(forms) + needed_text[(approved, "glossary_term")]
        have = inflected_count(translation, approved)
        if have < needed:
            problems.append(
                f"glossary term {approved!r} for {', '.join(map(repr, forms))} ({have}/{needed})"
            )
    if problems:
        return CheckResult(
            "glossary_preserved", False, "missing or altered: " + "; ".join(problems)
        )
    return CheckResult("glossary_preserved", True, f"{len(spans)} protected span(s) preserved")


# Words that negate a clause, per language (ISO 639-1). French counts ``ne``/``n'`` and
# the words that stand alone (``sans``, ``non``, ``aucun``); ``pas``, ``jamais`` and ``rien``
# follow a ``ne`` and would count it twice. Languages that negate by inflection (Czech,
# Turkish) are left out: a word count cannot see their negations.
NEGATION_WORDS: Mapping[str, str] = {
    "en": r"not|no|never|none|nothing|nobody|neither|nor|without|cannot|\w+n't",
    "de": r"nicht|nichts|kein(?:e|en|em|er|es)?|nie|niemals|niemand|ohne|weder|nirgends",
    "fr": r"ne|n'|sans|non|aucun(?:e|s|es)?|ni",
    "es": r"no|nunca|jamás|ningún|ningun[oa]s?|nada|nadie|sin|ni|tampoco",
    "it": r"non|mai|nessun[oa]?|niente|nulla|senza|né",
    "pt": r"não|nunca|nenhum(?:a|as)?|nenhuns|nada|ninguém|sem|nem",
    "nl": r"niet|geen|nooit|niets|niemand|zonder|nergens",
    "pl": r"nie|nigdy|żad(?:en|na|ne|nych|nego|nej|nym|nymi)|nic|nikt|bez|brak|ani",
    "da": r"ikke|ingen|intet|aldrig|uden",
    "sv": r"inte|ej|ingen|inget|inga|aldrig|utan",
    "ru": r"не|нет|никогда|ничего|никто|ни|без",
    "uk": r"не|ні|ніколи|нічого|ніхто|немає|без",
}
NEGATION_IDIOMS: Mapping[str, str] = {
    "en": r"\bnot? (?:later|earlier|sooner) than\b|\bno\.",
}
"""Phrases with a negation word that negate nothing: a deadline ("no later than") is
"spätestens" or "au plus tard" in other languages; "No." is "number" ("Invoice No. 12")."""
NEGATION_SPAN = 3
"""A negation word this many words or fewer after another belongs to the same negation
(``ne … pas``, ``nie ma żadnych``, ``no … nada``)."""

_WORD = _re.compile(r"\w+(?:['’]\w*)?")
_CLAUSE_END = _re.compile(r"[,.;:!?]+(?:\s|$)")


@functools.cache
def _negation_pattern(language: str) -> _re.Pattern[str] | None:
    words = NEGATION_WORDS.get(language)
    return _re.compile(rf"(?:{words})", _re.IGNORECASE) if words else None


def negations_in(text: str, language: str) -> int | None:
    """Count the negated clauses of ``text`` in ``language`` (``None``: no word list for it).

    Words within ``NEGATION_SPAN`` of each other in one clause count once, so a split or
    doubled negation (``n'a pas``, ``nigdy nie``) is one.
    """
    pattern = _negation_pattern(language)
    if pattern is None:
        return None
    if language in NEGATION_IDIOMS:
        text = _re.sub(NEGATION_IDIOMS[language], " ", text, flags=_re.IGNORECASE)
    count = 0
    for clause in _CLAUSE_END.split(text):
        last = -NEGATION_SPAN - 1
        for index, word in enumerate(_WORD.findall(clause)):
            if pattern.fullmatch(word.replace("’", "'")) or (
                language == "fr" and _re.fullmatch(r"n['’]\w+", word, _re.IGNORECASE)
            ):
                if index - last > NEGATION_SPAN:
                    count += 1
                last = index
    return count


def negation_preserved(
    source: str,
    translation: str,
    glossary: Glossary | Iterable[TermLike] | None = None,
    *,
    source_language: str | None,
    target: str | None,
) -> CheckResult:
    """Check that ``translation`` negates as many clauses as ``source`` ("not refundable").

    Negation words are counted per language (``NEGATION_WORDS``) in the prose, protected
    spans left out; a dropped or added "not" changes the count. A language pair without
    word lists passes with a note rather than failing on a guess.
    """
    if not (source_language and target):
        return CheckResult("negation_preserved", True, "source or target language unknown")
    have = negations_in(strip_protected(translation, glossary), target)
    need = negations_in(strip_protected(source, glossary), source_language)
    if have is None or need is None:
        return CheckResult(
            "negation_preserved", True, f"no negation words known for {source_language}->{target}"
        )
    if have != need:
        return CheckResult(
            "negation_preserved",
            False,
            f"the source negates {need} clause(s), the translation {have}: a 'not' was "
            f"{'dropped' if have < need else 'added'}",
        )
    return CheckResult("negation_preserved", True, f"{need} negation(s) kept")


def target_language(
    text: str, code: str, glossary: Glossary | Iterable[TermLike] | None = None
) -> CheckResult:
    """Check that ``text`` is written in language ``code`` (ISO 639-1), detected by lingua.

    Codes, numbers, placeholders and protected terms are ignored for detection. A text too
    short or too mixed to tell passes with a note rather than failing on a guess.
    """
    from tools.language import detect

    prose = strip_protected(text, glossary)
    found = detect(prose) if prose else None
    if found is None:
        return CheckResult(
            "target_language", True, f"too short or mixed to verify (expected {code})"
        )
    if found.code != code.lower():
        return CheckResult(
            "target_language",
            False,
            f"expected {code}, but the text reads as {found.language} ({found.code}, "
            f"confidence {found.confidence:.2f})",
        )
    return CheckResult("target_language", True, f"{found.language} ({found.confidence:.2f})")


# --- registry and runner (the failure-ledger engineer) -------------------------------------
# Everything below runs the checks an agent declares (catalog ``checks:``) plus the checks
# that apply to every routed run, records failures in the ledger and tells the user.


@dataclass(frozen=True, slots=True)
class ToolResultView:
    """One tool call of the turn with what it returned."""

    name: str
    args: Mapping[str, Any]
    content: str
    status: str


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What a check may look at: the turn's request, route, messages and the answer."""

    request: str
    answer: str
    agent: Any | None
    """The routed agent's ``AgentSpec`` (``None`` when nothing was routed)."""
    route: Mapping[str, Any] | None
    project: str | None
    messages: Sequence[BaseMessage]
    """This turn's messages, from the latest human message on."""
    catalog: Any | None = None
    """The agent ``Catalog`` (route checks compare agents)."""
    user: str | None = None
    """The run's user (``NovaContext.user_id``): glossary checks use their glossary."""
    memories: Sequence[Mapping[str, Any]] = ()
    """Memories recalled for this turn (``MemoryHit``s): sources an answer may cite."""
    thread: Sequence[BaseMessage] = ()
    """The whole thread's messages (earlier turns too); empty when only the turn is known."""
    back_translate: Callable[[str, str], str | None] | None = None
    """``back_translate(text, language)``: a configured model's translation of ``text`` into
    ``language`` (``None`` when no model is configured: model-free checks only)."""

    @property
    def tool_results(self) -> list[ToolResultView]:
        """Tool calls of this turn, paired with their results, in order."""
        calls = {
            call["id"]: call
            for message in self.messages
            if isinstance(message, AIMessage)
            for call in message.tool_calls
        }
        results = []
        for message in self.messages:
            if isinstance(message, ToolMessage):
                call: Mapping[str, Any] = calls.get(message.tool_call_id, {})
                content = message_text(message)
                results.append(
                    ToolResultView(
                        name=message.name or call.get("name", "?"),
                        args=call.get("args", {}),
                        content=content,
                        status=message.status,
                    )
                )
        return results


CheckFunction = Callable[[CheckContext], CheckResult | None]
"""A check: a verdict on the context, or ``None`` when it does not apply to this turn."""


@dataclass(frozen=True, slots=True)
class RegisteredCheck:
    """A check known by name to the runner."""

    name: str
    run: CheckFunction
    judges: JudgedStep
    always: bool
    """Run on every routed turn, whether or not the agent declares it."""
    description: str


class UnknownCheckError(KeyError):
    """A check name that no one registered."""

    def __str__(self) -> str:
        return str(self.args[0])


class CheckRegistry:
    """Checks by name; the catalog's ``checks:`` field refers to these names."""

    def __init__(self) -> None:
        self._checks: dict[str, RegisteredCheck] = {}

    def register(
        self, name: str, *, judges: JudgedStep = "agent", always: bool = False
    ) -> Callable[[CheckFunction], CheckFunction]:
        """Register the decorated function as check ``name``.

        Raises:
            ValueError: ``name`` is already registered.

        """

        def decorate(function: CheckFunction) -> CheckFunction:
            if name in self._checks:
                raise ValueError(f"Check names must be unique: {name!r} is registered twice")
            doc = (function.__doc__ or "").strip().split("\n", 1)[0]
            self._checks[name] = RegisteredCheck(name, function, judges, always, doc)
            return function

        return decorate

    def __contains__(self, name: object) -> bool:
        return name in self._checks

    def __getitem__(self, name: str) -> RegisteredCheck:
        try:
            return self._checks[name]
        except KeyError:
            raise UnknownCheckError(
                f"No check named {name!r}; registered checks: {', '.join(self.names)}. "
                "Register one with @CHECKS.register(...) in nodes/checks.py"
            ) from None

    @property
    def names(self) -> list[str]:
        """Registered check names, sorted."""
        return sorted(self._checks)

    def for_agent(self, declared: Sequence[str]) -> list[str]:
        """Names to run for an agent declaring ``declared``: the always-on checks, then its own."""
        names = [c.name for c in self._checks.values() if c.always]
        return names + [n for n in declared if n not in names]

    def run(self, names: Sequence[str], context: CheckContext) -> list[CheckOutcome]:
        """Run the checks ``names`` on ``context``; a check that crashes counts as failed.

        An unknown name fails too (a declared assumption nobody can verify is not a pass).
        """
        outcomes: list[CheckOutcome] = []
        for name in names:
            check = self._checks.get(name)
            if check is None:
                outcomes.append(
                    CheckOutcome(
                        name=name,
                        passed=False,
                        status="error",
                        judges="agent",
                        detail=f"no check named {name!r} is registered (agents declare it; "
                        f"register it in nodes/checks.py)",
                    )
                )
                continue
            try:
                result = check.run(context)
            except Exception as error:
                _log.warning("check %s crashed", name, exc_info=True)
                outcomes.append(
                    CheckOutcome(
                        name=name,
                        passed=False,
                        status="error",
                        judges=check.judges,
                        detail=f"the check itself failed: {type(error).__name__}: {error}",
                    )
                )
                continue
            if result is None:
                outcomes.append(
                    CheckOutcome(
                        name=name,
                        passed=True,
                        status="skipped",
                        judges=check.judges,
                        detail="not applicable to this turn",
                    )
                )
            else:
                outcomes.append(
                    CheckOutcome(
                        name=name,
                        passed=result.passed,
                        detail=result.detail,
                        status="passed" if result.passed else "failed",
                        judges=check.judges,
                    )
                )
        return outcomes


CHECKS = CheckRegistry()
"""Nova's check registry."""


def turn_messages(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """Return the messages of the current turn: from the latest human message on."""
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return list(messages[index:])
    return list(messages)


def final_answer(messages: Sequence[BaseMessage]) -> AIMessage | None:
    """Return the turn's final answer: its last AI message without tool calls."""
    for message in reversed(turn_messages(messages)):
        if isinstance(message, AIMessage) and not message.tool_calls:
            return message
    return None


# --- output_schema ---------------------------------------------------------------------------

_FENCE = _re.compile(r"```(?:json)?\s*(.*?)```", _re.DOTALL)


def parse_json_answer(text: str) -> Any:
    """Parse the JSON in an answer: the whole text, a fenced block, or the outermost object.

    Raises:
        ValueError: no JSON value can be read from ``text``.

    """
    import json

    candidates = [text.strip(), *(m.group(1).strip() for m in _FENCE.finditer(text))]
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError:
            continue
    raise ValueError("the answer holds no JSON value")


def output_schema(
    value: Any, schema: Mapping[str, Any], *, name: str = "output_schema"
) -> CheckResult:
    """Check ``value`` against JSON Schema ``schema`` (any draft ``jsonschema`` knows).

    Use it on an agent's answer or on one pipeline step's output. Every violation is listed
    with its JSON path, e.g. ``$.items[2].qty: 'x' is not of type 'integer'``.
    """
    from jsonschema import validators

    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = sorted(validator_class(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
    if not errors:
        return CheckResult(name, True, "matches the schema")
    listed = "; ".join(f"{e.json_path}: {e.message}" for e in errors[:5])
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return CheckResult(name, False, f"{len(errors)} schema violation(s): {listed}{more}")


@CHECKS.register("output_schema")
def _output_schema_check(context: CheckContext) -> CheckResult | None:
    """Check that the agent's answer is JSON matching its catalog ``output_schema``."""
    schema = getattr(context.agent, "output_schema", None)
    if not schema:
        return None
    try:
        value = parse_json_answer(context.answer)
    except ValueError:
        return CheckResult("output_schema", False, "the answer holds no JSON value to validate")
    return output_schema(value, schema)


# --- route_fits_entities ---------------------------------------------------------------------

ENTITY_TOOLS: Mapping[str, tuple[str, ...]] = {
    "invoice": ("erp_invoice_lookup", "erp_overdue_invoices", "erp_send_invoice_reminder",
                "erp_record_payment", "erp_payment_history", "erp_returns"),
    "order": ("erp_order_status", "erp_customer_orders", "erp_shipment_status"),
    "po": ("erp_purchase_orders", "erp_create_purchase_order"),
    "rma": ("erp_returns",),
    "credit_note": ("erp_returns",),
    "shipment": ("erp_shipment_status",),
    "payment": ("erp_payment_history", "erp_record_payment"),
}  # fmt: skip
"""Document kinds a request can name, and the tools that can look such a document up."""


def entities_in(text: str) -> dict[str, list[str]]:
    """Return the ERP document numbers in ``text`` by kind (invoice, order, po, …)."""
    from nova.erp import resolve

    patterns = {
        "invoice": resolve.INVOICE_RE,
        "order": resolve.ORDER_RE,
        "po": resolve.PO_RE,
        "rma": resolve.RMA_RE,
        "credit_note": resolve.CREDIT_NOTE_RE,
        "shipment": resolve.SHIPMENT_RE,
        "payment": resolve.PAYMENT_RE,
    }
    found = {kind: [m.group(0) for m in rx.finditer(text)] for kind, rx in patterns.items()}
    return {kind: numbers for kind, numbers in found.items() if numbers}


KIND_NOUNS: Mapping[str, str] = {
    "po": r"\bpurchase[ -]orders?\b|\bPOs?\b",
    "credit_note": r"\bcredit[ -]notes?\b",
    "invoice": r"\binvoices?\b",
    "order": r"\b(?:sales )?orders?\b",
    "rma": r"\breturns?\b|\bRMAs?\b",
    "shipment": r"\bshipments?\b|\bdeliver(?:y|ies)\b|\btracking\b",
    "payment": r"\bpayments?\b",
}
"""How a request names a kind of document without its number (checked in this order; a
match is blanked before the next kind is read, so "purchase order" is not an order)."""


def asked_kinds(text: str) -> set[str]:
    """Return the document kinds ``text`` asks about by name but gives no number of.

    In "Which invoice belongs to order SO-1261?" the invoice is asked for and the order is
    a cross-reference that selects it: ``{"invoice"}``.
    """
    numbered = set(entities_in(text))
    named: set[str] = set()
    rest = text
    for kind, pattern in KIND_NOUNS.items():
        rx = _re.compile(pattern, _re.IGNORECASE)
        if rx.search(rest):
            named.add(kind)
            rest = rx.sub(" ", rest)
    return named - numbered


def route_fits(request: str, agent: Any) -> bool | None:
    """Whether ``agent`` has tools for the documents ``request`` names (``None``: it names none).

    It fits when it can look up every numbered document, or, when the numbered documents
    only select another kind the request asks for by name (a cross-reference: "the invoice
    for order SO-1261"), when it can look up that kind.
    """
    kinds = entities_in(request)
    if not kinds:
        return None
    tools = set(agent.tools)
    if all(set(ENTITY_TOOLS[kind]) & tools for kind in kinds):
        return True
    asked = asked_kinds(request)
    return bool(asked) and any(set(ENTITY_TOOLS[kind]) & tools for kind in asked)


def _instruction_part(request: str, group: str | None) -> str:
    # Language agents work on a quoted or pasted text; numbers inside it are content, not a query.
    if group != "translation":
        return request
    from tools.language import split_request

    return split_request(request).instruction


def fitting_agents(request: str, catalog: Any, candidates: Sequence[str] = ()) -> list[str]:
    """Return the agents whose tools can look up the documents ``request`` names, best first.

    Ranked by how many of the named document kinds they cover, then by the router's
    candidate order; empty when the request names no document.
    """
    kinds = entities_in(request)
    if not kinds:
        return []
    order = {name: index for index, name in enumerate(candidates)}
    scored = []
    for spec in catalog:
        covered = sum(1 for kind in kinds if set(ENTITY_TOOLS[kind]) & set(spec.tools))
        if covered:
            preferred = sum(1 for kind in kinds if ENTITY_TOOLS[kind][0] in spec.tools)
            scored.append((-covered, -preferred, order.get(spec.name, len(order)), spec.name))
    return [name for *_, name in sorted(scored)]


@CHECKS.register("route_fits_entities", judges="route", always=True)
def route_fits_entities(context: CheckContext) -> CheckResult | None:
    """Check that the routed agent has tools for the documents the request names."""
    agent = context.agent
    if agent is None:
        return None
    request = _instruction_part(context.request, getattr(agent, "group", None))
    kinds = entities_in(request)
    if not kinds:
        return None
    if route_fits(request, agent):
        names = ", ".join(n for numbers in kinds.values() for n in numbers)
        return CheckResult("route_fits_entities", True, f"{agent.name} can look up {names}")
    missing = {
        kind: numbers
        for kind, numbers in kinds.items()
        if not set(ENTITY_TOOLS[kind]) & set(agent.tools)
    }
    if not missing:
        names = ", ".join(n for numbers in kinds.values() for n in numbers)
        return CheckResult("route_fits_entities", True, f"{agent.name} can look up {names}")
    named = "; ".join(f"{kind} {', '.join(numbers)}" for kind, numbers in missing.items())
    better = ""
    if context.catalog is not None:
        candidates = [c["agent"] for c in (context.route or {}).get("candidates") or []]
        fits = fitting_agents(context.request, context.catalog, candidates)[:3]
        better = f"; agents that fit: {', '.join(fits)}" if fits else ""
    return CheckResult(
        "route_fits_entities",
        False,
        f"the request names {named}, but it was routed to {agent.name}, which has no tool "
        f"for it{better}",
    )


# --- adapters for the translation checks above ----------------------------------------------


def _translation_inputs(context: CheckContext) -> tuple[str | None, list[str]]:
    from tools.language import parse_target_languages, split_request

    split = split_request(context.request)
    return split.text, parse_target_languages(split.instruction)


def _project_glossary(context: CheckContext) -> Any:
    if not context.project:
        return None
    try:
        from memory.glossary import project_glossary

        return project_glossary(context.project, owner=context.user)
    except Exception:
        _log.warning("could not load the glossary of project %s", context.project, exc_info=True)
        return None


@CHECKS.register("target_language")
def _target_language_check(context: CheckContext) -> CheckResult | None:
    """Check that the answer is in the language the request asked for."""
    _, targets = _translation_inputs(context)
    if len(targets) != 1 or not context.answer.strip():
        return None
    return target_language(context.answer, targets[0], _project_glossary(context))


@CHECKS.register("glossary_preserved")
def _glossary_preserved_check(context: CheckContext) -> CheckResult | None:
    """Check that protected terms, codes and numbers of the given text survive in the answer."""
    text, targets = _translation_inputs(context)
    if not text or not context.answer.strip():
        return None
    return glossary_preserved(
        text,
        context.answer,
        _project_glossary(context),
        target=targets[0] if len(targets) == 1 else None,
    )


@CHECKS.register("negation_preserved")
def _negation_preserved_check(context: CheckContext) -> CheckResult | None:
    """Check that the answer negates as many clauses as the given text."""
    from tools.language import detect

    text, targets = _translation_inputs(context)
    if not text or len(targets) != 1 or not context.answer.strip():
        return None
    glossary = _project_glossary(context)
    source = detect(strip_protected(text, glossary))
    return negation_preserved(
        text,
        context.answer,
        glossary,
        source_language=source.code if source else None,
        target=targets[0],
    )


# --- numbers_grounded (ERP engineer) ---------------------------------------------------------


def numbers_grounded(
    answer: str, tool_results: list[str], *, request: str = "", arithmetic: bool = False
) -> CheckResult:
    """Check that every number, date and document id in ``answer`` appears in ``tool_results``.

    Numbers are compared by value whatever their format (``1,234.50``, ``1234.5`` and
    ``€1.234,50`` are equal); a value rounded to whole units or one decimal from a tool value
    (for values of 10 and more) counts as grounded. Numbers in the user's ``request`` and
    list indices ("1. ", "2) ") are ignored. With ``arithmetic``, a number computed from two
    grounded numbers (sum, difference, product, quotient, percentage) is grounded too.
    """
    from nova.erp.grounding import mentions, ungrounded

    missing = ungrounded(answer, tool_results, request, arithmetic=arithmetic)
    if missing:
        listed = ", ".join(dict.fromkeys(m.text for m in missing))
        return CheckResult(
            "numbers_grounded",
            False,
            f"{len(missing)} value(s) in the answer appear in no tool result: {listed}",
        )
    count = len(mentions(answer, skip_list_indices=True))
    return CheckResult(
        "numbers_grounded", True, f"all {count} number(s), date(s) and id(s) come from tool results"
    )


@CHECKS.register("numbers_grounded")
def _numbers_grounded_check(context: CheckContext) -> CheckResult | None:
    """Check that the numbers in the answer come from the thread's tool results or memories.

    Sources: every tool result of the thread (a follow-up may quote an earlier turn's),
    fast-path payloads, the memories recalled for the turn, and the user's messages; a
    number computed from two grounded numbers counts as grounded.
    """
    from nodes.consistency import tool_result_sources

    answer = final_answer(context.messages)
    if answer is not None and "erp_clarify" in answer.additional_kwargs:
        return None  # a question back to the user states no data
    if not context.answer.strip():
        return None
    messages = context.thread or context.messages
    sources = tool_result_sources(messages)
    sources += [str(m.get("text", "")) for m in context.memories]
    said = [message_text(m) for m in messages if isinstance(m, HumanMessage)]
    request = "\n".join([context.request, *said])
    return numbers_grounded(context.answer, sources, request=request, arithmetic=True)


# The consistency checks register themselves on ``CHECKS`` when imported.
from nodes import consistency as _consistency  # noqa: E402, F401
