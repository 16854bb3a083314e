"""BM25 over each project's memories (bm25s), the lexical half of hybrid recall.

Names, codes and numbers ("RE-2417", "Nordwind Hydraulik", "BRK-1174") are where a small
sentence encoder is weakest and keyword scoring strongest. ``MemoryStore`` fuses the two
rankings by score (see ``HYBRID_WEIGHT`` there); ``nova eval memory`` prints vector-only
against hybrid on both retrieval datasets.

Each text is indexed with its ``gloss`` (``memory.lexicon``: English glosses of its German
words, so "which joinery …" finds "Ebert Tischlerei …"), and English plurals are folded
(``fold_plurals``) in texts and queries alike.

bm25s indexes are immutable, so an index is rebuilt after its project changes (a write
through this store, or a changed item count, which also catches other processes' writes):
at once for collections up to ``sync_limit`` items (0.3 s at 20,000), in a background
thread for larger ones, which keep answering from the previous index meanwhile (new items
are still found by the vector half; deleted ones are filtered out by the caller).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

SYNC_REBUILD_LIMIT = 20_000
GLOSS_CACHE = 100_000
"""Texts whose glosses are kept between rebuilds."""
SIZE_CHECK_S = 1.0

Loader = Callable[[], tuple[list[str], list[str]]]
"""Returns ``(ids, texts)`` of every item in a project."""
Gloss = Callable[[str], str]
"""Returns words to index with a text besides its own (``memory.lexicon``'s English glosses)."""


def fold_plurals(words: list[str]) -> list[str]:
    """Fold English plural endings (Harman's S-stemmer), so "plumbers" matches "plumber".

    Three rules, in order: ``-ies`` → ``-y`` (not ``-eies``/``-aies``), ``-es`` → ``-e``
    (not ``-aes``/``-ees``/``-oes``), ``-s`` → ``""`` (not ``-us``/``-ss``). It never merges
    different words the way a full stemmer does ("painter" and "painting" stay apart).
    """
    folded = []
    for word in words:
        if word.endswith("ies") and not word.endswith(("eies", "aies")) and len(word) > 4:
            word = word[:-3] + "y"
        elif word.endswith("es") and not word.endswith(("aes", "ees", "oes")) and len(word) > 3:
            word = word[:-1]
        elif word.endswith("s") and not word.endswith(("us", "ss")) and len(word) > 3:
            word = word[:-1]
        folded.append(word)
    return folded


def _bm25s() -> Any:
    import bm25s

    # bm25s sets its own logger to DEBUG: once anything has configured the root logger
    # (a bare ``logging.warning`` does), every index build would print a debug line.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


class LexicalIndex:
    """An immutable BM25 index over item texts (English stop words, plurals folded)."""

    def __init__(
        self, ids: Sequence[str], texts: Sequence[str], gloss: Gloss | None = None
    ) -> None:
        """Index ``texts`` (each with its ``gloss``, when given); ``ids`` name them in results."""
        bm25s = _bm25s()

        self.ids = list(ids)
        self._retriever = bm25s.BM25()
        if self.ids:
            indexed = [f"{text} {gloss(text)}" for text in texts] if gloss else list(texts)
            tokens = bm25s.tokenize(
                indexed, stopwords="en", stemmer=fold_plurals, show_progress=False
            )
            self._retriever.index(tokens, show_progress=False)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """Return up to ``k`` ``(id, BM25 score)`` pairs, best first (only items sharing a term)."""
        bm25s = _bm25s()

        if not self.ids or k <= 0:
            return []
        tokens = bm25s.tokenize(
            [query], stopwords="en", stemmer=fold_plurals, return_ids=False, show_progress=False
        )
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

    def __init__(self, sync_limit: int = SYNC_REBUILD_LIMIT, gloss: Gloss | None = None) -> None:
        """Rebuild synchronously up to ``sync_limit`` items, in the background above.

        ``gloss`` adds words to each indexed text (see ``LexicalIndex``).
        """
        self.sync_limit = sync_limit
        # A rebuild glosses the same texts again: cache by text (most rebuilds add one item).
        self.gloss = functools.lru_cache(maxsize=GLOSS_CACHE)(gloss) if gloss else None
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
        index = LexicalIndex(ids, texts, self.gloss)
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
