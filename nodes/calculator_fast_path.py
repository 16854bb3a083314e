"""The calculator's fast path: arithmetic the request states exactly, answered without a model.

Runs before the agent in the chat subgraph, for a confidently routed agent that has the
``calculator`` tool. ``nova.calc.calculate`` reads the request (VAT, discounts, percentages,
margin and markup, growth, hours at a rate, unit conversions, plain arithmetic) and either
answers — with the reading it used, so the owner can check the interpretation — or declines
with ``{}``, and the agent (with a model) takes over. It never guesses: a request with a word
the reader cannot place goes to the model, and a currency conversion without a rate is
asked back (outcome ``clarify``), since no one, model or not, should guess the rate; so is VAT
on an amount with no VAT rate ("net of 238 gross").
"""

from __future__ import annotations

from typing import Any, cast

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from nodes.erp_fast_path import CONFIDENT_METHODS
from nova.calc import calculate, calculate_followup, missing_rate
from nova.catalog import AgentSpec, Catalog, default_catalog
from nova.projects import load_projects
from nova.settings import get_settings
from nova.state import AgentOutcome, AgentRun, NovaContext, NovaState, RuntimeNode

CALCULATOR_TOOL = "calculator"
CALC_KEY = "calc_fast_path"
"""``additional_kwargs`` key holding the reading a fast-path calculation used."""


def make_calculator_fast_path_node(
    catalog: Catalog[AgentSpec] | None = None,
) -> RuntimeNode[NovaState, dict[str, Any]]:
    """Build the node; ``catalog`` defaults to the configured one."""

    def calculator_fast_path(state: NovaState, runtime: Runtime[NovaContext]) -> dict[str, Any]:
        route = state.get("route")
        if not route or route.get("method") not in CONFIDENT_METHODS or not route.get("agent"):
            return {}
        spec = (catalog or default_catalog()).agents.get(str(route["agent"]))
        if spec is None or CALCULATOR_TOOL not in spec.tools:
            return {}
        project = load_projects().get(state.get("project") or get_settings().default_project)
        if not project.allows_tool(CALCULATOR_TOOL):  # the fast path is that tool, run early
            return {}
        request = state.get("request") or ""
        result = calculate(request)
        topic = state.get("thread_route")
        if result is None and route.get("method") == "followup" and topic:
            # "and on an 85 eur one?" after "10% of 120": the same calculation, new figure.
            earlier = [topic["anchor"], *topic["followups"]]
            if earlier[-1] == request:
                earlier = earlier[:-1]
            result = calculate_followup([*earlier, request])
        if result is not None:
            text, outcome, detail = result.text, "fast_path", f"calculator: {result.reading}"
            extra = {CALC_KEY: result.reading}
        elif (question := missing_rate(request)) is not None:
            # A figure only the owner can give (an exchange rate): asked, never guessed.
            text, outcome, detail, extra = question, "clarify", "calculator: needs a rate", {}
        else:
            return {}
        message = AIMessage(content=text, name=spec.name, additional_kwargs=extra)
        run = AgentRun(
            agent=spec.name,
            version=spec.version,
            content_version=spec.content_version,
            model=None,
            steps=0,
            outcome=cast(AgentOutcome, outcome),
            detail=detail,
        )
        return {"messages": [message], "answer": text, "agent_run": run}

    return calculator_fast_path
