"""Where the owner's own projects and agents live, and how they are written.

Built-in projects (``nova/projects.yaml``) and agents (``nova/catalog/agents/``) ship
inside the package and are defaults: Nova never writes there. The owner's live under the
config directory (``NOVA_CONFIG_DIR``, default ``<data dir>/config``)::

    projects.yaml     owner's projects, and ``removed:`` ids of built-in ones (tombstones)
    agents/*.yaml     owner's agents; one with a built-in name overrides that agent
    drafts/           edits that failed validation, kept so no typing is lost

``nova.projects.load_projects`` and ``nova.catalog.load_catalog`` merge them over the
built-in ones. Every write here is atomic (a temporary file in the same folder, then
``os.replace``), so a crash or a rejected edit never leaves a half-written file behind.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

PACKAGE_DIR = Path(__file__).resolve().parent
"""The installed ``nova`` package: built-in data lives here and is never written to."""

USER_PROJECTS_FILE = "projects.yaml"
USER_AGENTS_DIR = "agents"
DRAFTS_DIR = "drafts"

Fingerprint = tuple[tuple[str, int, int, int], ...]
"""Path, modification time (ns), size and inode per file: changes whenever a file does."""


class UserDataError(ValueError):
    """A write would go inside the installed package, or the owner's file cannot be written."""


def config_dir() -> Path:
    """Return the folder of the owner's projects and agents (it may not exist yet)."""
    from nova.settings import get_settings

    return get_settings().resolved_config_dir


def user_projects_file() -> Path:
    """Return the owner's projects file (merged over the built-in projects)."""
    return config_dir() / USER_PROJECTS_FILE


def user_agents_dir() -> Path:
    """Return the folder of the owner's agent files (merged over the built-in catalog)."""
    return config_dir() / USER_AGENTS_DIR


def drafts_dir() -> Path:
    """Return the folder where edits that failed validation are kept."""
    return config_dir() / DRAFTS_DIR


@functools.lru_cache(maxsize=64)
def resolved(path: Path) -> Path:
    """Return ``path.resolve()``, remembered.

    The catalog and projects are looked up several times a turn, and resolving walks every
    component of the path with a system call. Edits to the files are still seen (their
    fingerprints are taken each time); only re-pointing a symlink on the way to them needs
    a restart.
    """
    return path.resolve()


def yaml_files(directory: Path) -> list[Path]:
    """Return the ``*.yaml``/``*.yml`` files in ``directory``, sorted (none if it is missing)."""
    if not directory.is_dir():
        return []
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


def fingerprint(paths: Iterable[Path]) -> Fingerprint:
    """Return a cheap fingerprint of ``paths`` for process-wide caches.

    A stat per file rather than a content hash: loaders are asked on every request, and
    an atomic replace always changes the inode, an in-place edit the time or size.
    """
    entries = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            entries.append((str(path), -1, -1, -1))
            continue
        entries.append((str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino))
    return tuple(entries)


def folder_fingerprint(*folders: Path) -> Fingerprint:
    """Return the fingerprint of every YAML file in ``folders`` (missing folders have none).

    One ``os.scandir`` per folder: the catalog is checked on every routed request.
    """
    entries = []
    for folder in folders:
        try:
            with os.scandir(folder) as listing:
                for entry in listing:
                    if entry.name.endswith((".yaml", ".yml")) and entry.is_file():
                        stat = entry.stat()
                        entries.append((entry.path, stat.st_mtime_ns, stat.st_size, stat.st_ino))
        except OSError:
            continue
    return tuple(sorted(entries))


def inside_package(path: Path) -> bool:
    """Return whether ``path`` lies inside the installed ``nova`` package."""
    return path.resolve().is_relative_to(PACKAGE_DIR)


def atomic_write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically, creating its folder if needed.

    Raises:
        UserDataError: ``path`` is inside the installed package, or cannot be written.

    """
    if inside_package(path):
        raise UserDataError(
            f"Refusing to write {path}: it is inside the installed package ({PACKAGE_DIR}). "
            "Point NOVA_CONFIG_DIR (or NOVA_DATA_DIR) at a folder of your own."
        )
    temporary: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Same folder as the target, so os.replace is a rename within one filesystem.
        with tempfile.NamedTemporaryFile(
            "w",
            encoding="utf-8",
            dir=path.parent,
            prefix=f".{path.name}.",
            suffix=".tmp",
            delete=False,
        ) as handle:
            temporary = Path(handle.name)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise UserDataError(f"Cannot write {path}: {error}") from None


class _Dumper(yaml.SafeDumper):
    """Safe YAML with multi-line text (prompts) as literal blocks, as people write it."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value.strip() else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_text)


def dump_yaml(data: Any) -> str:
    """Return ``data`` as block-style YAML, keys in the given order, text kept readable."""
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=92,
    )
