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


def wilcoxon_paired(x, y, method: str = "auto") -> dict:
    """Two-sided Wilcoxon signed-rank test of paired samples x, y (n,).

    Returns {"n": pairs, "statistic": W, "p_value", "effect_size"}: the matched-pairs
    rank-biserial correlation (R+ - R-) / (R+ + R-) of the ranks of |x - y| over the
    non-zero differences, positive when x tends to be larger. p is NaN when every
    difference is zero. ``method``: scipy's; "exact" enumerates the 2^n sign patterns
    (zero differences dropped), so n of n positive differences give p = 2 / 2^n.
    """
    d = to_numpy(x, np.float64) - to_numpy(y, np.float64)
    nonzero = d[d != 0]
    if len(nonzero) == 0:
        return {"n": len(d), "statistic": math.nan, "p_value": math.nan, "effect_size": 0.0}
    ranks = scipy.stats.rankdata(np.abs(nonzero))
    effect = (ranks[nonzero > 0].sum() - ranks[nonzero < 0].sum()) / ranks.sum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-sample notes; the p-value is still right
        res = scipy.stats.wilcoxon(d, method=method)
    return {"n": len(d), "statistic": float(res.statistic), "p_value": float(res.pvalue),
            "effect_size": float(effect)}


def smallest_paired_p(n: int) -> float:
    """The smallest two-sided p an exact signed-rank test of n pairs can give: every
    difference of one sign, 2 / 2^n (1 for n = 0)."""
    return min(1.0, 2.0 / 2 ** n)


def mean_difference_ci(d, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of paired differences d (n,): Student's t-interval
    mean ± t_{(1+confidence)/2, n-1} sd / sqrt(n) (sample sd). NaN bounds for n < 2."""
    d = to_numpy(d, np.float64).reshape(-1)
    mean = float(d.mean()) if len(d) else math.nan
    if len(d) < 2:
        return mean, math.nan, math.nan
    half = scipy.stats.t.ppf((1 + confidence) / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(
        len(d))
    return mean, mean - half, mean + half


def welch_ci(a, b, confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean(a) - mean(b), low, high): Welch's t-interval of the difference of means of
    unpaired samples a (n1,), b (n2,). NaN bounds when either has fewer than 2."""
    a, b = to_numpy(a, np.float64).reshape(-1), to_numpy(b, np.float64).reshape(-1)
    diff = float(a.mean() - b.mean()) if len(a) and len(b) else math.nan
    if len(a) < 2 or len(b) < 2:
        return diff, math.nan, math.nan
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:
        return diff, diff, diff
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = scipy.stats.t.ppf((1 + confidence) / 2, df) * math.sqrt(va + vb)
    return diff, diff - half, diff + half


__all__ = ["holm", "mann_whitney", "mean_difference_ci", "smallest_paired_p", "welch_ci",
           "wilcoxon_paired"]
