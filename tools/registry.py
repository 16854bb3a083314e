"""Nova's tools by name: the catalog refers to tools by these names.

Each tool module exports ``TOOLS: list[BaseTool]``; the registry collects them once and
refuses two tools with one name.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterable

from langchain_core.tools import BaseTool

TOOL_MODULES: tuple[str, ...] = (
    "tools.general",
    "tools.language",
    "tools.glossary",
    "tools.pipelines",
    "tools.web",
    "tools.memory_tools",
    "tools.erp",
    "tools.improve",
)
"""Modules whose ``TOOLS`` make up the registry."""


class UnknownToolError(KeyError):
    """A name asked for is not in the registry."""

    def __str__(self) -> str:
        return str(self.args[0])


@functools.cache
def tool_registry() -> dict[str, BaseTool]:
    """Return every registered tool by name (imported once per process)."""
    registry: dict[str, BaseTool] = {}
    owners: dict[str, str] = {}
    for module_name in TOOL_MODULES:
        module = importlib.import_module(module_name)
        for tool in module.TOOLS:
            if tool.name in registry:
                raise ValueError(
                    f"Tool names must be unique: {tool.name!r} is defined in "
                    f"{owners[tool.name]} and {module_name}"
                )
            registry[tool.name] = tool
            owners[tool.name] = module_name
    return registry


def get_tools(names: Iterable[str]) -> list[BaseTool]:
    """Return the tools called ``names``, in order.

    Raises:
        UnknownToolError: naming every unknown tool and listing the known ones.

    """
    registry = tool_registry()
    names = list(names)
    unknown = [name for name in names if name not in registry]
    if unknown:
        raise UnknownToolError(
            f"Unknown tool(s) {unknown}; registered tools: {', '.join(sorted(registry))}"
        )
    return [registry[name] for name in names]


_IDEMPOTENT: set[str] = set()


def declare_idempotent(tool: BaseTool) -> BaseTool:
    """Declare that ``tool`` only reads (a lookup that is safe to call again).

    Called again with the same arguments, it changes nothing and, on unchanged data,
    returns the same result. Blame re-runs such tools to check a recorded result
    (``nodes.detectors``); a tool that writes, sends or depends on the clock must not
    declare it.
    """
    _IDEMPOTENT.add(tool.name)
    return tool


def is_idempotent(name: str) -> bool:
    """Whether the tool called ``name`` declared itself a read-only lookup."""
    tool_registry()  # the declarations happen when the tool modules are imported
    return name in _IDEMPOTENT
