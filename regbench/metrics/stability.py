"""Stability: agreement of two attribution tracks of the same sequences."""
from __future__ import annotations

import numpy as np

from regbench.errors import RegbenchError
from regbench.metrics._arrays import as_tracks, safe_divide


def continuous_jaccard(a, b) -> np.ndarray:
    """Scale-free continuous Jaccard similarity of two attribution tracks, per sequence.

    a, b: (N, 4, L), e.g. from models of two seeds. Each track is first divided by its
    L1 norm over bases and positions, then

        J = sum(min(|a|, |b|) sign(a) sign(b)) / sum(max(|a|, |b|))

    over bases and positions. So J(a, c a) = 1 for any c > 0 (two models whose outputs
    differ only in scale agree), J(a, -a) = -1, independent tracks score near 0.
    Returns (N,) in [-1, 1]; NaN when either track is all zero.

    The paper authors' ``cont_jaccard`` L1-normalises each *position's* 4-vector of
    hypothetical scores and sums the per-position ratios over positions. regbench keeps
    actual scores summed over bases (one value per position), for which a per-position
    normalisation would leave only signs, so it normalises whole tracks instead.
    """
    a, b = as_tracks(a), as_tracks(b)
    if a.shape != b.shape:
        raise RegbenchError(f"attribution tracks differ in shape: {a.shape} vs {b.shape}")
    a, b = (t / np.abs(t).sum(axis=(1, 2), keepdims=True) for t in (_nan_if_zero(a),
                                                                     _nan_if_zero(b)))
    overlap = np.minimum(np.abs(a), np.abs(b)) * np.sign(a) * np.sign(b)
    return safe_divide(overlap.sum(axis=(1, 2)), np.maximum(np.abs(a), np.abs(b)).sum(axis=(1, 2)))


def jaccard_positional(a, b) -> np.ndarray:
    """The paper's stability measure (Table 2): the authors' ``cont_jaccard`` divided
    by the length, per sequence.

    a, b: (N, 4, L) *hypothetical* scores (DeepLIFT/SHAP's, every base at every
    position). Each position's 4-vector is divided by its L1 norm (left as is when
    it is all zero), then at each position

        j_i = sum_b min(|a|, |b|) sign(a) sign(b) / sum_b max(|a|, |b|)

    (0 where both are all zero), and the value is the mean of j_i over the L positions
    (the authors sum them; the mean puts it in [-1, 1] at any length). So J(a, c a) =
    1 for c > 0 where no position of a is all zero, J(a, -a) = -1. Every position
    weighs the same however little attribution it holds, unlike ``continuous_jaccard``.
    Returns (N,). (``consistency_of_importance_over_different_initializations.ipynb``
    and ``..._data_amounts.ipynb``: ``cont_jaccard(seq_1, seq_2)`` of (L, 4) arrays.)
    """
    a, b = as_tracks(a), as_tracks(b)
    if a.shape != b.shape:
        raise RegbenchError(f"attribution tracks differ in shape: {a.shape} vs {b.shape}")
    a, b = (t / _nonzero(np.abs(t).sum(axis=1, keepdims=True)) for t in (a, b))
    inter = (np.minimum(np.abs(a), np.abs(b)) * np.sign(a) * np.sign(b)).sum(axis=1)
    union = np.maximum(np.abs(a), np.abs(b)).sum(axis=1)
    return np.where(union == 0, 0.0, inter / _nonzero(union)).mean(axis=1)


def _nonzero(norms: np.ndarray) -> np.ndarray:
    """Norms with 0 replaced by 1, so an all-zero vector stays zero (the authors')."""
    return np.where(norms == 0, 1, norms)


def _nan_if_zero(tracks: np.ndarray) -> np.ndarray:
    """Tracks (N, 4, L) with all-zero ones set to NaN, so they cannot be normalised."""
    zero = np.abs(tracks).sum(axis=(1, 2)) == 0
    return np.where(zero[:, None, None], np.nan, tracks)


__all__ = ["continuous_jaccard", "jaccard_positional"]
