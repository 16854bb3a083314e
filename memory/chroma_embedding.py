"""The Chroma embedding function on the bundled MiniLM, registered under its own name.

Kept apart from ``memory.chroma`` because defining it imports chromadb (most of a second):
only code that opens a collection imports this module.
"""

from __future__ import annotations

from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from memory.embeddings import ENCODER_NAME, encode


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
