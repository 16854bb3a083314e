"""Helpers of the ERP tests that are not fixtures: the small sample's size, a write graph."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode, tools_condition

from nova.erp.seed import SeedConfig
from nova.testing import ScriptedChatModel

SMALL = SeedConfig(customers=40, products=60, suppliers=6, orders=600, years=1)
"""A small business: enough rows for every skill, fast to seed."""


class ToolState(TypedDict):
    """State of the minimal agent graph the write tests drive."""

    messages: Annotated[list[AnyMessage], add_messages]


def agent_graph(model: ScriptedChatModel, tools: list[Any], checkpointer: Any = None) -> Any:
    """Compile model ⇄ tools (a real ``ToolNode``) with a checkpointer, as the agent loop does."""

    def agent(state: ToolState) -> dict[str, Any]:
        return {"messages": [model.bind_tools(tools).invoke(state["messages"])]}

    builder = StateGraph(ToolState)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode(tools))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=checkpointer or InMemorySaver())
