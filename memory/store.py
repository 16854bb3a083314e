"""Nova's project-scoped long-term memory on Chroma.

Scope. Memories belong to an owner and a project. Each (owner, project) pair has its own
Chroma collection (``memory.chroma.collection_name``): the local owner (CLI, scripts,
``nova serve --dev``) has ``nova-memory-<project>``, each authenticated user of the durable
server ``nova-memory-<project>.u-<hash of the user id>``. A store is bound to one owner
(``for_owner`` gives another owner's view of the same client and caches), and every
method takes the project explicitly, so no query can reach another user's or another
project's items. The alternative, one collection with a mandatory ``where={"project": …}``
filter, was measured and rejected (``python -m evals.bench_memory --layout shared``,
100,000 items, five projects): the filtered Chroma query took 79.7 ms p50 against 2.2 ms
for a per-project collection of the same 100,000 items, and a single forgotten filter
would leak. Project seeds are project context, not anyone's memory: every owner's
collection of a project starts with them.

Recall path. ``search`` embeds the query (MiniLM), asks Chroma for a few more neighbours
than needed, fuses their cosine with BM25 over the project's texts and their English
glosses (``memory.lexical``, ``memory.lexicon``; see ``HYBRID_WEIGHT``), puts the memories
that name every code the query names first (``identifiers``) and drops superseded items
(and other kinds, when asked) in Python: Chroma's metadata filters are slow on large
collections, so the hot path sends no ``where`` and repeats the query with one only when
filtering left too few hits. Each memory is embedded with the first English gloss of its
German words appended (``embedding_text``: "Albrecht Sanitär GmbH … (plumber)"), since
the English encoder cannot read the German trade in a company's name. Each collection
records what its vectors embed (metadata ``nova_embedding``, ``embedding_scheme``); a
collection written under another scheme (before the glosses, or without the dictionary)
is re-embedded from its stored texts the first time a process opens it, so an existing
data directory gains the same recall as a new one.

Supersession. A newer item replaces the older active item of the same kind when

* both carry the same ``topic`` (any kind; the explicit rule, and how each thread's
  newest conversation summary replaces the previous one), or
* the newer one is a decision or preference without a topic, and the older one is at least
  ``supersede_similarity`` cosine-similar (0.85 by default) and *restated* by it: every
  content word of the older one (names, codes, ordinary words; not numbers, days, months
  or function words) appears in the newer one (``memory.items.restates``). Embeddings
  alone cannot tell "Acme gets 5 percent off" from "Baker gets 8 percent off", or the
  spring campaign from the summer one. On ``evals/datasets/memory_supersede.yaml``
  (``nova eval memory``) the rule catches 15 of 20 real updates ("30 days net" → "now 14
  days net") and none of 20 related-but-different decisions, and ingesting the 2,187-item
  retrieval corpus supersedes nothing. It errs towards keeping both because a wrongly
  superseded memory silently drops out of recall; callers that know the subject should
  pass a ``topic``.

The older item stays stored with ``superseded_by`` set (and ``active`` false); the newer
one records ``supersedes``. ``history`` walks the chain; recall skips superseded items.
"""

from __future__ import annotations

import copy
import functools
import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from memory.chroma import (
    check_owner,
    collection_name,
    open_chroma_client,
    owner_key,
    parse_collection_name,
)
from memory.embeddings import encode, encode_one
from memory.items import (
    SUPERSEDABLE_KINDS,
    MemoryItem,
    MemoryKind,
    NewMemory,
    SaveResult,
    memory_id,
    restates,
)
from memory.lexical import LexicalIndex, LexicalIndexes
from memory.lexicon import default_lexicon
from nova.projects import PROJECT_ID_PATTERN, Project, ProjectError, Projects, load_projects
from nova.state import MemoryHit

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from chromadb.api.types import Embeddable, EmbeddingFunction

    from nova.settings import NovaSettings

SUPERSEDE_SIMILARITY = 0.85
"""Cosine similarity above which a same-kind decision/preference replaces the older one."""

FUSION_CANDIDATES = 20
"""Candidates each ranking (vector, BM25) contributes to the fusion."""
HYBRID_WEIGHT = 0.85
"""Hybrid relevance = ``HYBRID_WEIGHT`` × cosine + the rest × BM25 / best BM25 of the query.

Chosen on the dev split only (``python -m evals.tune_memory_fusion``: generated, blind
paraphrase and seed paraphrase queries, each set counting alike in the mean of recall@5
and MRR@20): 0.85 scores 0.856 against 0.844 at 0.7 and 0.851 at 0.9. With BM25 over
texts glossed in English (``memory.lexicon``) the same grid puts 0.6 first by a hair
(0.892 against 0.889 at 0.85: paraphrase recall@5 0.865 against 0.823, seed paraphrase
MRR 0.822 against 0.947), but a lower weight lifts every single-keyword match, and the
route node's model-free memory answers (``nodes.route_context.STRONG_MEMORY_SCORE``, 0.45)
fall from 94.7% to 71.0% right on dev (``python -m evals.tune_memory_route``); precision
first, so 0.85 stays. Test figures, dev beside them: ``nova eval memory``. Reciprocal
rank fusion (k=60) did worse when this was first measured (it let weak keyword matches
outrank strong semantic ones); dividing BM25 by the query's best possible score instead
of its best actual one measured the same on dev.

Since memories are embedded with the first English gloss of their German words
(``embedding_text``), the same dev grid puts 0.85 first on its own (objective 0.923
against 0.916 at 0.8 and 0.903 at 0.6; blind paraphrase recall@5 0.892), and the model-free
answers at 0.45 are 95.2% right on dev (95.0% before)."""

log = logging.getLogger(__name__)

_EMBED_BATCH = 128
_REEMBED_BATCH = 1024  # stored texts read back and re-embedded per Chroma update
_OVERFETCH = 3
_PAGE = 5000
_PROJECT_ID = re.compile(PROJECT_ID_PATTERN)

ProgressCallback = Callable[[int], None]
"""``progress(n)``: ``n`` more items were processed."""


class MemoryNotFoundError(KeyError):
    """No memory with this id exists in the project (or in any project)."""

    def __str__(self) -> str:
        return str(self.args[0])


def _now() -> datetime:
    return datetime.now(tz=UTC)


def get_all(
    collection: Collection, include: list[str], where: dict[str, Any] | None = None
) -> tuple[list[str], list[str], list[dict[str, object]]]:
    """Return ``(ids, documents, metadatas)`` of every matching item, read in pages.

    One unpaged ``get`` of a large collection fails inside Chroma ("too many SQL
    variables", seen at 100,000 items); documents and metadatas are ``[]`` unless included.
    """
    ids: list[str] = []
    documents: list[str] = []
    metadatas: list[dict[str, object]] = []
    offset = 0
    while True:
        page = collection.get(where=where, include=include, limit=_PAGE, offset=offset)  # type: ignore[arg-type]
        ids.extend(page["ids"])
        documents.extend(text or "" for text in page["documents"] or [])
        metadatas.extend(dict(meta or {}) for meta in page["metadatas"] or [])
        if len(page["ids"]) < _PAGE:
            return ids, documents, metadatas
        offset += _PAGE


def fuse(
    cosine: dict[str, float], bm25: Sequence[tuple[str, float]], weight: float = HYBRID_WEIGHT
) -> dict[str, float]:
    """Return hybrid relevance per id: ``weight`` × cosine + (1 - ``weight``) × relative BM25."""
    best = max((score for _, score in bm25), default=0.0)
    lexical = {item_id: score / best for item_id, score in bm25} if best > 0 else {}
    return {
        item_id: weight * similarity + (1.0 - weight) * lexical.get(item_id, 0.0)
        for item_id, similarity in cosine.items()
    }


_IDENTIFIER = re.compile(r"[^\W_]+(?:[-./][^\W_]+)*")


def identifiers(text: str) -> frozenset[str]:
    """Return the codes ``text`` names (RE-2417, BRK-1174, Q-5512), case-folded.

    A code is a word, perhaps joined by ``-``, ``.`` or ``/``, holding a letter and a
    digit; plain numbers (prices, dates, versions) are not codes.
    """
    return frozenset(
        word.casefold()
        for word in _IDENTIFIER.findall(text)
        if any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
    )


def _english_glosses(text: str) -> str:
    lexicon = default_lexicon()
    return lexicon.glosses(text) if lexicon is not None else ""


def embedding_text(text: str) -> str:
    """Return what the encoder reads for a memory: its text and its German words' glosses.

    ``memory.lexicon``'s ``Lexicon.note`` ("Ebert Tischlerei asked …" + " (carpentry)");
    the text itself where the dictionary is not installed. The stored document stays
    the plain text; queries are embedded as they are (the route node shares their vector).
    """
    lexicon = default_lexicon()
    return lexicon.note(text) if lexicon is not None else text


EMBEDDING_SCHEME_KEY = "nova_embedding"
"""Collection metadata naming what the stored vectors embed (see ``embedding_scheme``)."""


def embedding_scheme(glosses: bool) -> str:
    """Name what a store embeds: ``glossed-1`` (text and its glosses) or ``text`` alone.

    Bump the version when ``embedding_text`` changes what it appends: stored vectors are
    then re-embedded, since a query only finds what was embedded the same way.
    """
    return "glossed-1" if glosses and default_lexicon() is not None else "text"


class MemoryStore:
    """One owner's project-scoped memory: save, recall, forget and trace memory items.

    Thread-safe for Nova's use: graph nodes call it from worker threads. The encoder
    serialises forward passes itself; collection handles are created under a lock.
    """

    def __init__(
        self,
        client: ClientAPI,
        *,
        projects: Projects | None = None,
        supersede_similarity: float = SUPERSEDE_SIMILARITY,
        seed: bool = True,
        hybrid: bool = True,
        owner: str | None = None,
        hybrid_weight: float = HYBRID_WEIGHT,
        glosses: bool = True,
    ) -> None:
        """Wrap a Chroma client.

        Args:
            client: A Chroma client (``open_chroma_client`` builds one from settings).
            projects: Known projects. When given, unknown project ids are refused and a
                project's seed memories are saved the first time its collection is created.
                ``None`` accepts any well-formed id and seeds nothing (evals, benchmarks).
            supersede_similarity: Similarity for the no-topic supersession rule.
            seed: Whether to save seed memories into newly created collections.
            hybrid: Fuse BM25 with the vector ranking (see ``memory.lexical``); ``False``
                ranks by vector similarity alone.
            owner: Whose memories this store reads and writes: ``None`` for the local
                owner, else the authenticated user id (see ``for_owner``).
            hybrid_weight: The fusion's cosine weight (``HYBRID_WEIGHT``; evals vary it).
            glosses: Index each memory for BM25 with the English glosses of its German
                words, and embed it with the first of them (``embedding_text``;
                ``memory.lexicon``; a no-op where the dictionary is not installed).

        """
        if not 0.0 < supersede_similarity <= 1.0:
            raise ValueError(f"supersede_similarity must be in (0, 1]; got {supersede_similarity}")
        self.client = client
        self._projects = projects
        self._follow_configured_projects = False
        self.supersede_similarity = supersede_similarity
        self._seed_new = seed
        self.hybrid = hybrid
        self.hybrid_weight = hybrid_weight
        self.owner = check_owner(owner)
        # Shared by every owner's view (``for_owner``), so all caches key on collection names.
        self._lexical = LexicalIndexes(gloss=_english_glosses if glosses else None)
        self._embedding_text: Callable[[str], str] = embedding_text if glosses else str
        self._glosses = glosses
        # Chroma types the parameter as EmbeddingFunction[Embeddable]; ours embeds Documents.
        from memory.chroma_embedding import MiniLMEmbeddingFunction

        self._function = cast("EmbeddingFunction[Embeddable]", MiniLMEmbeddingFunction())
        self._collections: dict[str, Collection] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(cls, settings: NovaSettings | None = None, **kwargs: object) -> MemoryStore:
        """Open the configured store: Chroma from settings, projects from the projects file."""
        follow = "projects" not in kwargs
        kwargs.setdefault("projects", load_projects())
        store = cls(open_chroma_client(settings), **kwargs)  # type: ignore[arg-type]
        # The configured projects change while a server runs (`nova projects add`); the
        # store, opened once per process, asks the loader (cached by file stamp) each time.
        store._follow_configured_projects = follow
        return store

    @property
    def projects(self) -> Projects | None:
        """Known projects (the configured ones, re-read when their files change), or ``None``."""
        if self._follow_configured_projects:
            return load_projects()
        return self._projects

    def for_owner(self, owner: str | None) -> MemoryStore:
        """Return this store as seen by ``owner``: the same client and caches, their memories.

        ``owner`` is the run's authenticated user (``NovaContext.user_id``) or ``None`` for
        the local owner. Views are cheap (no Chroma call); build one per run.

        Raises:
            ValueError: ``owner`` is blank.

        """
        if check_owner(owner) == self.owner:
            return self
        view = copy.copy(self)
        view.owner = owner
        return view

    # --- collections -----------------------------------------------------------------

    def _name(self, project: str) -> str:
        return collection_name(project, self.owner)

    def check_project(self, project: str) -> Project | None:
        """Validate ``project``; return its definition when the store knows the projects.

        Raises:
            ProjectError: the id is malformed, or unknown to the configured projects.

        """
        if not isinstance(project, str) or not _PROJECT_ID.match(project):
            raise ProjectError(
                f"Invalid project id {project!r}: use 3-50 lower-case letters, digits and "
                "dashes, starting and ending with a letter or digit (e.g. parts-shop)"
            )
        return self.projects.get(project) if self.projects is not None else None

    def _collection(self, project: str) -> Collection:
        name = self._name(project)
        collection = self._collections.get(name)
        if collection is not None:
            return collection
        definition = self.check_project(project)
        from chromadb.errors import ChromaError, NotFoundError

        created = False
        with self._lock:
            collection = self._collections.get(name)
            if collection is not None:
                return collection
            scheme = embedding_scheme(self._glosses)
            metadata = {"nova_project": project, EMBEDDING_SCHEME_KEY: scheme}
            if self.owner is not None:
                metadata["nova_owner"] = self.owner
            try:
                collection = self.client.get_collection(name, embedding_function=self._function)
                if (collection.metadata or {}).get(EMBEDDING_SCHEME_KEY) != scheme:
                    self._reembed(collection, scheme)
            except NotFoundError:
                try:
                    collection = self.client.create_collection(
                        name,
                        embedding_function=self._function,
                        configuration={"hnsw": {"space": "cosine"}},
                        metadata=metadata,
                    )
                    created = True
                except ChromaError:  # another process created it in between
                    collection = self.client.get_collection(name, embedding_function=self._function)
            self._collections[name] = collection
        if created and self._seed_new and definition is not None:
            self.seed(definition)
        return collection

    def _reembed(self, collection: Collection, scheme: str) -> None:
        """Embed every stored text of ``collection`` again under ``scheme``, then record it."""
        stored = collection.get(include=["documents"])
        ids, texts = stored["ids"], stored["documents"] or []
        if ids:
            log.info("Re-embedding %d memories of %s (%s)", len(ids), collection.name, scheme)
        for start in range(0, len(ids), _REEMBED_BATCH):
            batch = [
                self._embedding_text(text or "") for text in texts[start : start + _REEMBED_BATCH]
            ]
            vectors = encode(batch, batch_size=_EMBED_BATCH)
            collection.update(ids=ids[start : start + _REEMBED_BATCH], embeddings=vectors)
        kept = {k: v for k, v in (collection.metadata or {}).items() if not k.startswith("hnsw:")}
        collection.modify(metadata={**kept, EMBEDDING_SCHEME_KEY: scheme})

    def stored_projects(self) -> list[str]:
        """Return the ids of projects in which this store's owner has a memory collection."""
        key = owner_key(self.owner)
        parsed = (parse_collection_name(c.name) for c in self.client.list_collections())
        return sorted(found[0] for found in parsed if found is not None and found[1] == key)

    def count(self, project: str) -> int:
        """Return how many items (current and superseded) ``project`` holds."""
        return self._collection(project).count()

    # --- writing ---------------------------------------------------------------------

    def seed(self, project: Project) -> list[SaveResult]:
        """Save ``project``'s seed memories (idempotent: seeds already stored stay one item)."""
        seeds = project.load_seeds()
        source = f"seed:{project.seeds.name}" if project.seeds else "seed"
        items = [NewMemory(text=s.text, kind=s.kind, topic=s.topic, source=source) for s in seeds]
        return self.save_many(project.id, items)

    def save(
        self,
        project: str,
        text: str,
        *,
        kind: MemoryKind = "fact",
        source: str = "user",
        topic: str | None = None,
    ) -> SaveResult:
        """Save one memory in ``project`` (see ``save_many``)."""
        return self.save_many(
            project, [NewMemory(text=text, kind=kind, source=source, topic=topic)]
        )[0]

    def save_many(
        self,
        project: str,
        memories: Sequence[NewMemory],
        *,
        progress: ProgressCallback | None = None,
        batch_size: int = 512,
    ) -> list[SaveResult]:
        """Save ``memories`` in ``project``, in order, embedding in batches.

        Text already stored in the project is not stored again: its ``updated_at`` moves and
        the result says ``existing``. Decisions and preferences (and any item with a topic)
        may supersede older items; see the module docstring.

        Returns:
            One ``SaveResult`` per input, in input order.

        """
        collection = self._collection(project)
        results: list[SaveResult] = []
        for start in range(0, len(memories), batch_size):
            batch = memories[start : start + batch_size]
            results.extend(self._save_batch(project, collection, batch))
            if progress is not None:
                progress(len(batch))
        return results

    def _save_batch(
        self, project: str, collection: Collection, batch: Sequence[NewMemory]
    ) -> list[SaveResult]:
        ids = [memory_id(project, memory.text) for memory in batch]
        found = collection.get(ids=list(dict.fromkeys(ids)), include=["documents", "metadatas"])
        known: dict[str, MemoryItem] = {
            item_id: MemoryItem.from_record(project, item_id, text or "", dict(meta or {}))
            for item_id, text, meta in zip(
                found["ids"], found["documents"] or [], found["metadatas"] or [], strict=True
            )
        }
        now = _now()
        fresh: dict[str, MemoryItem] = {}
        for item_id, memory in zip(ids, batch, strict=True):
            if item_id not in known and item_id not in fresh:
                fresh[item_id] = MemoryItem(
                    id=item_id,
                    project=project,
                    text=memory.text,
                    kind=memory.kind,
                    source=memory.source,
                    created_at=now,
                    updated_at=now,
                    topic=memory.topic,
                )
        order = list(fresh)
        embedded = self._embedding_text
        vectors = encode([embedded(item.text) for item in fresh.values()], batch_size=_EMBED_BATCH)
        superseded_by, superseded_in_store = self._supersessions(
            collection, list(fresh.values()), vectors
        )
        for new_id, old_id in superseded_by.items():
            fresh[new_id] = replace(fresh[new_id], supersedes=old_id)
        for old_id, new_id in superseded_in_store.items():
            if old_id in fresh:
                fresh[old_id] = replace(fresh[old_id], superseded_by=new_id)
        if fresh:
            collection.add(
                ids=order,
                embeddings=vectors,
                documents=[fresh[i].text for i in order],
                metadatas=[fresh[i].metadata() for i in order],
            )
        older = [old for old in superseded_in_store if old not in fresh]
        if older:
            collection.update(
                ids=older,
                metadatas=[
                    {"superseded_by": superseded_in_store[old], "active": False} for old in older
                ],
            )
        touched = [item_id for item_id in dict.fromkeys(ids) if item_id in known]
        if touched:
            collection.update(
                ids=touched, metadatas=[{"updated_ts": now.timestamp()}] * len(touched)
            )
        if fresh or older:
            self._lexical.invalidate(self._name(project))

        replaced: dict[str, list[str]] = {}
        for old_id, new_id in superseded_in_store.items():
            replaced.setdefault(new_id, []).append(old_id)
        results: list[SaveResult] = []
        reported: set[str] = set()
        for item_id in ids:
            if item_id in fresh and item_id not in reported:
                reported.add(item_id)
                results.append(
                    SaveResult(fresh[item_id], "created", tuple(replaced.get(item_id, ())))
                )
            elif item_id in fresh:  # the same text twice in one batch
                results.append(SaveResult(fresh[item_id], "existing"))
            else:
                results.append(SaveResult(replace(known[item_id], updated_at=now), "existing"))
        return results

    def _supersessions(
        self, collection: Collection, items: list[MemoryItem], vectors: npt.NDArray[np.float32]
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Decide which older items the new ``items`` (in order) replace.

        Returns:
            ``(new id -> the older id it supersedes, older id -> the new id superseding it)``;
            an older id may be stored already or be an earlier item of this batch.

        """
        topic_items = [i for i, item in enumerate(items) if item.topic is not None]
        similar_items = [
            i
            for i, item in enumerate(items)
            if item.topic is None and item.kind in SUPERSEDABLE_KINDS
        ]
        if not topic_items and not similar_items:
            return {}, {}

        # The current holder of each (kind, topic), from the store, then updated in batch order.
        holders: dict[tuple[str, str], list[tuple[float, str]]] = {}
        if topic_items:
            topics = sorted({items[i].topic for i in topic_items})  # type: ignore[type-var]
            found = collection.get(
                where={"$and": [{"topic": {"$in": topics}}, {"active": True}]},  # type: ignore[dict-item]
                include=["metadatas"],
            )
            for item_id, meta in zip(found["ids"], found["metadatas"] or [], strict=True):
                key = (str(meta["kind"]), str(meta["topic"]))
                holders.setdefault(key, []).append((float(meta["created_ts"]), item_id))  # type: ignore[arg-type]

        # Nearest stored neighbours of every candidate for the similarity rule, in one query.
        neighbours: dict[int, list[tuple[float, str, str, dict[str, object]]]] = {}
        if similar_items and collection.count():
            result = collection.query(
                query_embeddings=vectors[similar_items].tolist(),
                n_results=10,
                include=["documents", "metadatas", "distances"],
            )
            for row, i in enumerate(similar_items):
                neighbours[i] = [
                    (1.0 - distance, item_id, text or "", dict(meta))
                    for item_id, text, meta, distance in zip(
                        result["ids"][row],
                        (result["documents"] or [])[row],
                        (result["metadatas"] or [])[row],
                        (result["distances"] or [])[row],
                        strict=True,
                    )
                ]

        supersedes: dict[str, str] = {}
        superseded: dict[str, str] = {}
        for i, item in enumerate(items):
            if item.topic is not None:
                current = sorted(holders.get((item.kind, item.topic), []))
                for _, old_id in current:
                    superseded[old_id] = item.id
                if current:
                    supersedes[item.id] = current[-1][1]
                holders[(item.kind, item.topic)] = [(0.0, item.id)]
                continue
            if i not in similar_items:
                continue
            candidates = [
                (similarity, old_id, text)
                for similarity, old_id, text, meta in neighbours.get(i, [])
                if meta.get("kind") == item.kind and meta.get("active", True)
            ]
            # Earlier items of this batch count too (they are not in the store yet).
            for j in similar_items:
                if j >= i:
                    break
                if items[j].kind == item.kind:
                    candidates.append((float(vectors[i] @ vectors[j]), items[j].id, items[j].text))
            for similarity, old_id, text in sorted(candidates, reverse=True):
                if similarity < self.supersede_similarity:
                    break
                if old_id not in superseded and restates(text, item.text):
                    superseded[old_id] = item.id
                    supersedes[item.id] = old_id
                    break
        return supersedes, superseded

    def forget(self, project: str, item_id: str) -> MemoryItem:
        """Delete one memory from ``project`` and close the gap in its history chain.

        Forgetting means "as if never said": the item's predecessor is re-linked to its
        successor, or becomes current again when the forgotten item was the current one.

        Raises:
            MemoryNotFoundError: ``item_id`` is not in ``project``.

        """
        item = self.get(project, item_id)
        if item is None:
            raise MemoryNotFoundError(
                f"No memory {item_id!r} in project {project!r}; find ids with "
                f"`nova memory search QUERY --project {project}`"
            )
        collection = self._collection(project)
        if item.supersedes and self.get(project, item.supersedes) is not None:
            if item.superseded_by:
                collection.update(
                    ids=[item.supersedes], metadatas=[{"superseded_by": item.superseded_by}]
                )
            else:
                collection.update(
                    ids=[item.supersedes], metadatas=[{"superseded_by": "", "active": True}]
                )
        if item.superseded_by and self.get(project, item.superseded_by) is not None:
            collection.update(
                ids=[item.superseded_by], metadatas=[{"supersedes": item.supersedes or ""}]
            )
        collection.delete(ids=[item_id])
        self._lexical.invalidate(self._name(project))
        return item

    def forget_source(self, project: str, source: str, *, keep: Iterable[str] = ()) -> int:
        """Delete ``project``'s items from ``source``, except ids in ``keep``; return how many."""
        collection = self._collection(project)
        ids, _, _ = get_all(collection, [], where={"source": source})
        stale = sorted(set(ids) - set(keep))
        if stale:
            collection.delete(ids=stale)
            self._lexical.invalidate(self._name(project))
        return len(stale)

    # --- reading ---------------------------------------------------------------------

    def get(self, project: str, item_id: str) -> MemoryItem | None:
        """Return item ``item_id`` of ``project``, or ``None``."""
        found = self._collection(project).get(ids=[item_id], include=["documents", "metadatas"])
        if not found["ids"]:
            return None
        return MemoryItem.from_record(
            project,
            item_id,
            (found["documents"] or [""])[0] or "",
            dict((found["metadatas"] or [{}])[0] or {}),
        )

    def locate(self, item_id: str) -> MemoryItem | None:
        """Find item ``item_id`` in whichever stored project holds it (for the CLI)."""
        for project in self.stored_projects():
            if self.projects is not None and project not in self.projects:
                continue
            item = self.get(project, item_id)
            if item is not None:
                return item
        return None

    def history(self, project: str, item_id: str) -> list[MemoryItem]:
        """Return the supersession chain through ``item_id``, oldest first.

        Raises:
            MemoryNotFoundError: ``item_id`` is not in ``project``.

        """
        item = self.get(project, item_id)
        if item is None:
            raise MemoryNotFoundError(f"No memory {item_id!r} in project {project!r}")
        chain = [item]
        seen = {item.id}
        cursor = item
        while cursor.supersedes and cursor.supersedes not in seen:
            older = self.get(project, cursor.supersedes)
            if older is None:
                break
            chain.insert(0, older)
            seen.add(older.id)
            cursor = older
        cursor = item
        while cursor.superseded_by and cursor.superseded_by not in seen:
            newer = self.get(project, cursor.superseded_by)
            if newer is None:
                break
            chain.append(newer)
            seen.add(newer.id)
            cursor = newer
        return chain

    def search(
        self,
        project: str,
        query: str,
        k: int = 5,
        *,
        kinds: Iterable[MemoryKind] | None = None,
        include_superseded: bool = False,
    ) -> list[MemoryHit]:
        """Return up to ``k`` of ``project``'s memories most relevant to ``query``, best first.

        Ranking: by cosine similarity, or (``hybrid``, the default) by cosine fused with BM25
        (``fuse``); with ``hybrid``, memories that name every code the query names
        (``identifiers``: "which release fixed RE-2349?") come first, since a sentence
        encoder reads all tickets alike and BM25's share of the fused score cannot always
        lift the one with the code. Superseded items are skipped unless asked for.

        Args:
            project: Project to search; no other project's items can be returned.
            query: Free text.
            k: Most hits to return.
            kinds: Only these kinds (default: all).
            include_superseded: Also return items a newer one replaced.

        Returns:
            Hits, best first; ``score`` is the relevance used for ranking: the cosine
            similarity, or with ``hybrid`` the fused value (0–1, equal to the fusion's
            cosine weight × cosine when no query term matches).

        """
        if k <= 0 or not query.strip():
            return []
        collection = self._collection(project)
        vector = encode_one(query)
        wanted = frozenset(kinds) if kinds is not None else None

        def keep(meta: dict[str, object]) -> bool:
            if not include_superseded and not meta.get("active", True):
                return False
            return wanted is None or meta.get("kind") in wanted

        n = max(k * _OVERFETCH + 5, FUSION_CANDIDATES)
        rows = self._query(collection, vector, n, None)
        returned = len(rows)
        relevance = {item_id: row[2] for item_id, row in rows.items()}
        weight = self.hybrid_weight
        codes = identifiers(query) if self.hybrid else frozenset()
        if self.hybrid:
            lexical = self._lexical_index(project, collection).search(query, n)
            relevance = fuse({item_id: row[2] for item_id, row in rows.items()}, lexical, weight)
            missing: list[str] = []
            if returned >= n:
                # A BM25 match outside the n nearest is at most as close as the farthest of
                # them: fetch it only if that could still lift it into the top k.
                farthest = min(row[2] for row in rows.values())
                kept = sorted((relevance[i] for i in rows if keep(rows[i][1])), reverse=True)
                bar = kept[k - 1] if len(kept) >= k else float("-inf")
                reachable = fuse(dict.fromkeys((i for i, _ in lexical), farthest), lexical, weight)
                missing = [i for i, score in reachable.items() if i not in rows and score > bar]
                if codes:  # any of them may name the query's codes, which outranks the bar
                    missing = [i for i, _ in lexical if i not in rows]
            # (With fewer than n items stored, every item is in rows already; BM25 ids that
            # are not were deleted since the index was built.)
            if missing:
                fetched = self._fetch(collection, missing, vector)
                rows.update(fetched)
                relevance.update(fuse({i: row[2] for i, row in fetched.items()}, lexical, weight))

        def rank(item_id: str) -> tuple[bool, float]:
            named = bool(codes) and codes <= identifiers(rows[item_id][0])
            return (not named, -relevance[item_id])

        ranking = [i for i in sorted(relevance, key=rank) if keep(rows[i][1])][:k]
        if len(ranking) < k and returned >= n:
            # Most neighbours were filtered out: let Chroma filter (slower, but complete).
            clauses: list[dict[str, object]] = []
            if not include_superseded:
                clauses.append({"active": True})
            if wanted is not None:
                clauses.append({"kind": {"$in": sorted(wanted)}})
            where: dict[str, Any] = clauses[0] if len(clauses) == 1 else {"$and": clauses}
            extra = self._query(collection, vector, k, where)
            for item_id, row in extra.items():
                if item_id not in rows:
                    rows[item_id] = row
                    relevance[item_id] = weight * row[2] if self.hybrid else row[2]
                    ranking.append(item_id)
            ranking = ranking[:k]
        return [
            MemoryItem.from_record(project, i, rows[i][0], rows[i][1]).hit(relevance[i])
            for i in ranking
        ]

    @staticmethod
    def _query(
        collection: Collection,
        vector: npt.NDArray[np.float32],
        n: int,
        where: dict[str, Any] | None,
    ) -> dict[str, tuple[str, dict[str, object], float]]:
        """Return ``id -> (text, metadata, cosine)`` of the ``n`` nearest items, nearest first."""
        result = collection.query(
            query_embeddings=[vector.tolist()],
            n_results=n,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        return {
            item_id: (text or "", dict(meta), 1.0 - distance)
            for item_id, text, meta, distance in zip(
                result["ids"][0],
                (result["documents"] or [[]])[0],
                (result["metadatas"] or [[]])[0],
                (result["distances"] or [[]])[0],
                strict=True,
            )
        }

    @staticmethod
    def _fetch(
        collection: Collection, ids: list[str], vector: npt.NDArray[np.float32]
    ) -> dict[str, tuple[str, dict[str, object], float]]:
        """Return ``id -> (text, metadata, cosine)`` of the stored ones of ``ids``."""
        found = collection.get(ids=ids, include=["documents", "metadatas", "embeddings"])
        embeddings = found["embeddings"] if found["embeddings"] is not None else []
        return {
            item_id: (
                text or "",
                dict(meta or {}),
                float(np.asarray(embedding, dtype=np.float32) @ vector),
            )
            for item_id, text, meta, embedding in zip(
                found["ids"],
                found["documents"] or [],
                found["metadatas"] or [],
                embeddings,
                strict=True,
            )
        }

    def _lexical_index(self, project: str, collection: Collection) -> LexicalIndex:
        def load() -> tuple[list[str], list[str]]:
            ids, texts, _ = get_all(collection, ["documents"])
            return ids, texts

        return self._lexical.get(self._name(project), collection.count, load)

    def items(self, project: str, *, include_superseded: bool = True) -> list[MemoryItem]:
        """Return every item of ``project``, oldest first (for listings and exports)."""
        ids, texts, metadatas = get_all(self._collection(project), ["documents", "metadatas"])
        items = [
            MemoryItem.from_record(project, i, text, meta)
            for i, text, meta in zip(ids, texts, metadatas, strict=True)
        ]
        if not include_superseded:
            items = [item for item in items if item.active]
        return sorted(items, key=lambda item: (item.created_at, item.id))


@functools.lru_cache(maxsize=4)
def _store_for(chroma_dir: str, chroma_url: str | None, projects_source: str) -> MemoryStore:
    return MemoryStore.open()


def default_memory_store() -> MemoryStore:
    """Return the process's store for the current settings (opened on first use, then reused).

    It is the local owner's; runs take their user's view with ``for_owner(user_id)``.
    Keyed on the Chroma location and projects file, so tests that point ``NOVA_DATA_DIR``
    elsewhere (and clear ``get_settings``) get a fresh store.
    """
    from nova.settings import get_settings

    settings = get_settings()
    return _store_for(
        str(settings.chroma_dir.resolve()),
        str(settings.chroma_url) if settings.chroma_url else None,
        str(settings.projects_file or ""),
    )
