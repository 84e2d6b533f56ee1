"""Do grouped models score like solo ones? Seeds of one regularizer trained solo
(``Trainer.fit`` each) and as one group (``GroupTrainer``), paired by seed: best epoch
and test auROC of each, the paired differences, how many seeds the group won and a
Wilcoxon signed-rank test (scipy) of the differences.

A member is another draw of its seed's training (float rounding grows over epochs,
tests/test_group.py), so single seeds differ; a systematic difference would show as a
one-sided count and a small p. The quick preset's model, data and training (at most 20
epochs, patience 3, default λ); on a GPU twice, with TF32 convolutions (cuDNN's
default) and without. Not a timing: the machine's load does not matter.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.stats import wilcoxon

from benchmarks import Context, Table, preset_splits
from regbench.config import PRESETS
from regbench.evaluate import predict
from regbench.group import GroupTrainer
from regbench.memory import apply_process_settings
from regbench.metrics.performance import auroc
from regbench.regularizers import get_regularizer, get_spec
from regbench.tasks import BinaryTask
from regbench.train import Trainer, TrainConfig, one_hot_codes

REGULARIZER = "fourier"


def test_auroc(model: torch.nn.Module, test, device) -> float:
    """auROC of the model's logits on the test split (codes, labels)."""
    logits = predict(model, one_hot_codes(torch.from_numpy(test[0])), device, batch_size=256)
    return auroc(test[1], logits)


def paired_rows(data, seeds: int, max_epochs: int, device) -> list[list]:
    """[seed, solo best epoch, grouped best epoch, solo auROC, grouped auROC, diff]."""
    quick = PRESETS["quick"]
    task = BinaryTask(quick["model"], seq_len=data["train"][0].shape[1], n_tasks=1)
    reg, lam = get_regularizer(REGULARIZER), get_spec(REGULARIZER).default_lambda
    configs = [TrainConfig(max_epochs=max_epochs, patience=quick["train"]["patience"],
                           batch_size=quick["train"]["batch_size"], seed=seed,
                           device=str(device)) for seed in range(seeds)]
    solo = [Trainer(task, reg, lam, c).fit(data["train"], data["valid"]) for c in configs]
    group = GroupTrainer(task, reg, lam, configs).fit([data["train"]] * seeds, data["valid"])
    rows = []
    for seed, (alone, member) in enumerate(zip(solo, group)):
        a, g = (test_auroc(r.model, data["test"], device) for r in (alone, member))
        rows.append([seed, alone.best_epoch, member.best_epoch, a, g, g - a])
    return rows


def summary(rows: list[list]) -> str:
    diffs = np.array([r[-1] for r in rows])
    p = wilcoxon(diffs).pvalue if np.any(diffs != 0) else 1.0
    return (f"grouped - solo test auROC: mean {diffs.mean():+.4f}, grouped higher in "
            f"{int((diffs > 0).sum())} of {len(diffs)} seeds, Wilcoxon signed-rank p = "
            f"{p:.3g}; equal best epochs {sum(r[1] == r[2] for r in rows)} of {len(rows)}")


def run(ctx: Context) -> None:
    gpu = ctx.device.type == "cuda"
    n_per_class, seeds, epochs = (250, 4, 5) if ctx.quick else (None, 8, 20)
    apply_process_settings(ctx.device)
    data = preset_splits("quick", n_per_class)
    variants = [True, False] if gpu else [None]
    old = torch.backends.cudnn.allow_tf32
    try:
        for tf32 in variants:
            if tf32 is not None:
                torch.backends.cudnn.allow_tf32 = tf32
            rows = paired_rows(data, seeds, epochs, ctx.device)
            label = "" if tf32 is None else f", TF32 convolutions {'on' if tf32 else 'off'}"
            ctx.emit(Table(
                f"Grouped vs solo, {REGULARIZER}, {ctx.device.type}{label}: {seeds} seeds, "
                f"{len(data['train'][0]):,} training / {len(data['test'][0]):,} test "
                f"sequences x {data['train'][0].shape[1]} bp, quick preset, <= {epochs} epochs",
                ["seed", "best epoch solo", "best epoch grouped", "test auROC solo",
                 "test auROC grouped", "grouped - solo"], rows,
                [summary(rows),
                 f"{torch.cuda.get_device_name(ctx.device) if gpu else 'CPU'}, "
                 f"{torch.get_num_threads()} torch threads, torch {torch.__version__}"]))
    finally:
        torch.backends.cudnn.allow_tf32 = old
