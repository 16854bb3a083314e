"""``nova eval … --langsmith`` against a local stub of the LangSmith API over HTTP.

The dataset goes up once per version (its hash), each run becomes an experiment with a run
and per-score feedback for every case; without ``--langsmith`` nothing is sent; without
LangSmith configured ``--langsmith`` fails in one line before the eval runs; a slow or
failing endpoint is reported in one line and never holds the eval up for long.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from router_fixtures import write_routable_catalog, write_router_config
from typer.testing import CliRunner

import nova.cli  # noqa: F401  (registers every command)
from evals.langsmith_upload import ExampleResult, LangSmithUpload
from nova.cli import app
from nova.settings import get_settings
from nova.tracing.config import get_tracing_settings
from tests.langsmith_stub import LangSmithStub

pytest_plugins = ("tests.erp_fixtures",)
runner = CliRunner()
CASES = [
    {"text": "Which invoices of Nordwind are open?", "agent": "erp_invoices"},
    {"text": "Translate 'thank you' into French", "agent": "translator"},
    {"text": "Schedule my Wednesday morning", "agent": "daily_planner"},
    {"text": "Tell me a fun fact about owls", "agent": "general_chat"},
    {"text": "Order a taxi to the airport", "agent": None},
    {"text": "Is the payment from Baker in?", "agent": "erp_invoices"},
]


@pytest.fixture
def stub() -> Iterator[LangSmithStub]:
    server = LangSmithStub()
    yield server
    server.close()


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("routable-langsmith")
    write_router_config(root / "router.yaml")
    return write_routable_catalog(root / "agents")


def _configure(monkeypatch: pytest.MonkeyPatch, stub: LangSmithStub, **env: str) -> None:
    monkeypatch.setenv("NOVA_LANGSMITH_API_KEY", "lsv2_pt_stub_key_0000")
    monkeypatch.setenv("NOVA_LANGSMITH_ENDPOINT", stub.url)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    get_tracing_settings.cache_clear()


def _eval(catalog: Path, dataset: Path, tmp_path: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(
        app,
        [
            "eval",
            "routing",
            "--dataset",
            str(dataset),
            "--catalog",
            str(catalog),
            "--report",
            str(tmp_path / "report.json"),
            "--latency-samples",
            "10",
            *extra,
        ],
    )
    return result.exit_code, result.output  # stdout and stderr, as a terminal shows them


def test_dataset_once_per_version_and_an_experiment_per_run(
    stub: LangSmithStub, catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure(monkeypatch, stub)
    dataset = tmp_path / "routing.jsonl"
    dataset.write_text("\n".join(json.dumps(c) for c in CASES))

    code, out = _eval(catalog, dataset, tmp_path)  # no --langsmith: nothing is sent
    assert code == 0, out
    assert stub.requests == []

    code, out = _eval(catalog, dataset, tmp_path, "--langsmith")
    assert code == 0, out
    assert "LangSmith: experiment nova-routing-" in out and "uploaded" in out
    report = json.loads((tmp_path / "report.json").read_text())
    dataset_hash = report["provenance"]["dataset_hash"]
    evaluated = sum(report[s]["cases"] for s in ("dev", "test") if s in report)

    [remote] = stub.datasets.values()
    assert remote["name"] == "nova-eval-routing"
    examples = list(stub.examples.values())
    assert len(examples) == evaluated
    assert {e["metadata"]["dataset_hash"] for e in examples} == {dataset_hash}
    assert {e["metadata"]["split"] for e in examples} <= {"dev", "test"}
    by_text = {e["inputs"]["text"]: e for e in examples}
    taxi = by_text.get("Order a taxi to the airport")
    assert taxi is None or taxi["outputs"] == {"agent": None}  # the reference answer
    assert [t["tag"] for t in stub.tags] == [f"hash-{dataset_hash}"]

    [session] = stub.sessions.values()
    assert session["reference_dataset_id"] == remote["id"]
    assert dataset_hash in session["name"]
    assert len(stub.runs) == evaluated
    assert {r["reference_example_id"] for r in stub.runs} == set(stub.examples)
    assert all(r["session_name"] == session["name"] for r in stub.runs)
    keys = {f["key"] for f in stub.feedback}
    assert {"correct", "abstained"} <= keys
    run_ids = {r["id"] for r in stub.runs}
    assert {f["run_id"] for f in stub.feedback} == run_ids  # every case has its scores
    for run in stub.runs:
        example = stub.examples[run["reference_example_id"]]
        [correct] = [f for f in stub.feedback if f["run_id"] == run["id"] and f["key"] == "correct"]
        expected = example["outputs"]["agent"]
        assert correct["score"] == float(run["outputs"]["predicted"] == expected)
    assert stub.api_keys == {"lsv2_pt_stub_key_0000"}

    # The same dataset again: no examples uploaded, a second experiment on the same examples.
    bulk_posts = stub.requests.count(("POST", "/examples/bulk"))
    code, out = _eval(catalog, dataset, tmp_path, "--langsmith")
    assert code == 0 and "already there" in out, out
    assert stub.requests.count(("POST", "/examples/bulk")) == bulk_posts
    assert len(stub.sessions) == 2 and len(stub.examples) == evaluated

    # A changed dataset is a new version: its examples go up beside the old ones, tagged.
    dataset.write_text(
        dataset.read_text()
        + "\n"
        + json.dumps({"text": "Remind me to call the bank at noon", "agent": "daily_planner"})
    )
    code, out = _eval(catalog, dataset, tmp_path, "--langsmith")
    assert code == 0 and "uploaded" in out, out
    assert len(stub.tags) == 2 and stub.tags[1]["tag"] != stub.tags[0]["tag"]
    assert len({e["metadata"]["dataset_hash"] for e in stub.examples.values()}) == 2


def test_langsmith_without_configuration_fails_in_one_line_before_the_eval(
    catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOVA_LANGSMITH_API_KEY", raising=False)
    get_settings.cache_clear()
    dataset = tmp_path / "routing.jsonl"
    dataset.write_text(json.dumps(CASES[0]))
    code, out = _eval(catalog, dataset, tmp_path, "--langsmith")
    assert code == 2
    assert "NOVA_LANGSMITH_API_KEY" in out and len(out.strip().splitlines()) == 1
    assert not (tmp_path / "report.json").exists()  # nothing ran


@pytest.mark.parametrize("trouble", ["slow", "failing"])
def test_a_slow_or_failing_endpoint_never_stalls_the_eval(
    trouble: str,
    stub: LangSmithStub,
    catalog: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if trouble == "slow":
        stub.delay_s = 30.0  # accepts, then says nothing for 30 s
    else:
        stub.fail_with = 500
    _configure(monkeypatch, stub, NOVA_LANGSMITH_TIMEOUT_S="0.5", NOVA_LANGSMITH_EVAL_WAIT_S="3")
    dataset = tmp_path / "routing.jsonl"
    dataset.write_text("\n".join(json.dumps(c) for c in CASES))
    started = time.monotonic()
    code, out = _eval(catalog, dataset, tmp_path, "--langsmith")
    elapsed = time.monotonic() - started
    assert code == 0, out  # the eval itself succeeded and wrote its report
    assert (tmp_path / "report.json").exists()
    [line] = [line for line in out.splitlines() if "LangSmith upload" in line]
    assert "failed" in line or "stopped waiting" in line
    assert elapsed < 60, f"the eval took {elapsed:.0f} s with a {trouble} LangSmith"
    assert stub.requests  # it did try


def test_the_wait_is_bounded_even_when_the_upload_is_not(
    stub: LangSmithStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.delay_s = 10.0
    _configure(monkeypatch, stub, NOVA_LANGSMITH_TIMEOUT_S="20", NOVA_LANGSMITH_EVAL_WAIT_S="0.5")
    upload = LangSmithUpload.start("routing", get_settings())
    upload.submit(
        dataset_hash="abc",
        code_version="test",
        examples=[ExampleResult("c1", "test", {"text": "x"}, {"agent": "a"}, {}, {"ok": True})],
        summary={},
    )
    started = time.monotonic()
    outcome = upload.finish()
    assert time.monotonic() - started < 2.0
    assert not outcome.ok and "stopped waiting" in outcome.message


@pytest.mark.parametrize(
    ("command", "dataset_name"),
    [
        (["pipelines"], "nova-eval-pipelines"),
        (["translation", "--every", "25", "--limit", "3"], "nova-eval-translation"),
        (["blame", "--family", "recall"], "nova-eval-blame"),
    ],
)
def test_other_evals_upload_their_cases_and_scores(
    command: list[str],
    dataset_name: str,
    stub: LangSmithStub,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _configure(monkeypatch, stub)
    result = runner.invoke(app, ["eval", *command, "--langsmith"])
    assert result.exit_code == 0, result.output
    assert "LangSmith: experiment" in result.output
    [remote] = stub.datasets.values()
    assert remote["name"] == dataset_name
    assert stub.examples and len(stub.runs) == len(stub.examples)
    assert {e["metadata"]["split"] for e in stub.examples.values()} <= {"dev", "test"}
    scored = {f["run_id"] for f in stub.feedback}
    assert scored and scored <= {r["id"] for r in stub.runs}
    [session] = stub.sessions.values()
    assert {f["session_id"] for f in stub.feedback} == {session["id"]}


def test_the_erp_eval_uploads_each_request_with_its_fast_path_scores(
    full_erp_file: Path, stub: LangSmithStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure(monkeypatch, stub)
    report = tmp_path / "erp_eval.json"
    result = runner.invoke(
        app,
        [
            "eval", "erp", "--url", f"sqlite:///{full_erp_file}", "--report", str(report),
            "--no-model", "--langsmith",
        ],
        env={"COLUMNS": "160"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "LangSmith: experiment nova-erp-" in result.output
    body = json.loads(report.read_text())
    cases = sum(r["cases"] for r in body["reports"]["fast path"].values())
    assert len(stub.examples) == len(stub.runs) == cases
    example = next(iter(stub.examples.values()))
    assert {"expect", "skill", "args"} <= set(example["outputs"])  # the reference answer
    keys = {f["key"] for f in stub.feedback}
    assert {"fast_path_correct", "fast_path_skill_ok"} <= keys
    correct = [f["score"] for f in stub.feedback if f["key"] == "fast_path_correct"]
    assert len(correct) == cases and 0 < sum(correct) < cases
