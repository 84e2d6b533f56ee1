"""The plan's lines on what the chosen seeds can show (no training: a stand-in bench)."""
from types import SimpleNamespace

import numpy as np

from regbench.plan import family_sizes, seed_power, seeds_needed


def _bench(regularizers, seeds, motifs=True):
    test = SimpleNamespace(motif_mask=np.zeros((2, 3), bool) if motifs else None,
                           summits=None, peak_mask=None)
    return SimpleNamespace(regularizers=regularizers, split=lambda name: test,
                           config=SimpleNamespace(seeds=seeds, task="binary"))


def test_smallest_p_line_and_no_warning_when_a_verdict_can_be_significant():
    lines = seed_power(_bench(["none", "fourier"], 8))
    # 1 regularizer vs none: 4 performance metrics; 5 attribution metrics with motifs
    # (high-frequency fraction, entropy, motif fraction, motif auPRC, GC reliance).
    assert lines == ["paired seeds: 8 seeds give the exact paired test (Wilcoxon "
                     "signed-rank vs none) a smallest two-sided p of 2 / 2^8 = 0.00781; "
                     "Holm's correction needs p < 0.0125 in each regularizer's performance "
                     "family (4 tests), 0.01 in each regularizer's family per attribution "
                     "method (5 tests)"]


def test_warns_when_no_difference_can_be_significant():
    lines = seed_power(_bench(["none", "fourier"], 4))
    assert "2 / 2^4 = 0.125" in lines[0]
    assert lines[1] == ("warning: with 4 seeds no difference from none can be significant "
                        "at 0.05 after Holm's correction; 8 seeds would allow it in every "
                        "family (--seeds)")
    # Families are per regularizer: all eleven at 8 seeds ask what one does, so adding
    # regularizers never takes a verdict out of reach.
    regs = ["none"] + [f"r{i}" for i in range(10)]
    assert family_sizes(_bench(regs, 8)) == family_sizes(_bench(["none", "r0"], 8)) == {
        "each regularizer's performance family": 4,
        "each regularizer's family per attribution method": 5}
    assert len(seed_power(_bench(regs, 8))) == 1


def test_warns_about_the_families_that_cannot_reach_significance():
    # 7 seeds without motifs: 3 attribution metrics, 2 / 128 x 3 < 0.05 <= 2 / 128 x 4.
    lines = seed_power(_bench(["none", "a", "b"], 7, motifs=False))
    assert lines[1] == ("warning: with 7 seeds no difference from none can be significant "
                        "in each regularizer's performance family; 8 seeds would allow it "
                        "(--seeds)")
    # With motifs 5 attribution metrics are scored: no family can reach it at 7 seeds.
    assert "in every family" in seed_power(_bench(["none", "a"], 7))[1]


def test_seeds_needed_and_no_baseline():
    assert [seeds_needed(m) for m in (1, 4, 5, 50)] == [6, 8, 8, 11]
    assert seed_power(_bench(["fourier"], 8))[1] == (
        "no 'none' among the regularizers: nothing is tested against it")
