"""The gate's arithmetic: paired comparisons of a parent and a candidate on the same cases.

A candidate is promotable only if it fixes at least one case it targets and regresses
none beyond noise. "Beyond noise" is an exact one-sided McNemar (sign) test on the
discordant pairs: ``b`` cases the parent got right and the candidate wrong, ``c`` the
other way round. The default rule is stricter than significance alone: the candidate
may not lose more cases than it wins on the held-out set (``b <= c``), and on a slice
whose errors matter on their own (out-of-scope requests) it may lose at most
``slice_slack`` of the slice beyond what it wins there.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

HOLDOUT_SALT = "nova-improve-gate-v1"


def held_out(key: str, share: float) -> bool:
    """Return whether ``key`` falls in the gate's frozen held-out part (a hash, not an order)."""
    digest = hashlib.sha256(f"{HOLDOUT_SALT}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


@dataclass(frozen=True, slots=True)
class Case:
    """One case the gate judges: a request and where it belongs (``None``: out of scope)."""

    text: str
    expected: str | None
    source: Literal["correction", "example", "suite", "regression", "targeted", "held-out"]
    id: str | None = None


def mcnemar_p(b: int, c: int) -> float:
    """Return the one-sided exact p-value that the candidate is worse (``b`` losses, ``c`` wins)."""
    n = b + c
    if n == 0 or b <= c:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(b, n + 1))
    return tail / 2**n


@dataclass(frozen=True, slots=True)
class Paired:
    """A paired comparison on one set of cases."""

    name: str
    n: int
    parent_right: int
    candidate_right: int
    losses: int
    """``b``: right before, wrong with the candidate."""
    wins: int
    """``c``: wrong before, right with the candidate."""
    p_worse: float
    """One-sided exact McNemar p-value that the candidate is worse."""
    lost: tuple[str, ...]
    """The texts of the cases lost (at most 10), so a reader can judge them."""

    def as_dict(self) -> dict[str, Any]:
        """Return the comparison as JSON-ready figures."""
        return {
            "name": self.name,
            "n": self.n,
            "parent_accuracy": round(self.parent_right / self.n, 4) if self.n else None,
            "candidate_accuracy": round(self.candidate_right / self.n, 4) if self.n else None,
            "losses": self.losses,
            "wins": self.wins,
            "p_worse": round(self.p_worse, 4),
            "lost": list(self.lost),
        }


def paired(
    name: str, cases: Sequence[Case], parent_ok: Sequence[bool], candidate_ok: Sequence[bool]
) -> Paired:
    """Compare parent and candidate verdicts on the same ``cases``."""
    losses = [c.text for c, p, q in zip(cases, parent_ok, candidate_ok, strict=True) if p and not q]
    wins = sum(1 for p, q in zip(parent_ok, candidate_ok, strict=True) if q and not p)
    return Paired(
        name=name,
        n=len(cases),
        parent_right=sum(parent_ok),
        candidate_right=sum(candidate_ok),
        losses=len(losses),
        wins=wins,
        p_worse=mcnemar_p(len(losses), wins),
        lost=tuple(losses[:10]),
    )


def regresses(comparison: Paired, *, slack: float = 0.0) -> bool:
    """Whether ``comparison`` shows a regression beyond noise.

    Args:
        comparison: The paired figures.
        slack: Net losses tolerated, as a share of the cases (0: none at all).

    """
    allowed = math.floor(slack * comparison.n)
    return comparison.losses - comparison.wins > allowed
