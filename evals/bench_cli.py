"""How fast Nova answers from the command line, against a floor measured in the same run.

``python -m evals.bench_cli [--repeats 5]`` prints, as medians of interleaved repeats:

* **bare import**: ``python -c "import langgraph.graph, langchain_core.messages"`` in the same
  venv — the floor any in-process LangGraph CLI pays;
* **cold ask**: ``nova ask "Show me invoice INV-2025-00412" --project parts-shop --local`` (a new
  process, model-free ERP fast path) and its ratio to the bare import (target ≤ 2×), and beside
  it the floor of that path: importing only the libraries such a turn cannot do without (the
  vector store, the encoder's runtime, the ERP's SQL toolkit, BM25 and the CLI toolkit);
* **ask through a server**: the same with a running ``nova serve --dev`` (target ≤ 0.5× the
  bare import), and the bare ``import langgraph_sdk`` that path cannot go below;
* **graph construction**: building and compiling the whole supervisor with its four
  subgraphs, modules already imported (target ≤ 0.3 s);
* **router load**: a fitted router read from its cache in a fresh process (target ≤ 0.3 s);
* **warm turn**: one compiled supervisor with a SQLite checkpointer answering
  "Show me invoice INV-2025-004NN" twelve times after a first turn, p50 (target ≤ 30 ms).

It runs on its own data directory (seeded like ``nova setup``, reusing the fitted router of
``.nova/router`` when there is one), with no model configured.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from evals.daily_eval import free_port, model_free_env, wait_for_server

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Show me invoice INV-2025-00412"
LOCAL_TURN_LIBRARIES = (
    "langgraph.graph",
    "langchain_core.messages",
    "chromadb",  # recall reads the project's memories
    "onnxruntime",  # the encoder that recall and the router share
    "sqlalchemy.orm",  # the ERP fast path's queries
    "bm25s",  # recall's keyword channel
    "typer",  # the CLI
)
"""What a cold in-process ERP turn imports beyond the bare LangGraph floor, nothing of Nova's."""

_PROBE = """
import json, sys, time
started = time.perf_counter()
import graphs.nova  # builds the served graphs once
from graphs.nova import build_nova_graph
from nova.catalog import default_catalog
imported = time.perf_counter()
builds = []
for _ in range(3):
    t = time.perf_counter()
    build_nova_graph(catalog=default_catalog()).compile(name="nova")  # nothing shared: all of it
    builds.append(time.perf_counter() - t)
print(json.dumps({"import_s": imported - started, "build_s": sorted(builds)[1]}))
"""

_ROUTER_PROBE = """
import json, time
import nodes.router
t = time.perf_counter()
nodes.router.nova_router()
print(json.dumps({"router_load_s": time.perf_counter() - t}))
"""

_WARM_PROBE = """
import json, statistics, time, contextlib
from langchain_core.messages import HumanMessage
from graphs.nova import default_nova_graph
from memory.checkpoint import TURN_DURABILITY, open_checkpointer
from nova.state import NovaContext
with contextlib.ExitStack() as stack:
    checkpointer = stack.enter_context(open_checkpointer())
    graph = default_nova_graph().copy(update={"checkpointer": checkpointer})
    context = NovaContext(project="parts-shop")
    def turn(n):
        config = {"configurable": {"thread_id": f"bench-{n}"}}
        t = time.perf_counter()
        values = graph.invoke({"messages": [HumanMessage(f"Show me invoice INV-2025-004{n:02d}")]},
                              config, context=context, durability=TURN_DURABILITY)
        assert values["agent_run"]["outcome"] == "fast_path", values["agent_run"]
        return time.perf_counter() - t
    first = turn(0)
    times = [turn(n) for n in range(10, 22)]
print(json.dumps({"first_turn_s": first, "warm_p50_s": statistics.median(times)}))
"""


def _timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return seconds


def _probe(code: str, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    console = Console()
    data_dir = Path(tempfile.mkdtemp(prefix="nova-bench-cli-"))
    server = None
    try:
        if (ROOT / ".nova" / "router").is_dir():
            shutil.copytree(ROOT / ".nova" / "router", data_dir / "router")
        env = model_free_env(data_dir)
        # As on a user's machine: Nova's own modules run from bytecode after the first start
        # (the installed packages of the floor always do). A shell that sets this makes every
        # cold start of an editable install compile Nova from source again (~0.5 s).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        with console.status("Seeding a data directory (nova setup)…"):
            subprocess.run(
                [sys.executable, "-m", "nova.cli", "setup"],
                env=env,
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
        nova = [sys.executable, "-m", "nova.cli"]
        bare = [sys.executable, "-c", "import langgraph.graph, langchain_core.messages"]
        sdk = [sys.executable, "-c", "import langgraph_sdk"]
        libraries = [sys.executable, "-c", f"import {', '.join(LOCAL_TURN_LIBRARIES)}"]
        ask_local = [*nova, "ask", QUESTION, "--project", "parts-shop", "--local"]

        port = free_port()
        server = subprocess.Popen(
            [*nova, "serve", "--dev", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        ask_server = [*nova, "ask", QUESTION, "--project", "parts-shop", "--server", url]
        wait_for_server(url, server, Path(os.devnull))
        _timed(ask_server, env)  # the server's first turn loads its encoder and router

        samples: dict[str, list[float]] = {
            "bare": [],
            "sdk": [],
            "libraries": [],
            "local": [],
            "server": [],
        }
        with console.status("Timing cold commands…"):
            _timed(ask_local, env)  # page cache and router cache warm, as on a used machine
            for _ in range(args.repeats):
                samples["bare"].append(_timed(bare, env))
                samples["sdk"].append(_timed(sdk, env))
                samples["libraries"].append(_timed(libraries, env))
                samples["local"].append(_timed(ask_local, env))
                samples["server"].append(_timed(ask_server, env))
        with console.status("Timing graph construction, router load and warm turns…"):
            build = _probe(_PROBE, env)
            router = statistics.median(
                _probe(_ROUTER_PROBE, env)["router_load_s"] for _ in range(3)
            )
            warm = _probe(_WARM_PROBE, env)
    finally:
        if server is not None:
            os.killpg(server.pid, 15)
            server.wait(timeout=60)
        shutil.rmtree(data_dir, ignore_errors=True)

    median = {name: statistics.median(values) for name, values in samples.items()}
    table = Table(title=f"nova ask from the command line (medians of {args.repeats})")
    for column in ("what", "seconds", "ratio", "target"):
        table.add_column(column, justify="left" if column == "what" else "right")
    table.add_row("bare import langgraph + langchain_core", f"{median['bare']:.2f}", "1.00", "")
    table.add_row(
        "cold nova ask (ERP fast path, --local)",
        f"{median['local']:.2f}",
        f"{median['local'] / median['bare']:.2f}×",
        "≤ 2×",
    )
    table.add_row(
        "  floor of that path: importing its libraries",
        f"{median['libraries']:.2f}",
        f"{median['libraries'] / median['bare']:.2f}×",
        "",
    )
    table.add_row(
        "nova ask through nova serve --dev",
        f"{median['server']:.2f}",
        f"{median['server'] / median['bare']:.2f}×",
        "≤ 0.5×",
    )
    table.add_row(
        "  floor of that path: bare import langgraph_sdk",
        f"{median['sdk']:.2f}",
        f"{median['sdk'] / median['bare']:.2f}×",
        "",
    )
    table.add_row(
        "supervisor graph construction (all subgraphs)", f"{build['build_s']:.3f}", "", "≤ 0.3 s"
    )
    table.add_row(
        "  importing graphs.nova (builds the served graphs)", f"{build['import_s']:.2f}", "", ""
    )
    table.add_row("router load from cache", f"{router:.3f}", "", "≤ 0.3 s")
    table.add_row(
        "first in-process turn (loads encoder, Chroma, ERP)", f"{warm['first_turn_s']:.2f}", "", ""
    )
    table.add_row(
        "warm in-process turn, p50 of 12", f"{warm['warm_p50_s'] * 1000:.1f} ms", "", "≤ 30 ms"
    )
    console.print(table)
    rounded = {name: [round(v, 3) for v in values] for name, values in samples.items()}
    console.print(f"[dim]samples: {json.dumps(rounded)}[/]")


if __name__ == "__main__":
    main()
