"""Benchmark: what Nova adds to an MCP tool call, against the same call made with the mcp client.

One real MCP server (``tests/mcp_server.py``, FastMCP; stdio, or streamable HTTP with
``--transport http``) answers the same tool (``echo``) four ways, in the same run:

* ``direct``: ``mcp.ClientSession.call_tool`` on a session opened once (the floor: what any
  MCP client pays);
* ``nova tool``: Nova's LangChain tool for it (``tools.mcp``: kept session, adapters'
  result conversion), ``tool.invoke``;
* ``nova tools node``: the same call as the agent's tool node makes it, in a compiled graph
  step: gate (agent and project allow-lists, MCP tool lookup), ``ToolNode``, the per-call
  timeout thread, provenance stamp and failure check;
* ``nova turn``: a whole supervisor turn in which a scripted model calls the tool once and
  then answers, next to the same turn calling the built-in ``project_info`` instead (what an
  MCP tool costs a turn over a local tool).

Calls alternate one by one, so a busy shared machine slows every way alike; medians per
round, then the median of the rounds. Nova's stdio server is its own process (the hub starts
it); the direct client's is another of the same script; over HTTP both use one server.

Run: ``python -m evals.bench_mcp [--calls 200] [--rounds 5] [--transport stdio|http]``.
Target: ``nova tools node`` − ``direct`` ≤ 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "tests" / "mcp_server.py"
TARGET_MS = 20.0


def _project_file(config_dir: Path, server: dict[str, Any]) -> None:
    import yaml

    config_dir.mkdir(parents=True, exist_ok=True)
    entry = {
        "id": "bench",
        "name": "Bench",
        "description": "MCP benchmark project.",
        "mcp_servers": [server],
    }
    (config_dir / "projects.yaml").write_text(yaml.safe_dump({"projects": [entry]}))


@contextlib.contextmanager
def _http_server(tickets: Path) -> Iterator[str]:
    sys.path.insert(0, str(ROOT))
    from tests.mcp_fixtures import http_server

    with http_server(tickets) as url:
        yield url


def _tools_node_graph() -> Callable[[str], Any]:
    from langchain_core.messages import AIMessage
    from langgraph.graph import END, START, StateGraph

    from nodes.agent import make_tool_node
    from nova.catalog import default_catalog
    from nova.state import AgentLoopState, NovaContext
    from nova.testing import route_to, tool_call

    catalog = default_catalog()
    builder = StateGraph(AgentLoopState, context_schema=NovaContext)
    builder.add_node("tools", make_tool_node(catalog, [catalog["bug_triage"]]))
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    graph = builder.compile()
    route = route_to("bug_triage", "chat")

    def call(text: str) -> Any:
        state = AgentLoopState(
            messages=[AIMessage("", tool_calls=[tool_call("bench_echo", text=text)])],
            route=route,
            project="bench",
        )
        out = graph.invoke(state, context=NovaContext(project="bench"))
        message = out["messages"][-1]
        assert message.content == text and message.status == "success", message
        return message

    return call


def _turn(tool: str, args: dict[str, Any], expected: str | None) -> Callable[[str], Any]:
    from langchain_core.messages import HumanMessage, ToolMessage

    from graphs.nova import build_nova_graph
    from nova.state import NovaContext
    from nova.testing import ScriptedChatModel, ScriptedModels, calls, says, tool_call

    turns = (calls(tool_call(tool, **args)), says("done"))
    # Each turn takes exactly two model calls (the tool call, then the answer): cycle them.
    model = ScriptedChatModel(
        messages=(turn.model_copy(deep=True) for _ in itertools.count() for turn in turns)
    )
    graph = build_nova_graph(model_factory=ScriptedModels({"bug_triage": model})).compile()
    context = NovaContext(project="bench", agent="bug_triage")

    def run(_: str) -> Any:
        out = graph.invoke({"messages": [HumanMessage("bench")]}, context=context)
        tool_message = [m for m in out["messages"] if isinstance(m, ToolMessage)][-1]
        assert tool_message.status == "success" and out["answer"] == "done", tool_message
        assert expected is None or tool_message.content == expected, tool_message
        return out

    return run


async def _measure(args: argparse.Namespace, server: dict[str, Any], direct: Any) -> None:
    from mcp import ClientSession

    from nova.mcp import McpServer
    from tools.mcp import mcp_hub

    config = McpServer.model_validate(server)
    [nova_tool] = [t for t in mcp_hub().tools(config) if t.name == "bench_echo"]
    node_call = _tools_node_graph()
    mcp_turn = _turn("bench_echo", {"text": "x"}, "x")
    local_turn = _turn("project_info", {}, None)

    async with direct as streams, ClientSession(streams[0], streams[1]) as session:
        await session.initialize()

        async def direct_call(text: str) -> Any:
            result = await session.call_tool("echo", {"text": text})
            assert result.content[0].text == text  # type: ignore[union-attr]
            return result

        def tool_call_(text: str) -> Any:
            content = nova_tool.invoke({"text": text})
            assert content == text, content
            return content

        ways: dict[str, Callable[[str], Any]] = {
            "nova tool": tool_call_,
            "nova tools node": node_call,
        }
        turns = {"nova turn, MCP tool": mcp_turn, "nova turn, local tool": local_turn}
        names = ["direct", *ways, *turns]
        # Warm-up: first calls pay imports, schema builds and caches.
        for _ in range(10):
            await direct_call("warm")
            for way in (*ways.values(), *turns.values()):
                way("warm")

        rounds: dict[str, list[float]] = {name: [] for name in names}
        cpu: dict[str, list[float]] = {name: [] for name in names}
        for round_index in range(args.rounds):
            samples: dict[str, list[float]] = {name: [] for name in names}
            for index in range(args.calls):
                text = f"call {round_index}-{index}"
                order = list(names) if index % 2 else list(reversed(names))
                for name in order:
                    if name.startswith("nova turn") and index % args.turn_every:
                        continue
                    started, started_cpu = time.perf_counter(), time.process_time()
                    if name == "direct":
                        await direct_call(text)
                    elif name in ways:
                        ways[name](text)
                    else:
                        turns[name](text)
                    samples[name].append(time.perf_counter() - started)
                    cpu[name].append(time.process_time() - started_cpu)
            for name in names:
                rounds[name].append(statistics.median(samples[name]))

    floor = statistics.median(rounds["direct"])
    print(f"MCP tool call through Nova vs the mcp client ({args.transport}; {args.rounds} rounds")
    print(f"of {args.calls} calls, turns every {args.turn_every}th; medians of round medians)")
    print(f"{'way':<24}{'wall ms':>10}{'over direct':>14}{'CPU ms (this process)':>24}")
    for name in names:
        wall = statistics.median(rounds[name]) * 1000
        over = wall - floor * 1000
        print(f"{name:<24}{wall:>10.2f}{over:>+14.2f}{statistics.median(cpu[name]) * 1000:>24.2f}")
    overhead = (statistics.median(rounds["nova tools node"]) - floor) * 1000
    spread = [
        round((node - d) * 1000, 2)
        for node, d in zip(rounds["nova tools node"], rounds["direct"], strict=True)
    ]
    turn_extra = (
        statistics.median(rounds["nova turn, MCP tool"])
        - statistics.median(rounds["nova turn, local tool"])
    ) * 1000
    print(f"per-round overhead of the tools node (ms): {spread}")
    print(
        f"an MCP tool in a whole turn costs {turn_extra:+.2f} ms over the local project_info tool"
    )
    verdict = "holds" if overhead <= TARGET_MS else "DOES NOT HOLD"
    print(f"overhead {overhead:.2f} ms (target <= {TARGET_MS:g} ms): {verdict}")
    mcp_hub().close()


def main(argv: list[str] | None = None) -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per way and round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (medians of medians)")
    parser.add_argument("--turn-every", type=int, default=4, help="a whole turn every Nth call")
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="nova-bench-mcp-") as folder:
        data = Path(folder)
        os.environ["NOVA_DATA_DIR"] = str(data)
        os.environ.setdefault("LANGSMITH_TRACING", "false")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        tickets = data / "tickets.json"
        os.environ["NOVA_TEST_TICKETS"] = str(tickets)
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client
        from mcp.client.streamable_http import streamable_http_client

        with contextlib.ExitStack() as stack:
            if args.transport == "stdio":
                server: dict[str, Any] = {
                    "name": "bench",
                    "command": sys.executable,
                    "args": [str(SERVER), "stdio"],
                    "env": {"NOVA_TEST_TICKETS": str(tickets)},
                }
                direct: Any = stdio_client(
                    StdioServerParameters(
                        command=sys.executable,
                        args=[str(SERVER), "stdio"],
                        env={"NOVA_TEST_TICKETS": str(tickets)},
                    )
                )
            else:
                url = stack.enter_context(_http_server(tickets))
                server = {"name": "bench", "url": url}
                direct = streamable_http_client(url)
            _project_file(data / "config", server)
            from nova.settings import get_settings

            get_settings.cache_clear()
            asyncio.run(_measure(args, server, direct))


if __name__ == "__main__":
    main()
