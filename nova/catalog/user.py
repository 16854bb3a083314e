"""The owner's agents: scaffold, copy-on-write and save, validated like the built-in ones.

An owner's agent is a file in ``<config dir>/agents`` (see ``nova.userdata``); one with a
built-in agent's name overrides it. Nothing here writes inside the package: editing a
built-in agent saves the owner's copy, and the built-in file stays as shipped.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from nova.catalog.loader import (
    DEFAULT_CATALOG_DIR,
    AgentOrigin,
    CatalogError,
    load_catalog,
    validate_spec_file,
)
from nova.catalog.spec import AgentSpec
from nova.userdata import atomic_write_text, dump_yaml, user_agents_dir

SCHEMA_FILE = DEFAULT_CATALOG_DIR.parent / "agent.schema.json"
_SCHEMA_LINE = re.compile(r"^# yaml-language-server: \$schema=.*\n?")


@dataclass(frozen=True, slots=True)
class AgentFile:
    """An agent's file as it stands: its text, where it is and whose it is."""

    name: str
    text: str
    path: Path
    origin: AgentOrigin


def agent_file(name: str) -> AgentFile:
    """Return the file agent ``name`` is defined by (the owner's if there is one).

    Raises:
        KeyError: no agent has that name (naming the known ones).
        CatalogError: the catalog has invalid files.

    """
    catalog = load_catalog()
    catalog[name]  # raises KeyError listing the known agents
    path = catalog.sources[name]
    return AgentFile(name, path.read_text(encoding="utf-8"), path, catalog.origin(name))


def scaffold_agent(
    name: str,
    *,
    group: str,
    description: str,
    examples: Sequence[str],
    prompt: str | None = None,
    tools: Sequence[str] = (),
    version: str = "0.1.0",
) -> str:
    """Return the YAML of a new agent file from its essentials (validated when saved).

    Without ``prompt`` the agent gets one built from its description, which keeps it to
    its own kind of request.
    """
    data: dict[str, object] = {
        "name": name,
        "version": version,
        "group": group,
        "description": description,
        "examples": list(examples),
        "prompt": prompt
        or (
            f"You are Nova's {name.replace('_', ' ')} agent. {description.strip()}\n"
            "Answer only requests of this kind; when a request belongs elsewhere, say so "
            "briefly rather than guessing.\n"
        ),
        "tools": list(tools),
    }
    return dump_yaml(data)


def save_agent(
    text: str,
    *,
    name: str,
    new: bool,
    known_tools: Collection[str] | None = None,
    known_checks: Collection[str] | None = None,
) -> tuple[AgentSpec, Path]:
    """Validate an agent file and save it as the owner's (atomically).

    Args:
        text: The agent file's YAML.
        name: The agent's name; the file must define this name.
        new: Add a new agent (the name must be free) rather than edit agent ``name``.
        known_tools: Registered tool names; the agent may use no others (unchecked if ``None``).
        known_checks: Registered check names, likewise.

    Returns:
        The validated spec and the file it was saved to.

    Raises:
        CatalogError: listing every problem with the file it would be saved as; nothing
            is written then.
        KeyError: editing, and ``name`` names no agent.

    """
    catalog = load_catalog()
    path = user_agents_dir() / f"{name}.yaml"
    if new and name in catalog:
        raise CatalogError(
            [
                f"Agent names must be unique: {name!r} already exists "
                f"({catalog.origin(name)}, {catalog.sources[name]}); "
                f"change it with `nova agents edit {name}`"
            ]
        )
    if new and path.exists():
        raise CatalogError([f"{path}: already exists and defines another agent"])
    if not new:
        catalog[name]  # raises KeyError listing the known agents
        if catalog.origin(name) != "built-in":
            path = catalog.sources[name]  # the owner's file keeps its own file name
    spec, problems = validate_spec_file(path, text, AgentSpec)
    if spec is None:
        raise CatalogError(problems + unknown_references(text, path, known_tools, known_checks))
    if spec.name != name:
        problems.append(
            f"{path}: name: the file defines {spec.name!r}, not {name!r} (agent names "
            "cannot change; `nova agents new` adds an agent under a new name)"
        )
    problems.extend(unknown_references(spec, path, known_tools, known_checks))
    if problems:
        raise CatalogError(problems)
    atomic_write_text(path, _with_schema_line(text))
    return spec, path


def unknown_references(
    spec: AgentSpec | str,
    path: Path,
    known_tools: Collection[str] | None,
    known_checks: Collection[str] | None,
) -> list[str]:
    """Return one problem per tool or check an agent names that is not registered.

    Args:
        spec: The agent, or its file's text when it does not validate (so a bad tool is
            reported together with the file's other problems).
        path: The agent's file, named in each problem.
        known_tools: Registered tool names (unchecked if ``None``).
        known_checks: Registered check names (unchecked if ``None``).

    """
    if isinstance(spec, AgentSpec):
        named = {"tools": list(spec.tools), "checks": list(spec.checks)}
    else:
        try:
            raw = yaml.safe_load(spec)
        except yaml.YAMLError:
            return []  # the YAML problem itself is reported by validation
        raw = raw if isinstance(raw, dict) else {}
        named = {}
        for field in ("tools", "checks"):
            value = raw.get(field)
            named[field] = (
                [n for n in value if isinstance(n, str)] if isinstance(value, list) else []
            )
    problems = []
    for field, known in (("tools", known_tools), ("checks", known_checks)):
        if known is None:
            continue
        unknown = [name for name in named[field] if name not in known]
        if unknown:
            problems.append(
                f"{path}: {field}: unknown {field.removesuffix('s')}(s) {unknown}; registered: "
                f"{', '.join(sorted(known))}"
            )
    return problems


def _with_schema_line(text: str) -> str:
    # A copied built-in file points at the schema relative to the package; the owner's
    # file lives elsewhere, so point editors at the package's schema by absolute path.
    return f"# yaml-language-server: $schema={SCHEMA_FILE}\n" + _SCHEMA_LINE.sub("", text, count=1)
