"""The failure ledger's hot spots: which of the reviewed files recorded failures point at."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath

from nova.ledger.failures import FailureLedger, FailureRecord


@dataclass(frozen=True, slots=True)
class HotSpot:
    """Failures that point at one file."""

    file: str
    failures: int
    kinds: dict[str, int]
    latest: datetime
    examples: tuple[str, ...] = field(default=())
    """Up to three distinct messages, with their failure ids."""


def _files_of(record: FailureRecord, files: tuple[str, ...]) -> set[str]:
    """Find the reviewed files a failure points at.

    By the frames of Nova's code it was raised in (``details.source``); else by its node (a
    node ``recall`` lives in ``…/recall.py``) or its agent (``…/agents/<agent>.yaml``).
    """
    sources = record.details.get("source")
    hit: set[str] = set()
    if isinstance(sources, list):
        for frame in sources:
            source_file = str(frame).rsplit(":", 1)[0]
            hit.update(name for name in files if name == source_file)
    if hit:
        return hit
    for name in files:
        path = PurePosixPath(name)
        if record.node and path.suffix == ".py" and path.stem == record.node:
            hit.add(name)
        if record.agent and path.suffix in (".yaml", ".yml") and path.stem == record.agent:
            hit.add(name)
    return hit


def hot_spots(
    files: tuple[str, ...],
    ledger: FailureLedger | None = None,
    *,
    days: int = 30,
    scan_limit: int = 5000,
) -> list[HotSpot]:
    """Files among ``files`` that failures of the last ``days`` days point at, most first."""
    ledger = ledger or FailureLedger()
    since = datetime.now(UTC) - timedelta(days=days)
    records = ledger.list(since=since, limit=scan_limit)
    counts: Counter[str] = Counter()
    kinds: dict[str, Counter[str]] = {}
    latest: dict[str, datetime] = {}
    examples: dict[str, dict[str, str]] = {}
    for record in records:
        for name in _files_of(record, files):
            counts[name] += 1
            kinds.setdefault(name, Counter())[record.kind] += 1
            latest[name] = max(latest.get(name, record.created_at), record.created_at)
            seen = examples.setdefault(name, {})
            if len(seen) < 3 and record.message not in seen:
                seen[record.message] = record.id[:12]
    return [
        HotSpot(
            file=name,
            failures=count,
            kinds=dict(kinds[name]),
            latest=latest[name],
            examples=tuple(f"{fid}: {message[:200]}" for message, fid in examples[name].items()),
        )
        for name, count in counts.most_common()
    ]
