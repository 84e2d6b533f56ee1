"""Seeded train/valid/test split, stratified by label pattern."""
from __future__ import annotations

import numpy as np

SPLITS = ("train", "valid", "test")
DEFAULT_FRACTIONS = {"train": 0.8, "valid": 0.1, "test": 0.1}


def stratified_split(labels: np.ndarray, fractions: dict | None = None,
                     seed: int = 0) -> np.ndarray:
    """Split names for each row, the same shares within every label pattern.

    labels: (N, T) 0/1. fractions: {"train", "valid", "test"} summing to 1.
    Returns (N,) array of "train" / "valid" / "test".
    """
    fractions = fractions or DEFAULT_FRACTIONS
    labels = np.asarray(labels).reshape(len(labels), -1)
    _, group = np.unique(labels, axis=0, return_inverse=True)
    group = group.reshape(-1)
    rng = np.random.default_rng([seed, 0x5B117])
    order = np.lexsort((rng.random(group.size), group))
    sizes = np.bincount(group)
    first = np.cumsum(sizes) - sizes
    rank = np.empty(group.size, dtype=np.int64)
    rank[order] = np.arange(group.size) - first[group[order]]
    bounds = np.cumsum([fractions[s] for s in SPLITS])
    cut_train = np.rint(bounds[0] * sizes)[group]
    cut_valid = np.rint(bounds[1] * sizes)[group]
    split = np.full(group.size, "test", dtype="<U5")
    split[rank < cut_valid] = "valid"
    split[rank < cut_train] = "train"
    return split
