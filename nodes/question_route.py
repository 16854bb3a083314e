"""Keep questions away from pipelines that act: a question asks to be told, not to run.

"What did we decide about listing fees?" reads much like a listing request to the
classifier (it sent it to ``listing_sync`` at 0.75), but it asks for information: running
the listing pipeline, which writes, translates and publishes, is never the answer to it,
however sure the classifier is. ``question_decision`` moves such a turn to an agent that
answers from memory (method ``memory``), or to the fallback agent when the project
enables no memory agent.

Two facts decide it, neither tuned on any dataset:

* **The request only asks** (``nodes.dialogue_act.only_asks``): every clause is a
  grammatical question. "Which listings failed to sync? Retry them" also commands, and a
  polite "can you run the sync?" is a command; both keep their pipeline.
* **The pipeline acts** (``acting_pipeline``): one of its steps writes to the ERP when it
  runs with its defaults, or it needs material the owner must supply (a required
  parameter without a default, such as the listing text). A report pipeline that needs
  nothing and writes nothing (the morning briefing; the reminder run, which drafts unless
  told to send) answers a question by running, and keeps it. A pipeline-group agent without
  a shipped pipeline runs a model with tools that act, and counts as acting.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage

from nodes.dialogue_act import only_asks
from nodes.route_context import certain_decision, moved_decision, routing_pipelines
from nova.catalog import AgentSpec, Catalog
from nova.route_types import RouteMethod
from nova.state import MemoryHit, RouteDecision, ThreadRoute

__all__ = [
    "PIPELINE_RESULT_KEY",
    "acting_pipeline",
    "answer_decision",
    "awaiting_answer",
    "question_decision",
]

PIPELINE_RESULT_KEY = "nova_pipeline"
"""``additional_kwargs`` key of a pipeline answer's ``PipelineResult``."""


def _asking_reply(messages: Sequence[AnyMessage]) -> tuple[str | None, dict[str, Any]] | None:
    """Return (agent, result) of Nova's reply before the latest request, if a run asked in it."""
    humans = [i for i, message in enumerate(messages) if isinstance(message, HumanMessage)]
    earlier = messages[: humans[-1]] if humans else []
    reply = next((m for m in reversed(earlier) if isinstance(m, AIMessage)), None)
    result = reply.additional_kwargs.get(PIPELINE_RESULT_KEY) if reply is not None else None
    if reply is None or not isinstance(result, dict) or result.get("status") != "needs_input":
        return None
    return reply.name, result


def awaiting_answer(messages: Sequence[AnyMessage]) -> tuple[str, list[str]] | None:
    """Return the agent whose pipeline asked the owner for values in Nova's last reply, and them.

    The supervisor does not keep a pipeline's run state between turns; the reply that asked
    carries its ``PipelineResult``, so the route can send the answer back to it.
    """
    found = _asking_reply(messages)
    if found is None or found[0] is None:
        return None
    return found[0], list(found[1].get("asks") or [])


_lock = threading.Lock()
_acting: dict[str, dict[str, str | None]] = {}


def _acting_by_agent(catalog: Catalog[AgentSpec]) -> dict[str, str | None]:
    """Return, for each pipeline-group agent, why it acts (``None``: a read-only report)."""
    from nodes.pipeline_params import side_effects

    pipelines = routing_pipelines(catalog)
    found: dict[str, str | None] = {}
    for name in catalog.names:
        if catalog[name].subgraph != "pipeline":
            continue
        spec = pipelines.for_agent(name) if pipelines is not None else None
        if spec is None:
            found[name] = "it runs a model with tools that act"
            continue
        # The steps that write when run as asked with nothing stated: a reminder run that
        # sends only when told to (``send: false`` by default) drafts, it does not write.
        defaults = {param: declared.default for param, declared in spec.params.items()}
        writes = side_effects(spec, defaults, date.today())  # noqa: DTZ011 - a "when" date
        needs = [
            param
            for param, declared in spec.params.items()
            if declared.required and declared.default is None
        ]
        if writes:
            found[name] = f"its step {writes[0]!r} writes to the ERP"
        elif needs:
            found[name] = f"it needs {', '.join(needs)} from the owner"
        else:
            found[name] = None
    return found


def acting_pipeline(catalog: Catalog[AgentSpec], agent: str) -> str | None:
    """Say why ``agent`` is a pipeline that acts, or return ``None`` (not one, or a report)."""
    with _lock:
        if catalog.version not in _acting:
            _acting[catalog.version] = _acting_by_agent(catalog)
        return _acting[catalog.version].get(agent)


def question_decision(
    decision: RouteDecision,
    request: str,
    memories: Sequence[MemoryHit],
    catalog: Catalog[AgentSpec],
    *,
    readers: Sequence[str],
    fallback_agent: str,
    allows: Callable[[str], bool] | None = None,
    acting: Callable[[str], str | None] | None = None,
) -> RouteDecision | None:
    """Move a question routed to a pipeline that acts to an agent that answers it.

    Args:
        decision: This turn's decision (any method but ``explicit``: an agent the caller
            named is run as named).
        request: This turn's instruction.
        memories: What recall found for it, best first (named in the reason).
        catalog: The graph's agents.
        readers: The agents that answer from memory, in order of preference.
        fallback_agent: Takes the question when the project enables no reader.
        allows: Whether the turn's project enables an agent (default: all).
        acting: Why an agent is a pipeline that acts (default: ``acting_pipeline``).

    Returns:
        A decision with method ``memory`` (or ``fallback``), or ``None`` to keep ``decision``.

    """
    agent = decision["agent"]
    if agent is None or decision["method"] == "explicit" or agent not in catalog:
        return None
    why_acting = (acting or (lambda name: acting_pipeline(catalog, name)))(agent)
    if why_acting is None or not only_asks(request):
        return None
    enabled = [name for name in readers if name in catalog and (allows is None or allows(name))]
    method: RouteMethod = "memory"
    if not enabled:
        if fallback_agent not in catalog or (allows is not None and not allows(fallback_agent)):
            return None  # nothing else may take it: the pipeline asks for what it needs
        enabled, method = [fallback_agent], "fallback"
    best = memories[0] if memories else None
    recalled = (
        f"recalled {best['kind']} [mem:{best['id']}] at {best['score']:.2f}"
        if best
        else "recall found nothing"
    )
    return moved_decision(
        decision,
        catalog,
        enabled[0],
        method=method,
        # The evidence for this route is the memory's relevance, not the classifier's.
        confidence=best["score"] if best else 0.0,
        reason=f"a question is not a request to run {agent} ({why_acting}): every clause asks; "
        f"{recalled}",
    )


def answer_decision(
    request: str,
    previous: ThreadRoute | None,
    awaiting: tuple[str, list[str]] | None,
    catalog: Catalog[AgentSpec],
    *,
    catalog_version: str,
    router_version: str,
) -> RouteDecision | None:
    """Route the owner's answer to a pipeline's question back to that pipeline.

    After "To run listing_sync I need text …?" the next message is the listing text, as
    long as it needs to be: it is not read as a new request. A reply that is itself a
    question ("what is the text for?") is routed afresh.

    Args:
        request: This turn's instruction.
        previous: The thread's topic.
        awaiting: The agent whose pipeline asked in Nova's last reply, and the parameters
            it asked for (``nodes.pipeline_steps.awaiting_answer``).
        catalog: The graph's agents.
        catalog_version: Recorded on the decision.
        router_version: Recorded on the decision.

    """
    if previous is None or awaiting is None or previous["agent"] != awaiting[0]:
        return None
    agent, asks = awaiting
    if agent not in catalog or only_asks(request):
        return None
    decision = certain_decision(
        agent,
        catalog,
        method="followup",
        reason=(
            f"follow-up to route {previous['route_id'][:12]} ({agent}): the request answers "
            f"the {', '.join(asks)} its pipeline asked for"
        ),
        catalog_version=catalog_version,
        router_version=router_version,
    )
    decision["answers"] = asks
    return decision
