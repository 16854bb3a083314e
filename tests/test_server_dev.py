"""`langgraph dev` serves Nova's langgraph.json offline; the langgraph-sdk drives it over HTTP."""

from pathlib import Path

import pytest
from langgraph_sdk import get_client
from server_fixtures import dev_server

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
            input={"messages": [{"role": "user", "content": "What is 17.5 percent of 2340?"}]},
            context={"project": "parts-shop"},
            stream_mode=["updates", "values"],
        ):
            events.append(part)
        updated_nodes = {node for e in events if e.event == "updates" for node in e.data}
        assert {"intake", "recall", "route", "dispatch", "chat", "respond"} <= updated_nodes

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
            "What is 17.5 percent of 2340?",
            "And 20 percent of it?",
        ]
