"""The check registry and runner, and the output_schema and route_fits_entities checks."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from nodes.checks import (
    CHECKS,
    CheckContext,
    CheckRegistry,
    CheckResult,
    fitting_agents,
    output_schema,
    parse_json_answer,
)
from nova.catalog import load_catalog
from nova.testing import ScriptedChatModel, ScriptedModels, route_to, says
from tests.failures_fixtures import subgraph_run

SCHEMA = {
    "type": "object",
    "required": ["name", "qty"],
    "properties": {"name": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}},
}


def _context(request: str, agent: str, answer: str = "ok") -> CheckContext:
    catalog = load_catalog()
    spec = catalog[agent]
    return CheckContext(
        request=request,
        answer=answer,
        agent=spec,
        route=route_to(agent, spec.subgraph),
        project="parts-shop",
        messages=[HumanMessage(request), AIMessage(answer)],
        catalog=catalog,
    )


def test_every_check_the_catalog_declares_is_registered() -> None:
    declared = {name for spec in load_catalog() for name in spec.checks}
    assert declared <= set(CHECKS.names), declared - set(CHECKS.names)
    assert {
        "numbers_grounded",
        "target_language",
        "glossary_preserved",
        "output_schema",
        "route_fits_entities",
    } <= set(CHECKS.names)


def test_registry_runs_always_on_then_declared_checks_and_reports_problems() -> None:
    registry = CheckRegistry()

    @registry.register("always_ok", always=True)
    def always_ok(context: CheckContext) -> CheckResult:
        return CheckResult("always_ok", True, "fine")

    @registry.register("crashes")
    def crashes(context: CheckContext) -> CheckResult:
        raise KeyError("field")

    @registry.register("skips")
    def skips(context: CheckContext) -> None:
        return None

    with pytest.raises(ValueError, match="registered twice"):
        registry.register("skips")(skips)
    names = registry.for_agent(["crashes", "skips", "nobody_wrote_me"])
    assert names == ["always_ok", "crashes", "skips", "nobody_wrote_me"]
    outcomes = {o["name"]: o for o in registry.run(names, _context("hi", "general_chat"))}
    assert outcomes["always_ok"]["status"] == "passed"
    assert outcomes["crashes"]["status"] == "error" and not outcomes["crashes"]["passed"]
    assert "KeyError" in outcomes["crashes"]["detail"]
    assert outcomes["skips"]["status"] == "skipped" and outcomes["skips"]["passed"]
    assert (
        outcomes["nobody_wrote_me"]["status"] == "error"
        and "no check named" in outcomes["nobody_wrote_me"]["detail"]
    )


def test_output_schema_lists_every_violation_with_its_path() -> None:
    assert output_schema({"name": "bolt", "qty": 3}, SCHEMA).passed
    result = output_schema({"name": 7, "qty": 0}, SCHEMA)
    assert not result.passed
    assert "$.name: 7 is not of type 'string'" in result.detail and "$.qty" in result.detail
    assert parse_json_answer('Here it is:\n```json\n{"name": "bolt", "qty": 2}\n```') == {
        "name": "bolt",
        "qty": 2,
    }
    with pytest.raises(ValueError):
        parse_json_answer("no json here")


def test_output_schema_check_uses_the_agents_catalog_schema() -> None:
    spec = load_catalog()["data_extractor"]
    assert spec.output_schema and "output_schema" in spec.checks
    check = CHECKS["output_schema"]
    assert check.run(_context("extract", "data_extractor", "no json at all")).passed is False  # type: ignore[union-attr]
    assert check.run(_context("hi", "general_chat")) is None  # no schema: not applicable


def test_route_fits_entities_flags_a_document_routed_to_an_agent_without_tools_for_it() -> None:
    check = CHECKS["route_fits_entities"]
    bad = check.run(_context("What is the status of invoice INV-2025-00412?", "translator"))
    assert bad is not None and not bad.passed
    assert "INV-2025-00412" in bad.detail and "erp_invoices" in bad.detail
    good = check.run(_context("What is the status of invoice INV-2025-00412?", "erp_invoices"))
    assert good is not None and good.passed
    # A document number inside the text to translate is content, not a query.
    quoted = check.run(
        _context('Translate into German: "Invoice INV-2025-00412 is overdue."', "translator")
    )
    assert quoted is None
    assert check.run(_context("Tell me a joke", "general_chat")) is None
    assert fitting_agents("Where is order SO-4410?", load_catalog())[0] == "erp_sales_orders"


def test_check_node_keeps_passing_answers_untouched_but_annotated() -> None:
    model = ScriptedChatModel.from_script([says("Hello there!")])
    result = subgraph_run("chat", "general_chat", "hello", ScriptedModels({"general_chat": model}))
    answer = result["messages"][-1]
    assert answer.content == "Hello there!"
    assert [c["name"] for c in answer.additional_kwargs["nova_checks"]] == [
        "route_fits_entities",
        "memory_fresh",
    ]
    assert [c["status"] for c in result["checks"]] == ["skipped", "skipped"]
