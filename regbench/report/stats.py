"""Summary statistics, labels and the seed-level comparisons of the report (pure pandas /
scipy); ``report.inference`` assembles them into statistics.csv.

Every comparison is against the baseline regularizer ``none``, on outcomes only (not
run time or epochs). Across seeds the runs are paired: one seed gives every
regularizer the same initialisation, batch order and split, so each regularizer's
value minus ``none``'s of the same seed (and training share, PAIR_KEYS) is one paired
difference, summarised by its mean, the 95 % Student t-interval and how many of the n
seeds went the better way (Welch's interval where the two sides do not hold the same
seeds). Only the primary endpoint declared before training (``regbench.endpoints``) is
tested: the paired t-test of those differences (Welch's t-test where they do not
pair), whose own interval the report shows. Its tests form ONE family for the whole
table, one test per regularizer compared with none, and Benjamini-Hochberg controls
the false discovery rate at ALPHA = 0.05 across them (FAMILY_PRINCIPLE): ★ (STAR)
marks a regularizer significantly better than none on the primary endpoint, ▼ (WORSE)
one significantly worse. Every other metric is secondary: an interval, no test, no ★.
Per-sequence values are nested in seeds: their interval is a hierarchical bootstrap
(seeds, then sequences within each seed; ``metrics.hierarchical_bootstrap``), never a
test that holds the seeds fixed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from regbench.metrics import describe_metric, list_metrics, paired_t, welch_t
from regbench.report.numbers import p_value, plain
from regbench.store.record import COST, FACT, ID, PERFORMANCE, RUN_RECORD, TEST_PREFIX
from regbench.store.runs import METHOD_LABELS, METHOD_PREFIXES, split_column

BASELINE = "none"
# What pairs two runs across seeds: the same seed (init, batch order, split) and the
# same training share.
PAIR_KEYS = ("seed", "data_fraction")
ALPHA = 0.05  # false discovery rate of the primary endpoint's family (Benjamini-Hochberg)
CONFIDENCE = 0.95  # of every interval
STAR, WORSE = "★", "▼"  # primary endpoint: significantly better / worse than none
ARROWS = {"higher": "↑", "lower": "↓", "zero": "→0"}  # which way is better, in headers


@dataclass(frozen=True)
class MetricInfo:
    label: str      # axis label, with units
    better: str     # one line saying what "better" means
    direction: str  # "higher", "lower", "zero" (best at 0) or "" (not a quality)


# Labels of the run record's own measured columns (the trainer reports them, not the
# metric registry).
RUN_FACTS = {
    # Early stopping (and the loss protocol's search) minimises it, so it favours the
    # runs chosen by it: shown, never tested (test_loss is the fair comparison).
    "val_loss": MetricInfo("validation loss (nats)",
                           "early stopping's criterion (and the loss protocol's "
                           "objective); not tested against none", ""),
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


def has_values(df: pd.DataFrame, column: str) -> bool:
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
        columns = [prefix + n for n in attribution if has_values(results, prefix + n)]
        if columns:
            break
    return [c for c in performance if has_values(results, c)] + columns


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
    """'mean ± sd': the mean at 3 significant digits, the sd at 2, in plain decimals
    (``numbers.plain``); a single seed has no sd."""
    if math.isnan(mean):
        return "–"
    if math.isnan(sd):
        return plain(mean)
    return f"{plain(mean)} ± {plain(sd, 2)}"


def mean_sd_cell(summary: pd.DataFrame, regularizer: str, metric: str, n_ok: int) -> str:
    """A summary table's cell: 'mean ± sd' of ``metric`` over ``regularizer``'s
    finished runs (``summary``: ``summarise`` indexed by regularizer and metric), or
    'failed' when none finished."""
    if n_ok == 0:
        return "failed"
    cell = summary.loc[(regularizer, metric)]
    return format_mean_sd(cell["mean"], cell["sd"])


DIGITS = 3  # significant digits of differences, intervals and p-values in the report


def format_number(value: float, scale: float = 1.0) -> str:
    """DIGITS significant digits, trailing zeros kept ('0.120', '1.00'), never
    e-notation; '0' for a zero up to rounding noise at ``scale``."""
    return plain(value, DIGITS, scale=scale)


def format_p(p: float) -> str:
    """A p- or q-value: DIGITS significant digits, or '< 0.001'."""
    return p_value(p)


def format_signed(value: float, scale: float = 1.0) -> str:
    """'+0.0123', '+0.120', '-0.0500' (DIGITS significant digits, the sign always
    shown), '0' for a zero up to rounding noise at ``scale``."""
    return plain(value, DIGITS, signed=True, scale=scale)


def regularizers(n: int) -> str:
    """'1 regularizer', '3 regularizers'."""
    return f"{n} regularizer{'' if n == 1 else 's'}"


def format_ci(low: float, high: float, scale: float = 1.0) -> str:
    """'[+0.00412, +0.0205]', or '–' when the interval is unknown (fewer than 2 values)."""
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return "–"
    return f"[{format_signed(low, scale)}, {format_signed(high, scale)}]"


def column_scale(results: pd.DataFrame, column: str) -> float:
    """The size of a results column's values (largest |value|; 1 when it has none):
    what a difference of two of them is 0 relative to."""
    values = pd.to_numeric(results[column], errors="coerce").abs() if column in results \
        else pd.Series(dtype=float)
    top = values.max()
    return float(top) if top == top and top > 0 else 1.0


def outcome_metrics(metrics) -> list[str]:
    """The metrics that measure quality (a known direction): not cost, not the
    validation loss λ was selected on."""
    return [m for m in metrics if metric_info(m).direction]


def split_method(column: str) -> tuple[str, str]:
    """results.csv column -> (metric, attribution method; '' for performance)."""
    if column in performance_columns():
        return column, ""
    return split_column(column)


# ★ is the answer to one question per run, asked of every regularizer at once.
FAMILY_PRINCIPLE = (
    "Only the primary endpoint, declared before training, is tested: one paired t-test "
    "per regularizer against none. Those tests are one family for the whole table, and "
    "the Benjamini-Hochberg procedure controls the false discovery rate at 0.05 across "
    "all the regularizers compared with none: among the ★ and ▼ of a report, the "
    "expected share of false ones is at most 5 %. A regularizer's q therefore depends on "
    "how many regularizers share the run (the report states that number). Every other "
    "metric is secondary: its mean difference, 95 % interval and how many seeds went the "
    "better way, no test and no ★.")


def oriented_values(values, direction: str):
    """What is compared: |value| for metrics whose best value is 0."""
    return np.abs(values) if direction == "zero" else values


def better_share(d: np.ndarray, direction: str) -> int:
    """How many paired differences (of the compared values) favour the regularizer."""
    return int((d > 0).sum() if direction == "higher" else (d < 0).sum())


def seed_comparison(ok: pd.DataFrame, regularizer: str, rival: str, column: str,
                    direction: str, min_seeds: int = 2) -> dict | None:
    """``regularizer`` vs ``rival`` on one results column across seeds; None when
    either has fewer than ``min_seeds`` values.

    Paired when both hold the same seeds (and training shares, PAIR_KEYS), one run
    each: the paired t-test of the per-seed differences with its Student t-interval
    (``metrics.paired_t``; test "paired_t") and n_better, how many differences favour
    the regularizer. Otherwise Welch's t-test and interval (test "welch_t", n_better
    NaN). Returns test, n, n_none (seeds of each side), n_pairs (0 when unpaired),
    n_better, mean_difference (of the compared values: |value| when ``direction`` is
    "zero"), ci_low, ci_high, statistic (t), p_value.
    """
    keys = [k for k in PAIR_KEYS if k in ok]
    a, b = (ok.loc[ok["regularizer"] == r, [*keys, column]].dropna(subset=[column])
            .set_index(keys)[column].astype(float) for r in (regularizer, rival))
    if len(a) < min_seeds or len(b) < min_seeds:
        return None
    a, b = oriented_values(a, direction), oriented_values(b, direction)
    paired = (a.index.is_unique and b.index.is_unique
              and set(a.index) == set(b.index))
    if paired:
        d = a.to_numpy() - b.reindex(a.index).to_numpy()
        return {"test": "paired_t", **paired_t(d, CONFIDENCE), "n_none": len(b),
                "n_pairs": len(d), "n_better": better_share(d, direction)}
    return {"test": "welch_t", **welch_t(a.to_numpy(), b.to_numpy(), CONFIDENCE),
            "n_pairs": 0, "n_better": math.nan}


def seed_tests(results: pd.DataFrame, metrics, order, min_seeds: int = 2) -> pd.DataFrame:
    """Each regularizer vs ``none`` across seeds, per outcome metric (``seed_comparison``:
    paired by seed where the seeds match, else Welch).

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
