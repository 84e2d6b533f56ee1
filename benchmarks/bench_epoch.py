"""Full-epoch overhead: ``Trainer.run_epoch`` vs the same steps on pre-built tensors.

The epoch draws batches (``batch_order``), indexes the uint8 codes, one-hot encodes
them and sums the losses; the pure run does the same steps (same batches, same
positives-first order) on one-hot batches built beforehand. Overhead = epoch / pure - 1.
The data path alone (batch order + indexing + encoding, no model) is timed too. On a
GPU two more figures: the epoch with the data left in host memory (the Trainer's path
for data too large for the device: each batch gathered, pinned and copied), and how
often an epoch makes the host wait for the device (``torch.cuda.set_sync_debug_mode``).
"""
from __future__ import annotations

import dataclasses

import warnings

import numpy as np
import torch

from benchmarks import MEMORY_NOTE, Context, Table, median_times, peak_bytes, target
from benchmarks.bench_step import make_trainer, train_step
from regbench.training.train import batch_order, one_hot_codes


def count_host_syncs(epoch) -> int:
    """Synchronising CUDA calls made by ``epoch()``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            epoch()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("called a synchronizing" in str(w.message) for w in caught)


def run(ctx: Context) -> None:
    n_seqs, length, repeats = (512, 500, 2) if ctx.quick else (2048, 1000, 2)
    gpu = ctx.device.type == "cuda"
    if gpu and not ctx.quick:
        n_seqs, repeats = 8192, 5
    batch = 64
    gen = torch.Generator().manual_seed(0)
    host_codes = torch.randint(0, 4, (n_seqs, length), generator=gen, dtype=torch.uint8)
    labels_np = (np.arange(n_seqs) % 2).astype(np.float32)[:, None]  # half positive
    host_labels = torch.as_tensor(labels_np)
    prior = labels_np[:, 0] > 0
    codes, labels = host_codes.to(ctx.device), host_labels.to(ctx.device)
    variants = [("none", True), ("fourier", True)] + ([("fourier", False)] if gpu else [])
    rows, shares = [], []
    for name, resident in variants:
        trainer, model, optimizer = make_trainer(name, length, ctx.device)
        trainer.config = dataclasses.replace(trainer.config, batch_size=batch)
        batches = []
        for idx_np, n_pos in batch_order(prior, batch, np.random.default_rng(0)):
            idx = torch.as_tensor(idx_np, device=ctx.device)
            batches.append((one_hot_codes(codes[idx]), labels[idx], n_pos))
        epoch_codes, epoch_labels = (codes, labels) if resident else (host_codes, host_labels)

        def epoch():
            trainer.run_epoch(model, optimizer, epoch_codes, epoch_labels, prior,
                               np.random.default_rng(0))

        def pure():
            for X, y, n_pos in batches:
                train_step(trainer, model, optimizer, X, y, n_pos)

        def data_path():
            for idx_np, _ in batch_order(prior, batch, np.random.default_rng(0)):
                idx = torch.as_tensor(idx_np, device=epoch_codes.device)
                one_hot_codes(trainer.on_device(epoch_codes[idx]))

        for X, y, n_pos in batches[:2] + batches[-1:]:  # warm-up, every batch shape
            train_step(trainer, model, optimizer, X, y, n_pos)
        times, share = ctx.clean(lambda: median_times(
            {"epoch": epoch, "pure": pure}, ctx.device, repeats=repeats, warmup=0))
        shares.append(share)
        data = median_times({"data": data_path}, ctx.device, repeats=5)["data"]
        overhead = times["epoch"] / times["pure"] - 1
        row = [name + ("" if resident else ", data in host memory"), times["epoch"],
               times["pure"], f"{100 * overhead:+.1f}%", f"{100 * data / times['pure']:.2f}%",
               peak_bytes(epoch, ctx.device) / 2**20]
        if gpu:
            row.append(count_host_syncs(epoch))
        rows.append(row + [target(overhead < 0.10, ctx.quick)])
    headers = ["regularizer", "epoch s", "pure steps s", "overhead", "data path alone",
               "peak MiB"]
    headers += ["host syncs/epoch"] if gpu else []
    ctx.emit(Table(
        f"Epoch overhead, {ctx.device.type}: {n_seqs:,} sequences x {length} bp, batch "
        f"{batch} (median of {repeats} after warm-up steps)",
        headers + ["target < 10%"], rows,
        [f"peak MiB: extra memory allocated by torch during one epoch (the data are "
         f"allocated before); {MEMORY_NOTE[gpu]}"]
        + ([f"{n_seqs // batch} batches per epoch; the one expected host sync is the "
            "epoch's summed losses"] if gpu else [])),
        None if None in shares else max(shares))
