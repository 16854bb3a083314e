"""The daily-use suite: its judge, its data, and a slice run end to end with a floor.

The floor is the figure measured on this slice (dev split, first 20 cases' conversations:
10 of 20 pass, `nova eval daily --split dev`), so a change that makes Nova worse at the
owner's own requests fails here rather than only in a report.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from evals.daily_eval import Case, Expect, TurnResult, judge, load_cases, run_suite


def _case(**expect: object) -> Case:
    return Case(id="x1", text="t", split="dev", expect=Expect.model_validate(expect))


def test_the_suite_is_valid_and_split_by_conversation() -> None:
    cases = load_cases()
    assert len(cases) >= 80
    assert len({c.id for c in cases}) == len(cases)
    splits: dict[str, set[str]] = {}
    for case in cases:
        splits.setdefault(case.conversation, set()).add(case.split)
    assert all(len(found) == 1 for found in splits.values())  # a thread never straddles
    assert {"dev", "test"} == {c.split for c in cases}
    projects = {c.expect.project for c in cases}
    assert {"personal", "erp-product", "sign-marketplace", "parts-shop", "client-work"} <= projects


def test_judge_needs_the_agent_the_project_and_every_fact() -> None:
    case = _case(
        agent=["erp_invoices"], outcome="answer", facts=["INV-1", "1,234.50"], project="parts-shop"
    )
    good = TurnResult(
        "x1",
        0.1,
        answer="INV-1 over 1,234.50",
        agent="erp_invoices",
        method="semantic",
        project="parts-shop",
        outcome="fast_path",
    )
    assert judge(case, good).passed
    wrong_agent = dataclasses.replace(good, agent="erp_payments")
    assert not judge(case, wrong_agent).passed
    missing = TurnResult(
        "x1",
        0.1,
        answer="INV-1",
        agent="erp_invoices",
        method="semantic",
        project="parts-shop",
        outcome="fast_path",
    )
    assert judge(case, missing).reasons == ["missing facts: ['1,234.50']"]
    other_project = TurnResult(
        "x1",
        0.1,
        answer=good.answer,
        agent="erp_invoices",
        method="semantic",
        project="personal",
        outcome="fast_path",
    )
    assert not judge(case, other_project).passed


def test_judge_of_clarify_and_needs_model() -> None:
    clarify = _case(outcome="clarify")
    asked = TurnResult("x1", 0.1, answer="Which one?", agent=None, method="clarify")
    assert judge(clarify, asked).passed
    guessed = TurnResult("x1", 0.1, answer="Here", agent="calculator", method="semantic")
    assert not judge(clarify, guessed).passed
    needs = _case(outcome="needs_model", facts=["German"])
    said = TurnResult(
        "x1",
        0.1,
        answer="Language: German. Needs a model.",
        agent="translator",
        method="semantic",
        outcome="needs_model",
    )
    assert judge(needs, said).passed
    answered_blind = TurnResult(
        "x1", 0.1, answer="ok", agent="translator", method="semantic", outcome="answered"
    )
    assert not judge(needs, answered_blind).passed


@pytest.mark.slow
def test_a_dev_slice_passes_at_its_measured_floor() -> None:
    report = run_suite(paths=("inprocess",), split="dev", limit=20)
    summary = report["paths"]["inprocess"]["summary"]["dev"]
    assert summary["cases"] == 20
    # Measured 0.80 on 2026-12-03 (the floor was 0.45 before); one case (0.05) of slack.
    assert summary["pass_rate"] >= 0.75, summary["failures"]


def test_the_sdk_path_serves_the_checkout_graphs_from_its_own_folder(tmp_path: Path) -> None:
    """The dev server keeps its threads beside its config: the evaluation's, not the checkout's."""
    import json

    from evals.daily_eval import ROOT, isolated_dev_config

    config = isolated_dev_config(tmp_path / "dev-server")
    assert config.parent == tmp_path / "dev-server"
    written = json.loads(config.read_text())
    served = json.loads((ROOT / "langgraph.json").read_text())
    assert set(written["graphs"]) == set(served["graphs"])
    for target in written["graphs"].values():
        path, _, attribute = target.partition(":")
        assert Path(path).is_file() and attribute, target
