"""Memory evaluation: retrieval quality (recall@k, MRR; vector-only vs hybrid) and supersession.

Retrieval. The corpus (``datasets/memory_corpus.jsonl``, written by
``evals/gen_memory_corpus.py``) is saved project by project into a throw-away Chroma store
exactly as Nova saves memories; each query is searched within its own project. Two query
sets ask about it, and a third about the shipped seeds:

* ``datasets/memory_queries.jsonl`` ("generated"): written with the corpus generator, most
  name the customer, part or ticket they ask about;
* ``datasets/memory_paraphrase_queries.jsonl`` ("paraphrase"): 255 questions written from
  the corpus alone, before any retrieval code was read, the way the owner would ask later
  from memory; each line says whether it shares a capitalised word, a number or a code
  with its target (``overlap``, ``evals/mark_memory_overlap.py``), and the "no overlap"
  slice is the ones that do not. Their ``relevant`` lists every item the question
  describes (one to five: "which plumbers are cancelling?" has two right answers);
* ``datasets/memory_seed_queries.yaml`` ("seed paraphrases"): hand-written paraphrases of
  the shipped seed memories, searched in the shipped projects.

Split (``evals.discipline``): every query's dev/test split is frozen by its hashed id; a
test query whose tokens nearly repeat one of its own targets (Jaccard ≥ 0.5) is removed
from test, since it measures string matching, not recall. Weights and the recall floor
are tuned on dev only (``python -m evals.tune_memory_fusion``); quote test.

* vector only: ``MemoryStore(hybrid=False).search``;
* hybrid (shipped: the recall node and ``memory_search`` use it): cosine fused with BM25
  (``bm25s``) by score, ``MemoryStore(hybrid=True).search`` (see ``memory.store.fuse``);
  BM25 indexes each text with the English glosses of its German words (``memory.lexicon``,
  from Debian's ``trans-de-en``; the report says whether the dictionary was there).

The paraphrase set is where the encoder is weakest: most of its questions name a
customer by its trade in English ("the roofers") where the memory has the German company
name ("… Dachdeckerei"), among near-identical siblings; the glosses bridge most of those,
in BM25 and in the embedding (``memory.store.embedding_text``).

Supersession. Each pair of ``datasets/memory_supersede.yaml`` is saved, older first, into
its own project; the report counts how often the store's no-topic rule superseded the
older item, against the pair's label. Ingesting the retrieval corpus (which holds no
updates at all) must supersede nothing.

Run with ``nova eval memory [--json report.json]``.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rich.console import Console

from evals.discipline import (
    Leak,
    Reference,
    SplitCases,
    jaccard,
    provenance,
    side_by_side,
    split_cases,
    tokens,
)
from memory.embeddings import warm_up
from memory.items import NewMemory
from memory.lexicon import default_lexicon
from memory.store import MemoryStore
from nova.projects import MemoryKind

DATASETS = Path(__file__).parent / "datasets"
CORPUS_FILE = DATASETS / "memory_corpus.jsonl"
QUERIES_FILE = DATASETS / "memory_queries.jsonl"
PARAPHRASE_FILE = DATASETS / "memory_paraphrase_queries.jsonl"
SUPERSEDE_FILE = DATASETS / "memory_supersede.yaml"
SEED_QUERIES_FILE = DATASETS / "memory_seed_queries.yaml"

CANDIDATES = 20
"""Ranks scored for MRR."""


class DatasetError(ValueError):
    """A dataset file is missing or malformed; the message names the file and line."""


class CorpusItem(BaseModel):
    """One line of the corpus file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    project: str
    kind: MemoryKind
    text: str = Field(min_length=3)


class MemoryQuery(BaseModel):
    """One line of the queries file: a question and the corpus keys that answer it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    project: str
    query: str = Field(min_length=3)
    relevant: tuple[str, ...] = Field(min_length=1)
    overlap: bool | None = None
    """Whether the query shares a capitalised word, a number or a code with a target."""
    style: Literal["paraphrase", "seed"] | None = None
    """``paraphrase``: the blind paraphrase set; ``seed``: a seed paraphrase (its
    ``relevant`` holds memory ids of the shipped projects); ``None``: a generated query."""
    phrasing: Literal["terse", "question", "vague", "wrongword"] | None = None
    """How the paraphrase is put (``wrongword``: names the thing by another word)."""


class SupersedePair(BaseModel):
    """An older and a newer statement, and whether the newer one replaces the older."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: MemoryKind
    older: str
    newer: str
    replaces: bool


@dataclass(frozen=True, slots=True)
class RetrievalScores:
    """Quality of one retrieval method over all queries."""

    recall_at_k: float
    """Mean share of a query's relevant items found in the top k."""
    hit_rate_at_k: float
    """Share of queries with at least one relevant item in the top k."""
    mrr: float
    """Mean reciprocal rank of the first relevant item (0 when not in the top ``CANDIDATES``)."""
    p50_ms: float
    """Median search latency, query embedding included (noisy on a shared machine)."""


@dataclass(frozen=True, slots=True)
class SupersedeScores:
    """How the no-topic supersession rule did on the labelled pairs."""

    threshold: float
    true_positive: int
    false_positive: int
    false_negative: int
    true_negative: int
    corpus_supersessions: int
    """Items superseded while ingesting the retrieval corpus (which holds no updates)."""


@dataclass(frozen=True, slots=True)
class DatasetScores:
    """Vector-only and hybrid scores on one dataset."""

    name: str
    items: int
    queries: int
    vector: RetrievalScores
    hybrid: RetrievalScores
    hybrid_after_floor: float
    """Recall@k of hybrid search once the recall node drops hits below its score floor."""
    split: str = "all"
    """``dev`` or ``test`` (``all``: not split)."""
    per_query: tuple[dict[str, Any], ...] = ()
    """Each query's hybrid results: id, text, relevant ids, top hits, recall@k, reciprocal rank."""


@dataclass(frozen=True, slots=True)
class MemoryEvalReport:
    """Everything ``nova eval memory`` prints."""

    k: int
    floor: float
    """The recall node's score floor the ``hybrid_after_floor`` figures apply."""
    ingest_items_per_s: float
    datasets: tuple[DatasetScores, ...]
    """Each query slice (``SLICES``) on dev, then on test."""
    supersede: SupersedeScores
    provenance: dict[str, Any]
    """Datasets, their hash, the code version and the split (``evals.discipline``)."""
    glosses: bool = False
    """Whether BM25 glossed German words in English (the dictionary was installed)."""


def _read_jsonl(path: Path, model: type[BaseModel]) -> list[BaseModel]:
    if not path.is_file():
        raise DatasetError(
            f"{path}: not found; generate it with `python -m evals.gen_memory_corpus`"
        )
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(model.model_validate_json(line))
        except ValidationError as error:
            problem = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()
            )
            raise DatasetError(f"{path}:{number}: {problem}") from None
    return rows


def load_dataset(
    corpus_path: Path | None = None, queries_path: Path | None = None
) -> tuple[list[CorpusItem], list[MemoryQuery]]:
    """Load and cross-check the corpus and queries (every relevant key exists in its project)."""
    corpus_path, queries_path = corpus_path or CORPUS_FILE, queries_path or QUERIES_FILE
    corpus: list[CorpusItem] = _read_jsonl(corpus_path, CorpusItem)  # type: ignore[assignment]
    queries: list[MemoryQuery] = _read_jsonl(queries_path, MemoryQuery)  # type: ignore[assignment]
    project_of = {item.key: item.project for item in corpus}
    for query in queries:
        for key in query.relevant:
            if project_of.get(key) != query.project:
                raise DatasetError(
                    f"{queries_path}: query {query.id} names {key!r}, which is not an item of "
                    f"project {query.project!r} in {corpus_path}"
                )
    return corpus, queries


SLICES = ("generated", "paraphrase", "paraphrase, no overlap", "seed paraphrases")
"""The query slices every report shows, dev and test side by side."""


def slices_of(query: MemoryQuery) -> tuple[str, ...]:
    """Return the slices (``SLICES``) a query counts in."""
    if query.style is None:
        return ("generated",)
    if query.style == "seed":
        return ("seed paraphrases",)
    return ("paraphrase", "paraphrase, no overlap") if query.overlap is False else ("paraphrase",)


def searched_project(query: MemoryQuery) -> str:
    """Return the collection a query is searched in (the corpus lives in ``eval-*`` ones)."""
    return query.project if query.style == "seed" else f"eval-{query.project}"


def load_queries(
    corpus_path: Path | None = None,
    queries_path: Path | None = None,
    paraphrase_path: Path | None = None,
) -> tuple[list[CorpusItem], list[MemoryQuery]]:
    """Load the corpus, the generated queries and the paraphrases (ids unique across both)."""
    corpus, generated = load_dataset(corpus_path, queries_path)
    _, paraphrases = load_dataset(corpus_path, paraphrase_path or PARAPHRASE_FILE)
    seen: set[str] = set()
    for query in [*generated, *paraphrases]:
        if query.id in seen:
            raise DatasetError(f"query id {query.id!r} appears twice across the query files")
        seen.add(query.id)
    return corpus, [*generated, *paraphrases]


def split_queries(
    text_of: Mapping[str, str], queries: Sequence[MemoryQuery], threshold: float = 0.5
) -> SplitCases[MemoryQuery]:
    """Cut the queries into the frozen dev/test split, without test queries copying a target.

    The split is ``evals.discipline``'s hash of the query id. The catalog near-duplicate
    check means nothing for memory queries; what leaks here is a test query whose tokens
    nearly repeat one of its own targets (Jaccard ≥ ``threshold``), so those are removed.
    ``text_of`` maps each relevant key to its text.
    """
    split = split_cases(queries, case_id=lambda query: query.id, text=None)
    kept = []
    for query in split.test:
        asked = tokens(query.query)
        score, target = max((jaccard(asked, tokens(text_of[key])), key) for key in query.relevant)
        if score >= threshold:
            reference = Reference(f"target:{target}", text_of[target])
            split.leaks.append(Leak(query.id, query.query, reference, round(score, 3)))
        else:
            kept.append(query)
    split.test = kept
    return split


def load_supersede_pairs(path: Path | None = None) -> list[SupersedePair]:
    """Load the labelled supersession pairs."""
    path = path or SUPERSEDE_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return [SupersedePair.model_validate(pair) for pair in raw["pairs"]]
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValidationError) as error:
        raise DatasetError(f"{path}: {error}") from None


def _scores(
    rankings: list[list[str]], relevant: list[set[str]], k: int, latencies: list[float]
) -> RetrievalScores:
    recalls, hits, reciprocal = [], [], []
    for ranking, wanted in zip(rankings, relevant, strict=True):
        top = ranking[:k]
        recalls.append(len(wanted & set(top)) / len(wanted))
        hits.append(1.0 if wanted & set(top) else 0.0)
        rank = next(
            (i for i, item_id in enumerate(ranking[:CANDIDATES], start=1) if item_id in wanted),
            None,
        )
        reciprocal.append(1.0 / rank if rank else 0.0)
    return RetrievalScores(
        recall_at_k=statistics.fmean(recalls),
        hit_rate_at_k=statistics.fmean(hits),
        mrr=statistics.fmean(reciprocal),
        p50_ms=statistics.median(latencies) if latencies else 0.0,
    )


def _supersede_scores(client: object, corpus_supersessions: int) -> SupersedeScores:
    store = MemoryStore(client, projects=None, seed=False)  # type: ignore[arg-type]
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for number, pair in enumerate(load_supersede_pairs(), start=1):
        project = f"pair-{number:03d}"
        store.save(project, pair.older, kind=pair.kind, source="eval")
        superseded = bool(store.save(project, pair.newer, kind=pair.kind, source="eval").superseded)
        key = ("tp" if superseded else "fn") if pair.replaces else ("fp" if superseded else "tn")
        counts[key] += 1
    return SupersedeScores(
        threshold=store.supersede_similarity,
        true_positive=counts["tp"],
        false_positive=counts["fp"],
        false_negative=counts["fn"],
        true_negative=counts["tn"],
        corpus_supersessions=corpus_supersessions,
    )


class SeedQuery(BaseModel):
    """A hand-written query over the shipped seeds; ``match`` picks the one current answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    project: str
    query: str = Field(min_length=3)
    match: str = Field(min_length=3)


def forget_query_embeddings() -> None:
    """Empty ``encode_one``'s cache, so a timed search includes its query embedding."""
    from memory import embeddings

    cached = getattr(embeddings, "_encode_cached", None)
    if cached is not None:
        cached.cache_clear()


def _score_queries(
    name: str,
    stores: tuple[MemoryStore, MemoryStore],
    queries: Sequence[tuple[str, str, set[str]]],
    items: int,
    k: int,
    floor: float,
    ids: Sequence[str] = (),
) -> DatasetScores:
    """Run ``(project, query, relevant ids)`` through the vector-only and hybrid stores."""
    rankings: dict[str, list[list[str]]] = {"vector": [], "hybrid": []}
    latencies: dict[str, list[float]] = {"vector": [], "hybrid": []}
    floored = []
    for project, text, wanted in queries:
        for method, store in zip(("vector", "hybrid"), stores, strict=True):
            forget_query_embeddings()  # each method pays for its own query embedding
            started = time.perf_counter()
            hits = store.search(project, text, k=CANDIDATES)
            latencies[method].append((time.perf_counter() - started) * 1000)
            rankings[method].append([hit["id"] for hit in hits])
            if method == "hybrid":
                kept = {hit["id"] for hit in hits[:k] if hit["score"] >= floor}
                floored.append(len(wanted & kept) / len(wanted))
    relevant = [wanted for _, _, wanted in queries]
    per_query = []
    for index, ((project, text, wanted), ranking) in enumerate(
        zip(queries, rankings["hybrid"], strict=True)
    ):
        single = _scores([ranking], [wanted], k, [])
        per_query.append(
            {
                "id": ids[index] if index < len(ids) else f"{project}:{text}",
                "project": project,
                "query": text,
                "relevant": sorted(wanted),
                "top": ranking[:k],
                "recall_at_k": single.recall_at_k,
                "reciprocal_rank": single.mrr,
                "recall_after_floor": floored[index],
            }
        )
    return DatasetScores(
        name=name,
        items=items,
        queries=len(queries),
        vector=_scores(rankings["vector"], relevant, k, latencies["vector"]),
        hybrid=_scores(rankings["hybrid"], relevant, k, latencies["hybrid"]),
        hybrid_after_floor=statistics.fmean(floored) if floored else 0.0,
        per_query=tuple(per_query),
    )


def load_seed_queries(client: object) -> tuple[list[MemoryQuery], dict[str, str]]:
    """Seed the shipped projects into ``client``; return the seed paraphrases and answers.

    Each query's id is its project and text (so its split is frozen like the others');
    ``relevant`` holds the id of the one current seed its ``match`` picks. The second value
    maps those ids to the seeds' texts.
    """
    from nova.projects import DEFAULT_PROJECTS_FILE, load_projects

    try:
        raw = yaml.safe_load(SEED_QUERIES_FILE.read_text(encoding="utf-8"))
        queries = [SeedQuery.model_validate(row) for row in raw["queries"]]
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValidationError) as error:
        raise DatasetError(f"{SEED_QUERIES_FILE}: {error}") from None
    projects = load_projects(DEFAULT_PROJECTS_FILE)
    seeded = MemoryStore(client, projects=projects, seed=True)  # type: ignore[arg-type]
    current = {p.id: seeded.items(p.id, include_superseded=False) for p in projects}
    rows, text_of = [], {}
    for query in queries:
        matches = [item for item in current[query.project] if query.match in item.text]
        if len(matches) != 1:
            raise DatasetError(
                f"{SEED_QUERIES_FILE}: {query.match!r} matches {len(matches)} current seeds "
                f"of {query.project}; it must match exactly one"
            )
        text_of[matches[0].id] = matches[0].text
        rows.append(
            MemoryQuery(
                id=f"seed:{query.project}:{query.query}",
                project=query.project,
                query=query.query,
                relevant=(matches[0].id,),
                style="seed",
            )
        )
    return rows, text_of


def ingest_corpus(
    client: object, corpus: Sequence[CorpusItem], say: Any = None
) -> tuple[dict[str, str], float]:
    """Save the corpus into ``eval-<project>`` collections; return key → memory id, items/s."""
    store = MemoryStore(client, projects=None, seed=False)  # type: ignore[arg-type]
    id_of: dict[str, str] = {}
    warm_up()  # the model load is not ingest time
    started = time.perf_counter()
    for project in sorted({item.project for item in corpus}):
        items = [item for item in corpus if item.project == project]
        if say:
            say(f"[dim]ingesting {len(items)} items into eval-{project}…[/]")
        memories = [NewMemory(i.text, kind=i.kind, source="eval") for i in items]
        results = store.save_many(f"eval-{project}", memories)
        id_of.update(
            {item.key: result.item.id for item, result in zip(items, results, strict=True)}
        )
    return id_of, len(corpus) / (time.perf_counter() - started)


def score_slice(
    name: str,
    stores: tuple[MemoryStore, MemoryStore],
    queries: Sequence[MemoryQuery],
    id_of: dict[str, str],
    *,
    items: int,
    k: int,
    floor: float,
    split: str,
) -> DatasetScores:
    """Score one slice of the queries with the (vector-only, hybrid) stores."""
    rows = [
        (searched_project(q), q.query, {id_of.get(key, key) for key in q.relevant}) for q in queries
    ]
    scores = _score_queries(name, stores, rows, items, k, floor, ids=[q.id for q in queries])
    return DatasetScores(
        name=scores.name,
        items=scores.items,
        queries=scores.queries,
        vector=scores.vector,
        hybrid=scores.hybrid,
        hybrid_after_floor=scores.hybrid_after_floor,
        split=split,
        per_query=scores.per_query,
    )


def run_memory_eval(
    *,
    corpus_path: Path | None = None,
    queries_path: Path | None = None,
    paraphrase_path: Path | None = None,
    k: int = 5,
    min_score: float | None = None,
    console: Console | None = None,
) -> MemoryEvalReport:
    """Ingest the corpus into a temporary store, run every query both ways, score supersession."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from nodes.recall import MIN_RECALL_SCORE

    floor = MIN_RECALL_SCORE if min_score is None else min_score
    corpus, queries = load_queries(corpus_path, queries_path, paraphrase_path)
    say = console.print if console else (lambda *_: None)
    with tempfile.TemporaryDirectory(prefix="nova-memory-eval-") as folder:
        client = chromadb.PersistentClient(
            path=folder, settings=ChromaSettings(anonymized_telemetry=False)
        )
        seeds, seed_texts = load_seed_queries(client)
        text_of = {item.key: item.text for item in corpus} | seed_texts
        split = split_queries(text_of, [*queries, *seeds])
        say(
            f"[dim]{len(queries) + len(seeds)} queries: dev {len(split.dev)}, test "
            f"{len(split.test)}; {len(split.leaks)} test queries repeating their target removed[/]"
        )
        id_of, ingest_rate = ingest_corpus(client, corpus, say)
        hybrid_store = MemoryStore(client, projects=None, seed=False, hybrid=True)
        vector_store = MemoryStore(client, projects=None, seed=False, hybrid=False)
        corpus_supersessions = sum(
            not item.active
            for project in sorted({item.project for item in corpus})
            for item in hybrid_store.items(f"eval-{project}")
        )
        datasets = []
        for which in ("dev", "test"):
            for name in SLICES:
                chosen = [q for q in split.of(which) if name in slices_of(q)]
                say(f"[dim]{which}: {name} ({len(chosen)} queries), vector-only and hybrid…[/]")
                datasets.append(
                    score_slice(
                        name,
                        (vector_store, hybrid_store),
                        chosen,
                        id_of,
                        items=len(corpus),
                        k=k,
                        floor=floor,
                        split=which,
                    )
                )
        supersede = _supersede_scores(client, corpus_supersessions)
    paths = [
        corpus_path or CORPUS_FILE,
        queries_path or QUERIES_FILE,
        paraphrase_path or PARAPHRASE_FILE,
        SEED_QUERIES_FILE,
    ]
    return MemoryEvalReport(
        k=k,
        floor=floor,
        ingest_items_per_s=ingest_rate,
        datasets=tuple(datasets),
        supersede=supersede,
        provenance=provenance(paths, split),
        glosses=default_lexicon() is not None,
    )


def _figures(report: MemoryEvalReport, split: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    for data in report.datasets:
        if data.split != split:
            continue
        figures[f"{data.name}: queries"] = data.queries
        figures[f"{data.name}: recall@{report.k} vector"] = data.vector.recall_at_k
        figures[f"{data.name}: recall@{report.k} hybrid"] = data.hybrid.recall_at_k
        figures[f"{data.name}: MRR@{CANDIDATES} hybrid"] = data.hybrid.mrr
        figures[f"{data.name}: recall@{report.k} hybrid ≥ floor"] = data.hybrid_after_floor
    return figures


def render_report(report: MemoryEvalReport, console: Console) -> None:
    """Print the report: dev and test side by side per slice, then the other figures."""
    split = report.provenance.get("split", {})
    console.print(
        f"split: dev {split.get('dev')}, test {split.get('test')} "
        f"({split.get('leaks_removed_from_test')} test queries nearly repeating their own "
        f"target removed); tuned on dev, quote test"
    )
    console.print(
        side_by_side(
            f"Memory retrieval by slice (hybrid = shipped; floor {report.floor})",
            {which: _figures(report, which) for which in ("dev", "test")},
            formats={name: str for name in _figures(report, "dev") if name.endswith("queries")},
        )
    )
    console.print(
        f"ingest (generated corpus, embedding included): {report.ingest_items_per_s:.0f} items/s"
    )
    console.print(
        "German words glossed in English for BM25: "
        + ("yes" if report.glosses else "no (install Debian's trans-de-en: `make lexicon`)")
    )
    s = report.supersede
    console.print(
        f"supersession (similarity ≥ {s.threshold} and restated): {s.true_positive} of "
        f"{s.true_positive + s.false_negative} real updates caught, {s.false_positive} of "
        f"{s.false_positive + s.true_negative} different decisions wrongly superseded; "
        f"{s.corpus_supersessions} superseded while ingesting the corpus (expected 0)"
    )


def report_json(report: MemoryEvalReport) -> str:
    """Return the report as JSON, provenance (dataset hash, code version, split) first."""
    from dataclasses import asdict

    body = asdict(report)
    return json.dumps({"provenance": body.pop("provenance"), **body}, indent=2)
