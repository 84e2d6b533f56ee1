"""Tests with effect sizes, Holm's correction, and the report's statistics.csv."""
import numpy as np
import pandas as pd
import pytest
import scipy.stats

from regbench.metrics import holm, mann_whitney, wilcoxon_paired
from regbench.report.stats import STATISTICS_COLUMNS, statistics_table


def test_holm_on_a_fixed_list():
    # Sorted: .005 x4 = .02, .01 x3 = .03, .03 x2 = .06, .04 x1 = .04 -> kept monotone .06.
    p = [0.01, 0.04, 0.03, 0.005, np.nan]
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02, np.nan])
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])  # capped at 1
    np.testing.assert_allclose(holm([0.2]), [0.2])            # one test: unchanged
    assert holm([]).shape == (0,)


def test_mann_whitney_effect_size_and_p():
    out = mann_whitney([5, 6, 7, 8], [1, 2, 3, 4])
    assert out["statistic"] == 16 and out["effect_size"] == 1.0  # complete separation
    assert out["p_value"] == pytest.approx(2 / 70)                # exact: 2 / C(8, 4)
    assert mann_whitney([1, 2, 3, 4], [5, 6, 7, 8])["effect_size"] == -1.0


def test_wilcoxon_matched_pairs_rank_biserial():
    x, y = np.array([3.0, 5, 2, 8, 1]), np.array([1.0, 2, 3, 4, 1])
    # differences 2, 3, -1, 4, 0: zero dropped; ranks of |d| 2, 3, 1, 4: (9 - 1) / 10.
    out = wilcoxon_paired(x, y)
    assert out["effect_size"] == pytest.approx(0.8)
    assert out["p_value"] == pytest.approx(scipy.stats.wilcoxon(x - y).pvalue)
    assert np.isnan(wilcoxon_paired([1, 2], [1, 2])["p_value"])


def _results() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for reg, shift in (("none", 0.0), ("fourier", 1.0), ("l2", 0.0)):
        for seed in range(5):
            rows.append({"regularizer": reg, "seed": seed, "status": "ok",
                         "test_auroc": 0.8 + 0.1 * shift + rng.normal(0, 0.01),
                         "val_loss": 0.4 - 0.1 * shift + rng.normal(0, 0.01),
                         "entropy": 4 - shift + rng.normal(0, 0.1),
                         "gc_reliance": (-0.3 if reg == "none" else 0.01) + rng.normal(0, .01),
                         "ixg_entropy": 4 + rng.normal(0, 0.1),
                         "epochs": 10 + seed, "train_seconds": 5.0 * (1 + shift)})
    return pd.DataFrame(rows)


def _per_sequence() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = [{"regularizer": reg, "seed": seed, "method": "deep_lift_shap",
             "sequence": f"s{i}", "entropy": 4 - (reg == "fourier") + rng.normal(0, .1),
             "gc_reliance": rng.normal(0, 0.1)}
            for reg in ("none", "fourier", "l2") for seed in range(3) for i in range(15)]
    return pd.DataFrame(rows)


def test_statistics_table_holm_within_families_outcomes_only():
    table = statistics_table(_results(), _per_sequence(), ["none", "fourier", "l2"])
    assert list(table.columns[:len(STATISTICS_COLUMNS)]) == STATISTICS_COLUMNS
    # Cost is not tested, nor the validation loss that λ was selected on.
    assert not {"epochs", "train_seconds", "val_loss"} & set(table["metric"])
    assert set(table["family"]) == {
        "Mann-Whitney U across seeds: performance",
        "Mann-Whitney U across seeds: deep_lift_shap",
        "Mann-Whitney U across seeds: input_x_gradient",
        "Wilcoxon signed-rank across sequences (mean over seeds): deep_lift_shap"}
    for _, family in table.groupby("family"):
        np.testing.assert_allclose(family["p_adjusted"], holm(family["p_value"].to_numpy()))
    assert (table["correction"] == "holm").all()
    row = table.set_index(["test", "method", "regularizer", "metric"])
    assert row.index.is_unique
    fourier_entropy = row.loc[("mann_whitney", "deep_lift_shap", "fourier", "entropy")]
    assert fourier_entropy["effect_size"] == -1.0 and fourier_entropy["n"] == 5
    # Complete separation of 5 seeds against 5: the exact p is 2 / C(10, 5).
    assert fourier_entropy["p_value"] == pytest.approx(2 / 252)
    assert fourier_entropy["better"] == "yes"  # lower entropy, adjusted p < 0.05
    assert row.loc[("mann_whitney", "", "fourier", "test_auroc"), "better"] == "yes"
    assert row.loc[("mann_whitney", "", "l2", "test_auroc"), "better"] == "no"
    assert row.loc[("mann_whitney", "input_x_gradient", "fourier", "entropy"),
                   "better"] == "no"
    # GC reliance is best at 0: |value| is compared, so moving -0.3 to 0.01 is better.
    gc = row.loc[("mann_whitney", "deep_lift_shap", "fourier", "|gc_reliance|")]
    assert gc["effect_size"] == -1.0 and gc["better"] == "yes"
    # The paired test averages each sequence over seeds: 15 pairs, not 45.
    seq = row.loc[("wilcoxon", "deep_lift_shap", "fourier", "entropy")]
    assert seq["n"] == 15 and seq["better"] == "yes" and seq["difference"] < -0.8


def test_statistics_table_without_baseline_is_empty():
    results = _results()
    table = statistics_table(results[results["regularizer"] != "none"], None,
                             ["fourier", "l2"])
    assert table.empty and list(table.columns[:len(STATISTICS_COLUMNS)]) == STATISTICS_COLUMNS
