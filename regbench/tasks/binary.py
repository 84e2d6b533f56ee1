"""The binary task: one 0/1 label per task, class-balanced BCE, the prior on positives."""
from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch

from regbench.metrics import get_metric, list_metrics
from regbench.metrics.losses import balanced_bce_loss
from regbench.models import DEFAULT_ARCHITECTURE, create_model, get_model_spec
from regbench.tasks.base import Task


class BinaryTask(Task):
    """Binary classification of sequences; the model returns logits (N, T).

    model: the run's ``[model]`` table (``architecture`` picks the registry entry,
    default the paper's CNN); seq_len and n_tasks come from the data.
    """

    name = "binary"

    def __init__(self, model: dict | None = None, *, seq_len: int, n_tasks: int):
        params = dict(model or {})
        self.architecture = params.pop("architecture", DEFAULT_ARCHITECTURE)
        self.params = {**params, "seq_len": int(seq_len), "n_tasks": int(n_tasks)}
        spec = get_model_spec(self.architecture)
        if spec.config_class is not None:  # checked (and defaults filled) now, not later
            from regbench.config import _build
            config = _build(spec.config_class, self.params, "model")
            if hasattr(config, "validate_length"):
                config.validate_length()
            self.params = asdict(config)

    def build_model(self) -> torch.nn.Module:
        return create_model(self.architecture, **self.params)

    def model_record(self) -> dict:
        return {"architecture": self.architecture, "params": dict(self.params)}

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return balanced_bce_loss(outputs, targets)

    def prior_rows(self, targets: np.ndarray, prior_on: str) -> np.ndarray:
        if prior_on == "all":
            return np.ones(len(targets), bool)
        return targets.max(axis=1) > 0

    def explained_output(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs

    def explainer(self, model: torch.nn.Module) -> torch.nn.Module:
        return model  # its output already is the logits (N, T)

    def performance(self, targets: np.ndarray, predictions: np.ndarray) -> dict:
        return {name: get_metric(name).compute(targets, predictions)
                for name in list_metrics("performance")}

    def attributed_rows(self, targets: np.ndarray, max_rows: int) -> tuple[np.ndarray, int]:
        """The first ``max_rows`` rows positive for any task, and the task most of them
        are positive for."""
        rows = np.flatnonzero(targets.max(axis=1) > 0)[:max_rows]
        target = int(np.argmax(targets[rows].sum(axis=0))) if len(rows) else 0
        return rows, target


__all__ = ["BinaryTask"]
