"""Send a request that supplies no text away from agents that only work on a supplied text.

A ``supplied_text`` agent (``AgentSpec.works_on``: translator, proofreader, summarizer,
tone editor, localizer) rewrites a text the owner gives it. "reseller commission terms"
reads like a summarising request to the classifier, and "reply to a seller angry that his
payout is late, friendly but clear" like a tone edit, but neither gives a text to work on,
nor points to one: the first asks for stored terms, the second for a new message.

``supplies_text`` reads that from the request's form: a text carried after a colon, below
the first line or in quotes (``nova.provenance.split_instruction`` for long ones), or a
demonstrative or pro-form that points to one ("translate this", "make it friendlier").
``textless_decision`` then takes the classifier's next candidate that works on the
request itself (and that the project enables and can serve), or the memory agent when
recall found a memory that answers the request more surely than that candidate is held.
With neither, the decision stands, and the agent asks for the text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from nodes.route_context import answering_memories, moved_decision
from nova.catalog import AgentSpec, Catalog
from nova.provenance import split_instruction
from nova.state import MemoryHit, RouteDecision

__all__ = ["supplies_text", "textless_decision"]

MIN_SUPPLIED_WORDS = 3
"""A colon, line or quotation shorter than this labels something; it does not supply a text."""

_POINTERS = frozenset("this these those it following below above attached here".split())
"""Demonstratives and pro-forms that point to a text given elsewhere (closed classes; "that"
is left out: it is far more often a conjunction, "angry that his payout is late")."""

_QUOTED = re.compile(r"[\"“„«‘'](?P<text>[^\"”»’']+)[\"”»’']")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def supplies_text(request: str) -> bool:
    """Whether ``request`` carries a text to work on, or points to one."""
    stripped = request.strip()
    if split_instruction(stripped).carried:
        return True
    _, colon, after_colon = stripped.partition(":")
    _, newline, below = stripped.partition("\n")
    quoted = [match["text"] for match in _QUOTED.finditer(stripped)]
    for carried in (after_colon if colon else "", below if newline else "", *quoted):
        if len(_WORD.findall(carried)) >= MIN_SUPPLIED_WORDS:
            return True
    return any(word.lower() in _POINTERS for word in _WORD.findall(stripped))


def textless_decision(
    decision: RouteDecision,
    request: str,
    memories: Sequence[MemoryHit],
    catalog: Catalog[AgentSpec],
    *,
    readers: Sequence[str],
    allows: Callable[[str], bool],
    erp_data: bool,
) -> RouteDecision | None:
    """Re-route a classifier pick that needs a supplied text when the request gives none.

    Args:
        decision: The classifier's decision; only ``semantic`` picks are re-routed.
        request: This turn's instruction.
        memories: What recall found for it, best first.
        catalog: The graph's agents.
        readers: The agents that answer from memory, in order of preference.
        allows: Whether the turn's project enables an agent.
        erp_data: Whether the turn's project holds the ERP data (an ERP agent has nothing
            to read in a project that does not).

    Returns:
        A decision for the next usable candidate (``semantic``) or a memory agent
        (``memory``), or ``None`` to keep ``decision``.

    """
    agent = decision["agent"]
    if decision["method"] != "semantic" or agent is None or agent not in catalog:
        return None
    if catalog[agent].works_on != "supplied_text" or supplies_text(request):
        return None

    def usable(name: str) -> bool:
        spec = catalog.agents.get(name)
        return (
            spec is not None
            and spec.works_on == "request"
            and allows(name)
            and (spec.subgraph != "erp" or erp_data)
        )

    candidates = [c for c in decision["candidates"] if usable(c["agent"])]
    answering = answering_memories(memories)
    enabled_readers = [name for name in readers if name in catalog and allows(name)]
    held = candidates[0]["score"] if candidates else 0.0
    why = f"{agent} works on a text the owner supplies, and the request gives none"
    if answering and enabled_readers and answering[0]["score"] > held:
        best = answering[0]
        target = next(
            (c["agent"] for c in candidates if c["agent"] in enabled_readers), enabled_readers[0]
        )
        return moved_decision(
            decision,
            catalog,
            target,
            method="memory",
            confidence=best["score"],
            reason=(
                f"{why}; recalled {best['kind']} [mem:{best['id']}] at {best['score']:.2f}, "
                f"above the next candidate ({held:.2f})"
            ),
        )
    if not candidates:
        return None
    best_candidate = candidates[0]
    return moved_decision(
        decision,
        catalog,
        best_candidate["agent"],
        method="semantic",
        confidence=best_candidate["score"],
        reason=f"{why}; next candidate {best_candidate['agent']} ({held:.2f})",
    )
