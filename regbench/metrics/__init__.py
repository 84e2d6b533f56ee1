"""Metrics: performance, interpretability and stability, plain functions on arrays.

Each takes numpy arrays or torch tensors and returns numpy values; shapes are in
the docstrings. ``balanced_bce_loss`` is the torch loss the trainer shares.
"""
from regbench.metrics.interpretability import (
    attribution_entropy,
    gc_reliance,
    highfreq_fraction,
    motif_auprc,
    motif_auprc_per_sequence,
    motif_fraction,
    summit_spearman,
)
from regbench.metrics.losses import balanced_bce_loss
from regbench.metrics.performance import balanced_bce, binary_performance
from regbench.metrics.stability import continuous_jaccard, jaccard_positional
from regbench.metrics.registry import (GroundTruth, describe_metric, get_metric, lead_metrics,
                                       list_metrics, register_metric, unregister_metric)
from regbench.metrics.scoring import (score_attributions, sequence_metrics,
                                      summarize_interpretability)
from regbench.metrics.statistics import (holm, mann_whitney, mean_difference_ci,
                                         smallest_paired_p, welch_ci, wilcoxon_paired)

__all__ = [
    "GroundTruth", "describe_metric", "get_metric", "lead_metrics", "list_metrics", "register_metric", "score_attributions",
    "sequence_metrics", "unregister_metric",
    "attribution_entropy", "balanced_bce", "balanced_bce_loss", "binary_performance",
    "continuous_jaccard", "gc_reliance", "highfreq_fraction", "holm", "jaccard_positional",
    "mann_whitney",
    "mean_difference_ci", "motif_auprc", "motif_auprc_per_sequence", "motif_fraction",
    "smallest_paired_p", "summarize_interpretability", "summit_spearman", "welch_ci",
    "wilcoxon_paired",
]
