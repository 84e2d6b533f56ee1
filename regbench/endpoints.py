"""The primary endpoint and the performance margin, declared before any training.

A comparison answers one question: does the regularizer make attributions better, at a
performance no worse than ``none``'s by more than a declared margin? ``declare(task,
truth)`` names the one interpretability metric that answers it for the data at hand and
the performance metric and margin that bound it. Both are fixed by the kind of data
(ground truth available) and the task, never by which metric shows the largest effect:
the λ selection maximises the endpoint, the verdict tests it (★), and every other metric
is secondary (an interval, no ★). ``seeds_for_effect`` and ``power_line``: what a seed
count can detect on the endpoint. No torch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

# The performance metric each task is held to, with its margin: (metric, direction,
# margin, why). Absolute margins on bounded scales, declared here rather than measured,
# so that the data cannot move them.
PERFORMANCE_MARGINS = {
    "binary": ("auroc", "higher", 0.01,
               "auROC may fall by at most 0.01 (one point on its 0-1 scale) against none "
               "of the same seed: a loss the paper's Table 1 would call a cost"),
    "profile": ("profile_jsd", "lower", 0.01,
                "the profile Jensen-Shannon distance may rise by at most 0.01 (one point "
                "on its 0-1 scale) against none of the same seed"),
}

# Minimal effect on the primary endpoint the seed count is sized for (the plan's power
# line): a tenth of the endpoint's 0-1 scale.
MINIMAL_EFFECT = 0.1


@dataclass(frozen=True)
class Endpoint:
    """One declared comparison. metric: the results.csv column of the primary
    interpretability endpoint (DeepLIFT/SHAP, unprefixed); direction: "higher" or
    "lower"; reason: why this metric; performance, performance_direction, margin: the
    performance metric (test_<performance> in results.csv, scored on validation
    data by the λ selection) that is held non-inferior by ``margin``; margin_reason:
    why that margin; minimal_effect: the effect size the plan's seed count is sized for."""

    metric: str
    direction: str
    reason: str
    performance: str
    performance_direction: str
    margin: float
    margin_reason: str
    minimal_effect: float = MINIMAL_EFFECT

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """One line for the plan and the report."""
        arrow = "higher" if self.direction == "higher" else "lower"
        worse = "fall" if self.performance_direction == "higher" else "rise"
        return (f"primary endpoint: DeepLIFT/SHAP {self.metric} ({arrow} is better; "
                f"{self.reason}); performance: {self.performance} may {worse} by at most "
                f"{self.margin:g} against none (non-inferiority margin)")


def primary_metric(truth: set[str]) -> tuple[str, str, str] | None:
    """(metric, direction, why) of the primary endpoint for data whose ground truth is
    ``truth`` (Dataset fields present: "motif_mask", "peak_mask"); None without either.
    """
    if "motif_mask" in truth:
        return ("motif_fraction", "higher",
                "the paper's headline on simulated data: the share of attribution inside "
                "the planted motifs (the paper: 0.659 with the prior vs 0.218 without)")
    if "peak_mask" in truth:
        return ("peak_fraction", "higher",
                "the paper's Table 4 on real data: the share of attribution inside the "
                "high-resolution peak interval; one value per sequence and seed, so seeds "
                "pair as on simulated data (stability pairs two seeds and cannot)")
    return None


def declare(task: str, truth: set[str]) -> Endpoint | None:
    """The Endpoint of a ``task`` ("binary", "profile", or a registered task, which is
    held to the binary margin unless it names a profile metric) on data with ground
    truth ``truth``; None when the data have no ground truth to score against."""
    chosen = primary_metric(truth)
    if chosen is None:
        return None
    performance, direction, margin, why = PERFORMANCE_MARGINS.get(
        task, PERFORMANCE_MARGINS["binary"])
    return Endpoint(*chosen, performance=performance, performance_direction=direction,
                    margin=margin, margin_reason=why)


def for_data(task: str, dataset) -> Endpoint | None:
    """``declare`` for a Dataset: its ground truth is the motif and peak masks it
    carries (``motif_mask``, ``peak_mask`` not None)."""
    truth = {name for name in ("motif_mask", "peak_mask")
             if getattr(dataset, name, None) is not None}
    return declare(task, truth)


def from_dict(values: dict | None) -> Endpoint | None:
    """An Endpoint recorded in config.json (``Endpoint.as_dict``), or None."""
    if not values:
        return None
    return Endpoint(**{k: values[k] for k in Endpoint.__dataclass_fields__ if k in values})


ALPHA = 0.05   # the verdict's false discovery rate on the primary endpoint
POWER = 0.8    # the power the seed count is sized for


def seeds_for_effect(effect: float, sd: float, tests: int = 1, alpha: float = ALPHA,
                     power: float = POWER) -> int | None:
    """The fewest paired seeds that detect a mean difference ``effect`` with ``power`` by
    the two-sided paired t-test at alpha / tests (Benjamini-Hochberg's bar when one of
    ``tests`` regularizers differs; the least it asks), when one seed's value has sd
    ``sd`` on both sides: the paired difference's sd is taken as √2 × sd (independent
    seeds; pairing can only lower it). None when no count up to 1000 does, or sd is 0 or
    not finite (then 2 seeds do not fail for noise)."""
    from scipy import stats
    if not (sd > 0 and effect > 0):
        return 2 if sd == 0 and effect > 0 else None
    level, spread = alpha / max(tests, 1), 2 ** 0.5 * sd
    for n in range(2, 1001):
        critical = stats.t.ppf(1 - level / 2, n - 1)
        shift = effect / (spread / n ** 0.5)
        reached = stats.nct.sf(critical, n - 1, shift) + stats.nct.cdf(-critical, n - 1, shift)
        if reached >= power:
            return n
    return None


def power_line(endpoint, none_values, seeds: int, tests: int) -> str:
    """The plan's line on what ``seeds`` paired seeds can detect, from none's primary
    endpoint on the selection seeds (``none_values``)."""
    import numpy as np
    values = np.asarray(none_values, float)
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
    needed = seeds_for_effect(endpoint.minimal_effect, sd, tests)
    verdict = ("no seed count up to 1000 does" if needed is None else
               f"{f'{needed} seed' + ('' if needed == 1 else 's')} {'is' if needed == 1 else 'are'} needed "
               f"(this run: {seeds})")
    return (f"power: none's validation {endpoint.metric} has sd {sd:.3g} across the "
            f"{len(values)} selection seeds; to detect a difference of "
            f"{endpoint.minimal_effect:g} (the declared minimal effect) with "
            f"{POWER:.0%} power by the paired t-test at {ALPHA:g}/{tests} (Benjamini-"
            f"Hochberg's bar for one of {f'{tests} regularizer' + ('' if tests == 1 else 's')}), {verdict}")


__all__ = ["ALPHA", "Endpoint", "MINIMAL_EFFECT", "POWER", "power_line", "seeds_for_effect", "PERFORMANCE_MARGINS", "declare", "for_data",
           "from_dict",
           "primary_metric"]
