"""Tests with effect sizes, Holm's correction, and the report's statistics.csv."""
import numpy as np
import pandas as pd
import pytest
import scipy.stats

from regbench.metrics import (holm, mann_whitney, mean_difference_ci, smallest_paired_p,
                              welch_ci, wilcoxon_paired)
from regbench.report.stats import STATISTICS_COLUMNS, seed_comparison, statistics_table


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


def test_exact_paired_wilcoxon_on_known_pairs():
    # n differences of one sign: the exact two-sided p is 2 / 2^n, as scipy's exact test.
    four = wilcoxon_paired([1.5, 2.5, 3.5, 4.5], [1, 2, 3, 4], method="exact")
    assert four["p_value"] == 0.125 and four["effect_size"] == 1.0
    eight = wilcoxon_paired(np.zeros(8), np.arange(1, 9), method="exact")
    assert eight["p_value"] == 0.0078125 and eight["effect_size"] == -1.0
    assert smallest_paired_p(4) == 0.125 and smallest_paired_p(8) == 0.0078125
    # Mixed signs: differences 1, -2, 3, 4 -> W = min(R+, R-) = 2 of 16 sign patterns
    # with W <= 2 (W = 0, 1, 2, 2 each side): p = 2 * 3 / 16.
    mixed = wilcoxon_paired([1, -2, 3, 4], [0, 0, 0, 0], method="exact")
    assert mixed["statistic"] == 2 and mixed["p_value"] == pytest.approx(6 / 16)
    assert mixed["p_value"] == pytest.approx(
        scipy.stats.wilcoxon([1, -2, 3, 4], method="exact").pvalue)


def test_mean_difference_t_interval_by_hand():
    # d = 1, 2, 3, 4: mean 2.5, sd sqrt(5/3), t(0.975, 3) = 3.182446305...
    mean, low, high = mean_difference_ci([1, 2, 3, 4])
    half = 3.182446305284263 * np.sqrt(5 / 3) / 2
    assert mean == 2.5 and low == pytest.approx(2.5 - half) and high == pytest.approx(
        2.5 + half)
    assert (low, high) == pytest.approx(tuple(scipy.stats.ttest_1samp(
        [1, 2, 3, 4], 0).confidence_interval(0.95)))
    assert np.isnan(mean_difference_ci([1.0])[1])               # one pair: no interval
    assert mean_difference_ci([2.0, 2.0]) == (2.0, 2.0, 2.0)    # no spread: a point
    a, b = [1.0, 2.0, 4.0, 7.0], [0.0, 0.5, 1.0]
    diff, low, high = welch_ci(a, b)
    ci = scipy.stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert diff == pytest.approx(3.5 - 0.5) and (low, high) == pytest.approx(tuple(ci))


def test_seed_comparison_pairs_by_seed_not_by_row_order():
    # Seeds differ a lot from each other; within a seed the regularizer is 0.01 higher.
    # Unpaired that is noise (Mann-Whitney p ~ 1), paired it is 8 of 8 (p = 2 / 2^8).
    base = np.array([0.60, 0.90, 0.70, 0.80, 0.65, 0.85, 0.75, 0.95])
    ok = pd.DataFrame({"regularizer": ["none"] * 8 + ["l1"] * 8,
                       "seed": list(range(8)) + list(range(7, -1, -1)),
                       "m": np.concatenate([base, base[::-1] + 0.01])})
    row = seed_comparison(ok, "l1", "none", "m", "higher")
    assert row["test"] == "wilcoxon_seeds" and row["n_pairs"] == 8
    assert row["p_value"] == 0.0078125 and row["effect_size"] == 1.0
    assert row["mean_difference"] == pytest.approx(0.01)
    assert row["ci_low"] == pytest.approx(0.01) and row["ci_high"] == pytest.approx(0.01)
    # A seed missing on one side: the runs no longer pair up, Mann-Whitney U instead.
    row = seed_comparison(ok[~((ok.regularizer == "none") & (ok.seed == 3))], "l1", "none",
                          "m", "higher")
    assert row["test"] == "mann_whitney" and row["n_pairs"] == 0
    assert (row["n"], row["n_none"]) == (8, 7) and row["p_value"] > 0.5
    # The training share pairs too: the same seed on two shares is two pairs.
    two = pd.concat([ok.assign(data_fraction=1.0), ok.assign(data_fraction=0.5)])
    assert seed_comparison(two, "l1", "none", "m", "higher")["n_pairs"] == 16


def _results() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for reg, shift in (("none", 0.0), ("fourier", 1.0), ("l2", 0.0)):
        for seed in range(8):
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
    # One family per regularizer vs none, level and method: a family never mixes
    # regularizers, so adding one to a run leaves the others' adjusted p unchanged.
    assert set(table["family"]) == {
        f"{level}: {reg} vs none" for reg in ("fourier", "l2") for level in (
            "across seeds: performance", "across seeds: deep_lift_shap",
            "across seeds: input_x_gradient",
            "across sequences (mean over seeds): deep_lift_shap")}
    assert (table.groupby("family")["regularizer"].nunique() == 1).all()
    alone = statistics_table(_results().query("regularizer != 'l2'"),
                             _per_sequence().query("regularizer != 'l2'"),
                             ["none", "fourier"])
    both = table[table.regularizer == "fourier"].reset_index(drop=True)
    np.testing.assert_array_equal(alone["p_adjusted"], both["p_adjusted"])
    for _, family in table.groupby("family"):
        np.testing.assert_allclose(family["p_adjusted"], holm(family["p_value"].to_numpy()))
    assert (table["correction"] == "holm").all()
    row = table.set_index(["test", "method", "regularizer", "metric"])
    assert row.index.is_unique
    fourier_entropy = row.loc[("wilcoxon_seeds", "deep_lift_shap", "fourier", "entropy")]
    assert fourier_entropy["effect_size"] == -1.0 and fourier_entropy["n_pairs"] == 8
    # 8 of 8 paired seeds lower: the exact p is 2 / 2^8; Holm over fourier's 2 tests
    # of this method (entropy, |gc_reliance|), the smaller p first: x 2.
    assert fourier_entropy["p_value"] == 0.0078125
    assert fourier_entropy["p_adjusted"] == pytest.approx(2 * 0.0078125)
    assert fourier_entropy["better"] == "yes"  # lower entropy, adjusted p < 0.05
    results = _results()
    d = (results.loc[results.regularizer == "fourier", "entropy"].to_numpy()
         - results.loc[results.regularizer == "none", "entropy"].to_numpy())
    assert fourier_entropy["mean_difference"] == pytest.approx(d.mean())
    assert (fourier_entropy["ci_low"], fourier_entropy["ci_high"]) == pytest.approx(
        tuple(scipy.stats.ttest_1samp(d, 0).confidence_interval(0.95)))
    assert fourier_entropy["test_name"].startswith("Wilcoxon signed-rank (exact)")
    assert row.loc[("wilcoxon_seeds", "", "fourier", "test_auroc"), "better"] == "yes"
    assert row.loc[("wilcoxon_seeds", "", "l2", "test_auroc"), "better"] == "no"
    assert row.loc[("wilcoxon_seeds", "input_x_gradient", "fourier", "entropy"),
                   "better"] == "no"
    # GC reliance is best at 0: |value| is compared, so moving -0.3 to 0.01 is better.
    gc = row.loc[("wilcoxon_seeds", "deep_lift_shap", "fourier", "|gc_reliance|")]
    assert gc["effect_size"] == -1.0 and gc["better"] == "yes"
    # The paired test averages each sequence over seeds: 15 pairs, not 45.
    seq = row.loc[("wilcoxon", "deep_lift_shap", "fourier", "entropy")]
    assert seq["n"] == 15 and seq["better"] == "yes" and seq["difference"] < -0.8
    assert seq["n_pairs"] == 15 and seq["ci_low"] < seq["mean_difference"] < seq["ci_high"]


def test_a_regularizer_missing_a_seed_stays_in_its_family_unpaired():
    results = _results()
    results = results[~((results.regularizer == "l2") & (results.seed == 7))]
    table = statistics_table(results, None, ["none", "fourier", "l2"])
    l2 = table[(table.regularizer == "l2") & (table.method == "deep_lift_shap")]
    assert set(l2["test"]) == {"mann_whitney"} and (l2["n_pairs"] == 0).all()
    assert set(l2["family"]) == {"across seeds: deep_lift_shap: l2 vs none"}
    assert len(l2) == 2   # entropy and |gc_reliance|, both unpaired


def test_one_seed_gives_sequence_tests_only():
    results = _results()
    table = statistics_table(results[results.seed == 0], _per_sequence(),
                             ["none", "fourier", "l2"])
    assert set(table["test"]) == {"wilcoxon"} and table["n_none"].isna().all()
    assert list(table.columns[:len(STATISTICS_COLUMNS)]) == STATISTICS_COLUMNS


def test_statistics_table_without_baseline_is_empty():
    results = _results()
    table = statistics_table(results[results["regularizer"] != "none"], None,
                             ["fourier", "l2"])
    assert table.empty and list(table.columns[:len(STATISTICS_COLUMNS)]) == STATISTICS_COLUMNS
