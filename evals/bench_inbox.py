"""How fast ``nova inbox`` is with 10,000 ledger rows and 1,000 threads, against a naive peer.

``python -m evals.bench_inbox [--repeats 5] [--threads 1000] [--rows 10000]`` builds a data
directory with real stores (SQLite checkpointer, SQLite ledgers):

* 1,000 threads of a LangGraph graph with ``add_messages`` state, three turns each (about
  30 messages of ~400 characters per thread, so a full checkpoint is what a chat thread
  weighs), 5% of them paused at an ``interrupt`` with an ERP-like change, 2% of them
  pipeline runs (``nova_pipeline`` metadata) half of which stopped mid-run long ago;
* 10,000 ledger rows: 5,000 failures (a third retried, a third dismissed) and 5,000 routing
  decisions (10% clarifying questions, most answered by a later decision on their thread).

It then prints, as medians of interleaved repeats (wall seconds and CPU seconds):

* **inbox**: ``collect_inbox`` in a warm process (what ``nova inbox`` and the server route do);
* **naive peer**: the same answer the obvious way: every thread's latest checkpoint loaded
  with ``get_tuple`` (pending writes included), every failure and decision read and filtered
  in Python. The ratio inbox / peer says what the queries save;
* **cold ``nova inbox --local --json``**: a new process, and its floor, ``nova --help``.

Target: ``nova inbox`` ≤ 1 s.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph.message import add_messages
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
WORDS = "invoice payment order stock supplier customer overdue reminder shipment warehouse".split()


class ChatState(TypedDict, total=False):
    """A chat thread's state, plus a pipeline run record on pipeline threads."""

    messages: Annotated[list[AnyMessage], add_messages]
    run: dict[str, Any]
    pause: bool


def _text(rng: random.Random, n: int = 60) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def build_threads(url: str, threads: int, rng: random.Random) -> dict[str, int]:
    """Write ``threads`` threads (three turns each) into the SQLite checkpointer at ``url``."""
    from langchain_core.messages import AIMessage, HumanMessage
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import START, StateGraph
    from langgraph.types import interrupt

    def agent(state: ChatState) -> dict[str, Any]:
        reply = [AIMessage(_text(rng)) for _ in range(8)]
        if state.get("pause"):
            interrupt(
                {
                    "type": "erp_write_approval",
                    "change": {
                        "action": "record_payment",
                        "tool": "erp_record_payment",
                        "summary": "Record a payment of 250.00 EUR against INV-2025-00335",
                        "target_type": "invoice",
                        "target_ids": ["INV-2025-00335"],
                        "amounts": {"amount": "250.00"},
                    },
                }
            )
        return {"messages": reply}

    builder: StateGraph[Any] = StateGraph(ChatState)
    builder.add_node("agent", agent)
    builder.add_edge(START, "agent")
    path = url.removeprefix("sqlite:///")
    connection = sqlite3.connect(path, check_same_thread=False)
    saver = SqliteSaver(connection)
    saver.setup()
    graph = builder.compile(checkpointer=saver)
    counts = {"paused": 0, "pipelines": 0, "stalled": 0}
    long_ago = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    for index in range(threads):
        thread = f"thread-{index:05d}"
        pipeline = index % 50 == 7
        config: RunnableConfig = {"configurable": {"thread_id": thread}}
        if pipeline:
            config["metadata"] = {"nova_pipeline": "weekly_sales_report"}
            counts["pipelines"] += 1
        for turn in range(3):
            last = turn == 2
            pause = last and index % 20 == 3
            payload: dict[str, Any] = {
                "messages": [HumanMessage(_text(rng, 20))],
                "pause": pause,
            }
            if pipeline:
                stalled = index % 100 == 7
                payload["run"] = {
                    "pipeline": "weekly_sales_report",
                    "run_id": uuid.uuid4().hex[:12],
                    "status": "running" if stalled and last else "completed",
                    "started_at": long_ago,
                }
                counts["stalled"] += int(stalled and last)
            graph.invoke(payload, config)
            counts["paused"] += int(pause)
    connection.close()
    return counts


def build_ledgers(url: str, rows: int, threads: int, rng: random.Random) -> dict[str, int]:
    """Write ``rows`` ledger rows (half failures, half routing decisions) into ``url``."""
    from sqlalchemy import insert

    from nova.ledger.db import ledger_engine
    from nova.ledger.failures import FailureLedger, dismissals_table, failures_table
    from nova.ledger.routing import RoutingLedger, routing_table

    FailureLedger(url)
    RoutingLedger(url)
    engine = ledger_engine(url)
    start = datetime.now(UTC) - timedelta(days=30)
    failures, dismissals, decisions = [], [], []
    counts = {"open_failures": 0, "open_questions": 0}
    for index in range(rows // 2):
        failure_id = uuid.uuid4().hex
        state = index % 3
        failures.append(
            {
                "id": failure_id,
                "kind": rng.choice(["node_error", "timeout", "check_failed", "tool_error"]),
                "created_at": start + timedelta(seconds=index * 60),
                "error_type": "TimeoutError",
                "message": _text(rng, 25),
                "thread_id": f"thread-{rng.randrange(threads):05d}",
                "checkpoint_ns": "",
                "details": {},
                "retried_run_id": uuid.uuid4().hex if state == 1 else None,
                "retried_at": start if state == 1 else None,
            }
        )
        if state == 2:
            dismissals.append(
                {
                    "failure_id": failure_id,
                    "dismissed_at": start,
                    "dismissed_by": "owner",
                    "reason": "",
                }
            )
        counts["open_failures"] += int(state == 0)
    per_thread: dict[str, list[int]] = {}
    for index in range(rows - rows // 2):
        thread = f"thread-{rng.randrange(threads):05d}"
        per_thread.setdefault(thread, []).append(index)
        clarify = index % 10 == 0
        decisions.append(
            {
                "id": uuid.uuid4().hex,
                "created_at": start + timedelta(seconds=index * 60),
                "thread_id": thread,
                "project": "parts-shop",
                "request": _text(rng, 12),
                "agent": None if clarify else "erp_invoices",
                "subgraph": None if clarify else "erp",
                "method": "clarify" if clarify else "semantic",
                "confidence": 0.5,
                "margin": 0.1,
                "candidates": [{"agent": "erp_invoices", "score": 0.5}],
                "reason": "bench",
                "question": "Invoices or payments?" if clarify else None,
                "thresholds": {},
                "catalog_version": "c",
                "router_version": "r",
                "latency_ms": 3.0,
                "low_confidence": clarify,
            }
        )
    for indexes in per_thread.values():
        last = max(indexes)
        counts["open_questions"] += int(decisions[last]["method"] == "clarify")
    with engine.begin() as conn:
        conn.execute(insert(failures_table), failures)
        conn.execute(insert(dismissals_table), dismissals)
        conn.execute(insert(routing_table), decisions)
    return counts


def naive_inbox(checkpoint_url: str, ledger_url: str) -> int:
    """Answer the same question the obvious way; return how many items it found."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    from nova.ledger.failures import FailureLedger
    from nova.ledger.routing import RoutingLedger

    found = 0
    connection = sqlite3.connect(checkpoint_url.removeprefix("sqlite:///"))
    saver = SqliteSaver(connection)
    threads = [row[0] for row in connection.execute("SELECT DISTINCT thread_id FROM checkpoints")]
    for thread in threads:
        latest = saver.get_tuple({"configurable": {"thread_id": thread, "checkpoint_ns": ""}})
        if latest is None:
            continue
        writes = latest.pending_writes or []
        found += int(any(channel == "__interrupt__" for _, channel, _ in writes))
        run = latest.checkpoint["channel_values"].get("run") or {}
        found += int(run.get("status") == "running")
    connection.close()
    failures = FailureLedger(ledger_url).list(limit=1_000_000)
    found += sum(1 for f in failures if f.retried_run_id is None and f.dismissed_at is None)
    decisions = RoutingLedger(ledger_url).list(limit=1_000_000)
    last_by_thread: dict[str | None, Any] = {}
    for decision in sorted(decisions, key=lambda d: d.created_at):
        last_by_thread[decision.thread_id] = decision
    found += sum(1 for d in last_by_thread.values() if d.method == "clarify")
    return found


def _timed(function: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _cold(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    before = os.times()
    wall = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "nova.cli", *args], env=env, check=True, capture_output=True
    )
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return time.perf_counter() - wall, cpu


def main() -> None:
    """Build the stores, then time the inbox, the naive peer and the cold command."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=10_000)
    options = parser.parse_args()
    console = Console()
    rng = random.Random(18)
    data_dir = Path(tempfile.mkdtemp(prefix="nova-bench-inbox-"))
    env = {
        **os.environ,
        "NOVA_DATA_DIR": str(data_dir),
        "HF_HUB_OFFLINE": "1",
        "LANGSMITH_TRACING": "false",
        "NOVA_CLIENT_MODE": "local",
    }
    os.environ.update({k: v for k, v in env.items() if k.startswith("NOVA_")})
    from nova.inbox import InboxScope, collect_inbox
    from nova.settings import get_settings

    settings = get_settings()
    checkpoint_url, ledger_url = settings.resolved_checkpoint_url, settings.resolved_ledger_url
    with console.status("writing threads and ledger rows…"):
        made = build_threads(checkpoint_url, options.threads, rng)
        made |= build_ledgers(ledger_url, options.rows, options.threads, rng)
    size_mb = (data_dir / "checkpoints.sqlite").stat().st_size / 1e6
    console.print(
        f"{options.threads} threads ({size_mb:.0f} MB of checkpoints), {options.rows} ledger rows:"
        f" {made}"
    )

    scope = InboxScope(settings, limit=100)
    inbox_runs, naive_runs, cold_runs, floor_runs = [], [], [], []
    items = naive = 0
    for _ in range(options.repeats):
        wall, cpu, found = _timed(lambda: collect_inbox(scope))
        inbox_runs.append((wall, cpu))
        items = sum(report.total for report in found.sources)
        wall, cpu, naive = _timed(lambda: naive_inbox(checkpoint_url, ledger_url))
        naive_runs.append((wall, cpu))
        cold_runs.append(_cold(["inbox", "--local", "--json"], env))
        floor_runs.append(_cold(["--help"], env))

    def med(runs: list[tuple[float, float]], index: int) -> float:
        return statistics.median(run[index] for run in runs)

    table = Table(title=f"nova inbox, medians of {options.repeats} (target ≤ 1 s)")
    for column in ("", "wall s", "CPU s", "ratio to peer / floor (wall)"):
        table.add_column(column)
    table.add_row(
        "inbox (warm process)",
        f"{med(inbox_runs, 0):.3f}",
        f"{med(inbox_runs, 1):.3f}",
        f"{med(inbox_runs, 0) / med(naive_runs, 0):.3f}× the naive peer",
    )
    table.add_row(
        "naive peer (every checkpoint loaded)",
        f"{med(naive_runs, 0):.3f}",
        f"{med(naive_runs, 1):.3f}",
        "1.000",
    )
    table.add_row(
        "cold `nova inbox --local --json`",
        f"{med(cold_runs, 0):.3f}",
        f"{med(cold_runs, 1):.3f}",
        f"{med(cold_runs, 0) / med(floor_runs, 0):.2f}× `nova --help`",
    )
    table.add_row(
        "floor: cold `nova --help`",
        f"{med(floor_runs, 0):.3f}",
        f"{med(floor_runs, 1):.3f}",
        "1.00",
    )
    console.print(table)
    console.print(f"items waiting: inbox counted {items}, naive peer found {naive}")
    by_source = {r.name: (r.total, round(r.elapsed_ms, 1)) for r in found.sources}
    console.print(f"per source (total, ms): {by_source}")


if __name__ == "__main__":
    main()
