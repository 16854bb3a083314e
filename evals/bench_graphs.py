"""Benchmark-only graphs: Nova's own nodes around a scripted model with a fixed latency.

Served by ``evals/bench_server.py`` and the server tests through a generated
``langgraph.json``; never part of Nova's served graphs. ``echo`` runs intake → agent →
respond with the real catalog-driven agent node (``nodes.agent``) for the ``calculator``
agent, whose model is an ``EchoModel``: it sleeps ``NOVA_BENCH_MODEL_LATENCY_MS``
(benchmark hook, default 100) and answers ``echo: <request>``, so a client can check that
each run got its own answer back. The model goes through ``nova.concurrency``'s per-model
limit like every model ``build_chat_model`` builds.

``floor`` is the stock runtime's floor for the same work: one node that sends the request to
the same ``EchoModel`` (same latency, same concurrency limit) and returns its answer — the
smallest LLM graph there is. What ``echo`` costs beyond ``floor`` on the same server is
Nova's own per-run work. ``steps`` (``floor`` behind three trivial nodes: as many supersteps
as ``echo``) splits that into the runtime's price of the extra supersteps and Nova's node work.
"""

from __future__ import annotations

import os
import time
from typing import Annotated, Any, TypedDict

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.graph import END, START, StateGraph, add_messages

from nodes.agent import make_agent_node
from nodes.supervisor import intake, respond
from nova.catalog import AgentSpec, default_catalog
from nova.concurrency import LimitedChatModel, limit_concurrency
from nova.messages import message_text
from nova.models import ModelResult
from nova.state import NovaContext, NovaInput, NovaOutput, NovaState, RouteDecision
from nova.testing import ScriptedChatModel

LATENCY_ENV = "NOVA_BENCH_MODEL_LATENCY_MS"
"""Benchmark/testing hook: milliseconds each ``EchoModel`` call takes."""

AGENT = "calculator"


class EchoModel(ScriptedChatModel):
    """A scripted model that answers ``echo: <latest human text>`` after ``latency_s``."""

    model_name: str = "echo"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self._received.append(list(messages))
        if self.latency_s:
            time.sleep(self.latency_s)
        humans = [m for m in messages if isinstance(m, HumanMessage)]
        text = message_text(humans[-1]) if humans else ""
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=f"echo: {text}"))])


def echo_model() -> LimitedChatModel:
    """Return an ``EchoModel`` (latency from ``NOVA_BENCH_MODEL_LATENCY_MS``) under its limit."""
    latency_ms = float(os.environ.get(LATENCY_ENV, "100"))
    return limit_concurrency(EchoModel(latency_s=latency_ms / 1000))


def echo_model_factory(spec: AgentSpec, run_override: str | None) -> ModelResult:
    """Give every agent an ``EchoModel``."""
    return echo_model()


def route_to_agent(state: NovaState) -> dict[str, object]:
    """Route every request to the benchmark agent (an explicit route, like ``context.agent``)."""
    catalog = default_catalog()
    decision = RouteDecision(
        id=f"bench-{state.get('request', '')[:32]}",
        agent=AGENT,
        subgraph=catalog[AGENT].subgraph,
        confidence=1.0,
        margin=1.0,
        candidates=[{"agent": AGENT, "score": 1.0}],
        method="explicit",
        reason="benchmark graph",
        catalog_version=catalog.version,
        router_version="bench",
        latency_ms=0.0,
    )
    return {"route": decision}


def build_echo_graph() -> StateGraph[NovaState, NovaContext, NovaInput, NovaOutput]:
    """Build intake → route (fixed) → agent (EchoModel) → respond."""
    builder = StateGraph(
        NovaState, context_schema=NovaContext, input_schema=NovaInput, output_schema=NovaOutput
    )
    builder.add_node("intake", intake)
    builder.add_node("route", route_to_agent)
    builder.add_node("agent", make_agent_node(default_catalog(), echo_model_factory))
    builder.add_node("respond", respond)
    builder.add_edge(START, "intake")
    builder.add_edge("intake", "route")
    builder.add_edge("route", "agent")
    builder.add_edge("agent", "respond")
    builder.add_edge("respond", END)
    return builder


echo = build_echo_graph().compile(name="echo")


class FloorState(TypedDict, total=False):
    """The one-node graph's state: the conversation and the answer."""

    messages: Annotated[list[AnyMessage], add_messages]
    answer: str


def call_model(state: FloorState) -> dict[str, object]:
    """Send the conversation to the benchmark model and return its answer."""
    reply = echo_model().invoke(state["messages"])
    return {"messages": [reply], "answer": message_text(reply)}


def build_floor_graph() -> StateGraph[FloorState, None, FloorState, FloorState]:
    """Build the one-node graph: START → model → END."""
    builder = StateGraph(FloorState)
    builder.add_node("model", call_model)
    builder.add_edge(START, "model")
    builder.add_edge("model", END)
    return builder


floor = build_floor_graph().compile(name="floor")


class StepsState(FloorState, total=False):
    """The floor's state and one small field per trivial step."""

    scoped: str
    routed: str
    checked: str


def _step(field: str) -> Any:
    def step(state: StepsState) -> dict[str, object]:
        return {field: "done"}

    step.__name__ = field
    return step


def build_steps_graph() -> StateGraph[StepsState, None, StepsState, StepsState]:
    """Build the floor graph behind three trivial nodes: START → 3 steps → model → END.

    Four supersteps, as ``echo`` has, with none of Nova's work in them: what ``steps`` costs
    beyond ``floor`` is the runtime's own price of the extra supersteps (checkpoints, writes,
    stream events); what ``echo`` costs beyond ``steps`` is Nova's node work.
    """
    builder = StateGraph(StepsState)
    previous = START
    for field in ("scoped", "routed", "checked"):
        builder.add_node(field, _step(field))
        builder.add_edge(previous, field)
        previous = field
    builder.add_node("model", call_model)
    builder.add_edge(previous, "model")
    builder.add_edge("model", END)
    return builder


steps = build_steps_graph().compile(name="steps")
