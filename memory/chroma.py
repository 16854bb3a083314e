"""Chroma access for Nova: the client from settings and the MiniLM embedding function.

chromadb's own default embedding function downloads an ONNX model on first use and fails
offline, so every collection Nova creates carries ``MiniLMEmbeddingFunction`` instead.
It is registered with ``@register_embedding_function``: Chroma stores the function's name
in the collection, and any process that imports this module can reopen the collection and
query it by text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from memory.embeddings import ENCODER_NAME, encode

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

    from nova.settings import NovaSettings

COLLECTION_PREFIX = "nova-memory-"
"""Every project's collection is ``nova-memory-<project id>``."""


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """Embed with the bundled all-MiniLM-L6-v2 (offline, L2-normalised, 384 dimensions)."""

    def __init__(self) -> None:
        """Create the function; the model itself loads on first use."""

    def __call__(self, input: Documents) -> Embeddings:
        """Embed ``input`` documents."""
        return list(encode(list(input)))

    @staticmethod
    def name() -> str:
        """Return the name Chroma stores in the collection's configuration."""
        return "nova-minilm"

    def default_space(self) -> Space:
        """Use cosine distance: the vectors are normalised, so it equals 1 - dot product."""
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        """Return the spaces that make sense for normalised vectors."""
        return ["cosine", "ip", "l2"]

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        """Rebuild the function when a process reopens a collection."""
        MiniLMEmbeddingFunction.validate_config(config)
        return MiniLMEmbeddingFunction()

    def get_config(self) -> dict[str, Any]:
        """Return the configuration Chroma stores with the collection."""
        return {"encoder": ENCODER_NAME}

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """Refuse a collection embedded with a different encoder (its vectors would not match)."""
        encoder = config.get("encoder", ENCODER_NAME)
        if encoder != ENCODER_NAME:
            raise ValueError(
                f"This collection was embedded with {encoder!r}, but Nova embeds with "
                f"{ENCODER_NAME!r}; re-import its memories into a new data directory"
            )

    def validate_config_update(
        self, old_config: dict[str, Any], new_config: dict[str, Any]
    ) -> None:
        """Refuse switching a collection to another encoder."""
        self.validate_config(new_config)


def collection_name(project: str) -> str:
    """Return the Chroma collection holding ``project``'s memories."""
    return f"{COLLECTION_PREFIX}{project}"


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
