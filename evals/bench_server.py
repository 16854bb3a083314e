"""Benchmark both server modes through the langgraph-sdk: concurrency, throughput, latency, CPU.

Serves ``evals/bench_graphs.py:echo`` (Nova's agent node with a 100 ms scripted model) on
``langgraph dev`` and on the durable server (own Postgres database, ``--workers``
processes), then prints, per mode:

* one run: median latency of 10 runs one after another, and the CPU one run costs (server
  processes, PostgreSQL, Redis, this client);
* a burst of ``--runs`` concurrent ``runs.wait`` over as many threads: lost and crossed
  results, wall time and its ratio to one run, runs/s, p50/p99 latency, CPU per run;
* sustained load: ``--runs`` more runs with at most ``--sustain-concurrency`` in flight
  (a new one starts as one ends): runs/s and p50/p99 latency;
* the CPU floor: the burst's CPU divided by the machine's cores (or the CPU of the busiest
  server process, which runs on one core at a time), the shortest wall time that burst
  could take here, next to the target of 3x one run.

    python evals/bench_server.py [--runs 200] [--modes dev,durable] [--workers 2]

CPU is read from ``/proc`` (Linux): the server's process tree, every ``postgres`` and
``redis-server`` process (other users of those services count too; exited Postgres
backends do not), and this process. On a shared machine the wall times vary with the load
of other processes; the CPU per run varies much less.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402
from langgraph_sdk import get_client  # noqa: E402
from langgraph_sdk.client import LangGraphClient  # noqa: E402
from server_fixtures import (  # noqa: E402
    API_KEYS,
    dev_server_process,
    durable_server,
    write_langgraph_json,
)

GRAPHS = {"echo": f"{ROOT / 'evals' / 'bench_graphs.py'}:echo"}
ENV = {
    "NOVA_BENCH_MODEL_LATENCY_MS": "100",
    "NOVA_MODEL_CONCURRENCY": "512",
    # Enough runs in flight to keep two cores busy behind a 100 ms model. 256 gave the same
    # wall time or worse, 10-20% more CPU per run, and p50 close to the wall time (every run
    # interleaved with every other); 16-64 measured alike.
    "NOVA_SERVER_JOBS": "32",
    "NOVA_SERVER_THREADS": "32",
}
SINGLE_RUNS = 10
"""Runs one after another for the single-run latency (median) and its CPU cost."""
CONNECTIONS_PER_CLIENT = 32
"""Connections per SDK client. httpx (httpcore) scans every connection of its pool for each
request and response, so one client holding 256 connections spent 12-15 ms of CPU per run
(60% of it in that scan) against 1.5-2.5 ms for several clients of 32; the client was then
a bottleneck of its own. Requests are spread over as many clients as needed."""


# --- CPU accounting ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CpuSample:
    """Cumulative CPU seconds of the processes a run passes through."""

    server: float
    postgres: float
    redis: float
    client: float
    server_processes: dict[int, float]
    """CPU seconds of each process of the server (a process uses at most one core)."""

    def __sub__(self, other: CpuSample) -> CpuSample:
        return CpuSample(
            self.server - other.server,
            self.postgres - other.postgres,
            self.redis - other.redis,
            self.client - other.client,
            {
                pid: cpu - other.server_processes.get(pid, 0.0)
                for pid, cpu in self.server_processes.items()
            },
        )

    @property
    def total(self) -> float:
        """Return the CPU seconds of all four."""
        return self.server + self.postgres + self.redis + self.client

    def per_run_ms(self, runs: int) -> str:
        """Describe this CPU spread over ``runs`` runs, in milliseconds per run."""
        ms = 1000 / runs
        return (
            f"{self.total * ms:.0f} ms (server {self.server * ms:.0f}, Postgres "
            f"{self.postgres * ms:.0f}, Redis {self.redis * ms:.1f}, client {self.client * ms:.1f})"
        )


def _processes() -> Iterator[tuple[int, int, str, float]]:
    """Yield (pid, parent pid, name, CPU seconds including reaped children) from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
        yield int(entry), int(fields[1]), name, (utime + stime + cutime + cstime) / ticks


def cpu_sample(server_pid: int) -> CpuSample | None:
    """Return the CPU used so far by the server's process tree, Postgres, Redis and us."""
    if not Path("/proc/self/stat").exists():
        return None
    table = {pid: (parent, name, cpu) for pid, parent, name, cpu in _processes()}
    tree = {server_pid}
    grew = True
    while grew:
        grew = False
        for pid, (parent, _, _) in table.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    processes = {pid: table[pid][2] for pid in tree if pid in table}
    return CpuSample(
        server=sum(processes.values()),
        # A backend's time moves into the postmaster's (reaped children) when it exits.
        postgres=sum(cpu for _, name, cpu in table.values() if name == "postgres"),
        redis=sum(cpu for _, name, cpu in table.values() if name.startswith("redis-server")),
        client=time.process_time(),
        server_processes=processes,
    )


# --- the SDK side ------------------------------------------------------------------------


def sdk_clients(url: str, api_key: str | None, connections: int) -> list[LangGraphClient]:
    """Return SDK clients with ``connections`` connections in all (see CONNECTIONS_PER_CLIENT).

    The SDK's own client allows 100 connections, so 200 concurrent ``runs.wait`` queued
    half of them in the client; and idle connections were dropped by the server as the
    client reused them (``ReadError``) until the durable server's keep-alive was raised.
    """
    # get_client sets the SDK's headers (API key, user agent); keep them, widen the pool.
    headers = dict(get_client(url=url, api_key=api_key).http.client.headers)
    shards = max(1, -(-connections // CONNECTIONS_PER_CLIENT))
    per_shard = -(-connections // shards)
    return [
        LangGraphClient(
            httpx.AsyncClient(
                base_url=url,
                headers=headers,
                timeout=httpx.Timeout(5, read=600, write=600, pool=600),
                transport=httpx.AsyncHTTPTransport(
                    retries=5,
                    limits=httpx.Limits(
                        max_connections=per_shard, max_keepalive_connections=per_shard
                    ),
                ),
            )
        )
        for _ in range(shards)
    ]


def ask(i: int) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": f"request {i}"}]}


@dataclass
class Outcome:
    """What came back for one run."""

    index: int
    latency_s: float
    answer: str | None
    error: str | None = None


async def one_run(client: LangGraphClient, thread_id: str, index: int) -> Outcome:
    started = time.perf_counter()
    try:
        result: Any = await client.runs.wait(thread_id, "echo", input=ask(index))
    except Exception as error:  # a lost run is a result to report, not a crash
        return Outcome(index, time.perf_counter() - started, None, f"{type(error).__name__}")
    answer = result.get("answer") if isinstance(result, dict) else None
    return Outcome(index, time.perf_counter() - started, answer)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def check(outcomes: list[Outcome]) -> tuple[int, int, list[str]]:
    """Return (lost, crossed, a few descriptions) for outcomes of requests ``index``."""
    lost = [o for o in outcomes if not o.answer]
    crossed = [o for o in outcomes if o.answer and o.answer != f"echo: request {o.index}"]
    notes = [f"run {o.index}: {o.error or 'no answer'}" for o in lost[:3]]
    notes += [f"run {o.index} got {o.answer!r}" for o in crossed[:3]]
    return len(lost), len(crossed), notes


async def measure(url: str, api_key: str | None, runs: int, server_pid: int, sustain: int) -> None:
    clients = sdk_clients(url, api_key, max(runs, sustain))
    client = clients[0]
    cores = os.cpu_count() or 1

    def sample() -> CpuSample | None:
        return cpu_sample(server_pid)

    def cpu_line(before: CpuSample | None, count: int) -> str:
        after = sample()
        if before is None or after is None:
            return "n/a (no /proc)"
        return (after - before).per_run_ms(count)

    # Warm up (graph load, first connections), then one run at a time.
    for i in range(3):
        thread = await client.threads.create()
        await client.runs.wait(thread["thread_id"], "echo", input=ask(-1 - i))
    singles = []
    threads = [await client.threads.create() for _ in range(SINGLE_RUNS)]
    before = sample()
    for i, thread in enumerate(threads):
        singles.append(await one_run(client, thread["thread_id"], i))
    one = statistics.median(o.latency_s for o in singles)
    print(
        f"  one run (median of {SINGLE_RUNS}, one after another): {one * 1000:.0f} ms; "
        f"CPU per run {cpu_line(before, SINGLE_RUNS)}"
    )

    # The burst: every run at once, each on its own thread.
    threads = await asyncio.gather(
        *(clients[i % len(clients)].threads.create() for i in range(runs))
    )
    before = sample()
    started = time.perf_counter()
    burst = await asyncio.gather(
        *(one_run(clients[i % len(clients)], t["thread_id"], i) for i, t in enumerate(threads))
    )
    wall = time.perf_counter() - started
    after = sample()
    lost, crossed, notes = check(burst)
    latencies = [o.latency_s for o in burst]
    print(
        f"  {runs} concurrent runs over {runs} threads: wall {wall:.2f} s = {wall / one:.1f}x "
        f"one run (target <= 3x); lost {lost}, crossed {crossed}"
        + (f" ({'; '.join(notes)})" if notes else "")
    )
    print(
        f"    {runs / wall:.1f} runs/s; latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms; CPU per run {cpu_line(before, runs)}"
    )
    if before is not None and after is not None:
        used = after - before
        busiest = max(used.server_processes.values(), default=0.0)
        floor = max(used.total / cores, busiest)
        print(
            f"    CPU floor: {used.total:.1f} CPU-s on {cores} cores, the busiest server process "
            f"{busiest:.1f} CPU-s on one: this burst needs >= {floor:.1f} s here even on idle "
            f"cores; 3x one run = {3 * one:.2f} s "
            + ("is reachable" if floor <= 3 * one else "is not reachable on this machine")
        )

    # Sustained: a fixed number of runs in flight, each replaced as it ends.
    if sustain:
        gate = asyncio.Semaphore(sustain)
        threads = await asyncio.gather(
            *(clients[i % len(clients)].threads.create() for i in range(runs))
        )

        async def gated(i: int, thread_id: str) -> Outcome:
            async with gate:
                return await one_run(clients[i % len(clients)], thread_id, i)

        started = time.perf_counter()
        steady = await asyncio.gather(*(gated(i, t["thread_id"]) for i, t in enumerate(threads)))
        wall = time.perf_counter() - started
        lost, crossed, notes = check(steady)
        latencies = [o.latency_s for o in steady]
        print(
            f"  sustained, {sustain} in flight: {runs / wall:.1f} runs/s; latency p50 "
            f"{statistics.median(latencies) * 1000:.0f} ms, p99 "
            f"{percentile(latencies, 0.99) * 1000:.0f} ms; lost {lost}, crossed {crossed}"
            + (f" ({'; '.join(notes)})" if notes else "")
        )
    await asyncio.gather(*(c.aclose() for c in clients))


def run_mode(mode: str, data_dir: Path, args: argparse.Namespace) -> None:
    """Start the server of ``mode`` on its own data (and database), measure it, stop it."""

    def go(url: str, api_key: str | None, pid: int) -> None:
        asyncio.run(measure(url, api_key, args.runs, pid, args.sustain_concurrency))

    if mode == "dev":
        config = write_langgraph_json(data_dir / "config", GRAPHS)
        print("dev server (langgraph dev, fake model 100 ms):")
        with dev_server_process(data_dir, dict(ENV), config=config) as (url, process):
            go(url, None, process.pid)
    elif mode == "durable":
        env = {**ENV, "NOVA_SERVER_WORKERS": str(args.workers)}
        print(f"durable server ({args.workers} worker processes, fake model 100 ms):")
        with durable_server(data_dir, GRAPHS, env) as server:
            assert server.process is not None
            go(server.url, API_KEYS["alice"], server.process.pid)
    else:
        raise SystemExit(f"Unknown mode {mode!r}: use dev and/or durable, e.g. --modes dev,durable")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--modes", default="dev,durable")
    parser.add_argument(
        "--workers",
        type=int,
        default=min(os.cpu_count() or 1, 4),
        help="durable server processes (NOVA_SERVER_WORKERS); default: one per core, up to 4",
    )
    parser.add_argument("--sustain-concurrency", type=int, default=50)
    args = parser.parse_args()
    os.environ.update(ENV)
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} "
        "(other processes share them: wall times vary, CPU per run much less)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes.split(","):
            run_mode(mode, Path(tmp) / mode, args)


if __name__ == "__main__":
    main()
