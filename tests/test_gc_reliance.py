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


# -- every attribution method, through the registry and the metric registry ------------------

def method_reliance(method: str, background: str, gc: float, motif: bool = False):
    """GC reliance of ``method``'s attributions of a linear counter, as evaluation
    scores them (the method's registry entry says how to read its scores)."""
    from regbench.attributions import ExplainSettings, describe_attribution_method, explain
    from regbench.metrics import GroundTruth, get_metric
    X, mask = sequences(gc, 0)
    attr = explain(method, linear_model(background, motif=motif), X,
                   ExplainSettings(n_shuffles=4, ig_steps=4))
    truth = GroundTruth(X.numpy(), mask if motif else None,
                        scores=describe_attribution_method(method).scores)
    return get_metric("gc_reliance").compute(attr.detach().numpy(), truth)


def all_methods():
    from regbench.attributions import list_attribution_methods
    return list_attribution_methods()


@pytest.mark.parametrize("gc", [0.4, 0.7])
@pytest.mark.parametrize("method", all_methods())
def test_every_method_scores_a_gc_counter_plus_one_and_an_at_counter_minus_one(method, gc):
    # Before, ISM gave -1 to the G/C counter (its differences read as actual scores
    # have the opposite sign) and saliency followed the sequence's GC (about 2 gc - 1
    # for both models); corrected saliency gave NaN (0 / 0).
    np.testing.assert_allclose(method_reliance(method, "gc", gc), 1.0, atol=1e-5)
    np.testing.assert_allclose(method_reliance(method, "at", gc), -1.0, atol=1e-5)


@pytest.mark.parametrize("method", ["saliency", "ism"])
def test_hypothetical_scores_with_a_motif(method):
    """A background-blind model scores 0; the G/C counter's motif takes its share."""
    np.testing.assert_allclose(method_reliance(method, "blind", 0.6, motif=True), 0.0,
                               atol=1e-6)
    # background positions prefer G/C by 1 each; motif positions weigh 2 at one base,
    # so |h - mean| sums to 3 there: 1.5 after halving, 12 of them
    n_background = L - len(MOTIF)
    np.testing.assert_allclose(method_reliance(method, "gc", 0.6, motif=True),
                               n_background / (n_background + 1.5 * len(MOTIF)), atol=1e-5)


def test_hypothetical_gc_reliance_by_hand():
    from regbench.metrics.interpretability import hypothetical_gc_reliance
    # position 0: h = (0, 1, 3, 0) -> centred (-1, 0, 2, -1): d = (0 + 2 + 1 + 1) / 2 = 2,
    # |h| sum 4 -> 2; position 1 (an N): left out; position 2: h = (1, 1, 1, 1): 0, 0
    attr = np.array([[[0, 5, 1], [1, 5, 1], [3, 5, 1], [0, 5, 1]]], float)
    X = np.array([[[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]]], float)
    np.testing.assert_allclose(hypothetical_gc_reliance(attr, X), [1.0])
    np.testing.assert_allclose(hypothetical_gc_reliance(-attr, X), [-1.0])
    assert np.isnan(hypothetical_gc_reliance(attr, X, np.array([[1, 0, 1]], bool)))[0]


def test_an_unknown_kind_of_scores_is_one_line():
    from regbench.attributions import register_attribution_method
    from regbench.errors import RegbenchError
    with pytest.raises(RegbenchError, match="scores = 'both' is not valid"):
        register_attribution_method("mine", scores="both")
