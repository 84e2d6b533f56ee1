"""Metrics: performance, interpretability and stability, plain functions on arrays.

Each takes numpy arrays or torch tensors and returns numpy values; shapes are in
the docstrings. ``balanced_bce_loss`` is the torch loss the trainer shares.
"""
from regbench.metrics.interpretability import (
    attribution_entropy,
    gc_reliance,
    highfreq_fraction,
    motif_auprc,
    motif_fraction,
    summarize_interpretability,
    summit_spearman,
)
from regbench.metrics.losses import balanced_bce_loss
from regbench.metrics.performance import balanced_bce, binary_performance
from regbench.metrics.stability import continuous_jaccard

__all__ = [
    "attribution_entropy", "balanced_bce", "balanced_bce_loss", "binary_performance",
    "continuous_jaccard", "gc_reliance", "highfreq_fraction", "motif_auprc",
    "motif_fraction", "summarize_interpretability", "summit_spearman",
]
