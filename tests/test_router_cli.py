"""``nova route`` (text, batch, log, explain) and ``nova eval routing`` through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from router_fixtures import write_agent_catalog, write_routable_catalog, write_router_config
from typer.testing import CliRunner

import nova.cli  # noqa: F401  (registers every command)
from nova.cli import app
from nova.ledger.routing import RoutingLedger
from nova.settings import get_settings

runner = CliRunner()


@pytest.fixture
def nova_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point Nova's configured catalog at a small one (fitted once per test's data dir)."""
    root = tmp_path / "catalog"
    folder = write_agent_catalog(root / "agents")
    write_router_config(root / "router.yaml")
    monkeypatch.setenv("NOVA_CATALOG_DIR", str(folder))
    get_settings.cache_clear()
    return folder


@pytest.fixture(scope="module")
def routable_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("routable-cli")
    write_router_config(root / "router.yaml")
    return write_routable_catalog(root / "agents")


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def test_route_text_shows_scores_and_logs_the_decision(nova_catalog: Path) -> None:
    code, out = invoke("route", "Which", "invoices are overdue for Acme?", "-p", "parts-shop")
    assert code == 0, out
    assert "erp_invoices" in out and "semantic" in out and "ledger id" in out
    [record] = RoutingLedger().list()
    assert record.request == "Which invoices are overdue for Acme?"
    assert record.project == "parts-shop"

    code, out = invoke("route", "log", "--agent", "erp_invoices", "--since", "2h")
    assert code == 0, out
    assert record.id[:8] in out
    code, out = invoke("route", "log", "--low-confidence")
    assert "No routing decisions match" in out

    code, out = invoke("route", "explain", record.id[:10])
    assert code == 0, out
    assert "Against the fitted thresholds" in out
    assert "invoices are overdue for Acme" in out
    assert record.catalog_version in out


def test_route_text_abstains_with_a_question(nova_catalog: Path) -> None:
    code, out = invoke("route", "Book a taxi and order a pizza")
    assert code == 0, out
    assert "clarify" in out and "Clarifying question" in out
    code, out = invoke("route", "log", "--low-confidence", "--since", "yesterday")
    assert "clarify" in out


def test_dry_run_logs_nothing(nova_catalog: Path) -> None:
    code, out = invoke("route", "--dry-run", "--", "log", "my", "invoices")
    assert code == 0, out
    assert "not logged" in out
    assert RoutingLedger().list() == []


def test_log_rejects_an_unreadable_since(nova_catalog: Path) -> None:
    code, out = invoke("route", "log", "--since", "the day the music died")
    assert code == 2
    assert "Could not read --since" in out


def test_explain_unknown_id(nova_catalog: Path) -> None:
    code, out = invoke("route", "explain", "deadbeef")
    assert code == 2
    assert "No routing decision with id 'deadbeef'" in out


def test_route_without_text_shows_help() -> None:
    code, out = invoke("route")
    assert code == 0
    assert "explain" in out and "--batch" in out


def test_batch_routes_any_catalog(routable_catalog: Path, tmp_path: Path) -> None:
    batch = tmp_path / "in.jsonl"
    lines = [
        {"text": "Is invoice 2291 paid yet?"},
        {"text": "Translate 'see you soon' into Spanish"},
        {"text": "Order a pizza and book a hotel in Rome"},
    ]
    batch.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    out_file = tmp_path / "out" / "decisions.jsonl"
    code, out = invoke(
        "route", "--catalog", str(routable_catalog), "--batch", str(batch), "--out", str(out_file)
    )
    assert code == 0, out
    assert "Routed 3 requests" in out
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [set(row) for row in rows] == [{"text", "agent", "confidence", "method", "top"}] * 3
    assert [row["agent"] for row in rows] == ["erp_invoices", "translator", None]
    assert rows[2]["method"] == "clarify"
    assert rows[0]["top"][0][0] == "erp_invoices" and len(rows[0]["top"]) == 3
    assert rows[0]["text"] == "Is invoice 2291 paid yet?"


def test_batch_reports_bad_lines_and_missing_out(routable_catalog: Path, tmp_path: Path) -> None:
    batch = tmp_path / "in.jsonl"
    batch.write_text('{"text": "fine"}\n{"txt": "typo"}\n')
    code, out = invoke(
        "route", "--catalog", str(routable_catalog), "--batch", str(batch), "--out", "o.jsonl"
    )
    assert code == 2 and "in.jsonl:2" in out
    code, out = invoke("route", "--catalog", str(routable_catalog), "--batch", str(batch))
    assert code == 2 and "--out" in out


def test_route_text_on_any_catalog_is_not_logged(routable_catalog: Path) -> None:
    code, out = invoke("route", "--catalog", str(routable_catalog), "Time-block my Tuesday")
    assert code == 0, out
    assert "daily_planner" in out and "not logged" in out
    assert RoutingLedger().list() == []


def test_eval_routing_prints_figures_and_writes_a_report(
    routable_catalog: Path, tmp_path: Path
) -> None:
    dataset = tmp_path / "routing.jsonl"
    cases = [
        {"text": "Which invoices of Nordwind are open?", "agent": "erp_invoices"},
        {"text": "Translate 'thank you' into French", "agent": "translator"},
        {"text": "Schedule my Wednesday morning", "agent": "daily_planner"},
        {"text": "Tell me a fun fact", "agent": "general_chat"},
        {"text": "Order a taxi to the airport", "agent": None},
    ]
    dataset.write_text("\n".join(json.dumps(c) for c in cases))
    report = tmp_path / "report.json"
    code, out = invoke(
        "eval",
        "routing",
        "--dataset",
        str(dataset),
        "--catalog",
        str(routable_catalog),
        "--report",
        str(report),
        "--latency-samples",
        "10",
    )
    assert code == 0, out
    for figure in ("top-1 accuracy", "macro-F1", "out-of-scope recall", "precision", "p50"):
        assert figure in out
    assert "near-duplicates removed from test" in out and "dev" in out
    data = json.loads(report.read_text())
    header = data["provenance"]
    assert header["dataset_hash"] and header["code_version"]
    split = header["split"]
    assert split["dev"] + split["test"] + split["leaks_removed_from_test"] == 5
    reports = [data[name] for name in ("dev", "test") if name in data]
    assert sum(r["cases"] for r in reports) == split["dev"] + split["test"]
    for figures in reports:
        assert figures["in_scope"] + figures["out_of_scope"] == figures["cases"]
        assert figures["latency_p50_ms"] > 0
        assert set(figures["thresholds"]) == {"min_confidence", "min_margin", "min_similarity"}


def test_eval_routing_rejects_agents_the_catalog_lacks(
    routable_catalog: Path, tmp_path: Path
) -> None:
    dataset = tmp_path / "routing.jsonl"
    dataset.write_text(json.dumps({"text": "hello", "agent": "astrologer"}) + "\n")
    code, out = invoke(
        "eval", "routing", "--dataset", str(dataset), "--catalog", str(routable_catalog)
    )
    assert code == 2
    assert "astrologer" in out
