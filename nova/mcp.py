"""MCP servers as configuration: what a project or an agent names, validated like the rest.

A project (``projects.yaml``: ``mcp_servers:``) or an agent file (``mcp_servers:``) lists
MCP servers, each a stdio command or a streamable-HTTP URL, with the tools its agents may
use (``tools``) and the ones that change something and so need the owner's approval
(``mutating``). ``tools.mcp`` connects to them with ``langchain-mcp-adapters``; this module
holds only the data, so ``nova.projects`` and ``nova.catalog`` can use it without loading
any MCP code.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SERVER_NAME_PATTERN = r"^[a-z][a-z0-9]{1,30}$"
"""Lower-case letters and digits: the prefix of the server's tool names (``<server>_<tool>``)."""

McpTransport = Literal["stdio", "streamable_http"]


class McpServer(BaseModel):
    """One MCP server and which of its tools Nova's agents may call.

    Exactly one of ``command`` (a stdio server Nova starts and keeps running) or ``url``
    (a streamable-HTTP endpoint) is given. ``${VAR}`` in ``env`` and ``headers`` values is
    read from Nova's environment when connecting, so tokens stay out of the file.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=SERVER_NAME_PATTERN)
    """Short id; Nova names the server's tools ``<name>_<tool>`` in agents and projects."""
    command: str | None = None
    """Executable of a stdio server (``npx``, ``uvx``, ``python``…)."""
    args: tuple[str, ...] = ()
    """Arguments of ``command``."""
    env: dict[str, str] | None = None
    """Environment of the stdio server (default: the MCP SDK's safe subset of Nova's)."""
    cwd: str | None = None
    """Working directory of the stdio server."""
    url: str | None = Field(default=None, pattern=r"^https?://")
    """Streamable-HTTP endpoint (``http://127.0.0.1:8000/mcp``)."""
    headers: dict[str, str] = Field(default_factory=dict)
    """HTTP headers sent to ``url`` (``Authorization: Bearer ${TOKEN}``)."""
    tools: Literal["all"] | tuple[str, ...] = "all"
    """The server's tools (its own names, without the prefix) agents may use, or ``all``."""
    mutating: tuple[str, ...] = ()
    """Tools that change something: each call pauses for the owner's approval first."""
    agents: Literal["all"] | tuple[str, ...] = "all"
    """In a project: the agents that get these tools (ignored in an agent's own file)."""
    timeout_s: float | None = Field(default=None, gt=0, le=600)
    """Seconds one call may take (default ``NOVA_MCP_TIMEOUT_S``)."""

    @field_validator("tools", "agents", mode="before")
    @classmethod
    def _list_to_tuple(cls, value: object) -> object:
        return tuple(value) if isinstance(value, list) else value

    @model_validator(mode="after")
    def _one_transport(self) -> McpServer:
        if (self.command is None) == (self.url is None):
            raise ValueError(
                f"MCP server {self.name!r} needs exactly one of command (stdio) or url "
                "(streamable HTTP)"
            )
        if self.url is not None and (self.args or self.env or self.cwd):
            raise ValueError(
                f"MCP server {self.name!r}: args, env and cwd apply to stdio servers only"
            )
        if self.command is not None and self.headers:
            raise ValueError(f"MCP server {self.name!r}: headers apply to url servers only")
        if self.tools != "all":
            stray = [name for name in self.mutating if name not in self.tools]
            if stray:
                raise ValueError(
                    f"MCP server {self.name!r}: mutating tools {stray} are not in its tools list"
                )
        return self

    @property
    def transport(self) -> McpTransport:
        """``stdio`` for a command, ``streamable_http`` for a URL."""
        return "stdio" if self.command is not None else "streamable_http"

    @functools.cached_property
    def key(self) -> str:
        """Hash of how to reach the server: one connection per distinct key and process."""
        how = self.model_dump(
            mode="json", include={"command", "args", "env", "cwd", "url", "headers"}
        )
        return hashlib.sha256(json.dumps(how, sort_keys=True).encode()).hexdigest()[:16]

    @functools.cached_property
    def config_key(self) -> str:
        """Hash of the whole entry (which tools, which mutate, timeouts) as well as the key."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]

    def tool_name(self, tool: str) -> str:
        """Return the name Nova gives the server's tool ``tool`` (``<server>_<tool>``)."""
        return f"{self.name}_{tool}"

    def allows(self, tool: str) -> bool:
        """Return whether agents may use the server's tool ``tool`` (its own name)."""
        return self.tools == "all" or tool in self.tools

    def serves_agent(self, agent: str) -> bool:
        """Return whether a project's server offers its tools to agent ``agent``."""
        return self.agents == "all" or agent in self.agents


def check_unique_servers(servers: tuple[McpServer, ...]) -> tuple[McpServer, ...]:
    """Refuse two servers with one name in one list (their tools would share names)."""
    seen: set[str] = set()
    for server in servers:
        if server.name in seen:
            raise ValueError(f"MCP server names must be unique: {server.name!r} appears twice")
        seen.add(server.name)
    return servers
