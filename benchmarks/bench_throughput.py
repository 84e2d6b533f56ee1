"""Training throughput of the paper preset: sequences per second through ``Trainer.fit``.

The paper preset's data (spi1_binary at 1000 bp, its train split), model
(BinaryModelConfig defaults) and train settings (batch 64), λ = registry defaults,
trained by the Trainer as ``regbench run`` does (data resident on the device, cuDNN
autotuning on a GPU). An epoch is one training pass plus the validation pass (loss,
and the penalty for the priors); its time is the gap between two epochs' progress
callbacks, so start-up and the first epoch's autotuning stay out. On a GPU the paper's
20,000 sequences are used; on a CPU a 2,000-sequence sample of the same scenario (the
time per sequence does not depend on N).
"""
from __future__ import annotations

import statistics
import time

import torch

from benchmarks import Context, Table, preset_data
from benchmarks.bench_step import REGULARIZERS
from regbench.options.config import PRESETS
from regbench.runtime.memory import apply_process_settings
from regbench.tasks import BinaryTask
from regbench.regularizers import get_regularizer, get_spec
from regbench.training.train import Trainer, TrainConfig


def paper_data(n_per_class: int):
    """((train codes, labels), (valid codes, labels)) of the paper preset's scenario."""
    return preset_data("paper", n_per_class)


def epoch_seconds(name: str, train, valid, device, epochs: int, mixed: bool) -> float:
    """Median wall time of epochs 2..``epochs`` (train + validation) of one fit."""
    paper = PRESETS["paper"]["train"]
    apply_process_settings(device)  # as regbench run does
    config = TrainConfig(max_epochs=epochs, patience=epochs, batch_size=paper["batch_size"],
                         device=str(device), mixed_precision=mixed)
    task = BinaryTask(seq_len=train[0].shape[1], n_tasks=1)
    trainer = Trainer(task, get_regularizer(name),
                      get_spec(name).default_lambda, config)
    stamps = []
    trainer.fit(train, valid, progress=lambda epoch, record: stamps.append(time.perf_counter()))
    return statistics.median(b - a for a, b in zip(stamps, stamps[1:]))


def run(ctx: Context) -> None:
    gpu = ctx.device.type == "cuda"
    n_per_class = PRESETS["paper"]["simulate"]["positives"] if gpu else 1_000
    epochs = 4 if gpu else 2
    if ctx.quick:
        n_per_class, epochs = 250, 2
    train, valid = paper_data(n_per_class)
    variants = [(name, False) for name in REGULARIZERS]
    if gpu:
        variants += [("none", True), ("fourier", True)]
    max_epochs = PRESETS["paper"]["train"]["max_epochs"]
    seeds = PRESETS["paper"]["seeds"]
    rows, seconds = [], {}
    for name, mixed in variants:
        seconds[name, mixed] = epoch_seconds(name, train, valid, ctx.device, epochs, mixed)
        per_model = seconds[name, mixed] * max_epochs
        rows.append([name + (" (bf16)" if mixed else ""), seconds[name, mixed],
                     len(train[0]) / seconds[name, mixed],
                     seconds[name, mixed] / seconds["none", mixed], per_model / 60,
                     per_model * seeds / 3600])
        print(f"   {rows[-1][0]}: {seconds[name, mixed]:.2f} s/epoch", flush=True)
    ctx.emit(Table(
        f"Paper preset throughput, {ctx.device.type}: {len(train[0]):,} training + "
        f"{len(valid[0]):,} validation sequences x {train[0].shape[1]} bp, batch "
        f"{PRESETS['paper']['train']['batch_size']} (median of epochs 2-{epochs} of one fit)",
        ["regularizer", "s/epoch", "train seq/s", "x none", f"min/model ({max_epochs} ep.)",
         f"h for {seeds} seeds"], rows,
        ["s/epoch = training pass + validation pass; train seq/s = training sequences / "
         "s/epoch (validation included, so a lower bound on the training rate)",
         f"min/model and h for {seeds} seeds are upper bounds: every fit run to max_epochs "
         f"= {max_epochs}; early stopping usually ends sooner",
         *(["bf16 rows: mixed_precision = true; x none against none (bf16)"] if gpu else []),
         f"{torch.cuda.get_device_name(ctx.device) if gpu else 'CPU'}, "
         f"torch {torch.__version__}"]))
