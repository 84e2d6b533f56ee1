"""Performance of profile models: predicted per-strand profiles and total counts
against observed read counts. targets: (N, 2T, L) counts; predictions: (profile logits
(N, 2T, L), log counts (N, 2T)) as NumPy arrays."""
from __future__ import annotations

import numpy as np
from scipy.special import gammaln, log_softmax
from scipy.spatial.distance import jensenshannon
from scipy.stats import pearsonr, spearmanr


def multinomial_nll(targets, predictions) -> float:
    """Mean over examples and tracks of the multinomial negative log-likelihood (nats)
    of the observed counts under softmax(profile logits), with the counts given:
    -log(n! / Π y_i!) - Σ y_i log p_i. Tracks without reads are left out."""
    y = np.asarray(targets, np.float64)
    logp = log_softmax(np.asarray(predictions[0], np.float64), axis=-1)
    n = y.sum(-1)
    nll = -(gammaln(n + 1) - gammaln(y + 1).sum(-1) + (y * logp).sum(-1))
    return float(nll[n > 0].mean()) if (n > 0).any() else float("nan")


def profile_jsd(targets, predictions) -> float:
    """Mean Jensen-Shannon distance (base 2, in [0, 1]) between the predicted profile
    softmax(logits) and the observed one y / Σ y, over tracks with reads."""
    y = np.asarray(targets, np.float64)
    p = np.exp(log_softmax(np.asarray(predictions[0], np.float64), axis=-1))
    n = y.sum(-1)
    keep = n > 0
    if not keep.any():
        return float("nan")
    d = jensenshannon(p[keep], y[keep] / n[keep][:, None], axis=-1, base=2)
    return float(np.mean(d))


def _log_counts(targets, predictions):
    observed = np.log1p(np.asarray(targets, np.float64).sum(-1)).ravel()
    return observed, np.asarray(predictions[1], np.float64).ravel()


def counts_pearson(targets, predictions) -> float:
    """Pearson r of predicted log counts vs log(1 + observed counts), all tracks."""
    observed, predicted = _log_counts(targets, predictions)
    return float(pearsonr(observed, predicted)[0]) if len(observed) > 1 else float("nan")


def counts_spearman(targets, predictions) -> float:
    """Spearman ρ of predicted vs observed total counts, all tracks."""
    observed, predicted = _log_counts(targets, predictions)
    return float(spearmanr(observed, predicted)[0]) if len(observed) > 1 else float("nan")


__all__ = ["counts_pearson", "counts_spearman", "multinomial_nll", "profile_jsd"]
