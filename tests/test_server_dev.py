"""`langgraph dev` serves Nova's langgraph.json offline; the langgraph-sdk drives it over HTTP."""

import asyncio
from pathlib import Path

import pytest
from langgraph_sdk import get_client
from server_fixtures import TEST_GRAPHS, dev_server, write_langgraph_json

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_sdk_creates_thread_streams_a_run_and_reads_state(tmp_path: Path) -> None:
    with dev_server(tmp_path / "server-data") as url:
        client = get_client(url=url)
        assistants = await client.assistants.search(limit=20)
        assert {a["graph_id"] for a in assistants} >= {
            "nova",
            "chat",
            "erp",
            "translation",
            "pipeline",
        }

        thread = await client.threads.create()
        events = []
        async for part in client.runs.stream(
            thread["thread_id"],
            "nova",
            input={
                "messages": [{"role": "user", "content": "What is 17.5 percent of 2340, roughly?"}]
            },
            context={"project": "parts-shop"},
            stream_mode=["updates", "values"],
        ):
            events.append(part)
        updated_nodes = {node for e in events if e.event == "updates" for node in e.data}
        assert {"intake", "recall", "route", "chat", "respond"} <= updated_nodes

        state = await client.threads.get_state(thread["thread_id"])
        values = state["values"]
        assert values["route"]["agent"] == "calculator"
        assert values["route"]["method"] in {"semantic", "llm", "fallback", "clarify"}
        assert values["project"] == "parts-shop"
        # No model on the server: the agent says so and how to configure one.
        assert "NOVA_MODEL_BASE_URL" in values["answer"]

        # A second turn on the same thread sees the first.
        await client.runs.wait(
            thread["thread_id"],
            "nova",
            input={"messages": [{"role": "user", "content": "And 20 percent of it?"}]},
        )
        state = await client.threads.get_state(thread["thread_id"])
        humans = [m for m in state["values"]["messages"] if m["type"] == "human"]
        assert [m["content"] for m in humans] == [
            "What is 17.5 percent of 2340, roughly?",
            "And 20 percent of it?",
        ]


async def test_dev_server_runs_many_synchronous_runs_at_once(tmp_path: Path) -> None:
    # langgraph dev alone runs one run at a time, and synchronous nodes on six threads (on
    # two cores); nova serve --dev passes NOVA_SERVER_JOBS and installs NOVA_SERVER_THREADS.
    config = write_langgraph_json(tmp_path / "config", {"sleepy": TEST_GRAPHS["sleepy"]})
    env = {"NOVA_SERVER_JOBS": "16", "NOVA_SERVER_THREADS": "16"}
    with dev_server(tmp_path / "server-data", env, config=config) as url:
        client = get_client(url=url)
        threads = await asyncio.gather(*(client.threads.create() for _ in range(10)))
        finals = await asyncio.gather(
            *(
                client.runs.wait(
                    t["thread_id"], "sleepy", input={"label": f"s{i}", "seconds": 1.0, "log": []}
                )
                for i, t in enumerate(threads)
            )
        )
    spans = [final["spans"][0] for final in finals]
    most_at_once = max(sum(start <= moment < end for start, end in spans) for moment, _ in spans)
    assert most_at_once >= 8, f"at most {most_at_once} of 10 one-second steps overlapped: {spans}"


async def test_a_new_run_starts_without_waiting_for_the_queue_poll(tmp_path: Path) -> None:
    # Upstream's idle queue sleeps 0.5 s and then only takes runs older than its sleep, so
    # every run waited 0.5-1.0 s; nova.server.queue_wakeup starts it when it is stored.
    import statistics
    import time

    config = write_langgraph_json(tmp_path / "config", {"echo": TEST_GRAPHS["echo"]})
    with dev_server(tmp_path / "server-data", config=config) as url:
        client = get_client(url=url)
        seconds = []
        for _ in range(6):
            thread = await client.threads.create()
            started = time.perf_counter()
            hello = {"messages": [{"role": "user", "content": "hi"}]}
            await client.runs.wait(thread["thread_id"], "echo", input=hello)
            seconds.append(time.perf_counter() - started)
        # Below upstream's 0.5 s floor by construction, with room for a busy machine.
        assert statistics.median(seconds[1:]) < 0.45, seconds


async def test_the_runtimes_test_only_routes_are_closed(tmp_path: Path) -> None:
    # POST /internal/truncate (langgraph dev's test harness) wiped every thread for anyone
    # who could reach the port; evals/soak_fuzz.py found it. Nova's dev app closes it.
    import httpx

    config = write_langgraph_json(tmp_path / "config", {"echo": TEST_GRAPHS["echo"]})
    with dev_server(tmp_path / "server-data", config=config) as url:
        client = get_client(url=url)
        thread = await client.threads.create()
        async with httpx.AsyncClient(base_url=url) as http:
            truncate = await http.post("/internal/truncate", json={})
            debug = await http.get(f"/internal/debug/thread/{thread['thread_id']}")
        assert (truncate.status_code, debug.status_code) == (404, 404)
        assert "test-only" in truncate.json()["detail"]
        assert (await client.threads.get(thread["thread_id"]))["thread_id"] == thread["thread_id"]
