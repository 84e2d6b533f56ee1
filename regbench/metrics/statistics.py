"""Significance tests, intervals and corrections for many tests.

The report's (docs/metrics.md, "Statistics"): ``paired_t`` (the primary endpoint's
test, with its own t-interval), ``welch_t`` where seeds do not pair, ``benjamini_hochberg``
across regularizers, and ``hierarchical_bootstrap`` for per-sequence values nested in
seeds. scipy does the tests; the Benjamini-Hochberg and Holm adjustments are written
here (scipy's ``false_discovery_control`` needs scipy 1.11, and the project supports
1.10; statsmodels would be a dependency for five lines). ``wilcoxon_paired``,
``mann_whitney`` and ``holm`` stay for the library's users and the plan.
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


def benjamini_hochberg(pvalues) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values; false-discovery-rate control), in
    the input order.

    pvalues: (m,) with NaN for tests that could not be run (left NaN, not counted in
    m). The k-th smallest of the m p-values becomes min over j >= k of
    min(1, m p_(j) / j); rejecting every q <= alpha controls the FDR at alpha for
    independent or positively dependent tests. Returns (m,).
    """
    p = to_numpy(pvalues, np.float64).reshape(-1)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    scaled = np.minimum(1.0, m * p[order] / np.arange(1, m + 1))
    out[order] = np.minimum.accumulate(scaled[::-1])[::-1]
    return out


def paired_t(d, confidence: float = 0.95) -> dict:
    """Two-sided paired t-test of the paired differences d (n,) against 0, with the
    test's own Student t-interval (``mean_difference_ci``).

    Returns {"n", "statistic": t, "p_value", "mean_difference", "ci_low", "ci_high"}.
    n < 2: t, p and the bounds are NaN. Every difference 0: t and p NaN (no
    difference to test); equal non-zero differences: t infinite, p 0.
    """
    d = to_numpy(d, np.float64).reshape(-1)
    mean, low, high = mean_difference_ci(d, confidence)
    t = p = math.nan
    if len(d) >= 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy's note on constant differences
            res = scipy.stats.ttest_1samp(d, 0.0)
        t, p = float(res.statistic), float(res.pvalue)
    return {"n": len(d), "statistic": t, "p_value": p, "mean_difference": mean,
            "ci_low": low, "ci_high": high}


def welch_t(a, b, confidence: float = 0.95) -> dict:
    """Two-sided Welch t-test of unpaired samples a (n1,), b (n2,), with its own
    interval (``welch_ci``). Returns {"n": n1, "n_none": n2, "statistic", "p_value",
    "mean_difference": mean(a) - mean(b), "ci_low", "ci_high"}; NaN t, p and bounds
    when either side has fewer than 2 values."""
    a, b = to_numpy(a, np.float64).reshape(-1), to_numpy(b, np.float64).reshape(-1)
    diff, low, high = welch_ci(a, b, confidence)
    t = p = math.nan
    if len(a) >= 2 and len(b) >= 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = scipy.stats.ttest_ind(a, b, equal_var=False)
        t, p = float(res.statistic), float(res.pvalue)
    return {"n": len(a), "n_none": len(b), "statistic": t, "p_value": p,
            "mean_difference": diff, "ci_low": low, "ci_high": high}


BOOTSTRAP_RESAMPLES = 2000   # the report's hierarchical bootstrap
BOOTSTRAP_SEED = 0           # fixed: the same folder gives the same intervals


def hierarchical_bootstrap(groups, n_boot: int = BOOTSTRAP_RESAMPLES,
                           confidence: float = 0.95, seed: int = BOOTSTRAP_SEED):
    """(mean, low, high): the mean of values nested in groups and its percentile
    interval from a two-stage bootstrap.

    groups: a sequence of S arrays, one per seed, each holding that seed's paired
    per-sequence differences (regularizer minus none, same seed and sequence): (n_s,),
    or (n_s, k) for k metrics resampled together (the same draws for each; no NaN).
    The mean is the mean over seeds of each seed's mean. Each of ``n_boot`` resamples
    draws S seeds with replacement, then, within each drawn seed, as many sequences as
    it holds with replacement, and takes the same mean; low and high are the
    (1 - confidence) / 2 and (1 + confidence) / 2 percentiles of the resampled means
    (numpy's linear interpolation). Seeds are the replicates: the interval widens with
    the spread between seeds and does not shrink as each seed holds more sequences.
    Fewer than 2 seeds: NaN bounds (one seed cannot say how another seed's models would
    differ). ``seed`` fixes numpy's generator: equal inputs give equal intervals.
    Floats for 1-D groups, arrays (k,) for 2-D ones.
    """
    arrays = [to_numpy(g, np.float64) for g in groups]
    flat = all(a.ndim == 1 for a in arrays)
    arrays = [a.reshape(len(a), -1) for a in arrays if len(a)]
    width = arrays[0].shape[1] if arrays else 1
    mean = (np.mean([a.mean(axis=0) for a in arrays], axis=0) if arrays
            else np.full(width, np.nan))
    low = high = np.full(width, np.nan)
    if len(arrays) >= 2:
        rng = np.random.default_rng(seed)
        drawn = rng.integers(len(arrays), size=(n_boot, len(arrays)))  # seeds per resample
        slot_means = np.empty((*drawn.shape, width))
        for s, values in enumerate(arrays):   # then sequences within each drawn seed
            slots = drawn == s
            picks = rng.integers(len(values), size=(int(slots.sum()), len(values)),
                                 dtype=np.int32)
            for j, column in enumerate(np.ascontiguousarray(values.T)):  # one metric
                slot_means[slots, j] = column[picks].mean(axis=1)         # at a time
        tail = (1 - confidence) / 2 * 100
        low, high = np.percentile(slot_means.mean(axis=1), [tail, 100 - tail], axis=0)
    if flat:
        return float(mean[0]), float(low[0]), float(high[0])
    return mean, low, high


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


__all__ = ["BOOTSTRAP_RESAMPLES", "BOOTSTRAP_SEED", "benjamini_hochberg",
           "hierarchical_bootstrap", "holm", "mann_whitney", "mean_difference_ci",
           "paired_t", "smallest_paired_p", "welch_ci", "welch_t", "wilcoxon_paired"]
