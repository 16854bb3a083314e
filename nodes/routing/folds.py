"""Validation folds that keep an agent's near-duplicate examples together.

A held-out example whose near-twin was trained on scores like a seen one; thresholds
fitted on such scores abstain more on new requests than they did in validation.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from nodes.routing.model import FloatArray


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
