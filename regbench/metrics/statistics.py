"""Significance tests with effect sizes, and Holm's correction for many tests.

scipy does the tests; Holm's step-down correction is written here because scipy has
only false-discovery-rate control (``false_discovery_control``) and statsmodels would
be a dependency for five lines.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.stats

from regbench.metrics._arrays import to_numpy


def holm(pvalues) -> np.ndarray:
    """Holm-adjusted p-values (family-wise error control), in the input order.

    pvalues: (m,) with NaN for tests that could not be run (left NaN, not counted in
    m). The k-th smallest of the m p-values becomes max over j <= k of
    min(1, (m - j + 1) p_(j)). Returns (m,).
    """
    p = to_numpy(pvalues, np.float64).reshape(-1)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def mann_whitney(a, b) -> dict:
    """Two-sided Mann-Whitney U of samples a (n1,) and b (n2,).

    Returns {"n": n1 + n2, "statistic": U of a, "p_value", "effect_size"}: the
    rank-biserial correlation 2U / (n1 n2) - 1, positive when a tends to be larger.
    """
    a, b = to_numpy(a, np.float64), to_numpy(b, np.float64)
    u, p = scipy.stats.mannwhitneyu(a, b, alternative="two-sided")
    return {"n": len(a) + len(b), "statistic": float(u), "p_value": float(p),
            "effect_size": 2 * float(u) / (len(a) * len(b)) - 1}


def wilcoxon_paired(x, y) -> dict:
    """Two-sided Wilcoxon signed-rank test of paired samples x, y (n,).

    Returns {"n": pairs, "statistic": W, "p_value", "effect_size"}: the matched-pairs
    rank-biserial correlation (R+ - R-) / (R+ + R-) of the ranks of |x - y| over the
    non-zero differences, positive when x tends to be larger. p is NaN when every
    difference is zero.
    """
    d = to_numpy(x, np.float64) - to_numpy(y, np.float64)
    nonzero = d[d != 0]
    if len(nonzero) == 0:
        return {"n": len(d), "statistic": math.nan, "p_value": math.nan, "effect_size": 0.0}
    ranks = scipy.stats.rankdata(np.abs(nonzero))
    effect = (ranks[nonzero > 0].sum() - ranks[nonzero < 0].sum()) / ranks.sum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-sample notes; the p-value is still right
        res = scipy.stats.wilcoxon(d)
    return {"n": len(d), "statistic": float(res.statistic), "p_value": float(res.pvalue),
            "effect_size": float(effect)}


__all__ = ["holm", "mann_whitney", "wilcoxon_paired"]
