"""Benchmark both server modes through the langgraph-sdk against the runtime's own floor.

Serves two graphs on ``langgraph dev`` and on the durable server (own Postgres database,
``--workers`` processes): ``evals/bench_graphs.py:echo`` (Nova's nodes — intake, route,
the catalog-driven agent node, respond — around a 100 ms scripted model) and
``evals/bench_graphs.py:floor`` (one node calling the same model: the stock runtime's
floor for the same work). Rounds alternate the two graphs (``--repeats``, medians), and
print, per mode and graph:

* one run: median latency of 10 runs one after another, and their CPU per run;
* a burst of ``--runs`` concurrent ``runs.wait`` over as many threads: lost and crossed
  results (a wait that fails is followed by joining the thread's run: a run that finished
  is read back and reported as a failed wait, not a lost result), wall time and its ratio
  to one run, p50/p99 latency, CPU per run;

then Nova against the floor: CPU per run (burst and one at a time; target ≤ 1.5×; as the
ratio of the medians and as the median of each round's ratio), and
Nova's burst wall time against Nova's one run (target ≤ 20×); the CPU floor of the burst
(its CPU over the cores, or the busiest server process's); and sustained load for Nova:
``--runs`` more runs with at most ``--sustain-concurrency`` in flight.

    python evals/bench_server.py [--runs 200] [--modes dev,durable] [--workers 2] [--repeats 3]
                                 [--steps]

``--steps`` adds ``evals/bench_graphs.py:steps`` (the floor behind three trivial nodes: as
many supersteps as Nova's graph, none of its work) to the rounds: its CPU against the
floor's is the runtime's own price of the extra supersteps.

CPU is read from ``/proc`` (Linux): the server's process tree, every ``postgres`` and
``redis-server`` process (other users of those services count too; exited Postgres
backends do not), and this process. On a shared machine the wall times vary with the load
of other processes; the CPU per run varies much less, and the floor is measured in the
same run under the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
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

NOVA, FLOOR, STEPS = "echo", "floor", "steps"
GRAPHS = {
    NOVA: f"{ROOT / 'evals' / 'bench_graphs.py'}:echo",
    FLOOR: f"{ROOT / 'evals' / 'bench_graphs.py'}:floor",
    STEPS: f"{ROOT / 'evals' / 'bench_graphs.py'}:steps",
}
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
    """Why ``runs.wait`` failed (exception and HTTP status), when it did."""
    recovered: bool = False
    """``runs.wait`` failed but the run finished: its answer was read back from the thread."""


def _describe(error: Exception) -> str:
    status = getattr(getattr(error, "response", None), "status_code", None)
    return type(error).__name__ + (f" (HTTP {status})" if status else "")


async def _recover(client: LangGraphClient, thread_id: str) -> str | None:
    """Join the thread's latest run, if the server has one: a failed wait is not a lost result."""
    try:
        runs = await client.runs.list(thread_id, limit=1)
        if not runs:
            return None  # the run was never created: refused, not lost
        values: Any = await asyncio.wait_for(
            client.runs.join(thread_id, runs[0]["run_id"]), timeout=120
        )
    except Exception:
        return None
    answer = values.get("answer") if isinstance(values, dict) else None
    return answer if isinstance(answer, str) else None


async def one_run(client: LangGraphClient, graph: str, thread_id: str, index: int) -> Outcome:
    started = time.perf_counter()
    try:
        result: Any = await client.runs.wait(thread_id, graph, input=ask(index))
    except Exception as error:  # a lost run is a result to report, not a crash
        failed = time.perf_counter() - started
        answer = await _recover(client, thread_id)
        return Outcome(index, failed, answer, _describe(error), recovered=answer is not None)
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
    recovered = [o for o in outcomes if o.recovered]
    if recovered:
        errors = ", ".join(sorted({o.error or "" for o in recovered}))
        notes.append(
            f"{len(recovered)} wait(s) failed ({errors}) but the run finished and its answer "
            "was read back"
        )
    notes += [f"run {o.index} got {o.answer!r}" for o in crossed[:3]]
    return len(lost), len(crossed), notes


@dataclass
class GraphFigures:
    """One graph's figures from one round: single runs and a burst."""

    one_s: float
    """Median latency of ``SINGLE_RUNS`` runs one after another."""
    one_cpu: CpuSample | None
    """CPU of those single runs (all of them)."""
    burst_s: float
    """Wall time of the burst."""
    burst_cpu: CpuSample | None
    """CPU of the burst (all of it)."""
    burst: list[Outcome]

    def cpu_per_run(self, runs: int) -> float:
        """Return the burst's CPU seconds per run (NaN without /proc)."""
        return self.burst_cpu.total / runs if self.burst_cpu is not None else float("nan")

    def single_cpu_per_run(self) -> float:
        """Return the single runs' CPU seconds per run (NaN without /proc)."""
        return self.one_cpu.total / SINGLE_RUNS if self.one_cpu is not None else float("nan")


async def measure_graph(
    clients: list[LangGraphClient], graph: str, runs: int, sample: Callable[[], CpuSample | None]
) -> GraphFigures:
    """Time ``SINGLE_RUNS`` runs one after another, then ``runs`` at once, on new threads."""
    client = clients[0]

    def used(before: CpuSample | None) -> CpuSample | None:
        after = sample()
        return after - before if before is not None and after is not None else None

    threads = [await client.threads.create() for _ in range(SINGLE_RUNS)]
    before = sample()
    singles = [
        await one_run(client, graph, thread["thread_id"], i) for i, thread in enumerate(threads)
    ]
    one_cpu = used(before)
    threads = await asyncio.gather(
        *(clients[i % len(clients)].threads.create() for i in range(runs))
    )
    before = sample()
    started = time.perf_counter()
    burst = await asyncio.gather(
        *(
            one_run(clients[i % len(clients)], graph, t["thread_id"], i)
            for i, t in enumerate(threads)
        )
    )
    wall = time.perf_counter() - started
    return GraphFigures(
        one_s=statistics.median(o.latency_s for o in singles),
        one_cpu=one_cpu,
        burst_s=wall,
        burst_cpu=used(before),
        burst=list(burst),
    )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


async def measure(url: str, api_key: str | None, args: argparse.Namespace, server_pid: int) -> None:
    runs, sustain = args.runs, args.sustain_concurrency
    clients = sdk_clients(url, api_key, max(runs, sustain))
    client = clients[0]
    cores = os.cpu_count() or 1

    def sample() -> CpuSample | None:
        return cpu_sample(server_pid)

    measured = (FLOOR, NOVA, STEPS) if args.steps else (FLOOR, NOVA)
    # Warm up (graph load, first connections) on every graph.
    for graph in measured:
        for i in range(3):
            thread = await client.threads.create()
            await client.runs.wait(thread["thread_id"], graph, input=ask(-1 - i))

    # Rounds alternate the graphs' order, so all see the same load from other processes.
    figures: dict[str, list[GraphFigures]] = {graph: [] for graph in measured}
    for round_ in range(args.repeats):
        for graph in measured if round_ % 2 == 0 else measured[::-1]:
            figures[graph].append(await measure_graph(clients, graph, runs, sample))

    def med(graph: str, value: Callable[[GraphFigures], float]) -> float:
        return statistics.median(value(f) for f in figures[graph])

    labels = {
        FLOOR: "floor: one node calling the model",
        NOVA: "Nova (echo)",
        STEPS: "steps: the floor behind three trivial nodes",
    }
    for graph in measured:
        label = labels[graph]
        every = [o for f in figures[graph] for o in f.burst]
        lost = sum(check(f.burst)[0] for f in figures[graph])
        crossed = sum(check(f.burst)[1] for f in figures[graph])
        notes = [n for f in figures[graph] for n in check(f.burst)[2]][:3]
        one = med(graph, lambda f: f.one_s)
        burst = med(graph, lambda f: f.burst_s)
        single_cpu = med(graph, GraphFigures.single_cpu_per_run)
        print(
            f"  {label}: one run {_ms(one)}, CPU/run {_ms(single_cpu)}"
            f"; burst of {runs}: wall {burst:.2f} s = {burst / one:.1f}x one run, "
            f"CPU/run {_ms(med(graph, lambda f: f.cpu_per_run(runs)))}, "
            f"latency p50 {_ms(statistics.median(o.latency_s for o in every))} p99 "
            f"{_ms(percentile([o.latency_s for o in every], 0.99))}; lost {lost}, crossed {crossed}"
            + (f" ({'; '.join(notes)})" if notes else "")
        )
        last = figures[graph][-1]
        if last.burst_cpu is not None:
            print(f"    last burst's CPU per run: {last.burst_cpu.per_run_ms(runs)}")
    nova_one, floor_one = med(NOVA, lambda f: f.one_s), med(FLOOR, lambda f: f.one_s)
    burst_cpu = {g: med(g, lambda f: f.cpu_per_run(runs)) for g in (NOVA, FLOOR)}
    single_cpu_of = {g: med(g, GraphFigures.single_cpu_per_run) for g in (NOVA, FLOOR)}
    nova_burst = med(NOVA, lambda f: f.burst_s)
    floor_burst = med(FLOOR, lambda f: f.burst_s)

    def round_ratio(graph: str, value: Callable[[GraphFigures], float]) -> float:
        """Median over rounds of ``graph``'s figure over the floor's in the same round."""
        pairs = zip(figures[graph], figures[FLOOR], strict=True)
        return statistics.median(value(mine) / value(floor) for mine, floor in pairs)

    print(
        f"  Nova against the floor (medians of {args.repeats} alternating rounds): "
        f"CPU per run {burst_cpu[NOVA] / burst_cpu[FLOOR]:.2f}x in the burst, "
        f"{single_cpu_of[NOVA] / single_cpu_of[FLOOR]:.2f}x "
        f"one at a time (target <= 1.5x); one run {nova_one / floor_one:.2f}x; "
        f"burst wall {nova_burst / floor_burst:.2f}x"
    )
    print(
        "    the same, as the median of each round's ratio: CPU per run "
        f"{round_ratio(NOVA, lambda f: f.cpu_per_run(runs)):.2f}x in the burst, "
        f"{round_ratio(NOVA, GraphFigures.single_cpu_per_run):.2f}x one at a time"
    )
    if args.steps:
        print(
            "  steps (as many supersteps as Nova, none of its work) against the floor: CPU per "
            f"run {round_ratio(STEPS, lambda f: f.cpu_per_run(runs)):.2f}x in the burst, "
            f"{round_ratio(STEPS, GraphFigures.single_cpu_per_run):.2f}x one at a time "
            "(medians of each round's ratio)"
        )
    print(
        f"  Nova's burst of {runs}: {nova_burst / nova_one:.1f}x Nova's one run (target <= 20x); "
        f"the floor's: {floor_burst / floor_one:.1f}x its one run"
    )
    last_cpu = figures[NOVA][-1].burst_cpu
    if last_cpu is not None:
        busiest = max(last_cpu.server_processes.values(), default=0.0)
        least = max(last_cpu.total / cores, busiest)
        print(
            f"    CPU floor of Nova's last burst: {last_cpu.total:.1f} CPU-s on {cores} cores, "
            f"the busiest server process {busiest:.1f} CPU-s on one: it needs >= {least:.1f} s "
            f"here even on idle cores = {least / nova_one:.1f}x one run"
        )

    # Sustained: a fixed number of runs in flight, each replaced as it ends.
    if sustain:
        gate = asyncio.Semaphore(sustain)
        threads = await asyncio.gather(
            *(clients[i % len(clients)].threads.create() for i in range(runs))
        )

        async def gated(i: int, thread_id: str) -> Outcome:
            async with gate:
                return await one_run(clients[i % len(clients)], NOVA, thread_id, i)

        started = time.perf_counter()
        steady = await asyncio.gather(*(gated(i, t["thread_id"]) for i, t in enumerate(threads)))
        wall = time.perf_counter() - started
        lost, crossed, notes = check(steady)
        latencies = [o.latency_s for o in steady]
        print(
            f"  Nova sustained, {sustain} in flight: {runs / wall:.1f} runs/s; latency p50 "
            f"{_ms(statistics.median(latencies))}, p99 {_ms(percentile(latencies, 0.99))}; "
            f"lost {lost}, crossed {crossed}" + (f" ({'; '.join(notes)})" if notes else "")
        )
    await asyncio.gather(*(c.aclose() for c in clients))


def run_mode(mode: str, data_dir: Path, args: argparse.Namespace) -> None:
    """Start the server of ``mode`` on its own data (and database), measure it, stop it."""

    def go(url: str, api_key: str | None, pid: int) -> None:
        asyncio.run(measure(url, api_key, args, pid))

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
    parser.add_argument(
        "--repeats", type=int, default=3, help="alternating rounds of the graphs (medians)"
    )
    parser.add_argument(
        "--steps",
        action="store_true",
        help="also measure the floor behind three trivial nodes (the runtime's superstep cost)",
    )
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
