"""Projects: the unit of scope. A project id selects memory, context, agents and tools.

Projects are data in YAML files. The built-in ones (``nova/projects.yaml`` ships the
samples; the ``NOVA_PROJECTS_FILE`` setting names another) are defaults; the owner's own
(``nova projects add|edit|remove``) live in ``<config dir>/projects.yaml`` (see
``nova.userdata``) and are merged over them: an entry with a built-in id overrides it, and
``removed:`` lists built-in ids the owner does not want (tombstones), so the package is
never edited. Each project may point at a seed-memories file, resolved relative to the
file that defines it, that fills its memory on first use.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from nova.errors import InvalidRequest
from nova.mcp import McpServer, check_unique_servers
from nova.yamlio import load_yaml

DEFAULT_PROJECTS_FILE = Path(__file__).parent / "projects.yaml"

PROJECT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,48}[a-z0-9]$"
"""Lower-case letters, digits and dashes, 3–50 characters: safe in collection names and URLs."""

ProjectOrigin = Literal["built-in", "user", "user override"]
"""Where a project comes from: the built-in file, the owner's file, or both (owner's wins)."""

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
    data: tuple[str, ...] = ()
    """Business data this project owns and may read, e.g. ``[erp]`` for the ERP database;
    tools over data a project does not declare are refused there."""
    seeds: Path | None = None
    """Seed-memories file (YAML), relative to the projects file."""
    mcp_servers: tuple[McpServer, ...] = ()
    """MCP servers whose tools (``<server>_<tool>``) this project's agents may use."""

    @field_validator("allowed_agents", "allowed_tools", "data", mode="before")
    @classmethod
    def _list_to_tuple(cls, value: object) -> object:
        return tuple(value) if isinstance(value, list) else value

    @field_validator("mcp_servers")
    @classmethod
    def _unique_servers(cls, value: tuple[McpServer, ...]) -> tuple[McpServer, ...]:
        return check_unique_servers(value)

    def allows_agent(self, name: str) -> bool:
        """Return whether agent ``name`` may run in this project."""
        return self.allowed_agents == "all" or name in self.allowed_agents

    def allows_tool(self, name: str) -> bool:
        """Return whether tool ``name`` may be called in this project.

        The tools of the project's own MCP servers are allowed by naming the server (their
        ``tools`` list says which); any other tool must be in ``allowed_tools``.
        """
        if self.allowed_tools == "all" or name in self.allowed_tools:
            return True
        return any(
            name.startswith(f"{server.name}_")
            and server.allows(name.removeprefix(f"{server.name}_"))
            for server in self.mcp_servers
        )

    def holds(self, data: str) -> bool:
        """Return whether this project declares the business data ``data`` (e.g. ``erp``)."""
        return data in self.data

    @functools.cached_property
    def own_names(self) -> tuple[str, ...]:
        """The names a request calls this project by, lower case, longest first.

        Its protected glossary terms ("Rheintal ERP", "SignCraft") and the words of those
        and of its display name that no English dictionary holds ("rheintal", "signcraft"):
        brand names. "Parts shop" or "Client work" are ordinary words and name nothing.
        """
        from lemminflect import getAllLemmas

        phrases = [
            g.term.lower()
            for g in self.glossary
            if g.protected and re.search(r"[^\W\d_]{4,}", g.term)  # not a code prefix ("BRK-")
        ]
        words = {
            word
            for text in (self.name, *phrases)
            for word in re.findall(r"[^\W\d_]{4,}", text.lower())
            if not getAllLemmas(word)
        }
        return tuple(sorted({*phrases, *words}, key=lambda n: (-len(n), n)))

    def named_in(self, text: str) -> str | None:
        """Return the name of this project that ``text`` mentions, or ``None``."""
        lowered = text.lower()
        return next(
            (n for n in self.own_names if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", lowered)),
            None,
        )

    def load_seeds(self) -> tuple[SeedMemory, ...]:
        """Read this project's seed memories (none when it names no seed file).

        Raises:
            ProjectError: the seed file is missing or invalid, naming the file and field.

        """
        if self.seeds is None:
            return ()
        try:
            raw = load_yaml(self.seeds.read_text(encoding="utf-8"))
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


class _UserProjectsFile(BaseModel):
    """The owner's projects file: own projects, and built-in ids removed (tombstones)."""

    model_config = ConfigDict(extra="forbid")

    projects: list[Project] = Field(default_factory=list)
    removed: list[Annotated[str, Field(pattern=PROJECT_ID_PATTERN)]] = Field(default_factory=list)


_FileT = TypeVar("_FileT", _ProjectsFile, _UserProjectsFile)


@dataclass(frozen=True, slots=True)
class Projects:
    """The configured projects by id, with the files they came from."""

    projects: Mapping[str, Project]
    source: Path
    """The built-in projects file (the shipped samples or ``NOVA_PROJECTS_FILE``)."""
    user_file: Path | None = None
    """The owner's projects file merged over ``source`` (``None``: not merged)."""
    origins: Mapping[str, ProjectOrigin] = field(default_factory=dict)
    """Where each project comes from; missing ids are built-in."""
    removed: tuple[str, ...] = ()
    """Built-in ids the owner removed (tombstones in ``user_file``)."""

    def get(self, project_id: str) -> Project:
        """Return the project ``project_id``.

        Raises:
            ProjectError: naming the known projects and the files that define them.

        """
        try:
            return self.projects[project_id]
        except KeyError:
            known = ", ".join(self.projects)
            files = str(self.source) + (f" and {self.user_file}" if self.user_file else "")
            hint = (
                f" ({project_id!r} was removed; `nova projects restore {project_id}` undoes it)"
                if project_id in self.removed
                else ""
            )
            from rapidfuzz import fuzz, process

            close = process.extractOne(
                project_id, list(self.projects), scorer=fuzz.ratio, score_cutoff=80
            )
            guess = f" (did you mean {close[0]!r}?)" if close and not hint else ""
            raise UnknownProjectError(
                f"Unknown project {project_id!r}{guess}; defined projects: {known} "
                f"(in {files}).{hint} "
                "Add one with `nova projects add ID`, or point NOVA_PROJECTS_FILE at your own "
                "projects file."
            ) from None

    def origin(self, project_id: str) -> ProjectOrigin:
        """Return where project ``project_id`` comes from."""
        return self.origins.get(project_id, "built-in")

    def __contains__(self, project_id: object) -> bool:
        return project_id in self.projects

    def __iter__(self) -> Iterator[Project]:
        return iter(self.projects.values())

    def __len__(self) -> int:
        return len(self.projects)

    @property
    def ids(self) -> list[str]:
        """Project ids in file order (built-in ones first, then the owner's)."""
        return list(self.projects)


def load_projects(path: Path | str | None = None) -> Projects:
    """Load and validate the projects (default: settings' file, with the owner's merged over it).

    Args:
        path: Read only this projects file, without the owner's projects.

    Raises:
        ProjectError: listing every problem with the file and field concerned.

    """
    from nova.userdata import fingerprint

    if path is not None:
        path = Path(path)
        return _load_projects(path.resolve(), fingerprint([path]), None, ())
    from nova.settings import get_settings
    from nova.userdata import resolved, user_projects_file

    base = Path(get_settings().projects_file or DEFAULT_PROJECTS_FILE)
    user = user_projects_file()
    return _load_projects(resolved(base), fingerprint([base]), resolved(user), fingerprint([user]))


@functools.lru_cache(maxsize=8)
def _load_projects(
    base: Path, base_stamp: object, user: Path | None, user_stamp: object
) -> Projects:
    # The stamps (mtime, size, inode) are part of the cache key so an edited file is re-read.
    user_text = None
    if user is not None and user.is_file():
        user_text = user.read_text(encoding="utf-8")
    return merge_projects(base, user, user_text)


def merge_projects(base: Path, user: Path | None, user_text: str | None) -> Projects:
    """Validate the built-in projects file and the owner's projects (``user_text``) together.

    Used by the loader and, before anything is written, by ``nova projects add|edit|remove``
    to check the file they are about to save, so both report the same problems.

    Args:
        base: The built-in projects file.
        user: The owner's projects file (named in messages; ``None``: no owner's projects).
        user_text: Its content, or ``None`` when it does not exist.

    Raises:
        ProjectError: naming the file and field of every problem.

    """
    if not base.is_file():
        raise ProjectError(
            f"{base}: projects file not found (set NOVA_PROJECTS_FILE to a YAML file)"
        )
    built_in = _parse(base, base.read_text(encoding="utf-8"), _ProjectsFile)
    projects = _resolve(base, built_in.projects, (base.parent,))
    origins: dict[str, ProjectOrigin] = {}
    removed: tuple[str, ...] = ()
    if user is not None and user_text is not None:
        own = _parse(user, user_text, _UserProjectsFile)
        removed = tuple(own.removed)
        # A relative seed path of the owner's copy of a built-in project still names the
        # built-in seed file, so look beside the owner's file first, then the built-in one.
        mine = _resolve(user, own.projects, (user.parent, base.parent))
        for project_id in removed:
            projects.pop(project_id, None)
        for project_id, project in mine.items():
            origins[project_id] = "user override" if project_id in projects else "user"
            projects[project_id] = project
    return Projects(
        projects=projects, source=base, user_file=user, origins=origins, removed=removed
    )


def _parse(path: Path, text: str, model: type[_FileT]) -> _FileT:
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as error:
        raise ProjectError(f"{path}: not valid YAML ({error})".replace("\n", " ")) from None
    if raw is None and model is _UserProjectsFile:
        raw = {}  # an empty file of the owner's: nothing added, nothing removed
    try:
        return model.model_validate(raw)
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


def _resolve(path: Path, entries: list[Project], seed_dirs: tuple[Path, ...]) -> dict[str, Project]:
    projects: dict[str, Project] = {}
    for project in entries:
        if project.id in projects:
            raise ProjectError(f"{path}: project ids must be unique; {project.id!r} appears twice")
        if project.seeds is not None and not project.seeds.is_absolute():
            candidates = [folder / project.seeds for folder in seed_dirs]
            found = next((c for c in candidates if c.is_file()), candidates[0])
            project = project.model_copy(update={"seeds": found})
        if project.seeds is not None and not project.seeds.is_file():
            raise ProjectError(
                f"{path}: project {project.id!r} names seed file {project.seeds}, "
                "which does not exist"
            )
        projects[project.id] = project
    return projects


def check_projects(
    projects: Projects,
    agent_names: set[str] | None,
    tool_names: set[str] | None,
    mcp_server_names: Collection[str] = (),
) -> list[str]:
    """Return problems with agent and tool names the projects allow but nobody defines.

    A ``None`` set of names is not checked. ``mcp_server_names`` are MCP servers agents
    name (a project's own are added): tools under their prefix are accepted.
    """
    problems = []
    for project in projects:
        servers = {*mcp_server_names, *(server.name for server in project.mcp_servers)}
        if project.allowed_agents != "all" and agent_names is not None:
            unknown = sorted(set(project.allowed_agents) - agent_names)
            if unknown:
                problems.append(f"project {project.id!r} allows unknown agent(s) {unknown}")
        if project.allowed_tools != "all" and tool_names is not None:
            # An MCP server's tools are named ``<server>_<tool>``; which exist is the
            # server's to say, so any name under a configured server's prefix is accepted.
            prefixes = tuple(f"{name}_" for name in servers)
            unknown = sorted(
                name
                for name in set(project.allowed_tools) - tool_names
                if not (prefixes and name.startswith(prefixes))
            )
            if unknown:
                problems.append(f"project {project.id!r} allows unknown tool(s) {unknown}")
    return problems


# --- the owner's projects (nova projects add|edit|remove|restore) ------------------------

_USER_FILE_HEADER = (
    "# Your own Nova projects, merged over the built-in ones (`nova projects --help`).\n"
    "# An entry with a built-in id replaces it; `removed:` lists built-in ids you removed.\n"
)


def _files() -> tuple[Path, Path]:
    from nova.settings import get_settings
    from nova.userdata import user_projects_file

    return Path(get_settings().projects_file or DEFAULT_PROJECTS_FILE), user_projects_file()


def _read_own() -> dict[str, Any]:
    """Return the owner's projects file as plain data, refusing to build on an invalid one."""
    base, user = _files()
    if not user.is_file():
        return {"projects": [], "removed": []}
    text = user.read_text(encoding="utf-8")
    merge_projects(base.resolve(), user.resolve(), text)  # raises, naming the file, if broken
    raw = load_yaml(text) or {}
    raw["projects"] = list(raw.get("projects") or [])
    raw["removed"] = list(raw.get("removed") or [])
    return dict(raw)


@dataclass(frozen=True, slots=True)
class KnownNames:
    """Agent and tool names a saved project may allow (``None``: not checked)."""

    agents: Collection[str] | None = None
    tools: Collection[str] | None = None
    mcp_servers: Collection[str] = ()
    """MCP servers the agents name: their ``<server>_<tool>`` tools may be allowed too."""


def _save_own(
    raw: dict[str, Any], *, changed: str | None = None, known: KnownNames | None = None
) -> Projects:
    """Validate the owner's file as it would be, together with the built-in one, then write it."""
    from nova.userdata import atomic_write_text, dump_yaml

    base, user = _files()
    if not raw.get("removed"):
        raw.pop("removed", None)
    text = _USER_FILE_HEADER + dump_yaml(raw)
    projects = merge_projects(base.resolve(), user.resolve(), text)
    if changed is not None and known is not None:
        project = projects.get(changed)
        problems = check_projects(
            Projects({changed: project}, base),
            set(known.agents) if known.agents is not None else None,
            set(known.tools) if known.tools is not None else None,
            known.mcp_servers,
        )
        if problems:
            raise ProjectError(f"{user}: " + "; ".join(problems))
    atomic_write_text(user, text)
    return projects


def parse_entry(path: Path, text: str) -> dict[str, Any]:
    """Read one project (a YAML mapping of its fields) from ``text``, as edited or imported.

    Raises:
        ProjectError: the text is not YAML or not a mapping, naming ``path``.

    """
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as error:
        raise ProjectError(f"{path}: not valid YAML ({error})".replace("\n", " ")) from None
    if not isinstance(raw, dict):
        raise ProjectError(
            f"{path}: expected a mapping of project fields, got {type(raw).__name__}"
        )
    return raw


def _index(entries: list[Any], project_id: str) -> int | None:
    return next(
        (i for i, e in enumerate(entries) if isinstance(e, dict) and e.get("id") == project_id),
        None,
    )


def project_entry(project_id: str) -> dict[str, Any]:
    """Return project ``project_id`` as written in the file that defines it (owner's first).

    The raw entry, not the validated model, so a copy keeps relative seed paths and
    leaves out defaults the file did not spell out.

    Raises:
        ProjectError: no project has that id.

    """
    projects = load_projects()
    projects.get(project_id)
    base, _ = _files()
    if projects.origin(project_id) == "built-in":
        entries = (load_yaml(base.read_text(encoding="utf-8")) or {}).get("projects", [])
    else:
        entries = _read_own()["projects"]
    index = _index(entries, project_id)
    assert index is not None, "the loader found it in this file"
    return dict(entries[index])


def add_project(entry: Mapping[str, Any], *, known: KnownNames | None = None) -> Project:
    """Add one of the owner's projects (validated like the built-in ones) and save it.

    A built-in id the owner had removed may be added again: the new entry replaces it.

    Args:
        entry: The project's fields, as in a projects file.
        known: Agent and tool names the project may allow; others are refused.

    Raises:
        ProjectError: the id is taken, or the entry (or the owner's file) is invalid;
            nothing is written then.

    """
    project_id = entry.get("id")
    projects = load_projects()
    if isinstance(project_id, str) and project_id in projects:
        raise ProjectError(
            f"Project {project_id!r} already exists ({projects.origin(project_id)}); "
            f"change it with `nova projects edit {project_id}`"
        )
    raw = _read_own()
    raw["removed"] = [removed for removed in raw["removed"] if removed != project_id]
    raw["projects"].append(dict(entry))
    return _save_own(raw, changed=str(project_id), known=known).get(str(project_id))


def replace_project(
    project_id: str, entry: Mapping[str, Any], *, known: KnownNames | None = None
) -> Project:
    """Save ``entry`` as the owner's version of project ``project_id`` (copy-on-write).

    Args:
        project_id: The project edited; a built-in one gets the owner's copy.
        entry: Its new fields, as in a projects file.
        known: Agent and tool names the project may allow; others are refused.

    Raises:
        ProjectError: the project is unknown, ``entry`` renames it or is invalid; nothing
            is written then.

    """
    load_projects().get(project_id)
    if entry.get("id") != project_id:
        raise ProjectError(
            f"Project ids cannot change ({project_id!r} became {entry.get('id')!r}); "
            "add a project with the new id and remove the old one instead"
        )
    raw = _read_own()
    entries = raw["projects"]
    index = _index(entries, project_id)
    if index is None:
        entries.append(dict(entry))
    else:
        entries[index] = dict(entry)
    return _save_own(raw, changed=project_id, known=known).get(project_id)


def remove_project(project_id: str) -> Literal["removed", "override removed", "tombstoned"]:
    """Remove project ``project_id`` from the owner's view, never touching the built-in file.

    Returns:
        ``removed`` (the owner's own project is gone), ``override removed`` (the owner's
        version is gone and the built-in one is back) or ``tombstoned`` (a built-in project
        is hidden by a ``removed:`` entry in the owner's file).

    Raises:
        ProjectError: the project is unknown, or it is the last one left.

    """
    projects = load_projects()
    projects.get(project_id)
    origin = projects.origin(project_id)
    if origin != "user override" and len(projects) == 1:
        raise ProjectError(f"Cannot remove {project_id!r}: it is the only project left")
    raw = _read_own()
    if origin == "built-in":
        raw["removed"].append(project_id)
        change: Literal["removed", "override removed", "tombstoned"] = "tombstoned"
    else:
        index = _index(raw["projects"], project_id)
        assert index is not None, "the loader found it in the owner's file"
        del raw["projects"][index]
        change = "removed" if origin == "user" else "override removed"
    _save_own(raw)
    return change


def restore_project(project_id: str) -> Project:
    """Bring back built-in project ``project_id``: drop the owner's version or tombstone of it.

    Raises:
        ProjectError: no built-in project has that id, or the owner never changed it.

    """
    base, _ = _files()
    if project_id not in load_projects(base):
        raise ProjectError(f"No built-in project {project_id!r} (in {base}) to restore")
    raw = _read_own()
    index = _index(raw["projects"], project_id)
    if index is None and project_id not in raw["removed"]:
        raise ProjectError(
            f"Project {project_id!r} is already the built-in one; nothing to restore"
        )
    if index is not None:
        del raw["projects"][index]
    raw["removed"] = [removed for removed in raw["removed"] if removed != project_id]
    return _save_own(raw).get(project_id)
