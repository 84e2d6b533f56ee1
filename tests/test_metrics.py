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
    continuous_jaccard, gc_reliance, get_metric, highfreq_fraction, motif_auprc,
    motif_auprc_per_sequence, motif_fraction, summarize_interpretability, summit_spearman,
)
from regbench.metrics.interpretability import (SCALE_FREE_PSEUDOCOUNT, attribution_scale,
                                               scale_free_entropy)


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

def authors_highfreq(imp_scores, freq_limit):
    """The authors' ``fourier_highfreq_mags`` (view_binary_predictions.ipynb), with
    their ``dft``, on (N, L, 4) actual scores."""
    scores = []
    for track in np.sum(np.abs(imp_scores), axis=2):
        mags = np.abs(np.fft.fft(track))[:int(len(track) / 2)]
        mags = mags[1:]
        mags = mags / np.sum(mags)
        scores.append(np.sum(mags[freq_limit:]))
    return np.array(scores)


def authors_entropy(imp_scores, pseudocount=0.001):
    """The authors' ``entropy`` (view_binary_predictions.ipynb), (N, L, 4) scores."""
    summed = np.sum(np.abs(imp_scores), axis=2) + pseudocount
    norm = summed / np.sum(summed, axis=1, keepdims=True)
    return -np.sum(norm * np.log2(norm), axis=1)


def authors_motif_auprc(actual, motif_masks):
    """The authors' pooled precision-recall (importance_compare_to_gc_content_simulations
    .ipynb, get_motif_overlap_mask with window 1): all positions ranked by |actual|,
    the rank as score, area by ``auc`` without the curve's last point."""
    from sklearn.metrics import auc, precision_recall_curve
    imps = np.concatenate([np.abs(a).sum(axis=1) for a in actual])   # (N * L,)
    masks = np.concatenate(list(motif_masks))
    ranked = masks[np.flip(np.argsort(imps))]
    precision, recall, _ = precision_recall_curve(
        ranked.astype(int), np.flip(np.arange(len(ranked))) / len(ranked))
    return auc(recall[:-1], precision[:-1])


def test_all_attribution_in_motif_gives_fraction_and_per_sequence_auprc_one():
    mask = np.zeros((2, 50), bool)
    mask[:, 20:30] = True
    g = np.where(mask, np.linspace(1, 2, 50), 0.0)
    g[1, 20:30] = -g[1, 20:30] - 5  # sign must not matter; distinct from sequence 0
    np.testing.assert_allclose(motif_fraction(tracks(g), mask), 1.0)
    np.testing.assert_allclose(motif_auprc_per_sequence(tracks(g), mask), 1.0)
    # Pooled, without the curve's end point at recall 0: a perfect ranking of 20 motif
    # positions covers recall 1/20 .. 1 at precision 1.
    assert motif_auprc(tracks(g), mask) == pytest.approx(1 - 1 / 20)


def test_motif_fraction_half_and_undefined_cases():
    mask = np.zeros((1, 4), bool)
    mask[0, :2] = True
    assert motif_fraction(tracks([1, 1, 1, 1]), mask)[0] == pytest.approx(0.5)
    assert np.isnan(motif_fraction(tracks([0, 0, 0, 0]), mask)[0])
    for empty_or_full in (np.zeros((1, 4), bool), np.ones((1, 4), bool)):
        assert np.isnan(motif_auprc_per_sequence(tracks([1, 2, 3, 4]), empty_or_full)[0])
        assert np.isnan(motif_auprc(tracks([1, 2, 3, 4]), empty_or_full))


def test_motif_auprc_pooled_hand_computed():
    # Ranking 4 > 3 > 2 > 1 against motif [1, 0, 1, 0]: the curve's points (recall,
    # precision) are (1, 1/2), (1, 2/3), (1/2, 1/2), (1/2, 1); the trapezoids span only
    # recall 1/2 .. 1, between precisions 1/2 and 2/3: (1/2 + 2/3) / 2 * 1/2 = 7/24.
    assert motif_auprc(tracks([4, 3, 2, 1]), np.array([[1, 0, 1, 0]], bool)) \
        == pytest.approx(7 / 24)
    # Every position tied: one threshold, precision = the motif share.
    assert motif_auprc(tracks([1, 1, 1, 1]), np.array([[1, 0, 0, 0]], bool)) \
        == pytest.approx(1 / 4)


def test_motif_auprc_matches_the_authors_code_and_sklearn_per_sequence():
    rng = np.random.default_rng(0)
    attr, mask = rng.normal(size=(5, 4, 40)), rng.random((5, 40)) < 0.3
    expected = authors_motif_auprc(attr.transpose(0, 2, 1), mask)
    assert motif_auprc(torch.from_numpy(attr), mask) == pytest.approx(expected, rel=1e-12)
    g = np.abs(attr).sum(axis=1)
    per_seq = [average_precision_score(m, row) for m, row in zip(mask, g)]
    np.testing.assert_allclose(motif_auprc_per_sequence(attr, mask), per_seq)


def test_entropy_in_bits_with_the_authors_pseudocount():
    length = 64
    spike = np.zeros(length)
    spike[10] = -3.0
    h = attribution_entropy(tracks(np.stack([np.full(length, 0.7), spike, np.zeros(length)])))
    assert h[0] == pytest.approx(math.log2(length))
    # The spike by hand: p = (3 + e) / (3 + 64 e) once, e / (3 + 64 e) 63 times.
    e = 0.001
    p = np.array([(3 + e)] + [e] * 63) / (3 + 64 * e)
    assert h[1] == pytest.approx(-(p * np.log2(p)).sum())
    assert np.isnan(h[2])
    rng = np.random.default_rng(1)
    attr = rng.normal(size=(20, 4, length)) * 0.01
    np.testing.assert_allclose(attribution_entropy(attr),
                               authors_entropy(attr.transpose(0, 2, 1)), rtol=1e-12)


def test_scale_free_entropy_ignores_the_attribution_scale_and_the_authors_does_not():
    rng = np.random.default_rng(7)
    attr = rng.normal(size=(6, 4, 200)) * 0.01
    attr[:, 1, 90:100] += 0.5                         # a motif-like bump on a noisy track
    h = scale_free_entropy(attr)
    assert np.isfinite(h).all() and (h < math.log2(200)).all()
    for c in (1e-3, 0.1, 10, 1e3):
        np.testing.assert_allclose(scale_free_entropy(c * attr), h, rtol=1e-12, atol=0)
        np.testing.assert_allclose(scale_free_entropy(-c * attr), h, rtol=1e-12, atol=0)
    # The authors' pseudocount is in attribution units: shrinking the same tracks
    # ten-fold flattens them by a measurable part of a bit, growing them sharpens them.
    authors = attribution_entropy(attr)
    assert (attribution_entropy(0.1 * attr) - authors > 0.1).all()
    assert (attribution_entropy(10 * attr) < authors).all()


def test_scale_free_entropy_hand_computed():
    length, e = 64, SCALE_FREE_PSEUDOCOUNT
    spike = np.zeros(length)
    spike[10] = -3.0
    g = np.stack([np.full(length, 0.7), spike, np.zeros(length), np.arange(length) % 2])
    h = scale_free_entropy(tracks(g))
    # Uniform: the pseudocount adds the same to every position, log2 L for both.
    assert h[0] == pytest.approx(math.log2(length), abs=1e-12)
    assert attribution_entropy(tracks(g[:1]))[0] == pytest.approx(math.log2(length),
                                                                   abs=1e-12)
    # A spike of height 3: mean 3 / 64, pseudocount e × 3 / 64 at every position, so
    # p = (1 + e / 64) / (1 + e) once and (e / 64) / (1 + e) 63 times, whatever the 3.
    p = np.array([1 + e / length] + [e / length] * 63) / (1 + e)
    assert h[1] == pytest.approx(-(p * np.log2(p)).sum(), rel=1e-12)
    assert np.isnan(h[2])                              # all zero: nothing attributed
    # Half the positions at 1, half at 0: p = (2 / L + e / L) / (1 + e) on 32 positions,
    # (e / L) / (1 + e) on the other 32.
    half = np.array([(2 + e) / length] * 32 + [e / length] * 32) / (1 + e)
    assert h[3] == pytest.approx(-(half * np.log2(half)).sum(), rel=1e-12)
    # epsilon 0: the plain entropy of g / sum(g), 1 bit short of log2 L for the halves.
    assert scale_free_entropy(tracks(g[3:]), epsilon=0)[0] == pytest.approx(
        math.log2(length) - 1, abs=1e-12)


def test_attribution_scale_is_the_total_magnitude_and_registered_without_direction():
    attr = np.zeros((3, 4, 5))
    attr[0, 0, 0], attr[0, 2, 0], attr[0, 3, 4] = 1.5, -0.5, 2.0
    attr[1] = -0.25
    np.testing.assert_allclose(attribution_scale(attr), [4.0, 5.0, 0.0], rtol=0, atol=0)
    np.testing.assert_allclose(attribution_scale(torch.from_numpy(3 * attr)), [12, 15, 0])
    metric = get_metric("attribution_scale")
    assert metric.direction == "" and metric.per_sequence and metric.in_results
    assert not metric.headline and metric.lead is None
    companion = get_metric("entropy_scale_free")
    assert (companion.direction, companion.headline) == ("lower", False)
    with pytest.raises(RegbenchError, match="direction must be"):
        from regbench.metrics import register_metric
        register_metric("sideways", needs="nothing", direction="up", label="x")


def test_highfreq_fraction_bump_lower_than_noise():
    length = 200
    bump = np.exp(-0.5 * ((np.arange(length) - 100) / 15.0) ** 2)
    noise = np.random.default_rng(0).normal(size=length)
    frac = highfreq_fraction(tracks(np.stack([bump, noise])))
    assert frac[0] < 1e-3 < 0.3 < frac[1]


def test_highfreq_fraction_hand_computed():
    # L = 8 keeps frequencies 1, 2, 3 (the first floor(L/2) = 4 bins, DC dropped).
    # A spike has a flat spectrum: above T = 1 lie 2 of 3, above T = 2 lie 1 of 3.
    spike = [0, 0, 5, 0, 0, 0, 0, 0]
    assert highfreq_fraction(tracks(spike), freq_limit=1)[0] == pytest.approx(2 / 3)
    assert highfreq_fraction(tracks(spike), freq_limit=2)[0] == pytest.approx(1 / 3)
    i = np.arange(8)
    low, high = 2 + np.cos(2 * np.pi * i / 8), 2 + np.cos(2 * np.pi * 3 * i / 8)
    assert highfreq_fraction(tracks(low), freq_limit=1)[0] == pytest.approx(0, abs=1e-12)
    assert highfreq_fraction(tracks(high), freq_limit=1)[0] == pytest.approx(1)
    # No smoothing: frequency 3 is not damped (the training penalty's sigma = 3 would).
    assert highfreq_fraction(tracks(high), freq_limit=2)[0] == pytest.approx(1)
    assert np.isnan(highfreq_fraction(tracks([0] * 8), freq_limit=1)[0])
    assert np.isnan(highfreq_fraction(tracks([3] * 8), freq_limit=1)[0])  # DC only
    with pytest.raises(RegbenchError):
        highfreq_fraction(tracks([1, 2, 3, 4]), freq_limit=3)


def test_highfreq_fraction_ignores_a_uniform_offset_and_matches_the_authors():
    rng = np.random.default_rng(7)
    attr = rng.normal(size=(6, 4, 101)) * (rng.random((6, 1, 101)) < 0.3)
    base = highfreq_fraction(attr, freq_limit=15)
    offset = attr.copy()
    offset[:, 0] = np.abs(offset[:, 0]) + 2.5  # g grows by 2.5 at every position
    offset[:, 1:] = np.abs(offset[:, 1:])
    np.testing.assert_allclose(highfreq_fraction(offset, freq_limit=15), base, rtol=1e-10)
    for length in (100, 101):
        a = attr[:, :, :length]
        np.testing.assert_allclose(highfreq_fraction(a, freq_limit=15),
                                   authors_highfreq(a.transpose(0, 2, 1), 15), rtol=1e-12)


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


def test_gc_reliance_hand_computed():
    X = one_hot("ACGTACGTAC")   # G/C at 1, 2, 5, 6, 9
    gc = (X[0, 1] + X[0, 2])[None]
    # +1 at every G/C, -1 at every A/T: all of it rewards G/C over A/T.
    np.testing.assert_allclose(gc_reliance(X * np.where(gc, 1.0, -1.0), X), 1.0)
    np.testing.assert_allclose(gc_reliance(X * np.where(gc, -1.0, 1.0), X), -1.0)
    # Unsigned attribution at every base is no preference: +5 - 5 over 10.
    np.testing.assert_allclose(gc_reliance(X, X), 0.0, atol=1e-12)
    # +2 at G/C, +1 at A/T: (10 - 5) / 15.
    np.testing.assert_allclose(gc_reliance(X * (1 + gc), X), 1 / 3)
    # A motif at position 1 (a C) with attribution 10: out of the contrast, in the total.
    mask = np.zeros((1, 10), bool)
    mask[0, 1] = True
    attr = X * np.where(gc, 1.0, -1.0)
    attr[0, :, 1] *= 10
    np.testing.assert_allclose(gc_reliance(attr, X, mask), 9 / 19)
    only_at = one_hot("AAAATTTTAA")
    assert np.isnan(gc_reliance(only_at, only_at)[0])  # no background G/C
    assert np.isnan(gc_reliance(X * 0, X)[0])  # no attribution
    motif_only = X * mask[:, None, :]
    assert gc_reliance(motif_only, X, mask)[0] == 0.0  # blind to the background


def test_continuous_jaccard_is_scale_free():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(4, 4, 25))
    np.testing.assert_allclose(continuous_jaccard(a, a), 1.0)
    np.testing.assert_allclose(continuous_jaccard(a, 3.7 * a), 1.0)
    np.testing.assert_allclose(continuous_jaccard(a, 0.01 * a), 1.0)
    np.testing.assert_allclose(continuous_jaccard(a, -a), -1.0)
    np.testing.assert_allclose(continuous_jaccard(a, -2 * a), -1.0)
    # [1, 2] -> [1/3, 2/3]; [0.5, -2] -> [1/5, -4/5]: (1/5 - 2/3) / (1/3 + 4/5).
    np.testing.assert_allclose(continuous_jaccard(tracks([1, 2]), tracks([0.5, -2])),
                               (1 / 5 - 2 / 3) / (1 / 3 + 4 / 5))
    zero = np.zeros((1, 4, 3))
    assert np.isnan(continuous_jaccard(zero, zero)[0])
    assert np.isnan(continuous_jaccard(zero, np.ones((1, 4, 3)))[0])
    with pytest.raises(RegbenchError):
        continuous_jaccard(a, a[:, :, :5])


def test_continuous_jaccard_of_independent_tracks_is_near_zero():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(2, 500, 4, 200))
    values = continuous_jaccard(a, b)
    assert abs(values.mean()) < 0.01 and values.std() < 0.05


def authors_cont_jaccard(seq_1, seq_2):
    """The authors' ``cont_jaccard``, verbatim from
    notebooks/consistency_of_importance_over_different_initializations.ipynb: two
    (L, 4) arrays of hypothetical scores, the per-position ratios summed."""
    # L1-normalize
    norm_1 = np.sum(np.abs(seq_1), axis=1, keepdims=True)
    norm_2 = np.sum(np.abs(seq_2), axis=1, keepdims=True)
    norm_1[norm_1 == 0] = 1
    norm_2[norm_2 == 0] = 1
    seq_1 = seq_1 / norm_1
    seq_2 = seq_2 / norm_2

    ab_1, ab_2 = np.abs(seq_1), np.abs(seq_2)
    inter = np.sum(np.minimum(ab_1, ab_2) * np.sign(seq_1) * np.sign(seq_2), axis=1)
    union = np.sum(np.maximum(ab_1, ab_2), axis=1)
    zero_mask = union == 0
    inter[zero_mask] = 0
    union[zero_mask] = 1
    return np.sum(inter / union)


def test_jaccard_positional_is_the_authors_cont_jaccard_over_the_length():
    from regbench.metrics import jaccard_positional
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(2, 6, 4, 30))
    a[0, :, 3] = b[0, :, 3] = 0          # an all-zero position in both
    b[1, :, 7] = 0                       # and in one of them
    length = a.shape[2]
    expected = [authors_cont_jaccard(x.T, y.T) / length for x, y in zip(a, b)]
    np.testing.assert_allclose(jaccard_positional(a, b), expected, rtol=1e-12)
    np.testing.assert_allclose(jaccard_positional(a[1:], 2 * a[1:]), 1.0)
    np.testing.assert_allclose(jaccard_positional(a[1:], 0.01 * a[1:]), 1.0)
    np.testing.assert_allclose(jaccard_positional(a[1:], -a[1:]), -1.0)
    # by hand, L = 2: position 0 (1, 0, 0, 1) vs (0, 0, 0, 3): [.5, 0, 0, .5] vs [0, 0, 0, 1]
    # gives .5 / 1.5 = 1/3; position 1 all zero in one: 0. Mean over 2: 1/6.
    x = np.array([[[1, 0], [0, 0], [0, 0], [1, 0]]], float)
    y = np.array([[[0, 1], [0, 2], [0, 0], [3, 0]]], float)
    np.testing.assert_allclose(jaccard_positional(x, y), [1 / 6])
    with pytest.raises(RegbenchError):
        jaccard_positional(a, a[:, :, :5])


def test_summarize_interpretability_columns_and_missing_truth():
    rng = np.random.default_rng(4)
    X = np.eye(4)[rng.integers(0, 4, size=(3, 60))].transpose(0, 2, 1)
    attr = X * rng.normal(size=(3, 1, 60))
    mask = np.zeros((3, 60), bool)
    mask[:, 25:35] = True
    full = summarize_interpretability(attr, X, motif_mask=mask, summits=[30, 30, 30])
    assert list(full.columns) == ["highfreq_fraction", "entropy", "entropy_scale_free",
                                  "attribution_scale", "motif_fraction",
                                  "motif_auprc_per_sequence", "summit_spearman",
                                  "peak_fraction", "gc_reliance"]
    assert len(full) == 3 and full.drop(columns="peak_fraction").notna().all().all()
    assert full["peak_fraction"].isna().all()   # no peak intervals given
    np.testing.assert_allclose(full["motif_fraction"], motif_fraction(attr, mask))
    bare = summarize_interpretability(torch.from_numpy(attr), torch.from_numpy(X))
    assert bare[["motif_fraction", "motif_auprc_per_sequence",
                 "summit_spearman"]].isna().all().all()
    assert bare[["highfreq_fraction", "entropy", "entropy_scale_free", "attribution_scale",
                 "gc_reliance"]].notna().all().all()
    np.testing.assert_allclose(full["attribution_scale"], np.abs(attr).sum(axis=(1, 2)))
    np.testing.assert_allclose(full["entropy_scale_free"], scale_free_entropy(attr))


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
