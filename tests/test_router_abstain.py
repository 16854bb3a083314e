"""The route node: explicit agents, abstaining (clarify, fallback), the model tie-break, ledger."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from router_fixtures import write_agent_catalog, write_router_config

from nodes.router import Router, UnknownAgentError, make_route_node
from nodes.routing.config import load_router_config
from nodes.routing.model import Thresholds
from nova.catalog import AgentSpec, Catalog, load_specs
from nova.ledger.routing import RoutingLedger
from nova.state import NovaContext, NovaState
from nova.testing import ScriptedChatModel, ScriptedModels, calls, says, tool_call


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog[AgentSpec]:
    root = tmp_path_factory.mktemp("agents-catalog")
    write_router_config(root / "router.yaml")
    return load_specs(write_agent_catalog(root / "agents"), AgentSpec)


@pytest.fixture(scope="module")
def fitted_router(catalog: Catalog[AgentSpec], tmp_path_factory: pytest.TempPathFactory) -> Router:
    return Router.from_catalog(catalog, cache_dir=tmp_path_factory.mktemp("cache"))


def unsure(router: Router, **config: object) -> Router:
    """The same router with thresholds no request passes, and ``config`` changes."""
    never = dataclasses.replace(router.fitted, thresholds=Thresholds(1.01, 0.0, -1.0))
    return Router(router.catalog, router.config.model_copy(update=config), never)


def run_graph(
    node: object, request: str, *, context: NovaContext | None = None, thread: str = "t-1"
) -> dict[str, object]:
    builder = StateGraph(NovaState, context_schema=NovaContext)
    builder.add_node("route", node)  # type: ignore[call-overload]
    builder.add_edge(START, "route")
    builder.add_edge("route", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    return graph.invoke(
        {"request": request, "project": "parts-shop"},
        {"configurable": {"thread_id": thread}},
        context=context or NovaContext(),
    )


@pytest.fixture
def ledger(tmp_path: Path) -> RoutingLedger:
    return RoutingLedger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")


def test_confident_request_routes_semantically_and_is_logged(
    fitted_router: Router, catalog: Catalog[AgentSpec], ledger: RoutingLedger
) -> None:
    node = make_route_node(router=lambda: fitted_router, ledger=ledger, catalog=catalog)
    route = run_graph(node, "Which invoices are overdue for Nordwind?", thread="thread-42")["route"]
    assert route["method"] == "semantic"
    assert route["agent"] == "erp_invoices"
    assert route["subgraph"] == "erp"
    [record] = ledger.list()
    assert record.id == route["id"]
    assert record.thread_id == "thread-42"
    assert record.project == "parts-shop"
    assert record.request == "Which invoices are overdue for Nordwind?"
    assert record.thresholds == fitted_router.thresholds.as_dict()
    assert [c.agent for c in record.candidates] == [c["agent"] for c in route["candidates"]]
    assert not record.low_confidence


def test_clarify_names_the_top_candidates_in_plain_words(
    fitted_router: Router, catalog: Catalog[AgentSpec], ledger: RoutingLedger
) -> None:
    router = unsure(fitted_router, abstain_action="clarify")
    node = make_route_node(router=lambda: router, ledger=ledger, catalog=catalog)
    route = run_graph(node, "Plan my Friday around the invoices call")["route"]
    assert route["method"] == "clarify"
    assert route["agent"] is None
    assert route["subgraph"] is None
    question = route["question"]
    top = [c["agent"] for c in route["candidates"]]
    assert "daily planner" in question  # plain words, not the snake_case id
    for name in top:
        assert name.replace("_", " ").replace("erp", "ERP") in question
    assert ledger.list(low_confidence=True)[0].question == question


def test_fallback_hands_over_to_general_chat(
    fitted_router: Router, catalog: Catalog[AgentSpec], ledger: RoutingLedger
) -> None:
    router = unsure(fitted_router, abstain_action="fallback")
    node = make_route_node(router=lambda: router, ledger=ledger, catalog=catalog)
    route = run_graph(node, "Plan my Friday")["route"]
    assert route["method"] == "fallback"
    assert route["agent"] == "general_chat"
    assert route["subgraph"] == "chat"
    assert "handed to general_chat" in route["reason"]


def test_out_of_scope_request_is_detected_and_clarified(
    fitted_router: Router, catalog: Catalog[AgentSpec], ledger: RoutingLedger
) -> None:
    node = make_route_node(router=lambda: fitted_router, ledger=ledger, catalog=catalog)
    route = run_graph(node, "Book a taxi and order a pizza to the hotel")["route"]
    assert route["method"] == "clarify"
    assert route["question"].startswith("I'm not sure any of my agents can help")


def test_model_breaks_the_tie_with_structured_output(
    fitted_router: Router, catalog: Catalog[AgentSpec], ledger: RoutingLedger
) -> None:
    router = unsure(fitted_router)
    model = ScriptedChatModel.from_script(
        [calls(tool_call("RouteChoice", agent="daily_planner", reason="it asks for a plan"))]
    )
    models = ScriptedModels({"general_chat": model})
    node = make_route_node(
        router=lambda: router, ledger=ledger, model_factory=models, catalog=catalog
    )
    route = run_graph(
        node, "Plan my Friday around the invoices call", context=NovaContext(model="big-model")
    )["route"]
    assert route["method"] == "llm"
    assert route["agent"] == "daily_planner"
    assert route["subgraph"] == "chat"
    assert "question" not in route
    assert "the model chose daily_planner: it asks for a plan" in route["reason"]
    assert models.requests == [("general_chat", "big-model")]
    assert model.bound_tools == [["RouteChoice"]]
    [prompt] = model.received
    candidates = [c["agent"] for c in route["candidates"]]
    assert all(f"- {name}:" in prompt[0].content for name in candidates)
    assert prompt[1].content == "Plan my Friday around the invoices call"
    assert ledger.list(method="llm")[0].agent == "daily_planner"


def test_model_finding_no_candidate_falls_back_to_clarify(
    fitted_router: Router, catalog: Catalog[AgentSpec], ledger: RoutingLedger
) -> None:
    router = unsure(fitted_router)
    model = ScriptedChatModel.from_script([calls(tool_call("RouteChoice", agent="none"))])
    node = make_route_node(
        router=lambda: router,
        ledger=ledger,
        model_factory=ScriptedModels({"general_chat": model}),
        catalog=catalog,
    )
    route = run_graph(node, "Book a taxi to the station")["route"]
    assert route["method"] == "llm"
    assert route["agent"] is None
    assert route["question"]
    assert "no fitting candidate" in route["reason"]


def test_model_without_a_tool_call_keeps_the_abstention(
    fitted_router: Router, catalog: Catalog[AgentSpec], ledger: RoutingLedger
) -> None:
    router = unsure(fitted_router)
    model = ScriptedChatModel.from_script([says("I think it is the planner")])
    node = make_route_node(
        router=lambda: router,
        ledger=ledger,
        model_factory=ScriptedModels({"general_chat": model}),
        catalog=catalog,
    )
    route = run_graph(node, "Plan my Friday")["route"]
    assert route["method"] == "llm"
    assert route["agent"] is None  # no structured choice: nothing is guessed


def test_no_model_configured_means_no_tie_break(
    fitted_router: Router, catalog: Catalog[AgentSpec], ledger: RoutingLedger
) -> None:
    router = unsure(fitted_router)
    models = ScriptedModels()  # every agent: ModelUnavailable
    node = make_route_node(
        router=lambda: router, ledger=ledger, model_factory=models, catalog=catalog
    )
    route = run_graph(node, "Plan my Friday")["route"]
    assert route["method"] == "clarify"
    assert models.requests == [("general_chat", None)]


def test_failing_model_keeps_the_abstention_and_says_why(
    fitted_router: Router,
    catalog: Catalog[AgentSpec],
    ledger: RoutingLedger,
    caplog: pytest.LogCaptureFixture,
) -> None:
    router = unsure(fitted_router)
    model = ScriptedChatModel.from_script([])  # its script runs out on the first call
    node = make_route_node(
        router=lambda: router,
        ledger=ledger,
        model_factory=ScriptedModels({"general_chat": model}),
        catalog=catalog,
    )
    with caplog.at_level(logging.WARNING, logger="nodes.router"):
        route = run_graph(node, "Plan my Friday")["route"]
    assert route["method"] == "clarify"
    assert "tie-break model failed (ScriptExhausted" in route["reason"]
    assert "tie-break model failed" in caplog.text


def test_explicit_agent_skips_routing(catalog: Catalog[AgentSpec], ledger: RoutingLedger) -> None:
    def no_router() -> Router:
        raise AssertionError("an explicit agent must not need the classifier")

    node = make_route_node(router=no_router, ledger=ledger, catalog=catalog)
    route = run_graph(node, "anything at all", context=NovaContext(agent="translator"))["route"]
    assert route["method"] == "explicit"
    assert route["agent"] == "translator"
    assert route["subgraph"] == "translation"
    assert ledger.list(method="explicit")[0].thread_id == "t-1"


def test_unknown_explicit_agent_is_a_clear_error(
    catalog: Catalog[AgentSpec], ledger: RoutingLedger
) -> None:
    node = make_route_node(router=lambda: None, ledger=ledger, catalog=catalog)  # type: ignore[arg-type, return-value]
    with pytest.raises(UnknownAgentError, match=r"'accountant'.*erp_invoices"):
        run_graph(node, "hi", context=NovaContext(agent="accountant"))


def test_ledger_failure_is_logged_and_raised(
    fitted_router: Router, catalog: Catalog[AgentSpec], caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenLedger(RoutingLedger):
        def __init__(self) -> None:
            pass

        def append(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
            raise RuntimeError("disk full")

    node = make_route_node(router=lambda: fitted_router, ledger=BrokenLedger(), catalog=catalog)
    with (
        caplog.at_level(logging.ERROR, logger="nodes.router"),
        pytest.raises(RuntimeError, match="disk full"),
    ):
        run_graph(node, "Show me invoice 2291")
    assert "Could not append routing decision" in caplog.text


def test_router_config_is_read_from_beside_the_catalog(fitted_router: Router) -> None:
    config_file = fitted_router.catalog.directory.parent / "router.yaml"
    assert fitted_router.config == load_router_config(config_file)
    assert len(fitted_router.config.out_of_scope_examples) == 8
