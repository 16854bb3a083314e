"""What Studio asks of both server modes: the supervisor with its subgraphs, and the schemas."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from langgraph_sdk import get_client
from server_fixtures import API_KEYS, ROOT, TEST_GRAPHS, dev_server, durable_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOVA_GRAPHS: dict[str, str] = json.loads((ROOT / "langgraph.json").read_text())["graphs"]


@pytest.fixture(scope="module", params=["dev", "durable"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str | None]]:
    """Yield (URL, API key) of a server of each mode serving Nova's langgraph.json graphs."""
    data_dir = tmp_path_factory.mktemp(f"studio-{request.param}")
    if request.param == "dev":
        with dev_server(data_dir) as url:
            yield url, None
    else:
        with durable_server(data_dir, NOVA_GRAPHS) as server:
            yield server.url, API_KEYS["alice"]


def ask(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def client_of(served: tuple[str, str | None]) -> Any:
    url, key = served
    return get_client(url=url, api_key=key)


async def test_graph_endpoint_shows_the_supervisor_with_its_subgraphs(
    served: tuple[str, str | None],
) -> None:
    client = client_of(served)
    [nova] = await client.assistants.search(graph_id="nova")
    graph = await client.assistants.get_graph(nova["assistant_id"], xray=True)
    nodes = {node["id"] for node in graph["nodes"]}
    assert {"intake", "recall", "route", "respond", "summarize"} <= nodes
    for subgraph in ("chat", "erp", "translation", "pipeline"):
        assert {f"{subgraph}:enter", f"{subgraph}:agent", f"{subgraph}:tools"} <= nodes, subgraph
    edges = {(edge["source"], edge["target"]) for edge in graph["edges"]}
    assert ("intake", "recall") in edges and ("recall", "route") in edges
    # dispatch is the edge from route to each subgraph (or straight to respond)
    subgraphs = ("chat", "erp", "translation", "pipeline")
    assert {("route", f"{s}:enter") for s in subgraphs} | {("route", "respond")} <= edges
    flat = await client.assistants.get_graph(nova["assistant_id"])
    assert {node["id"] for node in flat["nodes"]} >= {"chat", "erp", "translation", "pipeline"}


async def test_schemas_endpoint_returns_input_output_and_context(
    served: tuple[str, str | None],
) -> None:
    client = client_of(served)
    [nova] = await client.assistants.search(graph_id="nova")
    schemas = await client.assistants.get_schemas(nova["assistant_id"])
    assert set(schemas["input_schema"]["properties"]) == {"messages"}
    assert {"messages", "route", "agent_run", "answer"} <= set(
        schemas["output_schema"]["properties"]
    )
    assert {"project", "user_id", "model", "agent"} <= set(schemas["context_schema"]["properties"])


@pytest.fixture(scope="module")
def studio_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A durable server whose operator enabled Studio without auth."""
    data_dir = tmp_path_factory.mktemp("studio-open")
    graphs = {"memory": TEST_GRAPHS["memory"]}
    with durable_server(data_dir, graphs, {"NOVA_SERVER_STUDIO_WITHOUT_AUTH": "true"}) as server:
        yield server.url


async def test_studio_without_auth_is_one_more_user_with_its_own_threads_and_memory(
    studio_server: str,
) -> None:
    """Enabled explicitly, Studio gets in without a key, as ``langgraph-studio-user``.

    It sees its own threads and memory, nobody else's, and nobody sees its.
    (``tests/test_server_durable.py::test_auth_matrix`` shows it refused when not enabled.)
    """
    studio = get_client(url=studio_server, api_key=None, headers={"x-auth-scheme": "langsmith"})
    alice = get_client(url=studio_server, api_key=API_KEYS["alice"])
    context = {"project": "parts-shop", "agent": "memory_curator"}

    async def ask_memory(client: Any, text: str) -> str:
        thread = await client.threads.create()
        output = await client.runs.wait(
            thread["thread_id"], "memory", input=ask(text), context=context
        )
        return str(output["answer"])

    assert "Saved [mem:" in await ask_memory(studio, "remember: Studio note: pallet PL-4410.")
    assert "Saved [mem:" in await ask_memory(alice, "remember: Alice note: crate CR-1177.")

    assert "PL-4410" in await ask_memory(studio, "recall: pallet PL-4410")
    assert "CR-1177" not in await ask_memory(studio, "recall: crate CR-1177")
    assert "PL-4410" not in await ask_memory(alice, "recall: pallet PL-4410")
    assert "CR-1177" in await ask_memory(alice, "recall: crate CR-1177")

    studio_threads = await studio.threads.search(limit=100)
    assert {t["metadata"]["owner"] for t in studio_threads} == {"langgraph-studio-user"}
    assert {t["metadata"]["owner"] for t in await alice.threads.search(limit=100)} == {"alice"}
