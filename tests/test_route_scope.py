"""An unscoped ERP turn runs in the project that owns the ERP data (``data_owner_scope``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from router_fixtures import write_agent_catalog, write_router_config

from nodes.route_context import data_owner, data_owner_scope, scope_line
from nodes.router import Router, make_route_node
from nova.catalog import AgentSpec, Catalog, load_specs
from nova.ledger.routing import RoutingLedger
from nova.projects import load_projects
from nova.settings import get_settings
from nova.state import MemoryHit, NovaContext, NovaState, RouteDecision

PROJECTS = """
projects:
  - id: personal
    name: Personal
    description: The owner's own affairs, the default project.
    data: [erp]
  - id: shop
    name: Shop
    description: The shop that owns the ERP database.
    data: [erp]
  - id: clients
    name: Clients
    description: Client projects, without the ERP.
"""


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog[AgentSpec]:
    root = tmp_path_factory.mktemp("agents-catalog")
    write_router_config(root / "router.yaml")
    return load_specs(write_agent_catalog(root / "agents"), AgentSpec)


@pytest.fixture(scope="module")
def fitted_router(catalog: Catalog[AgentSpec], tmp_path_factory: pytest.TempPathFactory) -> Router:
    return Router.from_catalog(catalog, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture
def projects_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "projects.yaml"
    path.write_text(PROJECTS, encoding="utf-8")
    monkeypatch.setenv("NOVA_PROJECTS_FILE", str(path))
    monkeypatch.setenv("NOVA_DEFAULT_PROJECT", "personal")
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


class FakeMemory:
    """A memory store that records which project was searched."""

    def __init__(self) -> None:
        self.searched: list[str] = []

    def for_owner(self, owner: str | None) -> FakeMemory:
        return self

    def search(self, project: str, request: str, *, k: int) -> list[MemoryHit]:
        self.searched.append(project)
        return [MemoryHit(id=f"m-{project}", text=f"a note of {project}", kind="fact", score=0.5)]


def decision(agent: str | None) -> RouteDecision:
    return RouteDecision(
        id="r1", agent=agent, subgraph=None, confidence=0.9, margin=0.8, candidates=[],
        method="semantic", reason="", catalog_version="c", router_version="r", latency_ms=1.0,
    )  # fmt: skip


def test_the_owner_is_the_one_project_besides_the_default_that_declares_the_data(
    projects_file: Path,
) -> None:
    projects = load_projects()
    assert data_owner(projects, "erp", "personal") == "shop"
    # The default project only reads the data; with no other holder there is no owner.
    assert data_owner(projects, "erp", "shop") == "personal"
    assert data_owner(projects, "crm", "personal") is None


def test_two_owners_leave_the_turn_where_it_is(projects_file: Path) -> None:
    projects_file.write_text(
        PROJECTS.replace("without the ERP.", "with its own ERP.\n    data: [erp]"),
        encoding="utf-8",
    )
    assert data_owner(load_projects(), "erp", "personal") is None


def test_only_an_unscoped_new_erp_turn_moves(
    projects_file: Path, catalog: Catalog[AgentSpec]
) -> None:
    projects = load_projects()

    def scope(agent: str | None = "erp_invoices", **given: Any) -> str | None:
        kwargs: dict[str, Any] = {
            "project": "personal",
            "default_project": "personal",
            "named_project": None,
            "earlier_turns": False,
            **given,
        }
        return data_owner_scope(decision(agent), catalog, projects, **kwargs)

    assert scope() == "shop"
    assert scope(named_project="personal") is None  # the run named it
    assert scope(earlier_turns=True) is None  # the thread has its project
    assert scope(project="clients") is None  # the thread is elsewhere already
    assert scope("general_chat") is None  # not an ERP agent
    assert scope(None) is None  # a clarifying question


def run_route(node: object, state: dict[str, Any], context: NovaContext) -> dict[str, Any]:
    builder = StateGraph(NovaState, context_schema=NovaContext)
    builder.add_node("route", node)  # type: ignore[call-overload]
    builder.add_edge(START, "route")
    builder.add_edge("route", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    config: RunnableConfig = {"configurable": {"thread_id": "t-1"}}
    return cast(dict[str, Any], graph.invoke(cast(NovaState, state), config, context=context))


@pytest.fixture
def routed(
    projects_file: Path, fitted_router: Router, catalog: Catalog[AgentSpec], tmp_path: Path
) -> tuple[Any, RoutingLedger, FakeMemory]:
    """A route node on the fitted router, with its ledger and memory store."""
    ledger = RoutingLedger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    memory = FakeMemory()
    node = make_route_node(
        router=lambda: fitted_router,
        ledger=ledger,
        catalog=catalog,
        memory=lambda: memory,  # type: ignore[arg-type, return-value]
    )
    return node, ledger, memory


def test_route_node_scopes_an_unscoped_erp_question_to_the_owner(
    routed: tuple[Any, RoutingLedger, FakeMemory],
) -> None:
    node, ledger, memory = routed
    request = "Which invoices are overdue for Nordwind?"
    state = {"request": request, "project": "personal", "messages": [HumanMessage(request)]}
    out = run_route(node, state, NovaContext())
    assert out["route"]["agent"] == "erp_invoices"
    assert out["project"] == "shop"
    assert out["route"]["scope"].startswith("shop, because no project was named")
    assert "scoped to shop" in out["route"]["reason"]
    assert scope_line(out["route"]) == f"Project: {out['route']['scope']}."
    # Memories are recalled again in the project the turn now runs in.
    assert memory.searched == ["shop"]
    assert [hit["id"] for hit in out["memories"]] == ["m-shop"]
    assert ledger.list()[0].project == "shop"


def test_route_node_keeps_a_named_or_continued_project(
    routed: tuple[Any, RoutingLedger, FakeMemory],
) -> None:
    node, _, memory = routed
    request = "Which invoices are overdue for Nordwind?"
    named = run_route(
        node,
        {"request": request, "project": "personal", "messages": [HumanMessage(request)]},
        NovaContext(project="personal"),
    )
    continued = run_route(
        node,
        {
            "request": request,
            "project": "personal",
            "messages": [HumanMessage("hi"), AIMessage("Hello."), HumanMessage(request)],
        },
        NovaContext(),
    )
    for out in (named, continued):
        assert out["route"]["agent"] == "erp_invoices"
        assert out["project"] == "personal"
        assert "scope" not in out["route"]
    assert memory.searched == []


def test_the_cli_route_line_names_the_project_the_route_chose() -> None:
    from nova.cli.core import _route_line

    scoped = {**decision("erp_invoices"), "scope": "shop, because no project was named"}
    assert "project shop, because no project was named" in _route_line(dict(scoped), None)
    assert "project" not in _route_line(dict(decision("erp_invoices")), None)


def test_a_pipeline_on_erp_data_alone_counts_as_an_erp_turn() -> None:
    from nodes.route_context import erp_pipeline
    from nova.catalog import default_catalog

    catalog = default_catalog()
    for name in ("month_end_close", "weekly_sales_report", "invoice_reminders"):
        assert erp_pipeline(catalog, name), name
    # The morning briefing also reads every project's memory; the others no ERP at all.
    for name in ("daily_briefing", "listing_sync", "content_pipeline", "erp_invoices"):
        assert not erp_pipeline(catalog, name), name


def test_an_unscoped_request_the_erp_reader_plans_goes_to_the_owner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new thread naming no project: the ERP reader, not the classifier, says it is ERP."""
    from nodes.router import nova_router
    from nova.catalog import default_catalog

    path = tmp_path / "projects.yaml"
    path.write_text(
        PROJECTS.replace("    data: [erp]\n  - id: shop", "  - id: shop", 1), encoding="utf-8"
    )
    monkeypatch.setenv("NOVA_PROJECTS_FILE", str(path))
    monkeypatch.setenv("NOVA_DEFAULT_PROJECT", "personal")
    get_settings.cache_clear()
    try:
        assert not load_projects().get("personal").holds("erp")
        german = "welche lieferanten haben wir in polen?"
        node = make_route_node(
            router=nova_router,
            ledger=RoutingLedger(f"sqlite:///{tmp_path / 'ledger.sqlite'}"),
            catalog=default_catalog(),
            memory=lambda: FakeMemory(),  # type: ignore[arg-type, return-value]
            erp_plan=lambda text: "erp_supplier_lead_times" if text == german else None,
        )

        def route(request: str, **context: Any) -> dict[str, Any]:
            state = {"request": request, "project": "personal", "messages": [HumanMessage(request)]}
            return run_route(node, state, NovaContext(**context))

        out = route(german)
        assert (out["route"]["agent"], out["route"]["method"]) == ("erp_purchasing", "erp_plan")
        assert out["project"] == "shop"
        # A run that names its project keeps it; a request the reader does not plan is not moved.
        assert route(german, project="personal")["route"]["method"] != "erp_plan"
        assert route("what is the capital of france")["route"]["method"] != "erp_plan"
    finally:
        get_settings.cache_clear()
