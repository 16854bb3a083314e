"""Benchmark Nova's memory: ingest rate and recall latency at scale (a script that prints figures).

    python -m evals.bench_memory                      # 100,000 items (several minutes on 2 cores)
    python -m evals.bench_memory --items 5000         # a quick run
    python -m evals.bench_memory --layout shared      # one collection + where filter, for comparison

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
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from evals.gen_memory_corpus import Record, generate
from memory.embeddings import encode, encode_one, warm_up
from memory.items import NewMemory
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


def percentile(values: list[float], q: float) -> float:
    """Return the ``q`` quantile (0–1) of ``values``."""
    return float(np.quantile(np.asarray(values), q))


def bench_store(records: list[Record], queries: list[str], folder: Path, batch: int) -> None:
    """Ingest ``records`` into one project and time recall (hybrid and vector-only)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(
        path=str(folder), settings=ChromaSettings(anonymized_telemetry=False)
    )
    store = MemoryStore(client, projects=None, seed=False, hybrid=True)
    memories = [NewMemory(r.text, kind=r.kind, source="bench") for r in records]  # type: ignore[arg-type]

    started = time.perf_counter()
    done = 0
    for start in range(0, len(memories), batch * 10):
        store.save_many(BENCH_PROJECT, memories[start : start + batch * 10], batch_size=batch)
        done += len(memories[start : start + batch * 10])
        rate = done / (time.perf_counter() - started)
        print(f"  ingested {done:>7,} items · {rate:,.0f} items/s", flush=True)
    ingest_s = time.perf_counter() - started
    stored = store.count(BENCH_PROJECT)
    superseded = len(store.items(BENCH_PROJECT)) - len(
        store.items(BENCH_PROJECT, include_superseded=False)
    )
    print(
        f"ingest: {stored:,} items in {ingest_s:.1f} s = {stored / ingest_s:,.0f} items/s "
        f"(embedding, dedup, supersession check and Chroma write; {superseded} superseded)"
    )

    started = time.perf_counter()
    store.search(BENCH_PROJECT, queries[0], k=5)  # builds the BM25 index
    print(
        f"first query (builds the BM25 index over {stored:,} items): {time.perf_counter() - started:.2f} s"
    )

    vector_store = MemoryStore(client, projects=None, seed=False, hybrid=False)
    for name, target in (("hybrid (shipped)", store), ("vector only", vector_store)):
        timings = []
        for query in queries:
            started = time.perf_counter()
            target.search(BENCH_PROJECT, query, k=5)
            timings.append((time.perf_counter() - started) * 1000)
        print(
            f"recall {name:<16} k=5 over {stored:,} items, {len(queries)} queries: "
            f"p50 {statistics.median(timings):.1f} ms · p95 {percentile(timings, 0.95):.1f} ms"
        )

    embed = []
    for query in queries[:100]:
        started = time.perf_counter()
        encode_one(query)
        embed.append((time.perf_counter() - started) * 1000)
    print(f"  of which query embedding alone: p50 {statistics.median(embed):.1f} ms")


def bench_shared(records: list[Record], queries: list[str], folder: Path, batch: int) -> None:
    """The rejected layout: one collection for all projects, queried with a project filter."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(
        path=str(folder), settings=ChromaSettings(anonymized_telemetry=False)
    )
    collection = client.create_collection(
        "bench-shared", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    rng = random.Random(3)
    started = time.perf_counter()
    for start in range(0, len(records), batch):
        chunk = records[start : start + batch]
        collection.add(
            ids=[f"i{start + i}" for i in range(len(chunk))],
            embeddings=encode([r.text for r in chunk], batch_size=128),
            documents=[r.text for r in chunk],
            metadatas=[
                {"project": rng.choice(SHARED_PROJECTS), "kind": r.kind, "active": True}
                for r in chunk
            ],
        )
    print(
        f"ingest (shared collection, no dedup/supersession): {len(records) / (time.perf_counter() - started):,.0f} items/s"
    )
    for label, where in (("no filter (unsafe)", None), ("where project", "project")):
        timings = []
        for query in queries:
            started = time.perf_counter()
            collection.query(
                query_embeddings=[encode_one(query)],
                n_results=5,
                where={"project": rng.choice(SHARED_PROJECTS)} if where else None,
            )
            timings.append((time.perf_counter() - started) * 1000)
        print(
            f"shared collection, {label:<18}: p50 {statistics.median(timings):.1f} ms · "
            f"p95 {percentile(timings, 0.95):.1f} ms over {len(records):,} items"
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
        "--keep", type=Path, help="Keep the Chroma folder here instead of a temp dir"
    )
    args = parser.parse_args()

    total = time.perf_counter()
    records = corpus(args.items, args.seed)
    rng = random.Random(args.seed)
    queries = [
        rng.choice(record.questions)
        for record in rng.sample(records, min(args.queries, len(records)))
    ]
    print(
        f"corpus: {len(records):,} items ({time.perf_counter() - total:.1f} s to generate); "
        f"{len(queries)} paraphrased queries"
    )
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
    print(f"total run time: {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    main()
