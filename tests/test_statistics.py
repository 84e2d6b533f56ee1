"""Tests, intervals and corrections (Benjamini-Hochberg, Holm, the hierarchical
bootstrap), and the report's statistics.csv: ★ for the primary endpoint only."""
import numpy as np
import pandas as pd
import pytest
import scipy.stats

from regbench.endpoints import declare
from regbench.metrics import (benjamini_hochberg, hierarchical_bootstrap, holm, mann_whitney,
                              mean_difference_ci, paired_t, smallest_paired_p, welch_ci,
                              welch_t, wilcoxon_paired)
from regbench.report.inference import (STATISTICS_COLUMNS, folder_endpoint,
                                       sequence_intervals, statistics_table)
from regbench.report.stats import seed_comparison

MOTIF = declare("binary", {"motif_mask"})   # motif fraction; auROC within 0.01


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


def test_benjamini_hochberg_on_a_fixed_list():
    # Sorted: .005 x 4/1 = .02, .01 x 4/2 = .02, .03 x 4/3 = .04, .04 x 4/4 = .04; each
    # the smallest of itself and every larger rank's: .02, .02, .04, .04.
    p = [0.01, 0.04, 0.03, 0.005, np.nan]
    np.testing.assert_allclose(benjamini_hochberg(p), [0.02, 0.04, 0.04, 0.02, np.nan])
    # Step-up: .04 x 2/1 = .08 is lowered to the larger rank's .05 x 2/2 = .05.
    np.testing.assert_allclose(benjamini_hochberg([0.04, 0.05]), [0.05, 0.05])
    np.testing.assert_allclose(benjamini_hochberg([0.9, 0.8]), [0.9, 0.9])  # .8 x 2 > 1
    np.testing.assert_allclose(benjamini_hochberg([0.2]), [0.2])            # one test
    assert benjamini_hochberg([]).shape == (0,)
    if hasattr(scipy.stats, "false_discovery_control"):     # scipy >= 1.11
        rng = np.random.default_rng(3)
        many = rng.uniform(0, 0.2, 40)
        np.testing.assert_allclose(benjamini_hochberg(many),
                                   scipy.stats.false_discovery_control(many))


def test_paired_t_is_scipys_test_with_its_own_interval():
    # d = 1, 2, 3, 4: mean 2.5, sd sqrt(5/3), t = 2.5 / (sd / 2) = 3.8730
    out = paired_t([1, 2, 3, 4])
    assert out["statistic"] == pytest.approx(2.5 / (np.sqrt(5 / 3) / 2))
    res = scipy.stats.ttest_1samp([1, 2, 3, 4], 0)
    assert out["p_value"] == pytest.approx(res.pvalue)
    assert (out["ci_low"], out["ci_high"]) == pytest.approx(
        tuple(res.confidence_interval(0.95)))
    assert out["mean_difference"] == 2.5 and out["n"] == 4
    assert np.isnan(paired_t([0.0, 0.0, 0.0])["p_value"])     # nothing to test
    assert np.isnan(paired_t([1.0])["p_value"])               # one pair
    a, b = [1.0, 2.0, 4.0, 7.0], [0.0, 0.5, 1.0]
    welch = welch_t(a, b)
    res = scipy.stats.ttest_ind(a, b, equal_var=False)
    assert welch["p_value"] == pytest.approx(res.pvalue)
    assert (welch["ci_low"], welch["ci_high"]) == pytest.approx(
        tuple(res.confidence_interval(0.95)))
    assert (welch["n"], welch["n_none"], welch["mean_difference"]) == (4, 3, 3.0)


def test_hierarchical_bootstrap_of_constant_differences_is_that_constant():
    groups = [np.full(n, 0.25) for n in (5, 7, 3)]
    assert hierarchical_bootstrap(groups) == (0.25, 0.25, 0.25)
    mean, low, high = hierarchical_bootstrap([np.full(9, -1.5)] * 4, n_boot=50)
    assert (mean, low, high) == (-1.5, -1.5, -1.5)


def test_hierarchical_bootstrap_width_from_seeds_alone():
    # Each seed's 5 sequences share its value c_s (linspace over 30 seeds): only the seed
    # draw varies, the resampled mean is that of 30 draws from c, sd = sd(c) / sqrt(30);
    # the 95 % interval is about mean +- 1.96 sd.
    c = np.linspace(-1, 1, 30)
    mean, low, high = hierarchical_bootstrap([np.full(5, v) for v in c])
    half = 1.959964 * c.std() / np.sqrt(30)
    assert mean == pytest.approx(0, abs=1e-12)
    assert (high - low) / 2 == pytest.approx(half, rel=0.1)
    assert low == pytest.approx(-half, rel=0.15) and high == pytest.approx(half, rel=0.15)
    # Seeds are the replicates: ten times the sequences per seed give the same interval
    # (sequence-level resampling treating 1500 sequences as independent would give one
    # about sqrt(10) times narrower).
    more = hierarchical_bootstrap([np.full(50, v) for v in c])
    assert more == pytest.approx((mean, low, high), abs=1e-12)


def test_hierarchical_bootstrap_width_from_sequences_alone():
    # Every seed holds the same 50 differences x: the seed draw changes nothing, each
    # of the 4 slots is a bootstrap mean of 50 draws from x (variance var(x) / 50), so
    # the resampled mean has variance var(x) / (50 * 4).
    x = np.linspace(-1, 1, 50)
    mean, low, high = hierarchical_bootstrap([x] * 4)
    half = 1.959964 * x.std() / np.sqrt(50 * 4)
    assert mean == pytest.approx(0, abs=1e-12)
    assert (high - low) / 2 == pytest.approx(half, rel=0.1)
    # Both levels: variance (var between seeds + mean var within / n) / S.
    rng = np.random.default_rng(4)
    shifts = np.linspace(-0.5, 0.5, 20)
    groups = [s + rng.normal(0, 1, 40) for s in shifts]
    within = np.mean([g.var() / 40 for g in groups])
    between = np.var([g.mean() for g in groups])
    mean, low, high = hierarchical_bootstrap(groups)
    assert mean == pytest.approx(np.mean([g.mean() for g in groups]))
    assert (high - low) / 2 == pytest.approx(
        1.959964 * np.sqrt((between + within) / 20), rel=0.1)


def test_hierarchical_bootstrap_is_deterministic_and_needs_two_seeds():
    rng = np.random.default_rng(5)
    groups = [rng.normal(size=30) for _ in range(6)]
    assert hierarchical_bootstrap(groups) == hierarchical_bootstrap(groups)
    assert hierarchical_bootstrap(groups, seed=1) != hierarchical_bootstrap(groups)
    # Metrics resampled together get the draws each would get alone.
    stacked = [np.column_stack([g, 2 * g]) for g in groups]
    mean, low, high = hierarchical_bootstrap(stacked)
    one = hierarchical_bootstrap(groups)
    np.testing.assert_allclose([mean[0], low[0], high[0]], one)
    np.testing.assert_allclose([mean[1], low[1], high[1]], 2 * np.array(one))
    mean, low, high = hierarchical_bootstrap([np.array([1.0, 2.0])])
    assert mean == 1.5 and np.isnan(low) and np.isnan(high)


def test_seed_comparison_pairs_by_seed_not_by_row_order():
    # Seeds differ a lot from each other; within a seed the regularizer is 0.01 higher.
    # Unpaired that is noise (Welch p ~ 1), paired it is 8 of 8.
    base = np.array([0.60, 0.90, 0.70, 0.80, 0.65, 0.85, 0.75, 0.95])
    ok = pd.DataFrame({"regularizer": ["none"] * 8 + ["l1"] * 8,
                       "seed": list(range(8)) + list(range(7, -1, -1)),
                       "m": np.concatenate([base, base[::-1] + 0.01])})
    row = seed_comparison(ok, "l1", "none", "m", "higher")
    assert row["test"] == "paired_t" and row["n_pairs"] == 8 and row["n_better"] == 8
    assert row["p_value"] < 1e-6
    assert row["mean_difference"] == pytest.approx(0.01)
    assert row["ci_low"] == pytest.approx(0.01) and row["ci_high"] == pytest.approx(0.01)
    assert seed_comparison(ok, "l1", "none", "m", "lower")["n_better"] == 0
    # A seed missing on one side: the runs no longer pair up, Welch's t-test instead.
    short = ok[~((ok.regularizer == "none") & (ok.seed == 3))]
    row = seed_comparison(short, "l1", "none", "m", "higher")
    assert row["test"] == "welch_t" and row["n_pairs"] == 0 and np.isnan(row["n_better"])
    assert (row["n"], row["n_none"]) == (8, 7) and row["p_value"] > 0.5
    assert row["p_value"] == pytest.approx(scipy.stats.ttest_ind(
        base + 0.01, np.delete(base, 3), equal_var=False).pvalue)
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


NONE_MOTIF = np.array([0.30, 0.35, 0.28, 0.33, 0.31, 0.36, 0.29, 0.34])
UP = np.array([0.10, 0.12, 0.08, 0.11, 0.09, 0.13, 0.10, 0.07])   # all > 0
WOBBLE = np.array([0.01, -0.01, 0.02, -0.02, 0.01, -0.01, 0.03, -0.03])   # mean 0


def _endpoint_results() -> pd.DataFrame:
    """_results with the primary endpoint and its performance metric by design: motif
    fraction fourier +UP (better), l2 -UP/2 (worse), smooth +WOBBLE (no change); test
    auROC fourier -0.002, l2 -0.02, smooth 0, each + WOBBLE / 10."""
    results = pd.concat([_results(), _results().query("regularizer == 'l2'").assign(
        regularizer="smooth")], ignore_index=True)
    shifts = {"none": (0, 0), "fourier": (UP, -0.002), "l2": (-UP / 2, -0.02),
              "smooth": (WOBBLE, 0)}
    for reg, (motif, auroc) in shifts.items():
        rows = results.regularizer == reg
        seeds = results.loc[rows, "seed"].to_numpy()
        results.loc[rows, "motif_fraction"] = (NONE_MOTIF + motif)[seeds]
        wobble = WOBBLE / 10 if reg != "none" else np.zeros(8)
        results.loc[rows, "test_auroc"] = (0.9 + auroc + wobble)[seeds]
    return results


ORDER = ["none", "fourier", "l2", "smooth"]


def test_only_the_primary_endpoint_is_tested_with_bh_across_all_regularizers():
    table = statistics_table(_endpoint_results(), _per_sequence(), ORDER, MOTIF)
    assert list(table.columns[:len(STATISTICS_COLUMNS)]) == STATISTICS_COLUMNS
    assert not {"epochs", "train_seconds", "val_loss"} & set(table["metric"])
    assert not table["test"].str.contains("wilcoxon|mann").any()
    primary = table[table.role == "primary"].set_index("regularizer")
    # One test per regularizer, DeepLIFT/SHAP's motif fraction only; every other row
    # carries no p-value.
    assert list(primary.index) == ["fourier", "l2", "smooth"]
    assert (primary["column"] == "motif_fraction").all()
    assert table.loc[table.role != "primary", ["p_value", "p_adjusted"]].isna().all().all()
    assert set(table.loc[table.role != "primary", "better"]) == {""}
    for reg, d in (("fourier", UP), ("l2", -UP / 2), ("smooth", WOBBLE)):
        res = scipy.stats.ttest_1samp(d, 0)
        assert primary.loc[reg, "p_value"] == pytest.approx(res.pvalue)
        assert (primary.loc[reg, "ci_low"], primary.loc[reg, "ci_high"]) == pytest.approx(
            tuple(res.confidence_interval(0.95)))
    # t is scale-free: fourier's and l2's p are equal, p_f = p_l < p_s = 1. BH over the
    # family of 3: ranks 1 and 2 both get min(3 p / 1, 3 p / 2) = 1.5 p; smooth 1.
    p = primary.loc["fourier", "p_value"]
    assert primary.loc["l2", "p_value"] == pytest.approx(p)
    assert primary.loc["fourier", "p_adjusted"] == pytest.approx(1.5 * p)
    assert primary.loc["l2", "p_adjusted"] == pytest.approx(1.5 * p)
    assert primary.loc["smooth", "p_adjusted"] == pytest.approx(1.0)
    assert list(primary["better"]) == ["yes", "worse", "no"]
    assert set(primary["family"]) == {"primary endpoint motif_fraction: every regularizer "
                                      "vs none"}
    assert set(primary["correction"]) == {"Benjamini-Hochberg, false discovery rate 0.05 "
                                          "over 3 regularizers vs none"}
    assert (primary["n_better"] == [8, 0, 4]).all()
    assert primary.loc["fourier", "test_name"].startswith("paired t-test")


def test_performance_is_held_non_inferior_by_the_margin():
    table = statistics_table(_endpoint_results(), None, ORDER, MOTIF)
    check = table[table.role == "non-inferiority"].set_index("regularizer")
    assert list(check.index) == ["fourier", "l2", "smooth"]
    assert (check["column"] == "test_auroc").all() and (check["margin"] == 0.01).all()
    for reg, shift, verdict in (("fourier", -0.002, "yes"), ("l2", -0.02, "no"),
                                ("smooth", 0, "yes")):
        d = shift + WOBBLE / 10
        low, high = scipy.stats.ttest_1samp(d, 0).confidence_interval(0.95)
        assert check.loc[reg, "mean_difference"] == pytest.approx(d.mean())
        assert check.loc[reg, "ci_low"] == pytest.approx(low)
        assert (low > -0.01) == (verdict == "yes")     # by hand: the worse end, -0.01
        assert check.loc[reg, "non_inferior"] == verdict
    assert check["p_value"].isna().all() and set(check["better"]) == {""}


def test_secondary_metrics_keep_interval_and_seeds_better():
    table = statistics_table(_endpoint_results(), None, ORDER, MOTIF)
    row = table.set_index(["test", "method", "regularizer", "metric"])
    entropy = row.loc[("paired_t", "deep_lift_shap", "fourier", "entropy")]
    results = _results()
    d = (results.loc[results.regularizer == "fourier", "entropy"].to_numpy()
         - results.loc[results.regularizer == "none", "entropy"].to_numpy())
    assert entropy["role"] == "secondary" and entropy["level"] == "seeds"
    assert entropy["mean_difference"] == pytest.approx(d.mean())
    assert (entropy["ci_low"], entropy["ci_high"]) == pytest.approx(
        tuple(scipy.stats.ttest_1samp(d, 0).confidence_interval(0.95)))
    assert entropy["n_better"] == (d < 0).sum() == 8   # lower entropy is better
    assert np.isnan(entropy["p_value"]) and "not tested" in entropy["test_name"]
    # GC reliance is best at 0: |value| is compared, so moving -0.3 to 0.01 is better.
    gc = row.loc[("paired_t", "deep_lift_shap", "fourier", "|gc_reliance|")]
    assert gc["n_better"] == 8 and gc["mean_difference"] < -0.25


def test_one_regularizer_is_a_family_of_one():
    results = _endpoint_results().query("regularizer in ['none', 'fourier']")
    table = statistics_table(results, None, ["none", "fourier"], MOTIF)
    primary = table[table.role == "primary"].iloc[0]
    assert primary["p_adjusted"] == pytest.approx(primary["p_value"])   # BH of one: p
    assert primary["correction"] == ("Benjamini-Hochberg, false discovery rate 0.05 over "
                                     "1 regularizer vs none")


def test_the_primary_test_pairs_full_data_runs_only():
    # Runs on half the training rows (reversed motif effect) in the same frame change
    # nothing: the verdict is read at data fraction 1.
    full = _endpoint_results().assign(data_fraction=1.0)
    half = full.assign(data_fraction=0.5,
                       motif_fraction=lambda f: 1 - f["motif_fraction"])
    both = statistics_table(pd.concat([full, half]), None, ORDER, MOTIF)
    alone = statistics_table(full, None, ORDER, MOTIF)
    columns = ["regularizer", "n_pairs", "mean_difference", "p_value", "p_adjusted"]
    pd.testing.assert_frame_equal(both.loc[both.role == "primary", columns],
                                  alone.loc[alone.role == "primary", columns])
    assert (both.loc[both.role == "primary", "n_pairs"] == 8).all()


def test_no_endpoint_means_no_test_and_no_star():
    table = statistics_table(_endpoint_results(), _per_sequence(), ORDER, None)
    assert set(table["role"]) == {"secondary"} and table["p_value"].isna().all()
    assert set(table["better"]) == {""} and set(table["correction"]) == {""}


def test_sequence_rows_are_the_hierarchical_bootstrap_paired_by_seed_and_name():
    per_seq = _per_sequence()
    table = statistics_table(_results(), per_seq, ["none", "fourier", "l2"], MOTIF)
    seq = table[table.level == "sequences within seeds"]
    assert set(seq["test"]) == {"hierarchical_bootstrap"} and seq["p_value"].isna().all()
    assert set(seq["role"]) == {"secondary"}
    row = seq[(seq.regularizer == "fourier") & (seq.metric == "entropy")].iloc[0]
    assert (row["n"], row["n_pairs"], row["n_sequences"]) == (3, 3, 15)
    # By hand: per seed, fourier's value minus none's of the same sequence.
    wide = per_seq.pivot_table(index=["seed", "sequence"], columns="regularizer",
                               values="entropy")
    groups = [(part["fourier"] - part["none"]).to_numpy()
              for _, part in wide.groupby(level="seed")]
    assert (row["mean_difference"], row["ci_low"], row["ci_high"]) == pytest.approx(
        hierarchical_bootstrap(groups), abs=1e-12)
    assert row["ci_high"] < -0.8        # fourier lowers entropy by 1 in every seed
    # Row order does not matter: sequences pair by name, seeds by number.
    shuffled = per_seq.sample(frac=1, random_state=2)
    again = sequence_intervals(shuffled, ["none", "fourier", "l2"])
    mine = again[(again.regularizer == "fourier") & (again.metric == "entropy")].iloc[0]
    assert (mine["mean_difference"], mine["ci_low"], mine["ci_high"]) == pytest.approx(
        (row["mean_difference"], row["ci_low"], row["ci_high"]), abs=1e-12)
    # One seed: a mean difference, no interval (one seed says nothing of another's).
    one = sequence_intervals(per_seq[per_seq.seed == 0], ["none", "fourier"])
    assert (one["n"] == 1).all() and one["ci_low"].isna().all()


def test_a_regularizer_missing_a_seed_is_unpaired_and_stays_in_the_family():
    results = _endpoint_results()
    results = results[~((results.regularizer == "l2") & (results.seed == 7))]
    table = statistics_table(results, None, ORDER, MOTIF)
    l2 = table[(table.regularizer == "l2") & (table.method == "deep_lift_shap")]
    assert set(l2["test"]) == {"welch_t"} and (l2["n_pairs"] == 0).all()
    primary = table[table.role == "primary"]
    assert len(primary) == 3 and primary["p_value"].notna().all()
    np.testing.assert_allclose(primary["p_adjusted"],
                               benjamini_hochberg(primary["p_value"].to_numpy()))


def test_one_seed_gives_sequence_rows_only():
    results = _results()
    table = statistics_table(results[results.seed == 0], _per_sequence(),
                             ["none", "fourier", "l2"], MOTIF)
    assert set(table["test"]) == {"hierarchical_bootstrap"} and table["n_none"].isna().all()
    assert list(table.columns[:len(STATISTICS_COLUMNS)]) == STATISTICS_COLUMNS


def test_statistics_table_without_baseline_is_empty():
    results = _results()
    table = statistics_table(results[results["regularizer"] != "none"], None,
                             ["fourier", "l2"], MOTIF)
    assert table.empty and list(table.columns[:len(STATISTICS_COLUMNS)]) == STATISTICS_COLUMNS


def test_folder_endpoint_recorded_or_inferred():
    results = _endpoint_results()
    recorded = declare("profile", {"peak_mask"})
    endpoint, source = folder_endpoint({"endpoint": recorded.as_dict()}, results)
    assert endpoint == recorded and "config.json" in source
    endpoint, source = folder_endpoint({"task": "binary"}, results)
    assert endpoint == MOTIF and source.startswith("inferred")
    peaks = results.drop(columns="motif_fraction").assign(peak_fraction=0.5)
    assert folder_endpoint({}, peaks)[0] == declare("binary", {"peak_mask"})
    assert folder_endpoint({}, results.drop(columns="motif_fraction"))[0] is None
