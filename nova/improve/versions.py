"""Versions and lineage of promoted agents: history, promotion, rollback, diff.

Every promotion writes the agent's whole new file to ``active/`` (see
``nova.catalog.promoted``) and appends a version to ``history/<agent>.jsonl`` with its
number, content hash, parent, reason, evidence (feedback and run ids) and the candidate
it came from. Version 0 is the agent file as installed (or as the owner wrote it). A
rollback makes an earlier version active again and is itself recorded. The installed
catalog files are never written.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from nova.catalog.loader import Catalog, CatalogError, load_specs
from nova.catalog.promoted import (
    HEADER,
    OUT_OF_SCOPE,
    active_dir,
    catalog_root,
    file_hash,
    out_of_scope_file,
    read_header,
    spec_hash,
)
from nova.catalog.spec import AgentSpec, RoutableAgent
from nova.userdata import atomic_write_text, dump_yaml

SpecT = TypeVar("SpecT", bound=RoutableAgent)


class VersionError(ValueError):
    """A version, agent or catalog named by the user does not exist (the message says so)."""


@dataclass(frozen=True, slots=True)
class Version:
    """One version of an agent (or of the catalog's out-of-scope requests)."""

    number: int
    hash: str
    parent: str | None
    created_at: str
    action: str
    """``base`` (the file as installed), ``promote`` or ``rollback``."""
    reason: str
    evidence: tuple[str, ...]
    candidate: str | None
    data: Mapping[str, Any]

    def as_json(self) -> dict[str, Any]:
        """Return the version as a JSON-ready dict."""
        return {
            "number": self.number,
            "hash": self.hash,
            "parent": self.parent,
            "created_at": self.created_at,
            "action": self.action,
            "reason": self.reason,
            "evidence": list(self.evidence),
            "candidate": self.candidate,
            "data": dict(self.data),
        }


def promoted_catalog(directory: Path | str, model: type[SpecT]) -> Catalog[SpecT]:
    """Load the catalog folder ``directory`` with its promoted versions (any catalog)."""
    return load_specs(Path(directory), model, promoted=True)


def nova_catalog_dir() -> Path:
    """Return the folder of Nova's configured built-in catalog (its versions' key)."""
    from nova.catalog.loader import _configured_folders

    return _configured_folders()[0]


class VersionStore:
    """The promoted versions of one catalog folder, in the data directory.

    Example:
        >>> store = VersionStore(Path("my-catalog"))  # doctest: +SKIP
        >>> [v.number for v in store.history("plant_care")]  # doctest: +SKIP
        [0, 1, 2]

    """

    def __init__(self, directory: Path | str, *, base: Catalog[Any] | None = None) -> None:
        """Open the versions of the catalog in ``directory``.

        Args:
            directory: The catalog folder (the installed one for Nova's own catalog).
            base: The catalog without promotions (for Nova's: built-in plus the owner's
                agents); default: the folder's files alone.

        """
        self.directory = Path(directory).resolve()
        self.root = catalog_root(self.directory)
        self._base = base

    # --- reading -----------------------------------------------------------------------

    def base(self) -> Catalog[Any]:
        """Return the catalog as installed (or as the owner wrote it), without promotions."""
        if self._base is None:
            self._base = load_specs(self.directory, RoutableAgent)
        return self._base

    def base_data(self, name: str) -> dict[str, Any]:
        """Return agent ``name``'s file as installed, as data."""
        if name == OUT_OF_SCOPE:
            return {"out_of_scope_examples": []}
        base = self.base()
        if name not in base:
            raise VersionError(f"No agent named {name!r} in {self.directory}")
        return _file_data(base.sources[name])

    def _history_file(self, name: str) -> Path:
        return self.root / "history" / f"{name}.jsonl"

    def history(self, name: str) -> list[Version]:
        """Return every version of ``name``, oldest first (just version 0 if never promoted)."""
        path = self._history_file(name)
        versions: list[Version] = []
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    item = json.loads(line)
                    item["evidence"] = tuple(item.get("evidence") or ())
                    versions.append(Version(**item))
        if not versions:
            data = self.base_data(name)
            versions.append(_base_version(data))
        return versions

    def active_number(self, name: str) -> int:
        """Return the version of ``name`` in force (0: the file as installed)."""
        path = out_of_scope_file(self.directory) if name == OUT_OF_SCOPE else self._active(name)
        header = read_header(path) if path.is_file() else None
        if header is None:
            return 0
        if name != OUT_OF_SCOPE and name in self.base():
            if header.get("base") != file_hash(self.base().sources[name]):
                return 0  # stale: the file it came from was edited since
        return int(header.get("version") or 0)

    def version(self, name: str, number: int) -> Version:
        """Return version ``number`` of ``name``.

        Raises:
            VersionError: there is no such version (naming the ones there are).

        """
        for version in self.history(name):
            if version.number == number and version.action != "rollback":
                return version
        known = ", ".join(str(v.number) for v in self.history(name) if v.action != "rollback")
        raise VersionError(f"{name} has no version {number}; it has: {known}")

    def find(self, name: str, ref: str | int) -> Version:
        """Return the version of ``name`` that ``ref`` names, however a ledger recorded it.

        ``ref`` is a version number (``3``), the content hash lineage records
        (``spec_hash``), or the version a run recorded: ``name@1.2.0+<content>``,
        ``1.2.0+<content>`` or the bare content version (``AgentSpec.content_version``).

        Raises:
            VersionError: no version of ``name`` matches (naming the ones there are).

        """
        versions = [v for v in self.history(name) if v.action != "rollback"]
        text = str(ref).strip()
        if text.isdigit() and len(text) < 12:  # a 12-digit string is a (hex) hash
            return self.version(name, int(text))
        label = text.split("@", 1)[1] if "@" in text else text
        semver, _, content = label.rpartition("+")
        for version in reversed(versions):  # newest first: a re-promoted copy is the same data
            if version.hash == label:
                return version
            spec = _as_spec(version.data)
            if spec is not None and spec.content_version == content:
                if not semver or getattr(spec, "version", semver) == semver:
                    return version
        known = ", ".join(f"{v.number} ({v.hash})" for v in versions)
        raise VersionError(f"{name} has no version {text!r}; it has: {known}")

    def spec(self, name: str, ref: str | int) -> AgentSpec:
        """Return version ``ref`` of agent ``name`` as a validated spec (see ``find``).

        Raises:
            VersionError: no such version, or its data is no longer a valid agent.

        """
        version = self.find(name, ref)
        spec = _as_spec(version.data)
        if spec is None:
            raise VersionError(f"{name} version {version.number} is not a valid agent any more")
        return spec

    def current_data(self, name: str) -> dict[str, Any]:
        """Return the data of the version of ``name`` in force."""
        return dict(self.version(name, self.active_number(name)).data)

    def diff(self, name: str, first: int, second: int) -> str:
        """Return a unified diff between two versions' files."""
        a, b = self.version(name, first), self.version(name, second)
        return "".join(
            difflib.unified_diff(
                dump_yaml(dict(a.data)).splitlines(keepends=True),
                dump_yaml(dict(b.data)).splitlines(keepends=True),
                fromfile=f"{name} v{first} ({a.hash})",
                tofile=f"{name} v{second} ({b.hash})",
            )
        )

    # --- writing -----------------------------------------------------------------------

    def promote(
        self,
        name: str,
        data: Mapping[str, Any],
        *,
        reason: str,
        evidence: Sequence[str] = (),
        candidate: str | None = None,
        model: type[RoutableAgent] = RoutableAgent,
    ) -> Version:
        """Make ``data`` the new version of agent ``name`` (or of the out-of-scope list).

        Raises:
            CatalogError: ``data`` does not validate as an agent file (nothing written).

        """
        history = self.history(name)
        parent = self.version(name, self.active_number(name))
        data = dict(data)
        if name != OUT_OF_SCOPE:
            path = self._active(name)
            spec = _validate(path, data, model)
            if spec.name != name:
                raise CatalogError([f"{path}: name: the data defines {spec.name!r}, not {name!r}"])
        number = max(v.number for v in history) + 1
        version = Version(
            number=number,
            hash=spec_hash(data),
            parent=parent.hash,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            action="promote",
            reason=reason,
            evidence=tuple(evidence),
            candidate=candidate,
            data=data,
        )
        self._activate(name, version)
        self._append(name, history, version)
        return version

    def rollback(self, name: str, number: int) -> Version:
        """Make version ``number`` of ``name`` the one in force again (0: as installed).

        Raises:
            VersionError: there is no such version.

        """
        history = self.history(name)
        target = self.version(name, number)
        record = Version(
            number=target.number,
            hash=target.hash,
            parent=self.version(name, self.active_number(name)).hash,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            action="rollback",
            reason=f"rolled back to version {number}",
            evidence=(),
            candidate=None,
            data=target.data,
        )
        if number == 0:
            path = out_of_scope_file(self.directory) if name == OUT_OF_SCOPE else self._active(name)
            path.unlink(missing_ok=True)
        else:
            self._activate(name, target)
        self._append(name, history, record)
        return target

    # --- internals ---------------------------------------------------------------------

    def _active(self, name: str) -> Path:
        return active_dir(self.directory) / f"{name}.yaml"

    def _activate(self, name: str, version: Version) -> None:
        header = {"version": version.number, "hash": version.hash}
        if name == OUT_OF_SCOPE:
            path = out_of_scope_file(self.directory)
        else:
            path = self._active(name)
            header["base"] = file_hash(self.base().sources[name])
        atomic_write_text(path, HEADER + json.dumps(header) + "\n" + dump_yaml(dict(version.data)))

    def _append(self, name: str, history: list[Version], version: Version) -> None:
        lines = [json.dumps(v.as_json(), default=str) for v in [*history, version]]
        atomic_write_text(self._history_file(name), "\n".join(lines) + "\n")


def _base_version(data: Mapping[str, Any]) -> Version:
    return Version(
        number=0,
        hash=spec_hash(data),
        parent=None,
        created_at="",
        action="base",
        reason="the agent file as installed",
        evidence=(),
        candidate=None,
        data=dict(data),
    )


def _as_spec(data: Mapping[str, Any]) -> AgentSpec | None:
    """Return ``data`` as an ``AgentSpec`` (``None``: not a full agent, e.g. a user catalog's)."""
    from pydantic import ValidationError

    try:
        return AgentSpec.model_validate(dict(data))
    except ValidationError:
        return None


def _file_data(path: Path) -> dict[str, Any]:
    from nova.yamlio import load_yaml

    data = load_yaml(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise VersionError(f"{path}: not an agent file")
    return data


def _validate(path: Path, data: Mapping[str, Any], model: type[SpecT]) -> SpecT:
    from nova.catalog.loader import validate_spec_file

    spec, problems = validate_spec_file(path, dump_yaml(dict(data)), model)
    if spec is None:
        raise CatalogError(problems)
    return spec


def store_for(catalog_dir: Path | None) -> VersionStore:
    """Return the version store of ``catalog_dir``, or of Nova's catalog (with owner's agents)."""
    if catalog_dir is not None:
        return VersionStore(catalog_dir)
    from nova.catalog.loader import _configured_folders

    built_in, own = _configured_folders()
    return VersionStore(built_in, base=load_specs(built_in, AgentSpec, overlay=own))


def as_recorded(
    catalog: Catalog[AgentSpec], agent: str | None, recorded: str | None
) -> tuple[Catalog[AgentSpec], str | None]:
    """Return ``catalog`` with ``agent`` at the version a run recorded, and a note on it.

    A replay (``nova failures retry``, the gate's evidence) should run the agent as it was
    when the run happened, not as it is after later promotions or rollbacks. ``recorded``
    is what the ledgers keep (``name@1.2.0+content``, see ``VersionStore.find``). The note
    is ``None`` when nothing changes (no agent, or the version in force is the recorded
    one); otherwise it says which version the replay uses, or that the recorded one is
    gone from the history (the owner edited the file) and the version in force is used.
    """
    if not agent or not recorded or agent not in catalog:
        return catalog, None
    current = catalog[agent]
    label = recorded.split("@", 1)[1] if "@" in recorded else recorded
    if label in (current.content_version, f"{current.version}+{current.content_version}"):
        return catalog, None
    from dataclasses import replace

    store = store_for(None)
    try:
        version = store.find(agent, recorded)
        spec = store.spec(agent, version.number)
    except (VersionError, CatalogError) as error:
        return catalog, f"{error}; replaying with the version in force ({current.version_label})"
    return (
        replace(catalog, agents={**catalog.agents, agent: spec}),
        f"replaying {agent} as the run recorded it: version {version.number} "
        f"({spec.version_label}), not the one in force ({current.version_label})",
    )
