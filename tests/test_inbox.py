"""``nova inbox``: every source against real stores (SQLite checkpointer and ledgers).

Approvals come from real graphs paused by ``interrupt`` (the approval-gated ERP write of
``tests/server_graphs.py`` and a pipeline step), a stalled pipeline from a run whose process
died mid-step, failures and questions from the ledgers as the graph writes them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from memory.checkpoint import open_checkpointer
from nova.cli import app
from nova.inbox import InboxScope, collect_inbox, inbox_source, registered_sources
from nova.ledger.failures import FailureLedger
from nova.ledger.routing import RoutingLedger
from nova.settings import get_settings
from tests.pipeline_fixtures import Skills, approval, pipeline, runner_for
from tests.server_fixtures import seed_erp


class Crash(BaseException):
    """The process running a pipeline dies mid-step (nothing in the graph catches it)."""


def _crash(count: int, **kwargs: Any) -> Any:
    raise Crash("killed")


@pytest.fixture
def erp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from nova.erp.db import close_erp_databases

    path = tmp_path / "erp.sqlite"
    seed_erp(path)
    monkeypatch.setenv("NOVA_ERP_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    yield
    close_erp_databases()


def _pause_erp_write(thread: str) -> None:
    from nova.erp import models as m
    from nova.erp.db import get_erp_database
    from tests.server_graphs import build_durable_graph

    with get_erp_database().read_session() as session:
        sku = session.query(m.Product.sku).order_by(m.Product.sku).first()[0]
    with open_checkpointer() as saver:
        graph = build_durable_graph().compile(checkpointer=saver)
        values = graph.invoke(
            {"product": sku, "hold_s": 0, "steps": []}, {"configurable": {"thread_id": thread}}
        )
    assert "__interrupt__" in values


def _decision(decision_id: str, method: str, question: str | None = None) -> dict[str, Any]:
    return {
        "id": decision_id,
        "agent": None if method == "clarify" else "erp_invoices",
        "subgraph": None if method == "clarify" else "erp",
        "confidence": 0.41,
        "margin": 0.02,
        "candidates": [
            {"agent": "erp_invoices", "score": 0.41},
            {"agent": "erp_payments", "score": 0.39},
        ],
        "method": method,
        "reason": "too close to call",
        "question": question,
        "catalog_version": "c",
        "router_version": "r",
        "latency_ms": 3.0,
    }


def test_every_source_lists_what_waits_newest_first_with_its_command(erp: None) -> None:
    settings = get_settings()
    _pause_erp_write("erp-thread")

    skills = Skills()
    skills.behaviour["remind"] = approval(skills)
    skills.behaviour["slow"] = _crash
    paused = pipeline("reminders", [{"id": "send", "skill": "remind", "args": {"invoice": "I-1"}}])
    dying = pipeline("nightly", [{"id": "work", "skill": "slow", "args": {}}])
    with open_checkpointer() as saver:
        runner = runner_for(skills, paused, dying, checkpointer=saver)
        assert runner.run("reminders", thread_id="pipe-paused").waiting
        with pytest.raises(Crash):
            runner.run("nightly", thread_id="pipe-dead")

    failures = FailureLedger()
    open_one = failures.record(
        "node_error",
        error=TimeoutError("model took too long"),
        thread_id="t-open",
        agent="erp_invoices",
    )
    retried = failures.record("timeout", error=TimeoutError("x"), thread_id="t-retried")
    failures.mark_retried(retried.id, "run-2")
    dismissed = failures.record("check_failed", error_type="CheckFailed", message="numbers")
    failures.dismiss(dismissed.id, by="owner")

    routing = RoutingLedger()
    routing.append(
        _decision("q-open", "clarify", "Invoices or payments?"),
        request="what about the Baker money",
        thread_id="q1",
    )
    routing.append(
        _decision("q-answered", "clarify", "Invoices or payments?"),
        request="the Baker thing",
        thread_id="q2",
    )
    routing.append(_decision("q2-reply", "semantic"), request="invoices", thread_id="q2")

    later = datetime.now(UTC) + timedelta(hours=2)  # the dead run has been silent for two hours
    inbox = collect_inbox(InboxScope(settings, now=later))
    assert all(report.error is None for report in inbox.sources), inbox.sources
    by_id = {item.id.split(":")[0] + ":" + (item.thread_id or ""): item for item in inbox.items}

    write = by_id["approval:erp-thread"]
    change = write.detail["request"]["change"]  # type: ignore[index]
    assert change["tool"] == "erp_adjust_stock" and change["after"]  # the exact change
    assert write.command == "nova resume --thread erp-thread --approve"
    assert write.actions["reject"] == [
        "resume", "--thread", "erp-thread", "--reject", "--reason", "<reason>"
    ]  # fmt: skip

    step = by_id["approval:pipe-paused"]
    assert step.detail["request"] == {"action": "send", "target": "I-1"}
    assert step.command == "nova pipeline resume reminders --thread pipe-paused --approve"

    stalled = by_id["pipeline:pipe-dead"]
    assert "no progress" in stalled.title and "past its deadline" in stalled.title
    assert stalled.command == "nova pipeline resume nightly --thread pipe-dead"
    # Not stalled yet when judged now: it stopped a moment ago.
    assert not [i for i in collect_inbox(InboxScope(settings)).items if i.kind == "pipeline"]

    failure_items = [item for item in inbox.items if item.kind == "failure"]
    assert [item.detail["failure_id"] for item in failure_items] == [open_one.id]
    assert failure_items[0].command == f"nova failures retry {open_one.id[:12]}"
    assert failure_items[0].actions["dismiss"] == ["failures", "dismiss", open_one.id[:12]]

    [question] = [item for item in inbox.items if item.kind == "question"]
    assert question.thread_id == "q1" and question.choices == ["erp_invoices", "erp_payments"]
    assert question.command == (
        "nova ask --thread q1 --agent '<agent>' -- 'what about the Baker money'"
    )

    stamps = [item.created_at for item in inbox.items]
    assert stamps == sorted(stamps, reverse=True)
    assert {r.name: r.total for r in inbox.sources} == {
        "approvals": 2,
        "failures": 1,
        "questions": 1,
        "pipelines": 1,
        "proposals": 0,  # nova/improve ships beside nova: its source is registered
    }

    # Scoped to a caller's threads, only theirs remain.
    mine = collect_inbox(InboxScope(settings, thread_ids=frozenset({"q1", "erp-thread"})))
    assert {item.thread_id for item in mine.items} == {"q1", "erp-thread"}


def test_cli_lists_dismisses_and_explains_bad_ids(erp: None) -> None:
    failures = FailureLedger()
    record = failures.record("tool_error", error=ValueError("bad tool json"), thread_id="t9")
    _pause_erp_write("cli-thread")
    runner = CliRunner()
    result = runner.invoke(app, ["inbox", "--json", "--local"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    kinds = [item["kind"] for item in listed["items"]]
    assert kinds == ["approval", "failure"]  # newest first: the write paused after the failure
    assert listed["items"][1]["command"] == f"nova failures retry {record.id[:12]}"

    table = runner.invoke(app, ["inbox", "--local"])
    assert "nova resume --thread cli-thread --approve" in table.output
    assert "erp_adjust_stock" in table.output  # the exact change is shown

    done = runner.invoke(app, ["failures", "dismiss", record.id[:8], "--reason", "known"])
    assert done.exit_code == 0 and "Dismissed failure" in done.output
    again = json.loads(runner.invoke(app, ["inbox", "--json", "--local"]).output)
    assert [item["kind"] for item in again["items"]] == ["approval"]
    shown = runner.invoke(app, ["failures", "show", record.id[:8]])
    assert "dismissed" in shown.output  # still in the ledger, marked

    missing = runner.invoke(app, ["failures", "dismiss", "nope"])
    assert missing.exit_code == 2 and "nova failures list" in missing.output
    assert "Traceback" not in missing.output
    bad_kind = runner.invoke(app, ["inbox", "--kind", "nonsense"])
    assert bad_kind.exit_code == 2 and "approval, failure" in bad_kind.output


def test_a_source_is_one_function_and_its_failure_hides_nothing_else() -> None:
    from nova.inbox.registry import _SOURCES

    @inbox_source("broken-test-source", "a source whose store is down")
    def broken(scope: InboxScope) -> Any:
        raise ConnectionError("store unreachable\nsecond line")

    try:
        FailureLedger().record("node_error", error=RuntimeError("boom"), thread_id="t1")
        inbox = collect_inbox(InboxScope(get_settings()))
        report = {r.name: r for r in inbox.sources}
        assert report["broken-test-source"].error == "ConnectionError: store unreachable"
        assert report["failures"].total == 1 and len(inbox.items) == 1
        with pytest.raises(ValueError, match="must be unique"):
            inbox_source("failures", "again")(broken)
    finally:
        _SOURCES.pop("broken-test-source", None)
    assert "broken-test-source" not in {s.name for s in registered_sources()}


def test_approvals_and_stalled_runs_from_a_postgres_checkpointer(
    erp: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.server_fixtures import postgres_database

    with postgres_database("nova_inbox_test") as url:
        monkeypatch.setenv("NOVA_CHECKPOINT_URL", url)
        get_settings.cache_clear()
        _pause_erp_write("pg-thread")
        skills = Skills()
        skills.behaviour["slow"] = _crash
        dying = pipeline("nightly", [{"id": "work", "skill": "slow", "args": {}}])
        with open_checkpointer() as saver:
            with pytest.raises(Crash):
                runner_for(skills, dying, checkpointer=saver).run("nightly", thread_id="pg-dead")
        later = datetime.now(UTC) + timedelta(hours=2)
        inbox = collect_inbox(InboxScope(get_settings(), now=later))
        assert all(report.error is None for report in inbox.sources), inbox.sources
        kinds = {(item.kind, item.thread_id) for item in inbox.items}
        assert kinds == {("approval", "pg-thread"), ("pipeline", "pg-dead")}
        [write] = [item for item in inbox.items if item.kind == "approval"]
        assert write.detail["request"]["change"]["tool"] == "erp_adjust_stock"  # type: ignore[index]


def test_improvement_proposals_join_the_inbox_with_their_commands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The proposals source lists ``nova.improve.store.pending_candidates`` (issue #15).

    The records stand in for the store's (``CandidateRecord``: id, created_at, kind, agent,
    reason, status, gate, change, evidence): this checks the adapter's commands and that
    scoped callers do not see proposals.
    """
    import types

    from nova.improve import store
    from nova.inbox.sources import improvement_proposals

    now = datetime.now(UTC)
    records = [
        types.SimpleNamespace(
            id="a" * 32,
            created_at=now,
            kind="routing",
            agent=None,
            status="passed",
            reason="3 requests for invoices were routed to payments",
            gate={"passed": True},
            change={"examples": {"erp_invoices": ["open bills of Baker"]}},
            evidence=["fb1"],
        ),
        types.SimpleNamespace(
            id="b" * 32,
            created_at=now - timedelta(hours=1),
            kind="report",
            agent="calculator",
            status="reported",
            reason="no candidate fixes 2 wrong VAT answers",
            gate=None,
            change={},
            evidence=["fb2", "fb3"],
        ),
    ]
    monkeypatch.setattr(store, "pending_candidates", lambda settings=None: records)

    items, total = improvement_proposals(InboxScope(get_settings()))
    assert total == 2
    passed, report = items
    assert passed.command == f"nova improve accept {'a' * 12}"
    assert passed.actions["reject"] == ["improve", "reject", "a" * 12]
    assert passed.detail["gate"] == {"passed": True}
    assert list(report.actions) == ["reject"]  # a gap report can only be set aside
    assert "calculator" in report.title
    scoped = InboxScope(get_settings(), thread_ids=frozenset({"t1"}))
    assert improvement_proposals(scoped) == ([], 0)


def test_one_run_failing_the_same_way_many_times_is_one_item() -> None:
    failures = FailureLedger()
    same = [
        failures.record(
            "step_failed",
            error_type="ModelUnavailable",
            message=f"step polished (element {n}): needs a language model",
            run_id="run-44",
            thread_id="t-pipe",
            node="polished",
        )
        for n in range(3)
    ]
    other = failures.record("node_error", error=RuntimeError("boom"), run_id="run-44", node="x")
    runner = CliRunner()

    listed = json.loads(runner.invoke(app, ["inbox", "--json", "--local"]).output)

    items = [item for item in listed["items"] if item["kind"] == "failure"]
    assert len(items) == 2
    grouped = next(item for item in items if item["detail"]["count"] == 3)
    assert grouped["title"].startswith("step_failed ×3: step polished (element 2)")
    assert sorted(grouped["detail"]["failure_ids"]) == sorted(r.id for r in same)
    dismiss = grouped["actions"]["dismiss"]
    assert dismiss[:2] == ["failures", "dismiss"] and len(dismiss) == 5

    typo = runner.invoke(app, ["failures", "dismiss", *dismiss[2:], "nope"])
    assert typo.exit_code == 2  # one bad id: none of them is dismissed
    assert all(failures.get(r.id).dismissed_at is None for r in same)  # type: ignore[union-attr]
    done = runner.invoke(app, dismiss)
    assert done.exit_code == 0 and done.output.count("Dismissed failure") == 3
    left = json.loads(runner.invoke(app, ["inbox", "--json", "--local"]).output)
    assert [item["detail"]["failure_id"] for item in left["items"]] == [other.id]


def test_latest_values_read_as_plain_data_match_the_savers(tmp_path: Path) -> None:
    """A cold ``nova inbox`` reads SQLite checkpoints without LangGraph's saver: same values.

    The threads hold messages (pydantic models in LangGraph's msgpack) and pipeline run
    records; a checkpoint in another serializer's format is left to the saver.
    """
    import random
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    from evals.bench_inbox import build_threads
    from nova.inbox import checkpoints

    url = f"sqlite:///{tmp_path / 'checkpoints.sqlite'}"
    build_threads(url, 60, random.Random(7))
    threads = [t.thread_id for t in checkpoints.pipeline_threads(url)]
    assert threads, "the builder writes pipeline threads"
    plain = checkpoints._plain_values(checkpoints._engine(url), threads)
    assert set(plain) == set(threads)
    with sqlite3.connect(tmp_path / "checkpoints.sqlite", check_same_thread=False) as conn:
        saver = SqliteSaver(conn)
        for thread in threads:
            config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
            found = saver.get_tuple(config)  # type: ignore[arg-type]
            assert found is not None
            full = found.checkpoint["channel_values"]
            assert plain[thread]["run"] == full["run"]
            assert [m["content"] for m in plain[thread]["messages"]] == [
                m.content for m in full["messages"]
            ]
        conn.execute("UPDATE checkpoints SET type = 'json' WHERE thread_id = ?", (threads[0],))
    assert threads[0] not in checkpoints._plain_values(checkpoints._engine(url), threads)
