"""MCP servers' tools through the whole supervisor graph, against real MCP server processes.

The ticket server (``tests/mcp_server.py``, FastMCP) runs over stdio (Nova starts it) and
over streamable HTTP (the test starts it); a scripted model calls its tools; the gate,
approval, failure ledger, provenance and traces are Nova's real ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from graphs.nova import build_nova_graph
from nova.ledger.failures import FailureLedger
from nova.ledger.mcp_calls import McpCallLedger
from nova.mcp import McpServer
from nova.settings import get_settings
from nova.state import NovaContext
from nova.testing import ScriptedChatModel, ScriptedModels, calls, says, tool_call
from nova.tracing import TraceStore, flush_traces, tracing_callbacks
from nova.userdata import user_agents_dir, user_projects_file
from tests.mcp_fixtures import http_server, stdio_server
from tools.mcp import mcp_hub

AGENT = "bug_triage"


@pytest.fixture(autouse=True)
def _fresh_hub() -> Iterator[None]:
    yield
    mcp_hub().close()  # each test's stdio servers exit; sessions never leak between tests


def add_project(*servers: McpServer, allowed_tools: Any = "all") -> None:
    path = user_projects_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "id": "tracker",
        "name": "Tracker",
        "description": "The owner's issue tracker, reached over MCP.",
        "allowed_tools": allowed_tools,
        "mcp_servers": [
            server.model_dump(mode="json", exclude_defaults=True) for server in servers
        ],
    }
    path.write_text(yaml.safe_dump({"projects": [entry]}))


def ask(
    model: ScriptedChatModel, text: str, *, thread: str = "t1", callbacks: Any = None
) -> tuple[Any, dict[str, Any]]:
    graph = build_nova_graph(model_factory=ScriptedModels({AGENT: model})).compile(
        checkpointer=InMemorySaver()
    )
    config: dict[str, Any] = {"configurable": {"thread_id": thread}}
    if callbacks:
        config["callbacks"] = callbacks
    result = graph.invoke(
        {"messages": [HumanMessage(text)]},
        config,
        context=NovaContext(project="tracker", agent=AGENT),
    )
    return graph, result


def tool_messages(values: dict[str, Any]) -> list[ToolMessage]:
    return [m for m in values["messages"] if isinstance(m, ToolMessage)]


def test_stdio_server_tools_run_through_the_supervisor_with_one_session(tmp_path: Path) -> None:
    tickets = tmp_path / "tickets.json"
    tickets.write_text(json.dumps({"T-1": {"title": "Login fails", "status": "open"}}))
    add_project(stdio_server(tickets))
    model = ScriptedChatModel.from_script(
        [
            calls(tool_call("tickets_get_ticket", ticket_id="T-1")),
            calls(tool_call("tickets_server_pid")),
            calls(tool_call("tickets_server_pid")),
            says("T-1 is open: Login fails."),
        ]
    )
    _, result = ask(
        model, "What is the state of ticket T-1?", callbacks=tracing_callbacks(exporters=False)
    )

    assert result["answer"] == "T-1 is open: Login fails."
    found, first_pid, second_pid = tool_messages(result)
    assert found.content == "T-1: Login fails (open)" and found.status == "success"
    # The tool's output is marked untrusted, with where it came from.
    stamped = found.additional_kwargs["nova_provenance"]
    assert stamped["trust"] == "untrusted"
    assert stamped["source"] == "MCP server tickets"
    assert stamped["spans"] == ["T-1: Login fails (open)"]
    # One server process answered every call: the session is kept, not reopened per call.
    assert first_pid.content == second_pid.content
    # The model was offered the server's tools next to the agent's own, prefixed.
    assert {"project_info", "tickets_get_ticket", "tickets_create_ticket"} <= set(
        model.bound_tools[0]
    )
    # Traced like any tool.
    assert flush_traces(10)
    [summary] = TraceStore().list(thread_id="t1")
    trace = TraceStore().get(summary.run_id[:12])
    traced = [s.name for s in trace.steps if s.run_type == "tool"]
    assert traced == ["tickets_get_ticket", "tickets_server_pid", "tickets_server_pid"]


def test_http_server_named_by_an_agent_file(tmp_path: Path) -> None:
    tickets = tmp_path / "tickets.json"
    with http_server(tickets) as url:
        folder = user_agents_dir()
        folder.mkdir(parents=True, exist_ok=True)
        spec = yaml.safe_load(
            (Path(__file__).parents[1] / "nova/catalog/agents/bug_triage.yaml").read_text()
        )
        spec["mcp_servers"] = [{"name": "remote", "url": url, "tools": ["echo", "get_ticket"]}]
        (folder / "bug_triage.yaml").write_text(yaml.safe_dump(spec))
        add_project()  # the project itself names no server
        model = ScriptedChatModel.from_script(
            [
                calls(tool_call("remote_echo", text="over HTTP")),
                calls(tool_call("remote_create_ticket", title="sneaky")),
                says("done"),
            ]
        )
        _, result = ask(model, "Echo something for me")

    echoed, refused = tool_messages(result)
    assert echoed.content == "over HTTP" and echoed.status == "success"
    # Only the listed tools are offered, and an unlisted one is refused by the gate.
    assert "remote_echo" in model.bound_tools[0]
    assert "remote_create_ticket" not in model.bound_tools[0]
    assert refused.status == "error" and "not available to the bug_triage agent" in refused.content
    assert not tickets.exists(), "the refused call never reached the server"
    [record] = FailureLedger().list()
    assert (
        record.error_type == "ToolNotAllowed" and record.details["tool"] == "remote_create_ticket"
    )


def test_project_tool_allowlist_applies_to_mcp_tools(tmp_path: Path) -> None:
    add_project(stdio_server(tmp_path / "t.json", tools=["echo"]), allowed_tools=["project_info"])
    model = ScriptedChatModel.from_script([calls(tool_call("tickets_echo", text="hi")), says("ok")])
    _, result = ask(model, "echo hi")
    assert [m.content for m in tool_messages(result)] == ["hi"]
    assert "tickets_server_pid" not in model.bound_tools[0]


def test_a_mutating_tool_waits_for_approval_and_is_sent_once(tmp_path: Path) -> None:
    tickets = tmp_path / "tickets.json"
    add_project(stdio_server(tickets, mutating=["create_ticket"]))
    model = ScriptedChatModel.from_script(
        [calls(tool_call("tickets_create_ticket", title="Printer on fire")), *[says("Opened.")] * 3]
    )
    graph, paused = ask(model, "Open a ticket: printer on fire", thread="w1")
    request = paused["__interrupt__"][0].value
    assert request["type"] == "mcp_tool_approval"
    assert request["change"] == {
        "server": "tickets",
        "tool": "create_ticket",
        "arguments": {"title": "Printer on fire"},
    }
    assert not tickets.exists(), "nothing is sent before approval"

    config = {"configurable": {"thread_id": "w1"}}
    context = NovaContext(project="tracker", agent=AGENT)
    paused_at = graph.get_state(config).config
    approve = Command(resume={"approved": True, "approver": "Anna"})
    done = graph.invoke(approve, config, context=context)
    [message] = tool_messages(done)
    assert message.content == "Approved by Anna. created T-1"
    assert list(json.loads(tickets.read_text())) == ["T-1"]

    # The approved call is on record; resuming the paused checkpoint again sends nothing.
    [recorded] = McpCallLedger().list(thread_id="w1")
    assert (recorded.status, recorded.approver, recorded.result) == ("done", "Anna", "created T-1")
    graph.invoke(approve, config, context=context)
    graph.invoke(approve, paused_at, context=context)
    assert list(json.loads(tickets.read_text())) == ["T-1"], "sent exactly once"


def test_a_rejected_mutating_call_sends_nothing(tmp_path: Path) -> None:
    tickets = tmp_path / "tickets.json"
    add_project(stdio_server(tickets, mutating=["create_ticket"]))
    model = ScriptedChatModel.from_script(
        [calls(tool_call("tickets_create_ticket", title="x")), says("Not opened.")]
    )
    graph, _ = ask(model, "Open a ticket", thread="w2")
    done = graph.invoke(
        Command(resume={"approved": False, "reason": "duplicate"}),
        {"configurable": {"thread_id": "w2"}},
        context=NovaContext(project="tracker", agent=AGENT),
    )
    assert tool_messages(done)[-1].content == "Rejected: duplicate. Nothing was sent."
    assert not tickets.exists()


def test_a_server_that_is_down_does_not_stall_the_run(tmp_path: Path) -> None:
    add_project(
        McpServer(name="gone", command=str(tmp_path / "no-such-server")),
        McpServer(name="closed", url="http://127.0.0.1:9/mcp"),
    )
    model = ScriptedChatModel.from_script([says("The tracker is unreachable right now.")])
    started = time.monotonic()
    _, result = ask(model, "What is the state of ticket T-1?")
    assert time.monotonic() - started < get_settings().mcp_connect_timeout_s * 2
    assert result["answer"] == "The tracker is unreachable right now."
    system = model.received[0][0]
    assert isinstance(system, SystemMessage)
    assert "unavailable right now" in system.content and "'gone'" in system.content
    assert "'closed'" in system.content
    records = FailureLedger().list()
    assert sorted(r.error_type for r in records) == ["McpUnavailable", "McpUnavailable"]
    assert all(r.agent == AGENT and r.project == "tracker" for r in records)


def test_a_slow_tool_times_out_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOVA_MCP_TIMEOUT_S", "1")
    get_settings.cache_clear()
    add_project(stdio_server(tmp_path / "t.json"))
    model = ScriptedChatModel.from_script(
        [calls(tool_call("tickets_slow", seconds=30)), says("The tracker is too slow.")]
    )
    started = time.monotonic()
    _, result = ask(model, "slow please")
    assert time.monotonic() - started < 20
    [message] = tool_messages(result)
    assert message.status == "error"
    assert message.content == (
        "Error: MCP server 'tickets' did not answer 'slow' within 1 s; the call was abandoned"
    )
    [record] = FailureLedger().list()
    assert (record.kind, record.error_type, record.details["server"]) == (
        "timeout",
        "McpTimeout",
        "tickets",
    )
    assert message.additional_kwargs["nova_failure"]["id"] == record.id


def test_a_recorded_call_is_never_sent_again(tmp_path: Path) -> None:
    """A crash after sending leaves a ``started`` record: the re-run refuses to send again."""
    from langgraph.prebuilt.tool_node import ToolCallRequest

    from nova.ledger.mcp_calls import McpCall, call_key
    from tools.mcp import approve_mcp_call

    tool = mcp_hub().tools(stdio_server(tmp_path / "t.json", mutating=["create_ticket"]))[1]
    call = tool_call("tickets_create_ticket", title="x")
    key = call_key("crashed", call["id"] or "", call["name"], call["args"])
    McpCallLedger().start(
        McpCall(
            key=key,
            status="started",
            thread_id="crashed",
            call_id=call["id"] or "",
            tool=call["name"],
            arguments=call["args"],
            approver="Anna",
        )
    )
    sent: list[Any] = []

    def refuse(text: str) -> ToolMessage:
        return ToolMessage(content=f"Error: {text}", tool_call_id="x", status="error")

    from unittest import mock

    request = ToolCallRequest(tool_call=call, tool=tool, state={"messages": []}, runtime=None)  # type: ignore[arg-type]
    config = {"configurable": {"thread_id": "crashed"}}
    with (
        mock.patch("langgraph.config.get_config", return_value=config),
        mock.patch("langgraph.types.interrupt", return_value={"approved": True, "approver": "A"}),
    ):
        result = approve_mcp_call(request, tool, sent.append, refuse=refuse)  # type: ignore[arg-type]
    assert not sent
    assert isinstance(result, ToolMessage) and result.status == "error"
    assert "Nova does not send it again" in str(result.content)


def test_nova_mcp_tools_lists_each_servers_tools_and_says_which_is_down(tmp_path: Path) -> None:
    add_project(
        stdio_server(
            tmp_path / "t.json", tools=["get_ticket", "create_ticket"], mutating=["create_ticket"]
        ),
        McpServer(name="gone", command=str(tmp_path / "no-such-server")),
    )
    # A real process: a stdio server's stderr is the CLI's, which CliRunner replaces.
    result = subprocess.run(
        [sys.executable, "-m", "nova.cli", "mcp", "tools", "--project", "tracker", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    tools = {row["tool"]: row for row in rows if "tool" in row}
    assert set(tools) == {
        "tickets_get_ticket",
        "tickets_create_ticket",
        "tickets_echo",
        "tickets_server_pid",
        "tickets_slow",
    }
    assert (
        tools["tickets_create_ticket"]["allowed"]
        and tools["tickets_create_ticket"]["needs_approval"]
    )
    assert not tools["tickets_echo"]["allowed"] and tools["tickets_get_ticket"]["allowed"]
    [down] = [row for row in rows if "error" in row]
    assert down["server"] == "gone" and "'gone' is unavailable" in down["error"]


def test_projects_may_allow_mcp_tools_by_their_server_prefix() -> None:
    from nova.projects import Project, Projects, check_projects

    project = Project.model_validate(
        {
            "id": "tracker",
            "name": "Tracker",
            "description": "The owner's issue tracker.",
            "allowed_tools": ["project_info", "tickets_get_ticket", "remote_echo", "bogus_x"],
            "mcp_servers": [{"name": "tickets", "url": "http://127.0.0.1:9/mcp"}],
        }
    )
    projects = Projects({"tracker": project}, Path("projects.yaml"))
    problems = check_projects(projects, None, {"project_info"}, {"remote"})
    assert problems == ["project 'tracker' allows unknown tool(s) ['bogus_x']"]
    # The project's own servers' tools are allowed by their server entry (``tools: all`` here);
    # an agent's server's tools need allowed_tools when the project restricts tools.
    assert project.allows_tool("tickets_anything")
    assert project.allows_tool("remote_echo") and not project.allows_tool("remote_other")


def test_server_entries_are_validated_with_clear_messages() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="exactly one of command"):
        McpServer(name="both", command="x", url="http://127.0.0.1/mcp")
    with pytest.raises(ValidationError, match="not in its tools list"):
        McpServer(name="odd", command="x", tools=("a",), mutating=("b",))
    with pytest.raises(ValidationError, match="must be unique"):
        from nova.projects import Project

        Project.model_validate(
            {
                "id": "twice",
                "name": "Twice",
                "description": "Two servers, one name.",
                "mcp_servers": [{"name": "dup", "command": "a"}, {"name": "dup", "command": "b"}],
            }
        )


def test_header_tokens_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from tools.mcp import _connection

    monkeypatch.setenv("TRACKER_TOKEN", "s3cret")
    server = McpServer(
        name="remote",
        url="http://127.0.0.1:9/mcp",
        headers={"Authorization": "Bearer ${TRACKER_TOKEN}", "X-Other": "${UNSET_VAR}"},
    )
    headers = _connection(server, 5)["headers"]
    assert headers == {"Authorization": "Bearer s3cret", "X-Other": "${UNSET_VAR}"}
