"""The model path's overhead: Nova's time outside the model, through ChatOpenAI over HTTP.

``python -m evals.bench_model_path [--split test|dev|all] [--limit N] [--project personal]``
runs requests of the routing dataset (``evals/datasets/routing.jsonl``, by frozen split)
through Nova's default supervisor graph the way ``nova ask --local`` runs a turn: the
configured model factory builds ``ChatOpenAI`` clients pointed at
``nova.openai_stub.StubServer`` on loopback, a SQLite checkpointer keeps the thread, and the
CLI's tracing callbacks (local traces, usage, failures) record it. The stub answers
instantly (a short text; a requested schema or a forced tool gets an instance of it).

For every turn that called the model it prints the **overhead per model turn** — the turn's
wall time minus the seconds the stub spent answering (from each request's arrival to its
last byte, ``StubServer.busy_s``), divided by the model calls — as p50/p95 (target p50 ≤
50 ms, issue 16), and beside it, measured in the same run:

* the floor: a bare ``ChatOpenAI.invoke`` of the same stub minus the stub's time (what the
  HTTP client costs any application);
* where Nova's time goes: the median per turn of each graph node (recall, route, agent …).

Each request runs on a fresh thread, after warm-up turns (encoder, router, Chroma, ERP,
connections). The data directory needs ``nova setup`` (sample ERP data, project memories,
the fitted router). Model-free answers (fast paths, clarifying questions) are counted and
left out of the overhead.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import RunnableConfig

from evals.discipline import split_of
from nova.openai_stub import RecordedRequest, StubServer, Turn, obliging_turn, reply

DATASET = Path(__file__).parent / "datasets" / "routing.jsonl"
MODEL = "stub-model"
API_KEY = "sk-bench-0123456789"
WARM_UP = ("hello there", "Show me invoice INV-2025-00412", "Draft a short thank-you note")


def instant_answer(request: RecordedRequest) -> Turn:
    """Answer at once: a schema or a forced tool gets an instance, anything else text."""
    body = request.body
    if body.get("response_format") or isinstance(body.get("tool_choice"), dict):
        return obliging_turn(request)
    return reply("Done: here is what you asked for.")


class NodeClock(BaseCallbackHandler):
    """Sum the wall time of each graph node (by name) over a turn."""

    def __init__(self) -> None:
        self._open: dict[UUID, tuple[str, float]] = {}
        self.seconds: dict[str, float] = defaultdict(float)

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Start the clock of a node run."""
        node = (kwargs.get("metadata") or {}).get("langgraph_node")
        if node is not None and kwargs.get("name") == node:
            self._open[run_id] = (str(node), time.perf_counter())

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Stop the clock of a node run."""
        if (opened := self._open.pop(run_id, None)) is not None:
            self.seconds[opened[0]] += time.perf_counter() - opened[1]

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Stop the clock of a node run that raised (a ``Command`` jump, an interrupt)."""
        self.on_chain_end(None, run_id=run_id)

    def take(self) -> dict[str, float]:
        """Return the seconds per node since the last call, and start again."""
        taken, self.seconds = dict(self.seconds), defaultdict(float)
        return taken


@contextlib.contextmanager
def nova_on(stub: StubServer) -> Iterator[None]:
    """Point Nova's model settings at ``stub`` for the duration."""
    from nova.concurrency import reset_default_limiter
    from nova.settings import get_settings

    values = {
        "NOVA_MODEL_BASE_URL": stub.base_url,
        "NOVA_MODEL_API_KEY": API_KEY,
        "NOVA_MODEL_NAME": MODEL,
    }
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    get_settings.cache_clear()
    reset_default_limiter()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


def client_floor(stub: StubServer, repeats: int = 30) -> float:
    """Return the median seconds a bare ``ChatOpenAI.invoke`` spends outside the stub."""
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(model=MODEL, base_url=stub.base_url, api_key=API_KEY)  # type: ignore[arg-type]
    model.invoke("warm up")
    spent = []
    for _ in range(repeats):
        busy, started = stub.busy_s, time.perf_counter()
        model.invoke("Show me the open invoices of Baker & Sons")
        spent.append(time.perf_counter() - started - (stub.busy_s - busy))
    return statistics.median(spent)


def thread_cpu_s(native_id: int | None) -> float:
    """Return the CPU seconds a thread of this process has used (0 where /proc is missing)."""
    try:
        fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def run(cases: list[dict[str, Any]], project: str) -> dict[str, Any]:
    """Run ``cases`` through the supervisor against an instant stub; return the figures."""
    from langchain_core.messages import HumanMessage

    from graphs.nova import default_nova_graph
    from memory.checkpoint import TURN_DURABILITY, open_checkpointer
    from nova.state import NovaContext
    from nova.tracing import flush_traces, tracing_callbacks

    with (
        StubServer(models=(MODEL,), api_key=API_KEY, responder=instant_answer) as stub,
        nova_on(stub),
        contextlib.ExitStack() as stack,
    ):
        checkpointer = stack.enter_context(open_checkpointer())
        graph = default_nova_graph().copy(update={"checkpointer": checkpointer})
        clock = NodeClock()
        callbacks = [*tracing_callbacks(checkpointer=checkpointer, exporters=False), clock]
        context = NovaContext(project=project)

        stub_thread = stub._thread.native_id if stub._thread is not None else None

        def turn(text: str) -> tuple[float, float, float, int]:
            calls, busy = len(stub.chat_requests()), stub.busy_s
            cpu = time.process_time() - thread_cpu_s(stub_thread)
            config: RunnableConfig = {
                "configurable": {"thread_id": uuid.uuid4().hex},
                "callbacks": callbacks,
                "run_id": uuid.uuid4(),
            }
            started = time.perf_counter()
            graph.invoke(
                {"messages": [HumanMessage(text)]},
                config,
                context=context,
                durability=TURN_DURABILITY,
            )
            wall = time.perf_counter() - started
            cpu = time.process_time() - thread_cpu_s(stub_thread) - cpu
            return wall, stub.busy_s - busy, cpu, len(stub.chat_requests()) - calls

        for text in WARM_UP:
            turn(text)
        floor = client_floor(stub)
        clock.take()
        overhead: dict[str, list[float]] = {"dev": [], "test": []}
        cpu_per_turn: list[float] = []
        nodes: list[dict[str, float]] = []
        model_free = 0
        for case in cases:
            wall, in_stub, cpu, calls = turn(case["text"])
            per_node = clock.take()
            if not calls:
                model_free += 1
                continue
            overhead[split_of(case["text"])].append((wall - in_stub) / calls)
            cpu_per_turn.append(cpu / calls)
            nodes.append({name: seconds / calls for name, seconds in per_node.items()})
        flush_traces()
    every = overhead["dev"] + overhead["test"]
    names = sorted({name for turn_nodes in nodes for name in turn_nodes})
    return {
        "requests": len(cases),
        "model_turns": len(every),
        "model_free": model_free,
        "client_floor_ms": round(floor * 1000, 2),
        "cpu_p50_ms": round(statistics.median(cpu_per_turn) * 1000, 1) if cpu_per_turn else None,
        "by_split": {
            split: {
                "turns": len(values),
                "p50_ms": round(statistics.median(values) * 1000, 1) if values else None,
                "p95_ms": round(percentile(values, 0.95) * 1000, 1) if values else None,
            }
            for split, values in (*overhead.items(), ("all", every))
        },
        # Means, not medians: most nodes run in a few turns only (one subgraph per turn).
        "nodes_mean_ms": dict(
            sorted(
                (
                    (name, round(sum(n.get(name, 0.0) for n in nodes) / len(nodes) * 1000, 2))
                    for name in names
                ),
                key=lambda item: -item[1],
            )
        ),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures (and write them as JSON with ``--out``)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all")
    parser.add_argument("--limit", type=int, default=0, help="First N requests (0: all).")
    parser.add_argument("--project", default="personal", help="Project every request runs in.")
    parser.add_argument("--out", type=Path, default=None, help="Write the figures as JSON.")
    args = parser.parse_args(argv)
    cases = [json.loads(line) for line in args.dataset.read_text().splitlines() if line.strip()]
    if args.split != "all":
        cases = [case for case in cases if split_of(case["text"]) == args.split]
    if args.limit:
        cases = cases[: args.limit]
    figures = run(cases, args.project)
    print(
        f"Model path through ChatOpenAI over HTTP (instant stub), project {args.project}: "
        f"{figures['model_turns']} turns with a model call, {figures['model_free']} without"
    )
    for split, row in figures["by_split"].items():
        if row["turns"]:
            print(
                f"  {split:<5} Nova's overhead per model turn: p50 {row['p50_ms']} ms, "
                f"p95 {row['p95_ms']} ms over {row['turns']} turns (target p50 <= 50 ms)"
            )
    print(
        f"  floor: a bare ChatOpenAI.invoke spends {figures['client_floor_ms']} ms outside "
        "the stub (part of the figures above)"
    )
    print(
        f"  Nova's CPU per model turn (this process, the stub's thread left out): p50 "
        f"{figures['cpu_p50_ms']} ms"
    )
    nodes = ", ".join(
        f"{name} {ms}" for name, ms in list(figures["nodes_mean_ms"].items())[:10] if ms >= 0.1
    )
    print(f"  where the time goes, mean ms per model turn by node (nested): {nodes}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
