"""Consistency checks: arguments, results, memories and translations against their sources.

Tool arguments are checked against what the user said, results against their arguments,
memories against their successors, translations against their source's meaning.

Each check compares provenance, not wording: a document number, customer, amount or
date in a tool call must come from the user's messages in the thread, or from a result
that listed it (a lookup of the wrong document grounds nothing); a tool that was asked
for one document must not answer about another; a memory the run used must not have been
superseded; a translation must keep its source's numbers, negation and names. Registered
in ``nodes.checks.CHECKS``; agents declare them in the catalog.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from nodes.checks import CHECKS, CheckContext, CheckResult, negations_in
from nova.messages import message_text

_log = logging.getLogger("nova.checks")

# --- documents ------------------------------------------------------------------------------

DOCUMENT_ARGS: Mapping[str, str] = {
    "invoice_number": "invoice",
    "order_number": "order",
    "po_number": "po",
    "rma_number": "rma",
    "shipment_number": "shipment",
    "reference": "payment",
}
"""Tool arguments that name one document, and the document kind they name."""

ENTITY_ARGS = frozenset({"customer", "supplier", "product", "term"})
"""Tool arguments that name a business party or item (by name or number)."""

AMOUNT_ARGS = frozenset({"amount", "min_amount", "change", "new_quantity"})
DATE_ARGS = frozenset(
    {"date_from", "date_to", "paid_on", "issued_from", "issued_to", "due_from", "due_to"}
)


def _patterns() -> dict[str, re.Pattern[str]]:
    from nova.erp import resolve

    return {
        "invoice": resolve.INVOICE_RE,
        "order": resolve.ORDER_RE,
        "po": resolve.PO_RE,
        "rma": resolve.RMA_RE,
        "credit_note": resolve.CREDIT_NOTE_RE,
        "shipment": resolve.SHIPMENT_RE,
        "payment": resolve.PAYMENT_RE,
    }


@dataclass(frozen=True, slots=True)
class Document:
    """A document number read however it is spelt: ``INV 2025 412`` is ``INV-2025-00412``."""

    kind: str
    key: tuple[int, ...]
    text: str


def documents_in(text: str) -> list[Document]:
    """Return the ERP document numbers in ``text``, normalised for comparison."""
    found = []
    for kind, pattern in _patterns().items():
        for match in pattern.finditer(text):
            key = tuple(int(group) for group in match.groups() if group is not None)
            found.append(Document(kind, key, match.group(0)))
    return found


# --- the thread as evidence -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    """One tool call of the thread with its result."""

    name: str
    args: Mapping[str, Any]
    result: str
    ok: bool
    index: int
    """Position of the call's result among the thread's messages."""


def thread_calls(messages: Sequence[BaseMessage]) -> list[Call]:
    """Return every tool call in ``messages`` paired with its result, in order."""
    pending: dict[str, Any] = {}
    calls: list[Call] = []
    for index, message in enumerate(messages):
        if isinstance(message, AIMessage):
            for made in message.tool_calls:
                pending[str(made.get("id"))] = made
        elif isinstance(message, ToolMessage):
            call = pending.get(message.tool_call_id, {})
            calls.append(
                Call(
                    name=message.name or str(call.get("name", "?")),
                    args=call.get("args") or {},
                    result=message_text(message),
                    ok=message.status != "error",
                    index=index,
                )
            )
    return calls


def _user_text(messages: Sequence[BaseMessage], memories: Iterable[Mapping[str, Any]]) -> str:
    texts = [message_text(m) for m in messages if isinstance(m, HumanMessage)]
    texts += [str(m.get("text", "")) for m in memories]
    return "\n".join(texts)


def _values(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _values(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _values(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield str(value)


def _arg_documents(call: Call) -> list[tuple[str, Document]]:
    found = []
    for arg, value in call.args.items():
        if arg in DOCUMENT_ARGS or arg in ENTITY_ARGS:
            for text in _values(value):
                found += [(arg, doc) for doc in documents_in(text)]
    return found


def _listed(calls: Sequence[Call], before: int, kind: str) -> set[tuple[str, tuple[int, ...]]]:
    # A result lists documents of ``kind`` for the model to pick from only when the call
    # did not itself ask for one document of that kind (a lookup grounds nothing new).
    listed: set[tuple[str, tuple[int, ...]]] = set()
    for call in calls:
        if call.index >= before or not call.ok:
            continue
        if any(doc.kind == kind for _, doc in _arg_documents(call)):
            continue
        listed |= {(d.kind, d.key) for d in documents_in(call.result)}
    return listed


def _fuzzy_in(value: str, texts: Sequence[str]) -> bool:
    # Names compared as people say them: case, accents, possessives and legal forms folded
    # ("Müller's" finds "Mueller GmbH" only through a result; "muller" finds "Müller GmbH").
    from rapidfuzz import fuzz

    from nova.erp.resolve import core_name, normalise

    needle = core_name(value) or normalise(value)
    if len(needle) < 3:
        return True
    return any(fuzz.partial_ratio(needle, normalise(text)) >= 85 for text in texts if text)


def _named_in_result(number: str, call: Call) -> str | None:
    """Return the name a call's own result rows give the party numbered ``number``."""
    if not call.ok or not number.strip().isdigit():
        return None
    for line in call.result.splitlines():
        line = line.strip()
        if not (line.startswith("{") and line.endswith("}")):
            continue
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and str(row.get("id", "")) == number.strip():
            name = row.get("name")
            return str(name) if name else None
    return None


def _messages(context: CheckContext) -> Sequence[BaseMessage]:
    return context.thread or context.messages


@CHECKS.register("tool_args_consistent")
def tool_args_consistent(context: CheckContext) -> CheckResult | None:
    """Check that tool arguments name what the user named: documents, parties, amounts, dates.

    A document number of a kind the user named in the thread must be one they named, or one
    an earlier result listed; a customer, supplier or product must appear in what the user
    wrote or in an earlier result; an amount must be a number the user or a result stated
    (or one computed from them); an explicit date must be one the user or a result gave,
    when the user gave explicit dates at all. Text given to a language agent is content, not
    a query, and is not read for arguments.
    """
    from nova.erp.grounding import DATE_RE, Grounds, mentions

    messages = _messages(context)
    calls = [c for c in thread_calls(messages) if c.args]
    if not calls:
        return None
    user = _user_text(messages, context.memories)
    if getattr(context.agent, "group", None) == "translation":
        return None
    named = {(d.kind, d.key) for d in documents_in(user)}
    named_kinds = {kind for kind, _ in named}
    user_dates = set(DATE_RE.findall(user))
    problems: list[str] = []
    for call in calls:
        earlier = [c.result for c in calls if c.index < call.index and c.ok]
        for arg, doc in _arg_documents(call):
            if doc.kind not in named_kinds or (doc.kind, doc.key) in named:
                continue
            if (doc.kind, doc.key) in _listed(calls, call.index, doc.kind):
                continue
            said = ", ".join(sorted({d.text for d in documents_in(user) if d.kind == doc.kind}))
            problems.append(f"{call.name}({arg}={doc.text}) but the user named {said}")
        for arg in ENTITY_ARGS & set(call.args):
            for value in _values(call.args[arg]):
                if documents_in(value) or not value.strip():
                    continue
                if _fuzzy_in(value, [user, *earlier]):
                    continue
                # A party's number ("20001") is judged by the name its own result gives it.
                name = _named_in_result(value, call)
                if name is not None and _fuzzy_in(name, [user, *earlier]):
                    continue
                problems.append(
                    f"{call.name}({arg}={value!r}"
                    + (f", which is {name}" if name else "")
                    + "): named neither by the user nor by an earlier result"
                )
        grounds = Grounds.of([user, *earlier])
        for arg in AMOUNT_ARGS & set(call.args):
            for value in _values(call.args[arg]):
                stated = [m for m in mentions(value) if m.kind == "number"]
                if stated and not all(grounds.supports(m, arithmetic=True) for m in stated):
                    problems.append(
                        f"{call.name}({arg}={value}): no amount the user or a result stated"
                    )
        dates = {
            (arg, date)
            for arg in DATE_ARGS & set(call.args)
            for value in _values(call.args[arg])
            for date in DATE_RE.findall(value)
        }
        # A period's other bound may be computed ("since 2025-03-01" ends today): only a
        # call none of whose dates is one the user or a result gave is flagged.
        if (
            user_dates
            and dates
            and not any(date in user_dates or date in grounds.dates for _, date in dates)
        ):
            used = ", ".join(f"{arg}={date}" for arg, date in sorted(dates))
            problems.append(
                f"{call.name}({used}) but the user gave {', '.join(sorted(user_dates))}"
            )
    if problems:
        return CheckResult("tool_args_consistent", False, "; ".join(dict.fromkeys(problems)))
    return CheckResult(
        "tool_args_consistent", True, f"{len(calls)} tool call(s) name what the user named"
    )


@CHECKS.register("tool_results_match_args", judges="tools")
def tool_results_match_args(context: CheckContext) -> CheckResult | None:
    """Check that a tool asked for one document answered about that document, not another."""
    calls = [c for c in thread_calls(_messages(context)) if c.ok]
    problems: list[str] = []
    checked = 0
    for call in calls:
        for arg, wanted in _arg_documents(call):
            if arg not in DOCUMENT_ARGS:
                continue
            returned = [d for d in documents_in(call.result) if d.kind == wanted.kind]
            if not returned:
                continue  # "not found" or a result that does not repeat the number
            checked += 1
            if all(d.key != wanted.key for d in returned):
                others = ", ".join(dict.fromkeys(d.text for d in returned))
                problems.append(f"{call.name}({arg}={wanted.text}) returned {others}")
    if problems:
        return CheckResult("tool_results_match_args", False, "; ".join(problems))
    if not checked:
        return None
    return CheckResult(
        "tool_results_match_args", True, f"{checked} lookup(s) returned what was asked for"
    )


# --- memory freshness -----------------------------------------------------------------------

MEMORY_ID_RE = re.compile(r"\[mem:([0-9A-Za-z_-]+)\]")


def _memory_ids(context: CheckContext) -> dict[str, str]:
    used = {str(m["id"]): str(m.get("text", "")) for m in context.memories if m.get("id")}
    for call in thread_calls(context.messages):
        if call.name.startswith("memory_"):
            for memory_id in MEMORY_ID_RE.findall(call.result):
                used.setdefault(memory_id, call.result)
    return used


def answer_uses_memory(answer: str, memory_id: str, text: str) -> bool:
    """Whether ``answer`` cites the memory or states one of its facts (names, figures ≥ 2)."""
    from nova.erp.grounding import Grounds, mentions

    if f"mem:{memory_id}" in answer:
        return True
    facts = [m for m in mentions(text) if m.kind != "number" or max(m.values, default=0) >= 2]
    grounds = Grounds.of([answer])
    return bool(facts) and any(grounds.supports(m) for m in facts)


@CHECKS.register("memory_fresh")
def memory_fresh(context: CheckContext) -> CheckResult | None:
    """Check that no memory the answer relies on has been superseded by a newer one."""
    used = _memory_ids(context)
    if not used or not context.project or not context.answer.strip():
        return None
    from memory.store import default_memory_store

    try:
        store = default_memory_store().for_owner(context.user)
    except Exception:
        _log.warning("memory_fresh could not open the memory store", exc_info=True)
        return None
    stale: list[str] = []
    for memory_id, text in used.items():
        item = store.get(context.project, memory_id)
        successor = getattr(item, "superseded_by", None) if item is not None else None
        if not successor or store.get(context.project, successor) is None:
            continue
        if answer_uses_memory(context.answer, memory_id, getattr(item, "text", text)):
            stale.append(f"[mem:{memory_id}] (superseded by [mem:{successor}])")
    if stale:
        return CheckResult(
            "memory_fresh", False, "the answer uses superseded memories: " + ", ".join(stale)
        )
    return CheckResult("memory_fresh", True, f"{len(used)} memory(ies) current")


# --- translation meaning --------------------------------------------------------------------


def negated(text: str, language: str) -> bool | None:
    """Whether ``text`` contains a negator of ``language`` (``None``: language not known).

    The negator lists are ``negation_preserved``'s, so both checks read negation alike.
    """
    count = negations_in(text, language)
    return None if count is None else count > 0


def _names(text: str) -> set[str]:
    # Names a translation keeps as written: mixed-case words and words with digits (brands,
    # product and model names). Not ordinary capitalised nouns (German capitalises every
    # noun) and not acronyms, which a translation may spell out or drop ("the SKU …").
    tokens = re.findall(r"\b[\w-]+\b", text)
    return {
        t
        for t in tokens
        if len(t) > 2
        and not t.isdigit()
        and (
            (any(c.isdigit() for c in t) and any(c.isalpha() for c in t))
            or (t[0].isupper() and any(c.isupper() for c in t[1:]) and not t.isupper())
            or (t[0].islower() and any(c.isupper() for c in t[1:]))
        )
    }


def meaning_preserved(
    source: str, translation: str, source_language: str, target: str
) -> CheckResult:
    """Check that a translation keeps its source's numbers, negation and names.

    Numbers are compared by value (``1,250.00`` = ``1.250,00``); negation by whether each
    side contains a negator of its language (a flipped "not" inverts the meaning); names by
    their exact spelling (mixed-case words, acronyms, words with digits).
    """
    from nova.erp.grounding import Grounds, mentions

    problems: list[str] = []
    grounds = Grounds.of([translation])
    lost = [m.text for m in mentions(source) if m.kind == "number" and not grounds.supports(m)]
    if lost:
        problems.append(f"numbers changed or lost: {', '.join(dict.fromkeys(lost))}")
    before, after = negated(source, source_language), negated(translation, target)
    if before is not None and after is not None and before != after:
        problems.append(
            "the source is negated but the translation is not"
            if before
            else "the translation is negated but the source is not"
        )
    missing = sorted(n for n in _names(source) if n not in translation)
    if missing:
        problems.append(f"names lost: {', '.join(missing)}")
    if problems:
        return CheckResult("meaning_preserved", False, "; ".join(problems))
    return CheckResult("meaning_preserved", True, "numbers, negation and names preserved")


@CHECKS.register("meaning_preserved")
def _meaning_preserved_check(context: CheckContext) -> CheckResult | None:
    """Check that the translation keeps the source's numbers, negation and names."""
    from tools.language import detect, parse_target_languages, split_request

    split = split_request(context.request)
    targets = parse_target_languages(split.instruction)
    if not split.text or len(targets) != 1 or not context.answer.strip():
        return None
    found = detect(split.text)
    if found is None:
        return None
    answer = context.answer.split("\n\n⚠ Nova flagged this answer:", 1)[0]
    return meaning_preserved(split.text, answer, found.code, targets[0])


def tool_result_sources(messages: Sequence[BaseMessage]) -> list[str]:
    """Return every tool result of ``messages`` plus fast-path results, as source texts.

    An ERP fast-path answer carries its query result on the message; a calculator fast-path
    answer is itself the output of Nova's calculator (no model wrote it).
    """
    sources = [c.result for c in thread_calls(messages) if c.ok]
    for message in messages:
        if isinstance(message, AIMessage):
            for key in ("erp", "erp_write"):
                if key in message.additional_kwargs:
                    sources.append(json.dumps(message.additional_kwargs[key], ensure_ascii=False))
            if "calc_fast_path" in message.additional_kwargs:
                sources.append(message_text(message))
    return sources


@CHECKS.register("back_translation")
def back_translation(context: CheckContext) -> CheckResult | None:
    """Check that the translation, translated back by a model, keeps the source's meaning.

    Runs only when a model is configured (``context.back_translate``); the back-translation
    must keep the source's numbers, negation and names (``meaning_preserved`` within the
    source language). Catches what a model-free check cannot read in the target language.
    """
    if context.back_translate is None:
        return None
    from tools.language import detect, split_request

    split = split_request(context.request)
    found = detect(split.text) if split.text else None
    answer = context.answer.split("\n\n⚠ Nova flagged this answer:", 1)[0].strip()
    if found is None or not answer or split.text is None:
        return None
    back = context.back_translate(answer, found.code)
    if not back:
        return None
    verdict = meaning_preserved(split.text, back, found.code, found.code)
    if verdict.passed:
        return CheckResult("back_translation", True, "the back-translation keeps the meaning")
    return CheckResult(
        "back_translation", False, f"translated back ({back[:80]!r}): {verdict.detail}"
    )


def model_back_translator(spec: Any, model_factory: Any) -> Callable[[str, str], str | None] | None:
    """Return a back-translator on ``spec``'s model when one is configured, else ``None``."""
    from nova.models import resolve_model_name
    from nova.settings import get_settings

    if spec is None or resolve_model_name(spec, get_settings()) is None:
        return None

    def back_translate(text: str, language: str) -> str | None:
        model = model_factory(spec, None)
        if not hasattr(model, "invoke"):
            return None  # ModelUnavailable
        prompt = (
            f"Translate the following text into the language with ISO code {language}. "
            f"Reply with the translation only.\n\n{text}"
        )
        try:
            return message_text(model.invoke([HumanMessage(prompt)]))
        except Exception:
            _log.warning("back-translation failed", exc_info=True)
            return None

    return back_translate
