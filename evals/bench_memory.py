"""Benchmark Nova's memory: ingest rate and recall latency at scale (a script that prints figures).

    python -m evals.bench_memory                      # 100,000 items (several minutes on 2 cores)
    python -m evals.bench_memory --items 5000         # a quick run
    python -m evals.bench_memory --layout shared      # one collection + a where filter (rejected)

The corpus comes from ``evals/gen_memory_corpus.py`` with entities allowed to repeat
(customers, sellers, clients, … with varied figures and dates), shuffled, so the store sees
a realistic mix of facts, decisions and preferences. Every item goes into one project (the
worst case: one collection holding all of them). Ingest goes through
``MemoryStore.save_many`` exactly as imports do: content-hash dedup, batched embedding,
the supersession check for decisions and preferences, and the Chroma write. Recall times
``MemoryStore.search`` end to end, query embedding included, as the recall node calls it.

``--layout shared`` instead writes all items into a single collection tagged with five
project ids and queries it with ``where={"project": …}``: the alternative isolation
design, measured to justify one collection per project.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from evals.gen_memory_corpus import Record, generate
from evals.memory_eval import forget_query_embeddings
from memory.embeddings import encode, encode_one, warm_up
from memory.items import NewMemory, memory_id
from memory.store import MemoryStore

BENCH_PROJECT = "bench"
SHARED_PROJECTS = ("erp-product", "sign-marketplace", "parts-shop", "client-work", "personal")


def corpus(items: int, seed: int) -> list[Record]:
    """Return ``items`` distinct generated records, shuffled."""
    scale = max(1, -(-items * 12 // 10 // 2400))  # ~2,400 records per unit of scale, 20% spare
    records = generate(scale, seed, strict=False)
    unique = list({record.text: record for record in records}.values())
    random.Random(seed).shuffle(unique)
    if len(unique) < items:
        raise SystemExit(f"only {len(unique)} distinct texts generated; raise the scale formula")
    return unique[:items]


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min) {five:.1f} (5 min)"


def percentile(values: list[float], q: float) -> float:
    """Return the ``q`` quantile (0–1) of ``values``."""
    return float(np.quantile(np.asarray(values), q))


def bench_store(records: list[Record], queries: list[str], folder: Path, batch: int) -> None:
    """Ingest ``records`` into one project (unless already there) and time recall."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(
        path=str(folder), settings=ChromaSettings(anonymized_telemetry=False)
    )
    store = MemoryStore(client, projects=None, seed=False, hybrid=True)
    if store.count(BENCH_PROJECT) >= len(records):
        print(f"reusing the {store.count(BENCH_PROJECT):,} items already in {folder} (no ingest)")
    else:
        ingest(store, records, batch)
    time_recall(store, queries)


def ingest(store: MemoryStore, records: list[Record], batch: int) -> None:
    """Save ``records`` through ``save_many``, as imports do, and print the rate."""
    memories = [NewMemory(r.text, kind=r.kind, source="bench") for r in records]  # type: ignore[arg-type]
    started = time.perf_counter()
    done = 0
    for start in range(0, len(memories), batch * 10):
        store.save_many(BENCH_PROJECT, memories[start : start + batch * 10], batch_size=batch)
        done += len(memories[start : start + batch * 10])
        rate = done / (time.perf_counter() - started)
        print(f"  ingested {done:>7,} items · {rate:,.0f} items/s · {_load()}", flush=True)
    ingest_s = time.perf_counter() - started
    stored = store.count(BENCH_PROJECT)
    current = len(store.items(BENCH_PROJECT, include_superseded=False))
    print(
        f"ingest: {stored:,} items in {ingest_s:.1f} s = {stored / ingest_s:,.0f} items/s "
        f"(embedding, dedup, supersession check and Chroma write; {stored - current} superseded)"
    )


def time_recall(store: MemoryStore, queries: list[str]) -> None:
    """Time ``search`` end to end as the recall node calls it, hybrid and vector-only."""
    stored = store.count(BENCH_PROJECT)
    started = time.perf_counter()
    store.search(BENCH_PROJECT, "warm up the BM25 index", k=5)
    build_s = time.perf_counter() - started
    print(f"first query (builds the BM25 index over {stored:,} items): {build_s:.2f} s")

    vector_store = MemoryStore(store.client, projects=None, seed=False, hybrid=False)
    vector_store.search(BENCH_PROJECT, "warm up the collection handle", k=5)
    for name, target in (("hybrid (shipped)", store), ("vector only", vector_store)):
        forget_query_embeddings()
        timings = []
        for query in queries:
            started = time.perf_counter()
            target.search(BENCH_PROJECT, query, k=5)
            timings.append((time.perf_counter() - started) * 1000)
        print(
            f"recall {name:<16} k=5 over {stored:,} items, {len(queries)} queries "
            f"(query embedding included): p50 {statistics.median(timings):.1f} ms · "
            f"p95 {percentile(timings, 0.95):.1f} ms · {_load()}"
        )

    forget_query_embeddings()
    embed = []
    for query in queries:
        started = time.perf_counter()
        encode_one(query)
        embed.append((time.perf_counter() - started) * 1000)
    print(f"  of which query embedding alone: p50 {statistics.median(embed):.1f} ms")


def bench_shared(records: list[Record], queries: list[str], folder: Path, batch: int) -> None:
    """Time the rejected layout: one collection for all projects, queried with a project filter.

    Vectors are copied from a per-project run kept in ``folder`` when there is one (the
    layouts then hold identical vectors), else embedded here.
    """
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from memory.chroma import collection_name

    client = chromadb.PersistentClient(
        path=str(folder), settings=ChromaSettings(anonymized_telemetry=False)
    )
    collection = client.get_or_create_collection(
        "bench-shared", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    rng = random.Random(3)
    if collection.count() < len(records):
        existing = [c.name for c in client.list_collections()]
        source = collection_name(BENCH_PROJECT)
        started = time.perf_counter()
        for start in range(0, len(records), batch):
            chunk = records[start : start + batch]
            texts = [r.text for r in chunk]
            if source in existing:
                stored = client.get_collection(source, embedding_function=None).get(
                    ids=[memory_id(BENCH_PROJECT, text) for text in texts], include=["embeddings"]
                )
                vectors = dict(zip(stored["ids"], stored["embeddings"], strict=True))  # type: ignore[arg-type]
                embeddings = np.stack([vectors[memory_id(BENCH_PROJECT, t)] for t in texts])
            else:
                embeddings = encode(texts, batch_size=128)
            collection.add(
                ids=[f"i{start + i}" for i in range(len(chunk))],
                embeddings=embeddings,
                documents=texts,
                metadatas=[
                    {"project": rng.choice(SHARED_PROJECTS), "kind": r.kind, "active": True}
                    for r in chunk
                ],
            )
        rate = len(records) / (time.perf_counter() - started)
        how = "vectors copied from the per-project run" if source in existing else "embedded"
        print(f"ingest (shared collection, {how}, no dedup/supersession): {rate:,.0f} items/s")
    vectors = {query: encode_one(query).tolist() for query in queries}  # embedding not timed here
    for label, where in (("no filter (unsafe)", False), ("where project", True)):
        timings = []
        for query in queries:
            started = time.perf_counter()
            collection.query(
                query_embeddings=[vectors[query]],
                n_results=5,
                where={"project": rng.choice(SHARED_PROJECTS)} if where else None,
            )
            timings.append((time.perf_counter() - started) * 1000)
        print(
            f"shared collection, {label:<18}: Chroma query alone "
            f"p50 {statistics.median(timings):.1f} ms · p95 {percentile(timings, 0.95):.1f} ms "
            f"over {len(records):,} items · {_load()}"
        )
    per_project = client.get_collection(collection_name(BENCH_PROJECT), embedding_function=None)
    timings = []
    for query in queries:
        started = time.perf_counter()
        per_project.query(query_embeddings=[vectors[query]], n_results=5)
        timings.append((time.perf_counter() - started) * 1000)
    print(
        f"per-project collection (shipped)  : Chroma query alone "
        f"p50 {statistics.median(timings):.1f} ms · p95 {percentile(timings, 0.95):.1f} ms "
        f"over {per_project.count():,} items"
    )


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description="Benchmark memory ingest and recall.")
    parser.add_argument(
        "--items", type=int, default=100_000, help="Items to ingest (default 100,000)"
    )
    parser.add_argument("--queries", type=int, default=200, help="Recall queries to time")
    parser.add_argument("--batch", type=int, default=512, help="save_many batch size")
    parser.add_argument("--layout", choices=("per-project", "shared"), default="per-project")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--keep",
        type=Path,
        help="Use this Chroma folder and keep it; a folder already holding --items items is "
        "reused (recall is timed again without re-ingesting)",
    )
    args = parser.parse_args()

    total = time.perf_counter()
    records = corpus(args.items, args.seed)
    rng = random.Random(args.seed)
    # Distinct queries: a repeated one would be served from encode_one's cache.
    queries = list(
        dict.fromkeys(
            rng.choice(record.questions)
            for record in rng.sample(records, min(args.queries, len(records)))
        )
    )
    print(
        f"corpus: {len(records):,} items ({time.perf_counter() - total:.1f} s to generate); "
        f"{len(queries)} paraphrased queries"
    )
    print(f"machine: {os.cpu_count()} CPUs, shared with other work; {_load()}")
    warm_up()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="nova-bench-memory-"))
    try:
        if args.layout == "shared":
            bench_shared(records, queries, folder, args.batch)
        else:
            bench_store(records, queries, folder, args.batch)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"total run time: {time.perf_counter() - total:.0f} s; {_load()}")


if __name__ == "__main__":
    main()
