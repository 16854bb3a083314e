"""The fitted router: its state as cached on disk, scoring requests, and the abstain rule.

This is all a router needs at request time, so it imports neither scikit-learn nor SciPy
nor the fitting code (``nodes.routing.fit``). ``routing_key`` and ``ROUTER_ALGORITHM``
name a fitted state: a change to either refits every user's router.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from memory.embeddings import encoder_version
from nodes.routing.config import RouterConfig
from nodes.tfidf import TfidfFeatures
from nova.catalog import RoutableAgent

ROUTER_ALGORITHM = "nova-ridge/6"
"""Bumped whenever fitting or scoring changes, so cached fits are refitted."""

FloatArray = npt.NDArray[np.float32]


def routing_key(agents: Sequence[RoutableAgent], config: RouterConfig) -> str:
    """Hash everything the fitted state depends on (the cache key)."""
    from importlib.metadata import version

    payload = {
        "algorithm": ROUTER_ALGORITHM,
        "encoder": encoder_version(quantized=config.quantized),
        # The installed version, read without importing scikit-learn (seconds).
        "sklearn": version("scikit-learn"),
        "config": config.fit_fields(),
        "agents": [
            [a.name, a.description, list(a.examples)] for a in sorted(agents, key=lambda a: a.name)
        ],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When the router abstains; fitted on the validation split, never set by hand."""

    min_confidence: float
    """Abstain when the best agent's calibrated probability is below this."""
    min_margin: float
    """Abstain when the best two agents' probabilities are closer than this."""
    min_similarity: float
    """Abstain when the request's cosine similarity to every example is below this."""

    def as_dict(self) -> dict[str, float]:
        """Return the thresholds by name (as stored in the routing ledger)."""
        return {
            "min_confidence": self.min_confidence,
            "min_margin": self.min_margin,
            "min_similarity": self.min_similarity,
        }


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """How the thresholds and calibration did on the validation split they were fitted on."""

    folds: int
    examples: int
    out_of_scope_examples: int
    pseudo_out_of_scope: int
    temperature: float
    accuracy: float
    """Top-1 accuracy on held-out in-scope examples."""
    in_scope_abstain: float
    """Share of held-out in-scope examples the thresholds abstain on."""
    out_of_scope_recall: float | None
    """Share of held-out out-of-scope examples abstained on (None without any)."""
    pseudo_out_of_scope_recall: float | None
    """Share of held-out agents' examples abstained on (None with too few agents)."""
    near_duplicate_groups: int = 0
    """Groups of near-duplicate in-scope examples (the validation's independent samples)."""
    abstain_target: float = 0.0
    """In-scope abstain rate the thresholds were fitted for (the budget less a margin)."""
    text_weight: float = 0.0
    """Weight of the TF-IDF part against the embedding part (fitted unless configured)."""
    out_of_scope_shift: float = 0.0
    """How far the out-of-scope class's log-odds were lowered to meet the target."""


@dataclass(slots=True)
class RouterScores:
    """Scores for a batch of requests."""

    probabilities: FloatArray
    """Calibrated probabilities, one column per agent (then one for out-of-scope)."""
    similarity: FloatArray
    """Cosine similarity to the nearest example."""
    nearest: npt.NDArray[np.int64]
    """Index of the nearest example (into ``FittedRouter.example_texts``)."""


@dataclass(slots=True)
class FittedRouter:
    """Everything a router needs to score requests, as cached on disk."""

    key: str
    agents: list[str]
    has_out_of_scope: bool
    tfidf: TfidfFeatures
    """The TF-IDF features, kept without scikit-learn so a cached router loads fast."""
    coef_embedding: FloatArray
    """Decision weights on the (weighted) embedding, shape (classes, 384)."""
    coef_text_t: FloatArray
    """Decision weights on TF-IDF features, transposed: shape (features, classes)."""
    intercept: FloatArray
    temperature: float
    thresholds: Thresholds
    validation: ValidationReport
    example_embeddings: FloatArray
    example_texts: list[str]
    example_agents: list[str]
    fit_seconds: float = 0.0
    fit_cpu_seconds: float = 0.0
    metadata: dict[str, str] = field(default_factory=dict)

    def decision_scores(
        self,
        embeddings: FloatArray,
        texts: Sequence[str],
        lexical: LexicalScorer | None = None,
    ) -> FloatArray:
        """Return raw decision scores, one column per class.

        Args:
            embeddings: Embeddings of the masked requests.
            texts: The requests as written (for the TF-IDF features).
            lexical: Unused; kept so callers that pass ``LexicalScorer(fitted)`` still work.

        """
        text_scores = self.tfidf.project(texts, self.coef_text_t)
        scores = embeddings @ self.coef_embedding.T + text_scores
        return np.asarray(scores + self.intercept, dtype=np.float32)

    def score(
        self,
        embeddings: FloatArray,
        texts: Sequence[str],
        lexical: LexicalScorer | None = None,
    ) -> RouterScores:
        """Score requests (``texts`` as written, ``embeddings`` of their masked form)."""
        probabilities = softmax(self.decision_scores(embeddings, texts, lexical), self.temperature)
        similarities = embeddings @ self.example_embeddings.T
        nearest = similarities.argmax(axis=1)
        return RouterScores(
            probabilities=probabilities,
            similarity=similarities[np.arange(len(texts)), nearest].astype(np.float32),
            nearest=nearest,
        )


def softmax(scores: FloatArray, temperature: float) -> FloatArray:
    """Return the row-wise softmax of ``scores / temperature``."""
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float32)


class LexicalScorer:
    """TF-IDF decision scores for single requests (``TfidfFeatures``, no scikit-learn)."""

    def __init__(self, fitted: FittedRouter) -> None:
        """Score with ``fitted``'s TF-IDF features and weights."""
        self._tfidf = fitted.tfidf
        self._coef = fitted.coef_text_t

    def scores(self, text: str) -> FloatArray:
        """Return the TF-IDF part of the decision scores for one text."""
        return self._tfidf.project([text], self._coef)[0]


def decide_abstain(
    probabilities: FloatArray,
    similarity: FloatArray,
    n_agents: int,
    thresholds: Thresholds,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Apply the abstain rule to a batch.

    Returns:
        The best agent per row, whether the row is out of scope, and whether it is
        ambiguous (top two too close).

    """
    top, p1, p2, oos_p = top_two(probabilities, n_agents)
    out_of_scope = (
        (oos_p > p1) | (p1 < thresholds.min_confidence) | (similarity < thresholds.min_similarity)
    )
    ambiguous = ~out_of_scope & ((p1 - p2) < thresholds.min_margin)
    return top, out_of_scope, ambiguous


def top_two(
    probabilities: FloatArray, n_agents: int
) -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray, FloatArray]:
    """Return the best agent, its probability, the runner-up's, and out-of-scope's per row."""
    agent_p = probabilities[:, :n_agents]
    top = agent_p.argmax(axis=1)
    rows = np.arange(len(top))
    p1 = agent_p[rows, top]
    if n_agents > 1:
        second = np.partition(agent_p, n_agents - 2, axis=1)[:, n_agents - 2]
    else:
        second = np.zeros_like(p1)
    oos_p = probabilities[:, n_agents] if probabilities.shape[1] > n_agents else np.zeros_like(p1)
    return top, p1, second, oos_p
