"""What a task is: everything that differs between model kinds, so the trainer and
the evaluation need to know none of it.

A task supplies the model builder, the correctness loss, the rows a prior applies to,
the output that attributions explain (one tensor per model call: tangermeme's
contract), predictions and the performance metrics, and the rows and output index
that evaluation explains. ``BinaryTask`` is the paper's binary classification; a
profile task (base-resolution read counts) is the next one.
"""
from __future__ import annotations

import numpy as np
import torch

from regbench.options.presets import TaskSettings
from regbench.spectra import BINARY_FREQ_RATIO, default_freq_limit


class Task:
    """Interface; subclasses implement every method. Shapes: codes (N, L) uint8,
    X (N, 4, L) one-hot, targets as the task's data gives them (binary: labels (N, T))."""

    name: str = ""
    # its model when [model] names none, its preset sizes (config reads them torch-free)
    settings: TaskSettings = TaskSettings()

    def prior_defaults(self) -> dict:
        """{regularizer: {parameter: value}}: this task's defaults for registry
        parameters, under what the user sets in [regularizer_params]."""
        return {}

    def build_model(self, **options) -> torch.nn.Module:
        """A freshly initialised model (seed torch first); ``options``: [model] keys
        that override the task's (a ``needs="model"`` regularizer's)."""
        raise NotImplementedError

    def model_record(self) -> dict:
        """{"architecture": NAME, "params": {...}}: enough to rebuild the model with
        ``models.create_model`` (stored in checkpoints and config.json)."""
        raise NotImplementedError

    def augment(self, X: torch.Tensor, y, rng: np.random.Generator):
        """A training batch, possibly transformed (X (B, 4, L') one-hot, its targets);
        draws only from ``rng`` (the epoch's generator) when it changes anything. A
        batch wider than the model's input (flanked windows, ``jitter``) is cropped to
        it at random offsets (``crop_jitter``)."""
        return self.crop_jitter(X, y, rng)

    seq_len: int = 0   # the model's input length (set by the task's constructor)

    # T of the Fourier prior and of evaluation's high-frequency fraction per bp of the
    # attributed track (the model's input): the authors' ratio for this kind of model
    # (regbench.spectra), so that at the authors' input length T is theirs.
    freq_ratio: float = BINARY_FREQ_RATIO
    freq_ratio_text: str = "0.15"

    def default_freq_limit(self, length: int | None = None) -> int:
        """T for an attributed track of ``length`` bp (default: the model's input): the
        one rule of the training prior's default and the evaluation metric's."""
        return default_freq_limit(self.seq_len if length is None else int(length),
                                  self.freq_ratio)

    def freq_limit_rule(self, length: int | None = None) -> str:
        """The rule in words with its value, for config.json and the report."""
        length = self.seq_len if length is None else int(length)
        return (f"T = round({self.freq_ratio_text} × L) = {self.default_freq_limit(length)} "
                f"for the {length}-bp attributed input, in the Fourier prior's training "
                "default and in evaluation's high-frequency fraction")

    def crop_jitter(self, X: torch.Tensor, y, rng: np.random.Generator,
                    crop_targets: bool = False):
        """Each row of a batch X (B, 4, seq_len + 2J) cropped to seq_len at its own
        offset o in [0, 2J] (a shift of o - J bp), drawn from ``rng``; with
        ``crop_targets``, y (B, C, out + 2J) is cropped at the same offsets to out. A
        batch of the model's width is returned unchanged, with no draw."""
        extra = X.shape[-1] - self.seq_len
        if extra <= 0:
            return X, y
        offset = torch.as_tensor(rng.integers(0, extra + 1, size=len(X)), device=X.device)
        rows = torch.arange(len(X), device=X.device)
        X = X.unfold(-1, self.seq_len, 1)[rows, :, offset]     # (B, 4, seq_len)
        if crop_targets:
            y = y.unfold(-1, y.shape[-1] - extra, 1)[rows, :, offset]
        return X.contiguous(), y.contiguous() if crop_targets else y

    def targets(self, data) -> np.ndarray:
        """What the model is trained to predict, row-aligned with ``data`` (a Dataset);
        rows may also carry the model's further inputs (``model_args``)."""
        raise NotImplementedError

    def model_args(self, targets: torch.Tensor) -> tuple:
        """The model's inputs beside X that a batch's targets carry (profile models
        with controls: the control tracks); each (B, ...), row-aligned. Attribution
        methods pass them through and never attribute them."""
        return ()

    def loss(self, outputs, targets: torch.Tensor) -> torch.Tensor:
        """Correctness loss (0-dim, differentiable) of a batch's outputs."""
        raise NotImplementedError

    def paper_scale_loss(self, outputs, targets: torch.Tensor) -> torch.Tensor:
        """The correctness loss as the paper's authors' code computes the value their λ
        rule reads (0-dim); by default the task's own ``loss``."""
        return self.loss(outputs, targets)

    def prior_rows(self, labels: np.ndarray, prior_on: str) -> np.ndarray:
        """bool (N,): the rows a prior is applied to (``[train] prior_on``), from the
        data's labels (N, T)."""
        raise NotImplementedError

    def explained_output(self, outputs) -> torch.Tensor:
        """The tensor (N, T) whose input gradient attributions explain, from the model's
        outputs; training-time attributions explain its sum over T."""
        raise NotImplementedError

    def explained_output_rule(self) -> str | None:
        """What attributions and the prior explain, in words, for config.json and the
        report; None when it is the model's output itself."""
        return None

    def explainer(self, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` as attribution methods see it: X (N, 4, L) -> explained output
        (N, T), one tensor, no softmax inside."""
        return ExplainedOutput(model, self)

    def performance(self, targets: np.ndarray, predictions) -> dict:
        """{metric: value} of predictions (``predict``'s output) against targets."""
        raise NotImplementedError

    def attributed_rows(self, labels: np.ndarray, max_rows: int) -> tuple[np.ndarray, int]:
        """(rows, target): the first ``max_rows`` rows positive for any task (labels
        (N, T)), and the task most of them are positive for (the explained output's
        index)."""
        rows = np.flatnonzero(labels.max(axis=1) > 0)[:max_rows]
        target = int(np.argmax(labels[rows].sum(axis=0))) if len(rows) else 0
        return rows, target


def resolve_model(model: dict | None, default: str, seq_len: int, n_tasks: int
                  ) -> tuple[str, dict]:
    """(architecture, parameters) of a [model] table for data of this shape; a
    registered settings class checks the parameters and fills in its defaults."""
    from dataclasses import asdict

    from regbench.models import get_model_spec
    params = dict(model or {})
    architecture = params.pop("architecture", default)
    params = {**params, "seq_len": int(seq_len), "n_tasks": int(n_tasks)}
    spec = get_model_spec(architecture)
    if spec.config_class is not None:
        from regbench.options.config import build_section
        config = build_section(spec.config_class, params, "model")
        if hasattr(config, "validate_length"):
            config.validate_length()
        params = asdict(config)
    return architecture, params


class ExplainedOutput(torch.nn.Module):
    """A model wrapped to return its task's explained output, for attribution methods
    that need one tensor per call (tangermeme).

    ``paired = True`` (set by the DeepLIFT/SHAP call) says each batch is inputs then
    their references, row for row (tangermeme's layout); an output whose weights come
    from the model's own predictions then takes them from the inputs for both halves,
    so the explained output is one linear function of the model's output and the
    attributions sum to its difference from the reference."""

    def __init__(self, model: torch.nn.Module, task: Task):
        super().__init__()
        self.model, self.task = model, task
        self.paired = False

    def forward(self, X: torch.Tensor, *args) -> torch.Tensor:
        outputs = self.model(X, *args)
        if self.paired:
            return self.task.explained_output(outputs, paired=True)
        return self.task.explained_output(outputs)


__all__ = ["ExplainedOutput", "Task", "resolve_model"]
