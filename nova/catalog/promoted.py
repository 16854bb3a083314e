"""Promoted agent versions: the overlay ``nova improve`` writes, read by the catalog loader.

A catalog folder's promoted versions live in the data directory, never beside the
installed files (``<data dir>/improve/catalogs/<key>/``)::

    active/<agent>.yaml     the agent file now in force, first line a ``# nova-promoted:``
                            header (its version number and the base it was derived from)
    out_of_scope.yaml       out-of-scope requests added to ``router.yaml``'s, same header
    history/<agent>.jsonl   every version with its parent, reason and evidence
                            (``nova.improve.versions``)

A promoted version is applied only while the file it was derived from (the built-in file,
or the owner's own) is unchanged: an owner who edits the agent afterwards gets their edit,
and ``nova agents history`` shows the promotion as stale.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from nova.userdata import resolved as resolved_path

log = logging.getLogger(__name__)

HEADER = "# nova-promoted: "
OUT_OF_SCOPE = "_out_of_scope"
"""History name of the catalog's promoted out-of-scope requests."""
_SAFE = re.compile(r"[^a-z0-9]+")


def improve_dir() -> Path:
    """Return the folder of everything ``nova improve`` keeps on disk."""
    from nova.settings import get_settings

    return get_settings().data_dir / "improve"


def catalog_key(directory: Path | str) -> str:
    """Return the stable key of a catalog folder: its name and a hash of its full path."""
    resolved = resolved_path(Path(directory))
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:10]
    name = _SAFE.sub("-", f"{resolved.parent.name}-{resolved.name}".lower()).strip("-")
    return f"{name[:60]}-{digest}"


def catalog_root(directory: Path | str) -> Path:
    """Return where the promoted versions of the catalog in ``directory`` live."""
    return improve_dir() / "catalogs" / catalog_key(directory)


def active_dir(directory: Path | str) -> Path:
    """Return the folder of the promoted agent files in force for ``directory``."""
    return catalog_root(directory) / "active"


def out_of_scope_file(directory: Path | str) -> Path:
    """Return the file of promoted out-of-scope requests for ``directory``."""
    return catalog_root(directory) / "out_of_scope.yaml"


def spec_hash(data: Mapping[str, Any] | BaseModel) -> str:
    """Return the content hash of an agent's data (every field), as lineage records it."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    payload = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def file_hash(path: Path) -> str:
    """Return the content hash of the agent file at ``path`` (its data, not its layout)."""
    from nova.yamlio import load_yaml

    return spec_hash(load_yaml(path.read_text(encoding="utf-8")) or {})


def read_header(path: Path) -> dict[str, Any] | None:
    """Return the ``# nova-promoted:`` header of a promoted file (``None`` if it has none)."""
    try:
        with path.open(encoding="utf-8") as handle:
            first = handle.readline()
    except OSError:
        return None
    if not first.startswith(HEADER):
        return None
    try:
        header = json.loads(first[len(HEADER) :])
    except json.JSONDecodeError:
        return None
    return header if isinstance(header, dict) else None


def read_out_of_scope(directory: Path | str) -> tuple[str, ...]:
    """Return the promoted out-of-scope requests of the catalog in ``directory``."""
    from nova.yamlio import load_yaml

    path = out_of_scope_file(directory)
    if not path.is_file():
        return ()
    data = load_yaml(path.read_text(encoding="utf-8")) or {}
    texts = data.get("out_of_scope_examples") if isinstance(data, dict) else None
    return tuple(t for t in texts or () if isinstance(t, str) and t.strip())
