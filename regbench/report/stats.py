"""Summary statistics and significance tests for the report (pure pandas / scipy).

Every comparison is against the baseline regularizer ``none``, on outcomes only (not
run time or epochs): Mann-Whitney U across seeds (independent models), and Wilcoxon
signed-rank across paired sequences (each sequence's metric averaged over the seeds of
a regularizer, paired with the same sequence's average under ``none``). p-values are
Holm-adjusted within each family: one test, one attribution method (or the
performance metrics), every regularizer and every metric of that table.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from regbench.metrics import (get_metric, holm, list_metrics, mann_whitney, sequence_metrics,
                              wilcoxon_paired)
from regbench.store import METHOD_LABELS, METHOD_PREFIXES, RUN_SETTINGS, split_column

BASELINE = "none"
# Columns of results.csv that identify or describe a run rather than measure it.
ID_COLUMNS = ("regularizer", "lambda", "lambda_source", "seed", "status", "attributions", "steps",
              "data_fraction", "train_rows")
ID_COLUMNS += RUN_SETTINGS   # how a run was trained, not a metric
ALPHA = 0.05  # family-wise error rate for the "better" column


@dataclass(frozen=True)
class MetricInfo:
    label: str      # axis label, with units
    better: str     # one line saying what "better" means
    direction: str  # "higher", "lower", "zero" (best at 0) or "" (not a quality)


# Columns of results.csv that the trainer reports, not the metric registry.
RUN_FACTS = {
    # The λ search minimises it, so tuned regularizers are favoured on it by
    # construction: shown, never tested (test_loss is the fair comparison).
    "val_loss": MetricInfo("validation loss (nats)",
                           "the λ-selection criterion; not tested against none", ""),
    "epochs": MetricInfo("epochs trained", "cost, not quality", ""),
    "best_epoch": MetricInfo("best epoch", "cost, not quality", ""),
    "train_seconds": MetricInfo("training time (s)", "lower is cheaper; not quality", ""),
    "step_seconds": MetricInfo("seconds per training step", "lower is cheaper; not quality",
                               ""),
    "peak_mib": MetricInfo("peak memory of a training step (MiB)",
                           "lower is cheaper; not quality", ""),
    "extra_backward": MetricInfo("extra backward passes per step",
                                 "lower is cheaper; not quality", ""),
}
COST = ("epochs", "best_epoch", "train_seconds", "step_seconds", "peak_mib",
        "extra_backward")


def _info(name: str) -> MetricInfo:
    metric = get_metric(name)
    return MetricInfo(metric.label, metric.better, metric.direction)


def performance_columns() -> list[str]:
    """results.csv columns of prediction performance: test_<registered>, val_loss."""
    return [f"test_{n}" for n in list_metrics("performance")] + ["val_loss"]


def known_metrics() -> dict[str, MetricInfo]:
    """Every results.csv metric column, in report order: performance, attribution
    metrics (from the metric registry, so plug-ins are included), then cost."""
    known = {f"test_{n}": _info(n) for n in list_metrics("performance")}
    known["val_loss"] = RUN_FACTS["val_loss"]
    known.update({n: _info(n) for n in list_metrics("attribution")})
    known.update({n: RUN_FACTS[n] for n in COST})
    return known


def metric_info(name: str) -> MetricInfo:
    """Label and meaning of a metric; a method's prefixed metrics (``ixg_``) inherit
    from their base."""
    known = known_metrics()
    if name in known:
        return known[name]
    metric, method = split_column(name)
    if method != "deep_lift_shap" and metric in known:
        base = known[metric]
        return MetricInfo(f"{base.label}, {METHOD_LABELS.get(method, method)}", base.better,
                          base.direction)
    return MetricInfo(name, "no direction recorded for this metric", "")


def metric_columns(df: pd.DataFrame) -> list[str]:
    """Numeric, not-all-NaN metric columns: known ones in a fixed order (performance,
    each method's attribution metrics, cost), then others."""
    names = list(known_metrics())
    known = names + [prefix + m for prefix in METHOD_PREFIXES.values() if prefix
                     for m in names]
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


def outcome_metrics(metrics) -> list[str]:
    """The metrics that measure quality (a known direction): not cost, not the
    validation loss λ was selected on."""
    return [m for m in metrics if metric_info(m).direction]


def split_method(column: str) -> tuple[str, str]:
    """results.csv column -> (metric, attribution method; '' for performance)."""
    if column in performance_columns():
        return column, ""
    return split_column(column)


TESTS = {"mann_whitney": "Mann-Whitney U across seeds",
         "wilcoxon": "Wilcoxon signed-rank across sequences (mean over seeds)"}


def _oriented(values: np.ndarray, direction: str) -> np.ndarray:
    """What is compared: |value| for metrics whose best value is 0."""
    return np.abs(values) if direction == "zero" else values


def _verdict(row: dict, direction: str) -> str:
    """'yes' when the adjusted p is below ALPHA and the effect favours the regularizer."""
    favours = row["effect_size"] > 0 if direction == "higher" else row["effect_size"] < 0
    return "yes" if row["p_adjusted"] < ALPHA and favours else "no"


def seed_tests(results: pd.DataFrame, metrics, order, min_seeds: int = 2) -> pd.DataFrame:
    """Mann-Whitney U of each regularizer vs ``none`` across seeds, per outcome metric.

    Rows: regularizer, column (of results.csv), metric, method, n (seeds of the
    regularizer), n_none, difference (of the means of the compared values), and the
    ``metrics.mann_whitney`` fields: statistic (U), p_value, effect_size (rank-biserial,
    positive: the regularizer's values tend to be larger). Metrics best at 0 compare
    absolute values.
    """
    ok = ok_runs(results)
    if BASELINE not in order:
        return pd.DataFrame()
    rows = []
    for reg in order[1:]:
        for column in outcome_metrics(metrics):
            direction = metric_info(column).direction
            a, b = (_oriented(ok.loc[ok["regularizer"] == r, column].dropna().to_numpy(float),
                              direction) for r in (reg, BASELINE))
            if len(a) < min_seeds or len(b) < min_seeds:
                continue
            metric, method = split_method(column)
            rows.append({"regularizer": reg, "column": column, "metric": metric,
                         "method": method, "test": "mann_whitney", "n_none": len(b),
                         "difference": a.mean() - b.mean(), **mann_whitney(a, b),
                         "n": len(a)})
    return pd.DataFrame(rows)


def sequence_tests(per_sequence: pd.DataFrame, order) -> pd.DataFrame:
    """Wilcoxon signed-rank vs ``none`` on sequences paired by name, per method and metric.

    Each sequence's value is its mean over the regularizer's seeds (over ``none``'s for
    the baseline): one paired test per (regularizer, method, metric) instead of one per
    seed. Rows: regularizer, column, metric, method, n (paired sequences), difference
    (median paired difference of the compared values, regularizer minus none), and the
    ``wilcoxon_paired`` fields (effect_size: matched-pairs rank-biserial, positive: the
    regularizer larger).
    """
    if per_sequence is None or per_sequence.empty or BASELINE not in order:
        return pd.DataFrame()
    metrics = [m for m in sequence_metrics() if m in per_sequence]
    means = {key: frame.droplevel([0, 1]) for key, frame in per_sequence.groupby(
        ["method", "regularizer", "sequence"])[metrics].mean().groupby(level=[0, 1])}
    rows = []
    for method in sorted({m for m, _ in means}):
        for reg in order[1:]:
            if (method, reg) not in means or (method, BASELINE) not in means:
                continue
            pair = means[method, reg].join(means[method, BASELINE].add_suffix("_none"),
                                           how="inner")
            for metric in metrics:
                direction = metric_info(metric).direction
                both = pair[[metric, metric + "_none"]].dropna().to_numpy(float)
                if len(both) < 2:
                    continue
                x, y = _oriented(both[:, 0], direction), _oriented(both[:, 1], direction)
                rows.append({"regularizer": reg, "column": metric, "metric": metric,
                             "method": method, "test": "wilcoxon",
                             "difference": float(np.median(x - y)),
                             **wilcoxon_paired(x, y)})
    return pd.DataFrame(rows)


STATISTICS_COLUMNS = ["comparison", "regularizer", "metric", "method", "test", "family",
                      "n", "n_none", "statistic", "p_value", "p_adjusted", "correction",
                      "effect_size", "difference", "better"]


def statistics_table(results: pd.DataFrame, per_sequence: pd.DataFrame | None,
                     order) -> pd.DataFrame:
    """Every test of the report, Holm-adjusted within its family (statistics.csv).

    A family is one test on one attribution method (or on the performance metrics):
    every regularizer vs none on every outcome metric of that table. Columns:
    STATISTICS_COLUMNS (n: seeds of the regularizer, or paired sequences; n_none: seeds
    of none, Mann-Whitney only) and ``column`` (the results column, for figures);
    ``difference`` is the mean (seeds) or median paired (sequences)
    difference regularizer minus none of the compared values (|value| for metrics best
    at 0, whose ``metric`` then reads |name|); ``better`` is yes when p_adjusted < 0.05
    and the effect favours the regularizer.
    """
    tests = [seed_tests(results, metric_columns(results), order),
             sequence_tests(per_sequence, order)]
    tests = [t for t in tests if not t.empty]
    if not tests:
        return pd.DataFrame(columns=STATISTICS_COLUMNS)
    table = pd.concat(tests, ignore_index=True)
    table["family"] = [f"{TESTS[t]}: {m or 'performance'}"
                       for t, m in zip(table["test"], table["method"])]
    table["p_adjusted"] = table.groupby("family")["p_value"].transform(
        lambda p: pd.Series(holm(p.to_numpy()), index=p.index))
    table["correction"] = "holm"
    table["comparison"] = table["regularizer"] + " vs " + BASELINE
    directions = table["column"].map(lambda c: metric_info(c).direction)
    table["better"] = [_verdict(row, d) for row, d in zip(table.to_dict("records"), directions)]
    table["metric"] = [f"|{m}|" if d == "zero" else m
                       for m, d in zip(table["metric"], directions)]
    return table.reindex(columns=STATISTICS_COLUMNS + ["column"])


def pvalue_lookup(tests: pd.DataFrame, test: str, method: str | None = None
                  ) -> dict[tuple[str, str], float]:
    """(regularizer, column) -> Holm-adjusted p of one test (and method), for figures."""
    if tests.empty:
        return {}
    rows = tests[tests["test"] == test]
    if method is not None:
        rows = rows[rows["method"] == method]
    return {(r.regularizer, r.column): r.p_adjusted for r in rows.itertuples()}
