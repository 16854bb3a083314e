"""Prompt candidates, with scripted models whose answers depend on the prompt they get.

The seeded defect: the general_chat agent's prompt does not state Germany's standard VAT
rate, so its model answers 16%; the user says 19%. The rewriting model proposes one edit
that states the rate (fixes it) and one that makes every VAT answer 19% (fixes it too,
but breaks a run the user called good: the reduced rate, 7%). The gate promotes the
first and rejects the second.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from router_fixtures import write_agent_catalog, write_router_config

from nova.catalog import default_catalog
from nova.improve import CandidateStore, accept, improve
from nova.improve.versions import store_for
from nova.ledger.feedback import FeedbackLedger
from nova.settings import get_settings
from nova.testing import PromptDependentChatModel

GOOD_EDIT = "Germany's standard VAT rate is 19%."
BREAKING_EDIT = "Whatever VAT rate is asked about, answer 19%."


def _respond(messages: list[BaseMessage]) -> str:
    system, request = str(messages[0].content), str(messages[-1].content)
    if system.startswith("You improve the system prompt"):
        current = request.split("Current prompt:\n", 1)[1].split("\n\nRuns the user", 1)[0]
        variant = "proposal 2 of" in request
        edit = BREAKING_EDIT if variant else GOOD_EDIT
        return (
            "The prompt never states the VAT rate, so the model guessed 16%.\n"
            f"<prompt>\n{current}\n{edit}\n</prompt>"
        )
    if "reduced" in request:
        return (
            "The reduced VAT rate is 19%."
            if BREAKING_EDIT in system
            else "The reduced VAT rate is 7%."
        )
    if "VAT" in request:
        return "German VAT is 19%." if "19%" in system else "German VAT is 16%."
    return "Hello."


@pytest.fixture
def model() -> PromptDependentChatModel:
    return PromptDependentChatModel(respond=_respond)


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "catalog"
    folder = write_agent_catalog(root / "agents")
    write_router_config(root / "router.yaml")
    monkeypatch.setenv("NOVA_CATALOG_DIR", str(folder))
    get_settings.cache_clear()
    ledger = FeedbackLedger()
    ledger.record(
        "bad",
        run_id="run-vat",
        request="What is the German VAT rate?",
        given_answer="German VAT is 16%.",
        answer="19%",
        routed_agent="general_chat",
    )
    ledger.record(
        "good",
        run_id="run-reduced",
        request="What is the reduced VAT rate?",
        given_answer="The reduced VAT rate is 7%.",
        routed_agent="general_chat",
    )
    return folder


def _factory(model: PromptDependentChatModel) -> Any:
    return lambda spec, override: model


def _digest(folder: Path) -> str:
    return hashlib.sha256(
        b"".join(p.read_bytes() for p in sorted(folder.glob("*.yaml")))
    ).hexdigest()


def test_seeded_prompt_defect_is_fixed_by_a_promoted_candidate(
    catalog: Path, model: PromptDependentChatModel
) -> None:
    before = _digest(catalog)
    assert "19%" not in default_catalog()["general_chat"].prompt
    report = improve(None, yes=True, model_factory=_factory(model), prompt_candidates=2)
    prompts = [c for c in report.candidates if c.kind == "prompt"]
    assert len(prompts) == 2
    [promoted] = report.promoted
    assert promoted.kind == "prompt" and promoted.agent == "general_chat"
    assert GOOD_EDIT in promoted.change["prompt"] and promoted.status == "promoted"
    assert promoted.gate is not None and promoted.gate["targeted"]["wins"] == 1
    assert "run-vat" in promoted.evidence
    # The agent now runs the promoted prompt; the installed file is unchanged.
    spec = default_catalog()["general_chat"]
    assert GOOD_EDIT in spec.prompt and default_catalog().promoted == {"general_chat": 1}
    assert _digest(catalog) == before
    [v0, v1] = store_for(None).history("general_chat")
    assert v1.parent == v0.hash and v1.candidate == promoted.id
    assert (
        model.invoke([*_system(spec.prompt), *_human("What is the German VAT rate?")]).text
        == "German VAT is 19%."
    )
    # The bad run is answered now: a second run proposes nothing for it.
    again = improve(None, yes=True, model_factory=_factory(model))
    assert [c for c in again.candidates if c.kind == "prompt"] == []


def test_candidate_that_fixes_the_target_but_breaks_a_good_run_is_rejected(
    catalog: Path, model: PromptDependentChatModel
) -> None:
    report = improve(None, yes=False, model_factory=_factory(model), prompt_candidates=2)
    [breaking] = [c for c in report.candidates if BREAKING_EDIT in c.change.get("prompt", "")]
    gate = breaking.gate or {}
    assert gate["targeted"]["wins"] == 1  # it does fix the seeded defect...
    assert gate["regression"]["losses"] == 1  # ...but the reduced-rate run goes wrong
    assert breaking.status == "failed" and "recorded good run" in gate["why"]
    with pytest.raises(ValueError, match="only a candidate that passed the gate"):
        accept(breaking.id)
    assert BREAKING_EDIT not in default_catalog()["general_chat"].prompt
    assert CandidateStore().get(breaking.id).status == "failed"


def _system(text: str) -> list[BaseMessage]:
    from langchain_core.messages import SystemMessage

    return [SystemMessage(text)]


def _human(text: str) -> list[BaseMessage]:
    from langchain_core.messages import HumanMessage

    return [HumanMessage(text)]
