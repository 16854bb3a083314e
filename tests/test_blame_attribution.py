"""Attribution: the earliest wrong step and its consumers, by counterfactual replay."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage

from evals.blame.chain import Env, compile_chain
from evals.blame.scenarios import load_scenarios
from evals.blame_eval import attribute, run_blame_eval
from nodes.check_node import RouteCorrector
from nova.catalog import load_catalog
from nova.ledger.failures import FailureLedger
from nova.state import NovaContext
from nova.tracing.blame.attribution import blame, consumers_of
from nova.tracing.blame.corrections import ReferenceCorrector, ResampleCorrector
from nova.tracing.blame.steps import load_run
from nova.tracing.blame.verdicts import checks_evaluator

INVOICE = "What is the status of invoice INV-2025-00412?"


def _run(env: Env, thread: str, text: str = INVOICE) -> Any:
    graph = compile_chain(env)
    graph.invoke(
        {"messages": [HumanMessage(text)]},
        {"configurable": {"thread_id": thread}},
        context=NovaContext(project="parts-shop"),
    )
    return graph, load_run(graph, thread)


def test_the_suite_has_at_least_40_multi_step_scenarios_across_the_chains() -> None:
    scenarios = load_scenarios()
    assert len(scenarios) >= 40
    assert {s.family for s in scenarios} >= {
        "router",
        "recall",
        "erp_args",
        "erp_tool",
        "erp_answer",
        "translation",
        "pipeline",
    }
    late = [s for s in scenarios if s.fault.step.startswith(("recall", "route"))]
    assert len(late) >= 10  # faults that surface several steps later, in the answer
    assert sum(1 for s in scenarios if s.decoy) >= 30


def test_one_scenario_per_family_is_blamed_on_its_injected_step() -> None:
    scenarios = load_scenarios()
    picked = {}
    for scenario in scenarios:
        if scenario.decoy and scenario.family not in picked:
            picked[scenario.family] = scenario
    report = run_blame_eval(list(picked.values()))
    misses = [(o.scenario, o.truth, o.blamed, o.problem) for o in report.outcomes if not o.step_ok]
    assert not misses
    assert report.step_accuracy == 1.0 and report.agent_accuracy == 1.0
    assert all(o.method == "counterfactual" for o in report.outcomes)


def test_a_decoy_before_the_fault_is_tried_and_rejected() -> None:
    scenario = next(s for s in load_scenarios() if s.id == "erp-tool-stale-balance-20001")
    assert scenario.decoy == "preamble"  # the agent's first turn differs harmlessly
    result, outcome = attribute(scenario)
    assert result is not None and outcome.step_ok
    tried = {(t.step, t.passed) for t in result.trials}
    assert ("erp/agent#1", False) in tried and ("erp/tools#2", True) in tried
    assert [c.key for c in result.consumers] == ["erp/agent#3", "erp/check#1", "respond#1"]


def test_a_misroute_is_blamed_on_the_route_by_the_check_correction_alone() -> None:
    graph, run = _run(Env(agent="translator", second="erp_invoices"), "misroute")
    assert not checks_evaluator(run.final).passed  # route_fits_entities failed
    ledger_before = len(FailureLedger().list(limit=1000))
    result = blame(
        run, correctors=[RouteCorrector(load_catalog())], context=NovaContext(project="parts-shop")
    )
    assert (
        result.blamed is not None
        and result.blamed.key == "route#1"
        and result.blamed.agent == "router"
    )
    assert result.method == "counterfactual" and result.trials[0].source == "check"
    consumers = [c.key for c in result.consumers]
    assert consumers[0] == "translation/enter#1" and consumers[-1] == "respond#1"
    # Replays run on scratch threads: the run's own thread and the ledger are untouched.
    assert load_run(graph, "misroute").final["answer"] == run.final["answer"]
    assert len(FailureLedger().list(limit=1000)) == ledger_before


def test_a_passing_run_blames_nothing() -> None:
    _, run = _run(Env(agent="erp_invoices"), "fine")
    result = blame(run, correctors=[RouteCorrector(load_catalog())])
    assert result.passed and result.blamed is None and result.trials == ()


def test_without_any_correction_nothing_is_blamed_and_the_evidence_is_reported() -> None:
    _, run = _run(Env(agent="translator"), "no-correction")
    result = blame(run, correctors=[])
    assert result.method == "not_attributed" and result.blamed is None and not result.passed
    assert result.explanation.startswith("not attributed: failed checks: route_fits_entities")
    assert result.evidence is not None
    assert [c.split(" (")[0] for c in result.evidence.failed_checks] == ["route_fits_entities"]
    assert result.evidence.suspects == ("route#1",)  # judged by the check, not blamed
    assert result.evidence.tried == () and result.evidence.untried == len(run.steps)


def test_steps_and_lineage_follow_the_state_keys_read_and_written() -> None:
    _, run = _run(Env(agent="erp_invoices"), "lineage")
    keys = [s.key for s in run.steps]
    assert keys == [
        "intake#1",
        "recall#1",
        "route#1",
        "erp/enter#1",
        "erp/agent#1",
        "erp/tools#1",
        "erp/agent#2",
        "erp/check#1",
        "respond#1",
    ]
    recall = run.by_key()["recall#1"]
    assert set(recall.writes) == {"memories"}
    # Only the agent reads memories; everything after it consumes what it wrote.
    assert [s.key for s in consumers_of(run, recall)] == [
        "erp/agent#1",
        "erp/tools#1",
        "erp/agent#2",
        "erp/check#1",
        "respond#1",
    ]


def test_reference_and_resample_corrections() -> None:
    _, reference = _run(Env(agent="erp_invoices"), "reference")
    _, run = _run(Env(agent="erp_invoices", confidence=0.5), "jitter")
    proposed = list(ReferenceCorrector(reference)(run.by_key()["route#1"], run))
    assert len(proposed) == 1 and proposed[0].writes["route"]["confidence"] == 0.93
    assert list(ReferenceCorrector(reference)(run.by_key()["intake#1"], run)) == []  # same output
    # A deterministic model re-samples to the same output: no correction to offer.
    assert (
        list(
            ResampleCorrector(context=NovaContext(project="parts-shop"))(
                run.by_key()["erp/agent#1"], run
            )
        )
        == []
    )
