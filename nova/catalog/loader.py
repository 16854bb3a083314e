"""Load a directory of agent YAML files, reporting every problem at once."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import yaml
from pydantic import ValidationError

from nova.catalog.spec import AgentSpec, RoutableAgent
from nova.yamlio import load_yaml

DEFAULT_CATALOG_DIR = Path(__file__).parent / "agents"

SpecT = TypeVar("SpecT", bound=RoutableAgent)


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

    def __getitem__(self, name: str) -> SpecT:
        try:
            return self.agents[name]
        except KeyError:
            known = ", ".join(sorted(self.agents))
            raise KeyError(f"No agent named {name!r} in {self.directory}; known: {known}") from None

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
        payload = [spec.model_dump(mode="json") for _, spec in sorted(self.agents.items())]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def _field_path(loc: tuple[object, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(file)"


def load_specs(directory: Path | str, model: type[SpecT]) -> Catalog[SpecT]:
    """Validate every ``*.yaml``/``*.yml`` file in ``directory`` against ``model``.

    Raises:
        CatalogError: listing every invalid file with its path and field, and every
            name defined twice with both file names.

    """
    directory = Path(directory)
    if not directory.is_dir():
        raise CatalogError([f"{directory}: not a directory of agent YAML files"])
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not files:
        raise CatalogError([f"{directory}: holds no *.yaml agent files"])

    problems: list[str] = []
    agents: dict[str, SpecT] = {}
    sources: dict[str, Path] = {}
    for path in files:
        try:
            raw = load_yaml(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            problems.append(f"{path}: not valid YAML ({error})".replace("\n", " "))
            continue
        if not isinstance(raw, dict):
            problems.append(f"{path}: expected a mapping of fields, got {type(raw).__name__}")
            continue
        try:
            spec = model.model_validate(raw)
        except ValidationError as error:
            for item in error.errors():
                problems.append(f"{path}: {_field_path(item['loc'])}: {item['msg']}")
            continue
        if spec.name in agents:
            problems.append(
                f"Agent names must be unique: {spec.name!r} is defined in "
                f"{sources[spec.name].name} and {path.name}"
            )
            continue
        agents[spec.name] = spec
        sources[spec.name] = path
    if problems:
        raise CatalogError(problems)
    return Catalog(agents=dict(sorted(agents.items())), sources=sources, directory=directory)


def load_catalog(directory: Path | str | None = None) -> Catalog[AgentSpec]:
    """Load Nova's agent catalog (the shipped one unless ``directory`` or settings name another)."""
    if directory is None:
        from nova.settings import get_settings

        directory = get_settings().catalog_dir or DEFAULT_CATALOG_DIR
    return load_specs(directory, AgentSpec)


def catalog_json_schema() -> dict[str, object]:
    """Return the JSON Schema editors use to validate agent files, generated from ``AgentSpec``."""
    schema = AgentSpec.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Nova agent"
    return schema


@functools.cache
def _cached_catalog(directory: Path) -> Catalog[AgentSpec]:
    return load_specs(directory, AgentSpec)


def default_catalog() -> Catalog[AgentSpec]:
    """Return the configured catalog, loaded once per process per directory."""
    from nova.settings import get_settings

    return _cached_catalog(Path(get_settings().catalog_dir or DEFAULT_CATALOG_DIR).resolve())
