"""The ERP dataset and `nova eval erp` (fast path, and a model through scripted transcripts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.erp_eval import (
    DEFAULT_DATASET,
    canonical_args,
    dataset_meta,
    load_dataset,
    run_model,
)
from nova.catalog import load_catalog
from nova.cli import app
from nova.erp.db import ErpDatabase
from nova.settings import get_settings
from nova.testing import ScriptedChatModel, ScriptedModels, calls, says, tool_call

pytest_plugins = ("tests.erp_fixtures",)


def test_dataset_is_large_valid_and_mixed() -> None:
    cases = load_dataset()
    catalog = load_catalog()
    assert len(cases) >= 150
    assert len({case.text for case in cases}) == len(cases)
    kinds = {case.expect for case in cases}
    assert kinds == {"answer", "approval", "clarify", "decline"}
    for case in cases:
        assert case.agent in catalog, case.id
        if case.skill:
            assert case.skill in catalog[case.agent].tools, case.id
            assert canonical_args(case.skill, case.args or {}) is not None, case.id
            assert case.facts, case.id
    assert sum(case.expect in ("decline", "clarify") for case in cases) >= 30
    assert dataset_meta()["items"] == len(cases)


def test_dataset_matches_the_sample_it_was_generated_from(full_erp: ErpDatabase) -> None:
    from nova.erp.seed import FINGERPRINT_KEY, seed_info

    assert seed_info(full_erp)[FINGERPRINT_KEY] == dataset_meta()["fingerprint"]


def test_cli_reports_the_fast_path_figures(full_erp_file: Path, tmp_path: Path) -> None:
    report = tmp_path / "erp_eval.json"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "erp",
            "--url",
            f"sqlite:///{full_erp_file}",
            "--report",
            str(report),
            "--no-model",
        ],
        env={"COLUMNS": "160"},
    )
    assert result.exit_code == 0, result.output
    for figure in (
        "coverage",
        "skill accuracy",
        "argument accuracy",
        "answer correctness",
        "latency p50",
    ):
        assert figure in result.output
    assert "using the evaluation sample" in result.output
    assert "word-for-word catalog examples: 43 of 205" in result.output
    assert "near-duplicates removed from test" in result.output
    assert "fast path · dev" in result.output and "fast path · test" in result.output
    body = json.loads(report.read_text(encoding="utf-8"))
    assert body["dataset_hash"] and body["code_version"]
    assert body["split"]["leaks_removed_from_test"] >= 43 - body["split"]["dev"]
    assert set(body["reports"]["fast path"]) == {"dev", "test"}


def test_model_runner_scores_skill_arguments_and_answer(
    full_erp_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOVA_ERP_DATABASE_URL", f"sqlite:///{full_erp_file}")
    get_settings.cache_clear()
    case = next(c for c in load_dataset(DEFAULT_DATASET) if c.kind == "invoice_number")
    facts = " ".join(f["value"] for f in case.facts)
    assert case.args is not None
    good = ScriptedChatModel.from_script(
        [calls(tool_call("erp_invoice_lookup", **case.args)), says(f"Here it is: {facts}")]
    )
    report, (result,) = run_model([case], load_catalog(), ScriptedModels({case.agent: good}))
    assert result.skill_ok and result.args_ok and result.answer_ok, result
    assert report.answer_correctness == 1.0
    invented = ScriptedChatModel.from_script(
        [
            calls(tool_call("erp_overdue_invoices")),
            says(f"{case.args['invoice_number']} owes €123,456.78"),
        ]
    )
    _, (bad,) = run_model([case], load_catalog(), ScriptedModels({case.agent: invented}))
    assert bad.skill_ok is False and bad.answer_ok is False


def test_model_runner_reads_the_evaluation_sample_not_the_users_database(
    full_erp_file: Path, erp_url: str
) -> None:
    """The expected facts come from the sample: the model's tools must read it (``database``).

    ``erp_url`` makes a smaller business the user's configured ERP database, where the same
    invoice number holds other figures or none.
    """
    from nova.erp.db import ErpDatabase

    case = next(c for c in load_dataset(DEFAULT_DATASET) if c.kind == "invoice_number")
    facts = " ".join(f["value"] for f in case.facts)
    assert case.args is not None
    script = [calls(tool_call("erp_invoice_lookup", **case.args)), says(f"Here it is: {facts}")]
    sample = ErpDatabase(f"sqlite:///{full_erp_file}", migrate=False)
    try:
        _, (on_sample,) = run_model(
            [case],
            load_catalog(),
            ScriptedModels({case.agent: ScriptedChatModel.from_script(script)}),
            database=sample,
        )
    finally:
        sample.engine.dispose()
    _, (on_users,) = run_model(
        [case], load_catalog(), ScriptedModels({case.agent: ScriptedChatModel.from_script(script)})
    )
    assert on_sample.answer_ok, on_sample
    assert not on_users.answer_ok, "the user's database cannot ground the sample's facts"
