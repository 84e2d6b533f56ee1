"""Losses the trainer and the metrics share, written once in torch."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def balanced_bce_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Class-balanced binary cross-entropy on logits.

    logits, targets: (N, T), targets 0/1. Per task, the mean loss over positives and
    the mean loss over negatives are averaged, so a rare class weighs as much as a
    common one; tasks are then averaged. A task lacking one class in the batch uses
    the class it has (never NaN). Returns a 0-dim tensor, differentiable, with no host
    synchronisation (masks only, no boolean indexing).
    """
    targets = targets.to(logits.dtype)
    loss = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    per_class = []
    for weight in (targets, 1 - targets):
        count = weight.sum(dim=0)
        per_class.append(((loss * weight).sum(dim=0) / count.clamp_min(1),
                          (count > 0).to(logits.dtype)))
    (pos_mean, has_pos), (neg_mean, has_neg) = per_class
    per_task = (pos_mean * has_pos + neg_mean * has_neg) / (has_pos + has_neg).clamp_min(1)
    return per_task.mean()


__all__ = ["balanced_bce_loss"]
