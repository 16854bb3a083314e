"""The self-improvement loop: feedback becomes gated, versioned improvements.

``improve`` proposes candidates (routing examples, prompt rewrites, gap reports) from what
happened since the last promotion, the gate (``nova.improve.gate``, ``routing``,
``prompts``) decides which may be promoted, ``accept``/``reject`` act on one, and
``nova.improve.versions`` keeps every promoted version with its lineage in the data
directory. ``pending_candidates`` lists what waits for the owner (``nova inbox``).
"""

from __future__ import annotations

from nova.improve.engine import (
    ImproveError,
    ImproveReport,
    accept,
    improve,
    pending_candidates,
    reject,
)
from nova.improve.store import CandidateNotFound, CandidateRecord, CandidateStore

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
