"""The router's classifier: fitted on catalog examples, calibrated, thresholded, cached.

Signals, chosen by measurement (``python -m evals.router_table``: dev/test of the routing
dataset, synthetic catalogs): the bundled MiniLM embedding (int8-quantised by default) of
the request with its payload masked (quoted text, code, links), and TF-IDF word and
character n-grams of the request as written. The embedding feeds a ridge regression onto
one-hot agents, the TF-IDF features a multinomial naive Bayes model; their scores are added
with a weight and turned into probabilities by a temperature, both fitted on out-of-fold
scores. Both models are sums over examples, so every validation fold and held-out agent
is the full fit minus some rows: fitting 150 agents x 100 examples costs seconds beyond
encoding, where the joint SVM of ``nova-hybrid-svm/4`` refitted per fold took ~900
CPU-seconds. Example embeddings are cached by text hash (``nodes/embedding_cache.py``),
so adding an example re-encodes one text.

Abstaining needs thresholds, and those are fitted too: on out-of-fold scores of the
examples (in scope; folds keep an agent's near-duplicate examples together), of the
catalog's out-of-scope examples, and of whole agents held out of training (pseudo
out-of-scope), choosing the thresholds that catch the most out-of-scope requests while
abstaining on at most ``abstain_target`` of in-scope ones: ``max_in_scope_abstain`` less
a binomial margin, because validation rates understate the rate on new requests.

The fitted state is cached under ``settings.data_dir / "router"``, keyed by a hash of the
catalog's routable content, the router config, the encoder version and this algorithm's
version: any change refits on first use.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import pickle
import re
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, assert_never

import numpy as np
import numpy.typing as npt
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from memory.embeddings import encode, encoder_version
from nodes.embedding_cache import EmbeddingCache
from nodes.tfidf import TfidfFeatures
from nova.catalog import RoutableAgent
from nova.yamlio import load_yaml

log = logging.getLogger(__name__)

ROUTER_ALGORITHM = "nova-ridge/6"
"""Bumped whenever fitting or scoring changes, so cached fits are refitted."""

ROUTER_CONFIG_FILE = "router.yaml"

FloatArray = npt.NDArray[np.float32]
_OFF = -1e9  # decision score of a class a fold never saw: probability ~0


class RouterConfigError(ValueError):
    """The router config file (``router.yaml``) is invalid; the message says how to fix it."""


class RouterConfig(BaseModel):
    """Catalog-level router settings, read from ``router.yaml`` beside the agents folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    abstain_action: Literal["clarify", "fallback"] = "clarify"
    """What to do when unsure and no model can break the tie: ask the user, or hand the
    request to ``fallback_agent``."""
    fallback_agent: str = "general_chat"
    """Agent that takes requests the router hands over (``abstain_action: fallback``) and
    whose model breaks ties."""
    memory_agents: tuple[str, ...] = ()
    """Agents whose job is to answer from what memory holds (not to draft, plan or look
    elsewhere). A question that a strong recalled memory answers better than the
    classifier's pick goes to the one of these the classifier ranks highest (method
    ``memory``, ``nodes.route_context``); empty: any agent with the ``memory_search`` tool,
    then ``fallback_agent``."""
    top_k: int = Field(default=3, ge=2, le=10)
    """Candidates returned with each decision (and offered to the tie-break model)."""
    use_model: bool = True
    """Ask a model to choose among the top-k when unsure (if one is configured)."""
    max_in_scope_abstain: float = Field(default=0.04, ge=0.0, le=0.5)
    """Most in-scope validation requests the fitted thresholds may abstain on."""
    validation_folds: int = Field(default=5, ge=2, le=10)
    """Folds of the validation split the thresholds and calibration are fitted on."""
    embedding_weight: float = Field(default=1.0, gt=0.0)
    """Weight of the MiniLM embedding against the TF-IDF features."""
    encoder: Literal["minilm", "minilm-int8"] = "minilm-int8"
    """The bundled MiniLM as shipped (fp32) or dynamically quantised to int8: the same
    routing accuracy here (``python -m evals.router_table --int8``) for ~2.5x less CPU
    when fitting large catalogs and ~40% less per request."""
    classifier: Literal["ridge", "logreg", "svm", "centroid"] = "ridge"
    """The linear model on the embedding: closed-form ridge regression (default: fits in
    milliseconds per validation fold), logistic regression, the joint embedding + TF-IDF
    linear SVM of earlier versions, or nearest class centroid."""
    ridge_alpha: float = Field(default=1.0, gt=0.0)
    """Regularisation of the ridge model (larger smooths more)."""
    text_weight: float | None = Field(default=None, ge=0.0)
    """Weight of the TF-IDF naive Bayes scores added to the embedding model's scores; by
    default fitted on the validation folds (not used by ``svm``, which learns its TF-IDF
    weights jointly)."""
    nb_alpha: float = Field(default=0.03, gt=0.0)
    """Smoothing of the TF-IDF multinomial naive Bayes model."""
    logreg_c: float = Field(default=10.0, gt=0.0)
    """Inverse regularisation of ``logreg``."""
    svm_c: float = Field(default=0.5, gt=0.0)
    """Regularisation of the linear SVM (larger fits the examples more closely)."""
    near_duplicate_similarity: float = Field(default=0.9, gt=0.0, le=1.0)
    """Examples of one agent at least this similar (cosine) are kept in one validation fold:
    a held-out example whose near-twin was trained on scores like a seen one, and thresholds
    fitted on such scores abstain more on new requests than they did in validation."""
    max_word_features: int = Field(default=40_000, ge=1_000)
    """Vocabulary cap for word n-grams (keeps large catalogs' fitted state small)."""
    max_char_features: int = Field(default=60_000, ge=1_000)
    """Vocabulary cap for character n-grams."""
    out_of_scope_examples: tuple[str, ...] = ()
    """Requests no agent in the catalog handles; they teach the router to abstain."""

    @property
    def quantized(self) -> bool:
        """Whether the router embeds with the int8 encoder."""
        return self.encoder == "minilm-int8"

    @field_validator("out_of_scope_examples")
    @classmethod
    def _clean(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(dict.fromkeys(text.strip() for text in value if text.strip()))
        return cleaned

    def fit_fields(self) -> dict[str, object]:
        """Return the settings that change the fitted state (and so the cache key)."""
        return self.model_dump(
            mode="json",
            include={
                "max_in_scope_abstain",
                "validation_folds",
                "embedding_weight",
                "encoder",
                "classifier",
                "ridge_alpha",
                "text_weight",
                "nb_alpha",
                "logreg_c",
                "svm_c",
                "near_duplicate_similarity",
                "max_word_features",
                "max_char_features",
                "out_of_scope_examples",
            },
        )


def config_path_for(catalog_dir: Path) -> Path:
    """Return where the router config of the catalog in ``catalog_dir`` lives."""
    return Path(catalog_dir).resolve().parent / ROUTER_CONFIG_FILE


def load_router_config(path: Path | str | None) -> RouterConfig:
    """Read a router config file; ``None`` or a missing default file gives the defaults.

    Raises:
        RouterConfigError: the file is not valid YAML or has bad fields (each is named).

    """
    if path is None:
        return RouterConfig()
    path = Path(path)
    if not path.is_file():
        return RouterConfig()
    try:
        raw = load_yaml(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise RouterConfigError(f"{path}: not valid YAML ({error})".replace("\n", " ")) from None
    if not isinstance(raw, dict):
        raise RouterConfigError(f"{path}: expected a mapping of router settings")
    try:
        return RouterConfig.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or '(file)'}: {item['msg']}"
            for item in error.errors()
        )
        raise RouterConfigError(f"{path}: {problems}") from None


# --- text preparation -------------------------------------------------------------------

_PAYLOAD_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"```.*?```", re.S), " code "),
    (re.compile(r"`[^`\n]+`"), " code "),
    (re.compile(r"https?://\S+|www\.\S+"), " link "),
    (re.compile(r"“[^”]*”|„[^“”]*[“”]|\"[^\"]*\"|«[^»]*»"), " «text» "),
    # A quote opened at a word start and closed at a word end; apostrophes inside
    # words (I'd, don't) do not close it.
    (re.compile(r"(?<!\w)'(?:[^']|'(?=\w))+'(?!\w)|‘[^’]*’"), " «text» "),
    (re.compile(r"\[[^\]]{12,}\]"), " «text» "),
)
_SPACES = re.compile(r"\s+")
_NEGATIVE_SENTENCE = re.compile(r"\b(?:not|never|no|neither|nor)\b|n't\b", re.I)


def instruction_text(text: str) -> str:
    """Mask the payload of a request (quoted text, code, links), keeping the instruction.

    "Translate 'Your order has shipped' to German" becomes "Translate «text» to German":
    the words of the carried text say nothing about which agent should handle it.
    """
    masked = text
    for pattern, placeholder in _PAYLOAD_PATTERNS:
        masked = pattern.sub(placeholder, masked)
    masked = _SPACES.sub(" ", masked).strip()
    return masked or text.strip()


def positive_description(description: str) -> str:
    """Drop the sentences of a description that say what an agent does *not* do."""
    sentences = re.split(r"(?<=[.!?])\s+", description.strip())
    kept = [s for s in sentences if not _NEGATIVE_SENTENCE.search(s)]
    return " ".join(kept) or description.strip()


# --- fitted state -----------------------------------------------------------------------


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


# --- fitting ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Corpus:
    """Training rows: agents' examples, out-of-scope examples and descriptions."""

    texts: list[str]
    """Texts as the lexical (TF-IDF) features see them."""
    originals: list[str]
    """The texts as written (shown by ``explain``)."""
    embeddings: FloatArray
    labels: npt.NDArray[np.int64]
    is_description: npt.NDArray[np.bool_]


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


class _Progress:
    """A rich progress display for fitting, or nothing when not asked for."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: object | None = None

    @contextmanager
    def running(self) -> Iterator[_Progress]:
        if not self.enabled:
            yield self
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        with progress:
            self._progress = progress
            yield self
        self._progress = None

    def task(self, description: str, total: int) -> Callable[[int], None]:
        progress = self._progress
        if progress is None:
            return lambda _n: None
        task_id = progress.add_task(description, total=total)  # type: ignore[attr-defined]
        return lambda n: progress.advance(task_id, n)  # type: ignore[attr-defined]


def embedding_cache(folder: Path | None, *, quantized: bool = True) -> EmbeddingCache:
    """Return the example-embedding cache of the bundled encoder (int8 or not) in ``folder``."""
    return EmbeddingCache(
        folder,
        encoder_version(quantized=quantized),
        lambda texts: encode(texts, batch_size=128, quantized=quantized),
    )


def _build_corpus(
    agents: Sequence[RoutableAgent],
    config: RouterConfig,
    cache: EmbeddingCache,
    advance: Callable[[int], None],
) -> _Corpus:
    originals: list[str] = []
    labels: list[int] = []
    descriptions: list[bool] = []
    for index, agent in enumerate(agents):
        originals.extend(agent.examples)
        labels.extend([index] * len(agent.examples))
        descriptions.extend([False] * len(agent.examples))
    originals.extend(config.out_of_scope_examples)
    labels.extend([len(agents)] * len(config.out_of_scope_examples))
    descriptions.extend([False] * len(config.out_of_scope_examples))
    texts = list(originals)
    embedded = [instruction_text(text) for text in originals]
    for index, agent in enumerate(agents):
        originals.append(agent.description)
        texts.append(positive_description(agent.description))
        embedded.append(texts[-1])
        labels.append(index)
        descriptions.append(True)
    return _Corpus(
        texts=texts,
        originals=originals,
        embeddings=cache.encode(embedded, advance),
        labels=np.asarray(labels, dtype=np.int64),
        is_description=np.asarray(descriptions, dtype=bool),
    )


def near_duplicate_groups(
    embeddings: FloatArray, labels: npt.NDArray[np.int64], threshold: float
) -> npt.NDArray[np.int64]:
    """Group each class's near-duplicate examples (cosine ≥ ``threshold`` to a group's leader).

    A row joins the group of the most similar earlier leader of its class, or leads a new
    group; leaders are not chained, so one group never drifts across a whole class.
    """
    groups = np.empty(len(labels), dtype=np.int64)
    next_id = 0
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        similarities = embeddings[members] @ embeddings[members].T
        leaders: list[int] = []
        leader_groups: list[int] = []
        for i in range(len(members)):
            if leaders:
                row = similarities[i, leaders]
                j = int(row.argmax())
                if row[j] >= threshold:
                    groups[members[i]] = leader_groups[j]
                    continue
            leaders.append(i)
            leader_groups.append(next_id)
            groups[members[i]] = next_id
            next_id += 1
    return groups


def group_folds(
    groups: npt.NDArray[np.int64], labels: npt.NDArray[np.int64], folds: int, seed: int = 0
) -> npt.NDArray[np.int64]:
    """Assign whole groups to folds, class by class, balancing each class across folds."""
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(groups), dtype=np.int64)
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        ids, inverse, sizes = np.unique(groups[members], return_inverse=True, return_counts=True)
        shuffled = rng.permutation(len(ids))
        order = shuffled[np.argsort(-sizes[shuffled], kind="stable")]
        load = np.zeros(folds)
        offset = int(rng.integers(folds))  # spread classes' first groups over the folds
        assigned = np.empty(len(ids), dtype=np.int64)
        for g in order:
            candidates = (np.arange(folds) + offset) % folds
            fold = int(candidates[np.argmin(load[candidates])])
            assigned[g] = fold
            load[fold] += sizes[g]
        fold_of[members] = assigned[inverse]
    return fold_of


@dataclass(slots=True)
class _Weights:
    """One fitted model on the global class columns: embedding part and TF-IDF part."""

    coef_embedding: FloatArray
    """Shape (classes, embedding dim)."""
    intercept: FloatArray
    coef_text: FloatArray
    """Shape (classes, TF-IDF features)."""
    intercept_text: FloatArray

    def fused(self, text_weight: float) -> _Weights:
        """Return the single linear model ``embedding part + text_weight * text part``."""
        return _Weights(
            coef_embedding=self.coef_embedding,
            intercept=(self.intercept + text_weight * self.intercept_text).astype(np.float32),
            coef_text=(self.coef_text * np.float32(text_weight)).astype(np.float32),
            intercept_text=np.zeros_like(self.intercept_text),
        )


class _Models:
    """Fits the router's model on all rows but some, in closed form where it can.

    Ridge regression, class centroids and naive Bayes are sums over rows, so a model
    without some rows is the full sums minus theirs (plus a 385×385 solve for ridge):
    validation folds and held-out agents cost milliseconds, where refitting an SVM per
    fold took minutes on large catalogs. ``logreg`` and ``svm`` refit per fold.
    """

    def __init__(self, corpus: _Corpus, text: object, n_classes: int, config: RouterConfig) -> None:
        from scipy.sparse import csr_matrix

        self.config = config
        self.n_classes = n_classes
        self.embeddings = corpus.embeddings.astype(np.float64)
        self.labels = corpus.labels
        self.text = csr_matrix(text, dtype=np.float64)
        n = len(corpus.labels)
        self.onehot = csr_matrix((np.ones(n), (np.arange(n), corpus.labels)), shape=(n, n_classes))
        self.text_sums = np.asarray((self.onehot.T @ self.text).toarray())
        kind = config.classifier
        if kind == "ridge":
            augmented = np.hstack([self.embeddings, np.ones((n, 1))])
            self.augmented = augmented
            self.gram = augmented.T @ augmented
            self.cross = np.asarray(self.onehot.T @ augmented).T  # (dim + 1, classes)
        elif kind == "centroid":
            self.sums = np.asarray(self.onehot.T @ self.embeddings)

    def fit(self, excluded: npt.NDArray[np.int64]) -> _Weights:
        """Return the model fitted on every row but ``excluded``."""
        config = self.config
        counts = np.bincount(self.labels, minlength=self.n_classes)
        counts -= np.bincount(self.labels[excluded], minlength=self.n_classes)
        present = counts > 0
        text_part: tuple[npt.NDArray[np.floating], npt.NDArray[np.floating]] | None = None
        match config.classifier:
            case "ridge":
                held = self.augmented[excluded]
                gram = self.gram - held.T @ held
                cross = self.cross - np.asarray(self.onehot[excluded].T @ held).T
                regulariser = np.full(gram.shape[0], config.ridge_alpha)
                regulariser[-1] = 1e-3  # the intercept is barely penalised
                solution = np.linalg.solve(gram + np.diag(regulariser), cross)
                coef, intercept = solution[:-1].T, solution[-1]
            case "centroid":
                sums = self.sums - np.asarray(self.onehot[excluded].T @ self.embeddings[excluded])
                coef = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
                intercept = np.zeros(self.n_classes)
            case "logreg" | "svm":
                coef, intercept, text_coef = self._refit(excluded)
                if text_coef is not None:
                    text_part = (text_coef, np.zeros(self.n_classes))
            case _ as unreachable:
                assert_never(unreachable)
        if text_part is None:
            text_part = self._naive_bayes(excluded, counts)
        return _Weights(
            coef_embedding=np.asarray(coef, dtype=np.float32),
            intercept=np.where(present, intercept, _OFF).astype(np.float32),
            coef_text=np.asarray(text_part[0], dtype=np.float32),
            intercept_text=np.where(present, text_part[1], 0.0).astype(np.float32),
        )

    def _naive_bayes(
        self, excluded: npt.NDArray[np.int64], counts: npt.NDArray[np.int64]
    ) -> tuple[FloatArray, FloatArray]:
        """Multinomial naive Bayes on TF-IDF weights: log feature probabilities and priors."""
        sums = self.text_sums - (self.onehot[excluded].T @ self.text[excluded]).toarray()
        smoothed = sums + self.config.nb_alpha
        log_probability = np.log(smoothed) - np.log(smoothed.sum(axis=1, keepdims=True))
        prior = np.log(np.maximum(counts, 1) / max(1, counts.sum()))
        return np.asarray(log_probability, dtype=np.float32), np.asarray(prior, np.float32)

    def _refit(
        self, excluded: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64] | None]:
        from scipy.sparse import csr_matrix, hstack
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import LinearSVC

        rows = np.setdiff1d(np.arange(len(self.labels)), excluded)
        labels = self.labels[rows]
        dim = self.embeddings.shape[1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=ConvergenceWarning)
            warnings.simplefilter("ignore", category=UserWarning)
            if self.config.classifier == "logreg":
                model: LogisticRegression | LinearSVC = LogisticRegression(
                    C=self.config.logreg_c, max_iter=300
                ).fit(self.embeddings[rows], labels)
                joint = False
            else:
                weight = self.config.embedding_weight
                features = hstack(
                    [csr_matrix(self.embeddings[rows] * weight), self.text[rows]]
                ).tocsr()
                model = LinearSVC(C=self.config.svm_c, max_iter=5000).fit(features, labels)
                joint = True
        raw = np.asarray(model.coef_, dtype=np.float64)
        bias = np.asarray(model.intercept_, dtype=np.float64)
        if raw.shape[0] == 1:  # binary: one column, positive for the second class
            raw, bias = np.vstack([-raw[0], raw[0]]), np.array([-bias[0], bias[0]])
        coef = np.zeros((self.n_classes, raw.shape[1]))
        intercept = np.zeros(self.n_classes)
        coef[model.classes_] = raw
        intercept[model.classes_] = bias
        if not joint:
            return coef, intercept, None
        return coef[:, :dim] * self.config.embedding_weight, intercept, coef[:, dim:]

    def scores(
        self, weights: _Weights, rows: npt.NDArray[np.int64]
    ) -> tuple[FloatArray, FloatArray]:
        """Return the embedding part's and the text part's decision scores of ``rows``."""
        embedding = self.embeddings[rows] @ weights.coef_embedding.T + weights.intercept
        text = np.asarray(self.text[rows] @ weights.coef_text.T) + weights.intercept_text
        return np.asarray(embedding, dtype=np.float32), np.asarray(text, dtype=np.float32)


def _fit_fusion(
    embedding: FloatArray, text: FloatArray, labels: npt.NDArray[np.int64], weight: float | None
) -> tuple[float, float]:
    """Return the text part's weight (unless given) and the temperature, by validation NLL.

    The probabilities are ``softmax(a * embedding + b * text)``; their negative
    log-likelihood is convex in ``(a, b)``, so both scales are fitted together by a
    bounded quasi-Newton search (weight ``b / a``, temperature ``1 / a``). A grid of
    weights, as before, moved the fused model by whole steps: on Nova's catalog the
    grid's 0.02 and the optimum's ~0.024 route a point of dev requests differently.
    """
    if len(labels) > _CALIBRATION_ROWS:
        # Two scalars need no 15,000 rows: a fixed sample keeps this a fraction of a second.
        rows = np.random.default_rng(0).choice(len(labels), _CALIBRATION_ROWS, replace=False)
        embedding, text, labels = embedding[rows], text[rows], labels[rows]
    if weight is not None:
        return weight, _fit_temperature(embedding + weight * text, labels)
    from scipy.optimize import minimize

    embedding64, text64 = embedding.astype(np.float64), text.astype(np.float64)
    start_temperature = _fit_temperature(embedding, labels)
    result = minimize(
        _scaled_nll,
        x0=np.array([1.0 / start_temperature, 0.0]),
        args=(embedding64, text64, labels),
        jac=True,
        method="L-BFGS-B",
        bounds=[(1.0 / 20.0, 1.0 / 0.005), (0.0, None)],
    )
    embedding_scale, text_scale = (float(v) for v in result.x)
    return text_scale / embedding_scale, 1.0 / embedding_scale


def _scaled_nll(
    scales: npt.NDArray[np.float64],
    embedding: npt.NDArray[np.float64],
    text: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
) -> tuple[float, npt.NDArray[np.float64]]:
    """Return the NLL of ``softmax(a * embedding + b * text)`` and its gradient in (a, b)."""
    z = scales[0] * embedding + scales[1] * text
    z = z - z.max(axis=1, keepdims=True)
    probabilities = np.exp(z)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    rows = np.arange(len(labels))
    loss = -float(np.log(np.maximum(probabilities[rows, labels], 1e-300)).mean())
    # d(-log p_y)/d(scale) = E_p[part] - part_y, averaged over rows.
    gradient = np.array(
        [
            float(((probabilities * part).sum(axis=1) - part[rows, labels]).mean())
            for part in (embedding, text)
        ]
    )
    return loss, gradient


def _nll(scores: FloatArray, labels: npt.NDArray[np.int64], temperature: float) -> float:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean())


def _fit_temperature(scores: FloatArray, labels: npt.NDArray[np.int64]) -> float:
    from scipy.optimize import minimize_scalar

    result = minimize_scalar(
        lambda temperature: _nll(scores, labels, temperature),
        bounds=(0.005, 20.0),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(result.x)


@dataclass(slots=True)
class _Validation:
    probabilities: FloatArray
    similarity: FloatArray
    labels: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int8]
    """0 in scope, 1 explicit out-of-scope example, 2 pseudo out-of-scope (held-out agent)."""


_IN, _OOS, _PSEUDO = 0, 1, 2
_CALIBRATION_ROWS = 3000


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
    top, p1, p2, oos_p = _top_two(probabilities, n_agents)
    out_of_scope = (
        (oos_p > p1) | (p1 < thresholds.min_confidence) | (similarity < thresholds.min_similarity)
    )
    ambiguous = ~out_of_scope & ((p1 - p2) < thresholds.min_margin)
    return top, out_of_scope, ambiguous


def _top_two(
    probabilities: FloatArray, n_agents: int
) -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray, FloatArray]:
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


def abstain_target(budget: float, samples: int) -> float:
    """Return the in-scope abstain rate to fit for, so new requests stay within ``budget``.

    Validation rates are estimates from ``samples`` independent groups of examples; fitting
    to the budget itself would exceed it on new requests about half the time. The target is
    the budget less a one-sided 95% binomial margin (never below half the budget).
    """
    if samples <= 0 or budget <= 0:
        return budget
    margin = 1.645 * float(np.sqrt(budget * (1 - budget) / samples))
    return max(budget / 2, budget - margin)


def shift_out_of_scope(probabilities: FloatArray, n_agents: int, shift: float) -> FloatArray:
    """Return ``probabilities`` with the out-of-scope class's log-odds lowered by ``shift``."""
    if probabilities.shape[1] <= n_agents or shift == 0.0:
        return probabilities
    scaled = probabilities.astype(np.float64)
    scaled[:, n_agents] *= np.exp(-shift)
    return np.asarray(scaled / scaled.sum(axis=1, keepdims=True), dtype=np.float32)


def _fit_thresholds(
    validation: _Validation, n_agents: int, target: float
) -> tuple[Thresholds, float, dict[str, float | None]]:
    """Return the thresholds, the out-of-scope class's log-odds shift, and the rates.

    The out-of-scope class abstains whenever it beats every agent, whatever the
    thresholds; when that alone exceeds the target on in-scope rows, its log-odds are
    lowered (the shift, folded into the fitted intercept) just enough.
    """
    top, p1, p2, oos_p = _top_two(validation.probabilities, n_agents)
    margin = p1 - p2
    inside = validation.kind == _IN
    if not inside.any():
        return Thresholds(0.0, 0.0, -1.0), 0.0, {}
    lead = np.log(np.maximum(oos_p, 1e-30)) - np.log(np.maximum(p1, 1e-30))
    leading = np.sort(lead[inside & (lead > 0)])
    shifts = [0.0]
    if leading.size:
        picks = leading[np.linspace(0, leading.size - 1, min(6, leading.size)).round().astype(int)]
        shifts += [float(v) + 1e-4 for v in picks]

    def grid(values: FloatArray, upper: float, steps: int, off: float) -> FloatArray:
        # Candidates sit midway between observed in-scope values, never on one: a threshold
        # equal to a validation score (e.g. saturated probabilities of 1.0) would abstain
        # on every new request that scores a hair lower.
        data = values[inside]
        distinct = np.unique(data[data <= np.quantile(data, upper)])
        mids = (distinct[:-1] + distinct[1:]) / 2 if distinct.size > 1 else distinct[:0]
        if mids.size > steps:
            mids = mids[np.linspace(0, mids.size - 1, steps).round().astype(int)]
        return np.unique(np.concatenate([[off], mids]).astype(np.float32))

    confidences = grid(p1, 0.25, 16, 0.0)
    margins = grid(margin, 0.15, 10, 0.0)
    similarities = grid(validation.similarity, 0.15, 10, -1.0)
    wrong = inside & (top != validation.labels)
    groups = [validation.kind == g for g in (_OOS, _PSEUDO) if (validation.kind == g).any()]
    n_inside = int(inside.sum())
    best: tuple[tuple[float, int, float, float], Thresholds, float] | None = None
    for shift, m, s in itertools.product(shifts, margins, similarities):
        # p1 and the margin barely move when the out-of-scope class is lowered (it is
        # not an agent); only which rows it wins changes.
        partial = (lead > shift) | (margin < m) | (validation.similarity < s)
        for c in confidences:
            abstain = partial | (p1 < c)
            in_abstain = float(np.count_nonzero(abstain & inside)) / n_inside
            if in_abstain > target + 1e-9:
                continue
            recall = float(np.mean([abstain[g].mean() for g in groups])) if groups else 0.0
            # Ties go to the least strict thresholds: they generalise to new requests best.
            strictness = float(c) + float(m) + float(s) + 1.0 + shift
            key = (recall, int(np.count_nonzero(abstain & wrong)), -in_abstain, -strictness)
            if best is None or key > best[0]:
                best = (key, Thresholds(float(c), float(m), float(s)), shift)
    if best is None:
        chosen, shift = Thresholds(0.0, 0.0, -1.0), shifts[-1]
    else:
        _, chosen, shift = best
    _, oos, ambiguous = decide_abstain(
        shift_out_of_scope(validation.probabilities, n_agents, shift),
        validation.similarity,
        n_agents,
        chosen,
    )
    abstain = oos | ambiguous

    def rate(kind: int) -> float | None:
        rows = validation.kind == kind
        return float(abstain[rows].mean()) if rows.any() else None

    return (
        chosen,
        shift,
        {
            "accuracy": float((top[inside] == validation.labels[inside]).mean()),
            "in_scope_abstain": rate(_IN),
            "out_of_scope_recall": rate(_OOS),
            "pseudo_out_of_scope_recall": rate(_PSEUDO),
        },
    )


def _tfidf_vectorizer(config: RouterConfig) -> object:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_union

    return make_union(
        TfidfVectorizer(
            ngram_range=(1, 2),
            sublinear_tf=True,
            max_features=config.max_word_features,
            dtype=np.float32,
        ),
        TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(2, 5),
            sublinear_tf=True,
            max_features=config.max_char_features,
            dtype=np.float32,
        ),
    )


def _nearest_similarity(
    embeddings: FloatArray, queries: npt.NDArray[np.int64], pool: npt.NDArray[np.int64]
) -> FloatArray:
    best = np.full(len(queries), -1.0, dtype=np.float32)
    pool_vectors = embeddings[pool].T
    for start in range(0, len(queries), 2048):  # bounded memory on large catalogs
        part = queries[start : start + 2048]
        best[start : start + len(part)] = (embeddings[part] @ pool_vectors).max(axis=1)
    return best


def fit_router(
    agents: Sequence[RoutableAgent],
    config: RouterConfig,
    *,
    progress: bool = False,
    key: str | None = None,
    cache: EmbeddingCache | None = None,
) -> FittedRouter:
    """Fit the classifier, its calibration and its thresholds on the catalog's examples.

    Args:
        agents: The catalog's agents (name, description, examples), in a fixed order.
        config: Router settings (validation folds, budget, out-of-scope examples…).
        progress: Show a progress bar on stderr.
        key: Cache key to record in the fitted state (computed when not given).
        cache: Where example embeddings are kept between fits (default: in memory only).

    Raises:
        ValueError: the catalog has fewer than two agents.

    """
    import time

    if len(agents) < 2:
        raise ValueError(
            f"Routing needs at least two agents; the catalog has {len(agents)}. "
            "Add agent files, or send requests to the one agent directly."
        )
    started, started_cpu = time.perf_counter(), time.process_time()
    n_agents = len(agents)
    has_oos = bool(config.out_of_scope_examples)
    n_classes = n_agents + (1 if has_oos else 0)
    n_texts = sum(len(a.examples) for a in agents) + len(config.out_of_scope_examples) + n_agents
    holdout_groups = min(5, n_agents // 2) if n_agents >= 4 else 0
    cache = cache or embedding_cache(None, quantized=config.quantized)
    if cache.encoder_id != encoder_version(quantized=config.quantized):
        raise ValueError(
            f"The embedding cache holds {cache.encoder_id} vectors; router.yaml asks for "
            f"encoder {config.encoder}: pass embedding_cache(folder, quantized=...) to match"
        )

    with _Progress(progress).running() as bar:
        corpus = _build_corpus(agents, config, cache, bar.task("Encoding examples", n_texts))
        example_rows = np.flatnonzero(~corpus.is_description)
        labels = corpus.labels[example_rows]
        counts = np.bincount(labels, minlength=n_classes)
        folds = int(min(config.validation_folds, max(2, counts[counts > 0].max())))
        advance = bar.task("Fitting router", folds + holdout_groups + 2)

        # One BLAS thread: the solves are small (385x385), and idle BLAS threads spinning
        # on a busy machine cost more CPU than they save (a 34-agent refit took 3x longer).
        from threadpoolctl import threadpool_limits

        blas = threadpool_limits(limits=1, user_api="blas")
        vectorizer = _tfidf_vectorizer(config)
        text_features = vectorizer.fit_transform(corpus.texts)  # type: ignore[attr-defined]
        models = _Models(corpus, text_features, n_classes, config)
        advance(1)

        # Out-of-fold scores: every example scored by a model that saw neither it nor its
        # near-duplicates (folds keep a group of near-duplicates together).
        groups = near_duplicate_groups(
            corpus.embeddings[example_rows], labels, config.near_duplicate_similarity
        )
        fold_of = group_folds(groups, labels, folds)
        oof_embedding = np.zeros((len(example_rows), n_classes), dtype=np.float32)
        oof_text = np.zeros((len(example_rows), n_classes), dtype=np.float32)
        oof_similarity = np.zeros(len(example_rows), dtype=np.float32)
        in_scope_examples = example_rows[labels < n_agents]
        for fold in range(folds):
            held = np.flatnonzero(fold_of == fold)
            if not held.size:
                continue
            held_rows = example_rows[held]
            oof_embedding[held], oof_text[held] = models.scores(models.fit(held_rows), held_rows)
            seen = np.setdiff1d(in_scope_examples, held_rows, assume_unique=True)
            oof_similarity[held] = _nearest_similarity(corpus.embeddings, held_rows, seen)
            advance(1)
        fixed_weight = 1.0 if config.classifier == "svm" else config.text_weight
        text_weight, temperature = _fit_fusion(oof_embedding, oof_text, labels, fixed_weight)
        oof_scores = oof_embedding + text_weight * oof_text

        # Pseudo out-of-scope: whole agents held out, scored by a model that never saw them.
        pseudo_scores: list[FloatArray] = []
        pseudo_similarity: list[FloatArray] = []
        if holdout_groups:
            order = np.random.default_rng(0).permutation(n_agents)
            for group in np.array_split(order, holdout_groups):
                held_mask = np.isin(corpus.labels, group)
                held_rows = np.flatnonzero(held_mask & ~corpus.is_description)
                embedding_part, text_part = models.scores(
                    models.fit(np.flatnonzero(held_mask)), held_rows
                )
                scores = embedding_part + text_weight * text_part
                scores[:, group] = _OFF
                pseudo_scores.append(scores)
                seen = in_scope_examples[~np.isin(corpus.labels[in_scope_examples], group)]
                pseudo_similarity.append(_nearest_similarity(corpus.embeddings, held_rows, seen))
                advance(1)

        kinds = np.where(labels < n_agents, _IN, _OOS).astype(np.int8)
        n_pseudo = sum(len(s) for s in pseudo_scores)
        validation = _Validation(
            probabilities=softmax(np.vstack([oof_scores, *pseudo_scores]), temperature),
            similarity=np.concatenate([oof_similarity, *pseudo_similarity]).astype(np.float32),
            labels=np.concatenate([labels, np.full(n_pseudo, -1, dtype=np.int64)]),
            kind=np.concatenate([kinds, np.full(n_pseudo, _PSEUDO, dtype=np.int8)]),
        )
        n_groups = len(np.unique(groups[labels < n_agents]))
        target = abstain_target(config.max_in_scope_abstain, n_groups)
        thresholds, shift, rates = _fit_thresholds(validation, n_agents, target)

        final = models.fit(np.zeros(0, dtype=np.int64)).fused(text_weight)
        if has_oos:
            final.intercept[n_agents] -= np.float32(shift * temperature)
        blas.restore_original_limits()
        advance(1)

    report = ValidationReport(
        folds=folds,
        examples=int((labels < n_agents).sum()),
        out_of_scope_examples=int((labels == n_agents).sum()),
        pseudo_out_of_scope=n_pseudo,
        temperature=temperature,
        accuracy=float(rates.get("accuracy") or 0.0),
        in_scope_abstain=float(rates.get("in_scope_abstain") or 0.0),
        out_of_scope_recall=rates.get("out_of_scope_recall"),
        pseudo_out_of_scope_recall=rates.get("pseudo_out_of_scope_recall"),
        near_duplicate_groups=n_groups,
        abstain_target=target,
        text_weight=text_weight,
        out_of_scope_shift=shift,
    )
    names = [a.name for a in agents]
    return FittedRouter(
        key=key or routing_key(agents, config),
        agents=names,
        has_out_of_scope=has_oos,
        tfidf=TfidfFeatures.from_sklearn(vectorizer),
        coef_embedding=final.coef_embedding,
        coef_text_t=np.ascontiguousarray(final.coef_text.T),
        intercept=final.intercept,
        temperature=temperature,
        thresholds=thresholds,
        validation=report,
        example_embeddings=np.ascontiguousarray(corpus.embeddings[in_scope_examples]),
        example_texts=[corpus.originals[i] for i in in_scope_examples],
        example_agents=[names[corpus.labels[i]] for i in in_scope_examples],
        fit_seconds=time.perf_counter() - started,
        fit_cpu_seconds=time.process_time() - started_cpu,
        metadata={
            "encoder": encoder_version(quantized=config.quantized),
            "algorithm": ROUTER_ALGORITHM,
        },
    )


# --- cache ------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """Return the router cache folder: ``NOVA_ROUTER_CACHE_DIR``, else ``<data_dir>/router``."""
    from nova.settings import get_settings

    settings = get_settings()
    return settings.router_cache_dir or settings.data_dir / "router"


def load_or_fit(
    agents: Sequence[RoutableAgent],
    config: RouterConfig,
    *,
    cache_dir: Path | None = None,
    progress: bool = False,
) -> tuple[FittedRouter, bool]:
    """Return the cached fit for this catalog and config, fitting (and caching) it if needed.

    Returns:
        The fitted router, and whether it was fitted now (``False`` when read from cache).

    """
    key = routing_key(agents, config)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    # Plain pickle (numpy arrays, dicts, Nova's dataclasses; no scikit-learn objects): it
    # loads in milliseconds where joblib's compressed format took a tenth of a second.
    path = folder / f"router-{key}.pkl"
    if path.is_file():
        try:
            with path.open("rb") as file:
                fitted = pickle.load(file)  # Nova's own cache in the user's data dir
            if isinstance(fitted, FittedRouter) and fitted.key == key:
                return fitted, False
            log.warning("Router cache %s holds another fit; refitting", path)
        except Exception as error:  # a cache written by another version: refit, say so
            log.warning("Router cache %s unreadable (%s); refitting", path, error)
    fitted = fit_router(
        agents,
        config,
        progress=progress,
        key=key,
        cache=embedding_cache(folder, quantized=config.quantized),
    )
    folder.mkdir(parents=True, exist_ok=True)
    # Write then rename: a reader never sees half a file, and parallel fits do not clash.
    handle, tmp_name = tempfile.mkstemp(dir=folder, prefix=".router-", suffix=".tmp")
    os.close(handle)
    try:
        with open(tmp_name, "wb") as file:
            pickle.dump(fitted, file, protocol=5)
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return fitted, True
