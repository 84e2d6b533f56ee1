"""Penalty functions against hand-computed cases and an independent NumPy reference."""
import numpy as np
import pytest
import scipy.ndimage
import torch

from regbench import RegbenchError
from regbench.regularizers import fourier_penalty, smoothness_penalty, sparsity_penalty
from regbench.regularizers.erion import sparsity_penalty_pairwise


def as_attr(g, dtype=torch.float64):
    """Put tracks g (N, L) into the A channel of an (N, 4, L) attribution tensor."""
    g = torch.as_tensor(np.atleast_2d(g), dtype=dtype)
    attr = torch.zeros(g.shape[0], 4, g.shape[1], dtype=dtype)
    attr[:, 0] = g
    return attr


def reference_fourier(g, T, s, sigma):
    """Independent NumPy implementation of DESIGN.md's definition. g: (L,)."""
    g = np.asarray(g, float)
    if sigma > 0:
        # Gaussian truncated at one sigma, zero padding: scipy's constant-mode filter.
        g = scipy.ndimage.gaussian_filter1d(g, sigma, truncate=1.0, mode="constant")
    m = np.abs(np.fft.rfft(g))
    m = m / m.sum() if m.sum() > 0 else m
    k = np.arange(1, len(m))
    w = np.where(k <= T, 1.0, 0.0 if s is None else 1.0 / (1.0 + np.abs(k - T) ** (s or 1)))
    return 1.0 - np.sum(w * m[1:])


L = 64


def test_flat_track_has_only_dc_power():
    assert fourier_penalty(as_attr(np.full(L, 0.7)), 10, smooth_sigma=0).item() == pytest.approx(1.0)


def test_zero_row_gives_one_not_nan():
    out = fourier_penalty(as_attr(np.zeros((2, L))), 10)
    assert out.item() == 1.0


def test_single_spike_hard_cut():
    g = np.zeros(L)
    g[20] = 3.0
    # |rfft| of a spike is flat: each of the L//2 + 1 terms has weight 1 / (L//2 + 1).
    expected = 1 - 10 / (L // 2 + 1)
    assert fourier_penalty(as_attr(g), 10, softness=None, smooth_sigma=0).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("freq,T,penalty", [(4, 10, 2 / 3), (20, 10, 1.0)])
def test_sinusoid_below_and_above_limit(freq, T, penalty):
    g = 1 + np.cos(2 * np.pi * freq * np.arange(L) / L)  # DC = L, |m_f| = L/2
    got = fourier_penalty(as_attr(g), T, softness=None, smooth_sigma=0).item()
    assert got == pytest.approx(penalty, rel=1e-12)


def test_sinusoid_above_limit_soft_weight():
    g = 1 + np.cos(2 * np.pi * 20 * np.arange(L) / L)
    got = fourier_penalty(as_attr(g), 10, softness=0.2, smooth_sigma=0).item()
    assert got == pytest.approx(1 - (1 / 3) / (1 + 10 ** 0.2), rel=1e-12)


@pytest.mark.parametrize("T,s,sigma", [(15, 0.2, 3), (5, None, 3), (30, 0.5, 0), (9, 0.2, 1.5), (3, 0.2, 5)])
def test_fourier_matches_reference_on_random_tracks(T, s, sigma):
    rng = np.random.default_rng(T)
    g = rng.exponential(size=(5, L + 1))  # odd length exercises the rfft edge
    ref = np.mean([reference_fourier(row, T, s, sigma) for row in g])
    for dtype in (torch.float64, torch.float32):
        got = fourier_penalty(as_attr(g, dtype), T, softness=s, smooth_sigma=sigma).item()
        assert got == pytest.approx(ref, rel=1e-6 if dtype == torch.float64 else 1e-5)


def test_fourier_uses_abs_over_channels():
    rng = np.random.default_rng(0)
    attr = torch.as_tensor(rng.normal(size=(3, 4, L)))
    g = attr.abs().sum(1).numpy()
    ref = np.mean([reference_fourier(row, 8, 0.2, 3) for row in g])
    assert fourier_penalty(attr, 8).item() == pytest.approx(ref, rel=1e-9)


def test_fourier_is_bounded():
    rng = np.random.default_rng(1)
    attr = torch.as_tensor(rng.normal(size=(20, 4, 100)))
    per = fourier_penalty(attr, 5, reduction="none")
    assert per.shape == (20,) and bool(((per >= 0) & (per <= 1)).all())


def test_smoothness_hand_case():
    g = np.array([[0.0, 1.0, 0.0, 2.0], [1.0, 1.0, 1.0, 1.0]])
    assert smoothness_penalty(as_attr(g)).item() == pytest.approx((4.0 + 0.0) / 2)


def test_sparsity_hand_cases():
    spike = np.zeros(L)
    spike[5] = 2.0
    assert sparsity_penalty(as_attr(spike)).item() == pytest.approx(-2 * (L - 1) / L, rel=1e-12)
    assert sparsity_penalty(as_attr(np.ones(L))).item() == pytest.approx(0.0, abs=1e-12)
    assert sparsity_penalty(as_attr(np.zeros(L))).item() == 0.0


def test_sorted_gini_equals_pairwise_definition():
    rng = np.random.default_rng(3)
    attr = torch.as_tensor(rng.normal(size=(7, 4, 301)))
    g = attr.abs().sum(1).numpy()
    by_hand = np.mean([-np.abs(r[:, None] - r[None, :]).sum() / (len(r) * r.sum()) for r in g])
    assert sparsity_penalty(attr).item() == pytest.approx(by_hand, rel=1e-10)
    assert sparsity_penalty_pairwise(attr).item() == pytest.approx(by_hand, rel=1e-10)


@pytest.mark.parametrize("penalty", [
    lambda a: fourier_penalty(a, 10), smoothness_penalty, sparsity_penalty])
def test_double_backprop_reaches_weights(penalty):
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(4, 1, 5, padding=2)
    X = torch.nn.functional.one_hot(torch.randint(0, 4, (6, L)), 4).transpose(1, 2).float()
    X.requires_grad_(True)
    out = torch.tanh(conv(X)).sum()
    grad, = torch.autograd.grad(out, X, create_graph=True)
    penalty(grad * X).backward()
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


def test_gradcheck_fourier_and_sparsity():
    attr = torch.rand(2, 4, 16, dtype=torch.float64, requires_grad=True) + 0.1
    attr = attr.detach().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: fourier_penalty(a, 3), (attr,))
    assert torch.autograd.gradcheck(sparsity_penalty, (attr,))


@pytest.mark.parametrize("kwargs,match", [
    ({"freq_limit": 0}, "freq_limit"), ({"freq_limit": L // 2 + 1}, "freq_limit"),
    ({"freq_limit": 5, "softness": 0}, "softness"), ({"freq_limit": 5, "smooth_sigma": -1}, "smooth_sigma")])
def test_bad_fourier_arguments(kwargs, match):
    with pytest.raises(RegbenchError, match=match):
        fourier_penalty(torch.rand(2, 4, L), **kwargs)


def test_bad_attribution_shape():
    with pytest.raises(RegbenchError, match=r"\(N, 4, L\)"):
        smoothness_penalty(torch.rand(4, L))
