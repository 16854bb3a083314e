"""TF-IDF features of a fitted router, computed without scikit-learn.

The router fits its word and character TF-IDF vectorizers with scikit-learn, but a cached
router must load in a fraction of a second, and importing scikit-learn (with SciPy) costs
seconds on a small machine. So a fit keeps only what scoring needs — each vectorizer's
analyzer settings, vocabulary and idf weights — and ``TfidfFeatures`` reproduces
``TfidfVectorizer`` (``lowercase=True``, default token pattern, ``sublinear_tf=True``, L2
norm per vectorizer) for them. Equality with scikit-learn's ``transform`` is tested.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating[Any]]

# scikit-learn's defaults for the analyzers the router uses.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_WHITE_SPACES = re.compile(r"\s\s+")


@dataclass(frozen=True, slots=True)
class TfidfPart:
    """One fitted vectorizer: how it splits text, its vocabulary and its idf weights."""

    analyzer: Literal["word", "char_wb"]
    ngram_range: tuple[int, int]
    vocabulary: dict[str, int]
    idf: npt.NDArray[np.float64]

    def terms(self, text: str) -> list[str]:
        """Return the terms of ``text`` exactly as the fitted vectorizer's analyzer does."""
        text = text.lower()
        low, high = self.ngram_range
        if self.analyzer == "word":
            tokens = _TOKEN.findall(text)
            if high == 1:
                return list(tokens)
            terms = list(tokens) if low == 1 else []
            for n in range(max(low, 2), min(high, len(tokens)) + 1):
                terms.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
            return terms
        grams: list[str] = []
        for word in _WHITE_SPACES.sub(" ", text).split():
            padded = f" {word} "
            for n in range(low, high + 1):
                offset = 0
                grams.append(padded[offset : offset + n])
                while offset + n < len(padded):
                    offset += 1
                    grams.append(padded[offset : offset + n])
                if offset == 0:  # a word shorter than n counts once, as in scikit-learn
                    break
        return grams

    def weights(self, text: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Return the feature indices and L2-normalised sublinear TF-IDF weights of ``text``."""
        counts: dict[int, int] = {}
        for term in self.terms(text):
            index = self.vocabulary.get(term)
            if index is not None:
                counts[index] = counts.get(index, 0) + 1
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        indices = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        weights = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
        weights *= self.idf[indices]
        weights /= np.sqrt(weights @ weights)
        return indices, weights


@dataclass(frozen=True, slots=True)
class TfidfFeatures:
    """The router's TF-IDF feature space: its parts side by side, as in a ``FeatureUnion``."""

    parts: tuple[TfidfPart, ...]

    @classmethod
    def from_sklearn(cls, union: Any) -> TfidfFeatures:
        """Keep what scoring needs of a fitted ``FeatureUnion`` of ``TfidfVectorizer`` s.

        Raises:
            ValueError: A vectorizer uses settings this module does not reproduce.

        """
        parts = []
        for name, vectorizer in union.transformer_list:
            supported = (
                vectorizer.analyzer in ("word", "char_wb")
                and vectorizer.lowercase
                and vectorizer.sublinear_tf
                and vectorizer.norm == "l2"
                and vectorizer.use_idf
                and vectorizer.strip_accents is None
                and vectorizer.stop_words is None
                and vectorizer.preprocessor is None
                and vectorizer.tokenizer is None
                and vectorizer.token_pattern == _TOKEN.pattern
            )
            if not supported:
                raise ValueError(f"TF-IDF part {name!r} uses settings TfidfFeatures cannot score")
            parts.append(
                TfidfPart(
                    analyzer=vectorizer.analyzer,
                    ngram_range=tuple(vectorizer.ngram_range),
                    vocabulary={str(k): int(v) for k, v in vectorizer.vocabulary_.items()},
                    idf=np.asarray(vectorizer.idf_, dtype=np.float64),
                )
            )
        return cls(tuple(parts))

    @property
    def size(self) -> int:
        """Return the number of features (all parts)."""
        return sum(len(part.vocabulary) for part in self.parts)

    def project(self, texts: Sequence[str] | Iterable[str], coef_t: FloatArray) -> FloatArray:
        """Return ``features(texts) @ coef_t`` without building the feature matrix.

        Args:
            texts: Requests as written.
            coef_t: Weights of shape ``(self.size, k)``.

        """
        rows = []
        for text in texts:
            total = np.zeros(coef_t.shape[1], dtype=np.float64)
            offset = 0
            for part in self.parts:
                indices, weights = part.weights(text)
                if len(indices):
                    total += weights @ coef_t[offset + indices]
                offset += len(part.vocabulary)
            rows.append(total)
        if not rows:
            return np.zeros((0, coef_t.shape[1]), dtype=np.float32)
        return np.vstack(rows).astype(np.float32)
