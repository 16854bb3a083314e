"""``nova trace`` and ``nova failures`` end to end; the HTML report checked in headless Chromium.

The report test needs Chromium (Debian: ``apt-get install -y chromium``; ``make install``
installs it when apt is available). It fails, rather than skips, when Chromium is
missing: CI must have it.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup
from langchain_core.messages import HumanMessage
from typer.testing import CliRunner

from evals.blame.chain import Env, build_chain
from memory.checkpoint import open_checkpointer
from nova.cli import app
from nova.ledger.failures import FailureLedger
from nova.state import NovaContext
from nova.tracing import TraceStore, flush_traces, tracing_callbacks

REQUEST = "What is the status of invoice INV-2025-00412?"
MISROUTE = Env(agent="translator", second="erp_invoices")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _graph(checkpointer: Any) -> Any:
    return build_chain(MISROUTE).compile(checkpointer=checkpointer, name="nova")


@pytest.fixture
def misrouted_run(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A traced, checkpointed run of an invoice question routed to the translator."""
    monkeypatch.setattr("nova.cli.trace.nova_graph", _graph)
    with contextlib.ExitStack() as stack:
        checkpointer = stack.enter_context(open_checkpointer())
        _graph(checkpointer).invoke(
            {"messages": [HumanMessage(REQUEST)]},
            {
                "configurable": {"thread_id": "misrouted"},
                "callbacks": tracing_callbacks(checkpointer=checkpointer),
            },
            context=NovaContext(project="parts-shop"),
        )
    assert flush_traces(10)
    [trace] = TraceStore().list(thread_id="misrouted")
    yield trace.run_id


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_trace_list_show_and_blame(misrouted_run: str) -> None:
    assert misrouted_run[:13] in _cli("trace", "list")
    shown = _cli("trace", "show", misrouted_run[:12])
    assert "route translator · translation · semantic" in shown
    assert "✗ route_fits_entities" in shown and "translation/agent" in shown
    blamed = _cli("trace", "blame", misrouted_run[:12])
    assert "blamed route#1 (agent router, counterfactual)" in blamed
    assert "consumed by translation/enter#1" in blamed
    assert "← blamed" in _cli("trace", "show", misrouted_run[:12])


def test_failures_list_show_and_retry(misrouted_run: str) -> None:
    [record] = [
        r for r in FailureLedger().list() if r.kind == "check_failed" and r.thread_id == "misrouted"
    ]
    assert record.run_id == misrouted_run and record.checkpoint_id
    listed = _cli("failures", "list", "--thread", "misrouted")
    assert record.id[:12] in listed and "check_failed" in listed
    shown = _cli("failures", "show", record.id[:10])
    assert "route_fits_entities" in shown and record.checkpoint_id in shown
    retried = _cli("failures", "retry", record.id[:10])
    assert f"retry of {record.id[:12]}" in retried
    after = FailureLedger().get(record.id)
    assert after is not None and after.retried_run_id
    # The retry resumed the same thread from the recorded checkpoint, as a new traced run.
    assert TraceStore().get(after.retried_run_id).thread_id == "misrouted"
    assert len([r for r in FailureLedger().list() if r.run_id == after.retried_run_id]) == 1


def test_unknown_ids_fail_with_a_clear_message() -> None:
    result = CliRunner().invoke(app, ["failures", "show", "nope"])
    assert result.exit_code == 2 and "nova failures list" in result.output
    result = CliRunner().invoke(app, ["trace", "show", "nope"])
    assert result.exit_code == 2 and "nova trace list" in result.output


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    pytest.fail(
        "Chromium is required for the HTML report test and was not found. Install it with "
        "`sudo apt-get update && sudo apt-get install -y chromium` (Debian), or `make install`."
    )


def test_html_report_renders_in_headless_chromium(misrouted_run: str, tmp_path: Path) -> None:
    _cli("trace", "blame", misrouted_run[:12])
    page = tmp_path / "run.html"
    _cli("trace", "show", misrouted_run[:12], "--html", str(page))
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    completed = subprocess.run(
        [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    dom = BeautifulSoup(completed.stdout, "html.parser")
    body = dom.body
    assert body is not None and body["data-rendered"] == "yes"  # the page's script ran in Chromium
    assert dom.select_one("#route")["data-agent"] == "translator"  # type: ignore[index]
    assert dom.select_one("#blame")["data-blamed"] == "route#1"  # type: ignore[index]
    rows = dom.select("tr.step")
    keys = [row["data-key"] for row in rows]
    assert keys.index("route") < keys.index("translation/agent") < keys.index("respond")
    [blamed] = dom.select("tr.blamed")
    assert blamed["data-key"] == "route"
    assert (
        blamed["data-background"] == "rgb(255, 221, 0)"
    )  # highlighted, as laid out by the browser
    assert int(blamed["data-bar-px"]) >= 1
    consumers = [row["data-key"] for row in dom.select("tr.consumer")]
    assert "translation/enter" in consumers and "respond" in consumers
    assert all(
        row["data-background"] != "rgb(255, 221, 0)"
        for row in rows
        if row not in dom.select("tr.blamed")
    )
    assert any("route_fits_entities" in li.get_text() for li in dom.select("#failures li"))
