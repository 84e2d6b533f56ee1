"""Per-sequence interpretability of attribution tracks, against ground truth.

Every metric works on ``g = sum over bases of |attr|`` (shape (N, L)) and returns one
value per sequence, NaN where it is undefined (an all-zero track, an empty mask).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.special
import scipy.stats
import torch
from sklearn.metrics import average_precision_score

from regbench.errors import RegbenchError
from regbench.metrics._arrays import as_mask, as_tracks, magnitude, safe_divide, to_numpy
from regbench.regularizers import fourier


def highfreq_fraction(attr, freq_limit: int | None = None, smooth_sigma: float = 3) -> np.ndarray:
    """Share of the normalised Fourier spectrum of g above frequency T.

    attr: (N, 4, L). Magnitudes of the (Gaussian-smoothed) rfft of g, normalised to
    sum 1 including DC (as in the Fourier prior), summed over frequencies
    T + 1 .. L // 2. T defaults to ``default_freq_limit(L)``. Returns (N,) in [0, 1];
    NaN for an all-zero track.
    """
    g = magnitude(attr)
    length = g.shape[1]
    freq_limit = fourier.default_freq_limit(length) if freq_limit is None else freq_limit
    fourier.validate_fourier_args(length, freq_limit, None, smooth_sigma)
    frac = fourier.highfreq_fraction(torch.from_numpy(g), freq_limit, smooth_sigma).numpy()
    return np.where(g.sum(axis=1) > 0, frac, np.nan)


def attribution_entropy(attr) -> np.ndarray:
    """Shannon entropy, in nats (natural log), of p = g / sum(g) along the sequence.

    attr: (N, 4, L). Returns (N,): log(L) for a uniform track (the maximum), 0 for a
    single spike, NaN for an all-zero track. Lower means more concentrated.
    """
    g = magnitude(attr)
    p = safe_divide(g, g.sum(axis=1, keepdims=True))
    return scipy.special.entr(p).sum(axis=1)


def motif_fraction(attr, motif_mask) -> np.ndarray:
    """Share of sum(g) inside the motif positions.

    attr: (N, 4, L); motif_mask: (N, L) bool, True inside a ground-truth motif.
    Returns (N,) in [0, 1]; NaN for an all-zero track.
    """
    g = magnitude(attr)
    mask = as_mask(motif_mask, g.shape)
    return safe_divide((g * mask).sum(axis=1), g.sum(axis=1))


def motif_auprc(attr, motif_mask) -> np.ndarray:
    """Average precision of ranking positions by g against the motif mask.

    attr: (N, 4, L); motif_mask: (N, L) bool. One ``average_precision_score`` per
    sequence. Returns (N,); NaN where the mask is empty or covers every position.
    """
    g = magnitude(attr)
    mask = as_mask(motif_mask, g.shape)
    return np.array([average_precision_score(m, row) if 0 < m.sum() < m.size else np.nan
                     for m, row in zip(mask, g)])


def summit_spearman(attr, summits) -> np.ndarray:
    """Spearman correlation of g with the distance |position - summit|.

    attr: (N, 4, L); summits: (N,) positions (0-based, may be fractional, e.g. the
    centre (L - 1) / 2). Returns (N,) in [-1, 1]; more negative = attribution falls
    off with distance from the summit. NaN for a constant track or a NaN summit.
    Pearson correlation of average ranks (scipy ``rankdata``), i.e. exactly
    ``scipy.stats.spearmanr`` per row, computed for all rows at once.
    """
    g = magnitude(attr)
    summits = to_numpy(summits, np.float64).reshape(-1)
    if summits.shape != (g.shape[0],):
        raise RegbenchError(f"summits must have shape (N,) = ({g.shape[0]},), got {summits.shape}")
    known = np.isfinite(summits)
    distance = np.abs(np.arange(g.shape[1]) - np.where(known, summits, 0)[:, None])
    a, b = (scipy.stats.rankdata(x, axis=1) for x in (g, distance))
    a, b = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
    rho = safe_divide((a * b).sum(axis=1), np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1)))
    return np.where(known, np.clip(rho, -1, 1), np.nan)


def gc_reliance(attr, X, motif_mask=None) -> np.ndarray:
    """How much more attribution background G/C bases get than background A/T bases.

    attr: (N, 4, L); X: (N, 4, L) one-hot (A, C, G, T); motif_mask: (N, L) bool or
    None (then every position is background). Background = outside the motifs, not N.
    With m_GC, m_AT the mean g over background G/C and A/T positions:

        gc_reliance = (m_GC - m_AT) / (m_GC + m_AT)

    Means per base rather than sums, so the sequence's GC content does not enter; a
    contrast of the two means, so it is free of the attribution scale (comparable
    across models and regularizers) and bounded: 0 = no preference, +1 = only G/C
    bases get attribution (the paper's GC-bias failure), -1 = only A/T. Returns
    (N,); NaN when the background lacks G/C or A/T or has no attribution.
    """
    g = magnitude(attr)
    X = as_tracks(X)
    if X.shape != (g.shape[0], 4, g.shape[1]):
        raise RegbenchError(f"X must have the shape of attr {(g.shape[0], 4, g.shape[1])}, "
                            f"got {X.shape}")
    background = np.ones(g.shape, bool) if motif_mask is None else ~as_mask(motif_mask, g.shape)
    gc = background & (X[:, 1] + X[:, 2] > 0)
    at = background & (X[:, 0] + X[:, 3] > 0)

    def mean_on(where):
        return safe_divide((g * where).sum(axis=1), where.sum(axis=1))

    m_gc, m_at = mean_on(gc), mean_on(at)
    return safe_divide(m_gc - m_at, m_gc + m_at)


def summarize_interpretability(attr, X, motif_mask=None, summits=None,
                               freq_limit: int | None = None) -> pd.DataFrame:
    """Every interpretability metric, one row per sequence.

    attr, X: (N, 4, L); motif_mask: (N, L) bool or None; summits: (N,) or None.
    Columns: highfreq_fraction, entropy, motif_fraction, motif_auprc,
    summit_spearman, gc_reliance. A column whose ground truth is None is NaN
    (gc_reliance then counts every position as background).
    """
    n = as_tracks(attr).shape[0]
    missing = np.full(n, np.nan)
    return pd.DataFrame({
        "highfreq_fraction": highfreq_fraction(attr, freq_limit),
        "entropy": attribution_entropy(attr),
        "motif_fraction": missing if motif_mask is None else motif_fraction(attr, motif_mask),
        "motif_auprc": missing if motif_mask is None else motif_auprc(attr, motif_mask),
        "summit_spearman": missing if summits is None else summit_spearman(attr, summits),
        "gc_reliance": gc_reliance(attr, X, motif_mask),
    })


__all__ = ["attribution_entropy", "gc_reliance", "highfreq_fraction", "motif_auprc",
           "motif_fraction", "summarize_interpretability", "summit_spearman"]
