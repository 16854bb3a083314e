"""Nova as MCP tools: the server's /mcp endpoint, driven by the ``mcp`` client package.

langgraph-api serves every assistant as an MCP tool over streamable HTTP at ``/mcp``
(``"http": {"disable_mcp": true}`` in langgraph.json turns it off). Both ``langgraph dev``
and the durable server serve Nova's real supervisor here; the durable one only to callers
with a key.
"""

from __future__ import annotations

import ast
import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from server_fixtures import API_KEYS, DurableServer, dev_server, durable_server

REQUEST = "What is 17.5 percent of 2340?"
ANSWER = "17.5% of 2,340.00 = 409.50"
"""The calculator's model-free answer: the request needs no model, so no model is configured."""


async def _list_and_call(
    url: str, headers: dict[str, str] | None, arguments: dict[str, Any]
) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    async with (
        httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(30, read=300)) as http,
        streamable_http_client(f"{url}/mcp", http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        listed = await session.list_tools()
        result = await session.call_tool("nova", arguments)
    assert not result.isError, result.content
    text = result.content[0].text  # type: ignore[union-attr]
    schema = next(tool.inputSchema for tool in listed.tools if tool.name == "nova")
    # langgraph-api answers with the run's output as a Python literal (``repr``).
    return [tool.name for tool in listed.tools], ast.literal_eval(text), schema


def _cache_env() -> dict[str, str]:
    # The session's router and encoder caches: the servers do not fit the router again.
    return {
        name: os.environ[name]
        for name in ("NOVA_ROUTER_CACHE_DIR", "NOVA_ENCODER_CACHE_DIR")
        if name in os.environ
    }


@pytest.mark.integration
@pytest.mark.slow
def test_dev_server_serves_nova_over_mcp(tmp_path: Path) -> None:
    with dev_server(tmp_path / "data", _cache_env()) as url:
        names, output, schema = asyncio.run(_list_and_call(url, None, {"messages": REQUEST}))
    assert {"nova", "chat", "erp", "translation", "pipeline"} <= set(names)
    assert "messages" in schema["properties"]
    assert ANSWER in output["answer"]
    assert output["route"]["agent"] == "calculator"


@pytest.fixture(scope="module")
def durable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DurableServer]:
    data_dir = tmp_path_factory.mktemp("durable-mcp")
    env = {"NOVA_SERVER_WORKERS": "1", **_cache_env()}
    with durable_server(data_dir, {"nova": "graphs.nova:graph"}, env) as running:
        yield running


@pytest.mark.integration
@pytest.mark.slow
def test_durable_server_serves_nova_over_mcp_to_authenticated_callers(
    durable: DurableServer,
) -> None:
    headers = {"x-api-key": API_KEYS["alice"]}
    arguments = {"messages": [{"role": "user", "content": REQUEST}]}
    names, output, _ = asyncio.run(_list_and_call(durable.url, headers, arguments))
    assert "nova" in names
    assert ANSWER in output["answer"]

    # Without a key (or with a wrong one) the endpoint answers 401/403 and runs nothing.
    list_tools = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/list",
        "params": {},
    }
    accept = {"accept": "application/json, text/event-stream"}
    for bad in ({}, {"x-api-key": "not-a-key"}):
        response = httpx.post(f"{durable.url}/mcp", json=list_tools, headers={**accept, **bad})
        assert response.status_code in (401, 403), response.text


@pytest.mark.parametrize("disabled", [False, True])
def test_the_durable_server_gets_the_mcp_switch_of_langgraph_json(
    tmp_path: Path, disabled: bool
) -> None:
    import json

    from nova.server.launch import DEV_APP_PATH, durable_env
    from nova.settings import load_settings

    config = tmp_path / "langgraph.json"
    http = {"app": DEV_APP_PATH, "disable_mcp": disabled}
    config.write_text(json.dumps({"graphs": {"nova": "graphs.nova:graph"}, "http": http}))
    env = durable_env(
        config, load_settings(server_api_keys="alice:0123456789abcdef0123"), base_env={}
    )
    assert json.loads(env["LANGGRAPH_HTTP"]) == {"disable_mcp": disabled}


def test_nova_serves_its_mcp_endpoint_by_default() -> None:
    import json

    config = json.loads((Path(__file__).parents[1] / "langgraph.json").read_text())
    assert config["http"]["disable_mcp"] is False
