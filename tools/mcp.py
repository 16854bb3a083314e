"""MCP servers' tools as Nova tools, through ``langchain-mcp-adapters``.

A project or an agent names MCP servers (``nova.mcp.McpServer``). ``mcp_tools_for`` gives
an agent the tools it may use in a project, named ``<server>_<tool>``; the tool node's gate
(``nodes.agent``) checks them like registry tools, asks the owner before a ``mutating``
one runs (``approve_mcp_call``) and records every failure.

Sessions are kept, not opened per call: ``MultiServerMCPClient.get_tools()`` opens a new
session (for stdio: a new server process) on every tool call, which costs a process start
and an MCP handshake each time. Here one background event loop per process holds one
session per distinct server configuration (``McpServer.key``) open, listed once; a call is
sent on that session from whichever thread runs the tool. A session that breaks (the
server exited, the connection dropped) is closed and reopened on next use; a server that
cannot be reached is left alone for ``NOVA_MCP_RETRY_AFTER_S`` so a run does not stall on
it again at every step.

Provenance: an MCP tool's output is text from outside Nova, so every such tool carries
``metadata["untrusted"] = True`` (with ``provenance="mcp"``, its server and tool) and is
declared untrusted with ``nova.provenance``; the gate stamps each result
(``additional_kwargs["nova_provenance"]``), fences it in prompts, and traces write and
egress arguments back to it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command

from nova.mcp import McpServer
from nova.provenance import declare_untrusted
from nova.settings import get_settings

if TYPE_CHECKING:
    from nova.catalog import AgentSpec
    from nova.projects import Project

log = logging.getLogger(__name__)

T = TypeVar("T")

MCP_APPROVAL_KIND = "mcp_tool_approval"
"""``type`` of the interrupt that shows a mutating MCP call before it is sent."""

FAILURE_KEY = "nova_mcp_failure"
"""Key of a tool result's artifact saying the call failed: ``{kind, error_type, server}``."""


class McpUnavailable(RuntimeError):
    """An MCP server could not be started, reached or initialised."""


# --- the background loop that owns every session -----------------------------------------


class _Loop:
    """One asyncio loop in a daemon thread: MCP sessions live (and are used) only there."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="nova-mcp-loop", daemon=True
                )
                thread.start()
                self._loop = loop
            return self._loop

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float) -> T:
        """Run ``coroutine`` on the loop; after ``timeout_s`` cancel it, raise ``TimeoutError``."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop())
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError from None


@dataclass(eq=False)
class _Session:
    """One open session to one server, held open by a task on the background loop."""

    server: McpServer
    tools: dict[str, BaseTool] = field(default_factory=dict)
    """The adapter's tools by the server's own names."""
    built: dict[str, list[BaseTool]] = field(default_factory=dict)
    """Nova's tools on this session, per server entry (``McpServer.config_key``)."""
    stop: asyncio.Event | None = None
    task: asyncio.Task[None] | None = None
    broken: bool = False


_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def _connection(server: McpServer, timeout_s: float) -> dict[str, Any]:
    # The adapters' connection dicts; they expand ${VAR} in a stdio server's env themselves.
    def expand(value: str) -> str:
        return _VARIABLE.sub(lambda m: os.environ.get(m.group(1), m.group(0)), value)

    if server.transport == "stdio":
        connection: dict[str, Any] = {
            "transport": "stdio",
            "command": server.command,
            "args": list(server.args),
        }
        if server.env is not None:
            connection["env"] = dict(server.env)
        if server.cwd is not None:
            connection["cwd"] = server.cwd
        return connection
    return {
        "transport": "streamable_http",
        "url": server.url,
        "headers": {key: expand(value) for key, value in server.headers.items()},
        "timeout": timeout_s,
    }


class McpHub:
    """Per-process registry of open MCP sessions and the Nova tools built on them."""

    def __init__(self) -> None:
        """Start nothing yet: the loop and each session open on first use."""
        self._loop = _Loop()
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._opening: dict[str, threading.Lock] = {}
        self._down: dict[str, tuple[float, str]] = {}
        """``key -> (monotonic time of the failure, why)`` for servers that could not be reached."""

    # -- sessions --

    async def _hold(self, session: _Session, ready: asyncio.Future[None]) -> None:
        from langchain_mcp_adapters.sessions import create_session
        from langchain_mcp_adapters.tools import load_mcp_tools

        settings = get_settings()
        session.stop = asyncio.Event()
        try:
            async with create_session(
                # HTTP reads wait as long as a call may take; connecting is bounded by the caller.
                _connection(session.server, session.server.timeout_s or settings.mcp_timeout_s)  # type: ignore[arg-type]
            ) as client:
                await client.initialize()
                listed = await load_mcp_tools(client, server_name=session.server.name)
                session.tools = {tool.name: tool for tool in listed}
                ready.set_result(None)
                await session.stop.wait()
        except BaseException as error:  # the server's own failure, whatever its type
            if not ready.done():
                ready.set_exception(error)
            session.broken = True
            if not isinstance(error, asyncio.CancelledError | Exception):
                raise

    async def _open(self, session: _Session) -> None:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        session.task = asyncio.create_task(self._hold(session, ready))
        try:
            await ready
        except BaseException:
            session.task.cancel()
            raise

    def session(self, server: McpServer) -> _Session:
        """Return the open session for ``server``, opening it (once per process) if needed.

        Raises:
            McpUnavailable: the server cannot be started or reached, or did not answer
                within ``NOVA_MCP_CONNECT_TIMEOUT_S`` (then it is left alone for
                ``NOVA_MCP_RETRY_AFTER_S``).

        """
        key = server.key
        settings = get_settings()
        with self._lock:
            found = self._sessions.get(key)
            if found is not None and not found.broken:
                return found
            down = self._down.get(key)
            if down is not None and time.monotonic() - down[0] < settings.mcp_retry_after_s:
                raise McpUnavailable(down[1])
            opening = self._opening.setdefault(key, threading.Lock())
        with opening:  # one thread opens; the others wait for it and share the session
            with self._lock:
                found = self._sessions.get(key)
                if found is not None and not found.broken:
                    return found
            session = _Session(server)
            try:
                self._loop.run(self._open(session), settings.mcp_connect_timeout_s)
            except TimeoutError:
                why = (
                    f"MCP server {server.name!r} did not start or answer within "
                    f"{settings.mcp_connect_timeout_s:g} s"
                )
                self._mark_down(key, why)
                raise McpUnavailable(why) from None
            except Exception as error:
                why = f"MCP server {server.name!r} is unavailable ({_describe(error)})"
                self._mark_down(key, why)
                raise McpUnavailable(why) from None
            with self._lock:
                self._sessions[key] = session
                self._down.pop(key, None)
            log.info("MCP server %s: session open, %d tools", server.name, len(session.tools))
            return session

    def _mark_down(self, key: str, why: str) -> None:
        with self._lock:
            self._down[key] = (time.monotonic(), why)
            self._sessions.pop(key, None)

    def drop(self, server: McpServer) -> None:
        """Close ``server``'s session (if open); the next use opens a fresh one."""
        with self._lock:
            session = self._sessions.pop(server.key, None)
        if session is not None:
            self._close(session)

    def _close(self, session: _Session) -> None:
        session.broken = True
        stop, loop = session.stop, self._loop.loop()
        if stop is not None:
            loop.call_soon_threadsafe(stop.set)

    def close(self) -> None:
        """Close every session (stdio servers exit); used by tests and at shutdown."""
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
            self._down.clear()
        for session in sessions:
            self._close(session)
            if session.task is not None:
                with contextlib.suppress(Exception):
                    self._loop.run(_wait(session.task), 5)

    # -- tools --

    def is_mutating(self, name: str) -> bool:
        """Return whether an open session offers a tool called ``name`` marked mutating."""
        with self._lock:
            sessions = list(self._sessions.values())
        return any(
            tool.name == name and (tool.metadata or {}).get("mutating")
            for session in sessions
            for tools in session.built.values()
            for tool in tools
        )

    def tools(self, server: McpServer) -> list[BaseTool]:
        """Return Nova's tools for the server's tools that ``server`` allows (opening it).

        Raises:
            McpUnavailable: the server cannot be reached (see ``session``).

        """
        session = self.session(server)
        built = session.built.get(server.config_key)
        if built is None:
            built = [
                self._nova_tool(server, tool)
                for name, tool in session.tools.items()
                if server.allows(name)
            ]
            session.built[server.config_key] = built
        return built

    def call(self, server: McpServer, tool: str, arguments: dict[str, Any]) -> tuple[Any, Any]:
        """Call the server's tool ``tool`` on the shared session; return ``(content, artifact)``.

        A failure is returned, not raised, as content saying what happened plus an artifact
        ``{FAILURE_KEY: {kind, error_type, server}}`` that the gate records.
        """
        timeout_s = server.timeout_s or get_settings().mcp_timeout_s
        try:
            session = self.session(server)
        except McpUnavailable as error:
            return _failure(server, "tool_error", "McpUnavailable", f"{error}; try again later")
        adapter_tool = session.tools.get(tool)
        if adapter_tool is None:
            return _failure(
                server,
                "tool_error",
                "McpToolMissing",
                f"MCP server {server.name!r} no longer offers the tool {tool!r}",
            )
        coroutine = getattr(adapter_tool, "coroutine", None)
        assert coroutine is not None, "the adapters' tools are async StructuredTools"
        try:
            content, artifact = self._loop.run(coroutine(**arguments), timeout_s)
        except TimeoutError:
            return _failure(
                server,
                "timeout",
                "McpTimeout",
                f"MCP server {server.name!r} did not answer {tool!r} within {timeout_s:g} s; "
                "the call was abandoned",
            )
        except ToolException as error:  # the server ran the tool and reported an error
            return _failure(server, "tool_error", "McpToolError", str(error))
        except Exception as error:  # the session broke: reopen it on the next call
            self.drop(server)
            return _failure(
                server,
                "tool_error",
                "McpUnavailable",
                f"MCP server {server.name!r} failed during {tool!r} ({_describe(error)}); "
                "Nova reconnects on the next call",
            )
        return _plain(content), artifact

    def _nova_tool(self, server: McpServer, tool: BaseTool) -> BaseTool:
        own_name = tool.name

        def run(**arguments: Any) -> tuple[Any, Any]:
            return self.call(server, own_name, arguments)

        async def arun(**arguments: Any) -> tuple[Any, Any]:
            return await asyncio.to_thread(self.call, server, own_name, arguments)

        nova_tool = StructuredTool(
            name=server.tool_name(own_name),
            description=(tool.description or own_name) + f" (MCP server {server.name})",
            args_schema=tool.args_schema or {"type": "object", "properties": {}},
            func=run,
            coroutine=arun,
            response_format="content_and_artifact",
            metadata={
                **(tool.metadata or {}),
                "untrusted": True,
                "provenance": "mcp",
                "mcp_server": server.name,
                "mcp_tool": own_name,
                "mutating": own_name in server.mutating,
                "timeout_s": server.timeout_s,
            },
        )
        # Whatever an MCP server returns is outside text: fenced in prompts, and a value read
        # only there cannot reach a write or a URL without the owner seeing where it came from.
        return declare_untrusted(nova_tool, f"MCP server {server.name}")


async def _wait(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(BaseException):
        await task


def _describe(error: BaseException) -> str:
    # anyio and the MCP SDK wrap failures in exception groups; name the innermost cause.
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _plain(content: Any) -> Any:
    # The adapters return content blocks; text-only results read better as one string.
    if isinstance(content, list) and all(
        isinstance(block, dict) and block.get("type") == "text" for block in content
    ):
        return "\n".join(str(block.get("text", "")) for block in content)
    return content


def _failure(server: McpServer, kind: str, error_type: str, text: str) -> tuple[str, Any]:
    return f"Error: {text}", {
        FAILURE_KEY: {"kind": kind, "error_type": error_type, "server": server.name}
    }


_hub_lock = threading.Lock()
_hub: McpHub | None = None


def mcp_hub() -> McpHub:
    """Return the process's hub (created on first use)."""
    global _hub
    with _hub_lock:
        if _hub is None:
            _hub = McpHub()
        return _hub


# --- which tools an agent gets ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class McpTools:
    """The MCP tools an agent may use in a project, and the servers that could not be reached."""

    tools: list[BaseTool]
    unavailable: list[str]
    """One line per server that is down, saying why."""


def servers_for(
    agent: str, agent_servers: Iterable[McpServer], project_servers: Iterable[McpServer]
) -> list[McpServer]:
    """Return the servers whose tools agent ``agent`` may use: its own, then the project's."""
    servers = list(agent_servers)
    names = {server.name for server in servers}
    for server in project_servers:
        if server.serves_agent(agent) and server.name not in names:
            servers.append(server)
    return servers


def mcp_tools_for(servers: Iterable[McpServer], *, hub: McpHub | None = None) -> McpTools:
    """Return the tools of ``servers`` that their configuration allows (opening sessions)."""
    hub = hub or mcp_hub()
    tools: list[BaseTool] = []
    unavailable: list[str] = []
    for server in servers:
        try:
            tools.extend(hub.tools(server))
        except McpUnavailable as error:
            unavailable.append(str(error))
    return McpTools(tools, unavailable)


def is_mcp_tool(tool: BaseTool | None) -> bool:
    """Return whether ``tool`` came from an MCP server."""
    return bool(tool is not None and (tool.metadata or {}).get("provenance") == "mcp")


# --- approval of mutating calls ----------------------------------------------------------


def approve_mcp_call(
    request: ToolCallRequest,
    tool: BaseTool,
    execute: Callable[[ToolCallRequest], ToolMessage | Command],
    *,
    refuse: Callable[[str], ToolMessage],
) -> ToolMessage | Command:
    """Pause for the owner's approval of a mutating MCP call, then send it at most once.

    The interrupt shows the server, tool and exact arguments; the answer is the one ERP
    writes take (``nova.erp.approval.ApprovalDecision``). An approved call is recorded
    before it is sent (``nova.ledger.mcp_calls``), so a resumed or replayed run never sends
    it twice.
    """
    from langgraph.config import get_config
    from langgraph.types import interrupt

    from nova.erp.approval import ApprovalDecision
    from nova.ledger.mcp_calls import McpCall, McpCallLedger, call_key

    call = request.tool_call
    name = call["name"]
    arguments = dict(call.get("args") or {})
    siblings = _calls_beside(call.get("id") or "", request.state)
    if any(_needs_approval(other) for other in siblings):
        # Pauses are matched to answers by position within one node run: one change per turn.
        return refuse(
            f"{name} was called together with another change ({', '.join(siblings)}). "
            "Propose one change at a time: call one such tool per turn."
        )
    try:
        thread_id = get_config().get("configurable", {}).get("thread_id")
    except RuntimeError:
        thread_id = None
    if not thread_id:
        return refuse(
            f"{name} changes something and needs the owner's approval: run it through "
            "Nova's graph (a thread with a checkpointer) so it can pause and ask. Nothing was sent."
        )
    key = call_key(str(thread_id), call.get("id") or "", name, arguments)
    ledger = McpCallLedger()
    recorded = ledger.get(key)
    metadata = tool.metadata or {}
    proposal = {
        "type": MCP_APPROVAL_KIND,
        "change": {
            "server": metadata.get("mcp_server"),
            "tool": metadata.get("mcp_tool"),
            "arguments": arguments,
        },
        "idempotency_key": key,
        "how_to_answer": (
            'Resume with Command(resume={"approved": true, "approver": "<your name>"}) to send '
            'it, or Command(resume={"approved": false, "reason": "..."}) to reject.'
        ),
    }
    # Asked even when recorded, so a later pause in this node keeps its position on replay.
    answer = interrupt(proposal)
    if recorded is not None:
        if recorded.status == "done":
            return _message(request, f"Already done, nothing sent now: {recorded.result}")
        return refuse(
            f"{name} was approved and sent before the run was interrupted; Nova does not "
            "send it again. Check its effect on the server before asking again."
        )
    try:
        decision = ApprovalDecision.model_validate(answer)
    except ValueError as error:
        return refuse(f"not sent: the answer to the approval is invalid ({error})")
    if not decision.approved:
        reason = f": {decision.reason}" if decision.reason else ""
        return _message(request, f"Rejected{reason}. Nothing was sent.")
    approver = str(decision.approver)
    started = ledger.start(
        McpCall(
            key=key,
            status="started",
            thread_id=str(thread_id),
            call_id=call.get("id") or "",
            tool=name,
            arguments=arguments,
            approver=approver,
        )
    )
    if not started:
        return refuse(f"{name}: this approved call is already being sent; not sent twice.")
    result = execute(request)
    if isinstance(result, ToolMessage):
        text = result.content if isinstance(result.content, str) else str(result.content)
        ledger.finish(key, text)
        result.content = f"Approved by {approver}. {text}"
    return result


def _message(request: ToolCallRequest, text: str) -> ToolMessage:
    return ToolMessage(
        content=text, name=request.tool_call["name"], tool_call_id=request.tool_call["id"] or ""
    )


def _needs_approval(name: str) -> bool:
    from nova.erp.writes import WRITE_SKILLS

    if name in WRITE_SKILLS:
        return True
    return mcp_hub().is_mutating(name)


def _calls_beside(call_id: str, state: Any) -> list[str]:
    messages = state.get("messages", []) if isinstance(state, dict) else []
    for message in reversed(messages):
        calls = getattr(message, "tool_calls", None) or []
        if any(call.get("id") == call_id for call in calls):
            return [call["name"] for call in calls if call.get("id") != call_id]
    return []


def agent_mcp_tools(spec: AgentSpec, project: Project, *, hub: McpHub | None = None) -> McpTools:
    """Return the MCP tools agent ``spec`` may use in ``project`` (its servers, the project's)."""
    return mcp_tools_for(servers_for(spec.name, spec.mcp_servers, project.mcp_servers), hub=hub)
