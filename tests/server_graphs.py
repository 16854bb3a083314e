"""Test-only graphs for the durable server, built from Nova's pieces (via a test langgraph.json).

``durable``: an approval-gated ERP write (``nova.erp.approval.approve_and_apply``, exactly
once per idempotency key), then a slow step, then done. The slow step is where the tests
kill the server:

* ``input.hang`` false: the step takes ``hold_s`` seconds on the first attempt only (a run
  resumed after a crash finishes quickly);
* ``input.hang`` true: every attempt hangs, so a run needs a kill per attempt until the
  runtime gives up and marks it failed.

The ERP database URL comes from the server's ``NOVA_ERP_DATABASE_URL``. Its nodes have
crash points (``nova.crashpoints``) for the crash-window tests: ``test.first_node`` where
the run starts, ``test.slow`` after the write's checkpoint.

``memory``: Nova's whole supervisor graph, where the ``memory_curator`` agent's model is a
``MemoryCommandModel``: ``remember: <text>`` saves the text with ``memory_save``,
``recall: <query>`` searches with ``memory_search``, and the agent answers with the tool's
result, so a client sees exactly what the tool read or wrote in whose memory.
"""

from __future__ import annotations

import operator
import os
import time
from typing import Annotated, NotRequired, TypedDict

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from graphs.nova import build_nova_graph
from nova.crashpoints import crash_point
from nova.erp.approval import approve_and_apply
from nova.erp.db import get_erp_database
from nova.erp.writes import WRITE_SKILLS, AdjustStockArgs
from nova.messages import message_text
from nova.state import NovaContext
from nova.testing import ScriptedChatModel, ScriptedModels, calls, says, tool_call


class DurableState(TypedDict):
    product: str
    hold_s: float
    hang: NotRequired[bool]
    steps: Annotated[list[str], operator.add]
    outcome: NotRequired[str]
    user_id: NotRequired[str | None]


def erp_write(state: DurableState, runtime: Runtime[NovaContext]) -> dict[str, object]:
    crash_point("test.first_node")
    outcome = approve_and_apply(
        get_erp_database(),
        WRITE_SKILLS["erp_adjust_stock"],
        AdjustStockArgs(product=state["product"], warehouse="MAIN", change=5, reason="cycle count"),
        call_id="durable-test",
    )
    user = runtime.context.user_id if runtime.context else None
    return {"steps": ["erp_write"], "outcome": outcome.status, "user_id": user}


def slow(state: DurableState, config: RunnableConfig) -> dict[str, object]:
    crash_point("test.slow")  # the write's checkpoint is saved before this node starts
    attempt = int(config.get("metadata", {}).get("run_attempt", 1))
    if state.get("hang") or attempt == 1:
        marker = os.environ.get("NOVA_TEST_SLOW_MARKER")
        if marker:
            with open(marker, "a") as out:
                out.write(f"{config['configurable'].get('thread_id')} attempt {attempt}\n")
        deadline = time.monotonic() + state["hold_s"]
        while time.monotonic() < deadline:
            time.sleep(0.05)
    return {"steps": ["slow"]}


def done(state: DurableState) -> dict[str, object]:
    return {"steps": ["done"]}


def build_durable_graph() -> StateGraph[DurableState, NovaContext, DurableState, DurableState]:
    builder = StateGraph(DurableState, context_schema=NovaContext)
    builder.add_node("erp_write", erp_write)
    builder.add_node("slow", slow)
    builder.add_node("done", done)
    builder.add_edge(START, "erp_write")
    builder.add_edge("erp_write", "slow")
    builder.add_edge("slow", "done")
    builder.add_edge("done", END)
    return builder


durable = build_durable_graph().compile(name="durable")


class SleepyState(TypedDict):
    label: str
    seconds: float
    log: Annotated[list[str], operator.add]
    spans: NotRequired[list[list[float]]]
    """[start, end] wall-clock times of the work step (to show runs overlapped)."""


def work(state: SleepyState) -> dict[str, object]:
    started = time.time()
    deadline = time.monotonic() + state["seconds"]
    while time.monotonic() < deadline:
        time.sleep(0.02)
    return {"log": [state["label"]], "spans": [[started, time.time()]]}


def build_sleepy_graph() -> StateGraph[SleepyState, NovaContext, SleepyState, SleepyState]:
    """One node that sleeps ``seconds`` and logs ``label``: a run that is reliably in flight."""
    builder = StateGraph(SleepyState, context_schema=NovaContext)
    builder.add_node("work", work)
    builder.add_edge(START, "work")
    builder.add_edge("work", END)
    return builder


sleepy = build_sleepy_graph().compile(name="sleepy")


class MemoryCommandModel(ScriptedChatModel):
    """Turn ``remember: X`` / ``recall: X`` into memory tool calls; answer with the tool result."""

    model_name: str = "memory-commands"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: object,
    ) -> ChatResult:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            turn = says(message_text(last))
        else:
            human = next(m for m in reversed(messages) if isinstance(m, HumanMessage))
            verb, _, text = message_text(human).partition(":")
            if verb.strip() == "remember":
                turn = calls(tool_call("memory_save", text=text.strip()))
            elif verb.strip() == "recall":
                turn = calls(tool_call("memory_search", query=text.strip(), k=10))
            else:
                turn = says("Say 'remember: <text>' or 'recall: <query>'.")
        return ChatResult(generations=[ChatGeneration(message=turn)])


memory = build_nova_graph(
    model_factory=ScriptedModels({"memory_curator": MemoryCommandModel.from_script([])})
).compile(name="memory")


def build_approving_nova_graph() -> StateGraph:  # type: ignore[type-arg]
    """Nova's supervisor whose erp_inventory agent asks to adjust stock (test product)."""
    sku = os.environ.get("NOVA_TEST_SKU", "")
    script = [
        calls(
            tool_call(
                "erp_adjust_stock", product=sku, warehouse="MAIN", change=5, reason="cycle count"
            )
        ),
        says("Stock adjusted."),
    ]
    return build_nova_graph(
        model_factory=ScriptedModels({"erp_inventory": ScriptedChatModel.from_script(script)})
    )


approving = build_approving_nova_graph().compile(name="nova")
