"""``nova improve`` reads failures and blame results as evidence for prompt candidates.

Scripted models whose answers depend on the prompt: the general_chat agent declares an
``output_schema`` check, its model answers in prose, and the failure ledger holds the
check's failure for a traced run. The rewriting model reads that evidence and proposes
"answer in JSON"; the gate replays the run with both prompts and re-runs the check on each
answer, so the candidate fixes a case no user gave feedback on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage
from router_fixtures import write_agent_catalog, write_router_config

from nova.catalog import default_catalog
from nova.improve import improve
from nova.improve.evidence import gather_failing_runs
from nova.ledger.failures import FailureLedger
from nova.ledger.feedback import FeedbackLedger
from nova.settings import get_settings
from nova.testing import PromptDependentChatModel
from nova.tracing import TraceStore
from nova.yamlio import load_yaml

JSON_EDIT = "Answer in JSON with the key rate."
REQUEST = "What is the German VAT rate?"
SCHEMA_MISS = "output_schema: the answer holds no JSON value to validate"


def _respond(messages: list[BaseMessage]) -> str:
    system, request = str(messages[0].content), str(messages[-1].content)
    if system.startswith("You improve the system prompt"):
        current = request.split("Current prompt:\n", 1)[1].split("\n\nRuns the user", 1)[0]
        # The rewrite is driven by the evidence it is shown: the check's failure.
        if SCHEMA_MISS not in request:
            return "Nothing to change.\n<prompt>\n" + current + "\n</prompt>"
        return f"The answers are prose, not JSON.\n<prompt>\n{current}\n{JSON_EDIT}\n</prompt>"
    if JSON_EDIT in system:
        return '{"rate": "19%"}'
    return "German VAT is 19%."


@pytest.fixture
def model() -> PromptDependentChatModel:
    return PromptDependentChatModel(respond=_respond)


def _factory(model: PromptDependentChatModel) -> Any:
    return lambda spec, override: model


def _trace(run_id: str, request: str, answer: str, agent: str = "general_chat") -> None:
    TraceStore().write(
        {
            "trace_id": run_id,
            "run_id": run_id,
            "thread_id": f"thread-{run_id}",
            "graph": "nova",
            "request": request,
            "answer": answer,
            "status": "ok",
            "started_at": datetime.now(UTC),
            "route": {"agent": agent, "method": "semantic"},
            "agent": agent,
            "checks": [],
            "step_count": 0,
        },
        [],
    )


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "catalog"
    folder = write_agent_catalog(root / "agents")
    write_router_config(root / "router.yaml")
    path = folder / "general_chat.yaml"
    data = load_yaml(path.read_text(encoding="utf-8"))
    data["output_schema"] = {"type": "object", "required": ["rate"]}
    data["checks"] = ["output_schema"]
    from nova.userdata import dump_yaml

    path.write_text(dump_yaml(data), encoding="utf-8")
    monkeypatch.setenv("NOVA_CATALOG_DIR", str(folder))
    get_settings.cache_clear()
    return folder


def _check_failed(run_id: str, check: str, message: str, *, node: str = "agent") -> str:
    spec = default_catalog()["general_chat"]
    return (
        FailureLedger()
        .record(
            "check_failed",
            error_type="CheckFailed",
            message=message,
            run_id=run_id,
            node=node,
            agent="general_chat",
            agent_version=spec.version_label,
            details={"check": check, "status": "failed", "checked_by": "check"},
        )
        .id
    )


def test_failed_check_is_a_targeted_case_and_its_fix_is_promoted(
    catalog: Path, model: PromptDependentChatModel
) -> None:
    _trace("run-prose", REQUEST, "German VAT is 19%.")
    failure = _check_failed("run-prose", "output_schema", SCHEMA_MISS)
    report = improve(None, yes=True, model_factory=_factory(model), prompt_candidates=1)
    [promoted] = report.promoted
    assert promoted.kind == "prompt" and promoted.agent == "general_chat"
    gate = promoted.gate or {}
    # The check was re-run on the replayed answers: prose fails it, JSON passes.
    assert gate["checks_rerun"] == ["output_schema"]
    assert gate["targeted"]["n"] == 1 and gate["targeted"]["wins"] == 1
    assert failure in promoted.evidence and "run-prose" in promoted.evidence
    assert JSON_EDIT in default_catalog()["general_chat"].prompt
    # The failure is answered: the next run proposes nothing for it.
    again = improve(None, yes=True, model_factory=_factory(model))
    assert [c for c in again.candidates if c.kind == "prompt"] == []


def test_failures_no_replay_can_judge_are_evidence_only(
    catalog: Path, model: PromptDependentChatModel
) -> None:
    # numbers_grounded compares the answer with tool results a model-turn replay lacks.
    _trace("run-numbers", "How much is invoice 2291?", "Invoice 2291 is 410.00 EUR.")
    _check_failed("run-numbers", "numbers_grounded", "numbers_grounded: 410.00 in no tool result")
    FailureLedger().record(
        "node_error", error_type="TimeoutError", message="model timed out", agent="general_chat"
    )
    report = improve(None, yes=True, model_factory=_factory(model), prompt_candidates=1)
    assert [c for c in report.candidates if c.kind == "prompt"] == []
    notes = "\n".join(report.notes)
    assert "general_chat: 1 failing run(s), none the gate can judge" in notes
    assert "has no trace with the request" in notes  # the node error kept no trace


def test_gather_merges_ledgers_and_keeps_what_came_after_the_last_promotion(
    catalog: Path,
) -> None:
    cat = default_catalog()
    _trace("run-a", REQUEST, "German VAT is 16%.")
    _trace("run-b", "Tell me a joke about tax.", "No.")
    _trace("run-c", "Is invoice 2291 paid?", "Yes.", agent="erp_invoices")
    FeedbackLedger().record(
        "bad",
        run_id="run-a",
        request=REQUEST,
        given_answer="German VAT is 16%.",
        answer="19%",
        routed_agent="general_chat",
    )
    schema_failure = _check_failed("run-a", "output_schema", SCHEMA_MISS)
    _check_failed("run-a", "route_fits_entities", "route_fits_entities: wrong agent", node="route")
    traces = TraceStore()
    traces.save_blame(
        "run-b",
        {"passed": False, "blamed": {"node": "agent", "agent": "general_chat"},
         "explanation": "the agent step's answer was wrong"},
    )  # fmt: skip
    traces.save_blame("run-c", {"passed": False, "blamed": {"node": "route"}, "explanation": "x"})
    feedback = [r for r in FeedbackLedger().list() if r.rating == "bad"]

    runs, notes = gather_failing_runs(
        cat, feedback=feedback, failures=FailureLedger(), traces=traces
    )
    assert set(runs) == {"general_chat"} and notes == []
    by_run = {r.run_id: r for r in runs["general_chat"]}
    merged = by_run["run-a"]  # the user's answer and the failed check, one run
    assert merged.expected == "19%" and merged.check == "output_schema"
    assert schema_failure in merged.sources and set(merged.kinds) == {"feedback", "check_failed"}
    assert not any("route_fits_entities" in n for n in merged.notes)  # the router's fault
    blamed = by_run["run-b"]
    assert blamed.kinds == ("blame",) and not blamed.judgeable
    assert "the agent step's answer was wrong" in blamed.notes[0]

    # After a promotion, older failures and blames were weighed already.
    later = datetime.now(UTC) + timedelta(seconds=5)
    runs, _ = gather_failing_runs(
        cat, failures=FailureLedger(), traces=traces, since={"general_chat": later}
    )
    assert runs == {}
    # Evidence a promoted candidate answered is left out too.
    runs, _ = gather_failing_runs(
        cat, failures=FailureLedger(), traces=traces, used={schema_failure, "blame:run-b"}
    )
    assert runs == {}


def test_the_rewrite_is_told_which_runs_an_earlier_version_answered(catalog: Path) -> None:
    from nova.improve.evidence import FailingRun
    from nova.improve.prompts import _reflect_messages

    spec = default_catalog()["general_chat"]
    runs = [
        FailingRun(id="f1", agent="general_chat", request=REQUEST, given_answer="16%",
                   expected="19%", agent_version="general_chat@0.9.0+0123456789ab",
                   kinds=("feedback",)),
        FailingRun(id="f2", agent="general_chat", request="Hi", given_answer="Hello.",
                   notes=("a check failed: CheckFailed: output_schema: no JSON",),
                   agent_version=spec.version_label, kinds=("check_failed",)),
    ]  # fmt: skip
    text = str(_reflect_messages(spec, runs, [], 0, 1)[1].content)
    assert "answer given: 16% (by an earlier version, general_chat@0.9.0+0123456789ab)" in text
    assert "answer given: Hello.\n  caught by Nova itself:\n  a check failed" in text
    assert "the user says: 19%" in text
