"""statistics.csv: every comparison of a results folder against ``none``, with its role.

- **primary**: the endpoint declared before training (``regbench.endpoints``; for a
  folder whose config.json predates it, ``folder_endpoint`` infers it the way
  ``regbench run`` declares it) across seeds: the paired t-test of the per-seed
  differences (Welch's where the seeds do not pair), Benjamini-Hochberg across every
  regularizer compared with none (one family, ``stats.FAMILY_PRINCIPLE``); ``better``
  is yes (★), worse (▼) or no.
- **non-inferiority**: the endpoint's performance metric (test_<performance>): the
  paired mean difference, its 95 % t-interval, and whether the interval's worse end
  stays within the declared margin.
- **secondary**: every other outcome metric across seeds (mean difference, 95 %
  interval, n_better of n_pairs seeds better), and every per-sequence metric across
  sequences nested in seeds (``sequence_intervals``: hierarchical bootstrap). No
  p-value: an unadjusted p beside the primary test's would invite reading a ★ into
  it, and the interval already says whether 0 is inside.

A comparison that rests on a model that did not converge (results.csv's ``converged``
false: ``regbench.training.stopping``) is marked: ``unconverged`` says "k of n" models, the
report prints † (DAGGER), and its primary row gets no ★ or ▼ (``better`` is
"unconverged" where the test alone would give one). The numbers are not changed.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from regbench.endpoints import Endpoint, declare, from_dict
from regbench.metrics import benjamini_hochberg, hierarchical_bootstrap, sequence_metrics
from regbench.metrics.statistics import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
from regbench.store.record import TEST_PREFIX
from regbench.report import stats
from regbench.report.stats import (ALPHA, BASELINE, CONFIDENCE, STAR, WORSE, format_ci,
                                   format_p)

PRIMARY, NON_INFERIORITY, SECONDARY = "primary", "non-inferiority", "secondary"
DAGGER = "†"   # a comparison that rests on a model that did not converge
UNCONVERGED = "unconverged"   # ``better`` where q <= ALPHA but a model did not converge
SEED_TESTS = ("paired_t", "welch_t")
BOOTSTRAP = "hierarchical_bootstrap"
TEST_NAMES = {
    "paired_t": "paired t-test of the per-seed differences (regularizer − none, same seed)",
    "welch_t": "Welch t-test across seeds (unpaired: the two sides hold different seeds)",
    BOOTSTRAP: (f"hierarchical bootstrap of the per-sequence differences: seeds with "
                f"replacement, then sequences within each seed, paired by seed and "
                f"sequence ({BOOTSTRAP_RESAMPLES} resamples, generator seed "
                f"{BOOTSTRAP_SEED})")}
INTERVAL_ONLY = {"paired_t": "t-interval of the per-seed differences, paired by seed; "
                             "secondary: not tested",
                 "welch_t": "Welch t-interval across seeds (unpaired); secondary: not tested"}
CI_METHODS = {"paired_t": "t-interval of the paired differences",
              "welch_t": "Welch t-interval of the difference of means",
              BOOTSTRAP: "percentile interval of the hierarchical bootstrap"}
LEVELS = {"paired_t": "seeds", "welch_t": "seeds", BOOTSTRAP: "sequences within seeds"}
STATISTICS_COLUMNS = ["comparison", "regularizer", "metric", "method", "role", "level",
                      "test", "test_name", "n", "n_none", "n_pairs", "n_sequences",
                      "n_better", "mean_difference", "ci_low", "ci_high", "ci_method",
                      "statistic", "p_value", "p_adjusted", "correction", "family",
                      "margin", "non_inferior", "better", "unconverged"]
RECORDED = "declared before training and recorded in config.json"
INFERRED = ("inferred from the data's ground truth as `regbench run` declares it; "
            "config.json records none, an older run")


def folder_endpoint(config: dict, results: pd.DataFrame) -> tuple[Endpoint | None, str]:
    """(the primary endpoint of a results folder, where it comes from): config.json's
    ``endpoint``; else ``endpoints.declare`` for its task on the ground truth its
    results show (motif_fraction with values: motif truth; else peak_fraction: peaks;
    else none, and no endpoint)."""
    try:
        recorded = from_dict(config.get("endpoint"))
    except TypeError:       # an endpoint written by another version, fields missing
        recorded = None
    if recorded is not None:
        return recorded, RECORDED
    truth = ({"motif_mask"} if stats.has_values(results, "motif_fraction")
             else {"peak_mask"} if stats.has_values(results, "peak_fraction") else set())
    return declare(str(config.get("task") or "binary"), truth), INFERRED


def _groups(diffs: pd.DataFrame, columns) -> list[np.ndarray]:
    return [part[columns].to_numpy(float) for _, part in diffs.groupby(level="seed")]


def _bootstrap_pair(pair: pd.DataFrame, metrics) -> dict[str, tuple]:
    """metric -> (mean, low, high, seeds, sequences) of the paired per-sequence
    differences in ``pair`` (index seed, sequence; columns m and m_none). Metrics with
    every value present are resampled together (the same draws), the others alone."""
    diffs = pd.DataFrame({m: stats.oriented_values(pair[m], stats.metric_info(m).direction)
                          - stats.oriented_values(pair[m + "_none"], stats.metric_info(m).direction)
                          for m in metrics}, index=pair.index)
    complete = [m for m in metrics if diffs[m].notna().all()]
    out = {}
    if complete and len(diffs):
        seeds, sequences = diffs.index.get_level_values(0), diffs.index.get_level_values(1)
        joint = hierarchical_bootstrap(_groups(diffs, complete))
        for j, m in enumerate(complete):
            out[m] = (*(float(v[j]) for v in joint), seeds.nunique(), sequences.nunique())
    for m in metrics:
        if m in complete or diffs[m].notna().sum() == 0:
            continue
        values = diffs[[m]].dropna()
        out[m] = (*hierarchical_bootstrap([g[:, 0] for g in _groups(values, [m])]),
                  values.index.get_level_values(0).nunique(),
                  values.index.get_level_values(1).nunique())
    return out


def sequence_intervals(per_sequence: pd.DataFrame | None, order) -> pd.DataFrame:
    """Each regularizer vs ``none`` on the per-sequence metrics, per attribution method:
    the mean paired difference (regularizer − none of the same seed and sequence; mean
    over seeds of each seed's mean) and its hierarchical-bootstrap 95 % interval
    (``metrics.hierarchical_bootstrap``; fewer than 2 paired seeds: no interval).

    Rows: regularizer, column = metric, method, test "hierarchical_bootstrap", n =
    n_pairs (paired seeds), n_sequences (sequences paired in some seed),
    mean_difference, ci_low, ci_high.
    """
    if per_sequence is None or per_sequence.empty or BASELINE not in order:
        return pd.DataFrame()
    metrics = [m for m in sequence_metrics() if m in per_sequence
               and pd.api.types.is_numeric_dtype(per_sequence[m])]
    values = per_sequence.groupby(["method", "regularizer", "seed", "sequence"])[
        metrics].mean()          # one value per model and sequence
    present = set(values.index.droplevel([2, 3]))
    rows = []
    for method in sorted({m for m, _ in present}):
        if (method, BASELINE) not in present:
            continue
        base = values.loc[(method, BASELINE)].add_suffix("_none")
        for reg in order[1:]:
            if (method, reg) not in present:
                continue
            pair = values.loc[(method, reg)].join(base, how="inner")
            for metric, (mean, low, high, seeds, sequences) in _bootstrap_pair(
                    pair, metrics).items():
                rows.append({"regularizer": reg, "column": metric, "metric": metric,
                             "method": method, "test": BOOTSTRAP, "n": seeds,
                             "n_pairs": seeds, "n_sequences": sequences,
                             "mean_difference": mean, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


def _role(test: str, column: str, endpoint: Endpoint | None) -> str:
    if endpoint is None or test not in SEED_TESTS:
        return SECONDARY
    if column == endpoint.metric:
        return PRIMARY
    return NON_INFERIORITY if column == TEST_PREFIX + endpoint.performance else SECONDARY


def non_inferior(low: float, high: float, endpoint: Endpoint) -> str:
    """'yes' when the 95 % interval's worse end (the lower bound where higher
    performance is better, the upper where lower is) stays within the margin, 'no'
    when it does not, '' without an interval."""
    if math.isnan(low) or math.isnan(high):
        return ""
    if endpoint.performance_direction == "lower":
        return "yes" if high < endpoint.margin else "no"
    return "yes" if low > -endpoint.margin else "no"


def _better(q: float, difference: float, direction: str) -> str:
    if not q <= ALPHA:
        return "no"
    favours = difference > 0 if direction == "higher" else difference < 0
    return "yes" if favours else "worse"


def _full_data(results: pd.DataFrame) -> pd.DataFrame:
    """The runs on all the training rows (data fraction 1, or not recorded)."""
    if "data_fraction" not in results:
        return results
    share = pd.to_numeric(results["data_fraction"], errors="coerce")
    return results[share.isna() | (share >= 1)]


def finished_full_data(results: pd.DataFrame) -> pd.DataFrame:
    """The finished (status ok) runs on all the training rows."""
    return _full_data(stats.ok_runs(results))


def converged_value(value) -> bool | None:
    """results.csv's converged as True, False, or None when not known (empty: a record
    older than the check); a bool, or its text read back."""
    text = str(value).strip().lower()
    return True if text == "true" else False if text == "false" else None


def _not_converged(value) -> bool:
    """results.csv's converged is false (a bool, or its text read back); empty (a record
    older than the check) is not known, so not counted."""
    return converged_value(value) is False


def unconverged_models(results: pd.DataFrame, order) -> dict[str, str]:
    """regularizer -> 'k of n' where k > 0: of the models its comparison with none rests
    on (its finished full-data runs and none's, one per run), how many did not
    converge. Regularizers whose models all converged, or are not known to, are left
    out."""
    if "converged" not in results or BASELINE not in order:
        return {}
    runs = _full_data(stats.ok_runs(results))
    runs = runs.drop_duplicates([k for k in ("regularizer", *stats.PAIR_KEYS) if k in runs])
    cut = runs["converged"].map(_not_converged)
    mine = {r: (runs["regularizer"] == r).to_numpy() for r in order}
    count = {r: (int(cut[mine[r]].sum()), int(mine[r].sum())) for r in order}
    marks = {}
    for reg in order[1:]:
        k, n = (a + b for a, b in zip(count[reg], count[BASELINE]))
        if k:
            marks[reg] = f"{k} of {n}"
    return marks


def statistics_table(results: pd.DataFrame, per_sequence: pd.DataFrame | None, order,
                     endpoint: Endpoint | None = None) -> pd.DataFrame:
    """Every comparison of the report (statistics.csv), each with its role (module
    docstring): STATISTICS_COLUMNS and ``column`` (the results column, for figures).

    Seed rows (test paired_t or welch_t, level seeds) come from ``stats.seed_tests`` on
    the full-data runs: n seeds of the regularizer, n_none of none, n_pairs paired
    seeds (0 unpaired), n_better of them better; sequence rows from
    ``sequence_intervals``. ``mean_difference`` is regularizer minus none of the
    compared values (|value| for metrics best at 0, whose ``metric`` then reads |name|)
    with its 95 % interval ci_low..ci_high (ci_method). Only the primary rows keep
    statistic (t), p_value and p_adjusted (Benjamini-Hochberg over them all: family,
    correction) and say better: yes, worse or no, or "unconverged" where a model behind
    a yes or worse did not converge. Every row of a regularizer has ``unconverged``:
    'k of n' models did not converge (``unconverged_models``), or ''. The
    non-inferiority row has margin and non_inferior (yes/no). Without an endpoint every
    row is secondary.
    """
    parts = [stats.seed_tests(_full_data(results), stats.metric_columns(results), order),
             sequence_intervals(per_sequence, order)]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=STATISTICS_COLUMNS + ["column"])
    table = pd.concat(parts, ignore_index=True).reindex(
        columns=STATISTICS_COLUMNS + ["column"])
    table["role"] = [_role(t, c, endpoint) for t, c in zip(table["test"], table["column"])]
    table["level"] = table["test"].map(LEVELS)
    primary = (table["role"] == PRIMARY).to_numpy()
    table["test_name"] = [TEST_NAMES[t] if r == PRIMARY or t == BOOTSTRAP
                          else INTERVAL_ONLY[t] for t, r in zip(table["test"], table["role"])]
    table["ci_method"] = table["test"].map(lambda t: f"{CONFIDENCE:.0%} {CI_METHODS[t]}")
    table.loc[~primary, ["statistic", "p_value"]] = np.nan
    table["p_adjusted"] = np.nan
    table["correction"] = table["family"] = table["non_inferior"] = table["better"] = ""
    if primary.any():
        p = table.loc[primary, "p_value"].to_numpy(float)
        table.loc[primary, "p_adjusted"] = benjamini_hochberg(p)
        table.loc[primary, "correction"] = (
            f"Benjamini-Hochberg, false discovery rate {ALPHA:g} over "
            f"{stats.regularizers(int(np.isfinite(p).sum()))} vs none")
        table.loc[primary, "family"] = (f"primary endpoint {endpoint.metric}: every "
                                        f"regularizer vs {BASELINE}")
        table.loc[primary, "better"] = [
            _better(q, d, endpoint.direction) for q, d in
            zip(table.loc[primary, "p_adjusted"], table.loc[primary, "mean_difference"])]
    check = table["role"] == NON_INFERIORITY
    if check.any():
        table.loc[check, "margin"] = endpoint.margin
        table.loc[check, "non_inferior"] = [non_inferior(lo, hi, endpoint) for lo, hi in
                                            zip(table.loc[check, "ci_low"],
                                                table.loc[check, "ci_high"])]
    marks = unconverged_models(results, order)
    table["unconverged"] = [marks.get(reg, "") for reg in table["regularizer"]]
    table.loc[primary & (table["unconverged"] != "").to_numpy()
              & table["better"].isin(["yes", "worse"]).to_numpy(), "better"] = UNCONVERGED
    table["comparison"] = table["regularizer"] + " vs " + BASELINE
    zero = table["column"].map(lambda c: stats.metric_info(c).direction == "zero")
    table["metric"] = [f"|{m}|" if z else m for m, z in zip(table["metric"], zero)]
    for column in ("n", "n_none", "n_pairs", "n_sequences", "n_better"):
        table[column] = pd.to_numeric(table[column]).astype("Int64")  # blank where none
    return table


def tick_notes(statistics: pd.DataFrame, tests, method: str | None = None
               ) -> dict[tuple[str, str], str]:
    """(regularizer, column) -> the note under its name in a figure: the primary
    endpoint's BH-adjusted q with ★ / ▼; every other row's 95 % interval."""
    if statistics is None or statistics.empty:
        return {}
    rows = statistics[statistics["test"].isin([tests] if isinstance(tests, str)
                                              else list(tests))]
    if method is not None:
        rows = rows[rows["method"] == method]
    return {(r.regularizer, r.column): _note(r) for r in rows.itertuples()}


def marked(value) -> bool:
    """Whether a statistics row's ``unconverged`` marks it ('k of n'; '' or NaN not)."""
    return isinstance(value, str) and bool(value)


def _note(row) -> str:
    dagger = f" {DAGGER}" if marked(getattr(row, "unconverged", "")) else ""
    if row.role == PRIMARY:
        mark = {"yes": f" {STAR}", "worse": f" {WORSE}"}.get(row.better, "")
        return f"q={format_p(row.p_adjusted)}{mark}{dagger}"
    return format_ci(row.ci_low, row.ci_high) + dagger


__all__ = ["DAGGER", "NON_INFERIORITY", "PRIMARY", "SECONDARY", "STATISTICS_COLUMNS",
           "UNCONVERGED", "folder_endpoint", "marked", "non_inferior", "sequence_intervals",
           "statistics_table", "tick_notes", "unconverged_models"]
