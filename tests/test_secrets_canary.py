"""Secrets never leak: canaries in every secret setting, every graph run, every record grepped.

Each secret setting of ``nova.settings`` (and the tracing settings' URLs) holds a unique
canary: the model key (the scripted endpoint accepts it), the passwords inside the
checkpoint, ledger, ERP, trace, server-database and Redis URLs (the local Postgres trusts
loopback, so the runs use those URLs for real), the LangSmith key (its endpoint is a local
capture server), the client key, the server's API keys and JWT secret. Then the CLI runs a
turn through each graph (supervisor with the ERP fast path, chat, translation, a pipeline),
failing turns (an endpoint that echoes the whole key in its 401, a 500), ``nova doctor``
and the ledgers' own commands. The test then greps for every canary: everything the CLI
printed, every log record (caplog at DEBUG), every file in the data directory, every row of
every table in the Postgres databases (ledgers, traces, checkpoints), and every payload
posted to LangSmith and to the OpenTelemetry collector.
"""

from __future__ import annotations

import gzip
import logging
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import psycopg
import pytest
from typer.testing import CliRunner

from nova.concurrency import reset_default_limiter
from nova.erp.db import ErpDatabase, close_erp_databases
from nova.erp.seed import seed_database
from nova.openai_stub import StubServer, error, reply, server_error
from nova.settings import get_settings
from nova.tracing.config import get_tracing_settings
from tests.erp_helpers import SMALL

pytestmark = [pytest.mark.allow_model_client, pytest.mark.integration, pytest.mark.slow]

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def canary(name: str) -> str:
    """A secret nothing else could contain, shaped like no known key (no pattern rescues it)."""
    return f"cnry{name}{uuid.uuid4().hex[:12]}"


class Capture(BaseHTTPRequestHandler):
    """Records every body posted to it (LangSmith's /runs/batch, OTLP's /v1/traces)."""

    bodies: ClassVar[list[tuple[str, bytes]]] = []

    def _answer(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def do_POST(self) -> None:
        payload = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.headers.get("content-encoding") == "gzip":
            payload = gzip.decompress(payload)
        Capture.bodies.append((self.path, payload))
        self._answer()

    def do_GET(self) -> None:
        self._answer()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def capture() -> Iterator[str]:
    Capture.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def databases() -> Iterator[dict[str, str]]:
    """Fresh Postgres databases: ``nova`` (ledgers, traces, checkpoints), ``erp``, ``server``."""
    names = {role: f"canary_{role}_{uuid.uuid4().hex[:8]}" for role in ("nova", "erp", "server")}
    with psycopg.connect(ADMIN, autocommit=True, connect_timeout=5) as conn:
        for name in names.values():
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield names
    finally:
        close_erp_databases()
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            for name in names.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def table_rows(database: str) -> Iterator[tuple[str, str]]:
    """Yield (table, text) for every row of every table; bytes (checkpoint blobs) as UTF-8."""
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{database}") as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "select tablename from pg_tables where schemaname = 'public'"
            ).fetchall()
        ]
        for table in tables:
            for row in conn.execute(f'select * from "{table}"').fetchall():
                parts = [
                    bytes(v).decode("utf-8", "replace")
                    if isinstance(v, bytes | memoryview)
                    else str(v)
                    for v in row
                ]
                yield table, " ".join(parts)


def test_no_canary_secret_reaches_any_record_output_or_payload(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capture: str,
    databases: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    secrets = {
        name: canary(name)
        for name in (
            "modelkey", "langsmithkey", "clientkey", "alicekey", "jwtsecret",
            "checkpointpw", "ledgerpw", "erppw", "tracespw", "serverdbpw", "redispw",
        )
    }  # fmt: skip
    nova_db, erp_db, server_db = databases["nova"], databases["erp"], databases["server"]

    def pg(password: str, database: str) -> str:
        return f"postgresql://postgres:{password}@127.0.0.1:5432/{database}"

    erp_url = pg(secrets["erppw"], erp_db)
    database = ErpDatabase(erp_url)
    seed_database(database, SMALL)
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{erp_db}") as conn:
        [invoice] = conn.execute("select number from invoices order by number limit 1").fetchone()
    database.dispose()

    stub = StubServer(api_key=secrets["modelkey"]).start()
    env = {
        "NOVA_MODEL_BASE_URL": stub.base_url,
        "NOVA_MODEL_API_KEY": secrets["modelkey"],
        "NOVA_MODEL_NAME": "stub-model",
        "NOVA_MODEL_MAX_RETRIES": "0",
        "NOVA_MODEL_TIMEOUT_S": "10",
        "NOVA_CHECKPOINT_URL": pg(secrets["checkpointpw"], nova_db),
        "NOVA_LEDGER_URL": pg(secrets["ledgerpw"], nova_db),
        "NOVA_TRACES_URL": pg(secrets["tracespw"], nova_db),
        "NOVA_ERP_DATABASE_URL": erp_url,
        "NOVA_LANGSMITH_API_KEY": secrets["langsmithkey"],
        "NOVA_LANGSMITH_ENDPOINT": capture,
        "NOVA_OTEL_ENDPOINT": f"{capture}/v1/traces",
        "NOVA_CLIENT_API_KEY": secrets["clientkey"],
        "NOVA_CLIENT_MODE": "local",
        "NOVA_SERVER_API_KEYS": f"alice:{secrets['alicekey']}",
        "NOVA_SERVER_JWT_SECRET": secrets["jwtsecret"],
        "NOVA_SERVER_DATABASE_URL": pg(secrets["serverdbpw"], server_db),
        "NOVA_SERVER_REDIS_URL": f"redis://:{secrets['redispw']}@127.0.0.1:6379/0",
        "NOVA_LOG_LEVEL": "DEBUG",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    get_tracing_settings.cache_clear()
    reset_default_limiter()
    caplog.set_level(logging.DEBUG)

    from nova.cli import app

    runner = CliRunner()
    outputs: list[str] = []

    def nova(*args: str) -> str:
        result = runner.invoke(app, list(args), env={"COLUMNS": "300"})
        text = result.output + (repr(result.exception) if result.exception else "")
        if result.exc_info and result.exc_info[0] not in (SystemExit,):
            import traceback

            text += "".join(traceback.format_exception(*result.exc_info))
        outputs.append(text)
        return text

    try:
        # Every graph: the supervisor (ERP fast path), chat, translation, a pipeline.
        assert invoice in nova("ask", f"Show me invoice {invoice}", "--project", "parts-shop")
        stub.script(reply("Hello from the endpoint."))
        assert "Hello from the endpoint." in nova("ask", "--agent", "general_chat", "Hello")
        stub.script(reply("Bonjour."))
        nova("ask", "--agent", "translator", "Translate into French: Good morning")
        report = ("ask", "--agent", "weekly_sales_report", "the weekly sales report")
        nova(*report, "--project", "parts-shop")
        # Failing runs: an endpoint that echoes the key it was sent, and a server error.
        echoed = f"Invalid API key {secrets['modelkey']} for {stub.base_url}"
        stub.script(error(401, echoed, code="invalid_api_key"))
        failed = nova("ask", "--agent", "general_chat", "Hello again")
        assert "error:" in failed, failed
        stub.script(server_error())
        assert "error:" in nova("ask", "--agent", "general_chat", "And again")
        # What a user reads about the installation and the failures.
        nova("doctor")
        nova("doctor", "--json")
        nova("failures", "list")
        nova("trace", "list")
        nova("stats")
        from nova.tracing import flush_traces

        assert flush_traces(10)
    finally:
        stub.stop()
        reset_default_limiter()

    # The test can fail: each channel was really used.
    assert any(path.endswith("/runs/batch") for path, _ in Capture.bodies), "no LangSmith upload"
    assert any(path == "/v1/traces" for path, _ in Capture.bodies), "no OTLP export"
    rows = list(table_rows(nova_db))
    used = {table for table, _ in rows}
    assert {
        "nova_failures", "nova_traces", "nova_trace_steps", "nova_routing_decisions",
        "nova_model_usage", "checkpoints", "checkpoint_blobs", "checkpoint_writes",
    } <= used, used  # fmt: skip
    assert any(table == "nova_failures" and "Invalid API key" in text for table, text in rows)

    places: dict[str, str] = {f"cli output {i}": text for i, text in enumerate(outputs)}
    places["logs"] = (
        "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records) + caplog.text
    )
    for i, (path, body) in enumerate(Capture.bodies):
        places[f"posted {path} #{i}"] = body.decode("utf-8", "replace")
    for table, text in rows:
        places[f"{nova_db}.{table}"] = places.get(f"{nova_db}.{table}", "") + text
    for file in (tmp_path).rglob("*"):
        if file.is_file():
            places[f"file {file.relative_to(tmp_path)}"] = file.read_bytes().decode(
                "utf-8", "replace"
            )
    leaks = sorted(
        f"{name} ({secret}) in {place}"
        for place, text in places.items()
        for name, secret in secrets.items()
        if secret in text
    )
    assert not leaks, "\n".join(leaks)
