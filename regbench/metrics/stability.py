"""Stability: agreement of two attribution tracks of the same sequences."""
from __future__ import annotations

import numpy as np

from regbench.errors import RegbenchError
from regbench.metrics._arrays import as_tracks, safe_divide


def continuous_jaccard(a, b) -> np.ndarray:
    """Continuous Jaccard similarity of two attribution tracks, per sequence.

    a, b: (N, 4, L), e.g. from models of two seeds. Computes
    sum(min(|a|,|b|) sign(a) sign(b)) / sum(max(|a|,|b|)) over bases and positions.
    Returns (N,) in [-1, 1]: 1 for identical tracks, -1 for a track and its negation;
    NaN when both are all zero.
    """
    a, b = as_tracks(a), as_tracks(b)
    if a.shape != b.shape:
        raise RegbenchError(f"attribution tracks differ in shape: {a.shape} vs {b.shape}")
    overlap = np.minimum(np.abs(a), np.abs(b)) * np.sign(a) * np.sign(b)
    return safe_divide(overlap.sum(axis=(1, 2)), np.maximum(np.abs(a), np.abs(b)).sum(axis=(1, 2)))


__all__ = ["continuous_jaccard"]
