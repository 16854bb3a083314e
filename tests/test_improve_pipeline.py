"""The shipped ``improvement_proposals`` pipeline: ``nova improve`` on a schedule, no promotion."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from router_fixtures import write_agent_catalog, write_router_config
from typer.testing import CliRunner

import nova.cli  # noqa: F401  (registers every command)
from graphs.pipeline import PipelineRunner, shipped_pipelines
from nova.catalog import default_catalog
from nova.cli import app
from nova.improve import CandidateStore
from nova.ledger.feedback import FeedbackLedger
from nova.pipelines.loader import DEFAULT_PIPELINES_DIR
from nova.settings import get_settings
from nova.testing import ScriptedModels

PIPELINES_DIR = DEFAULT_PIPELINES_DIR
CORRECTIONS = [
    ("Did Nordwind get a credit note for the damaged parts?", "erp_invoices"),
    ("How much was credited to Nordwind this year?", "erp_invoices"),
    ("Was Acme credited for the cancelled order?", "erp_invoices"),
    ("Water the plants in the office", None),
]


@pytest.fixture
def catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "catalog"
    folder = write_agent_catalog(root / "agents")
    write_router_config(root / "router.yaml")
    monkeypatch.setenv("NOVA_CATALOG_DIR", str(folder))
    get_settings.cache_clear()
    return folder


def test_pipeline_proposes_and_promotes_nothing(catalog: Path, tmp_path: Path) -> None:
    # Only this pipeline: the others name agents the small test catalog does not have.
    folder = tmp_path / "pipelines"
    folder.mkdir()
    shutil.copy(PIPELINES_DIR / "improvement_proposals.yaml", folder)
    pipelines = shipped_pipelines(directory=str(folder))
    assert pipelines["improvement_proposals"].schedule == "30 5 * * *"
    FeedbackLedger().import_corrections(
        [json.dumps({"text": t, "agent": a}) for t, a in CORRECTIONS],
        agents=default_catalog().names,
    )
    runner = PipelineRunner(
        model_factory=ScriptedModels(), checkpointer=InMemorySaver(), pipelines=pipelines
    )
    result = runner.run("improvement_proposals", thread_id="improve-1").result
    assert result is not None and result["status"] == "completed", result
    assert (
        "4 new correction(s)" in result["text"]
        and "nova improve accept|reject ID" in result["text"]
    )
    [candidate] = CandidateStore().list(kind="routing")
    assert candidate.status in ("passed", "failed") and candidate.id[:12] in result["text"]
    assert candidate.change["out_of_scope"] == ["Water the plants in the office"]
    assert default_catalog().promoted == {} and default_catalog().out_of_scope == ()


def test_every_scheduled_needs_a_pipeline_schedule() -> None:
    assert shipped_pipelines()["improvement_proposals"].schedule == "30 5 * * *"
    result = CliRunner().invoke(app, ["pipeline", "run", "daily_briefing", "--every", "scheduled"])
    assert result.exit_code == 2
    assert "has no schedule of its own" in result.output + (
        result.stderr if result.stderr_bytes else ""
    )
