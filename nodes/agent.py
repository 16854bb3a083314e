"""The generic, catalog-driven agent: one node runs whichever agent the router chose.

The agent's system prompt, tools and model all come from its ``AgentSpec``; the tool loop
(agent -> tools -> agent) is bounded by the spec's ``max_steps`` and ``NOVA_AGENT_MAX_STEPS``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

from langchain_core.messages import AIMessage, AnyMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.prebuilt import ToolNode
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.runtime import Runtime
from langgraph.types import Command

from nova.catalog import AgentSpec, Catalog
from nova.models import ModelFactory, ModelUnavailable
from nova.settings import get_settings
from nova.state import AgentRun, MemoryHit, NovaContext, NovaState
from tools.registry import get_tools

def current_agent(state: NovaState, catalog: Catalog[AgentSpec]) -> AgentSpec:
    """Return the spec of the agent the route chose (a clear error if there is none)."""
    route = state.get("route")
    if not route or not route.get("agent"):
        raise ValueError("The agent node ran without a routed agent; route must run first")
    return catalog[route["agent"]]


def _memory_block(memories: Iterable[MemoryHit]) -> str:
    lines = [f"- [mem:{hit['id']}] ({hit['kind']}) {hit['text']}" for hit in memories]
    return "" if not lines else "Relevant project memory (cite ids you rely on):\n" + "\n".join(lines)


def system_prompt(spec: AgentSpec, state: NovaState) -> str:
    """Compose the agent's system prompt: its catalog prompt plus project context and memory."""
    parts = [spec.prompt.strip(), f"Current project: {state.get('project', 'unknown')}."]
    if summary := state.get("summary"):
        parts.append(f"Summary of the earlier conversation:\n{summary}")
    if memory := _memory_block(state.get("memories") or []):
        parts.append(memory)
    return "\n\n".join(parts)


def _run_record(spec: AgentSpec, model: str | None, steps: int, outcome: str, **extra: str) -> AgentRun:
    record = AgentRun(
        agent=spec.name,
        version=spec.version,
        content_version=spec.content_version,
        model=model,
        steps=steps,
        outcome=outcome,  # type: ignore[typeddict-item]
    )
    record.update(extra)  # type: ignore[typeddict-item]
    return record


def make_agent_node(
    catalog: Catalog[AgentSpec], model_factory: ModelFactory
) -> Callable[[NovaState, Runtime[NovaContext]], dict[str, object]]:
    """Build the node that runs one model turn of the routed agent."""

    def agent(state: NovaState, runtime: Runtime[NovaContext]) -> dict[str, object]:
        spec = current_agent(state, catalog)
        steps = state.get("agent_steps", 0)
        limit = min(spec.max_steps, get_settings().agent_max_steps)
        context = runtime.context or NovaContext()

        model = model_factory(spec, context.model)
        if isinstance(model, ModelUnavailable):
            message = AIMessage(content=model.message, name=spec.name)
            return {
                "messages": [message],
                "agent_run": _run_record(spec, None, steps, "needs_model", detail=model.reason),
            }
        model_name = getattr(model, "model_name", None) or type(model).__name__
        if steps >= limit:
            text = (
                f"I stopped after {steps} steps without reaching an answer (the {spec.name} "
                f"agent's step limit is {limit}). Try a narrower request."
            )
            return {
                "messages": [AIMessage(content=text, name=spec.name)],
                "agent_run": _run_record(spec, model_name, steps, "step_limit"),
            }

        tools = get_tools(spec.tools)
        runnable = model.bind_tools(tools) if tools else model
        prompt: list[AnyMessage] = [SystemMessage(system_prompt(spec, state)), *state["messages"]]
        response = runnable.invoke(prompt)
        if not isinstance(response, AIMessage):
            raise TypeError(f"{spec.name}: model returned {type(response).__name__}, not AIMessage")
        response.name = spec.name
        return {
            "messages": [response],
            "agent_steps": steps + 1,
            "agent_run": _run_record(spec, model_name, steps + 1, "answered"),
        }

    return agent


def tools_condition(state: NovaState) -> Literal["tools", "done"]:
    """Route to the tool node while the agent's last message asks for tools."""
    last = state["messages"][-1] if state.get("messages") else None
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else "done"


def make_tool_node(catalog: Catalog[AgentSpec], agents: Iterable[AgentSpec]) -> ToolNode:
    """Build a tool node holding every tool these agents use, run only for the agent allowed it.

    A model can name a tool it was not given; the gate answers such a call with an error
    message the model can read instead of running it.
    """
    names = sorted({name for spec in agents for name in spec.tools})
    tools: list[BaseTool] = get_tools(names)

    def gate(
        request: ToolCallRequest, execute: Callable[[ToolCallRequest], ToolMessage | Command]
    ) -> ToolMessage | Command:
        spec = current_agent(request.state, catalog)
        name = request.tool_call["name"]
        if name not in spec.tools:
            return ToolMessage(
                content=(
                    f"Error: tool {name!r} is not available to the {spec.name} agent; "
                    f"use one of: {', '.join(spec.tools) or 'no tools'}"
                ),
                name=name,
                tool_call_id=request.tool_call["id"] or "",
                status="error",
            )
        return execute(request)

    return ToolNode(tools, handle_tool_errors=True, wrap_tool_call=gate)
