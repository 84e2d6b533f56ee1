"""The primary endpoint and the performance margin, declared before any training.

A comparison answers one question: does the regularizer make attributions better, at a
performance no worse than ``none``'s by more than a declared margin? ``declare(task,
truth)`` names the one interpretability metric that answers it for the data at hand and
the performance metric and margin that bound it. Both are fixed by the kind of data
(ground truth available) and the task, never by which metric shows the largest effect:
the λ selection maximises the endpoint, the verdict tests it (★), and every other metric
is secondary (an interval, no ★). Pure data: no torch.
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


__all__ = ["Endpoint", "MINIMAL_EFFECT", "PERFORMANCE_MARGINS", "declare", "for_data",
           "from_dict",
           "primary_metric"]
