"""Metrics on inputs with known answers, and against scikit-learn / scipy directly."""
import math

import numpy as np
import pytest
import scipy.stats
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from regbench.errors import RegbenchError
from regbench.metrics import (
    attribution_entropy, balanced_bce, balanced_bce_loss, binary_performance,
    continuous_jaccard, gc_reliance, highfreq_fraction, motif_auprc, motif_fraction,
    summarize_interpretability, summit_spearman,
)


def tracks(g):
    """Attributions (N, 4, L) whose per-position magnitude is g (N, L), on base A."""
    g = np.atleast_2d(np.asarray(g, dtype=float))
    attr = np.zeros((g.shape[0], 4, g.shape[1]))
    attr[:, 0] = g
    return attr


def one_hot(seq):
    X = np.zeros((1, 4, len(seq)))
    for i, base in enumerate(seq):
        X[0, "ACGT".index(base), i] = 1
    return X


# -- interpretability ---------------------------------------------------------

def test_all_attribution_in_motif_gives_fraction_and_auprc_one():
    mask = np.zeros((2, 50), bool)
    mask[:, 20:30] = True
    g = np.where(mask, np.linspace(1, 2, 50), 0.0)
    g[1, 20:30] *= -1  # sign must not matter
    np.testing.assert_allclose(motif_fraction(tracks(g), mask), 1.0)
    np.testing.assert_allclose(motif_auprc(tracks(g), mask), 1.0)


def test_motif_fraction_half_and_undefined_cases():
    mask = np.zeros((1, 4), bool)
    mask[0, :2] = True
    assert motif_fraction(tracks([1, 1, 1, 1]), mask)[0] == pytest.approx(0.5)
    assert np.isnan(motif_fraction(tracks([0, 0, 0, 0]), mask)[0])
    assert np.isnan(motif_auprc(tracks([1, 2, 3, 4]), np.zeros((1, 4), bool))[0])
    assert np.isnan(motif_auprc(tracks([1, 2, 3, 4]), np.ones((1, 4), bool))[0])


def test_motif_auprc_matches_sklearn_per_sequence():
    rng = np.random.default_rng(0)
    attr, mask = rng.normal(size=(5, 4, 40)), rng.random((5, 40)) < 0.3
    g = np.abs(attr).sum(axis=1)
    expected = [average_precision_score(m, row) for m, row in zip(mask, g)]
    np.testing.assert_allclose(motif_auprc(torch.from_numpy(attr), mask), expected)


def test_entropy_uniform_spike_and_zero():
    length = 64
    spike = np.zeros(length)
    spike[10] = -3.0
    h = attribution_entropy(tracks(np.stack([np.full(length, 0.7), spike, np.zeros(length)])))
    assert h[0] == pytest.approx(math.log(length))
    assert h[1] == pytest.approx(0.0)
    assert np.isnan(h[2])
    rng = np.random.default_rng(1)
    assert attribution_entropy(rng.normal(size=(20, 4, length))).max() < math.log(length)


def test_highfreq_fraction_bump_lower_than_noise():
    length = 200
    bump = np.exp(-0.5 * ((np.arange(length) - 100) / 15.0) ** 2)
    noise = np.random.default_rng(0).normal(size=length)
    frac = highfreq_fraction(tracks(np.stack([bump, noise])), smooth_sigma=0)
    assert frac[0] < 1e-3 < 0.3 < frac[1]


def test_highfreq_fraction_hand_computed():
    # g = [1, 2, 3, 4]: |rfft| = [10, |-2+2j|, 2]; normalised over all three, DC included.
    expected = 2 / (10 + 2 * math.sqrt(2) + 2)
    assert highfreq_fraction(tracks([1, 2, 3, 4]), freq_limit=1, smooth_sigma=0)[0] \
        == pytest.approx(expected)
    # A spike has a flat spectrum: 1/3 of it at frequency 2.
    assert highfreq_fraction(tracks([0, 5, 0, 0]), freq_limit=1, smooth_sigma=0)[0] \
        == pytest.approx(1 / 3)
    assert np.isnan(highfreq_fraction(tracks([0, 0, 0, 0]), freq_limit=1)[0])
    with pytest.raises(RegbenchError):
        highfreq_fraction(tracks([1, 2, 3, 4]), freq_limit=3)


def test_summit_spearman_decreasing_with_distance_is_minus_one():
    length = 101
    summits = np.array([50, 10, 80.5])
    g = 1.0 / (1.0 + np.abs(np.arange(length) - summits[:, None]))
    np.testing.assert_allclose(summit_spearman(tracks(g), summits), -1.0)
    np.testing.assert_allclose(summit_spearman(tracks(1 / g), summits), 1.0)  # rising


def test_summit_spearman_matches_scipy_and_nan_cases():
    rng = np.random.default_rng(2)
    attr, summits = rng.normal(size=(6, 4, 30)), rng.integers(0, 30, size=6)
    g = np.abs(attr).sum(axis=1)
    expected = [scipy.stats.spearmanr(row, np.abs(np.arange(30) - s)).statistic
                for row, s in zip(g, summits)]
    np.testing.assert_allclose(summit_spearman(attr, summits), expected)
    out = summit_spearman(tracks(np.stack([np.ones(30), g[0]])), [5, np.nan])
    assert np.isnan(out).all()


def test_gc_reliance_sign_bound_and_motif_exclusion():
    X = one_hot("ACGTACGTAC")
    gc = (X[0, 1] + X[0, 2])[None]
    np.testing.assert_allclose(gc_reliance(X * gc, X), 1.0)          # only G/C
    np.testing.assert_allclose(gc_reliance(X * (1 - gc), X), -1.0)   # only A/T
    np.testing.assert_allclose(gc_reliance(X, X), 0.0, atol=1e-12)   # no preference
    # Mean per base: A/T get 1, G/C get 3 -> (3 - 1) / (3 + 1).
    np.testing.assert_allclose(gc_reliance(X * (1 + 2 * gc), X), 0.5)
    # A huge attribution on a motif G/C base is excluded from the background.
    mask = np.zeros((1, 10), bool)
    mask[0, 1] = True
    attr = X.copy()
    attr[0, :, 1] *= 100
    np.testing.assert_allclose(gc_reliance(attr, X, mask), 0.0, atol=1e-12)
    assert gc_reliance(attr, X)[0] > 0.5
    only_at = one_hot("AAAATTTTAA")
    assert np.isnan(gc_reliance(only_at, only_at)[0])  # no background G/C
    assert np.isnan(gc_reliance(X * 0, X)[0])  # no attribution


def test_continuous_jaccard():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(4, 4, 25))
    np.testing.assert_allclose(continuous_jaccard(a, a), 1.0)
    np.testing.assert_allclose(continuous_jaccard(a, -a), -1.0)
    np.testing.assert_allclose(continuous_jaccard(tracks([1, 2]), tracks([0.5, -2])),
                               (0.5 - 2) / (1 + 2))
    assert np.isnan(continuous_jaccard(np.zeros((1, 4, 3)), np.zeros((1, 4, 3)))[0])
    with pytest.raises(RegbenchError):
        continuous_jaccard(a, a[:, :, :5])


def test_summarize_interpretability_columns_and_missing_truth():
    rng = np.random.default_rng(4)
    X = np.eye(4)[rng.integers(0, 4, size=(3, 60))].transpose(0, 2, 1)
    attr = X * rng.normal(size=(3, 1, 60))
    mask = np.zeros((3, 60), bool)
    mask[:, 25:35] = True
    full = summarize_interpretability(attr, X, motif_mask=mask, summits=[30, 30, 30])
    assert list(full.columns) == ["highfreq_fraction", "entropy", "motif_fraction",
                                  "motif_auprc", "summit_spearman", "gc_reliance"]
    assert len(full) == 3 and full.notna().all().all()
    np.testing.assert_allclose(full["motif_fraction"], motif_fraction(attr, mask))
    bare = summarize_interpretability(torch.from_numpy(attr), torch.from_numpy(X))
    assert bare[["motif_fraction", "motif_auprc", "summit_spearman"]].isna().all().all()
    assert bare[["highfreq_fraction", "entropy", "gc_reliance"]].notna().all().all()


def test_bad_shapes_raise_regbench_error():
    with pytest.raises(RegbenchError):
        attribution_entropy(np.zeros((3, 10)))
    with pytest.raises(RegbenchError):
        motif_fraction(np.ones((2, 4, 10)), np.ones((2, 9), bool))


# -- performance and loss -----------------------------------------------------

def test_binary_performance_perfectly_separable():
    y = np.array([[0, 1], [0, 0], [1, 1], [1, 0]])
    logits = np.where(y == 1, 2.0, -2.0) + np.array([[0.1], [0.2], [0.3], [0.4]])
    perf = binary_performance(y, logits)
    assert perf["accuracy"] == perf["auroc"] == perf["auprc"] == 1.0
    assert 0 < perf["balanced_bce"] < 0.2


def test_binary_performance_matches_sklearn():
    rng = np.random.default_rng(5)
    y = (rng.random((200, 3)) < [0.1, 0.5, 0.7]).astype(int)
    logits = rng.normal(size=(200, 3)) + y
    perf = binary_performance(torch.from_numpy(y), torch.from_numpy(logits))
    assert perf["auroc"] == pytest.approx(np.mean(
        [roc_auc_score(y[:, t], logits[:, t]) for t in range(3)]))
    assert perf["auprc"] == pytest.approx(np.mean(
        [average_precision_score(y[:, t], logits[:, t]) for t in range(3)]))
    assert perf["accuracy"] == pytest.approx(np.mean((logits > 0) == y))


def test_binary_performance_single_class_task_is_nan_not_crash():
    y = np.array([[1, 0], [1, 1], [1, 0]])
    logits = np.array([[1.0, -1.0], [2.0, 1.0], [0.5, -2.0]])
    perf = binary_performance(y, logits)
    assert perf["auroc"] == 1.0  # task 0 has one class: left out of the mean
    only_one_class = binary_performance([1, 1, 1], [0.1, 0.2, 0.3])
    assert np.isnan(only_one_class["auroc"]) and np.isnan(only_one_class["auprc"])
    with pytest.raises(RegbenchError):
        binary_performance(y, logits[:, :1])


def test_balanced_bce_hand_computed():
    logits, targets = torch.tensor([[0.0], [2.0], [-1.0]]), torch.tensor([[1.0], [0.0], [0.0]])
    softplus = lambda x: math.log1p(math.exp(x))  # noqa: E731  BCE of a negative at logit x
    expected = 0.5 * (math.log(2) + 0.5 * (softplus(2.0) + softplus(-1.0)))
    assert balanced_bce_loss(logits, targets).item() == pytest.approx(expected)
    assert balanced_bce(targets.numpy(), logits.numpy()) == pytest.approx(expected)
    # Tasks are averaged: a second task with one positive at logit 0 and one negative.
    two = balanced_bce_loss(torch.tensor([[0.0, 0.0], [2.0, 0.0], [-1.0, 0.0]]),
                            torch.tensor([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]))
    assert two.item() == pytest.approx(0.5 * (expected + math.log(2)))


def test_balanced_bce_without_one_class_is_finite_and_differentiable():
    logits = torch.tensor([[0.5, -1.0], [1.5, 0.3]], requires_grad=True)
    targets = torch.tensor([[0.0, 1.0], [0.0, 1.0]])  # task 0 no positives, task 1 no negatives
    loss = balanced_bce_loss(logits, targets)
    assert loss.dim() == 0 and torch.isfinite(loss)
    nll = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    assert loss.item() == pytest.approx(nll.mean(dim=0).mean().item())
    loss.backward()
    assert torch.isfinite(logits.grad).all() and (logits.grad != 0).all()
    empty = balanced_bce_loss(torch.zeros(0, 2, requires_grad=True), torch.zeros(0, 2))
    assert empty.item() == 0.0
