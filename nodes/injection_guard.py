"""The tool gate's injection checks: data scope, and provenance of write and egress arguments.

Called by ``nodes.agent``'s tool gate for every call (see ``nova.provenance`` for what is
trusted). The rules, all by design rather than by prompt:

* ERP tools run only in projects that declare the ERP data (``data: [erp]``).
* A memory write (``memory_save``, ``memory_forget``) proposed after the agent read
  untrusted text, or with a value found only in such text, is quarantined: the graph
  pauses (``interrupt``) until the owner confirms, exactly like an ERP write.
* A ``web_fetch`` whose URL is not in the owner's instruction or Nova's data (a link from
  a page, a URL the model built, data in the path or query) pauses for approval too.
* ERP writes always pause; their approval now also shows the request, the agent, every
  value and where each came from (``nova.provenance.current_review``).
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import ToolMessage
from langgraph.types import interrupt
from pydantic import ValidationError
from typing_extensions import TypedDict

from nova.erp.skills import READ_SKILLS
from nova.erp.writes import WRITE_SKILLS
from nova.projects import Project
from nova.provenance import (
    CallReview,
    Evidence,
    gather_evidence,
    url_data,
)

ERP_TOOLS = frozenset(READ_SKILLS) | frozenset(WRITE_SKILLS)
MEMORY_WRITES = frozenset({"memory_save", "memory_forget", "glossary_add"})
"""Writes to what the owner knows and decided (memory, the project glossary)."""
EGRESS_TOOLS = frozenset({"web_fetch"})
GUARDED_TOOLS = MEMORY_WRITES | EGRESS_TOOLS | frozenset(WRITE_SKILLS)
"""Calls whose arguments are traced to their sources before they run."""
ERP_DATA = "erp"

GuardKind = Literal["memory_write_approval", "egress_approval"]


class GuardRequest(TypedDict):
    """The interrupt payload of a quarantined memory write or a held web request."""

    type: GuardKind
    tool: str
    why: str
    review: CallReview
    how_to_answer: str


def data_scope_error(name: str, project: Project) -> str | None:
    """Say why ``name`` may not run in ``project`` (ERP tools need ``data: [erp]``), else None."""
    if name in ERP_TOOLS and not project.holds(ERP_DATA):
        return (
            f"tool {name!r} reads the ERP database, which belongs to projects that declare "
            f"it (data: [erp]); project {project.id} does not"
        )
    return None


def review_call(
    name: str, args: dict[str, Any], state: dict[str, Any], agent: str, project: str
) -> tuple[CallReview, str | None]:
    """Trace a call's values; return the review and why it must be confirmed (None: it may run)."""
    evidence = gather_evidence(
        state.get("messages") or [], state.get("memories") or [], state.get("summary") or ""
    )
    values = evidence.trace(args)
    warnings = [
        f"{v['field']} = {v['value']!r} comes only from {v['source']}"
        for v in values
        if v["trust"] == "untrusted"
    ]
    why: str | None = None
    if name in EGRESS_TOOLS:
        why = _egress_reason(str(args.get("url") or ""), evidence, warnings)
    elif name in MEMORY_WRITES:
        if warnings:
            why = "the text to remember comes from untrusted content"
        elif evidence.read_untrusted:
            why = (
                "the agent read untrusted content this turn ("
                + ", ".join(evidence.read_untrusted)
                + ") before proposing it"
            )
    review = CallReview(
        request=evidence.instruction,
        agent=agent,
        project=project,
        values=values,
        untrusted_read=evidence.read_untrusted,
        warnings=warnings,
    )
    return review, why


def _egress_reason(url: str, evidence: Evidence, warnings: list[str]) -> str | None:
    source, trust = evidence.source_of(url)
    if trust == "trusted":
        return None
    carried = url_data(url, evidence)
    for piece in carried:
        warnings.append(f"the URL carries {piece['value']!r} from {piece['source']}")
    where = source if trust == "untrusted" else "the model (it is in no text the agent read)"
    return f"the URL is not in your request or Nova's data: it comes from {where}"


def guarded_siblings(call_id: str, messages: list[Any]) -> list[str]:
    """Return the other guarded calls made in the same model turn as ``call_id``.

    Pauses are matched to answers by position within one node run, so two held calls side
    by side could swap their answers: a held call with guarded siblings is refused instead.
    """
    for message in reversed(messages):
        calls = getattr(message, "tool_calls", None) or []
        if any(call.get("id") == call_id for call in calls):
            return [
                call["name"]
                for call in calls
                if call.get("id") != call_id and call["name"] in GUARDED_TOOLS
            ]
    return []


def ask_owner(kind: GuardKind, name: str, why: str, review: CallReview) -> dict[str, Any]:
    """Pause the graph with the review; return the owner's validated decision (a dict)."""
    from nova.erp.approval import ApprovalDecision

    request = GuardRequest(
        type=kind,
        tool=name,
        why=why,
        review=review,
        how_to_answer=(
            'Resume with {"approved": true, "approver": "<your name>"} to let it run, or '
            '{"approved": false, "reason": "..."} to refuse.'
        ),
    )
    answer = interrupt(request)
    try:
        return ApprovalDecision.model_validate(answer).model_dump()
    except ValidationError:
        return {"approved": False, "reason": "the answer was not an approval decision"}


def refused_message(name: str, call_id: str, why: str, decision: dict[str, Any]) -> ToolMessage:
    """Build the tool result of a call the owner did not confirm."""
    reason = f" ({decision['reason']})" if decision.get("reason") else ""
    return ToolMessage(
        content=f"Not done: {name} was held because {why}, and the owner did not confirm it"
        f"{reason}. Nothing was changed or sent.",
        name=name,
        tool_call_id=call_id,
        status="error",
    )
