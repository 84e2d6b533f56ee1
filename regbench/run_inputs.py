"""One run's training inputs as one frozen value, and the training that reads only it.

``RunContext.run_inputs(key)`` prepares a ``RunInputs`` (the data rows, split, task,
regularizer, key and training settings); ``train_run`` and ``train_group`` train from
those values alone, as Optuna's samplers work from the study and trial they are handed
rather than from a shared object.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from regbench.settings import TrainConfig
from regbench.store import RunKey
from regbench.tasks import Task
from regbench.fit import TrainResult
from regbench.train import Trainer


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


def train_run(inputs: RunInputs, progress=None) -> TrainResult:
    """Train one run to early stopping from its inputs (``Trainer.fit``); ``progress``:
    optional callable(epoch, record) after each epoch."""
    trainer = Trainer(inputs.task, inputs.regularizer, inputs.key.lam, inputs.config)
    return trainer.fit(inputs.train, inputs.valid, checkpoint=inputs.checkpoint,
                       progress=progress)


def train_group(members: list[RunInputs]) -> list[TrainResult]:
    """Train runs of one regularizer and λ that differ only in seed as one grouped
    model (``group.GroupTrainer``); one TrainResult per member, in order."""
    from regbench.group import GroupTrainer
    first = members[0]
    trainer = GroupTrainer(first.task, first.regularizer, first.key.lam,
                           [m.config for m in members])
    return trainer.fit([m.train for m in members], first.valid,
                       checkpoints=[m.checkpoint for m in members])


__all__ = ["RunInputs", "train_group", "train_run"]
