"""The consistency checks on real agent subgraph runs: one fault each must flag, one trap not.

Each test runs an agent subgraph (the real agent ⇄ tools loop and ``check`` node) with a
scripted model and stub tools, and reads the verdicts the check node attached to the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from graphs.common import build_agent_subgraph
from nodes.check_node import ArgumentCorrector, MemoryCorrector, RouteCorrector
from nodes.checks import CHECKS, CheckContext, route_fits
from nodes.consistency import meaning_preserved, negated
from nova.catalog import load_catalog
from nova.erp.grounding import Grounds, mentions
from nova.settings import get_settings
from nova.state import NovaContext, Subgraph
from nova.testing import ScriptedChatModel, ScriptedModels, calls, route_to, says, tool_call
from tests.failures_fixtures import resolver
from tests.memory_fixtures import make_projects, open_store, write_projects

LOOKUP_412 = (
    "Invoice INV-2025-00412 (order SO-4410), customer Brightline GmbH: open, total 1,250.00 EUR, "
    "paid 400.00 EUR, due 2025-04-01."
)
LOOKUP_413 = "Invoice INV-2025-00413, customer Keller AG: open, total 980.00 EUR, due 2025-04-03."


def _run(
    agent: str,
    request: str,
    script: Sequence[AIMessage],
    tools: Mapping[str, Callable[..., str]] | None = None,
    *,
    memories: Sequence[Mapping[str, Any]] = (),
    history: Sequence[BaseMessage] = (),
    project: str = "parts-shop",
) -> dict[str, Any]:
    catalog = load_catalog()
    spec = catalog[agent]
    subgraph: Subgraph = spec.subgraph
    graph: Any = build_agent_subgraph(
        subgraph,
        catalog=catalog,
        model_factory=ScriptedModels({agent: ScriptedChatModel.from_script(script)}),
        tool_resolver=resolver(tools),
    ).compile(checkpointer=InMemorySaver())
    state = {
        "messages": [*history, HumanMessage(request)],
        "route": route_to(agent, subgraph),
        "request": request,
        "project": project,
        "memories": list(memories),
    }
    return graph.invoke(
        state, {"configurable": {"thread_id": "t"}}, context=NovaContext(project=project)
    )


def _verdicts(result: Mapping[str, Any]) -> dict[str, str]:
    answer = result["messages"][-1]
    return {c["name"]: c["status"] for c in answer.additional_kwargs["nova_checks"]}


def _lookup(**returns: str) -> Callable[..., str]:
    def lookup(invoice_number: str = "", customer: str = "", order_number: str = "") -> str:
        for key, text in returns.items():
            if key in (invoice_number, customer, order_number):
                return text
        return returns.get("default", "No invoice found.")

    return lookup


# --- tool_args_consistent ------------------------------------------------------------------------


def test_a_lookup_of_the_neighbouring_invoice_is_flagged_though_the_answer_is_grounded() -> None:
    result = _run(
        "erp_invoices",
        "What is the status of invoice INV-2025-00412?",
        [
            calls(tool_call("erp_invoice_lookup", invoice_number="INV-2025-00413")),
            says("Invoice INV-2025-00413 is open: 980.00 EUR, due 2025-04-03."),
        ],
        {"erp_invoice_lookup": _lookup(**{"INV-2025-00413": LOOKUP_413})},
    )
    verdicts = _verdicts(result)
    assert verdicts["numbers_grounded"] == "passed"  # grounded, in the wrong document
    assert verdicts["tool_args_consistent"] == "failed"
    detail = next(c["detail"] for c in result["checks"] if c["name"] == "tool_args_consistent")
    assert "INV-2025-00413" in detail and "INV-2025-00412" in detail


def test_following_a_document_that_an_earlier_result_listed_is_not_flagged() -> None:
    listing = (
        "Open invoices of Brightline GmbH: INV-2025-00412 (1,250.00 EUR), INV-2025-00431 "
        "(310.00 EUR)."
    )
    result = _run(
        "erp_invoices",
        "Invoice INV-2025-00412 is paid; which other invoice of that customer is still open?",
        [
            calls(tool_call("erp_invoice_lookup", invoice_number="INV-2025-00412")),
            calls(tool_call("erp_invoice_lookup", customer="Brightline GmbH")),
            calls(tool_call("erp_invoice_lookup", invoice_number="INV-2025-00431")),
            says("INV-2025-00431 of Brightline GmbH is still open: 310.00 EUR."),
        ],
        {
            "erp_invoice_lookup": _lookup(
                **{
                    "INV-2025-00412": LOOKUP_412,
                    "Brightline GmbH": listing,
                    "INV-2025-00431": "Invoice INV-2025-00431: open, 310.00 EUR.",
                }
            )
        },
    )
    verdicts = _verdicts(result)
    assert verdicts["tool_args_consistent"] == "passed"
    assert verdicts["tool_results_match_args"] == "passed"
    assert verdicts["numbers_grounded"] == "passed"


def test_another_customers_balance_is_flagged_and_the_named_one_is_not() -> None:
    def balance(customer: str) -> str:
        return f"{customer}: balance 2,310.00 EUR, 2 open invoices."

    wrong = _run(
        "erp_customers",
        "What does Acme Tools owe us?",
        [
            calls(tool_call("erp_customer_balance", customer="Brightline GmbH")),
            says("2,310.00 EUR."),
        ],
        {"erp_customer_balance": balance},
    )
    assert _verdicts(wrong)["tool_args_consistent"] == "failed"
    right = _run(
        "erp_customers",
        "What does acme tools owe us?",
        [calls(tool_call("erp_customer_balance", customer="Acme Tools")), says("2,310.00 EUR.")],
        {"erp_customer_balance": balance},
    )
    assert _verdicts(right)["tool_args_consistent"] == "passed"


def test_the_argument_corrector_puts_the_users_document_back() -> None:
    from nova.tracing.blame.steps import load_run

    catalog = load_catalog()
    graph = build_agent_subgraph(
        "erp",
        catalog=catalog,
        model_factory=ScriptedModels(
            {
                "erp_invoices": ScriptedChatModel.from_script(
                    [
                        calls(tool_call("erp_invoice_lookup", invoice_number="INV-2025-00413")),
                        says("Invoice INV-2025-00413 is open."),
                    ]
                )
            }
        ),
        tool_resolver=resolver({"erp_invoice_lookup": _lookup(default=LOOKUP_413)}),
    ).compile(checkpointer=InMemorySaver())
    request = "Status of invoice INV 2025 412?"
    graph.invoke(
        {
            "messages": [HumanMessage(request)],
            "route": route_to("erp_invoices", "erp"),
            "request": request,
            "project": "parts-shop",
        },
        {"configurable": {"thread_id": "c"}},
        context=NovaContext(project="parts-shop"),
    )
    run = load_run(graph, "c")
    agent = run.by_key()["agent#1"]
    (correction,) = ArgumentCorrector()(agent, run)
    (message,) = correction.writes["messages"]
    assert message.tool_calls[0]["args"] == {"invoice_number": "INV-2025-00412"}
    assert list(ArgumentCorrector()(run.by_key()["agent#2"], run)) == []  # no tool call


# --- tool_results_match_args ---------------------------------------------------------------------


def test_a_tool_that_answers_about_another_document_is_flagged() -> None:
    wrong = _run(
        "erp_invoices",
        "What is the status of invoice INV-2025-00412?",
        [
            calls(tool_call("erp_invoice_lookup", invoice_number="INV-2025-00412")),
            says("Invoice INV-2025-00413 is open: 980.00 EUR."),
        ],
        {"erp_invoice_lookup": _lookup(default=LOOKUP_413)},
    )
    verdicts = _verdicts(wrong)
    assert verdicts["tool_results_match_args"] == "failed"
    checks = {c["name"]: c for c in wrong["checks"]}
    assert checks["tool_results_match_args"]["judges"] == "tools"


# --- numbers_grounded: arithmetic and memories ---------------------------------------------------


def test_a_computed_difference_is_grounded_and_a_changed_amount_is_not() -> None:
    script = [calls(tool_call("erp_invoice_lookup", invoice_number="INV-2025-00412"))]
    tools = {"erp_invoice_lookup": _lookup(default=LOOKUP_412)}
    request = "How much is still open on invoice INV-2025-00412?"
    right = _run(
        "erp_invoices", request, [*script, says("850.00 EUR of 1,250.00 EUR is open.")], tools
    )
    assert _verdicts(right)["numbers_grounded"] == "passed"
    wrong = _run("erp_invoices", request, [*script, says("1,520.00 EUR is still open.")], tools)
    assert _verdicts(wrong)["numbers_grounded"] == "failed"


def test_a_number_from_a_recalled_memory_is_grounded_by_the_memory() -> None:
    memory = {"id": "m1", "text": "Payment terms are 20 to 40 days.", "kind": "fact", "score": 0.8}
    result = _run(
        "general_chat",
        "What are our payment terms again?",
        [says("Our payment terms are 20 to 40 days [mem:m1].")],
        memories=[memory],
    )
    answer = result["messages"][-1].content
    assert answer.startswith("Our payment terms")
    context = CheckContext(
        request="What are our payment terms again?",
        answer=answer,
        agent=load_catalog()["general_chat"],
        route=None,
        project="parts-shop",
        messages=[HumanMessage("What are our payment terms again?"), AIMessage(answer)],
        memories=[memory],
    )
    assert CHECKS["numbers_grounded"].run(context).passed  # type: ignore[union-attr]
    bare = CheckContext(
        request=context.request,
        answer=answer,
        agent=context.agent,
        route=None,
        project="parts-shop",
        messages=context.messages,
    )
    assert not CHECKS["numbers_grounded"].run(bare).passed  # type: ignore[union-attr]


def test_arithmetic_grounding_needs_two_stated_numbers() -> None:
    grounds = Grounds.of(["total 1,250.00 EUR, paid 400.00 EUR"])
    (difference,) = mentions("850.00")
    (invented,) = mentions("1,520.00")
    assert grounds.supports(difference, arithmetic=True) and not grounds.supports(difference)
    assert not grounds.supports(invented, arithmetic=True)


# --- route_fits_entities: cross-references -------------------------------------------------------


def test_a_cross_reference_to_an_order_does_not_fail_an_invoice_route() -> None:
    catalog = load_catalog()
    request = "Which invoice belongs to order SO-1261?"
    assert route_fits(request, catalog["erp_invoices"])
    assert not route_fits("Where is order SO-1261?", catalog["erp_invoices"])
    assert route_fits(request, catalog["erp_sales_orders"])  # it can look the order up
    result = _run(
        "erp_invoices",
        request,
        [
            calls(tool_call("erp_invoice_lookup", order_number="SO-1261")),
            says("Invoice INV-2025-00412 belongs to order SO-1261."),
        ],
        {"erp_invoice_lookup": _lookup(default="Invoice INV-2025-00412 (order SO-1261).")},
    )
    assert _verdicts(result)["route_fits_entities"] == "passed"
    assert _verdicts(result)["tool_args_consistent"] == "passed"


def test_the_route_corrector_leaves_a_cross_reference_alone() -> None:
    from types import SimpleNamespace

    catalog = load_catalog()
    corrector = RouteCorrector(catalog)

    def step(request: str, agent: str) -> Any:
        route = {**route_to(agent, catalog[agent].subgraph), "candidates": []}
        before = SimpleNamespace(values={"request": request})
        return SimpleNamespace(node="route", writes={"route": route}, before=before)

    assert (
        list(corrector(step("Which invoice belongs to order SO-1261?", "erp_invoices"), None)) == []
    )
    (fixed,) = corrector(step("Where is order SO-1261?", "erp_invoices"), None)
    assert fixed.writes["route"]["agent"] == "erp_sales_orders"


# --- memory_fresh --------------------------------------------------------------------------------


@pytest.fixture
def memories(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str, str]:
    import memory.store

    store = open_store(tmp_path / "chroma", make_projects(tmp_path / "projects"))
    monkeypatch.setattr(memory.store, "default_memory_store", lambda: store)
    # The graph reads the same projects (its agent node looks up the project's MCP servers).
    monkeypatch.setenv("NOVA_PROJECTS_FILE", str(write_projects(tmp_path / "projects")))
    get_settings.cache_clear()
    old = store.save("alpha-co", "Payment terms are 30 days net.", topic="payment-terms")
    new = store.save("alpha-co", "Payment terms are 45 days net.", topic="payment-terms")
    assert old.item.id in new.superseded
    return store, old.item.id, new.item.id


def _hit(store: Any, memory_id: str) -> dict[str, Any]:
    item = store.get("alpha-co", memory_id)
    return {"id": item.id, "text": item.text, "kind": item.kind, "score": 0.9}


def test_an_answer_from_a_superseded_memory_is_flagged(memories: tuple[Any, str, str]) -> None:
    store, old, new = memories
    stale = _run(
        "general_chat",
        "What are our payment terms?",
        [says("Payment terms are 30 days net.")],
        memories=[_hit(store, old)],
        project="alpha-co",
    )
    assert _verdicts(stale)["memory_fresh"] == "failed"
    current = _run(
        "general_chat",
        "What are our payment terms?",
        [says("Payment terms are 45 days net.")],
        memories=[_hit(store, new)],
        project="alpha-co",
    )
    assert _verdicts(current)["memory_fresh"] == "passed"


def test_the_memory_corrector_swaps_in_the_successor(memories: tuple[Any, str, str]) -> None:
    from types import SimpleNamespace

    store, old, new = memories
    step = SimpleNamespace(
        node="recall",
        writes={"memories": [_hit(store, old)]},
        before=SimpleNamespace(values={"project": "alpha-co"}),
    )
    (correction,) = MemoryCorrector(store)(step, None)
    assert [m["id"] for m in correction.writes["memories"]] == [new]


# --- meaning_preserved ---------------------------------------------------------------------------


def test_an_inverted_translation_is_flagged_and_a_faithful_one_is_not() -> None:
    source = "Do not ship order SO-4410 before Friday; the SKU BRK-2210 costs 12.50 EUR."
    flipped = meaning_preserved(
        source, "Versenden Sie SO-4410 vor Freitag; BRK-2210 kostet 12,50 EUR.", "en", "de"
    )
    assert not flipped.passed and "negated" in flipped.detail
    faithful = meaning_preserved(
        source,
        "Versenden Sie den Auftrag SO-4410 nicht vor Freitag; BRK-2210 kostet 12,50 EUR.",
        "en",
        "de",
    )
    assert faithful.passed, faithful.detail
    changed = meaning_preserved(
        source, "Versenden Sie SO-4410 nicht vor Freitag; BRK-2210 kostet 21,50 EUR.", "en", "de"
    )
    assert not changed.passed and "12.50" in changed.detail
    assert negated("Keine Lieferung am Montag", "de") and not negated("Lieferung am Montag", "de")


def test_the_translator_run_carries_the_meaning_check() -> None:
    request = 'Translate to German: "Do not ship before Friday."'
    result = _run("translator", request, [says("Bitte vor Freitag versenden.")])
    verdicts = _verdicts(result)
    assert verdicts["meaning_preserved"] == "failed"
    good = _run("translator", request, [says("Bitte nicht vor Freitag versenden.")])
    assert _verdicts(good)["meaning_preserved"] == "passed"


# --- the catalog ---------------------------------------------------------------------------------


def test_every_agent_with_a_tool_declares_a_registered_check() -> None:
    catalog = load_catalog()
    unchecked = [spec.name for spec in catalog if spec.tools and not spec.checks]
    assert not unchecked, f"agents with tools but no checks: {unchecked}"
    unknown = {c for spec in catalog for c in spec.checks if c not in CHECKS}
    assert not unknown
    erp = [spec for spec in catalog if spec.group == "erp"]
    assert all("tool_args_consistent" in spec.checks for spec in erp)


# --- pipeline provenance -------------------------------------------------------------------------


def test_a_template_embedding_a_model_letter_grounds_nothing_the_model_wrote() -> None:
    from nodes.pipeline_steps import grounded_sources, pipeline_checks
    from tests.pipeline_fixtures import pipeline

    spec = pipeline(
        "remind",
        [
            {"id": "due", "skill": "overdue", "args": {}},
            {
                "id": "letter",
                "agent": "email_drafter",
                "prompt": "Write a reminder for {{ inputs.rows }}",
                "inputs": {"rows": "due"},
            },
            {
                "id": "summary",
                "template": "Reminder sent for {{ inputs.rows[0].total }}: {{ inputs.letter }}",
                "inputs": {"rows": "due", "letter": "letter"},
            },
        ],
    )

    def records(letter: str) -> list[Any]:
        due = [{"invoice": "INV-2025-00412", "total": "1,250.00"}]
        summary = f"Reminder sent for 1,250.00: {letter}"
        return [
            {"step": s, "target": t, "status": "ok", "attempts": 1, "duration_ms": 1.0, "output": o}
            for s, t, o in (
                ("due", "skill:overdue", due),
                ("letter", "agent:email_drafter", letter),
                ("summary", "template", summary),
            )
        ]

    changed = "Dear customer, please pay 1,520.00 for INV-2025-00412 by Friday."
    sources = grounded_sources(spec, records(changed))
    assert not any("1,520.00" in s for s in sources)  # the template's copy does not count
    assert any("1,250.00" in s for s in sources)  # what the template itself added does
    [verdict] = pipeline_checks(spec, ("numbers_grounded",), records(changed), changed, "")
    assert not verdict["passed"] and "1,520.00" in verdict["detail"]
    faithful = "Dear customer, please pay 1,250.00 for INV-2025-00412 by Friday."
    [verdict] = pipeline_checks(spec, ("numbers_grounded",), records(faithful), faithful, "")
    assert verdict["passed"], verdict["detail"]


def test_back_translation_runs_only_with_a_model_and_flags_an_inverted_meaning() -> None:
    from nodes.consistency import back_translation, model_back_translator

    catalog = load_catalog()
    request = 'Translate to German: "Do not ship order SO-4410 before Friday."'

    def context(back: Callable[[str, str], str | None] | None) -> CheckContext:
        return CheckContext(
            request=request,
            answer="Versenden Sie den Auftrag SO-4410 vor Freitag.",
            agent=catalog["translator"],
            route=None,
            project="parts-shop",
            messages=[HumanMessage(request)],
            back_translate=back,
        )

    assert back_translation(context(None)) is None  # no model configured: model-free only
    assert model_back_translator(catalog["translator"], ScriptedModels({})) is None
    flagged = back_translation(context(lambda text, language: "Ship order SO-4410 before Friday."))
    assert flagged is not None and not flagged.passed and "negated" in flagged.detail
    kept = back_translation(
        context(lambda text, language: "Do not ship order SO-4410 before Friday.")
    )
    assert kept is not None and kept.passed


# --- a turn-1 mistake carried into turn 2 ---------------------------------------------------------


def test_a_wrong_lookup_in_turn_one_fails_turn_two_and_is_blamed_in_turn_one() -> None:
    import re

    from langchain_core.messages import ToolMessage

    from evals.blame.policies import PolicyChatModel
    from nodes.check_node import blame_correctors
    from nova.tracing.blame.attribution import blame
    from nova.tracing.blame.steps import load_run
    from nova.tracing.blame.verdicts import checks_evaluator

    def policy(messages: Sequence[BaseMessage]) -> AIMessage:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            return says(str(last.content))
        results = [m for m in messages if isinstance(m, ToolMessage)]
        if "due" in str(last.content) and results:
            due = re.findall(r"\d{4}-\d{2}-\d{2}", str(results[-1].content))
            return says(f"It is due {due[0]}.")
        # The fault: the neighbouring invoice is looked up.
        return calls(tool_call("erp_invoice_lookup", invoice_number="INV-2025-00413"))

    catalog = load_catalog()
    graph: Any = build_agent_subgraph(
        "erp",
        catalog=catalog,
        model_factory=ScriptedModels({"erp_invoices": PolicyChatModel(policy=policy)}),
        tool_resolver=resolver(
            {
                "erp_invoice_lookup": _lookup(
                    **{"INV-2025-00412": LOOKUP_412, "INV-2025-00413": LOOKUP_413}
                )
            }
        ),
    ).compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "two-turns"}}
    context = NovaContext(project="parts-shop")
    first = "What is the status of invoice INV-2025-00412?"
    graph.invoke(
        {
            "messages": [HumanMessage(first)],
            "route": route_to("erp_invoices", "erp"),
            "request": first,
            "project": "parts-shop",
        },
        config,
        context=context,
    )
    second = "And when is it due?"
    out = graph.invoke(
        {"messages": [HumanMessage(second)], "request": second, "checks": []},
        config,
        context=context,
    )
    assert out["messages"][-1].content.startswith("It is due 2025-04-03.")
    assert not checks_evaluator(out).passed  # turn 2 answers from turn 1's wrong document
    run = load_run(graph, "two-turns", thread=True)
    result = blame(run, correctors=blame_correctors(catalog), context=context)
    assert result.blamed is not None and result.blamed.key == "agent#1"
    assert result.blamed.turn == 1 and result.replays == 1


def test_dates_in_arguments_must_include_one_the_user_gave() -> None:
    def sales(date_from: str = "", date_to: str = "") -> str:
        return f"Sales {date_from} to {date_to}: 14,200.00 EUR."

    request = "What were our sales since 2025-03-01?"
    right = _run(
        "erp_reporting",
        request,
        [
            calls(tool_call("erp_sales_summary", date_from="2025-03-01", date_to="2025-06-30")),
            says("14,200.00 EUR since 2025-03-01."),
        ],
        {"erp_sales_summary": sales},
    )
    assert _verdicts(right)["tool_args_consistent"] == "passed"  # the end is computed
    swapped = _run(
        "erp_reporting",
        request,
        [
            calls(tool_call("erp_sales_summary", date_from="2025-01-03", date_to="2025-06-30")),
            says("14,200.00 EUR."),
        ],
        {"erp_sales_summary": sales},
    )
    assert _verdicts(swapped)["tool_args_consistent"] == "failed"
