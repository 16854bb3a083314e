"""Questions never start a pipeline that acts; a pipeline missing a value asks for it.

From a user trial: "What did we decide about listing fees?" in sign-marketplace was routed
to ``listing_sync`` and failed with "text: Field required". ``question_decision`` is fed
made-up decisions over the real catalog; the pipeline side runs the shipped
``listing_sync`` pipeline through the pipeline subgraph with scripted (absent) models.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from graphs.pipeline import build_pipeline_graph, shipped_pipelines
from nodes.dialogue_act import only_asks
from nodes.question_route import (
    PIPELINE_RESULT_KEY,
    acting_pipeline,
    answer_decision,
    awaiting_answer,
    question_decision,
)
from nova.catalog import default_catalog
from nova.state import MemoryHit, NovaContext, RouteDecision, ThreadRoute
from nova.testing import ScriptedModels, route_to
from tests.pipeline_fixtures import Skills

READERS = ("memory_curator", "project_briefing")
FEES = [
    MemoryHit(
        id="m1",
        text="Sellers can buy featured listings for 19 EUR per week.",
        kind="decision",
        score=0.43,
    )
]


def _question(
    decision: RouteDecision, text: str, *, allows: tuple[str, ...] | None = None
) -> RouteDecision | None:
    return question_decision(
        decision,
        text,
        FEES,
        default_catalog(),
        readers=READERS,
        fallback_agent="general_chat",
        allows=None if allows is None else allows.__contains__,
    )


def test_only_asks_needs_every_clause_to_be_a_question() -> None:
    assert only_asks("What did we decide about listing fees?")
    assert only_asks("did we agree on a price for featured listings")
    assert only_asks("what was said about payouts - and when do they start?")
    assert not only_asks("Which listings failed to sync last time? Retry them")
    assert not only_asks("can you run the listing sync?")  # a polite command
    assert not only_asks("listing sync for SGN-1042?")  # terse: asks about it or for it
    assert not only_asks("Run the listing pipeline for SGN-1042")
    assert not only_asks("and what about SGN-1042?")  # "do the same for it", elliptically


def test_pipelines_that_write_or_need_material_act_and_reports_do_not() -> None:
    catalog = default_catalog()
    assert "needs text" in (acting_pipeline(catalog, "listing_sync") or "")
    # The reminder run drafts unless told to send: with its defaults it writes nothing.
    assert acting_pipeline(catalog, "invoice_reminders") is None
    assert acting_pipeline(catalog, "daily_briefing") is None
    assert acting_pipeline(catalog, "erp_invoices") is None  # not a pipeline at all


def test_a_question_routed_to_a_pipeline_that_acts_goes_to_memory() -> None:
    decision = route_to("listing_sync", "pipeline", confidence=0.75)
    moved = _question(decision, "What did we decide about listing fees?")
    assert moved is not None
    assert (moved["agent"], moved["subgraph"], moved["method"]) == (
        "memory_curator",
        "chat",
        "memory",
    )
    assert moved["confidence"] == 0.43  # the memory's relevance, not the classifier's
    assert "listing_sync" in moved["reason"] and "[mem:m1]" in moved["reason"]


def test_commands_reports_and_named_agents_keep_their_pipeline() -> None:
    sync = route_to("listing_sync", "pipeline", confidence=0.99)
    assert _question(sync, "Run the listing pipeline for SGN-1042") is None
    assert _question(sync, "Which listings failed to sync last time? Retry them") is None
    briefing = route_to("daily_briefing", "pipeline")
    assert _question(briefing, "what is in today's briefing?") is None
    named = route_to("listing_sync", "pipeline", method="explicit")
    assert _question(named, "What did we decide about listing fees?") is None


def test_without_a_memory_agent_the_question_goes_to_the_fallback_agent_or_stays() -> None:
    decision = route_to("listing_sync", "pipeline")
    moved = _question(decision, "what did we agree on fees?", allows=("general_chat",))
    assert moved is not None and (moved["agent"], moved["method"]) == ("general_chat", "fallback")
    # Nothing else enabled: the pipeline keeps it (and asks for what it needs).
    assert _question(decision, "what did we agree on fees?", allows=("listing_sync",)) is None


def _thread(agent: str) -> ThreadRoute:
    return ThreadRoute(
        agent=agent, subgraph="pipeline", route_id="r1" * 6, anchor="x", followups=[]
    )


def _asked(agent: str, asks: list[str]) -> list[AIMessage | HumanMessage]:
    result = {"pipeline": agent, "status": "needs_input", "asks": asks}
    return [
        HumanMessage("Run the listing pipeline"),
        AIMessage(
            "To run listing_sync I need text. What should it be?",
            name=agent,
            additional_kwargs={PIPELINE_RESULT_KEY: result},
        ),
        HumanMessage("Bright LED neon sign, 60 x 40 cm, warm white, with a remote dimmer."),
    ]


def test_the_answer_to_a_pipeline_question_goes_back_to_it_whatever_its_length() -> None:
    messages = _asked("listing_sync", ["text"])
    awaiting = awaiting_answer(messages)
    assert awaiting == ("listing_sync", ["text"])
    decision = answer_decision(
        "Bright LED neon sign, 60 x 40 cm, warm white, with a remote dimmer.",
        _thread("listing_sync"),
        awaiting,
        default_catalog(),
        catalog_version="c",
        router_version="r",
    )
    assert decision is not None
    assert (decision["agent"], decision["method"], decision.get("answers")) == (
        "listing_sync",
        "followup",
        ["text"],
    )
    # A reply that asks back is a new request; another thread topic is not this pipeline's.
    asks_back = answer_decision(
        "what is the text for?",
        _thread("listing_sync"),
        awaiting,
        default_catalog(),
        catalog_version="c",
        router_version="r",
    )
    assert asks_back is None
    assert awaiting_answer(messages[:1]) is None


def _pipeline_graph() -> Any:
    skills = Skills()
    names = sorted({s.skill for spec in shipped_pipelines() for s in spec.steps if s.skill})
    builder = build_pipeline_graph(model_factory=ScriptedModels(), skills=skills.tools(*names))
    return builder.compile(checkpointer=InMemorySaver())


def test_a_pipeline_missing_its_required_text_asks_for_it_and_takes_the_answer() -> None:
    graph = _pipeline_graph()
    config = {"configurable": {"thread_id": "ask"}}
    context = NovaContext(project="sign-marketplace")
    request = "Run the listing pipeline for the new LED neon sign"
    state = graph.invoke(
        {
            "messages": [HumanMessage(request)],
            "request": request,
            "route": route_to("listing_sync", "pipeline", method="explicit"),
            "project": "sign-marketplace",
        },
        config,
        context=context,
    )
    result = state["pipeline_result"]
    assert (result["status"], result.get("asks")) == ("needs_input", ["text"])
    assert state["agent_run"]["outcome"] == "clarify"
    # Asking is not a failed run, but the ask is recorded at the pipeline's start.
    assert [(f["step"], f["error_type"]) for f in state["failures"]] == [("start", "MissingParams")]
    answer = state["messages"][-1]
    assert answer.content.startswith("To run listing_sync I need text")
    assert answer.content.rstrip().endswith("?")

    text = "Bright LED neon sign, 60 x 40 cm, warm white, with a remote dimmer."
    route = route_to("listing_sync", "pipeline", method="followup")
    route["answers"] = ["text"]
    state = graph.invoke(
        {"messages": [HumanMessage(text)], "request": text, "route": route},
        {"configurable": {"thread_id": "answer"}},
        context=context,
    )
    result = state["pipeline_result"]
    assert result["status"] != "needs_input" and result["params"]["text"] == text
    assert result["param_sources"]["text"] == "request"
