"""``nova feedback``: the durable record of the user's verdicts, and blame that uses it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from typer.testing import CliRunner

from evals.blame.chain import Env, build_chain
from memory.checkpoint import open_checkpointer
from nova.cli import app
from nova.ledger.feedback import FeedbackLedger, give_feedback
from nova.state import NovaContext
from nova.tracing import TraceStore, flush_traces, tracing_callbacks

REQUEST = "What is the status of invoice INV-2025-00412?"
# erp_payments can look invoices up, so no check fires: only the user knows it is wrong.
QUIET_MISROUTE = Env(agent="erp_payments", second="erp_invoices")


def _graph(checkpointer: Any) -> Any:
    return build_chain(QUIET_MISROUTE).compile(checkpointer=checkpointer, name="nova")


@pytest.fixture
def quiet_run(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A traced, checkpointed run that passes its checks but went to the wrong agent."""
    monkeypatch.setattr("nova.cli.trace.nova_graph", _graph)
    with contextlib.ExitStack() as stack:
        checkpointer = stack.enter_context(open_checkpointer())
        _graph(checkpointer).invoke(
            {"messages": [HumanMessage(REQUEST)]},
            {
                "configurable": {"thread_id": "quiet"},
                "callbacks": tracing_callbacks(checkpointer=checkpointer),
            },
            context=NovaContext(project="parts-shop"),
        )
    assert flush_traces(10)
    [trace] = TraceStore().list(thread_id="quiet")
    yield trace.run_id


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_blame_without_feedback_blames_nothing_and_with_it_names_the_route(quiet_run: str) -> None:
    assert "passes its checks; nothing to blame" in _cli("trace", "blame", quiet_run[:12])
    recorded = _cli(
        "feedback", quiet_run[:12], "bad", "--agent", "erp_invoices", "--note", "wrong desk"
    )
    assert "Recorded bad feedback" in recorded
    [record] = FeedbackLedger().list(run_id=quiet_run)
    assert record.routed_agent == "erp_payments" and record.agent == "erp_invoices"
    assert record.corrects_route and record.project == "parts-shop" and record.thread_id == "quiet"
    assert record.route is not None and record.route["agent"] == "erp_payments"
    assert record.agent_versions and record.request == REQUEST
    blamed = _cli("trace", "blame", quiet_run[:12])
    assert "blamed route#1 (agent router, counterfactual) in turn 1" in blamed
    assert "blamed route#1" in _cli("trace", "blame", "quiet")  # the thread's newest run
    data = json.loads(_cli("trace", "blame", quiet_run[:12], "--json"))
    assert data["trials"][0]["source"] == "feedback" and data["blamed"]["key"] == "route#1"


def test_feedback_by_thread_and_the_list_filters(quiet_run: str) -> None:
    _cli("feedback", "quiet", "good")  # a thread id: its newest run
    _cli("feedback", quiet_run, "bad", "--answer", "INV-2025-00412 is open")
    listed = _cli("feedback", "list")
    assert listed.count(quiet_run[:13]) == 2
    bad = json.loads(_cli("feedback", "list", "--bad", "--json"))
    assert [r["rating"] for r in bad] == ["bad"] and bad[0]["answer"] == "INV-2025-00412 is open"
    by_agent = json.loads(_cli("feedback", "list", "--agent", "erp_payments", "--json"))
    assert len(by_agent) == 2  # both are about the agent the run was routed to
    assert json.loads(_cli("feedback", "list", "--agent", "translator", "--json")) == []


def test_bad_input_is_refused_with_a_reason(quiet_run: str) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["feedback", quiet_run, "meh"])
    assert result.exit_code == 2 and "Give a verdict" in result.output
    result = runner.invoke(app, ["feedback", quiet_run, "bad", "--agent", "nobody"])
    assert result.exit_code == 2 and "No agent named 'nobody'" in result.output
    with pytest.raises(LookupError, match="No traced run or thread"):
        give_feedback("no-such-run", "bad")
    with pytest.raises(ValueError, match="needs the run or the thread"):
        FeedbackLedger().record("bad")


def test_bad_feedback_nothing_can_correct_is_not_attributed(quiet_run: str) -> None:
    _cli("feedback", quiet_run, "bad", "--note", "not what I meant")
    said = _cli("trace", "blame", quiet_run[:12])
    assert "Not attributed." in said and "the user rejected this answer" in said
    assert "blamed" not in said
    assert "blame not attributed" in _cli("trace", "show", quiet_run[:12])
