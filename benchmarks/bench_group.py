"""Grouped training: models trained per second when G seeds train as one grouped model
(``regbench.training.group.GroupTrainer``) instead of one ``Trainer.fit`` each.

The quick preset's model (32/32/32 filters of widths 15/15/13, pool 20, dense 50/15),
sequence length (200 bp, its spi1_binary scenario) and batch size (64); every member
trains on the same training split, with its own seed. An epoch is one training pass
plus the validation pass, timed between two epochs' progress callbacks (so start-up
and the first epoch's warm-up stay out); model-epochs/s = G / s per epoch. The solo
row is ``Trainer.fit`` itself, the reference for the speed-up. On a CPU a smaller
sample of the scenario is used (the time per sequence does not depend on N).

On a GPU a second table does the same at the paper preset's sizes (1000 bp, 64 filters,
pool 40) for 1, 10 and 30 members (30 = the paper's seeds of one regularizer), on a
sample of its data: the figures behind the paper preset's projected time.
"""
from __future__ import annotations

import statistics
import time

import torch

from benchmarks import Context, Table, preset_data
from regbench.options.config import PRESETS
from regbench.training.group import GroupTrainer
from regbench.runtime.memory import apply_process_settings
from regbench.regularizers import get_regularizer, get_spec
from regbench.tasks import BinaryTask
from regbench.training.train import Trainer, TrainConfig

REGULARIZERS = ("none", "fourier")


def epoch_seconds(preset: str, name: str, size: int | None, train, valid, device,
                  epochs: int) -> tuple[float, float]:
    """(median s per epoch over epochs 2..``epochs``, first-step peak bytes of the
    whole group) of G = ``size`` members of ``preset``'s model trained as one group;
    None: one solo ``Trainer.fit``."""
    sizes = PRESETS[preset]
    task = BinaryTask(sizes["model"], seq_len=train[0].shape[1], n_tasks=1)
    reg, lam = get_regularizer(name), get_spec(name).default_lambda
    configs = [TrainConfig(max_epochs=epochs, patience=epochs, seed=seed, device=str(device),
                           batch_size=sizes["train"]["batch_size"])
               for seed in range(size or 1)]
    stamps = []

    def stamp(*args):   # (epoch, record) solo; (member, epoch, record) grouped
        if len(args) == 2 or args[0] == 0:
            stamps.append(time.perf_counter())

    if size is None:
        result = Trainer(task, reg, lam, configs[0]).fit(train, valid, progress=stamp)
        peak = result.peak_step_bytes
    else:
        results = GroupTrainer(task, reg, lam, configs).fit([train] * size, valid,
                                                            progress=stamp)
        peak = results[0].peak_step_bytes * size
    return statistics.median(b - a for a, b in zip(stamps, stamps[1:])), peak


def measure(ctx: Context, preset: str, train, valid, sizes, epochs: int) -> list[list]:
    """Table rows: solo and each group size, for every regularizer."""
    rows = []
    for name in REGULARIZERS:
        solo, solo_peak = epoch_seconds(preset, name, None, train, valid, ctx.device, epochs)
        rows.append([name, "solo Trainer", solo, 1 / solo, 1.0, solo_peak / 2**20])
        print(f"   {preset} {name} solo: {solo:.2f} s/epoch", flush=True)
        for size in sizes:
            seconds, peak = epoch_seconds(preset, name, size, train, valid, ctx.device, epochs)
            rows.append([name, size, seconds, size / seconds, solo * size / seconds,
                         peak / 2**20])
            print(f"   {preset} {name} G={size}: {seconds:.2f} s/epoch", flush=True)
    return rows


def emit(ctx: Context, preset: str, train, valid, epochs: int, rows, share) -> None:
    gpu = ctx.device.type == "cuda"
    sizes = PRESETS[preset]
    ctx.emit(Table(
        f"Grouped training, {ctx.device.type}: {len(train[0]):,} training + "
        f"{len(valid[0]):,} validation sequences x {train[0].shape[1]} bp, {preset}-preset "
        f"model, batch {sizes['train']['batch_size']} (median of epochs 2-{epochs})",
        ["regularizer", "models/group", "s/epoch", "model-epochs/s", "x solo",
         "peak MiB/group"], rows,
        ["s/epoch = training pass + validation pass of the whole group; model-epochs/s = "
         "models in the group / s/epoch; x solo: against one Trainer.fit",
         "peak MiB/group: extra memory torch allocated in the first training step (of "
         "the whole group; TrainResult.peak_step_bytes is this / G)",
         f"{torch.cuda.get_device_name(ctx.device) if gpu else 'CPU'}, "
         f"{torch.get_num_threads()} torch threads, torch {torch.__version__}"]),
        share)


def run(ctx: Context) -> None:
    gpu = ctx.device.type == "cuda"
    if ctx.quick:
        n_per_class, sizes, epochs = 250, (1, 4, 8), 2
    else:
        n_per_class = PRESETS["quick"]["simulate"].get("positives", 1000) if gpu else 250
        sizes, epochs = (1, 4, 8, 16, 32), 3
    apply_process_settings(ctx.device)   # as regbench run does
    train, valid = preset_data("quick", n_per_class)
    rows, share = ctx.clean(lambda: measure(ctx, "quick", train, valid, sizes, epochs))
    emit(ctx, "quick", train, valid, epochs, rows, share)
    if gpu and not ctx.quick:   # the paper's sizes: a CPU would take hours
        train, valid = preset_data("paper", 2000)
        rows, share = ctx.clean(lambda: measure(ctx, "paper", train, valid, (1, 10, 30), 3))
        emit(ctx, "paper", train, valid, 3, rows, share)
