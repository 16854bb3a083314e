"""``nova improve`` on routing: corrections become gated, versioned, reversible examples.

A small catalog (four agents, five examples each) misroutes questions about credit
notes; corrections name the right agent, ``nova improve --catalog DIR`` makes a routing
candidate, the gate passes it, and after promotion ``nova route --catalog DIR`` with the
same data directory routes with the promoted version, the catalog's files untouched.
Poisoned corrections that would move a recorded good run are rejected by the gate.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from router_fixtures import write_routable_catalog, write_router_config
from typer.testing import CliRunner

import nova.cli  # noqa: F401  (registers every command)
from nova.cli import app
from nova.improve import CandidateStore, accept, improve, pending_candidates
from nova.improve.engine import ImproveError
from nova.ledger.feedback import FeedbackImportError, FeedbackLedger

CREDIT_NOTES = [
    "Did Nordwind get a credit note for the damaged parts?",
    "How much was credited to Nordwind this year?",
    "Was Acme credited for the cancelled order?",
    "Show the credits we gave Baker & Sons",
    "Did we refund Nordwind for the returned gearbox?",
    "Total credit notes issued to Acme last month",
    "Is there a credit balance on Baker & Sons' account?",
    "Which customers received refunds in May?",
    "List the credit notes for Acme's returns",
    "Has the refund for order 5510 gone out?",
]

runner = CliRunner()


def cli(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    output = result.output + (result.stderr if result.stderr_bytes else "")
    assert result.exit_code == code, output
    return output


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    root = tmp_path / "small"
    folder = write_routable_catalog(root / "agents", examples=5)
    write_router_config(root / "router.yaml")
    return folder


def _files_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.parent.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def _corrections(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "corrections.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def _routed(catalog: Path, *texts: str) -> list[str | None]:
    """Route ``texts`` with ``nova route --catalog DIR --batch`` (agent, or None on abstain)."""
    batch, out = catalog.parent.parent / "probe.jsonl", catalog.parent.parent / "routed.jsonl"
    batch.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    cli("route", "--catalog", str(catalog), "--batch", str(batch), "--out", str(out))
    return [json.loads(line)["agent"] for line in out.read_text(encoding="utf-8").splitlines()]


def _route(catalog: Path, text: str) -> dict[str, object]:
    return {"agent": _routed(catalog, text)[0]}


def test_import_is_all_or_nothing_and_names_bad_lines(catalog: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"text": "Which bills are open?", "agent": "erp_invoices"}\n'
        "not json\n"
        '{"text": "", "agent": "translator"}\n'
        '{"text": "Plan my week", "agent": "nobody"}\n'
        '{"text": "Order a pizza"}\n',
        encoding="utf-8",
    )
    out = cli("feedback", "import", str(bad), "--catalog", str(catalog), code=2)
    for line in (
        "line 2: not JSON",
        "line 3: text must be",
        "line 4: no agent named 'nobody'",
        "line 5: agent is missing",
    ):
        assert line in out
    assert "nothing was imported" in out and "Traceback" not in out
    assert FeedbackLedger().list(limit=100) == []
    good = _corrections(
        tmp_path,
        [
            {"text": CREDIT_NOTES[0], "agent": "erp_invoices"},
            {"text": "Feed the cat", "agent": None},
        ],
    )
    assert "Imported 2 correction(s)" in cli(
        "feedback", "import", str(good), "--catalog", str(catalog)
    )
    stored = FeedbackLedger().corrections(catalog=str(catalog.resolve()))
    assert [(r.agent, r.out_of_scope, r.source) for r in stored] == [
        ("erp_invoices", None, "import"),
        (None, True, "import"),
    ]
    with pytest.raises(FeedbackImportError):
        FeedbackLedger().import_corrections(["{}"], agents=["a"])


def test_corrections_promote_a_version_that_routes_and_rolls_back(
    catalog: Path, tmp_path: Path
) -> None:
    before = _files_digest(catalog)
    routed_before = _routed(catalog, *CREDIT_NOTES)
    assert routed_before.count("erp_invoices") < len(CREDIT_NOTES)
    rows = [{"text": t, "agent": "erp_invoices"} for t in CREDIT_NOTES]
    cli("feedback", "import", str(_corrections(tmp_path, rows)), "--catalog", str(catalog))

    listed = cli("improve", "--catalog", str(catalog))
    assert "10 new correction(s)" in listed and "passed" in listed
    [candidate] = pending_candidates()
    assert candidate.kind == "routing" and candidate.status == "passed"
    gate = candidate.gate or {}
    assert gate["targeted"]["wins"] >= 1 and gate["held_out"]["losses"] <= gate["held_out"]["wins"]
    assert set(candidate.evidence) >= {
        r.id for r in FeedbackLedger().corrections(catalog=str(catalog.resolve()))
    }
    assert candidate.parent_version and candidate.version

    cli("improve", "accept", candidate.id[:10])
    # The same data dir: `nova route --catalog` uses the promoted version.
    assert _routed(catalog, *CREDIT_NOTES) == ["erp_invoices"] * len(CREDIT_NOTES)
    assert _files_digest(catalog) == before  # the catalog's files never change

    history = json.loads(
        cli("agents", "history", "erp_invoices", "--catalog", str(catalog), "--json")
    )
    assert history["active"] == 1
    v0, v1 = history["versions"]
    assert v1["parent"] == v0["hash"] and v1["candidate"] == candidate.id
    assert len(v1["evidence"]) == len(CREDIT_NOTES)
    diff = cli("agents", "diff", "erp_invoices", "0", "1", "--catalog", str(catalog))
    assert f"+- {CREDIT_NOTES[0]}" in diff

    # Nothing new since the promotion: no candidate; the promoted one cannot be taken again.
    assert "No new routing corrections" in cli("improve", "--catalog", str(catalog))
    with pytest.raises(ImproveError, match="promoted"):
        accept(candidate.id)

    cli("agents", "rollback", "erp_invoices", "0", "--catalog", str(catalog))
    assert _routed(catalog, *CREDIT_NOTES) == routed_before
    history = json.loads(
        cli("agents", "history", "erp_invoices", "--catalog", str(catalog), "--json")
    )
    assert history["active"] == 0 and history["versions"][-1]["action"] == "rollback"
    cli("agents", "rollback", "erp_invoices", "1", "--catalog", str(catalog))
    assert _routed(catalog, *CREDIT_NOTES) == ["erp_invoices"] * len(CREDIT_NOTES)
    assert "has no version 7" in cli(
        "agents", "diff", "erp_invoices", "0", "7", "--catalog", str(catalog), code=2
    )


def test_gate_rejects_corrections_that_break_a_good_recorded_run(catalog: Path) -> None:
    key = str(catalog.resolve())
    ledger = FeedbackLedger()
    good = "Which invoices are overdue for Nordwind?"
    ledger.record("good", run_id="run-good", request=good, routed_agent="erp_invoices", catalog=key)
    # Poison: invoice questions "belong" to the planner.
    poison = [
        "Which invoices are overdue for Acme?",
        "Which invoices are overdue for Baker & Sons?",
        "List overdue invoices for Nordwind",
        "Show me the overdue invoices of Acme",
        "Are any invoices of Nordwind overdue?",
        "Overdue invoices for Baker & Sons, please",
    ]
    ledger.import_corrections(
        [json.dumps({"text": t, "agent": "daily_planner"}) for t in poison], catalog=key
    )
    report = improve(catalog, yes=True)
    [candidate] = [c for c in report.candidates if c.kind == "routing"]
    assert candidate.status == "failed" and not report.promoted
    assert candidate.gate is not None and candidate.gate["regression"]["losses"] == 1
    assert "recorded good run" in candidate.gate["why"]
    assert "is failed" in cli("improve", "accept", candidate.id, code=2)
    assert CandidateStore().get(candidate.id).status == "failed"
    # Rejected by the owner: never promoted, and its evidence waits for the next run.
    cli("improve", "reject", candidate.id)
    assert CandidateStore().get(candidate.id).status == "rejected"
    assert _route(catalog, good)["agent"] == "erp_invoices"


def test_a_traced_run_that_passed_is_in_the_regression_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from router_fixtures import write_agent_catalog

    from nova.settings import get_settings
    from nova.tracing import TraceStore

    root = tmp_path / "nova-catalog"
    folder = write_agent_catalog(root / "agents")
    write_router_config(root / "router.yaml")
    monkeypatch.setenv("NOVA_CATALOG_DIR", str(folder))
    get_settings.cache_clear()
    passed = "Has invoice 2291 been settled?"
    TraceStore().write(
        {
            "trace_id": "run-passed",
            "run_id": "run-passed",
            "thread_id": "thread-passed",
            "graph": "nova",
            "request": passed,
            "answer": "Invoice 2291 is paid.",
            "status": "ok",
            "started_at": datetime.now(UTC),
            "route": {"agent": "erp_invoices", "method": "semantic"},
            "agent": "erp_invoices",
            "checks": [{"name": "numbers_grounded", "passed": True}],
            "step_count": 0,
        },
        [],
    )
    poison = [
        "Is invoice 10482 paid yet?",
        "Is invoice 5510 paid yet?",
        "Has invoice INV-77 been paid?",
        "Was invoice 2291 settled?",
        "Is invoice 10482 settled yet?",
        "Did they pay invoice 5510?",
    ]
    FeedbackLedger().import_corrections(
        [json.dumps({"text": t, "agent": "translator"}) for t in poison]
    )
    report = improve(None, yes=True)
    [candidate] = [c for c in report.candidates if c.kind == "routing"]
    gate = candidate.gate or {}
    assert gate["regression"]["n"] == 1 and gate["regression"]["losses"] == 1, gate
    assert candidate.status == "failed" and not report.promoted
