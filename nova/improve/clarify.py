"""A clarifying question answered with a choice is a routing correction.

When the router abstains it asks the user which of its top candidates they mean. If the
next turn in the thread picks one — by the agent's name, words of it ("the invoices
one"), or its place in the question ("the second") — the unclear request belongs to that
agent, and a correction is recorded (feedback source ``clarify``) for ``nova improve``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from nova.ledger.feedback import FeedbackLedger, FeedbackRecord
from nova.ledger.routing import RoutingLedger

_ORDINALS = {
    "first": 0,
    "1": 0,
    "one": 0,
    "1st": 0,
    "second": 1,
    "2": 1,
    "two": 1,
    "2nd": 1,
    "third": 2,
    "3": 2,
    "three": 2,
    "3rd": 2,
}
_GENERIC = {"erp", "agent", "chat", "general", "the", "and"}
_WORD = re.compile(r"[a-z0-9]+")


def chosen_agent(reply: str, offered: Sequence[str]) -> str | None:
    """Return the one offered agent ``reply`` picks, or ``None`` if it picks none or several."""
    from rapidfuzz import fuzz

    words = _WORD.findall(reply.lower())
    if not words or len(words) > 12:
        return None  # a long reply is a new request, not a choice
    named = set()
    for agent in offered:
        if agent.lower() in reply.lower():
            named.add(agent)
            continue
        parts = [p for p in agent.lower().split("_") if len(p) >= 4 and p not in _GENERIC]
        if any(fuzz.ratio(part, word) >= 85 for part in parts for word in words):
            named.add(agent)
    if len(named) == 1:
        return named.pop()
    if named:
        return None
    places = {_ORDINALS[w] for w in words if w in _ORDINALS}
    if len(places) == 1 and (place := places.pop()) < len(offered):
        return offered[place]
    return None


def record_clarify_choice(
    reply: str,
    *,
    thread_id: str,
    project: str | None,
    user: str | None,
    feedback: FeedbackLedger | None = None,
    routing: RoutingLedger | None = None,
) -> FeedbackRecord | None:
    """Record a routing correction if ``reply`` answers the thread's last clarifying question.

    Args:
        reply: This turn's text.
        thread_id: The thread; its last routing decision is the question, if any.
        project: The thread's project.
        user: Who answered.
        feedback: Where the correction goes (the configured ledger by default).
        routing: Where the question was recorded (the configured ledger by default).

    Returns:
        The correction stored, or ``None`` when the thread's last decision was not a
        question, or the reply picks no single candidate.

    """
    found = (routing or RoutingLedger()).list(thread_id=thread_id, limit=1)
    if not found or found[0].method != "clarify" or not found[0].request:
        return None
    last = found[0]
    offered = [c.agent for c in last.candidates]
    agent = chosen_agent(reply, offered)
    if agent is None:
        return None
    return (feedback or FeedbackLedger()).record(
        "bad",
        thread_id=thread_id,
        request=last.request,
        agent=agent,
        routed_agent=None,
        route={"id": last.id, "method": last.method, "candidates": offered},
        note=f"answered the clarifying question with {reply!r}",
        user=user,
        project=project,
        source="clarify",
    )
