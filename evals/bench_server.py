"""Benchmark both server modes through the langgraph-sdk: concurrency, throughput, latency.

Serves ``evals/bench_graphs.py:echo`` (Nova's agent node with a 100 ms scripted model) on
``langgraph dev`` and on the durable server (own Postgres database), then prints, per mode:
one run's latency, 200 concurrent runs over 200 threads (lost/crossed results, wall time and
its ratio to one run), sustained runs/s and p50/p99 run latency.

    python evals/bench_server.py [--runs 200] [--modes dev,durable]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from langgraph_sdk import get_client  # noqa: E402
from server_fixtures import API_KEYS, dev_server, durable_server, write_langgraph_json  # noqa: E402

GRAPHS = {"echo": f"{ROOT / 'evals' / 'bench_graphs.py'}:echo"}
ENV = {
    "NOVA_BENCH_MODEL_LATENCY_MS": "100",
    "NOVA_MODEL_CONCURRENCY": "512",
    "NOVA_SERVER_JOBS": "256",
    "NOVA_SERVER_THREADS": "256",
}


async def measure(url: str, api_key: str | None, runs: int) -> None:
    client = get_client(url=url, api_key=api_key, timeout=(5, 600, 600, 600))

    def ask(i: int) -> dict[str, object]:
        return {"messages": [{"role": "user", "content": f"request {i}"}]}

    warm = await client.threads.create()
    await client.runs.wait(warm["thread_id"], "echo", input=ask(-1))
    singles = []
    for i in range(5):
        thread = await client.threads.create()
        started = time.perf_counter()
        await client.runs.wait(thread["thread_id"], "echo", input=ask(i))
        singles.append(time.perf_counter() - started)
    one = statistics.median(singles)
    threads = await asyncio.gather(*(client.threads.create() for _ in range(runs)))
    latencies: list[float] = []

    async def timed(i: int, thread_id: str) -> dict[str, object]:
        started = time.perf_counter()
        result = await client.runs.wait(thread_id, "echo", input=ask(i))
        latencies.append(time.perf_counter() - started)
        return dict(result)

    started = time.perf_counter()
    results = await asyncio.gather(*(timed(i, t["thread_id"]) for i, t in enumerate(threads)))
    wall = time.perf_counter() - started
    lost = sum(1 for r in results if not r.get("answer"))
    crossed = sum(
        1 for i, r in enumerate(results) if r.get("answer") and r["answer"] != f"echo: request {i}"
    )
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"  one run (median of 5): {one * 1000:.0f} ms")
    print(
        f"  {runs} concurrent runs over {runs} threads: wall {wall:.2f} s "
        f"= {wall / one:.1f}x one run; "
        f"lost {lost}, crossed {crossed}"
    )
    print(
        f"  sustained: {runs / wall:.1f} runs/s; "
        f"latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--modes", default="dev,durable")
    args = parser.parse_args()
    import os

    os.environ.update(ENV)
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes.split(","):
            data_dir = Path(tmp) / mode
            print(f"{mode} server (fake model 100 ms):")
            if mode == "dev":
                config = write_langgraph_json(data_dir / "config", GRAPHS)
                import server_fixtures

                server_fixtures.ROOT = config.parent  # dev_server serves ROOT/langgraph.json
                with dev_server(data_dir, dict(ENV)) as url:
                    asyncio.run(measure(url, None, args.runs))
            else:
                with durable_server(data_dir, GRAPHS, dict(ENV)) as server:
                    asyncio.run(measure(server.url, API_KEYS["alice"], args.runs))


if __name__ == "__main__":
    main()
