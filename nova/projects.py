"""Projects: the unit of scope. A project id selects memory, context, agents and tools.

Projects are data in a YAML file (``nova/projects.yaml`` ships the samples; the
``NOVA_PROJECTS_FILE`` setting names another). Each project may point at a seed-memories
file, resolved relative to the projects file, that fills its memory on first use.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nova.errors import InvalidRequest

DEFAULT_PROJECTS_FILE = Path(__file__).parent / "projects.yaml"

PROJECT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$"
"""Lower-case letters, digits and dashes, 3–50 characters: safe in collection names and URLs."""

MemoryKind = Literal["fact", "decision", "preference", "document_chunk", "conversation_summary"]
"""What a memory item records (see ``memory.items``)."""


class ProjectError(ValueError):
    """A projects file is invalid, or a project id names no project."""


class UnknownProjectError(ProjectError, InvalidRequest):
    """A request or command names a project the projects file does not define."""


class GlossaryTerm(BaseModel):
    """A term with fixed handling in translations (used by the translation agents)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    term: str = Field(min_length=1)
    """The term as written in the source language."""
    translations: dict[str, str] = Field(default_factory=dict)
    """Approved translation per language code (``de``, ``fr``, …)."""
    protected: bool = False
    """Never translate (brand and product names): keep the term exactly as written."""
    note: str | None = None
    """Why the term is handled this way, for translators."""


class SeedMemory(BaseModel):
    """One memory a project starts with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=3)
    kind: MemoryKind = "fact"
    topic: str | None = None
    """Key that later decisions on the same subject supersede (see ``memory.store``)."""


class SeedFile(BaseModel):
    """A seed-memories file: ``memories:`` followed by a list of ``SeedMemory``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    memories: tuple[SeedMemory, ...] = Field(min_length=1)


class Project(BaseModel):
    """One project: what it is, which agents and tools it may use, and its glossary."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=PROJECT_ID_PATTERN)
    """Stable id used in the CLI, the run context, memory collections and traces."""
    name: str = Field(min_length=1)
    """Display name."""
    description: str = Field(min_length=10)
    """What the project is, in a sentence or two; shown to agents by ``project_info``."""
    allowed_agents: Literal["all"] | tuple[str, ...] = "all"
    """Agents that may run in this project (names from the catalog), or ``all``."""
    allowed_tools: Literal["all"] | tuple[str, ...] = "all"
    """Tools agents may call in this project (names from the tool registry), or ``all``."""
    glossary: tuple[GlossaryTerm, ...] = ()
    """Terms with fixed translations or protected from translation."""
    seeds: Path | None = None
    """Seed-memories file (YAML), relative to the projects file."""

    @field_validator("allowed_agents", "allowed_tools", mode="before")
    @classmethod
    def _list_to_tuple(cls, value: object) -> object:
        return tuple(value) if isinstance(value, list) else value

    def allows_agent(self, name: str) -> bool:
        """Return whether agent ``name`` may run in this project."""
        return self.allowed_agents == "all" or name in self.allowed_agents

    def allows_tool(self, name: str) -> bool:
        """Return whether tool ``name`` may be called in this project."""
        return self.allowed_tools == "all" or name in self.allowed_tools

    def load_seeds(self) -> tuple[SeedMemory, ...]:
        """Read this project's seed memories (none when it names no seed file).

        Raises:
            ProjectError: the seed file is missing or invalid, naming the file and field.

        """
        if self.seeds is None:
            return ()
        try:
            raw = yaml.safe_load(self.seeds.read_text(encoding="utf-8"))
        except OSError as error:
            raise ProjectError(
                f"Project {self.id!r}: cannot read seed file {self.seeds}: {error}"
            ) from None
        except yaml.YAMLError as error:
            raise ProjectError(
                f"{self.seeds}: not valid YAML ({error})".replace("\n", " ")
            ) from None
        try:
            return SeedFile.model_validate(raw).memories
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in error.errors()
            )
            raise ProjectError(f"{self.seeds}: {problems}") from None


class _ProjectsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    projects: list[Project] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Projects:
    """The configured projects by id, with the file they came from."""

    projects: Mapping[str, Project]
    source: Path

    def get(self, project_id: str) -> Project:
        """Return the project ``project_id``.

        Raises:
            ProjectError: naming the known projects and the file that defines them.

        """
        try:
            return self.projects[project_id]
        except KeyError:
            known = ", ".join(self.projects)
            raise UnknownProjectError(
                f"Unknown project {project_id!r}; defined projects: {known} (in {self.source}). "
                "Add it there or point NOVA_PROJECTS_FILE at your own projects file."
            ) from None

    def __contains__(self, project_id: object) -> bool:
        return project_id in self.projects

    def __iter__(self) -> Iterator[Project]:
        return iter(self.projects.values())

    def __len__(self) -> int:
        return len(self.projects)

    @property
    def ids(self) -> list[str]:
        """Project ids in file order."""
        return list(self.projects)


def load_projects(path: Path | str | None = None) -> Projects:
    """Load and validate a projects file (default: settings, then the shipped samples).

    Raises:
        ProjectError: listing every problem with the file and field concerned.

    """
    if path is None:
        from nova.settings import get_settings

        path = get_settings().projects_file or DEFAULT_PROJECTS_FILE
    path = Path(path)
    mtime = path.stat().st_mtime_ns if path.is_file() else -1
    return _load_projects(path.resolve(), mtime)


@functools.lru_cache(maxsize=8)
def _load_projects(path: Path, mtime: int) -> Projects:
    # ``mtime`` is part of the cache key so an edited file is re-read.
    if mtime < 0:
        raise ProjectError(
            f"{path}: projects file not found (set NOVA_PROJECTS_FILE to a YAML file)"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ProjectError(f"{path}: not valid YAML ({error})".replace("\n", " ")) from None
    try:
        parsed = _ProjectsFile.model_validate(raw)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            loc = list(item["loc"])
            # Name the project by its id rather than its list index where possible.
            if (
                len(loc) >= 2
                and loc[0] == "projects"
                and isinstance(loc[1], int)
                and isinstance(raw, dict)
            ):
                entry = raw["projects"][loc[1]]
                if isinstance(entry, dict) and "id" in entry:
                    loc[1] = entry["id"]
            problems.append(f"{'.'.join(map(str, loc))}: {item['msg']}")
        raise ProjectError(f"{path}: " + "; ".join(problems)) from None

    projects: dict[str, Project] = {}
    for project in parsed.projects:
        if project.id in projects:
            raise ProjectError(f"{path}: project ids must be unique; {project.id!r} appears twice")
        if project.seeds is not None and not project.seeds.is_absolute():
            project = project.model_copy(update={"seeds": path.parent / project.seeds})
        if project.seeds is not None and not project.seeds.is_file():
            raise ProjectError(
                f"{path}: project {project.id!r} names seed file {project.seeds}, "
                "which does not exist"
            )
        projects[project.id] = project
    return Projects(projects=projects, source=path)


def check_projects(projects: Projects, agent_names: set[str], tool_names: set[str]) -> list[str]:
    """Return problems with agent and tool names the projects allow but nobody defines."""
    problems = []
    for project in projects:
        if project.allowed_agents != "all":
            unknown = sorted(set(project.allowed_agents) - agent_names)
            if unknown:
                problems.append(f"project {project.id!r} allows unknown agent(s) {unknown}")
        if project.allowed_tools != "all":
            unknown = sorted(set(project.allowed_tools) - tool_names)
            if unknown:
                problems.append(f"project {project.id!r} allows unknown tool(s) {unknown}")
    return problems
