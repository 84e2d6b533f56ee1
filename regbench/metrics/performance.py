"""Predictive performance of binary (multi-task) models, from logits."""
from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from regbench.errors import RegbenchError
from regbench.metrics._arrays import to_numpy
from regbench.metrics.losses import balanced_bce_loss


def _as_tasks(y_true, logits) -> tuple[np.ndarray, np.ndarray]:
    """Both as (N, T) arrays; a 1-D input is one task."""
    y_true, logits = to_numpy(y_true, np.float64), to_numpy(logits, np.float64)
    y_true, logits = (a.reshape(-1, 1) if a.ndim == 1 else a for a in (y_true, logits))
    if y_true.shape != logits.shape or y_true.ndim != 2:
        raise RegbenchError(f"y_true and logits must both have shape (N, T), got "
                            f"{y_true.shape} and {logits.shape}")
    return y_true, logits


def _per_task(score, y_true: np.ndarray, logits: np.ndarray) -> float:
    """Mean over tasks of a ranking score; a task with one class scores NaN."""
    values = [score(y_true[:, t], logits[:, t]) if len(np.unique(y_true[:, t])) == 2
              else np.nan for t in range(y_true.shape[1])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN mean is NaN, said above
        return float(np.nanmean(values))


def balanced_bce(y_true, logits) -> float:
    """Class-balanced BCE (see ``losses.balanced_bce_loss``). y_true, logits: (N, T)."""
    y_true, logits = _as_tasks(y_true, logits)
    return float(balanced_bce_loss(torch.from_numpy(logits), torch.from_numpy(y_true)))


def accuracy(y_true, logits) -> float:
    """Share of (sequence, task) pairs whose logit has the label's sign (threshold 0)."""
    y_true, logits = _as_tasks(y_true, logits)
    return float(np.mean((logits > 0) == (y_true > 0.5)))


def auroc(y_true, logits) -> float:
    """auROC per task (``roc_auc_score``), averaged over tasks with both classes."""
    return _per_task(roc_auc_score, *_as_tasks(y_true, logits))


def auprc(y_true, logits) -> float:
    """auPRC per task (``average_precision_score``), averaged over tasks with both classes."""
    return _per_task(average_precision_score, *_as_tasks(y_true, logits))


def binary_performance(y_true, logits) -> dict[str, float]:
    """Accuracy, auROC, auPRC and balanced BCE of logits against 0/1 labels.

    y_true, logits: (N, T) (or (N,) for one task). Accuracy thresholds logits at 0;
    auROC (``roc_auc_score``) and auPRC (``average_precision_score``) are per task,
    averaged over the tasks that have both classes (NaN when none has).
    Returns {"accuracy", "auroc", "auprc", "balanced_bce"}.
    """
    return {"accuracy": accuracy(y_true, logits), "auroc": auroc(y_true, logits),
            "auprc": auprc(y_true, logits), "balanced_bce": balanced_bce(y_true, logits)}


__all__ = ["accuracy", "auprc", "auroc", "balanced_bce", "binary_performance"]
