"""Benchmark the pipeline engine with fake steps of fixed latency; prints figures.

    python -m evals.bench_pipeline [--latency 0.2] [--pipelines 100] [--repeats 5]

Measures, with skills that sleep a fixed time (no model, no database):

1. 8 independent steps of ``latency`` each (sync run, and async run with async steps):
   wall time against the ideal of one ``latency`` (target: at most 1.3x);
2. a diamond (one upstream step used by three others): how often the upstream ran;
3. ``--pipelines`` pipelines launched at once (asyncio): how many finished, wall time;
4. per-step overhead: a chain of 20 no-op steps, and the 8-step run minus the sleep.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from langgraph.checkpoint.memory import InMemorySaver

from graphs.pipeline import PipelineRunner
from nova.pipelines import Pipelines, PipelineSpec, check_pipeline
from nova.testing import ScriptedModels


def fake_skills(latency: float, calls: Counter[str]) -> dict[str, BaseTool]:
    """Return a sync sleeping skill, an async sleeping skill and a no-op skill, counting calls."""
    lock = threading.Lock()

    def count(name: str) -> None:
        with lock:
            calls[name] += 1

    def slow(step: str) -> str:
        count(step)
        time.sleep(latency)
        return step

    async def aslow(step: str) -> str:
        count(step)
        await asyncio.sleep(latency)
        return step

    def noop(step: str) -> str:
        count(step)
        return step

    return {
        "slow": StructuredTool.from_function(
            func=slow, name="slow", description="Sleep, then echo."
        ),
        "aslow": StructuredTool.from_function(
            coroutine=aslow, name="aslow", description="Sleep (async)."
        ),
        "noop": StructuredTool.from_function(func=noop, name="noop", description="Echo."),
    }


def _spec(name: str, steps: list[dict[str, Any]]) -> PipelineSpec:
    spec = PipelineSpec.model_validate(
        {
            "name": name,
            "version": "1.0.0",
            "description": f"benchmark pipeline {name}",
            "steps": steps,
        }
    )
    problems = check_pipeline(spec, skills={"slow", "aslow", "noop"})
    if problems:
        raise ValueError(problems)
    return spec


def pipelines() -> Pipelines:
    """Return the benchmark pipelines: parallel (sync/async), diamond, chain."""
    parallel = [{"id": f"s{i}", "skill": "slow", "args": {"step": f"s{i}"}} for i in range(8)]
    aparallel = [{"id": f"s{i}", "skill": "aslow", "args": {"step": f"a{i}"}} for i in range(8)]
    gather: dict[str, Any] = {
        "id": "done",
        "template": "{{ inputs | length }} steps",
        "inputs": [f"s{i}" for i in range(8)],
    }
    diamond: list[dict[str, Any]] = [
        {"id": "upstream", "skill": "slow", "args": {"step": "upstream"}},
        *[
            {
                "id": f"use{i}",
                "skill": "slow",
                "args": {"step": f"use{i}"},
                "inputs": {"up": "upstream"},
            }
            for i in range(3)
        ],
        {"id": "join", "template": "{{ inputs | length }}", "inputs": ["use0", "use1", "use2"]},
    ]
    chain = [{"id": "c0", "skill": "noop", "args": {"step": "c0"}}] + [
        {"id": f"c{i}", "skill": "noop", "args": {"step": f"c{i}"}, "after": [f"c{i - 1}"]}
        for i in range(1, 20)
    ]
    specs = {
        "parallel": _spec("parallel", [*parallel, gather]),
        "aparallel": _spec("aparallel", [*aparallel, gather]),
        "diamond": _spec("diamond", diamond),
        "chain": _spec("chain", chain),
    }
    return Pipelines(specs, {name: Path("<bench>") for name in specs}, Path("<bench>"))


def _runner(latency: float, calls: Counter[str]) -> PipelineRunner:
    return PipelineRunner(
        model_factory=ScriptedModels(),
        skills=fake_skills(latency, calls),
        pipelines=pipelines(),
        checkpointer=InMemorySaver(),
    )


def _timed(run: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency", type=float, default=0.2, help="seconds each fake step sleeps")
    parser.add_argument("--pipelines", type=int, default=100, help="pipelines launched at once")
    parser.add_argument(
        "--repeats", type=int, default=5, help="runs per measurement (median reported)"
    )
    args = parser.parse_args(argv)
    latency = args.latency
    calls: Counter[str] = Counter()
    runner = _runner(latency, calls)
    runner.run("parallel")  # warm up: compile, imports

    print(
        f"Pipeline engine benchmark (fake steps of {latency * 1000:.0f} ms; shared 2-core machine)"
    )
    sync_times = [_timed(lambda: runner.run("parallel"))[0] for _ in range(args.repeats)]
    sync = statistics.median(sync_times)
    print(
        f"1. 8 independent steps, sync run:  median {sync * 1000:.0f} ms"
        f" = {sync / latency:.2f} x one step "
        f"(target <= 1.30 x), runs {[round(t * 1000) for t in sync_times]} ms"
    )
    async_times = [
        _timed(lambda: asyncio.run(runner.arun("aparallel")))[0] for _ in range(args.repeats)
    ]
    asynchronous = statistics.median(async_times)
    print(
        f"   8 independent steps, async run: median {asynchronous * 1000:.0f} ms"
        f" = {asynchronous / latency:.2f} x one step"
    )

    calls.clear()
    wall, run = _timed(lambda: runner.run("diamond"))
    print(
        f"2. diamond: upstream ran {calls['upstream']} time(s), dependents "
        f"{sum(calls[f'use{i}'] for i in range(3))} runs, status {run.result['status']}, "
        f"{wall * 1000:.0f} ms (ideal {2 * latency * 1000:.0f} ms)"
    )

    async def launch(n: int) -> list[Any]:
        return await asyncio.gather(
            *(runner.arun("aparallel") for _ in range(n)), return_exceptions=True
        )

    calls.clear()
    wall, results = _timed(lambda: asyncio.run(launch(args.pipelines)))
    finished = [
        r
        for r in results
        if not isinstance(r, BaseException) and r.result and r.result["status"] == "completed"
    ]
    errors = [r for r in results if isinstance(r, BaseException)]
    print(
        f"3. {args.pipelines} pipelines at once (async, 8 steps each): "
        f"{len(finished)}/{args.pipelines} completed, "
        f"{len(errors)} raised, {sum(calls.values())} step calls (expected {8 * args.pipelines}), "
        f"wall {wall:.2f} s ({wall / latency:.1f} x one step)"
    )

    chain_times = [_timed(lambda: runner.run("chain"))[0] for _ in range(args.repeats)]
    chain = statistics.median(chain_times)
    print(
        f"4. overhead: chain of 20 no-op steps median {chain * 1000:.0f} ms = "
        f"{chain / 22 * 1000:.1f} ms per step (20 steps + start + finish); "
        f"parallel run overhead over the sleep {(sync - latency) * 1000:.0f} ms "
        f"(sync), {(asynchronous - latency) * 1000:.0f} ms (async)"
    )


if __name__ == "__main__":
    main()
