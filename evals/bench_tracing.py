"""Benchmark: what local tracing costs a run, with a zero-latency scripted model.

Runs the same request many times on the supervisor-shaped attribution graph
(``evals/blame/chain.py``: intake, recall, route, dispatch, erp subgraph with agent, tool
and check, respond; two model calls and one tool call per run), untraced and traced
(local trace store + failure recorder, exactly what ``nova.tracing.tracing_callbacks``
gives), in alternating rounds so machine noise hits both alike. Two figures:

* latency: the wall time of each ``invoke`` (what a user waits for). The trace is
  written by a background worker after the run returns; the benchmark waits for it
  between runs, outside the timed region, so each run starts on an idle machine.
* throughput: back-to-back runs, with the time to write every trace included
  (``flush_traces``): the whole cost of tracing, deferred work and all.

Run: ``python -m evals.bench_tracing [--runs 200] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

from langchain_core.messages import HumanMessage

from evals.blame.chain import Env, compile_chain
from evals.blame_eval import isolated_data_dir
from nova.state import NovaContext
from nova.tracing import TraceStore, flush_traces, tracing_callbacks

REQUEST = "What is the status of invoice INV-2025-00412?"


def _config(traced: bool, callbacks: list[object] | None) -> dict[str, object]:
    config: dict[str, object] = {"configurable": {"thread_id": uuid.uuid4().hex}}
    if traced:
        config["callbacks"] = callbacks
    return config


def _latency(graph: object, runs: int, traced: bool) -> float:
    callbacks = tracing_callbacks(exporters=False) if traced else None
    context = NovaContext(project="parts-shop")
    times = []
    for _ in range(runs):
        config = _config(traced, callbacks)
        started = time.perf_counter()
        graph.invoke({"messages": [HumanMessage(REQUEST)]}, config, context=context)  # type: ignore[attr-defined]
        times.append(time.perf_counter() - started)
        if traced and not flush_traces(60.0):
            raise RuntimeError("traces were not all written within 60 s")
    return statistics.median(times)


def _throughput(graph: object, runs: int, traced: bool) -> float:
    callbacks = tracing_callbacks(exporters=False) if traced else None
    context = NovaContext(project="parts-shop")
    started = time.perf_counter()
    for _ in range(runs):
        graph.invoke(
            {"messages": [HumanMessage(REQUEST)]}, _config(traced, callbacks), context=context
        )  # type: ignore[attr-defined]
    if traced and not flush_traces(60.0):
        raise RuntimeError("traces were not all written within 60 s")
    return (time.perf_counter() - started) / runs


def main() -> None:
    """Run the benchmark and print traced/untraced per-run times and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=200, help="runs per round and mode")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    args = parser.parse_args()
    with isolated_data_dir():
        graph = compile_chain(Env(agent="erp_invoices"))
        _throughput(graph, 20, traced=False)  # warm-up: imports, lingua, SQLite files
        _throughput(graph, 20, traced=True)
        latency: dict[bool, list[float]] = {False: [], True: []}
        throughput: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.rounds):
            for traced in (False, True):
                latency[traced].append(_latency(graph, args.runs, traced))
            for traced in (False, True):
                throughput[traced].append(_throughput(graph, args.runs, traced))
        stored = len(TraceStore().list(limit=1_000_000))
    print(f"{args.rounds} rounds x {args.runs} runs per mode and measure; traces stored: {stored}")
    for name, figures in (("latency", latency), ("throughput", throughput)):
        plain, traced_ = statistics.median(figures[False]), statistics.median(figures[True])
        print(
            f"{name:10s} untraced {plain * 1000:6.2f} ms/run · traced {traced_ * 1000:6.2f} ms/run · "
            f"traced/untraced {traced_ / plain:.3f} ({traced_ / plain - 1:+.1%})"
        )


if __name__ == "__main__":
    main()
