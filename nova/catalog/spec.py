"""The agent catalog's schema: each agent is versioned data, validated by ``AgentSpec``."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nova.mcp import McpServer, check_unique_servers

AgentGroup = Literal["chat", "erp", "translation", "pipeline", "other"]

NAME_PATTERN = r"^[a-z][a-z0-9_]{1,62}$"


class RoutableAgent(BaseModel):
    """The least an agent file needs for routing: a name, a description and examples.

    Any catalog directory whose files hold these three fields can be routed
    (``Router.from_catalog``), not only Nova's own.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    """Unique snake_case name; also the agent's id in ledgers and traces."""
    description: str = Field(min_length=10)
    """What the agent handles, in one or two sentences; also used for routing."""
    examples: tuple[str, ...] = Field(min_length=1)
    """Requests this agent should receive, phrased as a user would."""

    @field_validator("examples")
    @classmethod
    def _no_blank_or_repeated_examples(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(example.strip() for example in value)
        if any(not example for example in cleaned):
            raise ValueError("examples must not be blank")
        seen: set[str] = set()
        repeated = [e for e in cleaned if e.lower() in seen or seen.add(e.lower())]  # type: ignore[func-returns-value]
        if repeated:
            raise ValueError(f"examples repeat: {repeated[:3]}")
        return cleaned


class ModelChoice(BaseModel):
    """Which chat model an agent uses; settings may override the name for every agent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    """Model name on the configured endpoint; ``None`` uses ``NOVA_MODEL_NAME``."""
    temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    """Sampling temperature."""
    fallback: str | None = None
    """Model to try when the first one fails after its retries; its use is recorded."""
    max_tokens: int | None = Field(default=None, gt=0)
    """Upper bound on generated tokens per call."""


class AgentSpec(RoutableAgent):
    """One of Nova's agents: prompt, tools, model and examples, as a versioned record."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    """Human version (semver), bumped by whoever edits the prompt or tools."""
    group: AgentGroup
    """Subgraph that runs the agent: chat, erp, translation, pipeline (``other`` runs in chat)."""
    examples: tuple[str, ...] = Field(min_length=15)
    """At least 15 requests this agent should receive; the router learns from them."""
    prompt: str = Field(min_length=40)
    """System prompt given to the model."""
    tools: tuple[str, ...] = ()
    """Tool names from Nova's tool registry (``tools.registry``)."""
    model: ModelChoice = ModelChoice()
    """Model choice; see ``ModelChoice``."""
    output_schema: dict[str, Any] | None = None
    """Optional JSON Schema the agent's final answer must satisfy."""
    checks: tuple[str, ...] = ()
    """Names of assumption checks run on what this agent produces."""
    max_steps: int = Field(default=6, ge=1, le=50)
    """Most model turns in the agent's tool-calling loop."""
    # Left out of dumps while at its default, so other agents' files and dumps are unchanged.
    works_on: Literal["request", "supplied_text"] = Field(
        default="request", exclude_if=lambda value: value == "request"
    )
    """What the agent works on: the request itself, or a text the owner supplies with it
    (translate, proofread, summarise or change the tone of *this*). The route does not send
    a request that carries and points to no text to a ``supplied_text`` agent
    (``nodes.text_route``)."""
    # Left out of dumps while empty, so agents without MCP servers keep their version hashes.
    mcp_servers: tuple[McpServer, ...] = Field(default=(), exclude_if=lambda value: not value)
    """MCP servers whose tools (``<server>_<tool>``) this agent may use, in every project."""

    @field_validator("mcp_servers")
    @classmethod
    def _unique_servers(cls, value: tuple[McpServer, ...]) -> tuple[McpServer, ...]:
        return check_unique_servers(value)

    @property
    def subgraph(self) -> Literal["chat", "erp", "translation", "pipeline"]:
        """The subgraph that runs this agent."""
        return "chat" if self.group == "other" else self.group

    @property
    def content_version(self) -> str:
        """Hash of prompt + tools + model + examples: changes whenever behaviour can change."""
        payload: dict[str, Any] = {
            "prompt": self.prompt,
            "tools": list(self.tools),
            "model": self.model.model_dump(),
            "examples": list(self.examples),
            "output_schema": self.output_schema,
            "checks": list(self.checks),
            "max_steps": self.max_steps,
        }
        if self.mcp_servers:
            payload["mcp_servers"] = [server.model_dump(mode="json") for server in self.mcp_servers]
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        return digest[:12]

    @property
    def version_label(self) -> str:
        """``name@version+content`` as recorded in ledgers and traces."""
        return f"{self.name}@{self.version}+{self.content_version}"
