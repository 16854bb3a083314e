"""The ERP fast path: answer a well-defined ERP request from the database, without a model.

Contract of the node built by ``make_erp_fast_path_node`` (wire it before the ERP agent,
e.g. ``build_agent_subgraph("erp", fast_path=make_erp_fast_path_node(catalog=catalog))``):

* Reads ``state["route"]`` (a ``RouteDecision``) and ``state["request"]``.
* Runs only when the route is confident (``method`` is ``semantic``, ``explicit`` or
  ``followup``, and ``confidence >= min_confidence``; or ``erp_plan``, where this reader
  chose the agent, ``nodes.erp_route``) and names an agent whose catalog tools include ERP
  skills; only those skills are considered.
* A follow-up (``method == "followup"``) is resolved with the earlier turns of the
  thread's topic (``state["thread_route"]``, ``nova.erp.followup``): "and the oldest one?"
  inherits the customer of "Which invoices are overdue for Baker & Sons?", and "same for
  Nordwind" swaps it.
* Declines with ``{}`` (the model agent runs next) unless exactly one skill fits and every
  argument resolves without a model (``nova.erp.intents``): names via rapidfuzz, numbers via
  regex, periods via dateparser and the documented period rules.
* Answers with ``{"messages": [AIMessage(answer, name=agent)], "answer": answer,
  "agent_run": AgentRun(outcome="fast_path", ...)}``. The message's
  ``additional_kwargs["erp"]`` holds the structured result (columns, rows, row ids, facts;
  ``nova.erp.results.ErpPayload``) and ``additional_kwargs["erp_fast_path"]`` the skill and
  arguments used; ``render_erp_answer(message)`` draws it as a Rich table.
* An ERP database with no tables or no data (never migrated or seeded) is named as the
  cause with the command that fixes it (``outcome="error"``, recorded in the failure
  ledger), instead of "not found" for every number.
* Asks instead of guessing: a name matching two customers, an unreadable date or an
  invalid value gives a question and ``outcome="clarify"``.
* Writes (record a payment, create a PO, send a reminder, adjust stock) are taken only
  when every parameter is explicit, and still pause for human approval
  (``nova.erp.approval``); the answer then reports the outcome (``additional_kwargs
  ["erp_write"]``).
* A comparison ("nordwind vs winkler sales this yr", "june vs may revenue") that the
  reader declines as one request is read as two (``nova.erp.intents.compare``): each side
  planned in full, both run, one answer with both figures, the difference and the % change
  (``nova.erp.compare``); a side that does not plan declines the whole.
* A request that reads two ways ("best selling parts": by revenue or by units) is answered
  with the reading used as the answer's first line (``Plan.reading``).
* Never calls a model.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime

from nodes.route_context import scope_line
from nova.catalog import AgentSpec, Catalog, default_catalog
from nova.erp.approval import approve_and_apply
from nova.erp.compare import run_comparison
from nova.erp.db import ErpDatabase, get_erp_database
from nova.erp.followup import plan_followup
from nova.erp.intents import Clarify, Decline, Plan, answers_one_record, plan_request
from nova.erp.intents.compare import COMPARE_SKILL, Comparison, plan_comparison
from nova.erp.render import PAYLOAD_KEY, WRITE_KEY, render_erp_answer, render_text
from nova.erp.results import SkillResult
from nova.erp.skills import READ_SKILLS, ErpNotReady, SkillError, require_data
from nova.erp.writes import WRITE_SKILLS
from nova.projects import load_projects
from nova.provenance import CallReview, current_review, defences_on, gather_evidence
from nova.settings import get_settings
from nova.state import AgentOutcome, AgentRun, NovaContext, NovaState, RuntimeNode
from nova.tracing.failures import record_failure

log = logging.getLogger(__name__)

FAST_PATH_KEY = "erp_fast_path"
"""``additional_kwargs`` key holding ``{"skill", "args", "rule"}`` of a fast-path answer
(and ``"reading"`` when the request read two ways)."""

CLARIFY_KEY = "erp_clarify"
"""``additional_kwargs`` key marking a fast-path question back to the user (it states no data,
so ``numbers_grounded`` does not apply to it)."""

CONFIDENT_METHODS = frozenset({"semantic", "explicit", "followup", "erp_plan"})
READ_BY_PLAN = "erp_plan"
"""The route's method when the fast path's own reading chose the agent (``nodes.erp_route``):
the reading, not the classifier's confidence, is the evidence, so no confidence floor applies."""
ERP_SKILLS = frozenset(READ_SKILLS) | frozenset(WRITE_SKILLS)

FastPathNode = RuntimeNode[NovaState, dict[str, Any]]

__all__ = ["FAST_PATH_KEY", "make_erp_fast_path_node", "render_erp_answer"]


def _request_of(state: NovaState) -> tuple[str, str | None]:
    humans = [m for m in state.get("messages", []) if isinstance(m, HumanMessage)]
    message_id = humans[-1].id if humans else None
    text = state.get("request") or (humans[-1].text if humans else "")
    return text.strip(), message_id


def _run(spec: AgentSpec, outcome: AgentOutcome, detail: str) -> AgentRun:
    return AgentRun(
        agent=spec.name,
        version=spec.version,
        content_version=spec.content_version,
        model=None,
        steps=0,
        outcome=outcome,
        detail=detail,
    )


def fast_path_review(state: NovaState, agent: str, args: dict[str, Any]) -> CallReview:
    """Trace a fast-path write's values (read from the request alone) for its approval."""
    evidence = gather_evidence(state.get("messages") or [])
    return CallReview(
        request=evidence.instruction,
        agent=agent,
        project=str(state.get("project") or ""),
        values=evidence.trace(args),
        untrusted_read=[],
        warnings=[],
    )


def _reply(
    spec: AgentSpec, text: str, outcome: AgentOutcome, detail: str, **extra: Any
) -> dict[str, Any]:
    message = AIMessage(content=text, name=spec.name, additional_kwargs=extra)
    return {"messages": [message], "answer": text, "agent_run": _run(spec, outcome, detail)}


def _skill_error(
    spec: AgentSpec, error: SkillError, detail: str, used: dict[str, Any], skill: str
) -> dict[str, Any]:
    """Reply with what a skill could not do (a name it could not settle): a question back."""
    return _reply(
        spec,
        str(error),
        "clarify",
        f"{detail} -> {type(error).__name__}",
        **{FAST_PATH_KEY: used, CLARIFY_KEY: {"skill": skill}},
    )


def _compared(
    spec: AgentSpec, comparison: Comparison, read: SkillResult[Any] | SkillError | None
) -> dict[str, Any]:
    """Reply with a comparison's composite answer (or the error one side's skill raised)."""
    used = {
        "skill": COMPARE_SKILL,
        "args": {
            "contrast": comparison.kind,
            "sides": [
                {"label": side.label, "skill": side.plan.skill,
                 "args": side.plan.args.model_dump(mode="json")}
                for side in comparison.sides
            ],
        },
        "rule": "comparison",
    }  # fmt: skip
    detail = f"{COMPARE_SKILL} {json.dumps(used['args'], sort_keys=True)}"
    if isinstance(read, SkillError):
        return _skill_error(spec, read, detail, used, COMPARE_SKILL)
    assert read is not None  # the comparison ran in the planning session
    text = render_text(read)
    if comparison.reading:
        used["reading"] = comparison.reading
        text = f"{comparison.reading}\n\n{text}"
    return _reply(
        spec,
        text,
        "fast_path",
        detail,
        **{PAYLOAD_KEY: read.payload(), FAST_PATH_KEY: used},
    )


def make_erp_fast_path_node(
    *,
    database: ErpDatabase | Callable[[], ErpDatabase] | None = None,
    catalog: Catalog[AgentSpec] | None = None,
    min_confidence: float = 0.0,
    allow_writes: bool = True,
) -> FastPathNode:
    """Build the fast-path node (see the module docstring for its contract).

    Args:
        database: The ERP database, or a function returning it; default: the settings' one.
        catalog: Agents (their tools decide which skills may answer); default: the
            configured catalog.
        min_confidence: Extra floor on the router's confidence; the router's own
            thresholds already decide ``method``, so the default trusts them.
        allow_writes: Take fully explicit write requests (always through approval).

    """

    def get_database() -> ErpDatabase:
        if database is None:
            return get_erp_database()
        return database if isinstance(database, ErpDatabase) else database()

    def fast_path(state: NovaState, runtime: Runtime[NovaContext]) -> dict[str, Any]:
        reply = answer(state)
        scope = scope_line(state.get("route"))
        if reply and scope:
            # The route moved the turn to the project that owns the ERP data: say so.
            text = f"{reply['answer']}\n\n{scope}"  # a paragraph of its own, also after a question
            message = reply["messages"][0]
            reply["messages"] = [message.model_copy(update={"content": text})]
            reply["answer"] = text
        return reply

    def answer(state: NovaState) -> dict[str, Any]:
        route = state.get("route")
        if not route or route.get("method") not in CONFIDENT_METHODS or not route.get("agent"):
            return {}
        if route.get("method") != READ_BY_PLAN and route.get("confidence", 0.0) < min_confidence:
            return {}
        agents = catalog or default_catalog()
        spec = agents.agents.get(str(route["agent"]))
        if spec is None:
            return {}
        skills = [tool for tool in spec.tools if tool in ERP_SKILLS]
        if not allow_writes:
            skills = [tool for tool in skills if tool not in WRITE_SKILLS]
        if not skills:
            return {}
        text, message_id = _request_of(state)
        if not text:
            return {}
        if defences_on():
            projects = load_projects()
            project = projects.get(state.get("project") or get_settings().default_project)
            if not project.holds("erp"):
                owners = [p.id for p in projects.projects.values() if p.holds("erp")]
                return _reply(
                    spec,
                    f"The ERP database belongs to the projects that declare it "
                    f"({', '.join(owners) or 'none'}); project {project.id} does not, so I did "
                    "not read it. Ask there instead.",
                    "clarify",
                    f"DataOutOfScope: erp in {project.id}",
                )
        db = get_database()
        try:
            require_data(db)
        except ErpNotReady as error:
            # Nothing (model or not) can answer from this database: say why and how to fix it.
            failure = record_failure(
                "tool_error", error=error, node="fast_path", agent=spec.name,
                agent_version=spec.version_label, project=state.get("project"),
                details={"database": db.display_url},
            )  # fmt: skip
            ref = f" [failure {failure.id[:12]}]" if failure else ""
            return _reply(spec, f"{error}{ref}", "error", f"ErpNotReady: {db.display_url}")
        topic = state.get("thread_route")
        read: SkillResult[Any] | SkillError | None = None
        compared: Comparison | None = None
        with db.read_session() as session:
            if route.get("method") == "followup" and topic:
                decision = plan_followup([topic["anchor"], *topic["followups"]], session, skills)
            else:
                decision = plan_request(text, session, skills)
                if isinstance(decision, Decline):
                    reading = plan_comparison(text, session, skills)
                    if isinstance(reading, Comparison):
                        try:
                            read = run_comparison(session, reading)
                        except SkillError as error:
                            read = error
                        if read is not None:
                            compared = reading
                    else:
                        decision = Decline(f"{decision.reason}; comparison: {reading.reason}")
            if isinstance(decision, Plan) and not decision.writes:
                # In the session that planned it: the facts the plan read (business date,
                # name indexes) are not read again.
                try:
                    read = READ_SKILLS[decision.skill].run(session, decision.args)
                except SkillError as error:
                    read = error
        if compared is not None:
            return _compared(spec, compared, read)
        if isinstance(decision, Decline):
            log.debug("fast path declined %r: %s", text, decision.reason)
            return {}
        if (
            isinstance(decision, Plan)
            and isinstance(read, SkillResult)
            and not answers_one_record(decision, read.total_rows)
        ):
            # "the delivery to Kessler" and several deliveries: which one is for the model.
            log.debug("fast path declined %r: one record asked, %d found", text, read.total_rows)
            return {}
        if isinstance(decision, Clarify):
            return _reply(
                spec,
                decision.question,
                "clarify",
                f"clarify: {decision.skill or 'request'}",
                **{CLARIFY_KEY: {"skill": decision.skill}},
            )
        assert isinstance(decision, Plan)
        used = {
            "skill": decision.skill,
            "args": decision.args.model_dump(mode="json"),
            "rule": decision.rule,
        }
        if decision.reading:
            used["reading"] = decision.reading
        detail = f"{decision.skill} {json.dumps(used['args'], sort_keys=True)}"
        if decision.writes:
            # The approval shows the request, the agent and where each value came from.
            token = current_review.set(
                fast_path_review(state, spec.name, decision.args.model_dump(mode="json"))
                if defences_on()
                else None
            )
            try:
                outcome = approve_and_apply(
                    db,
                    WRITE_SKILLS[decision.skill],
                    decision.args,
                    call_id=f"fast_path:{message_id or text}",
                )
            finally:
                current_review.reset(token)
            return _reply(
                spec,
                outcome.message,
                "clarify" if outcome.status == "refused" else "fast_path",
                f"{detail} -> {outcome.status}",
                **{WRITE_KEY: outcome.model_dump(mode="json"), FAST_PATH_KEY: used},
            )
        if isinstance(read, SkillError):
            return _skill_error(spec, read, detail, used, decision.skill)
        assert read is not None  # a read plan ran in the planning session above
        text = render_text(read)
        if decision.reading:
            # A ranking that reads two ways says which reading it used, before any figure.
            text = f"{decision.reading}\n\n{text}"
        return _reply(
            spec,
            text,
            "fast_path",
            detail,
            **{PAYLOAD_KEY: read.payload(), FAST_PATH_KEY: used},
        )

    return fast_path
