"""``nova doctor`` against the OpenAI stub, in good and broken configurations."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nova.cli import app
from nova.openai_stub import StubServer, quirks_for
from nova.providers import PRESETS
from tests.stub_helpers import API_KEY, MODEL, point_nova_at

pytestmark = pytest.mark.allow_model_client
pytest_plugins = ("tests.erp_fixtures", "tests.model_http_fixtures")


@pytest.fixture(autouse=True)
def _no_durable_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No durable server set up (the shared venv has its runtime installed)."""
    monkeypatch.setenv("NOVA_SERVER_RUNTIME_DIR", str(tmp_path / "no-runtime"))
    monkeypatch.delenv("LANGSMITH_TRACING", raising=False)


def doctor(*args: str) -> tuple[int, dict[str, dict[str, Any]], str]:
    """Run ``nova doctor --json``; return the exit code, the rows by area, and the output."""
    result = CliRunner().invoke(app, ["doctor", "--json", *args])
    rows = {}
    for line in result.output.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            rows[row["area"]] = row
    return result.exit_code, rows, result.output


def _endpoint_row(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return next(row for area, row in rows.items() if area.startswith("model endpoint"))


def test_good_configuration_passes_every_check(endpoint: StubServer, erp_url: str) -> None:
    code, rows, output = doctor()

    assert code == 0, output
    assert rows["settings"]["status"] == "ok"
    assert _endpoint_row(rows)["status"] == "ok"
    assert "serves stub-model, backup-model" in _endpoint_row(rows)["detail"]
    assert rows[f"model {MODEL}: tool call"]["status"] == "ok"
    structured = rows[f"model {MODEL}: structured output"]
    assert structured["status"] == "ok" and structured["detail"].startswith("function_calling")
    assert rows["ERP database"]["status"] == "ok"
    assert rows["durable server"]["status"] == "skipped"
    assert rows["LangSmith"]["status"] == "skipped"
    listing, tool_probe, structured_probe = endpoint.requests
    assert listing.path == "/v1/models"
    assert tool_probe.tool_names == ["nova_probe"]
    assert tool_probe.params["tool_choice"]["function"]["name"] == "nova_probe"
    assert structured_probe.tool_names == ["ProbeAnswer"]


def test_the_table_has_a_fix_for_each_problem(endpoint: StubServer) -> None:
    result = CliRunner().invoke(app, ["doctor", "--offline"], env={"COLUMNS": "200"})

    assert result.exit_code == 1  # no ERP database yet
    assert "Nova doctor" in result.output
    assert "ERP database" in result.output and "Run `nova setup` to create it." in result.output
    assert "1 problem(s) found." in result.output


def test_offline_sends_nothing_to_the_model(endpoint: StubServer, erp_url: str) -> None:
    code, rows, _ = doctor("--offline")

    assert code == 0
    assert rows["models"]["status"] == "skipped" and MODEL in rows["models"]["detail"]
    assert endpoint.requests == []


def test_wrong_key_is_a_401_row_with_its_fix(
    endpoint: StubServer, erp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_nova_at(monkeypatch, endpoint, api_key="sk-wrong-key-000")
    code, rows, output = doctor()

    assert code == 1
    row = _endpoint_row(rows)
    assert row["status"] == "problem"
    assert "(401: Incorrect API key provided" in row["detail"]
    assert row["fix"] == "Set NOVA_MODEL_API_KEY to a valid key."
    assert endpoint.chat_requests() == []  # no probe repeats the same 401
    assert "Traceback" not in output


def test_wrong_model_name_is_a_404_row(
    endpoint: StubServer, erp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_nova_at(monkeypatch, endpoint, model="gpt-typo")
    code, rows, _ = doctor()

    assert code == 1
    row = rows["model gpt-typo: tool call"]
    assert row["status"] == "problem"
    assert "(404: The model `gpt-typo` does not exist" in row["detail"]
    assert "NOVA_MODEL_NAME" in row["fix"]


def test_server_down_is_an_unreachable_row(monkeypatch: pytest.MonkeyPatch, erp_url: str) -> None:
    server = StubServer().start()
    point_nova_at(monkeypatch, server)
    server.stop()
    code, rows, _ = doctor()

    assert code == 1
    row = _endpoint_row(rows)
    assert row["status"] == "problem"
    assert row["detail"].startswith(f"Cannot reach the model endpoint at {server.base_url}")
    assert "NOVA_MODEL_BASE_URL" in row["fix"]


def test_preset_mismatch_is_a_structured_output_row(
    monkeypatch: pytest.MonkeyPatch, erp_url: str
) -> None:
    quirks = quirks_for(PRESETS["llamacpp"])
    with StubServer(models=(MODEL,), api_key=API_KEY, quirks=quirks) as server:
        point_nova_at(monkeypatch, server)  # left on the OpenAI preset
        code, rows, _ = doctor()
        assert code == 1
        row = rows[f"model {MODEL}: structured output"]
        assert row["status"] == "problem"
        assert "Unsupported param: tool_choice" in row["detail"]
        assert "NOVA_MODEL_PROVIDER" in row["fix"]

        point_nova_at(monkeypatch, server, model_provider="llamacpp")
        code, rows, output = doctor()
        assert code == 0, output
        assert rows[f"model {MODEL}: structured output"]["detail"].startswith("function_calling")


def test_a_bad_setting_is_one_row_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVA_MODEL_TIMEOUT_S", "soon")
    code, rows, output = doctor()

    assert code == 1
    assert rows["settings"]["status"] == "problem"
    assert rows["settings"]["detail"].startswith("Invalid Nova setting: NOVA_MODEL_TIMEOUT_S")
    assert "Traceback" not in output


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener.getsockname()[1]
    listener.close()


def test_langsmith_that_never_answers_does_not_stall(
    monkeypatch: pytest.MonkeyPatch, silent_port: int, erp_url: str
) -> None:
    monkeypatch.setenv("NOVA_LANGSMITH_API_KEY", "lsv2-test")
    monkeypatch.setenv("NOVA_LANGSMITH_ENDPOINT", f"http://127.0.0.1:{silent_port}")
    started = time.monotonic()
    code, rows, _ = doctor("--offline")

    assert time.monotonic() - started < 10
    assert code == 1
    row = rows["LangSmith"]
    assert row["status"] == "problem" and "did not answer within 2 s" in row["detail"]
    assert "NOVA_LANGSMITH_API_KEY" in row["fix"]


def test_durable_server_checks_runtime_postgres_and_redis_when_configured(
    monkeypatch: pytest.MonkeyPatch, silent_port: int, erp_url: str
) -> None:
    monkeypatch.setenv("NOVA_SERVER_DATABASE_URL", "postgresql://nova@127.0.0.1:1/nova_server")
    monkeypatch.setenv("NOVA_SERVER_REDIS_URL", f"redis://127.0.0.1:{silent_port}/0")
    code, rows, _ = doctor("--offline")

    assert code == 1
    assert rows["durable server runtime"]["status"] == "problem"
    assert "nova serve --install-runtime" in rows["durable server runtime"]["fix"]
    assert rows["server Postgres"]["status"] == "problem"
    assert "NOVA_SERVER_DATABASE_URL" in rows["server Postgres"]["fix"]
    assert rows["server Redis"]["status"] == "problem"
    assert "NOVA_SERVER_REDIS_URL" in rows["server Redis"]["fix"]


def test_unmigrated_erp_database_says_to_run_setup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from sqlalchemy import create_engine, text

    path = tmp_path / "old-erp.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
    engine.dispose()
    monkeypatch.setenv("NOVA_ERP_DATABASE_URL", f"sqlite:///{path}")
    code, rows, _ = doctor("--offline")

    assert code == 1
    row = rows["ERP database"]
    assert row["detail"].startswith("schema at revision none, Nova needs")
    assert "nova setup" in row["fix"]
