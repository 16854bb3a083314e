"""Chroma access for Nova: the client from settings and the MiniLM embedding function.

chromadb's own default embedding function downloads an ONNX model on first use and fails
offline, so every collection Nova creates carries ``MiniLMEmbeddingFunction`` instead.
It is registered with ``@register_embedding_function`` (in ``memory.chroma_embedding``):
Chroma stores the function's name in the collection, and any process that imports that
module can reopen the collection and query it by text.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

    from memory.chroma_embedding import MiniLMEmbeddingFunction
    from nova.settings import NovaSettings

COLLECTION_PREFIX = "nova-memory-"
"""Every collection Nova owns starts with this (see ``collection_name``)."""
OWNER_SEPARATOR = ".u-"
"""Between the project and the owner key. Project ids have no dots, so no project's
collection name can be mistaken for another owner's."""


def check_owner(owner: str | None) -> str | None:
    """Return ``owner`` if it is ``None`` (the local owner) or a usable user id.

    Raises:
        ValueError: ``owner`` is blank (an unset identity must never share a scope).

    """
    if owner is not None and (not isinstance(owner, str) or not owner.strip()):
        raise ValueError(
            f"A memory owner must be a non-blank user id, or None for the local owner; "
            f"got {owner!r}"
        )
    return owner


def owner_key(owner: str | None) -> str | None:
    """Return the collection-name-safe key of ``owner`` (``None`` for the local owner).

    User ids come from API keys or JWT ``sub`` claims (``auth0|123``, e-mail addresses) and
    may hold characters Chroma refuses in names, so the key is a hash of the id.
    """
    if check_owner(owner) is None:
        return None
    return hashlib.sha256(owner.encode()).hexdigest()[:24]  # type: ignore[union-attr]


def collection_name(project: str, owner: str | None = None) -> str:
    """Return the Chroma collection holding ``owner``'s memories of ``project``.

    The local owner (CLI, ``nova serve --dev``, scripts: ``owner`` ``None``) has
    ``nova-memory-<project>``; an authenticated user of the durable server has
    ``nova-memory-<project>.u-<hash of the user id>``, so no query of one user's run can
    reach another user's memories, nor the local owner's.
    """
    key = owner_key(owner)
    suffix = f"{OWNER_SEPARATOR}{key}" if key is not None else ""
    return f"{COLLECTION_PREFIX}{project}{suffix}"


def parse_collection_name(name: str) -> tuple[str, str | None] | None:
    """Return ``(project, owner key)`` of a Nova collection name, or ``None`` for others."""
    if not name.startswith(COLLECTION_PREFIX):
        return None
    project, _, key = name.removeprefix(COLLECTION_PREFIX).partition(OWNER_SEPARATOR)
    return project, key or None


def open_chroma_client(settings: NovaSettings | None = None) -> ClientAPI:
    """Open Chroma: a server when ``NOVA_CHROMA_URL`` is set, else a persistent folder.

    The persistent client lives under ``<data_dir>/chroma``; telemetry is off either way
    (Nova makes no connection it was not asked to make).
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from nova.settings import get_settings

    settings = settings or get_settings()
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url is not None:
        url = settings.chroma_url
        ssl = url.scheme == "https"
        return chromadb.HttpClient(
            host=url.host or "localhost",
            port=url.port or (443 if ssl else 8000),
            ssl=ssl,
            settings=chroma_settings,
        )
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


def __getattr__(name: str) -> type[MiniLMEmbeddingFunction]:
    # chromadb costs most of a second to import: only code that opens a collection pays it.
    if name == "MiniLMEmbeddingFunction":
        from memory.chroma_embedding import MiniLMEmbeddingFunction

        return MiniLMEmbeddingFunction
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
