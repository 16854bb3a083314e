"""What an agent says when it needs a model and none is configured: what Nova already knows.

Before an agent needs a model, Nova has routed the request, recalled memories, and can
cheaply read the request's language, the project's glossary terms in it and the ERP
customer it names. ``answer_without_model`` puts all of that into the answer text, and
when recall found memories that answer the question (strong facts or decisions), those
memories, cited with their ids and dates, are the answer, with a note that a model would
compose a fuller one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import SQLAlchemyError

from nodes.route_context import answering_memories
from nova.catalog import AgentSpec
from nova.models import ModelUnavailable
from nova.state import MemoryHit, NovaState

log = logging.getLogger(__name__)

_T = TypeVar("_T")

__all__ = [
    "Findings",
    "answer_without_model",
    "find_context",
    "memory_citation",
    "note_to_save",
    "save_without_model",
]


@dataclass(frozen=True, slots=True)
class Findings:
    """What Nova read from a request without a model (each ``None``/empty when not found)."""

    language: str | None = None
    """Detected language, e.g. ``English (en)``."""
    glossary_terms: tuple[str, ...] = ()
    """The project's glossary terms that occur in the request."""
    customers: tuple[str, ...] = ()
    """ERP customers the request names, as ``Name (number)``."""
    problems: tuple[str, ...] = ()
    """Look-ups that failed, with why (shown, never hidden)."""


def memory_citation(hit: MemoryHit) -> str:
    """Render a recalled memory as an answer line: text, citation, kind and date."""
    saved = f", saved {hit['created_at'][:10]}" if hit.get("created_at") else ""
    return f"- {hit['text']} [mem:{hit['id']}] ({hit['kind']}{saved})"


def _language(prose: str) -> str | None:
    from nodes.translation import detect_source

    found = detect_source(prose) if prose.strip() else None
    return f"{found.language} ({found.code})" if found else None


def _glossary_terms(text: str, project: str, owner: str | None) -> tuple[str, ...]:
    from memory.glossary import project_glossary

    glossary = project_glossary(project, owner=owner)
    return tuple(entry.term for entry in glossary if _term(entry.term).search(text))


def _term(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE)


def _customers(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return the customers ``text`` names (``Name (number)``), and the words naming them."""
    from nova.erp import models as m
    from nova.erp.db import get_erp_database
    from nova.erp.intents import ERP_WORDS, GLOBAL_WORDS
    from nova.erp.resolve import normalise
    from nova.erp.skills import name_index

    with get_erp_database().read_session() as session:
        mentions = name_index(session, m.Customer).find_in_text(
            normalise(text), ignore=ERP_WORDS | GLOBAL_WORDS
        )
    found = []
    names: list[str] = []
    for mention in mentions:
        labels = [f"{c.name} ({c.number})" for c in mention.candidates]
        found.append(labels[0] if len(labels) == 1 else f"{mention.text!r}: " + " or ".join(labels))
        # The words as written (normalised) and the full names: either may be in the text.
        names += [*mention.text.split(), *(c.name for c in mention.candidates)]
    return tuple(found), tuple(names)


def find_context(
    request: str, project: str, *, owner: str | None = None, erp: bool = False
) -> Findings:
    """Read the request's glossary terms, (for ERP agents) named customers, and language.

    The language is read from the prose left when glossary terms and customer names are
    taken out: "Bremsscheibe" or "Dobes Baumaschinen GmbH" in an English sentence must
    not make it German. Each look-up that fails is reported in ``problems`` rather than
    stopping the answer.
    """
    problems: list[str] = []

    def attempt(what: str, look: Callable[[], _T], empty: _T) -> _T:
        try:
            return look()
        except (SQLAlchemyError, OSError, ValueError, KeyError) as error:
            log.warning("Could not read the %s of %r: %s", what, request, error)
            problems.append(f"{what}: {type(error).__name__}: {error}")
            return empty

    nothing: tuple[str, ...] = ()
    terms = attempt("glossary terms", lambda: _glossary_terms(request, project, owner), nothing)
    customers = (nothing, nothing)
    if erp:
        customers = attempt("ERP customers", lambda: _customers(request), customers)
    prose = request
    for name in (*terms, *customers[1]):
        prose = _term(name).sub(" ", prose)
    return Findings(
        language=attempt("language", lambda: _language(prose), None),
        glossary_terms=terms,
        customers=customers[0],
        problems=tuple(problems),
    )


_SAVE_REQUEST = re.compile(
    r"^\s*(?:please\s+)?(?:remember|note|memori[sz]e)\s*(?::|\bthat\b)\s*(?P<note>\S.*?)\s*$",
    re.IGNORECASE | re.DOTALL,
)
"""An explicit instruction to keep a note: a verb of memorising, then ":" or "that" and the
note ("remember: acme now wants deliveries on thursdays"). "remember what we decided" asks
for a memory (no ":" or "that"), it does not give one."""


def note_to_save(request: str) -> str | None:
    """Return the note an explicit "remember: …" request gives Nova to keep, or ``None``."""
    match = _SAVE_REQUEST.match(request)
    if match is None:
        return None
    note = match["note"]
    return note[:1].upper() + note[1:]


def save_without_model(spec: AgentSpec, state: NovaState, *, owner: str | None) -> str | None:
    """Keep the note of an explicit "remember: …" request when no model is configured.

    Saving a note the owner typed needs no model: the note is the request's own text after
    "remember:" (``note_to_save``). It is saved, as the ``memory_save`` tool would, only when
    the routed agent has that tool, the project allows it, and the request carries no
    document (its instruction is the whole request), so untrusted text is never stored.

    Returns:
        The answer (what was saved, and what it supersedes), or ``None`` when the request
        is not such an instruction or the note may not be saved this way.

    """
    from memory.store import default_memory_store
    from nova.projects import load_projects
    from nova.settings import get_settings

    request = state.get("request") or ""
    instruction = state.get("instruction")
    note = note_to_save(request)
    if note is None or "memory_save" not in spec.tools:
        return None
    if instruction and instruction.strip() != request.strip():
        return None  # the request carries a document: its text is not the owner's note
    project = state.get("project") or get_settings().default_project
    if not load_projects().get(project).allows_tool("memory_save"):
        return None
    result = (
        default_memory_store()
        .for_owner(owner)
        .save(project, note, kind="fact", source=f"agent:{spec.name}")
    )
    item = result.item
    if result.status == "existing":
        return f"Already in memory as [mem:{item.id}] (project {project}): {item.text}"
    answer = f"Saved [mem:{item.id}] ({item.kind}) in project {project}: {item.text}"
    if result.superseded:
        replaced = ", ".join(f"[mem:{old}]" for old in result.superseded)
        answer += (
            f"\nIt supersedes {replaced}, which stays in the history but is no longer recalled."
        )
    return answer


def answer_without_model(
    spec: AgentSpec, state: NovaState, unavailable: ModelUnavailable, findings: Findings
) -> str:
    """Compose the answer of an agent that needs a model when none is configured.

    Args:
        spec: The routed agent.
        state: The turn's state (route, project, recalled memories).
        unavailable: Why there is no model (its message says how to configure one).
        findings: What ``find_context`` read from the request.

    Returns:
        Markdown: the memories that answer the question (if recall found any), what Nova
        found before it needed a model, and how to configure a model.

    """
    memories = state.get("memories") or []
    answering = answering_memories(memories, state.get("route"))
    parts: list[str] = []
    if answering:
        # An ERP agent's question is about data that changes: a remembered claim ("Nordwind
        # is our largest customer") may be stale, and must not read as the ERP's answer.
        caveat = (
            "not checked against the ERP's current data, which the fast path could not "
            "read for this request; "
            if spec.subgraph == "erp"
            else ""
        )
        parts.append(
            f"From memory ({caveat}no language model is configured, so these are the stored "
            "notes as they are; a model would compose a fuller answer):\n"
            + "\n".join(memory_citation(hit) for hit in answering)
        )
    route = state.get("route")
    scope = route.get("scope") if route else None
    # A turn the route moved to the project owning the ERP data says why it is there.
    found = [f"- Project: {scope or state.get('project') or 'unknown'}"]
    if route:
        found.append(
            f"- Route: {route['agent']} (method {route['method']}, confidence "
            f"{route['confidence']:.2f})"
        )
    if findings.language:
        found.append(f"- Language: {findings.language}")
    if findings.glossary_terms:
        found.append("- Glossary terms: " + ", ".join(findings.glossary_terms))
    if findings.customers:
        found.append("- Customer: " + "; ".join(findings.customers))
    others = [hit for hit in memories if hit not in answering]
    if others:
        lines = [f"  {memory_citation(hit)} · relevance {hit['score']:.2f}" for hit in others]
        found.append("- Recalled memories:\n" + "\n".join(lines))
    elif not memories:
        found.append("- Recalled memories: none relevant")
    found += [f"- Could not check {problem}" for problem in findings.problems]
    parts.append("What Nova found before it needed a model:\n" + "\n".join(found))
    parts.append(unavailable.message)
    return "\n\n".join(parts)
