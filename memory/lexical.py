"""BM25 over each project's memories (bm25s), the lexical half of hybrid recall.

Names, codes and numbers ("RE-2417", "Nordwind Hydraulik", "BRK-1174") are where a small
sentence encoder is weakest and keyword scoring strongest. ``MemoryStore`` fuses the two
rankings by score (see ``HYBRID_WEIGHT`` there); ``nova eval memory`` prints vector-only
against hybrid on both retrieval datasets.

bm25s indexes are immutable, so an index is rebuilt after its project changes (a write
through this store, or a changed item count, which also catches other processes' writes):
at once for collections up to ``sync_limit`` items (0.3 s at 20,000), in a background
thread for larger ones, which keep answering from the previous index meanwhile (new items
are still found by the vector half; deleted ones are filtered out by the caller).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

SYNC_REBUILD_LIMIT = 20_000
SIZE_CHECK_S = 1.0

Loader = Callable[[], tuple[list[str], list[str]]]
"""Returns ``(ids, texts)`` of every item in a project."""


def _bm25s() -> Any:
    import bm25s

    # bm25s sets its own logger to DEBUG: once anything has configured the root logger
    # (a bare ``logging.warning`` does), every index build would print a debug line.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


class LexicalIndex:
    """An immutable BM25 index over item texts (English stop words, bm25s defaults)."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str]) -> None:
        """Index ``texts``; ``ids`` name them in search results."""
        bm25s = _bm25s()

        self.ids = list(ids)
        self._retriever = bm25s.BM25()
        if self.ids:
            tokens = bm25s.tokenize(list(texts), stopwords="en", show_progress=False)
            self._retriever.index(tokens, show_progress=False)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """Return up to ``k`` ``(id, BM25 score)`` pairs, best first (only items sharing a term)."""
        bm25s = _bm25s()

        if not self.ids or k <= 0:
            return []
        tokens = bm25s.tokenize([query], stopwords="en", return_ids=False, show_progress=False)
        if not tokens[0]:
            return []
        docs, scores = self._retriever.retrieve(
            tokens, k=min(k, len(self.ids)), show_progress=False
        )
        return [
            (self.ids[int(doc)], float(score))
            for doc, score in zip(docs[0], scores[0], strict=True)
            if score > 0
        ]


@dataclass(frozen=True, slots=True)
class _Built:
    index: LexicalIndex
    version: int


class LexicalIndexes:
    """Per-project BM25 indexes kept in step with writes."""

    def __init__(self, sync_limit: int = SYNC_REBUILD_LIMIT) -> None:
        """Rebuild synchronously up to ``sync_limit`` items, in the background above."""
        self.sync_limit = sync_limit
        self._built: dict[str, _Built] = {}
        self._versions: dict[str, int] = {}
        self._building: set[str] = set()
        self._checked: dict[str, float] = {}
        self._lock = threading.Lock()

    def invalidate(self, project: str) -> None:
        """Mark ``project``'s index out of date (call after every write to it)."""
        with self._lock:
            self._versions[project] = self._versions.get(project, 0) + 1

    def get(self, project: str, size: Callable[[], int], load: Loader) -> LexicalIndex:
        """Return ``project``'s index, rebuilding it first or in the background when stale.

        Args:
            project: Whose index.
            size: Returns the project's current item count; compared with the index at most
                every ``SIZE_CHECK_S`` seconds (it costs ~5 ms at 100,000 items), to notice
                writes by other processes, such as the CLI beside a server.
            load: Returns every ``(ids, texts)`` of the project, for a rebuild.

        """
        now = time.monotonic()
        with self._lock:
            checked = now - self._checked.get(project, float("-inf")) < SIZE_CHECK_S
        items = None if checked else size()
        with self._lock:
            if items is not None:
                self._checked[project] = now
            version = self._versions.get(project, 0)
            built = self._built.get(project)
            fresh = (
                built is not None
                and built.version == version
                and (items is None or len(built.index) == items)
            )
            size_now = len(built.index) if items is None and built is not None else items or 0
            background = built is not None and size_now > self.sync_limit
            if not fresh and background and project not in self._building:
                self._building.add(project)
                threading.Thread(
                    target=self._rebuild,
                    args=(project, version, load),
                    name=f"bm25-{project}",
                    daemon=True,
                ).start()
        if fresh or background:
            return built.index  # type: ignore[union-attr]
        return self._build(project, version, load)

    def _build(self, project: str, version: int, load: Loader) -> LexicalIndex:
        ids, texts = load()
        index = LexicalIndex(ids, texts)
        with self._lock:
            current = self._built.get(project)
            if current is None or current.version <= version:
                self._built[project] = _Built(index, version)
        return index

    def _rebuild(self, project: str, version: int, load: Loader) -> None:
        try:
            self._build(project, version, load)
        except Exception:  # a failed background rebuild leaves the old index; log it loudly
            logger.exception("Rebuilding the BM25 index of project %s failed", project)
        finally:
            with self._lock:
                self._building.discard(project)
