"""The supervisor's own steps: intake (scope the turn), dispatch (an edge), respond."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal, assert_never, cast

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime

from nova.errors import InvalidRequest
from nova.messages import message_text
from nova.projects import load_projects
from nova.provenance import defences_on, split_instruction
from nova.settings import get_settings
from nova.state import NovaContext, NovaState, RouteDecision, RuntimeNode

RouteNode = RuntimeNode[NovaState, dict[str, Any]]
"""The supervisor's ``route`` node (``nodes.router.make_route_node``)."""
StateOnlyNode = Callable[[NovaState], dict[str, Any]]

SUBGRAPHS = ("chat", "erp", "translation", "pipeline")


class EmptyRequestError(InvalidRequest):
    """The run has no human message to answer."""


def intake(state: NovaState, runtime: Runtime[NovaContext]) -> dict[str, object]:
    """Scope the turn: the latest human request, and its project.

    The project is the one the run names (``context.project``); a run that names none
    continues in the thread's project (kept in the checkpointed state from the thread's
    earlier turns), and a new thread starts in the project its request names by name
    ("signcraft trustpilot rating?", ``nodes.route_context.named_project``), else in
    ``NOVA_DEFAULT_PROJECT``.
    """
    humans = [m for m in state.get("messages", []) if isinstance(m, HumanMessage)]
    request = message_text(humans[-1]).strip() if humans else ""
    if not request:
        raise EmptyRequestError(
            "Nova needs a request: send input like "
            '{"messages": [{"role": "user", "content": "Which invoices are overdue?"}]}'
        )
    context = runtime.context or NovaContext()
    project = context.project or state.get("project") or _project_named(request)
    load_projects().get(project)  # an unknown project fails here, naming the known ones
    # Routing follows the owner's instruction, never the text it carries.
    instruction = split_instruction(request).instruction if defences_on() else request
    return {
        "request": request,
        "instruction": instruction,
        "project": project,
        "route": None,
        "agent_run": None,
        "agent_steps": 0,
        "memories": [],
    }


def _project_named(request: str) -> str:
    """Return the project a new thread's unscoped first request names, else the default."""
    from nodes.route_context import named_project
    from nodes.router import erp_reads, is_erp_name

    default = get_settings().default_project
    named = named_project(
        request,
        load_projects(),
        default_project=default,
        is_erp_name=is_erp_name,
        erp_reads=erp_reads,
    )
    return named[0] if named else default


def unroutable_reply(route: RouteDecision | None, project_id: str | None) -> AIMessage | None:
    """Return what Nova says instead of running an agent, or ``None`` when one can run.

    A route without an agent gets the router's clarifying question; an agent that the
    turn's project does not enable gets a message naming the enabled ones. The route node
    adds this reply to the turn, and ``dispatch`` then sends the turn straight to ``respond``.
    """
    if route is None:
        return None
    agent = route.get("agent")
    if agent is None or route.get("subgraph") is None:
        question = route.get("question") or "Could you say a little more about what you need?"
        return AIMessage(question, name="nova")
    projects = load_projects()
    project = projects.get(project_id or get_settings().default_project)
    if project.allows_agent(agent):
        return None
    allowed = ", ".join(project.allowed_agents)
    return AIMessage(
        f"The {agent} agent is not enabled in project {project.id}. "
        f"Agents enabled there: {allowed}. Ask in another project, or add it to "
        f"allowed_agents in {projects.source.name}.",
        name="nova",
    )


def with_unroutable_reply(route_node: RouteNode | StateOnlyNode) -> RouteNode:
    """Wrap the ``route`` node so that a turn no agent can take is answered by ``nova``.

    ``route_node`` takes the state and LangGraph's runtime, or the state alone (scripted
    routes in evals and tests).
    """
    takes_runtime = len(inspect.signature(route_node).parameters) > 1

    def route(state: NovaState, runtime: Runtime[NovaContext]) -> dict[str, Any]:
        update: dict[str, Any] = (
            cast(RouteNode, route_node)(state, runtime)
            if takes_runtime
            else cast(StateOnlyNode, route_node)(state)
        )
        reply = unroutable_reply(update.get("route"), update.get("project") or state.get("project"))
        return update if reply is None else {**update, "messages": [reply]}

    return route


def dispatch(state: NovaState) -> Literal["chat", "erp", "translation", "pipeline", "respond"]:
    """Choose the step after ``route``: the routed agent's subgraph, or ``respond``.

    ``respond`` when no agent runs: the route node has already added the reply for such a
    turn (``with_unroutable_reply``). An edge rather than a node, so a turn takes one step
    (one checkpoint) fewer.
    """
    route = state.get("route")
    if route is None:
        raise ValueError("dispatch ran before route")
    subgraph = route.get("subgraph")
    if unroutable_reply(route, state.get("project")) is not None or subgraph is None:
        return "respond"
    match subgraph:
        case "chat" | "erp" | "translation" | "pipeline":
            return subgraph
        case _:
            assert_never(subgraph)


TURN_KEY = "nova_turn"
"""``additional_kwargs`` key of a turn's final answer: the turn's route decision and the
memories recalled for it. The state keeps only the latest turn's ``route`` and
``memories``; the stamp keeps each turn's with its answer, so blame's detectors can judge
an earlier turn's route and recall (``nodes.detectors.turn_records``)."""


def respond(state: NovaState) -> dict[str, object]:
    """Set ``answer`` to the final message's text; stamp the turn's route and recall on it."""
    messages = state.get("messages", [])
    last = messages[-1] if messages else None
    if not isinstance(last, AIMessage):
        return {"answer": ""}
    update: dict[str, object] = {"answer": message_text(last)}
    stamp = {
        "route": state.get("route"),
        "memories": [dict(hit) for hit in state.get("memories") or []],
    }
    if last.id and last.additional_kwargs.get(TURN_KEY) != stamp:
        kwargs = {**last.additional_kwargs, TURN_KEY: stamp}
        update["messages"] = [last.model_copy(update={"additional_kwargs": kwargs})]
    return update
