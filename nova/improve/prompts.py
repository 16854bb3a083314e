"""Prompt candidates: a reflective rewrite of a failing agent's prompt (placeholder)."""

from __future__ import annotations

from typing import Any

from nova.improve.store import CandidateRecord


def propose_prompts(catalog: Any, **_: Any) -> list[CandidateRecord]:
    """Return no prompt candidates (filled in below)."""
    return []
