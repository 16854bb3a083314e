"""Fitting the router on a catalog's examples: corpus, closed-form models, the fit itself.

Out-of-fold scores (``nodes.routing.folds``) feed the calibration
(``nodes.routing.calibration``); the result is a ``FittedRouter``
(``nodes.routing.model``). Imported only when a router must be fitted: a cached router
loads without it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import assert_never

import numpy as np
import numpy.typing as npt

from memory.embeddings import encode, encoder_version
from nodes.embedding_cache import EmbeddingCache
from nodes.routing.calibration import (
    IN_SCOPE,
    OUT_OF_SCOPE,
    PSEUDO_OUT_OF_SCOPE,
    ValidationRows,
    abstain_target,
    fit_fusion,
    fit_thresholds,
)
from nodes.routing.config import RouterConfig
from nodes.routing.folds import group_folds, near_duplicate_groups
from nodes.routing.model import (
    ROUTER_ALGORITHM,
    FittedRouter,
    FloatArray,
    ValidationReport,
    routing_key,
    softmax,
)
from nodes.routing.text import instruction_text, positive_description
from nodes.tfidf import TfidfFeatures
from nova.catalog import RoutableAgent

_OFF = -1e9  # decision score of a class a fold never saw: probability ~0


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
        text_weight, temperature = fit_fusion(oof_embedding, oof_text, labels, fixed_weight)
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

        kinds = np.where(labels < n_agents, IN_SCOPE, OUT_OF_SCOPE).astype(np.int8)
        n_pseudo = sum(len(s) for s in pseudo_scores)
        validation = ValidationRows(
            probabilities=softmax(np.vstack([oof_scores, *pseudo_scores]), temperature),
            similarity=np.concatenate([oof_similarity, *pseudo_similarity]).astype(np.float32),
            labels=np.concatenate([labels, np.full(n_pseudo, -1, dtype=np.int64)]),
            kind=np.concatenate([kinds, np.full(n_pseudo, PSEUDO_OUT_OF_SCOPE, dtype=np.int8)]),
        )
        n_groups = len(np.unique(groups[labels < n_agents]))
        target = abstain_target(config.max_in_scope_abstain, n_groups)
        thresholds, shift, rates = fit_thresholds(validation, n_agents, target)

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
