"""The binary task: one 0/1 label per task, class-balanced BCE, the prior on positives."""
from __future__ import annotations

import numpy as np
import torch

from regbench.errors import RegbenchError
from regbench.metrics import get_metric, list_metrics
from regbench.metrics.losses import balanced_bce_loss
from regbench.models import create_model
from regbench.options.presets import BINARY_SETTINGS
from regbench.tasks.base import Task, resolve_model


class BinaryTask(Task):
    """Binary classification of sequences; the model returns logits (N, T).

    model: the run's ``[model]`` table (``architecture`` picks the registry entry,
    default the paper's CNN; ``reverse_complement``, default false, is the task's own
    augmentation); seq_len and n_tasks come from the data.
    """

    name = "binary"
    settings = BINARY_SETTINGS

    def __init__(self, model: dict | None = None, *, seq_len: int, n_tasks: int,
                 n_controls: int = 0):
        if n_controls:
            raise RegbenchError("control tracks are inputs of profile models only: use "
                                "--model profile, or drop the controls")
        self.seq_len = int(seq_len)
        model = dict(model or {})
        self.reverse_complement = reverse_complement_setting(model)
        self.architecture, self.params = resolve_model(model, self.settings.architecture,
                                                       seq_len, n_tasks)

    def build_model(self, **options) -> torch.nn.Module:
        return create_model(self.architecture, **{**self.params, **options})

    def model_record(self) -> dict:
        record = {"architecture": self.architecture, "params": dict(self.params)}
        if self.reverse_complement:   # only when on: records made before it stay equal
            record["reverse_complement"] = True
        return record

    def augment(self, X: torch.Tensor, y, rng: np.random.Generator):
        """``crop_jitter``, then with ``reverse_complement`` half the batch (drawn from
        ``rng``) replaced by its reverse complement (A<->T, C<->G: the ACGT channels
        reversed; positions reversed), labels kept: a site reads the same on either
        strand. The authors append every sequence's reverse complement to its batch
        (twice the rows); one strand per row keeps the batch size, the prior's rows and
        the cost per step (as the profile task does)."""
        X, y = self.crop_jitter(X, y, rng)
        if not self.reverse_complement:
            return X, y
        flip = torch.as_tensor(rng.random(len(X)) < 0.5).to(X.device)
        return torch.where(flip[:, None, None], X.flip(1, 2), X), y

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


def reverse_complement_setting(model: dict) -> bool:
    """Pop ``reverse_complement`` from a [model] table (default false); not a bool is
    a RegbenchError."""
    value = model.pop("reverse_complement", False)
    if not isinstance(value, bool):
        raise RegbenchError(f"[model] reverse_complement = {value!r} is not valid: "
                            "expected true or false")
    return value


__all__ = ["BinaryTask"]
