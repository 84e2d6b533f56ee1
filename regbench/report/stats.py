"""Summary statistics and significance tests for the report (pure pandas / scipy).

Every comparison is against the baseline regularizer ``none``, on outcomes only (not
run time or epochs). Across seeds the runs are paired: one seed gives every
regularizer the same initialisation, batch order and split, so each regularizer's
value minus ``none``'s of the same seed (and training share) is one paired difference,
tested with the exact Wilcoxon signed-rank test, with the mean difference and its 95 %
Student t-interval. Mann-Whitney U (with Welch's t-interval) is used only where the
runs cannot be paired: the two sides do not hold the same seeds. Across sequences:
Wilcoxon signed-rank on sequences paired by name (each sequence's metric averaged over
the seeds of a regularizer). p-values are Holm-adjusted within each family: one
regularizer against none, on one level (seeds or sequences) and one attribution method
(or the performance metrics), every metric of that table. Each regularizer is its own
question, so its verdict does not depend on how many other regularizers share the run
(FAMILY_PRINCIPLE).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from regbench.metrics import (describe_metric, holm, list_metrics, mann_whitney,
                              mean_difference_ci, sequence_metrics, smallest_paired_p,
                              welch_ci, wilcoxon_paired)
from regbench.record import COST, FACT, ID, PERFORMANCE, RUN_RECORD, TEST_PREFIX
from regbench.store import METHOD_LABELS, METHOD_PREFIXES, split_column

BASELINE = "none"
# What pairs two runs across seeds: the same seed (init, batch order, split) and the
# same training share.
PAIR_KEYS = ("seed", "data_fraction")
ALPHA = 0.05  # family-wise error rate for the "better" column
ARROWS = {"higher": "↑", "lower": "↓", "zero": "→0"}  # which way is better, in headers


@dataclass(frozen=True)
class MetricInfo:
    label: str      # axis label, with units
    better: str     # one line saying what "better" means
    direction: str  # "higher", "lower", "zero" (best at 0) or "" (not a quality)


# Labels of the run record's own measured columns (the trainer reports them, not the
# metric registry).
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


def _info(name: str) -> MetricInfo:
    metric = describe_metric(name)   # registered, or recorded by the folder
    return MetricInfo(metric.label, metric.better, metric.direction)


def _column_info(column: str) -> MetricInfo:
    """A performance or cost column's: test_NAME's from the metric registry, the
    record's own from RUN_FACTS."""
    if column.startswith(TEST_PREFIX):
        return _info(column[len(TEST_PREFIX):])
    return RUN_FACTS.get(column) or MetricInfo(column, "not tested against none", "")


def performance_columns() -> list[str]:
    """results.csv columns of prediction performance (the run record's): the test
    metrics (test_<registered>), then the run's own (val_loss)."""
    return sorted(RUN_RECORD.columns(PERFORMANCE), key=lambda c: not c.startswith(TEST_PREFIX))


def known_metrics() -> dict[str, MetricInfo]:
    """Every results.csv metric column, in report order: performance, attribution
    metrics (from the metric registry, so plug-ins are included, and those the folder
    recorded), then cost."""
    known = {c: _column_info(c) for c in performance_columns()}
    known.update({n: _info(n) for n in list_metrics("attribution", recorded=True)})
    known.update({c: _column_info(c) for c in RUN_RECORD.columns(COST)})
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


def _has_values(df: pd.DataFrame, column: str) -> bool:
    return (column in df and pd.api.types.is_numeric_dtype(df[column])
            and bool(df[column].notna().any()))


def headline_columns(results: pd.DataFrame) -> list[str]:
    """The verdict's results columns, those with values: the performance metrics the
    metric registry marks headline (test_<name>), then its headline attribution
    metrics under the first attribution method that has them (DeepLIFT/SHAP, whose
    columns carry no prefix, unless it was not run)."""
    performance = [TEST_PREFIX + n for n in list_metrics("performance", recorded=True)
                   if describe_metric(n).headline]
    attribution = [n for n in list_metrics("attribution", recorded=True)
                   if describe_metric(n).headline]
    columns = []
    for prefix in list(METHOD_PREFIXES.values()):
        columns = [prefix + n for n in attribution if _has_values(results, prefix + n)]
        if columns:
            break
    return [c for c in performance if _has_values(results, c)] + columns


def metric_columns(df: pd.DataFrame) -> list[str]:
    """Numeric, not-all-NaN metric columns: known ones in a fixed order (performance,
    each method's attribution metrics, cost), then others."""
    names = list(known_metrics())
    known = names + [prefix + m for prefix in METHOD_PREFIXES.values() if prefix
                     for m in names]
    candidates = [c for c in known if c in df] + [c for c in df if c not in known]
    return [c for c in candidates
            if RUN_RECORD.role(c) not in (ID, FACT) and pd.api.types.is_numeric_dtype(df[c])
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


DIGITS = 3  # significant digits of differences, intervals and p-values in the report


def format_number(value: float) -> str:
    """DIGITS significant digits, trailing zeros kept ('0.120', '1.00')."""
    return "–" if value is None or math.isnan(value) else f"{value:#.{DIGITS}g}"


def format_p(p: float) -> str:
    return format_number(p)


def format_signed(value: float) -> str:
    """'+0.0123', '+0.120' (DIGITS significant digits, the sign always shown)."""
    return "–" if value is None or math.isnan(value) else f"{value:+#.{DIGITS}g}"


def format_ci(low: float, high: float) -> str:
    """'[+0.00412, +0.0205]', or '–' when the interval is unknown (fewer than 2 values)."""
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return "–"
    return f"[{format_signed(low)}, {format_signed(high)}]"


def outcome_metrics(metrics) -> list[str]:
    """The metrics that measure quality (a known direction): not cost, not the
    validation loss λ was selected on."""
    return [m for m in metrics if metric_info(m).direction]


def split_method(column: str) -> tuple[str, str]:
    """results.csv column -> (metric, attribution method; '' for performance)."""
    if column in performance_columns():
        return column, ""
    return split_column(column)


TESTS = {"wilcoxon_seeds": "Wilcoxon signed-rank (exact) on per-seed differences, paired "
                           "by seed",
         "mann_whitney": "Mann-Whitney U across seeds (unpaired: the seeds differ)",
         "wilcoxon": "Wilcoxon signed-rank across sequences (mean over seeds)"}
SEED_TESTS = ("wilcoxon_seeds", "mann_whitney")
# A family is one regularizer against none on one level of comparison (whichever seed
# test it needed: a regularizer that lost a seed stays in its family) and one method.
FAMILY_PRINCIPLE = (
    "Each regularizer against none is its own question, so Holm's correction runs within "
    "one regularizer's tests: adding a regularizer to a run never changes another one's "
    "verdict. The "
    "family-wise error rate 0.05 holds per regularizer; over R regularizers the chance of "
    "at least one false star somewhere in the report is at most R x 0.05.")
LEVELS = {"wilcoxon_seeds": "across seeds", "mann_whitney": "across seeds",
          "wilcoxon": "across sequences (mean over seeds)"}
CI_METHODS = {"wilcoxon_seeds": "t-interval of the paired differences",
              "mann_whitney": "Welch t-interval of the difference of means",
              "wilcoxon": "t-interval of the paired differences"}
CONFIDENCE = 0.95


def _oriented(values: np.ndarray, direction: str) -> np.ndarray:
    """What is compared: |value| for metrics whose best value is 0."""
    return np.abs(values) if direction == "zero" else values


def _verdict(row: dict, direction: str) -> str:
    """'yes' when the adjusted p is below ALPHA and the effect favours the regularizer."""
    favours = row["effect_size"] > 0 if direction == "higher" else row["effect_size"] < 0
    return "yes" if row["p_adjusted"] < ALPHA and favours else "no"


def seed_comparison(ok: pd.DataFrame, regularizer: str, rival: str, column: str,
                    direction: str, min_seeds: int = 2) -> dict | None:
    """``regularizer`` vs ``rival`` on one results column across seeds; None when
    either has fewer than ``min_seeds`` values.

    Paired when both hold the same seeds (and training shares, PAIR_KEYS), one run
    each: the exact Wilcoxon signed-rank test of the per-seed differences, their mean
    and its Student t-interval. Otherwise Mann-Whitney U, the difference of means and
    Welch's t-interval. Returns test, n, n_none (seeds of each side), n_pairs (0 when
    unpaired), difference = mean_difference (of the compared values: |value| when
    ``direction`` is "zero"), ci_low, ci_high, statistic, p_value, effect_size
    (rank-biserial, positive: the regularizer's values larger).
    """
    keys = [k for k in PAIR_KEYS if k in ok]
    a, b = (ok.loc[ok["regularizer"] == r, [*keys, column]].dropna(subset=[column])
            .set_index(keys)[column].astype(float) for r in (regularizer, rival))
    if len(a) < min_seeds or len(b) < min_seeds:
        return None
    a, b = _oriented(a, direction), _oriented(b, direction)
    paired = (a.index.is_unique and b.index.is_unique
              and set(a.index) == set(b.index))
    if paired:
        b = b.reindex(a.index)
        test, n_pairs = "wilcoxon_seeds", len(a)
        result = wilcoxon_paired(a.to_numpy(), b.to_numpy(), method="exact")
        mean, low, high = mean_difference_ci(a.to_numpy() - b.to_numpy(), CONFIDENCE)
    else:
        test, n_pairs = "mann_whitney", 0
        result = mann_whitney(a.to_numpy(), b.to_numpy())
        mean, low, high = welch_ci(a.to_numpy(), b.to_numpy(), CONFIDENCE)
    return {"test": test, **result, "n": len(a), "n_none": len(b), "n_pairs": n_pairs,
            "difference": mean, "mean_difference": mean, "ci_low": low, "ci_high": high}


def seed_tests(results: pd.DataFrame, metrics, order, min_seeds: int = 2) -> pd.DataFrame:
    """Each regularizer vs ``none`` across seeds, per outcome metric (``seed_comparison``:
    paired by seed where the seeds match, else Mann-Whitney U).

    Rows: regularizer, column (of results.csv), metric, method, and the fields of
    ``seed_comparison``. Metrics best at 0 compare absolute values.
    """
    ok = ok_runs(results)
    if BASELINE not in order:
        return pd.DataFrame()
    rows = []
    for reg in order[1:]:
        for column in outcome_metrics(metrics):
            row = seed_comparison(ok, reg, BASELINE, column, metric_info(column).direction,
                                  min_seeds)
            if row is None:
                continue
            metric, method = split_method(column)
            rows.append({"regularizer": reg, "column": column, "metric": metric,
                         "method": method, **row})
    return pd.DataFrame(rows)


def sequence_tests(per_sequence: pd.DataFrame, order) -> pd.DataFrame:
    """Wilcoxon signed-rank vs ``none`` on sequences paired by name, per method and metric.

    Each sequence's value is its mean over the regularizer's seeds (over ``none``'s for
    the baseline): one paired test per (regularizer, method, metric) instead of one per
    seed. Rows: regularizer, column, metric, method, n = n_pairs (paired sequences),
    difference (median paired difference of the compared values, regularizer minus
    none), mean_difference with its t-interval (ci_low, ci_high), and the
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
                mean, low, high = mean_difference_ci(x - y, CONFIDENCE)
                rows.append({"regularizer": reg, "column": metric, "metric": metric,
                             "method": method, "test": "wilcoxon",
                             "difference": float(np.median(x - y)),
                             **wilcoxon_paired(x, y), "n_pairs": len(x),
                             "mean_difference": mean, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


STATISTICS_COLUMNS = ["comparison", "regularizer", "metric", "method", "test", "test_name",
                      "family", "n", "n_none", "n_pairs", "statistic", "p_value",
                      "p_adjusted", "correction", "effect_size", "difference",
                      "mean_difference", "ci_low", "ci_high", "ci_method", "better"]


def statistics_table(results: pd.DataFrame, per_sequence: pd.DataFrame | None,
                     order) -> pd.DataFrame:
    """Every test of the report, Holm-adjusted within its family (statistics.csv).

    A family is one regularizer vs none on one level (across seeds, or across
    sequences) and one attribution method (or the performance metrics): every outcome
    metric of that table (FAMILY_PRINCIPLE says why). Columns: STATISTICS_COLUMNS (test: wilcoxon_seeds, mann_whitney or
    wilcoxon, TESTS says which is which in test_name; n: seeds of the regularizer, or
    paired sequences; n_none: seeds of none; n_pairs: paired seeds or sequences, 0 when
    unpaired) and ``column`` (the results column, for figures). ``mean_difference`` is
    regularizer minus none of the compared values (|value| for metrics best at 0, whose
    ``metric`` then reads |name|), with its 95 % interval ci_low..ci_high (ci_method);
    ``difference`` is the same mean across seeds, the median paired difference across
    sequences; ``better`` is yes when p_adjusted < 0.05 and the effect favours the
    regularizer.
    """
    tests = [seed_tests(results, metric_columns(results), order),
             sequence_tests(per_sequence, order)]
    tests = [t for t in tests if not t.empty]
    if not tests:
        return pd.DataFrame(columns=STATISTICS_COLUMNS + ["column"])
    table = pd.concat(tests, ignore_index=True)
    table["test_name"] = table["test"].map(TESTS)
    table["ci_method"] = table["test"].map(
        lambda t: f"{CONFIDENCE:.0%} {CI_METHODS[t]}")
    table["family"] = [f"{LEVELS[t]}: {m or 'performance'}: {r} vs {BASELINE}"
                       for t, m, r in zip(table["test"], table["method"],
                                          table["regularizer"])]
    table["p_adjusted"] = table.groupby("family")["p_value"].transform(
        lambda p: pd.Series(holm(p.to_numpy()), index=p.index))
    table["correction"] = "holm"
    table["comparison"] = table["regularizer"] + " vs " + BASELINE
    directions = table["column"].map(lambda c: metric_info(c).direction)
    table["better"] = [_verdict(row, d) for row, d in zip(table.to_dict("records"), directions)]
    table["metric"] = [f"|{m}|" if d == "zero" else m
                       for m, d in zip(table["metric"], directions)]
    table = table.reindex(columns=STATISTICS_COLUMNS + ["column"])
    table["n_none"] = table["n_none"].astype("Int64")   # blank for sequence tests
    return table


def pvalue_lookup(tests: pd.DataFrame, test, method: str | None = None
                  ) -> dict[tuple[str, str], float]:
    """(regularizer, column) -> Holm-adjusted p of one test or tuple of tests (and
    method), for figures."""
    if tests.empty:
        return {}
    rows = tests[tests["test"].isin([test] if isinstance(test, str) else list(test))]
    if method is not None:
        rows = rows[rows["method"] == method]
    return {(r.regularizer, r.column): r.p_adjusted for r in rows.itertuples()}


def smallest_p(row) -> float:
    """The smallest two-sided p a seed test of this size can reach before adjustment:
    2 / 2^n paired, 2 / C(n1 + n2, n1) unpaired."""
    if row["test"] == "mann_whitney":
        return 2 / math.comb(int(row["n"] + row["n_none"]), int(row["n"]))
    return smallest_paired_p(int(row["n_pairs"]))
