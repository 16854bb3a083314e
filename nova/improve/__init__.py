"""The self-improvement loop: feedback becomes gated, versioned improvements.

``improve`` proposes candidates (routing examples, prompt rewrites, gap reports) from what
happened since the last promotion, the gate (``nova.improve.gate``, ``routing``,
``prompts``) decides which may be promoted, ``accept``/``reject`` act on one, and
``nova.improve.versions`` keeps every promoted version with its lineage in the data
directory. ``pending_candidates`` lists what waits for the owner (``nova inbox``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nova.improve.store import (
    CandidateNotFound,
    CandidateRecord,
    CandidateStore,
    pending_candidates,
)

if TYPE_CHECKING:
    from nova.improve.engine import ImproveError, ImproveReport, accept, improve, reject

_ENGINE_NAMES = frozenset({"ImproveError", "ImproveReport", "accept", "improve", "reject"})


def __getattr__(name: str) -> Any:
    # The engine pulls in the catalog, the router's corrections and the version store;
    # ``nova inbox`` only reads pending candidates, so the engine loads on first use.
    if name in _ENGINE_NAMES:
        from nova.improve import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CandidateNotFound",
    "CandidateRecord",
    "CandidateStore",
    "ImproveError",
    "ImproveReport",
    "accept",
    "improve",
    "pending_candidates",
    "reject",
]
