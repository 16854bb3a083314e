"""Memory tools: search, save and forget project memories, and describe the current project.

The scope always comes from the run, never from the model: the project from
``NovaContext.project``, then the state's ``project``, then ``NOVA_DEFAULT_PROJECT``; the
owner from ``NovaContext.user_id`` (the authenticated user on the durable server, the local
owner when unset). No args schema here has a project or user field, and each forbids extra
fields, so a call such as ``memory_search(query=..., project="parts-shop")`` is refused
with a validation error instead of being answered from another scope. ``runtime`` is
injected by LangGraph's ``ToolNode`` and is invisible to the model.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, ToolException, tool
from langgraph.prebuilt import ToolRuntime
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from memory.items import MemoryKind
from memory.store import MemoryNotFoundError, MemoryStore, default_memory_store
from nova.projects import Project, load_projects
from nova.provenance import (
    UNTRUSTED_MEMORY_KINDS,
    declare_provenance,
    declare_trusted,
    memory_trusted,
)
from tools.scope import current_project, current_user, runtime_field

_open_store = default_memory_store
"""How the tools reach the store (tests may replace it; settings decide where it lives)."""

Runtime = ToolRuntime[Any, Any]
MemoryIdStr = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^(mem:)?[0-9a-f]{16}$")
]


def _agent(runtime: Runtime) -> str | None:
    route = runtime_field(runtime.state, "route")
    agent = runtime_field(route, "agent")
    return str(agent) if agent else None


class _Args(BaseModel):
    # extra="forbid": a model that adds e.g. ``project`` gets an error, not another scope.
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    runtime: Runtime
    """Injected by the tool node; not part of the schema the model sees."""


class MemorySearchArgs(_Args):
    """Arguments of ``memory_search``."""

    query: str = Field(
        min_length=1, max_length=1000, description="What to look for, in plain words"
    )
    k: int = Field(default=5, ge=1, le=20, description="How many memories to return")
    kind: MemoryKind | None = Field(
        default=None,
        description="Only memories of this kind: fact, decision, preference, document_chunk, "
        "conversation_summary",
    )


class MemorySaveArgs(_Args):
    """Arguments of ``memory_save``."""

    text: str = Field(
        min_length=3,
        max_length=2000,
        description="One clear, self-contained statement, e.g. 'Acme wants deliveries on Tuesdays'",
    )
    kind: MemoryKind = Field(default="fact", description="fact, decision or preference")
    topic: str | None = Field(
        default=None,
        max_length=80,
        description="Short subject key (e.g. 'payment-terms'); a later decision with the same "
        "topic replaces this one, keeping its history",
    )


class MemoryForgetArgs(_Args):
    """Arguments of ``memory_forget``."""

    memory_id: MemoryIdStr = Field(
        description="Id of the memory to delete, e.g. 'mem:3f2a9c01b4d5e6f7'"
    )


class ProjectInfoArgs(_Args):
    """``project_info`` takes no arguments: it describes the run's own project."""


def _store(runtime: Runtime) -> MemoryStore:
    """Return the store of the run's user (the local owner's when the run has none)."""
    return _open_store().for_owner(current_user(runtime))


@tool("memory_search", args_schema=MemorySearchArgs)
def memory_search(query: str, runtime: Runtime, k: int = 5, kind: MemoryKind | None = None) -> str:
    """Search the current project's long-term memory; returns matching memories with their ids."""
    project = current_project(runtime)
    hits = _store(runtime).search(project, query, k=k, kinds=[kind] if kind else None)
    if not hits:
        return f"No memories in project {project} match {query!r}."
    lines = [f"{len(hits)} memories from project {project} (best first):"]
    lines += [
        f"[mem:{h['id']}] ({h['kind']}, score {h['score']:.2f}"
        f"{'' if memory_trusted(h) else ', from untrusted content'}) {h['text']}"
        for h in hits
    ]
    return "\n".join(lines)


_HIT_LINE = re.compile(r"^\[mem:[0-9a-f]+\] \((?P<kind>[a-z_]+), score [\d.]+(?P<flag>[^)]*)\) ")


def untrusted_hits(message: ToolMessage) -> list[str]:
    """Return the search hits that came from untrusted content (imports, summaries)."""
    spans = []
    for line in str(message.content).splitlines():
        match = _HIT_LINE.match(line)
        if match and (match["kind"] in UNTRUSTED_MEMORY_KINDS or match["flag"]):
            spans.append(line[match.end() :])
    return spans


@tool("memory_save", args_schema=MemorySaveArgs)
def memory_save(
    text: str, runtime: Runtime, kind: MemoryKind = "fact", topic: str | None = None
) -> str:
    """Save a fact, decision or preference in the current project's long-term memory."""
    if kind in ("document_chunk", "conversation_summary"):
        raise ToolException(
            f"memory_save stores facts, decisions and preferences, not {kind}; documents are "
            "imported with `nova memory import`, summaries are written by Nova itself"
        )
    project = current_project(runtime)
    agent = _agent(runtime)
    result = _store(runtime).save(
        project, text, kind=kind, topic=topic, source=f"agent:{agent}" if agent else "agent"
    )
    item = result.item
    if result.status == "existing":
        return f"Already in memory as [mem:{item.id}] (project {project}); nothing new was stored."
    message = f"Saved [mem:{item.id}] ({item.kind}) in project {project}."
    if result.superseded:
        replaced = ", ".join(f"[mem:{old}]" for old in result.superseded)
        message += (
            f" It supersedes {replaced}, which stays in the history but is no longer recalled."
        )
    return message


@tool("memory_forget", args_schema=MemoryForgetArgs)
def memory_forget(memory_id: str, runtime: Runtime) -> str:
    """Delete one memory, by id, from the current project's long-term memory."""
    project = current_project(runtime)
    item_id = memory_id.removeprefix("mem:")
    try:
        item = _store(runtime).forget(project, item_id)
    except MemoryNotFoundError:
        raise ToolException(
            f"No memory [mem:{item_id}] in project {project}; search with memory_search to find "
            "the right id"
        ) from None
    return f"Forgot [mem:{item.id}] ({item.kind}): {item.text}"


def describe_project(project: Project) -> str:
    """Describe ``project`` for a model: name, description, agents, tools and glossary."""

    def allowed(value: object) -> str:
        return "all" if value == "all" else ", ".join(value)  # type: ignore[arg-type]

    lines = [
        f"Project: {project.name} (id {project.id})",
        f"Description: {project.description}",
        f"Allowed agents: {allowed(project.allowed_agents)}",
        f"Allowed tools: {allowed(project.allowed_tools)}",
    ]
    if project.glossary:
        lines.append("Glossary:")
        for term in project.glossary:
            details = [f"{lang}: {text}" for lang, text in sorted(term.translations.items())]
            if term.protected:
                details.insert(0, "protected, never translate")
            note = f" — {term.note}" if term.note else ""
            lines.append(
                f"- {term.term} ({'; '.join(details) or 'no approved translations'}){note}"
            )
    return "\n".join(lines)


@tool("project_info", args_schema=ProjectInfoArgs)
def project_info(runtime: Runtime) -> str:
    """Describe the current project: name, description, allowed agents and tools, glossary."""
    return describe_project(load_projects().get(current_project(runtime)))


for _tool in (memory_search, memory_save, memory_forget, project_info):
    _tool.handle_tool_error = True  # a bad id or kind becomes a message the model can act on
declare_provenance(memory_search, untrusted_hits)
for _tool in (memory_save, memory_forget, project_info):
    declare_trusted(_tool)

TOOLS: list[BaseTool] = [memory_search, memory_save, memory_forget, project_info]
