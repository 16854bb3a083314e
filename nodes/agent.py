"""The generic, catalog-driven agent: one node runs whichever agent the router chose.

The agent's system prompt, tools and model all come from its ``AgentSpec``; the tool loop
(agent -> tools -> agent) is bounded by the spec's ``max_steps`` and ``NOVA_AGENT_MAX_STEPS``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.tools import BaseTool
from langgraph.config import get_config
from langgraph.errors import GraphBubbleUp
from langgraph.prebuilt import ToolNode
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.runtime import Runtime
from langgraph.types import Command
from typing_extensions import TypedDict

from nodes.injection_guard import (
    EGRESS_TOOLS,
    GUARDED_TOOLS,
    ask_owner,
    data_scope_error,
    guarded_siblings,
    refused_message,
    review_call,
)
from nodes.model_free import answer_without_model, find_context, save_without_model
from nodes.recall import format_memories, memory_line
from nodes.resilience import CallTimeout, call_with_timeout
from nodes.route_context import answering_memories
from nova.catalog import AgentSpec, Catalog
from nova.ledger.failures import FailureLedger, FailureRecord
from nova.messages import message_text
from nova.models import ModelFactory, ModelUnavailable, model_call_budget_s
from nova.projects import Project, load_projects
from nova.provenance import (
    FENCE_NOTE,
    current_review,
    defences_on,
    fence,
    fence_spans,
    memory_trusted,
    provenance_of,
    split_instruction,
    stamp,
)
from nova.settings import get_settings
from nova.state import AgentRun, NovaContext, NovaState, RuntimeNode
from nova.tracing.failures import mark_progress, record_failure
from nova.tracing.usage import BudgetExceeded
from tools.mcp import (
    FAILURE_KEY,
    McpTools,
    agent_mcp_tools,
    approve_mcp_call,
)
from tools.registry import get_tools


class FailureNote(TypedDict):
    """A failure the run survived (fallback, tool error), as noted on a message for the user."""

    id: str | None
    """Failure ledger id (``None`` when the ledger could not be written)."""
    kind: str
    text: str


def current_agent(state: NovaState, catalog: Catalog[AgentSpec]) -> AgentSpec:
    """Return the spec of the agent the route chose (a clear error if there is none)."""
    route = state.get("route")
    agent = route.get("agent") if route else None
    if not agent:
        raise ValueError("The agent node ran without a routed agent; route must run first")
    return catalog[agent]


def system_prompt(spec: AgentSpec, state: NovaState, unavailable: Iterable[str] = ()) -> str:
    """Compose the agent's system prompt: its catalog prompt plus project context and memory.

    ``unavailable`` names MCP servers that could not be reached, so the agent can say so
    instead of pretending their tools do not exist.
    """
    parts = [spec.prompt.strip(), f"Current project: {state.get('project', 'unknown')}."]
    if down := list(unavailable):
        parts.append(
            "These tool servers are unavailable right now; their tools cannot be used in this "
            "turn: " + "; ".join(down) + "."
        )
    memories = state.get("memories") or []
    if not defences_on():
        if summary := state.get("summary"):
            parts.append(f"Summary of the earlier conversation:\n{summary}")
        if memory := format_memories(memories):
            parts.append(memory)
        return "\n\n".join(parts)
    # The summary folds in tool results, and imported or summarised memories are outside
    # text: both are fenced, so an instruction inside them reads as data.
    parts.append(FENCE_NOTE)
    if summary := state.get("summary"):
        parts.append(
            "Summary of the earlier conversation:\n" + fence(summary, "conversation summary")
        )
    trusted = [hit for hit in memories if memory_trusted(hit)]
    if memory := format_memories(trusted):
        parts.append(memory)
    if untrusted := [hit for hit in memories if not memory_trusted(hit)]:
        lines = "\n".join(memory_line(hit) for hit in untrusted)
        parts.append(
            "Relevant project memory from imported documents and summaries (cite the "
            "[mem:<id>] you rely on):\n" + fence(lines, "imported memory")
        )
    return "\n\n".join(parts)


def fenced_messages(messages: list[AnyMessage]) -> list[AnyMessage]:
    """Return the thread as the model sees it: untrusted tool output and pasted text fenced.

    The state keeps the original messages; only the prompt carries the fences.
    """
    if not defences_on():
        return list(messages)
    shown: list[AnyMessage] = []
    for message in messages:
        if isinstance(message, ToolMessage):
            record = provenance_of(message)
            if record["spans"]:
                text = message_text(message)
                fenced = fence_spans(text, record["spans"], record["source"])
                message = message.model_copy(update={"content": fenced})
        elif isinstance(message, HumanMessage):
            text = message_text(message)
            carried = split_instruction(text).carried
            if carried and carried in text:
                fenced = text.replace(carried, fence(carried, "text pasted into the request"))
                message = message.model_copy(update={"content": fenced})
        shown.append(message)
    return shown


def _run_record(
    spec: AgentSpec, model: str | None, steps: int, outcome: str, **extra: str
) -> AgentRun:
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


ToolResolver = Callable[[Iterable[str]], list[BaseTool]]
"""``resolver(names) -> tools``: how agent nodes find their tools (the registry by default)."""


def _failure_note(record: FailureRecord | None, text: str) -> FailureNote:
    return FailureNote(
        id=record.id if record else None, kind=record.kind if record else "", text=text
    )


MALFORMED_ARGS = "__nova_malformed_arguments__"
"""Key under which a tool call whose arguments were not valid JSON carries the raw text."""


def _invoke_model(
    model: BaseChatModel, tools: list[BaseTool], prompt: list[AnyMessage], what: str
) -> AIMessage:
    runnable = model.bind_tools(tools) if tools else model
    # The budget covers the client's own retries (each attempt has NOVA_MODEL_TIMEOUT_S).
    response = call_with_timeout(lambda: runnable.invoke(prompt), model_call_budget_s(model), what)
    if not isinstance(response, AIMessage):
        raise TypeError(f"{what} returned {type(response).__name__}, not AIMessage")
    return response


def _keep_malformed_calls(response: AIMessage) -> AIMessage:
    """Turn tool calls with unparsable arguments into calls the tool node refuses.

    The endpoint keeps such a call in the conversation, so it needs an answer (an error the
    model can read and correct) rather than silence, which would end the turn empty.
    """
    if not response.invalid_tool_calls:
        return response
    kept = [
        ToolCall(
            name=call.get("name") or "unknown_tool",
            args={MALFORMED_ARGS: call.get("args") or "", "error": call.get("error") or ""},
            id=call.get("id") or f"call_invalid_{index}",
            type="tool_call",
        )
        for index, call in enumerate(response.invalid_tool_calls)
    ]
    return response.model_copy(
        update={"tool_calls": [*response.tool_calls, *kept], "invalid_tool_calls": []}
    )


def make_agent_node(
    catalog: Catalog[AgentSpec],
    model_factory: ModelFactory,
    *,
    tool_resolver: ToolResolver = get_tools,
    ledger: FailureLedger | None = None,
) -> RuntimeNode[NovaState, dict[str, object]]:
    """Build the node that runs one model turn of the routed agent.

    Each model call ends within ``NOVA_MODEL_TIMEOUT_S`` (``CallTimeout`` otherwise; the
    node's ``RetryPolicy`` retries it). When the model fails and the agent's catalog entry
    names ``model.fallback``, the fallback answers instead; its use is recorded in the
    failure ledger and noted on the message (``additional_kwargs["nova_failures"]``), so
    the check node can tell the user.

    Args:
        catalog: The agents.
        model_factory: How agents get models; the fallback is ``model_factory(spec, fallback)``.
        tool_resolver: Tools by name (the registry by default).
        ledger: Failure ledger (the configured one by default).

    """

    def agent(state: NovaState, runtime: Runtime[NovaContext]) -> dict[str, object]:
        config = get_config()
        mark_progress(config)
        spec = current_agent(state, catalog)
        steps = state.get("agent_steps", 0)
        limit = min(spec.max_steps, get_settings().agent_max_steps)
        context = runtime.context or NovaContext()

        model = model_factory(spec, context.model)
        if isinstance(model, ModelUnavailable):
            saved = save_without_model(spec, state, owner=context.user_id)
            if saved is not None:
                # "remember: …" needs no model: the note is the request's own text.
                return {
                    "messages": [AIMessage(content=saved, name=spec.name)],
                    "agent_run": _run_record(
                        spec, None, steps, "answered", detail="saved without a model"
                    ),
                }
            # Say what Nova already knows (memories that answer it, route, language, terms,
            # customer) rather than only that a model is missing.
            findings = find_context(
                state.get("request") or "",
                state.get("project") or get_settings().default_project,
                owner=context.user_id,
                erp=spec.subgraph == "erp",
            )
            text = answer_without_model(spec, state, model, findings)
            detail = model.reason
            if answering_memories(state.get("memories") or [], state.get("route")):
                detail += "; answered with the recalled memories"
            return {
                "messages": [AIMessage(content=text, name=spec.name)],
                "agent_run": _run_record(spec, None, steps, "needs_model", detail=detail),
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

        tools = tool_resolver(spec.tools)
        mcp = _mcp_tools(spec, state)
        if mcp.unavailable and steps == 0:  # once per turn, not at every step of the loop
            for why in mcp.unavailable:
                record_failure(
                    "tool_error",
                    ledger=ledger,
                    config=config,
                    error_type="McpUnavailable",
                    message=why,
                    node="agent",
                    agent=spec.name,
                    agent_version=spec.version_label,
                    project=state.get("project"),
                )
        tools = [*tools, *mcp.tools]
        prompt: list[AnyMessage] = [
            SystemMessage(system_prompt(spec, state, mcp.unavailable)),
            *fenced_messages(state["messages"]),
        ]
        notes: list[FailureNote] = []
        try:
            response = _invoke_model(model, tools, prompt, f"model {model_name} ({spec.name})")
        except BudgetExceeded as error:
            # The project's daily token budget is spent: say so plainly, record it, no model.
            record_failure(
                "budget_exceeded",
                ledger=ledger,
                config=config,
                error=error,
                node="agent",
                agent=spec.name,
                agent_version=spec.version_label,
                project=error.project,
                details={"model": model_name, "spent": error.spent, "budget": error.budget},
            )
            return {
                "messages": [AIMessage(content=str(error), name=spec.name)],
                "agent_run": _run_record(
                    spec, None, steps, "needs_model", detail="daily token budget spent"
                ),
            }
        except Exception as error:
            fallback = (
                model_factory(spec, spec.model.fallback)
                if spec.model.fallback and not isinstance(error, GraphBubbleUp)
                else None
            )
            if fallback is None or isinstance(fallback, ModelUnavailable):
                raise
            fallback_name = getattr(fallback, "model_name", None) or spec.model.fallback
            text = (
                f"model {model_name} failed ({type(error).__name__}: {error}); "
                f"answered by the fallback model {fallback_name}"
            )
            record = record_failure(
                "model_fallback",
                ledger=ledger,
                config=config,
                error=error,
                message=text,
                node="agent",
                agent=spec.name,
                agent_version=spec.version_label,
                project=state.get("project"),
                details={"model": model_name, "fallback": fallback_name},
            )
            notes.append(_failure_note(record, text))
            response = _invoke_model(
                fallback, tools, prompt, f"fallback model {fallback_name} ({spec.name})"
            )
            model_name = fallback_name
        # A copy: the model may hand out a shared object (a cached or replayed turn), and an
        # id already in the thread would make add_messages replace that earlier message.
        seen = {message.id for message in state["messages"]}
        response = _keep_malformed_calls(response).model_copy(
            update={
                "name": spec.name,
                "id": None if response.id in seen else response.id,
                "additional_kwargs": dict(response.additional_kwargs),
            }
        )
        if notes:
            response.additional_kwargs["nova_failures"] = [
                *response.additional_kwargs.get("nova_failures", []),
                *notes,
            ]
        return {
            "messages": [response],
            "agent_steps": steps + 1,
            "agent_run": _run_record(spec, model_name, steps + 1, "answered"),
        }

    return agent


def _project(state: Any) -> Project:
    return load_projects().get(
        (state.get("project") if isinstance(state, dict) else None)
        or get_settings().default_project
    )


def _mcp_tools(spec: AgentSpec, state: Any) -> McpTools:
    """Return the MCP tools ``spec`` may use in the state's project (none without servers)."""
    if not spec.mcp_servers and not _project(state).mcp_servers:
        return McpTools([], [])
    project = _project(state)
    found = agent_mcp_tools(spec, project)
    return McpTools([t for t in found.tools if project.allows_tool(t.name)], found.unavailable)


def tools_condition(state: NovaState) -> Literal["tools", "done"]:
    """Route to the tool node while the agent's last message asks for tools."""
    last = state["messages"][-1] if state.get("messages") else None
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else "done"


def make_tool_node(
    catalog: Catalog[AgentSpec],
    agents: Iterable[AgentSpec],
    *,
    tool_resolver: ToolResolver = get_tools,
    ledger: FailureLedger | None = None,
) -> ToolNode:
    """Build a tool node holding every tool these agents use, run only for the agent allowed it.

    A model can name a tool it was not given, or send arguments that are not valid JSON
    (``MALFORMED_ARGS``); the gate answers such a call with an error message the model can
    read instead of running it. Each tool call ends within
    ``NOVA_TOOL_TIMEOUT_S``. A refused call, a tool error and a timeout are each recorded
    in the failure ledger and noted on the error message
    (``additional_kwargs["nova_failure"]``); a failed call is not repeated, since a tool
    may have side effects.
    """
    names = sorted({name for spec in agents for name in spec.tools})
    tools: list[BaseTool] = tool_resolver(names)

    def refuse(request: ToolCallRequest, text: str) -> ToolMessage:
        message = ToolMessage(
            content=f"Error: {text}",
            name=request.tool_call["name"],
            tool_call_id=request.tool_call["id"] or "",
            status="error",
        )
        return stamp(message) if defences_on() else message

    def note(
        request: ToolCallRequest, spec: AgentSpec, message: ToolMessage, **record: Any
    ) -> None:
        name = request.tool_call["name"]
        text = message.content if isinstance(message.content, str) else str(message.content)
        failure = record_failure(
            record.pop("kind", "tool_error"),
            ledger=ledger,
            error_type=record.pop("error_type", "ToolError"),
            message=f"tool {name}: {text}",
            node="tools",
            agent=spec.name,
            agent_version=spec.version_label,
            project=request.state.get("project") if isinstance(request.state, dict) else None,
            details={"tool": name, "args": request.tool_call.get("args", {}), **record},
        )
        message.additional_kwargs["nova_failure"] = _failure_note(failure, f"tool {name}: {text}")

    def gate(
        request: ToolCallRequest, execute: Callable[[ToolCallRequest], ToolMessage | Command]
    ) -> ToolMessage | Command:
        spec = current_agent(request.state, catalog)
        name = request.tool_call["name"]
        if MALFORMED_ARGS in (request.tool_call.get("args") or {}):
            raw = str(request.tool_call["args"][MALFORMED_ARGS])
            refused = refuse(
                request,
                f"the arguments of your call to {name!r} are not valid JSON ({raw[:200]!r}); "
                "call it again with a JSON object that matches its schema",
            )
            note(request, spec, refused, error_type="MalformedToolCall")
            return refused
        project = _project(request.state)
        mcp_tool = None
        if name not in spec.tools:
            mcp_tool = next(
                (t for t in _mcp_tools(spec, request.state).tools if t.name == name), None
            )
            if mcp_tool is None:
                refused = refuse(
                    request,
                    f"tool {name!r} is not available to the {spec.name} agent; "
                    f"use one of: {', '.join(spec.tools) or 'no tools'}",
                )
                note(request, spec, refused, error_type="ToolNotAllowed")
                return refused
        if not project.allows_tool(name):
            refused = refuse(request, f"tool {name!r} is not enabled in project {project.id}")
            note(request, spec, refused, error_type="ToolNotAllowed")
            return refused
        defended = defences_on()
        review = None
        if defended:
            if scope_error := data_scope_error(name, project):
                refused = refuse(request, scope_error)
                note(request, spec, refused, error_type="DataOutOfScope")
                return refused
            if name in GUARDED_TOOLS:
                review, why = review_call(
                    name,
                    dict(request.tool_call.get("args") or {}),
                    request.state,
                    spec.name,
                    project.id,
                )
                siblings = guarded_siblings(
                    request.tool_call["id"] or "", list(request.state.get("messages") or [])
                )
                if why is not None and siblings:
                    refused = refuse(
                        request,
                        f"{name} needs the owner's confirmation ({why}) and was called together "
                        f"with {', '.join(siblings)}; call one such tool per turn",
                    )
                    note(request, spec, refused, error_type="HeldByOwner")
                    return refused
                if why is not None:
                    decision = ask_owner(
                        "egress_approval" if name in EGRESS_TOOLS else "memory_write_approval",
                        name,
                        why,
                        review,
                    )
                    if not decision["approved"]:
                        held = refused_message(name, request.tool_call["id"] or "", why, decision)
                        note(request, spec, held, error_type="HeldByOwner")
                        return stamp(held)
        timeout_s = get_settings().tool_timeout_s
        if mcp_tool is not None:
            request = request.override(tool=mcp_tool)

        def run() -> ToolMessage | Command:
            if mcp_tool is not None and (mcp_tool.metadata or {}).get("mutating"):
                return approve_mcp_call(
                    request, mcp_tool, execute, refuse=lambda text: refuse(request, text)
                )
            return execute(request)

        token = current_review.set(review)
        try:
            # An MCP call ends within its own timeout (tools.mcp), on the hub's loop: no
            # second thread is needed to bound it.
            result = (
                run() if mcp_tool is not None else call_with_timeout(run, timeout_s, f"tool {name}")
            )
        except CallTimeout as error:
            timed_out = refuse(request, f"{error}; the call was abandoned")
            note(request, spec, timed_out, kind="timeout", error_type="CallTimeout")
            return timed_out
        finally:
            current_review.reset(token)
        if mcp_tool is not None and isinstance(result, ToolMessage):
            # MCP output is outside text whether or not the defences run (tools.mcp declares it).
            stamp(result)
            failed = result.artifact.get(FAILURE_KEY) if isinstance(result.artifact, dict) else None
            if failed:
                result.status = "error"
                note(
                    request,
                    spec,
                    result,
                    kind=failed["kind"],
                    error_type=failed["error_type"],
                    server=failed["server"],
                )
                return result
        if isinstance(result, ToolMessage) and result.status == "error":
            note(request, spec, result)
        if defended and isinstance(result, ToolMessage):
            stamp(result)
        return result

    return ToolNode(tools, handle_tool_errors=True, wrap_tool_call=gate)
