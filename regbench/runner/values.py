"""The frozen values a RunContext hands out, and the training that reads only them.

``RunContext`` prepares the run once and hands out values; the executor, the λ search
and rules and the plan work from those values, as Optuna's samplers work from the study
and trial they are handed rather than from a shared object:

- ``RunInputs`` (``RunContext.run_inputs(key)``): one run's training (data rows, task,
  regularizer, key, settings); ``train_run`` and ``train_group`` train from it alone;
- ``RunFacts`` (``RunContext.facts()``): the settings every run of the folder shares,
  and the λ choice they are trained under now;
- ``Scoring`` (``RunContext.scoring(split)``): what ``evaluate`` needs to score a model
  on one split;
- ``TrainingData`` (``RunContext.training_values()``): the task, seed 0's training
  settings, the train and validation rows and the regularizer objects, for timing and
  for measuring penalties.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import torch

from regbench.data import Dataset
from regbench.evaluate import Evaluation, evaluate
from regbench.runner.lambda_choice import LambdaChoice
from regbench.options.config import EvaluationConfig, TuningConfig
from regbench.options.settings import TrainConfig
from regbench.store.runs import RunKey
from regbench.tasks import Task
from regbench.training.fit import TrainResult
from regbench.training.train import Trainer


@dataclass(frozen=True)
class RunInputs:
    """key: the run's RunKey (regularizer, λ, seed, share); task; regularizer: the
    registry's object with the run's parameters; config: the seed's TrainConfig; train,
    valid: (codes (N, L), the task's targets, prior rows bool (N,)), training rows with
    their flanks (jitter), validation rows centred; train_rows: N of train; checkpoint:
    where the best epoch's model goes; settings: how this process trains (threads,
    device, models_per_group; results.csv)."""

    key: RunKey
    task: Task
    regularizer: object
    config: TrainConfig
    train: tuple
    valid: tuple
    train_rows: int
    checkpoint: Path
    settings: Mapping


@dataclass(frozen=True)
class RunFacts:
    """What every run of one results folder shares. out: the folder; device; task: the
    task's name (binary, profile); regularizers: the run's, in order; searched: those
    whose λ a tuning run searches; seeds: verdict seeds 0..seeds-1; data_fractions: the
    shares of the training rows also trained on; progress: bars (else a line per
    model); train: seed 0's TrainConfig; tuning, evaluation: the [tuning] and
    [evaluation] settings; choice: the λ each regularizer is trained with now."""

    out: Path
    device: torch.device
    task: str
    regularizers: tuple[str, ...]
    searched: tuple[str, ...]
    seeds: int
    data_fractions: tuple[float, ...]
    progress: bool
    train: TrainConfig
    tuning: TuningConfig
    evaluation: EvaluationConfig
    choice: LambdaChoice


@dataclass(frozen=True)
class Scoring:
    """What ``evaluate`` needs to score a model on one split: rows (the split's
    Dataset), task, settings ([evaluation]), device, freq_limit (T of the
    high-frequency fraction for this data's length)."""

    rows: Dataset
    task: Task
    settings: EvaluationConfig
    device: torch.device
    freq_limit: int

    def evaluate(self, model, settings: EvaluationConfig | None = None,
                 metrics=None) -> Evaluation:
        """``evaluate.evaluate`` of ``model`` on these rows (``settings``: others than
        the run's [evaluation]; ``metrics``: only these)."""
        return evaluate(model, self.rows, self.task, settings or self.settings,
                        device=self.device, freq_limit=self.freq_limit, metrics=metrics)


@dataclass(frozen=True)
class TrainingData:
    """task; config: seed 0's TrainConfig; train, valid: (codes (N, L), the task's
    targets, prior rows bool (N,)) of the training rows (centred, no flanks) and the
    validation rows; regularizers: name -> the registry's object with the run's
    parameters, for none and each of the run's regularizers."""

    task: Task
    config: TrainConfig
    train: tuple
    valid: tuple
    regularizers: Mapping[str, object]


def train_run(inputs: RunInputs, progress=None) -> TrainResult:
    """Train one run to early stopping from its inputs (``Trainer.fit``); ``progress``:
    optional callable(epoch, record) after each epoch."""
    trainer = Trainer(inputs.task, inputs.regularizer, inputs.key.lam, inputs.config)
    return trainer.fit(inputs.train, inputs.valid, checkpoint=inputs.checkpoint,
                       progress=progress)


def train_group(members: list[RunInputs]) -> list[TrainResult]:
    """Train runs of one regularizer and λ that differ only in seed as one grouped
    model (``group.GroupTrainer``); one TrainResult per member, in order."""
    from regbench.training.group import GroupTrainer
    first = members[0]
    trainer = GroupTrainer(first.task, first.regularizer, first.key.lam,
                           [m.config for m in members])
    return trainer.fit([m.train for m in members], first.valid,
                       checkpoints=[m.checkpoint for m in members])


__all__ = ["RunFacts", "RunInputs", "Scoring", "TrainingData", "train_group",
           "train_run"]
