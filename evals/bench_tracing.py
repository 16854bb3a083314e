"""Benchmark: what local tracing costs a run, with a zero-latency scripted model.

Runs the same request on the supervisor-shaped attribution graph (``evals/blame/chain.py``:
intake, recall, route, dispatch, erp subgraph with agent, tool and check, respond; two
model calls and one tool call per run), untraced and traced (local trace store + failure
recorder, exactly what ``nova.tracing.tracing_callbacks`` gives). Untraced and traced runs
alternate one by one, so a busy shared machine slows both alike. Two figures:

* latency: the wall time of each ``invoke`` (what a user waits for). The trace is written
  by a background worker after the run returns; the benchmark waits for it after each
  traced run, outside the timed region, so the next run starts on an idle writer.
* cost: process CPU time (all threads) per run over a batch, the trace writes included
  (``flush_traces`` is inside the batch): tracing's whole cost, deferred work and all,
  and, being CPU time, unaffected by other processes on the machine.

Run: ``python -m evals.bench_tracing [--runs 300]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig

from evals.blame.chain import Env, compile_chain
from evals.blame_eval import isolated_data_dir
from nova.state import NovaContext
from nova.tracing import TraceStore, flush_traces, tracing_callbacks

REQUEST = "What is the status of invoice INV-2025-00412?"


def _config(traced: bool, callbacks: list[BaseCallbackHandler] | None) -> RunnableConfig:
    config: RunnableConfig = {"configurable": {"thread_id": uuid.uuid4().hex}}
    if traced:
        config["callbacks"] = callbacks
    return config


def _latency(graph: Any, runs: int) -> dict[bool, list[float]]:
    callbacks = tracing_callbacks(exporters=False)
    context = NovaContext(project="parts-shop")
    times: dict[bool, list[float]] = {False: [], True: []}
    for index in range(runs):
        order = (False, True) if index % 2 else (True, False)
        for traced in order:
            config = _config(traced, callbacks)
            started = time.perf_counter()
            graph.invoke({"messages": [HumanMessage(REQUEST)]}, config, context=context)
            times[traced].append(time.perf_counter() - started)
            if traced and not flush_traces(60.0):
                raise RuntimeError("traces were not all written within 60 s")
    return times


def _cpu(graph: Any, runs: int, traced: bool) -> float:
    callbacks = tracing_callbacks(exporters=False) if traced else None
    context = NovaContext(project="parts-shop")
    started = time.process_time()
    for _ in range(runs):
        graph.invoke(
            {"messages": [HumanMessage(REQUEST)]}, _config(traced, callbacks), context=context
        )
    if traced and not flush_traces(60.0):
        raise RuntimeError("traces were not all written within 60 s")
    return (time.process_time() - started) / runs


def main() -> None:
    """Run the benchmark and print traced/untraced figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=300, help="runs per mode")
    args = parser.parse_args()
    with isolated_data_dir():
        graph = compile_chain(Env(agent="erp_invoices"))
        _cpu(graph, 20, traced=False)  # warm-up: imports, lingua, SQLite files
        _cpu(graph, 20, traced=True)
        latency = _latency(graph, args.runs)
        cpu: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(5):
            for traced in (False, True):
                cpu[traced].append(_cpu(graph, max(1, args.runs // 5), traced))
        stored = len(TraceStore().list(limit=1_000_000))
    print(f"{args.runs} runs per mode; traces stored: {stored}")
    for name, figures in (("latency", latency), ("cpu cost", cpu)):
        plain, traced_ = statistics.median(figures[False]), statistics.median(figures[True])
        print(
            f"{name:8s} untraced {plain * 1000:6.2f} ms/run · "
            f"traced {traced_ * 1000:6.2f} ms/run · "
            f"traced/untraced {traced_ / plain:.3f} ({traced_ / plain - 1:+.1%})"
        )


if __name__ == "__main__":
    main()
