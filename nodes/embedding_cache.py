"""Embeddings of texts the router has already encoded, kept on disk between fits.

Encoding is most of the cost of fitting a router (15,000 examples take ~45 CPU-seconds
with the bundled MiniLM), and a catalog change usually touches a handful of examples.
So every example's embedding is stored under the router's cache folder, keyed by a hash
of the text, in one file per encoder: a refit encodes only the texts it has not seen.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
Encoder = Callable[[list[str]], FloatArray]

_KEY_BYTES = 16
_CHUNK = 256


def text_key(text: str) -> bytes:
    """Return the cache key of a text (the first 16 bytes of its SHA-256)."""
    return hashlib.sha256(text.encode("utf-8")).digest()[:_KEY_BYTES]


class EmbeddingCache:
    """A text-hash → embedding store for one encoder, in one ``.npz`` file.

    Args:
        folder: Where the file lives (``None`` keeps the cache in memory only).
        encoder_id: Identifies the encoder (name and version); part of the file name, so
            vectors of another encoder are never mixed in.
        encoder: Embeds a list of texts into L2-normalised rows.

    """

    def __init__(self, folder: Path | None, encoder_id: str, encoder: Encoder) -> None:
        """Open (lazily) the cache file of ``encoder_id`` in ``folder``."""
        self.encoder_id = encoder_id
        digest = hashlib.sha256(encoder_id.encode()).hexdigest()[:12]
        self.path = Path(folder) / f"embeddings-{digest}.npz" if folder is not None else None
        self._encoder = encoder
        self._rows: dict[bytes, int] | None = None
        self._vectors: FloatArray = np.zeros((0, 0), dtype=np.float32)
        self.hits = 0
        self.misses = 0

    def _load(self) -> dict[bytes, int]:
        if self._rows is not None:
            return self._rows
        self._rows = {}
        if self.path is not None and self.path.is_file():
            try:
                with np.load(self.path, allow_pickle=False) as data:
                    keys, vectors = data["keys"], data["vectors"]
                if keys.ndim != 2 or keys.shape[1] != _KEY_BYTES or len(keys) != len(vectors):
                    raise ValueError("not an embedding cache")
                self._vectors = np.asarray(vectors, dtype=np.float32)
                self._rows = {key.tobytes(): row for row, key in enumerate(keys)}
            except (OSError, KeyError, ValueError):
                # A damaged or foreign file is only a cache: start again, it is rewritten.
                self._rows, self._vectors = {}, np.zeros((0, 0), dtype=np.float32)
        return self._rows

    def encode(
        self, texts: Sequence[str], advance: Callable[[int], None] = lambda _n: None
    ) -> FloatArray:
        """Return the embeddings of ``texts``, encoding (and storing) only unseen ones.

        Args:
            texts: The texts, in order (duplicates are encoded once).
            advance: Called with the number of texts done after each encoded chunk.

        """
        rows = self._load()
        keys = [text_key(text) for text in texts]
        missing: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in rows:
                missing.setdefault(key, text)
        self.misses += len(missing)
        self.hits += len(texts) - len(missing)
        advance(len(texts) - len(missing))
        if missing:
            todo = list(missing.items())
            chunks = []
            for start in range(0, len(todo), _CHUNK):
                part = todo[start : start + _CHUNK]
                chunks.append(self._encoder([text for _, text in part]))
                advance(len(part))
            fresh = np.vstack(chunks).astype(np.float32, copy=False)
            base = len(self._vectors)
            self._vectors = fresh if base == 0 else np.vstack([self._vectors, fresh])
            for offset, (key, _) in enumerate(todo):
                rows[key] = base + offset
            self._save()
        if not texts:
            return np.zeros((0, self._vectors.shape[1] if self._vectors.size else 0), np.float32)
        return self._vectors[np.fromiter((rows[k] for k in keys), dtype=np.intp, count=len(keys))]

    def _save(self) -> None:
        if self.path is None or self._rows is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Raw bytes in a uint8 matrix: numpy's fixed-width bytes type drops trailing NULs.
        keys = np.zeros((len(self._vectors), _KEY_BYTES), dtype=np.uint8)
        for key, row in self._rows.items():
            keys[row] = np.frombuffer(key, dtype=np.uint8)
        # Write then rename: a concurrent reader sees the old file or the new, never half.
        handle, scratch = tempfile.mkstemp(dir=self.path.parent, prefix=".emb-", suffix=".npz")
        os.close(handle)
        try:
            with open(scratch, "wb") as file:
                np.savez(file, keys=keys, vectors=self._vectors)
            os.replace(scratch, self.path)
        finally:
            if os.path.exists(scratch):
                os.unlink(scratch)
