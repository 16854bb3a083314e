"""Calibrate the router on out-of-fold scores: fusion weight, temperature, thresholds.

The TF-IDF part's weight and the temperature are fitted together by validation NLL; the
abstain thresholds (and the out-of-scope class's log-odds shift) on the same rows.
Separate from ``nodes.routing.fit``, which produces the validation scores these are
fitted on: here are only functions of score arrays, testable without a catalog.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nodes.routing.model import FloatArray, Thresholds, decide_abstain, top_two


@dataclass(slots=True)
class ValidationRows:
    """Out-of-fold scores of the validation rows the thresholds are fitted on."""

    probabilities: FloatArray
    similarity: FloatArray
    labels: npt.NDArray[np.int64]
    kind: npt.NDArray[np.int8]
    """0 in scope, 1 explicit out-of-scope example, 2 pseudo out-of-scope (held-out agent)."""


IN_SCOPE, OUT_OF_SCOPE, PSEUDO_OUT_OF_SCOPE = 0, 1, 2
_CALIBRATION_ROWS = 3000


def fit_fusion(
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


def fit_thresholds(
    validation: ValidationRows, n_agents: int, target: float
) -> tuple[Thresholds, float, dict[str, float | None]]:
    """Return the thresholds, the out-of-scope class's log-odds shift, and the rates.

    The out-of-scope class abstains whenever it beats every agent, whatever the
    thresholds; when that alone exceeds the target on in-scope rows, its log-odds are
    lowered (the shift, folded into the fitted intercept) just enough.
    """
    top, p1, p2, oos_p = top_two(validation.probabilities, n_agents)
    margin = p1 - p2
    inside = validation.kind == IN_SCOPE
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
    groups = [
        validation.kind == g
        for g in (OUT_OF_SCOPE, PSEUDO_OUT_OF_SCOPE)
        if (validation.kind == g).any()
    ]
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
            "in_scope_abstain": rate(IN_SCOPE),
            "out_of_scope_recall": rate(OUT_OF_SCOPE),
            "pseudo_out_of_scope_recall": rate(PSEUDO_OUT_OF_SCOPE),
        },
    )
