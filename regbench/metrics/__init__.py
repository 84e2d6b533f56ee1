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
from regbench.metrics.statistics import (benjamini_hochberg, hierarchical_bootstrap, holm,
                                         mann_whitney, mean_difference_ci, paired_t,
                                         smallest_paired_p, welch_ci, welch_t,
                                         wilcoxon_paired)

__all__ = [
    "GroundTruth", "describe_metric", "get_metric", "lead_metrics", "list_metrics", "register_metric", "score_attributions",
    "sequence_metrics", "unregister_metric",
    "attribution_entropy", "balanced_bce", "balanced_bce_loss", "benjamini_hochberg",
    "binary_performance", "hierarchical_bootstrap",
    "continuous_jaccard", "gc_reliance", "highfreq_fraction", "holm", "jaccard_positional",
    "mann_whitney",
    "mean_difference_ci", "motif_auprc", "motif_auprc_per_sequence", "motif_fraction",
    "paired_t", "smallest_paired_p", "summarize_interpretability", "summit_spearman",
    "welch_ci", "welch_t",
    "wilcoxon_paired",
]
