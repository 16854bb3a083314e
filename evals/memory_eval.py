"""Memory evaluation: retrieval quality (recall@k, MRR; vector-only vs hybrid) and supersession.

Retrieval. The corpus (``datasets/memory_corpus.jsonl``, written by
``evals/gen_memory_corpus.py``) is saved project by project into a throw-away Chroma store
exactly as Nova saves memories; each query (``datasets/memory_queries.jsonl``) is a
paraphrase of the item(s) that answer it and is searched within its own project.

* vector only: ``MemoryStore(hybrid=False).search``;
* hybrid (shipped: the recall node and ``memory_search`` use it): cosine fused with BM25
  (``bm25s``) by score, ``MemoryStore(hybrid=True).search`` (see ``memory.store.fuse``).

A second, smaller set (``datasets/memory_seed_queries.yaml``) asks hand-written
paraphrases, mostly without the target's key words, of the shipped seed memories: the
generated set rewards keyword matching (its queries name the customer), this one rewards
meaning, and the fusion weight has to serve both.

Supersession. Each pair of ``datasets/memory_supersede.yaml`` is saved, older first, into
its own project; the report counts how often the store's no-topic rule superseded the
older item, against the pair's label. Ingesting the retrieval corpus (which holds no
updates at all) must supersede nothing.

Run with ``nova eval memory``.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rich.console import Console
from rich.table import Table

from memory.embeddings import warm_up
from memory.items import NewMemory
from memory.store import MemoryStore
from nova.projects import MemoryKind

DATASETS = Path(__file__).parent / "datasets"
CORPUS_FILE = DATASETS / "memory_corpus.jsonl"
QUERIES_FILE = DATASETS / "memory_queries.jsonl"
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


@dataclass(frozen=True, slots=True)
class MemoryEvalReport:
    """Everything ``nova eval memory`` prints."""

    k: int
    ingest_items_per_s: float
    datasets: tuple[DatasetScores, ...]
    """The generated corpus first (the headline figures), then the seed paraphrases."""
    supersede: SupersedeScores


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
    return DatasetScores(
        name=name,
        items=items,
        queries=len(queries),
        vector=_scores(rankings["vector"], relevant, k, latencies["vector"]),
        hybrid=_scores(rankings["hybrid"], relevant, k, latencies["hybrid"]),
        hybrid_after_floor=statistics.fmean(floored),
    )


def _seed_dataset(client: object, k: int, floor: float) -> DatasetScores:
    """Score the hand-written paraphrases against the shipped projects' seed memories."""
    from nova.projects import DEFAULT_PROJECTS_FILE, load_projects

    try:
        raw = yaml.safe_load(SEED_QUERIES_FILE.read_text(encoding="utf-8"))
        queries = [SeedQuery.model_validate(row) for row in raw["queries"]]
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValidationError) as error:
        raise DatasetError(f"{SEED_QUERIES_FILE}: {error}") from None
    projects = load_projects(DEFAULT_PROJECTS_FILE)
    hybrid = MemoryStore(client, projects=projects, seed=True, hybrid=True)  # type: ignore[arg-type]
    vector = MemoryStore(client, projects=projects, seed=True, hybrid=False)  # type: ignore[arg-type]
    current = {p.id: hybrid.items(p.id, include_superseded=False) for p in projects}
    rows = []
    for query in queries:
        matches = [item.id for item in current[query.project] if query.match in item.text]
        if len(matches) != 1:
            raise DatasetError(
                f"{SEED_QUERIES_FILE}: {query.match!r} matches {len(matches)} current seeds "
                f"of {query.project}; it must match exactly one"
            )
        rows.append((query.project, query.query, set(matches)))
    items = sum(len(found) for found in current.values())
    return _score_queries(
        "seed paraphrases (hand-written)", (vector, hybrid), rows, items, k, floor
    )


def run_memory_eval(
    *,
    corpus_path: Path | None = None,
    queries_path: Path | None = None,
    k: int = 5,
    min_score: float | None = None,
    console: Console | None = None,
) -> MemoryEvalReport:
    """Ingest the corpus into a temporary store, run every query both ways, score supersession."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from nodes.recall import MIN_RECALL_SCORE

    floor = MIN_RECALL_SCORE if min_score is None else min_score
    corpus, queries = load_dataset(corpus_path, queries_path)
    say = console.print if console else (lambda *_: None)
    with tempfile.TemporaryDirectory(prefix="nova-memory-eval-") as folder:
        client = chromadb.PersistentClient(
            path=folder, settings=ChromaSettings(anonymized_telemetry=False)
        )
        hybrid_store = MemoryStore(client, projects=None, seed=False, hybrid=True)
        vector_store = MemoryStore(client, projects=None, seed=False, hybrid=False)
        projects = sorted({item.project for item in corpus})
        id_of: dict[str, str] = {}
        warm_up()  # the model load is not ingest time
        started = time.perf_counter()
        for project in projects:
            items = [item for item in corpus if item.project == project]
            say(f"[dim]ingesting {len(items)} items into eval-{project}…[/]")
            memories = [NewMemory(i.text, kind=i.kind, source="eval") for i in items]
            results = hybrid_store.save_many(f"eval-{project}", memories)
            id_of.update(
                {item.key: result.item.id for item, result in zip(items, results, strict=True)}
            )
        ingest_rate = len(corpus) / (time.perf_counter() - started)
        corpus_supersessions = sum(
            not item.active
            for project in projects
            for item in hybrid_store.items(f"eval-{project}")
        )
        say(f"[dim]running {len(queries)} queries, vector-only and hybrid…[/]")
        generated = _score_queries(
            "generated corpus (entity-heavy)",
            (vector_store, hybrid_store),
            [(f"eval-{q.project}", q.query, {id_of[key] for key in q.relevant}) for q in queries],
            len(corpus),
            k,
            floor,
        )
        say("[dim]running the seed paraphrases…[/]")
        seeds = _seed_dataset(client, k, floor)
        supersede = _supersede_scores(client, corpus_supersessions)
    return MemoryEvalReport(
        k=k, ingest_items_per_s=ingest_rate, datasets=(generated, seeds), supersede=supersede
    )


def render_report(report: MemoryEvalReport, console: Console) -> None:
    """Print the report as tables."""
    table = Table(title="Memory retrieval: vector only vs hybrid (vector + BM25, shipped)")
    table.add_column("dataset")
    table.add_column("items", justify="right")
    table.add_column("queries", justify="right")
    table.add_column("method")
    table.add_column(f"recall@{report.k}", justify="right")
    table.add_column(f"hit@{report.k}", justify="right")
    table.add_column(f"MRR@{CANDIDATES}", justify="right")
    table.add_column("p50 ms", justify="right")
    for data in report.datasets:
        for method, scores in (("vector only", data.vector), ("hybrid", data.hybrid)):
            first = method == "vector only"
            table.add_row(
                data.name if first else "",
                str(data.items) if first else "",
                str(data.queries) if first else "",
                method,
                f"{scores.recall_at_k:.3f}",
                f"{scores.hit_rate_at_k:.3f}",
                f"{scores.mrr:.3f}",
                f"{scores.p50_ms:.1f}",
            )
    console.print(table)
    floors = ", ".join(
        f"{d.name.split(' (')[0]} {d.hybrid_after_floor:.3f}" for d in report.datasets
    )
    console.print(f"hybrid recall@{report.k} after the recall node's score floor: {floors}")
    console.print(
        f"ingest (generated corpus, embedding included): {report.ingest_items_per_s:.0f} items/s"
    )
    s = report.supersede
    console.print(
        f"supersession (similarity ≥ {s.threshold} and restated): {s.true_positive} of "
        f"{s.true_positive + s.false_negative} real updates caught, {s.false_positive} of "
        f"{s.false_positive + s.true_negative} different decisions wrongly superseded; "
        f"{s.corpus_supersessions} superseded while ingesting the corpus (expected 0)"
    )


def report_json(report: MemoryEvalReport) -> str:
    """Return the report as JSON (for CI artefacts)."""
    from dataclasses import asdict

    return json.dumps(asdict(report), indent=2)
