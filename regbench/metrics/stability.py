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


def _nan_if_zero(tracks: np.ndarray) -> np.ndarray:
    """Tracks (N, 4, L) with all-zero ones set to NaN, so they cannot be normalised."""
    zero = np.abs(tracks).sum(axis=(1, 2)) == 0
    return np.where(zero[:, None, None], np.nan, tracks)


__all__ = ["continuous_jaccard"]
