"""Gaps: requests no agent handles, clustered by meaning and reported for the owner.

Out-of-scope corrections and the router's unresolved abstentions (Nova's routing ledger)
are embedded with the router's MiniLM and clustered (scikit-learn's agglomerative
clustering, average linkage on cosine distance); a cluster of at least ``MIN_CLUSTER``
requests becomes a gap report, "no agent handles: <its common words>", with the requests.
A gap is for the owner to act on (add an agent); it is never promoted.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from nova.catalog.loader import Catalog
from nova.improve.store import CandidateRecord, CandidateStore
from nova.ledger.feedback import FeedbackLedger

MIN_CLUSTER = 3
"""Fewest requests that make a gap."""
MAX_DISTANCE = 0.55
"""Average cosine distance within a cluster (1 − similarity)."""
_WORD = re.compile(r"[a-zäöüß][a-zäöüß'-]{2,}")


def cluster(texts: Sequence[str], *, max_distance: float = MAX_DISTANCE) -> list[list[int]]:
    """Return clusters of ``texts`` (index lists, largest first) by embedding similarity."""
    if len(texts) < 2:
        return [[0]] if texts else []
    from sklearn.cluster import AgglomerativeClustering

    from memory.embeddings import encode

    vectors = encode(list(texts), batch_size=64, quantized=True)
    labels = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=max_distance
    ).fit_predict(vectors)
    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(int(label), []).append(index)
    return sorted(groups.values(), key=len, reverse=True)


def theme(texts: Sequence[str], *, words: int = 4) -> str:
    """Return the words most of ``texts`` share (a cluster's theme), most common first."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    counts: Counter[str] = Counter()
    for text in texts:
        counts.update({w for w in _WORD.findall(text.lower()) if w not in ENGLISH_STOP_WORDS})
    shared = [w for w, n in counts.most_common() if n >= 2][:words]
    return ", ".join(shared or [w for w, _ in counts.most_common(words)])


def _abstentions(catalog: Catalog[Any]) -> list[tuple[str, str]]:
    from nova.ledger.routing import RoutingLedger

    records = RoutingLedger().list(method="clarify", limit=2000)
    return [
        (r.request, r.id) for r in records if r.catalog_version == catalog.version and r.request
    ]


def report_gaps(
    catalog: Catalog[Any],
    key: str | None,
    *,
    feedback: FeedbackLedger,
    store: CandidateStore,
) -> CandidateRecord | None:
    """Store one gap report for the clusters of unhandled requests not reported before."""
    reported: set[str] = set()
    for gap in store.list(catalog=key, kind="gap", limit=1000):
        reported.update(gap.evidence)
    pool: dict[str, str] = {}
    corrections = feedback.corrections(catalog=key)
    resolved = {r.request for r in corrections if r.agent}  # an abstention the user resolved
    for record in corrections:
        if record.out_of_scope and record.request and record.id not in reported:
            pool.setdefault(record.request, record.id)
    if key is None:
        for text, route_id in _abstentions(catalog):
            if route_id not in reported and text not in resolved:
                pool.setdefault(text, route_id)
    texts = list(pool)
    groups = [g for g in cluster(texts) if len(g) >= MIN_CLUSTER]
    if not groups:
        return None
    gaps = [
        {"theme": theme([texts[i] for i in group]), "requests": [texts[i] for i in group]}
        for group in groups
    ]
    evidence = [pool[texts[i]] for group in groups for i in group]
    summary = "; ".join(f"no agent handles: {g['theme']} ({len(g['requests'])})" for g in gaps)
    return store.add(
        kind="gap",
        catalog=key,
        reason=summary,
        evidence=evidence,
        change={"gaps": gaps},
        gate=None,
        parent_version=catalog.version,
    )
