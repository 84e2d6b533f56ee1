"""Per-sequence interpretability of attribution tracks, against ground truth.

Most metrics work on ``g = sum over bases of |attr|`` (shape (N, L)) and return one
value per sequence, NaN where it is undefined (an all-zero track, an empty mask);
``motif_auprc`` pools all sequences into one value, and ``gc_reliance`` uses the signed
attributions. Where the paper's authors defined a metric in their notebooks
(github amtseng/fourier_attribution_priors), the definition here is theirs; every
difference is named in the function's docstring and in docs/metrics.md.
"""
from __future__ import annotations

import numpy as np
import scipy.special
import scipy.stats
from sklearn.metrics import auc, average_precision_score, precision_recall_curve

from regbench.errors import RegbenchError
from regbench.metrics._arrays import as_mask, as_tracks, magnitude, safe_divide, to_numpy
from regbench.spectra import check_freq_limit, default_freq_limit


def highfreq_fraction(attr, freq_limit: int | None = None) -> np.ndarray:
    """Share of the Fourier spectrum of g above frequency T (the authors' evaluation metric).

    attr: (N, 4, L). As ``fourier_highfreq_mags`` in the paper authors' notebooks: the
    magnitudes |FFT(g)| of the *unsmoothed* track, the first floor(L/2) of them
    (frequencies 0 .. floor(L/2) - 1), DC dropped *before* normalising them to sum 1,
    then the sum over frequencies T + 1 .. floor(L/2) - 1 (their ``mags[freq_limit:]``
    once DC is cut). A uniform offset of g moves only DC, so it leaves the value
    unchanged. T defaults to ``default_freq_limit(L)`` (150 at 1000 bp, as the paper).
    Unlike the training penalty, nothing is smoothed and DC is not in the
    normalisation. Returns (N,) in [0, 1]; NaN when every non-DC magnitude is 0
    (e.g. a constant or all-zero track).
    """
    g = magnitude(attr)
    length = g.shape[1]
    freq_limit = default_freq_limit(length) if freq_limit is None else freq_limit
    check_freq_limit(length, freq_limit)
    mags = np.abs(np.fft.rfft(g, axis=1))[:, 1:length // 2]
    return safe_divide(mags[:, freq_limit:].sum(axis=1), mags.sum(axis=1))


def attribution_entropy(attr, pseudocount: float = 0.001) -> np.ndarray:
    """Shannon entropy, in bits, of p = (g + pseudocount) / sum(g + pseudocount).

    attr: (N, 4, L). The authors' ``entropy``: the pseudocount (in attribution units,
    default 0.001 as theirs) is added to every position before normalising, so a track
    whose values are all far below it reads as nearly uniform. Returns (N,): log2(L)
    for a uniform track (the maximum), near 0 for a single large spike; NaN for an
    all-zero track (nothing attributed; the authors' code would call it uniform).
    Lower means more concentrated.
    """
    g = magnitude(attr)
    padded = g + pseudocount
    p = safe_divide(padded, padded.sum(axis=1, keepdims=True))
    bits = scipy.special.entr(p).sum(axis=1) / np.log(2)
    return np.where(g.sum(axis=1) > 0, bits, np.nan)


# The scale-free entropy's pseudocount, as a share of the track's own mean magnitude:
# the authors' 0.001 in attribution units is this share on a track of typical scale.
# Quick-preset DeepLIFT/SHAP tracks (200 bp, seed 0, 200 positive test sequences) have
# a mean g of 0.068 (none) and 0.058 (fourier, λ = 1) per position, so 0.001 is 0.015
# and 0.017 of their mean; with 0.015 the two entropies agree there to 0.01 bits
# (6.571 vs 6.572 bits for none, 5.997 vs 5.988 for fourier).
SCALE_FREE_PSEUDOCOUNT = 0.015


def scale_free_entropy(attr, epsilon: float = SCALE_FREE_PSEUDOCOUNT) -> np.ndarray:
    """``attribution_entropy`` with a pseudocount relative to the track: epsilon × mean(g).

    attr: (N, 4, L). Shannon entropy, in bits, of p = (g + c) / sum(g + c) with
    c = epsilon × the track's own mean magnitude mean(g), i.e.
    p = (g / sum(g) + epsilon / L) / (1 + epsilon): the shape of the track smoothed by
    a uniform share epsilon / (1 + epsilon) of the mass. Multiplying attr by any c > 0
    leaves it unchanged (the authors' pseudocount 0.001 is in attribution units, so
    their entropy rises as a track shrinks). epsilon defaults to 0.015, the share of a
    typical track's mean that the authors' 0.001 is (``SCALE_FREE_PSEUDOCOUNT``), so
    on such tracks both entropies read alike. Returns (N,): log2(L) for a uniform
    track, near 0 for a single spike; NaN for an all-zero track, as
    ``attribution_entropy``. Lower means more concentrated.
    """
    g = magnitude(attr)
    total = g.sum(axis=1, keepdims=True)
    p = (safe_divide(g, total) + epsilon / g.shape[1]) / (1 + epsilon)
    bits = scipy.special.entr(p).sum(axis=1) / np.log(2)
    return np.where(total[:, 0] > 0, bits, np.nan)


def attribution_scale(attr) -> np.ndarray:
    """The track's total attribution: the sum over positions and bases of |attr|.

    attr: (N, 4, L). Returns (N,) >= 0, in attribution units (0 for an all-zero track).
    Not a quality: it says how far the authors' ``attribution_entropy`` (whose
    pseudocount is in these units) reads a model's tracks as flatter than they are.
    """
    return magnitude(attr).sum(axis=1)


def motif_fraction(attr, motif_mask) -> np.ndarray:
    """Share of sum(g) inside the motif positions.

    attr: (N, 4, L); motif_mask: (N, L) bool, True inside a ground-truth motif.
    Returns (N,) in [0, 1]; NaN for an all-zero track.
    """
    g = magnitude(attr)
    mask = as_mask(motif_mask, g.shape)
    return safe_divide((g * mask).sum(axis=1), g.sum(axis=1))


def motif_auprc(attr, motif_mask) -> float:
    """Area under the precision-recall curve of finding motif positions by g, pooled.

    attr: (N, 4, L); motif_mask: (N, L) bool. The authors' measure: every position of
    every sequence in one ranking by g, the curve of ``precision_recall_curve`` without
    its artificial end point (recall 0, precision 1), and its area by the trapezoid
    rule (``sklearn.metrics.auc``). They ranked by position rank, which breaks ties in
    g arbitrarily; here tied positions share a threshold. Returns one float for the
    model; NaN when the mask is empty or covers every position.
    """
    g = magnitude(attr)
    mask = as_mask(motif_mask, g.shape).reshape(-1)
    if not 0 < mask.sum() < mask.size:
        return float("nan")
    precision, recall, _ = precision_recall_curve(mask, g.reshape(-1))
    if len(recall) < 3:  # one threshold: a single point, no area under the trapezoids
        return float(precision[0])
    return float(auc(recall[:-1], precision[:-1]))


def motif_auprc_per_sequence(attr, motif_mask) -> np.ndarray:
    """Average precision of ranking one sequence's positions by g against its motif mask.

    attr: (N, 4, L); motif_mask: (N, L) bool. One ``average_precision_score`` per
    sequence: the per-sequence variant of ``motif_auprc`` for paired tests across
    sequences. Returns (N,); NaN where the mask is empty or covers every position.
    """
    g = magnitude(attr)
    mask = as_mask(motif_mask, g.shape)
    return np.array([average_precision_score(m, row) if 0 < m.sum() < m.size else np.nan
                     for m, row in zip(mask, g)])


def summit_spearman(attr, summits) -> np.ndarray:
    """Spearman correlation of g with the distance |position - summit|.

    attr: (N, 4, L); summits: (N,) positions (0-based, may be fractional, e.g. the
    centre (L - 1) / 2). Returns (N,) in [-1, 1]; more negative = attribution falls
    off with distance from the summit. NaN for a constant track or a NaN summit.
    Pearson correlation of average ranks (scipy ``rankdata``), i.e. exactly
    ``scipy.stats.spearmanr`` per row, computed for all rows at once.
    """
    g = magnitude(attr)
    summits = to_numpy(summits, np.float64).reshape(-1)
    if summits.shape != (g.shape[0],):
        raise RegbenchError(f"summits must have shape (N,) = ({g.shape[0]},), got {summits.shape}")
    known = np.isfinite(summits)
    distance = np.abs(np.arange(g.shape[1]) - np.where(known, summits, 0)[:, None])
    a, b = (scipy.stats.rankdata(x, axis=1) for x in (g, distance))
    a, b = a - a.mean(axis=1, keepdims=True), b - b.mean(axis=1, keepdims=True)
    rho = safe_divide((a * b).sum(axis=1), np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1)))
    return np.where(known, np.clip(rho, -1, 1), np.nan)


def gc_reliance(attr, X, motif_mask=None, scores: str = "actual") -> np.ndarray:
    """Share of the attribution that rewards background G/C and penalises A/T.

    ``scores="hypothetical"``: see ``hypothetical_gc_reliance`` (saliency, ISM). Else
    attr: (N, 4, L) *signed actual* attributions (the observed base's contribution,
    e.g. DeepLIFT/SHAP, input x gradient, integrated gradients); X: (N, 4, L) one-hot
    (A, C, G, T); motif_mask: (N, L) bool or None (then every position is background).
    With
    a_i = sum over bases of attr[:, i] (signed) and background = outside the motifs,
    not N:

        gc_reliance = (sum_{background G/C} a_i - sum_{background A/T} a_i) / sum_i |a_i|

    the denominator over every non-N position, motifs included. It measures the model,
    not the sequence: against dinucleotide-shuffled references (which keep the
    sequence's GC content p) an exact linear model that adds 1 per G/C gives +(1 - p)
    at each G/C and -p at each A/T, so the value is +1 at any p when nothing else
    carries attribution; one that adds 1 per A/T gives -1; a model blind to the
    background gives 0, and so does one with random weights, on average. Bounded in
    [-1, 1]; attribution in motifs shrinks it toward 0 (its share of the total is not
    background reliance). Free of the attribution scale. (The earlier version compared
    |attribution| at G/C with A/T, which follows 1 - 2p for any model that uses the
    background.) Returns (N,); NaN when the track has no attribution or the
    background lacks G/C or A/T.
    """
    if scores == "hypothetical":
        return hypothetical_gc_reliance(attr, X, motif_mask)
    if scores != "actual":
        raise RegbenchError(f"scores = {scores!r} is not valid: use actual or hypothetical")
    a = as_tracks(attr).sum(axis=1)
    X = _check_sequences(X, a.shape)
    background = _background(motif_mask, a.shape)
    gc = background & (X[:, 1] + X[:, 2] > 0)
    at = background & (X[:, 0] + X[:, 3] > 0)
    observed = X.sum(axis=1) > 0
    contrast = (a * gc).sum(axis=1) - (a * at).sum(axis=1)
    value = safe_divide(contrast, (np.abs(a) * observed).sum(axis=1))
    return np.where(gc.any(axis=1) & at.any(axis=1), value, np.nan)


def hypothetical_gc_reliance(attr, X, motif_mask=None) -> np.ndarray:
    """GC reliance of *hypothetical* scores: every base's score at every position.

    attr: (N, 4, L), e.g. saliency (the input gradient) or ISM (f(x with b at i) -
    f(x)); both hold what each base would add at i up to a constant per position (for
    ISM, minus the observed base's), so only differences between bases carry meaning.
    Centred per position, h = attr - mean over bases, the model's G/C-over-A/T
    preference at i is d_i = (h_C + h_G - h_A - h_T) / 2, whatever base the sequence
    has there, and

        gc_reliance = sum_{background} d_i / sum_i (sum_b |h_b,i|) / 2

    over non-N positions (background: outside the motifs). An exact linear model that
    adds 1 per G/C scores +1 at any sequence GC content, one that adds 1 per A/T -1,
    one blind to G/C vs A/T 0, as the actual-score measure does for DeepLIFT/SHAP.
    (Read as actual scores, ISM's differences give the opposite sign and the
    gradient's sum over bases follows the sequence's GC.) In [-1, 1]; free of the
    attribution scale and of a per-position offset. Returns (N,); NaN when nothing is
    attributed or no background position is known.
    """
    h = as_tracks(attr)
    h = h - h.mean(axis=1, keepdims=True)
    X = _check_sequences(X, (h.shape[0], h.shape[2]))
    observed = X.sum(axis=1) > 0
    background = _background(motif_mask, observed.shape) & observed
    preference = (h[:, 1] + h[:, 2] - h[:, 0] - h[:, 3]) / 2
    size = (np.abs(h).sum(axis=1) * observed).sum(axis=1) / 2
    value = safe_divide((preference * background).sum(axis=1), size)
    return np.where(background.any(axis=1), value, np.nan)


def _check_sequences(X, shape: tuple[int, int]) -> np.ndarray:
    """X (N, 4, L) one-hot as an array, for tracks of ``shape`` (N, L)."""
    X = as_tracks(X)
    if X.shape != (shape[0], 4, shape[1]):
        raise RegbenchError(f"X must have the shape of attr {(shape[0], 4, shape[1])}, "
                            f"got {X.shape}")
    return X


def _background(motif_mask, shape: tuple[int, int]) -> np.ndarray:
    """(N, L) bool: outside the motifs (every position when there is no mask)."""
    return np.ones(shape, bool) if motif_mask is None else ~as_mask(motif_mask, shape)


__all__ = ["SCALE_FREE_PSEUDOCOUNT", "attribution_entropy", "attribution_scale",
           "gc_reliance", "highfreq_fraction", "hypothetical_gc_reliance", "motif_auprc",
           "motif_auprc_per_sequence", "motif_fraction", "scale_free_entropy",
           "summit_spearman"]
