"""Route by the ERP reading: a request the ERP fast path reads in full goes to the ERP.

The classifier knows requests by their resemblance to the catalog's examples. The owner's
shorthand often resembles none of them: "balance for peltier" and "is gasser on stop" are
out of scope to it, "top 5 debtors pls" reads like the daily planner and "revnue last month"
like the month-end close. The ERP fast path's reader (``nova.erp.intents.plan_request``)
knows such requests by their content instead: a customer it resolves in the database, a
measure, a period, and no word it cannot place.

``erp_plan_decision`` puts the two together in a project that holds the ERP data: when the
classifier abstains or picks an agent outside the ERP, and the reader plans the request
with one read skill (every condition applied, every name resolved), the request goes to the
ERP agent that owns that skill (method ``erp_plan``), and the fast path answers it. The
reader's refusals are what make this safe: it declines any request with a word it cannot
place, so chat, drafting, translation and pipeline requests are not read as ERP lookups.
On the routing dataset's 831 requests for agents outside the ERP (or for none), it planned
none (``evals/erp_owner_eval.py`` and ``tests/test_erp_route.py`` measure both sides).
Only read skills count: a write the classifier did not route to the ERP is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from nodes.route_context import moved_decision
from nova.catalog import AgentSpec, Catalog
from nova.state import RouteDecision

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from nova.erp.intents import Clarify, Plan

ERP_SUBGRAPH = "erp"
SHARED_QUERY = "erp_query"
"""The general query skill every ERP agent has; it says nothing about whose request it is."""

PlanSkill = Callable[[str], str | None]
"""Returns the read skill the ERP fast path would answer a request with (``None``: it would not)."""


AgentReads = Callable[[str, Collection[str]], bool]
"""Whether the fast path answers a request with these tools (an agent's own skills)."""


def planned_read_skill(
    text: str, session: Session, tools: Collection[str] | None = None
) -> str | None:
    """Return the read skill the fast path plans ``text`` with, or ``None``.

    Args:
        text: The request.
        session: ERP database session.
        tools: The skills it may use (default: every read skill).

    """
    from nova.erp.intents import Plan
    from nova.erp.skills import READ_SKILLS

    allowed = list(READ_SKILLS) if tools is None else [t for t in tools if t in READ_SKILLS]
    plan = _read_plan(text, session, allowed)
    return plan.skill if isinstance(plan, Plan) else None


_WHICH_NAME = re.compile(r"^Which (?:customer|supplier|product) do you mean\b")
"""The reader's question when a name fits several records: the rest of the request was read."""


def _read_plan(text: str, session: Session, allowed: Collection[str]) -> Plan | Clarify | None:
    """Return the plan the fast path reads ``text`` with: its own, or a comparison's side.

    A comparison ("units in main vs ulm") is two plans of one skill that differ only in what
    is contrasted; the first side says whose question it is. A request read in full but for
    a name that fits several records ("offene rechnungen von müller?") returns the question
    the fast path would ask, with the skill it would answer with once the name is settled.
    """
    from nova.erp.intents import Clarify, Plan, plan_request
    from nova.erp.intents.compare import Comparison, plan_comparison

    decision = plan_request(text, session, allowed)
    if isinstance(decision, Plan):
        return decision
    if isinstance(decision, Clarify) and decision.skill and _WHICH_NAME.match(decision.question):
        return decision
    compared = plan_comparison(text, session, allowed)
    return compared.sides[0].plan if isinstance(compared, Comparison) else None


def owning_read_skill(text: str, session: Session) -> str | None:
    """Return the read skill whose agent owns what ``text`` asks, or ``None``.

    Like ``planned_read_skill`` over every read skill, except that a plan with the shared
    ``erp_query`` (every ERP agent has it) names the dedicated skill about the same records
    (``nova.erp.skills.query.home_skill``): "sales to france in h1" is the reporting agent's,
    "what came in on friday" (payments) the payments agent's.
    """
    from nova.erp.intents import Plan
    from nova.erp.skills import READ_SKILLS
    from nova.erp.skills.query import QueryArgs, home_skill

    decision = _read_plan(text, session, list(READ_SKILLS))
    if decision is None or decision.skill is None:
        return None
    if not isinstance(decision, Plan):
        return decision.skill  # "which müller?": asked by the agent whose skill it reads with
    if decision.skill == SHARED_QUERY and isinstance(decision.args, QueryArgs):
        return home_skill(decision.args) or SHARED_QUERY
    return decision.skill


def erp_plan_decision(
    decision: RouteDecision,
    request: str,
    catalog: Catalog[AgentSpec],
    *,
    plan_skill: PlanSkill,
    allows: Callable[[str], bool],
    agent_reads: AgentReads | None = None,
) -> RouteDecision | None:
    """Route ``request`` to the ERP agent whose skill reads it, when the classifier did not.

    Args:
        decision: The classifier's decision (``semantic``, or an abstention).
        request: The request routed.
        catalog: The graph's agents.
        plan_skill: The fast path's reading of a request (the read skill it plans, or ``None``).
        allows: Whether the turn's project enables an agent.
        agent_reads: Whether the fast path answers a request with an agent's own skills.
            Given, an ERP agent the classifier picked whose skills cannot answer the request
            gives way to the ERP agent whose skill reads it in full ("top hydraulics product
            this yr" sent to purchasing, a ranking the reporting agent's skill reads).

    Returns:
        The decision moved to the ERP agent that owns the planned skill (the one the
        classifier ranks highest, among those the project enables), method ``erp_plan``;
        ``None`` when the classifier's ERP agent reads it (or no reader is given for that
        check), or the reader declines.

    """
    agent = decision["agent"]
    picked_erp = (
        decision["method"] == "semantic"
        and agent is not None
        and agent in catalog
        and catalog[agent].subgraph == ERP_SUBGRAPH
    )
    if picked_erp and agent_reads is None:
        return None
    skill = plan_skill(request)
    if skill is None:
        return None
    if picked_erp:
        assert agent is not None and agent_reads is not None  # checked above
        own_tools = [tool for tool in catalog[agent].tools if tool != SHARED_QUERY]
        if skill in catalog[agent].tools or agent_reads(request, own_tools):
            return None  # the agent the classifier picked answers it with its own skills
    owners = [
        spec.name
        for spec in catalog
        if spec.subgraph == ERP_SUBGRAPH and skill in spec.tools and allows(spec.name)
    ]
    if not owners:
        return None
    scores = {c["agent"]: c["score"] for c in decision["candidates"]}
    # The agent whose own skill it is (listed first after the shared query: invoice lookup
    # is erp_invoices', which payments and returns also carry), then the classifier's pick.
    target = min(
        owners, key=lambda name: (catalog[name].tools.index(skill), -scores.get(name, 0.0))
    )
    return moved_decision(
        decision,
        catalog,
        target,
        method="erp_plan",
        # The evidence is the reader's full reading, not the classifier's score for it.
        confidence=scores.get(target, 0.0),
        reason=f"the ERP fast path reads it in full; its records are {target}'s ({skill})",
    )
