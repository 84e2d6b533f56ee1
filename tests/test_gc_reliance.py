"""GC reliance measures the model, not the sequence: exact linear models under
DeepLIFT/SHAP with dinucleotide-shuffled references (exact for linear models)."""
import numpy as np
import pytest
import torch
from torch import nn

from regbench.attributions import deep_lift_shap
from regbench.metrics import gc_reliance

L, N = 200, 24
MOTIF = "AAAGAGGAAGTG"          # an SPI1 site, in the middle of every sequence
START = (L - len(MOTIF)) // 2
BASES = "ACGT"


def sequences(gc: float, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    """N one-hot sequences (N, 4, L) of GC content ``gc`` with the motif, and its mask."""
    rng = np.random.default_rng(seed)
    codes = rng.choice(4, size=(N, L), p=[(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2])
    codes[:, START:START + len(MOTIF)] = [BASES.index(b) for b in MOTIF]
    mask = np.zeros((N, L), bool)
    mask[:, START:START + len(MOTIF)] = True
    return nn.functional.one_hot(torch.from_numpy(codes), 4).permute(0, 2, 1).float(), mask


def linear_model(background: str, seed: int = 0, motif: bool = True) -> nn.Module:
    """f(x) = sum w[b, i] x[b, i]: 2 per motif base matched, plus a background rule
    outside the motif: +1 per G/C ('gc'), +1 per A/T ('at'), nothing ('blind'), or
    random weights ('random'). ``motif=False``: the rule everywhere, no motif weights."""
    w = torch.zeros(4, L)
    outside = torch.ones(L, dtype=torch.bool)
    if motif:
        for k, base in enumerate(MOTIF):
            w[BASES.index(base), START + k] = 2.0
        outside[START:START + len(MOTIF)] = False
    if background == "gc":
        w[1:3, outside] = 1.0
    elif background == "at":
        w[0, outside] = w[3, outside] = 1.0
    elif background == "random":
        w[:, outside] = torch.randn(4, int(outside.sum()),
                                    generator=torch.Generator().manual_seed(seed))
    model = nn.Sequential(nn.Flatten(), nn.Linear(4 * L, 1))
    with torch.no_grad():
        model[1].weight.copy_(w.reshape(1, -1))
        model[1].bias.zero_()
    return model


def reliance(background: str, gc: float, seed: int = 0, motif: bool = True):
    X, mask = sequences(gc, seed)
    attr = deep_lift_shap(linear_model(background, seed, motif), X, n_shuffles=8,
                          random_state=0)
    return gc_reliance(attr.numpy(), X.numpy(), mask if motif else None)


@pytest.mark.parametrize("gc", [0.4, 0.5, 0.6, 0.7])
def test_the_model_decides_the_sign_whatever_the_sequence_gc(gc):
    counts_gc, counts_at = reliance("gc", gc), reliance("at", gc)
    blind, random = reliance("blind", gc), reliance("random", gc, seed=int(gc * 10))
    assert counts_gc.min() > 0.5, counts_gc
    assert counts_at.max() < -0.5, counts_at
    np.testing.assert_allclose(blind, 0.0, atol=1e-6)
    assert abs(random.mean()) < 0.1 and random.std() < 0.2


@pytest.mark.parametrize("gc", [0.4, 0.7])
def test_a_pure_background_counter_scores_exactly_one(gc):
    # Without a motif everything is background: the +1 per G/C model gets +(1 - q) at
    # each G/C and -q at each A/T (q: the references' GC share there), so all of its
    # attribution rewards G/C over A/T.
    np.testing.assert_allclose(reliance("gc", gc, motif=False), 1.0, atol=1e-5)
    np.testing.assert_allclose(reliance("at", gc, motif=False), -1.0, atol=1e-5)


def test_the_former_unsigned_measure_could_not_tell_the_models_apart():
    """Why the definition changed: |attribution| at G/C vs A/T follows 1 - 2p."""
    def unsigned(background):
        X, mask = sequences(0.6, 0)
        attr = deep_lift_shap(linear_model(background, motif=False), X, n_shuffles=8,
                              random_state=0).abs().sum(dim=1).numpy()
        gc = (X[:, 1] + X[:, 2]).numpy() > 0
        m_gc, m_at = attr[gc].mean(), attr[~gc].mean()
        return (m_gc - m_at) / (m_gc + m_at)
    assert unsigned("gc") == pytest.approx(unsigned("at"), abs=0.05)
    assert unsigned("gc") == pytest.approx(1 - 2 * 0.6, abs=0.1)
