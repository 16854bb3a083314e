"""The router's classifier: fitted on catalog examples, calibrated, thresholded, cached.

Signals, chosen by measurement (cross-validation on the catalog's examples): the bundled
MiniLM embedding and TF-IDF word and character n-grams of the request, fused in one linear
SVM over every agent's examples and the positive sentences of its description. The
embedding is taken of the request with its payload masked (quoted text, code, links), so
"proofread: 'the price list is…'" is embedded by its instruction, not by the text it
carries. Decision scores become calibrated probabilities by temperature scaling, fitted
on out-of-fold scores.

Abstaining needs thresholds, and those are fitted too: on out-of-fold scores of the
examples (in scope), of the catalog's out-of-scope examples, and of whole agents held out
of training (pseudo out-of-scope), choosing the thresholds that catch the most
out-of-scope requests while abstaining on at most ``max_in_scope_abstain`` of in-scope ones.

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
from typing import Literal

import numpy as np
import numpy.typing as npt
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from memory.embeddings import encode, encoder_version
from nodes.tfidf import TfidfFeatures
from nova.catalog import RoutableAgent
from nova.yamlio import load_yaml

log = logging.getLogger(__name__)

ROUTER_ALGORITHM = "nova-hybrid-svm/4"
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
    svm_c: float = Field(default=0.5, gt=0.0)
    """Regularisation of the linear SVM (larger fits the examples more closely)."""
    max_word_features: int = Field(default=40_000, ge=1_000)
    """Vocabulary cap for word n-grams (keeps large catalogs' fitted state small)."""
    max_char_features: int = Field(default=60_000, ge=1_000)
    """Vocabulary cap for character n-grams."""
    out_of_scope_examples: tuple[str, ...] = ()
    """Requests no agent in the catalog handles; they teach the router to abstain."""

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
                "svm_c",
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
        "encoder": encoder_version(),
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


def _encode_all(texts: list[str], advance: Callable[[int], None]) -> FloatArray:
    chunks = []
    for start in range(0, len(texts), 256):
        chunk = texts[start : start + 256]
        chunks.append(encode(chunk, batch_size=128))
        advance(len(chunk))
    return np.vstack(chunks) if chunks else np.zeros((0, 384), dtype=np.float32)


def _build_corpus(
    agents: Sequence[RoutableAgent], config: RouterConfig, advance: Callable[[int], None]
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
        embeddings=_encode_all(embedded, advance),
        labels=np.asarray(labels, dtype=np.int64),
        is_description=np.asarray(descriptions, dtype=bool),
    )


@dataclass(slots=True)
class _Linear:
    """One fitted linear model, mapped onto the global class columns."""

    vectorizer: object
    coef_embedding: FloatArray
    coef_text_t: FloatArray
    intercept: FloatArray

    def scores(self, embeddings: FloatArray, texts: Sequence[str]) -> FloatArray:
        text_features = self.vectorizer.transform(list(texts))  # type: ignore[attr-defined]
        return np.asarray(
            embeddings @ self.coef_embedding.T
            + np.asarray(text_features @ self.coef_text_t)
            + self.intercept,
            dtype=np.float32,
        )


def _fit_linear(
    corpus: _Corpus, rows: npt.NDArray[np.int64], n_classes: int, config: RouterConfig
) -> _Linear:
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_union
    from sklearn.svm import LinearSVC

    vectorizer = make_union(
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
    texts = [corpus.texts[i] for i in rows]
    text_features = vectorizer.fit_transform(texts)
    weight = config.embedding_weight
    features = hstack([csr_matrix(corpus.embeddings[rows] * weight), text_features]).tocsr()
    labels = corpus.labels[rows]
    present = np.unique(labels)
    dim = corpus.embeddings.shape[1]
    coef_embedding = np.zeros((n_classes, dim), dtype=np.float32)
    coef_text = np.zeros((n_classes, text_features.shape[1]), dtype=np.float32)
    intercept = np.full(n_classes, _OFF, dtype=np.float32)
    with warnings.catch_warnings():
        # Few examples per agent converge slowly in the last decimals; accuracy is measured.
        warnings.simplefilter("ignore", category=UserWarning)
        from sklearn.exceptions import ConvergenceWarning

        warnings.simplefilter("ignore", category=ConvergenceWarning)
        svm = LinearSVC(C=config.svm_c, max_iter=5000).fit(features, labels)
    coef = np.asarray(svm.coef_, dtype=np.float32)
    bias = np.asarray(svm.intercept_, dtype=np.float32)
    if len(present) == 2:
        # A binary SVM returns one column: positive for the second class.
        coef = np.vstack([-coef[0], coef[0]])
        bias = np.array([-bias[0], bias[0]], dtype=np.float32)
    for row, cls in enumerate(svm.classes_):
        coef_embedding[cls] = coef[row, :dim] * weight
        coef_text[cls] = coef[row, dim:]
        intercept[cls] = bias[row]
    return _Linear(
        vectorizer=vectorizer,
        coef_embedding=coef_embedding,
        coef_text_t=np.ascontiguousarray(coef_text.T),
        intercept=intercept,
    )


def _fit_temperature(scores: FloatArray, labels: npt.NDArray[np.int64]) -> float:
    from scipy.optimize import minimize_scalar

    rows = np.arange(len(labels))

    def nll(temperature: float) -> float:
        z = scores / temperature
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-log_p[rows, labels].mean())

    result = minimize_scalar(nll, bounds=(0.005, 20.0), method="bounded")
    return float(result.x)


@dataclass(slots=True)
class _Validation:
    probabilities: FloatArray
    similarity: FloatArray
    labels: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int8]
    """0 in scope, 1 explicit out-of-scope example, 2 pseudo out-of-scope (held-out agent)."""


_IN, _OOS, _PSEUDO = 0, 1, 2


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
    agent_p = probabilities[:, :n_agents]
    top = agent_p.argmax(axis=1)
    ordered = np.sort(agent_p, axis=1)
    p1 = ordered[:, -1]
    p2 = ordered[:, -2] if n_agents > 1 else np.zeros_like(p1)
    oos_p = probabilities[:, n_agents] if probabilities.shape[1] > n_agents else np.zeros_like(p1)
    out_of_scope = (
        (oos_p > p1) | (p1 < thresholds.min_confidence) | (similarity < thresholds.min_similarity)
    )
    ambiguous = ~out_of_scope & ((p1 - p2) < thresholds.min_margin)
    return top, out_of_scope, ambiguous


def _fit_thresholds(
    validation: _Validation, n_agents: int, budget: float
) -> tuple[Thresholds, dict[str, float | None]]:
    agent_p = validation.probabilities[:, :n_agents]
    ordered = np.sort(agent_p, axis=1)
    p1 = ordered[:, -1]
    margin = p1 - ordered[:, -2]
    inside = validation.kind == _IN
    if not inside.any():
        return Thresholds(0.0, 0.0, -1.0), {}

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

    confidences = grid(p1, 0.25, 26, 0.0)
    margins = grid(margin, 0.15, 16, 0.0)
    similarities = grid(validation.similarity, 0.15, 16, -1.0)
    top = agent_p.argmax(axis=1)
    wrong = inside & (top != validation.labels)
    groups = [g for g in (_OOS, _PSEUDO) if (validation.kind == g).any()]
    best: tuple[tuple[float, int, float, float], Thresholds] | None = None
    for c, m, s in itertools.product(confidences, margins, similarities):
        thresholds = Thresholds(float(c), float(m), float(s))
        _, oos, ambiguous = decide_abstain(
            validation.probabilities, validation.similarity, n_agents, thresholds
        )
        abstain = oos | ambiguous
        in_abstain = float(abstain[inside].mean())
        if in_abstain > budget + 1e-9:
            continue
        recall = (
            float(np.mean([abstain[validation.kind == g].mean() for g in groups]))
            if groups
            else 0.0
        )
        # Ties go to the least strict thresholds: they generalise to new requests best.
        strictness = float(c) + float(m) + float(s) + 1.0
        key = (recall, int((abstain & wrong).sum()), -in_abstain, -strictness)
        if best is None or key > best[0]:
            best = (key, thresholds)
    chosen = best[1] if best is not None else Thresholds(0.0, 0.0, -1.0)
    _, oos, ambiguous = decide_abstain(
        validation.probabilities, validation.similarity, n_agents, chosen
    )
    abstain = oos | ambiguous

    def rate(kind: int) -> float | None:
        rows = validation.kind == kind
        return float(abstain[rows].mean()) if rows.any() else None

    return chosen, {
        "accuracy": float((top[inside] == validation.labels[inside]).mean()),
        "in_scope_abstain": rate(_IN),
        "out_of_scope_recall": rate(_OOS),
        "pseudo_out_of_scope_recall": rate(_PSEUDO),
    }


def fit_router(
    agents: Sequence[RoutableAgent],
    config: RouterConfig,
    *,
    progress: bool = False,
    key: str | None = None,
) -> FittedRouter:
    """Fit the classifier, its calibration and its thresholds on the catalog's examples.

    Args:
        agents: The catalog's agents (name, description, examples), in a fixed order.
        config: Router settings (validation folds, budget, out-of-scope examples…).
        progress: Show a progress bar on stderr (large catalogs take minutes).
        key: Cache key to record in the fitted state (computed when not given).

    Raises:
        ValueError: the catalog has fewer than two agents.

    """
    import time

    from sklearn.model_selection import StratifiedKFold

    if len(agents) < 2:
        raise ValueError(
            f"Routing needs at least two agents; the catalog has {len(agents)}. "
            "Add agent files, or send requests to the one agent directly."
        )
    started = time.perf_counter()
    n_agents = len(agents)
    has_oos = bool(config.out_of_scope_examples)
    n_classes = n_agents + (1 if has_oos else 0)
    n_texts = sum(len(a.examples) for a in agents) + len(config.out_of_scope_examples) + n_agents
    holdout_groups = min(5, n_agents // 2) if n_agents >= 4 else 0

    with _Progress(progress).running() as bar:
        corpus = _build_corpus(agents, config, bar.task("Encoding examples", n_texts))
        example_rows = np.flatnonzero(~corpus.is_description)
        description_rows = np.flatnonzero(corpus.is_description)
        counts = np.bincount(corpus.labels[example_rows], minlength=n_classes)
        folds = int(min(config.validation_folds, max(2, counts[counts > 0].max())))
        advance = bar.task("Fitting router", folds + holdout_groups + 1)

        # Out-of-fold scores: every example scored by a model that never saw it.
        oof_scores = np.zeros((len(example_rows), n_classes), dtype=np.float32)
        oof_similarity = np.zeros(len(example_rows), dtype=np.float32)
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)  # rare agents: fewer folds
            splits = list(splitter.split(example_rows, corpus.labels[example_rows]))
        for train, held in splits:
            rows = np.concatenate([example_rows[train], description_rows])
            model = _fit_linear(corpus, rows, n_classes, config)
            held_rows = example_rows[held]
            oof_scores[held] = model.scores(
                corpus.embeddings[held_rows], [corpus.texts[i] for i in held_rows]
            )
            seen = example_rows[train][corpus.labels[example_rows[train]] < n_agents]
            oof_similarity[held] = (corpus.embeddings[held_rows] @ corpus.embeddings[seen].T).max(
                axis=1
            )
            advance(1)
        labels = corpus.labels[example_rows]
        temperature = _fit_temperature(oof_scores, labels)

        # Pseudo out-of-scope: whole agents held out, scored by a model that never saw them.
        pseudo_scores: list[FloatArray] = []
        pseudo_similarity: list[FloatArray] = []
        if holdout_groups:
            order = np.random.default_rng(0).permutation(n_agents)
            for group in np.array_split(order, holdout_groups):
                held_mask = np.isin(corpus.labels, group)
                rows = np.flatnonzero(~held_mask)
                held_rows = np.flatnonzero(held_mask & ~corpus.is_description)
                model = _fit_linear(corpus, rows, n_classes, config)
                scores = model.scores(
                    corpus.embeddings[held_rows], [corpus.texts[i] for i in held_rows]
                )
                scores[:, group] = _OFF
                pseudo_scores.append(scores)
                seen = rows[(corpus.labels[rows] < n_agents) & ~corpus.is_description[rows]]
                pseudo_similarity.append(
                    (corpus.embeddings[held_rows] @ corpus.embeddings[seen].T).max(axis=1)
                )
                advance(1)

        kinds = np.where(labels < n_agents, _IN, _OOS).astype(np.int8)
        all_scores = np.vstack([oof_scores, *pseudo_scores])
        validation = _Validation(
            probabilities=softmax(all_scores, temperature),
            similarity=np.concatenate([oof_similarity, *pseudo_similarity]).astype(np.float32),
            labels=np.concatenate(
                [labels, np.full(sum(len(s) for s in pseudo_scores), -1, dtype=np.int64)]
            ),
            kind=np.concatenate(
                [kinds, np.full(sum(len(s) for s in pseudo_scores), _PSEUDO, dtype=np.int8)]
            ),
        )
        thresholds, rates = _fit_thresholds(validation, n_agents, config.max_in_scope_abstain)

        final = _fit_linear(corpus, np.arange(len(corpus.texts)), n_classes, config)
        advance(1)

    in_scope_rows = example_rows[labels < n_agents]
    report = ValidationReport(
        folds=folds,
        examples=int((labels < n_agents).sum()),
        out_of_scope_examples=int((labels == n_agents).sum()),
        pseudo_out_of_scope=int(sum(len(s) for s in pseudo_scores)),
        temperature=temperature,
        accuracy=float(rates.get("accuracy") or 0.0),
        in_scope_abstain=float(rates.get("in_scope_abstain") or 0.0),
        out_of_scope_recall=rates.get("out_of_scope_recall"),
        pseudo_out_of_scope_recall=rates.get("pseudo_out_of_scope_recall"),
    )
    names = [a.name for a in agents]
    return FittedRouter(
        key=key or routing_key(agents, config),
        agents=names,
        has_out_of_scope=has_oos,
        tfidf=TfidfFeatures.from_sklearn(final.vectorizer),
        coef_embedding=final.coef_embedding,
        coef_text_t=final.coef_text_t,
        intercept=final.intercept,
        temperature=temperature,
        thresholds=thresholds,
        validation=report,
        example_embeddings=np.ascontiguousarray(corpus.embeddings[in_scope_rows]),
        example_texts=[corpus.originals[i] for i in in_scope_rows],
        example_agents=[names[corpus.labels[i]] for i in in_scope_rows],
        fit_seconds=time.perf_counter() - started,
        metadata={"encoder": encoder_version(), "algorithm": ROUTER_ALGORITHM},
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
    fitted = fit_router(agents, config, progress=progress, key=key)
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
