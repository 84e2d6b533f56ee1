"""Do grouped models score like solo ones? Seeds of one regularizer trained solo
(``Trainer.fit`` each) and as one group (``GroupTrainer``), paired by seed: best epoch
and test auROC of each, the paired differences, how many seeds the group won and a
Wilcoxon signed-rank test (scipy) of the differences.

A member is another draw of its seed's training (float rounding grows over epochs,
tests/test_group.py), so single seeds differ; a systematic difference would show as a
one-sided count and a small p. The quick preset's model, data and training (at most 20
epochs, patience 3, default λ). On a GPU three times (``GPU_VARIANTS``): one group of
8 with TF32 convolutions (cuDNN's default), the same without TF32, and groups of 4 with
cuDNN autotuning on, as in the one ``regbench run --models-per-group 4`` that scored
every grouped model lower (its groups of 4 took a kernel with an 8 GiB workspace;
autotuning may pick faster, less accurate algorithms). Not a timing: the machine's load
does not matter.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.stats import wilcoxon

from benchmarks import Context, Table, preset_splits
from regbench.options.config import PRESETS
from regbench.evaluate import predict
from regbench.training.group import GroupTrainer
from regbench.runtime.memory import apply_process_settings
from regbench.metrics.performance import auroc
from regbench.regularizers import get_regularizer, get_spec
from regbench.tasks import BinaryTask
from regbench.training.train import Trainer, TrainConfig, one_hot_codes

REGULARIZER = "fourier"
# (TF32 convolutions, cuDNN autotuning, members per group; None: all seeds in one)
GPU_VARIANTS = [(True, True, 4), (True, False, None), (False, False, None)]


def test_auroc(model: torch.nn.Module, test, device) -> float:
    """auROC of the model's logits on the test split (codes, labels)."""
    logits = predict(model, one_hot_codes(torch.from_numpy(test[0])), device, batch_size=256)
    return auroc(test[1], logits)


def paired_rows(data, seeds: int, max_epochs: int, device,
                group_size: int | None = None) -> list[list]:
    """[seed, solo best epoch, grouped best epoch, solo auROC, grouped auROC, diff];
    the grouped runs in groups of ``group_size`` seeds (None: one group)."""
    quick = PRESETS["quick"]
    task = BinaryTask(quick["model"], seq_len=data["train"][0].shape[1], n_tasks=1)
    reg, lam = get_regularizer(REGULARIZER), get_spec(REGULARIZER).default_lambda
    configs = [TrainConfig(max_epochs=max_epochs, patience=quick["train"]["patience"],
                           batch_size=quick["train"]["batch_size"], seed=seed,
                           device=str(device)) for seed in range(seeds)]
    solo = [Trainer(task, reg, lam, c).fit(data["train"], data["valid"]) for c in configs]
    size = group_size or seeds
    group = [member for i in range(0, seeds, size)
             for member in GroupTrainer(task, reg, lam, configs[i:i + size]).fit(
                 [data["train"]] * len(configs[i:i + size]), data["valid"])]
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
    cudnn = torch.backends.cudnn
    old = cudnn.allow_tf32, cudnn.benchmark
    try:
        for tf32, autotune, size in GPU_VARIANTS if gpu else [(None, None, None)]:
            label = ""
            if gpu:
                cudnn.allow_tf32, cudnn.benchmark = tf32, autotune
                label = (f", TF32 convolutions {'on' if tf32 else 'off'}, cuDNN autotuning "
                         f"{'on' if autotune else 'off'}")
            rows = paired_rows(data, seeds, epochs, ctx.device, size)
            ctx.emit(Table(
                f"Grouped vs solo, {REGULARIZER}, {ctx.device.type}{label}: {seeds} seeds "
                f"in {'groups of ' + str(size) if size else 'one group'}, "
                f"{len(data['train'][0]):,} training / {len(data['test'][0]):,} test "
                f"sequences x {data['train'][0].shape[1]} bp, quick preset, <= {epochs} epochs",
                ["seed", "best epoch solo", "best epoch grouped", "test auROC solo",
                 "test auROC grouped", "grouped - solo"], rows,
                [summary(rows),
                 f"{torch.cuda.get_device_name(ctx.device) if gpu else 'CPU'}, "
                 f"{torch.get_num_threads()} torch threads, torch {torch.__version__}"]))
    finally:
        cudnn.allow_tf32, cudnn.benchmark = old
