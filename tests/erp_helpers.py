"""Helpers of the ERP tests that are not fixtures: the small sample's size, a write graph,
planning and answering a request with every read skill, and plain SQL (the oracle)."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode, tools_condition
from sqlalchemy import text

from nova.erp.db import ErpDatabase
from nova.erp.intents import Plan, plan_request
from nova.erp.render import render_text
from nova.erp.seed import SeedConfig
from nova.erp.skills import READ_SKILLS
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


def plan_read(database: ErpDatabase, request: str) -> Any:
    """Return the fast path's decision on ``request`` with every read skill."""
    with database.read_session() as session:
        return plan_request(request, session, list(READ_SKILLS))


def assert_read_alike(database: ErpDatabase, said: str, plain: str) -> None:
    """Plan ``said`` (as the owner types it) exactly as ``plain`` (words the readers know)."""
    typed, written = plan_read(database, said), plan_read(database, plain)
    assert isinstance(written, Plan), written
    assert isinstance(typed, Plan), typed
    assert (typed.skill, typed.args) == (written.skill, written.args)


def answer_read(database: ErpDatabase, request: str) -> tuple[Plan, str]:
    """Return the plan of ``request`` (it must be one) and its rendered answer."""
    decision = plan_read(database, request)
    assert isinstance(decision, Plan), decision
    with database.read_session() as session:
        result = READ_SKILLS[decision.skill].run(session, decision.args)
    return decision, render_text(result)


def sql_rows(database: ErpDatabase, query: str) -> list[Any]:
    """Return the rows of a plain SQL query: the oracle the answers are checked against."""
    with database.read_session() as session:
        return list(session.execute(text(query)).all())
