"""The binary task: one 0/1 label per task, class-balanced BCE, the prior on positives."""
from __future__ import annotations

import numpy as np
import torch

from regbench.errors import RegbenchError
from regbench.metrics import get_metric, list_metrics
from regbench.metrics.losses import balanced_bce_loss
from regbench.models import DEFAULT_ARCHITECTURE, create_model
from regbench.tasks.base import Task, resolve_model


class BinaryTask(Task):
    """Binary classification of sequences; the model returns logits (N, T).

    model: the run's ``[model]`` table (``architecture`` picks the registry entry,
    default the paper's CNN); seq_len and n_tasks come from the data.
    """

    name = "binary"

    def __init__(self, model: dict | None = None, *, seq_len: int, n_tasks: int,
                 n_controls: int = 0):
        if n_controls:
            raise RegbenchError("control tracks are inputs of profile models only: use "
                                "--model profile, or drop the controls")
        self.seq_len = int(seq_len)
        self.architecture, self.params = resolve_model(model, DEFAULT_ARCHITECTURE, seq_len,
                                                       n_tasks)

    def build_model(self, **options) -> torch.nn.Module:
        return create_model(self.architecture, **{**self.params, **options})

    def model_record(self) -> dict:
        return {"architecture": self.architecture, "params": dict(self.params)}

    def targets(self, data) -> np.ndarray:
        return data.labels

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return balanced_bce_loss(outputs, targets)

    def prior_rows(self, labels: np.ndarray, prior_on: str) -> np.ndarray:
        if prior_on == "all":
            return np.ones(len(labels), bool)
        return labels.max(axis=1) > 0

    def explained_output(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs

    def explainer(self, model: torch.nn.Module) -> torch.nn.Module:
        return model  # its output already is the logits (N, T)

    def performance(self, targets: np.ndarray, predictions: np.ndarray) -> dict:
        return {name: get_metric(name).compute(targets, predictions)
                for name in list_metrics("performance") if get_metric(name).needs == "labels"}


__all__ = ["BinaryTask"]
