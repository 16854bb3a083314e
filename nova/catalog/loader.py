"""Load a directory of agent YAML files, reporting every problem at once.

Nova's catalog is the built-in folder (``nova/catalog/agents`` or ``NOVA_CATALOG_DIR``)
with the owner's own agents (``<config dir>/agents``, see ``nova.userdata``) merged over
it: an owner's file with a built-in agent's name replaces that agent.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Literal, TypeVar

import yaml
from pydantic import ValidationError

from nova.catalog.spec import AgentSpec, RoutableAgent
from nova.userdata import Fingerprint, folder_fingerprint, user_agents_dir, yaml_files
from nova.yamlio import load_yaml

DEFAULT_CATALOG_DIR = Path(__file__).parent / "agents"

log = logging.getLogger(__name__)

SpecT = TypeVar("SpecT", bound=RoutableAgent)

AgentOrigin = Literal["built-in", "user", "user override"]
"""Where an agent comes from: the built-in folder, the owner's, or both (owner's wins)."""


class CatalogError(ValueError):
    """One or more agent files are invalid; ``problems`` lists each with its file and field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        listing = "\n  ".join(problems)
        super().__init__(f"{len(problems)} problem(s) in the agent catalog:\n  {listing}")


@dataclass(frozen=True, slots=True)
class Catalog(Generic[SpecT]):
    """Validated agents in name order, with the files they came from and a catalog hash."""

    agents: Mapping[str, SpecT]
    sources: Mapping[str, Path]
    directory: Path
    """The built-in folder (its parent holds ``router.yaml``)."""
    user_dir: Path | None = None
    """The owner's agent folder merged over ``directory`` (``None``: not merged)."""
    origins: Mapping[str, AgentOrigin] = field(default_factory=dict)
    """Where each agent comes from; missing names are built-in."""
    promoted: Mapping[str, int] = field(default_factory=dict)
    """Agents running a version promoted by ``nova improve``: name to version number
    (``sources`` still names the file it was derived from)."""
    out_of_scope: tuple[str, ...] = ()
    """Out-of-scope requests promoted by ``nova improve``, added to ``router.yaml``'s."""
    _version: str = field(init=False, repr=False, compare=False, default="")

    def __post_init__(self) -> None:
        # Computed once: the route node and the shared graphs ask for it on every request.
        payload: list[object] = [
            spec.model_dump(mode="json") for _, spec in sorted(self.agents.items())
        ]
        if self.out_of_scope:  # absent when empty, so versions of catalogs without stay put
            payload.append({"out_of_scope": list(self.out_of_scope)})
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]
        object.__setattr__(self, "_version", digest)

    def __getitem__(self, name: str) -> SpecT:
        try:
            return self.agents[name]
        except KeyError:
            known = ", ".join(sorted(self.agents))
            where = f"{self.directory}" + (f" or {self.user_dir}" if self.user_dir else "")
            raise KeyError(f"No agent named {name!r} in {where}; known: {known}") from None

    def origin(self, name: str) -> AgentOrigin:
        """Return where agent ``name`` comes from."""
        return self.origins.get(name, "built-in")

    def __contains__(self, name: object) -> bool:
        return name in self.agents

    def __iter__(self) -> Iterator[SpecT]:
        return iter(self.agents.values())

    def __len__(self) -> int:
        return len(self.agents)

    @property
    def names(self) -> list[str]:
        """Agent names, sorted."""
        return sorted(self.agents)

    @property
    def version(self) -> str:
        """Hash over every agent's routable content: changes when any agent changes."""
        return self._version


def _field_path(loc: tuple[object, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(file)"


def validate_spec_file(path: Path, text: str, model: type[SpecT]) -> tuple[SpecT | None, list[str]]:
    """Validate one agent file's ``text`` against ``model``, as the catalog loader does.

    Args:
        path: The file the text is (or will be) saved as; every problem names it.
        text: The file's YAML.
        model: ``AgentSpec`` for Nova's agents, ``RoutableAgent`` for routing only.

    Returns:
        The spec, or ``None`` and one line per problem (``<file>: <field>: <message>``).

    """
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as error:
        return None, [f"{path}: not valid YAML ({error})".replace("\n", " ")]
    if not isinstance(raw, dict):
        return None, [f"{path}: expected a mapping of fields, got {type(raw).__name__}"]
    try:
        return model.model_validate(raw), []
    except ValidationError as error:
        return None, [
            f"{path}: {_field_path(item['loc'])}: {item['msg']}" for item in error.errors()
        ]


def _read_folder(
    files: list[Path], model: type[SpecT], problems: list[str]
) -> tuple[dict[str, SpecT], dict[str, Path]]:
    agents: dict[str, SpecT] = {}
    sources: dict[str, Path] = {}
    for path in files:
        spec, found = validate_spec_file(path, path.read_text(encoding="utf-8"), model)
        problems.extend(found)
        if spec is None:
            continue
        if spec.name in agents:
            problems.append(
                f"Agent names must be unique: {spec.name!r} is defined in "
                f"{sources[spec.name].name} and {path.name}"
            )
            continue
        agents[spec.name] = spec
        sources[spec.name] = path
    return agents, sources


def _promote(
    directory: Path,
    agents: dict[str, SpecT],
    sources: Mapping[str, Path],
    model: type[SpecT],
    problems: list[str],
) -> dict[str, int]:
    """Replace agents by their promoted versions in force (``nova.catalog.promoted``)."""
    from nova.catalog.promoted import active_dir, file_hash, read_header

    in_force: dict[str, int] = {}
    for path in yaml_files(active_dir(directory)):
        header = read_header(path) or {}
        spec, found = validate_spec_file(path, path.read_text(encoding="utf-8"), model)
        problems.extend(found)
        if spec is None:
            continue
        if spec.name not in agents:
            continue  # the agent was removed since: nothing to promote
        if header.get("base") != file_hash(sources[spec.name]):
            # The file it was derived from changed since (an owner's edit): the edit wins.
            log.info("Promoted %s is stale (its base changed); using the agent file", spec.name)
            continue
        agents[spec.name] = spec
        in_force[spec.name] = int(header.get("version") or 0)
    return in_force


def load_specs(
    directory: Path | str,
    model: type[SpecT],
    *,
    overlay: Path | None = None,
    promoted: bool = False,
) -> Catalog[SpecT]:
    """Validate every ``*.yaml``/``*.yml`` file in ``directory`` against ``model``.

    Args:
        directory: The folder of agent files.
        model: The spec every file must satisfy.
        overlay: A folder of the owner's agent files, validated the same way and merged
            over ``directory`` (an agent there with a built-in name replaces it); it may
            be missing or empty.
        promoted: Apply the versions ``nova improve`` promoted for ``directory`` (kept in
            the data directory), and their out-of-scope requests.

    Raises:
        CatalogError: listing every invalid file with its path and field, and every
            name defined twice in one folder with both file names.

    """
    directory = Path(directory)
    if not directory.is_dir():
        raise CatalogError([f"{directory}: not a directory of agent YAML files"])
    files = yaml_files(directory)
    if not files:
        raise CatalogError([f"{directory}: holds no *.yaml agent files"])

    problems: list[str] = []
    agents, sources = _read_folder(files, model, problems)
    origins: dict[str, AgentOrigin] = {}
    if overlay is not None:
        own, own_sources = _read_folder(yaml_files(overlay), model, problems)
        for name in own:
            origins[name] = "user override" if name in agents else "user"
        agents.update(own)
        sources.update(own_sources)
    in_force: dict[str, int] = {}
    out_of_scope: tuple[str, ...] = ()
    if promoted:
        from nova.catalog.promoted import read_out_of_scope

        in_force = _promote(directory, agents, sources, model, problems)
        out_of_scope = read_out_of_scope(directory)
    if problems:
        raise CatalogError(problems)
    return Catalog(
        agents=dict(sorted(agents.items())),
        sources=sources,
        directory=directory,
        user_dir=overlay,
        origins=origins,
        promoted=in_force,
        out_of_scope=out_of_scope,
    )


def _configured_folders() -> tuple[Path, Path]:
    from nova.settings import get_settings

    return Path(get_settings().catalog_dir or DEFAULT_CATALOG_DIR), user_agents_dir()


def load_catalog(directory: Path | str | None = None) -> Catalog[AgentSpec]:
    """Load Nova's agent catalog: the built-in agents with the owner's merged over them.

    Args:
        directory: Load only this folder (no owner's agents); default is the configured
            built-in folder plus the owner's ``<config dir>/agents``.

    Raises:
        CatalogError: listing every problem, each with its file name.

    """
    if directory is not None:
        return load_specs(directory, AgentSpec)
    built_in, own = _configured_folders()
    return load_specs(built_in, AgentSpec, overlay=own, promoted=True)


def catalog_json_schema() -> dict[str, object]:
    """Return the JSON Schema editors use to validate agent files, generated from ``AgentSpec``."""
    schema = AgentSpec.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Nova agent"
    return schema


@functools.lru_cache(maxsize=4)
def _cached_catalog(directory: Path, overlay: Path, stamp: Fingerprint) -> Catalog[AgentSpec]:
    # ``stamp`` (every file's mtime, size and inode) is part of the key: a changed, added or
    # removed agent file is read again, and the router, keyed by the catalog's version, refits.
    return load_specs(directory, AgentSpec, overlay=overlay, promoted=True)


def default_catalog() -> Catalog[AgentSpec]:
    """Return the configured catalog (built-in, owner's, promoted), re-read when a file changes."""
    from nova.catalog.promoted import active_dir, catalog_root

    built_in, own = _configured_folders()
    stamp = folder_fingerprint(built_in, own, active_dir(built_in), catalog_root(built_in))
    return _cached_catalog(built_in, own, stamp)
