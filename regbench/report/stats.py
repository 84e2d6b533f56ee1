"""Summary statistics and significance tests for the report (pure pandas / scipy).

Every comparison is against the baseline regularizer ``none``: Mann-Whitney U across
seeds (independent models) and Wilcoxon signed-rank across paired sequences (the same
sequence explained by two models).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

BASELINE = "none"
# Columns of results.csv that identify or describe a run rather than measure it.
ID_COLUMNS = ("regularizer", "lambda", "lambda_source", "seed", "status", "attributions",
              "data_fraction", "train_rows")
SEQUENCE_METRICS = ("highfreq_fraction", "entropy", "motif_fraction", "motif_auprc",
                    "summit_spearman", "gc_reliance")


@dataclass(frozen=True)
class MetricInfo:
    label: str      # axis label, with units
    better: str     # one line saying what "better" means
    direction: str  # "higher", "lower", "negative", "zero" or "" (not a quality)


METRICS = {
    "test_accuracy": MetricInfo("test accuracy (fraction)", "higher is better", "higher"),
    "test_auroc": MetricInfo("test auROC", "higher is better", "higher"),
    "test_auprc": MetricInfo("test auPRC", "higher is better", "higher"),
    "val_loss": MetricInfo("validation loss (nats)",
                           "lower is better (validation correctness loss)", "lower"),
    "test_loss": MetricInfo("test loss (nats)", "lower is better", "lower"),
    "highfreq_fraction": MetricInfo(
        "high-frequency fraction", "lower is better (less high-frequency noise)", "lower"),
    "entropy": MetricInfo("attribution entropy (nats)",
                          "lower is better (nats; attribution more concentrated)", "lower"),
    "motif_fraction": MetricInfo(
        "motif fraction", "higher is better (more attribution inside motifs)", "higher"),
    "motif_auprc": MetricInfo(
        "motif auPRC", "higher is better (positions ranked by attribution find motifs)",
        "higher"),
    "summit_spearman": MetricInfo(
        "summit-distance Spearman ρ",
        "more negative is better (attribution falls off away from the summit)", "negative"),
    "gc_reliance": MetricInfo(
        "GC reliance", "closer to 0 is better (less use of background G/C content)", "zero"),
    "epochs": MetricInfo("epochs trained", "cost, not quality", ""),
    "best_epoch": MetricInfo("best epoch", "cost, not quality", ""),
    "train_seconds": MetricInfo("training time (s)", "lower is cheaper; not quality", ""),
}
IXG = "ixg_"


def metric_info(name: str) -> MetricInfo:
    """Label and meaning of a metric; ``ixg_`` metrics inherit from their base."""
    if name in METRICS:
        return METRICS[name]
    if name.startswith(IXG) and name[len(IXG):] in METRICS:
        base = METRICS[name[len(IXG):]]
        return MetricInfo(base.label + ", input×gradient", base.better, base.direction)
    return MetricInfo(name, "no direction recorded for this metric", "")


def metric_columns(df: pd.DataFrame) -> list[str]:
    """Numeric, not-all-NaN metric columns: known ones in a fixed order, then others."""
    known = list(METRICS) + [IXG + m for m in METRICS]
    candidates = [c for c in known if c in df] + [c for c in df if c not in known]
    return [c for c in candidates
            if c not in ID_COLUMNS and pd.api.types.is_numeric_dtype(df[c])
            and df[c].notna().any()]


def order_regularizers(names, preferred=()) -> list[str]:
    """Unique names, ``none`` first, then the preferred (config) order, then the rest."""
    present = list(dict.fromkeys(str(n) for n in names))
    ordered = [n for n in dict.fromkeys(map(str, preferred)) if n in present]
    ordered += [n for n in present if n not in ordered]
    if BASELINE in ordered:
        ordered.remove(BASELINE)
        ordered.insert(0, BASELINE)
    return ordered


def ok_runs(results: pd.DataFrame) -> pd.DataFrame:
    """Runs that finished; failed runs carry NaN metrics and are left out of statistics."""
    return results[results["status"].astype(str).str.strip() == "ok"]


def summarise(results: pd.DataFrame, metrics, order) -> pd.DataFrame:
    """Long table: regularizer, metric, n, mean, sd (sample sd, ddof=1) over seeds."""
    ok = ok_runs(results)
    rows = []
    for reg in order:
        sub = ok[ok["regularizer"] == reg]
        for metric in metrics:
            values = sub[metric].dropna().to_numpy(float)
            rows.append({"regularizer": reg, "metric": metric, "n": len(values),
                         "mean": values.mean() if len(values) else math.nan,
                         "sd": values.std(ddof=1) if len(values) > 1 else math.nan})
    return pd.DataFrame(rows)


def format_mean_sd(mean: float, sd: float) -> str:
    """'mean ± sd' with 4 significant digits; a single seed has no sd."""
    if math.isnan(mean):
        return "–"
    if math.isnan(sd):
        return f"{mean:.4g}"
    return f"{mean:.4g} ± {sd:.2g}"


def format_p(p: float) -> str:
    return "–" if p is None or math.isnan(p) else f"{p:.2g}"


def seed_tests(results: pd.DataFrame, metrics, order, min_seeds: int = 2) -> pd.DataFrame:
    """Mann-Whitney U of each regularizer vs ``none`` across seeds, per metric.

    Effect sizes: difference of means and the rank-biserial correlation
    (positive: the regularizer's values tend to be larger than the baseline's).
    """
    ok = ok_runs(results)
    if BASELINE not in order:
        return pd.DataFrame()
    rows = []
    for reg in order[1:]:
        for metric in metrics:
            a = ok.loc[ok["regularizer"] == reg, metric].dropna().to_numpy(float)
            b = ok.loc[ok["regularizer"] == BASELINE, metric].dropna().to_numpy(float)
            if len(a) < min_seeds or len(b) < min_seeds:
                continue
            u, p = stats.mannwhitneyu(a, b, alternative="two-sided")
            rows.append({"regularizer": reg, "metric": metric, "n": len(a),
                         "n_none": len(b), "mean_diff": a.mean() - b.mean(),
                         "rank_biserial": 2 * u / (len(a) * len(b)) - 1, "U": u, "p": p})
    return pd.DataFrame(rows)


def paired_seed(per_sequence: pd.DataFrame, preferred: int = 0):
    """Seed 0 when the baseline has it, else the baseline's smallest seed (or None)."""
    seeds = per_sequence.loc[per_sequence["regularizer"] == BASELINE, "seed"].unique()
    if len(seeds) == 0:
        return None
    return preferred if preferred in seeds else int(min(seeds))


def _wilcoxon(diff: np.ndarray) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = stats.wilcoxon(diff)
        except ValueError:  # e.g. every difference is zero
            return math.nan, math.nan
    return float(res.statistic), float(res.pvalue)


def sequence_tests(per_sequence: pd.DataFrame, order, method: str, seed) -> pd.DataFrame:
    """Wilcoxon signed-rank vs ``none`` on sequences paired by id, one seed, one method.

    Effect size: the median paired difference (regularizer minus none).
    """
    df = per_sequence[(per_sequence["method"] == method) & (per_sequence["seed"] == seed)]
    base = df[df["regularizer"] == BASELINE].set_index("sequence")
    rows = []
    for reg in order:
        if reg == BASELINE:
            continue
        other = df[df["regularizer"] == reg].set_index("sequence")
        for metric in SEQUENCE_METRICS:
            if metric not in df:
                continue
            pair = pd.concat([other[metric], base[metric]], axis=1, join="inner").dropna()
            if len(pair) < 2:
                continue
            diff = (pair.iloc[:, 0] - pair.iloc[:, 1]).to_numpy(float)
            w, p = _wilcoxon(diff)
            rows.append({"regularizer": reg, "metric": metric, "n_pairs": len(diff),
                         "median_diff": float(np.median(diff)), "W": w, "p": p})
    return pd.DataFrame(rows)


def pvalue_lookup(tests: pd.DataFrame) -> dict[tuple[str, str], float]:
    """(regularizer, metric) -> p, for annotating figures."""
    if tests.empty:
        return {}
    return {(r.regularizer, r.metric): r.p for r in tests.itertuples()}
