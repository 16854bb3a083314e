"""Benchmark the ERP fast path: latency of answered requests on SQLite and Postgres.

Seeds the standard sample (the one ``evals/datasets/erp.jsonl`` describes) into a scratch
SQLite file and a fresh Postgres database, then times every request of the dataset that
the fast path answers:

* ``node``: the fast-path node called directly (parse, resolve, query, render);
* ``graph``: the whole supervisor graph (``graphs.nova.build_nova_graph``: intake, recall,
  route, dispatch, erp subgraph with the fast path, checks, respond) with the agent named in
  the run context, so routing is explicit; ``--routed`` lets the semantic router choose.

Run: ``python -m evals.bench_erp [--repeat 3] [--no-postgres] [--routed]``. It prints
figures; it is not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from langchain_core.messages import HumanMessage

from evals.erp_eval import ErpCase, load_dataset, route_for

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def percentile(values: list[float], share: float) -> float:
    """Return the ``share`` percentile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(label: str, values: list[float]) -> str:
    """One line of figures: count, p50, p95, max (milliseconds)."""
    return (
        f"{label:<34} n={len(values):<4} p50={statistics.median(values):7.2f} ms  "
        f"p95={percentile(values, 0.95):7.2f} ms  max={max(values):7.2f} ms"
    )


@contextmanager
def postgres_database() -> Iterator[str]:
    """Create a scratch Postgres database and drop it afterwards."""
    import psycopg

    name = f"nova_erp_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # generated name, not input
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        from nova.erp.db import close_erp_databases

        close_erp_databases()
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def time_node(url: str, cases: list[ErpCase], repeat: int) -> list[float]:
    """Call the fast-path node directly on every case, ``repeat`` times; return milliseconds."""
    from langgraph.runtime import Runtime

    from nodes.erp_fast_path import make_erp_fast_path_node
    from nova.erp.db import get_erp_database
    from nova.state import NovaContext, NovaState

    node = make_erp_fast_path_node(database=get_erp_database(url))
    runtime = Runtime(context=NovaContext())
    states = [
        NovaState(messages=[HumanMessage(c.text)], request=c.text, route=route_for(c.agent))
        for c in cases
    ]
    for state in states[:5]:
        node(state, runtime)  # warm-up: name indexes, dateparser, connection pool
    timings = []
    for _ in range(repeat):
        for state in states:
            started = time.perf_counter()
            result = node(state, runtime)
            timings.append((time.perf_counter() - started) * 1000)
            assert result.get("agent_run"), f"fast path did not answer {state['request']!r}"
    return timings


def time_graph(
    url: str, cases: list[ErpCase], repeat: int, routed: bool
) -> tuple[list[float], int]:
    """Run every case through the supervisor graph; return milliseconds and fast-path answers."""
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.memory import InMemorySaver

    from graphs.nova import build_nova_graph
    from nova.erp.db import close_erp_databases
    from nova.settings import get_settings
    from nova.state import NovaContext, NovaInput
    from nova.testing import ScriptedModels

    os.environ["NOVA_ERP_DATABASE_URL"] = url
    get_settings.cache_clear()
    close_erp_databases()
    graph = build_nova_graph(model_factory=ScriptedModels({})).compile(checkpointer=InMemorySaver())

    def invoke(case: ErpCase) -> dict[str, Any]:
        context = NovaContext() if routed else NovaContext(agent=case.agent)
        config: RunnableConfig = {"configurable": {"thread_id": uuid.uuid4().hex}}
        return graph.invoke(NovaInput(messages=[HumanMessage(case.text)]), config, context=context)

    for case in cases[:5]:
        invoke(case)  # warm-up: router fit or cache load, encoder, memory store
    timings, fast = [], 0
    for _ in range(repeat):
        for case in cases:
            started = time.perf_counter()
            values = invoke(case)
            timings.append((time.perf_counter() - started) * 1000)
            run = values.get("agent_run") or {}
            fast += run.get("outcome") == "fast_path"
    return timings, fast


def measure(
    label: str,
    url: str,
    cases: list[ErpCase],
    options: argparse.Namespace,
    out: Callable[[str], None],
) -> None:
    """Seed ``url`` with the standard sample and print the figures for it."""
    from nova.erp.db import ErpDatabase
    from nova.erp.seed import SeedConfig, seed_database

    started = time.perf_counter()
    database = ErpDatabase(url)
    seed_database(database, SeedConfig(), reset=True)
    database.dispose()
    out(f"{label}: seeded the standard sample in {time.perf_counter() - started:.1f} s")
    out(summary(f"{label} fast-path node + skill", time_node(url, cases, options.repeat)))
    if options.graph:
        timings, fast = time_graph(url, cases, options.repeat, options.routed)
        mode = "routed" if options.routed else "explicit agent"
        out(
            summary(f"{label} whole graph ({mode})", timings)
            + f"  fast-path answers {fast}/{len(timings)}"
        )


def main(argv: list[str] | None = None) -> None:
    """Seed, time and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=3, help="Passes over the answered requests.")
    parser.add_argument("--no-postgres", dest="postgres", action="store_false", help="SQLite only.")
    parser.add_argument(
        "--no-graph", dest="graph", action="store_false", help="Skip the whole-graph runs."
    )
    parser.add_argument("--routed", action="store_true", help="Let the router choose the agent.")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["NOVA_DATA_DIR"] = scratch  # never the user's data
        os.environ.setdefault("LANGSMITH_TRACING", "false")
        cases = [case for case in load_dataset() if case.expect == "answer"]
        print(
            f"{len(cases)} answered requests of the ERP dataset, {options.repeat} pass(es) each; "
            f"{os.cpu_count()} CPU(s), shared machine: figures are noisy"
        )
        measure("SQLite", f"sqlite:///{scratch}/erp-bench.sqlite", cases, options, print)
        if options.postgres:
            with postgres_database() as url:
                measure("Postgres", url, cases, options, print)


if __name__ == "__main__":
    main()
