"""The supervisor's own nodes: intake (scope the turn), dispatch (go to a subgraph), respond."""

from __future__ import annotations

from typing import Literal, assert_never

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime
from langgraph.types import Command

from nova.errors import InvalidRequest
from nova.messages import message_text
from nova.projects import load_projects
from nova.provenance import defences_on, split_instruction
from nova.settings import get_settings
from nova.state import NovaContext, NovaState

SUBGRAPHS = ("chat", "erp", "translation", "pipeline")


class EmptyRequestError(InvalidRequest):
    """The run has no human message to answer."""


def intake(state: NovaState, runtime: Runtime[NovaContext]) -> dict[str, object]:
    """Scope the turn: the latest human request, and its project.

    The project is the one the run names (``context.project``); a run that names none
    continues in the thread's project (kept in the checkpointed state from the thread's
    earlier turns), and a new thread starts in ``NOVA_DEFAULT_PROJECT``.
    """
    humans = [m for m in state.get("messages", []) if isinstance(m, HumanMessage)]
    request = message_text(humans[-1]).strip() if humans else ""
    if not request:
        raise EmptyRequestError(
            "Nova needs a request: send input like "
            '{"messages": [{"role": "user", "content": "Which invoices are overdue?"}]}'
        )
    context = runtime.context or NovaContext()
    project = context.project or state.get("project") or get_settings().default_project
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


def dispatch(
    state: NovaState,
) -> Command[Literal["chat", "erp", "translation", "pipeline", "respond"]]:
    """Hand the turn to the routed agent's subgraph, or answer a clarifying question."""
    route = state.get("route")
    if route is None:
        raise ValueError("dispatch ran before route")
    agent = route.get("agent")
    subgraph = route.get("subgraph")
    if agent is None or subgraph is None:
        question = route.get("question") or "Could you say a little more about what you need?"
        return Command(goto="respond", update={"messages": [AIMessage(question, name="nova")]})
    project = load_projects().get(state.get("project") or get_settings().default_project)
    if not project.allows_agent(agent):
        allowed = ", ".join(project.allowed_agents)
        text = (
            f"The {route['agent']} agent is not enabled in project {project.id}. "
            f"Agents enabled there: {allowed}. Ask in another project, or add it to "
            f"allowed_agents in {load_projects().source.name}."
        )
        return Command(goto="respond", update={"messages": [AIMessage(text, name="nova")]})
    match subgraph:
        case "chat" | "erp" | "translation" | "pipeline":
            return Command(goto=subgraph)
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
