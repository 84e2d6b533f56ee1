"""Full-epoch overhead: ``Trainer._run_epoch`` vs the same steps on pre-built tensors.

The epoch draws batches (``batch_order``), indexes the uint8 codes, one-hot encodes
them and sums the losses; the pure run does the same steps (same batches, same
positives-first order) on one-hot batches built beforehand. Overhead = epoch / pure - 1.
The data path alone (batch order + indexing + encoding, no model) is timed too.
"""
from __future__ import annotations

import numpy as np
import torch

from benchmarks import Context, Table, median_times, target
from benchmarks.bench_step import make_trainer, train_step
from regbench.train import batch_order, one_hot_codes


def run(ctx: Context) -> None:
    n_seqs, length, repeats = (512, 500, 2) if ctx.quick else (2048, 1000, 2)
    batch = 64
    gen = torch.Generator().manual_seed(0)
    codes = torch.randint(0, 4, (n_seqs, length), generator=gen, dtype=torch.uint8)
    labels_np = (np.arange(n_seqs) % 2).astype(np.float32)[:, None]  # half positive
    codes, labels = codes.to(ctx.device), torch.as_tensor(labels_np, device=ctx.device)
    rows, shares = [], []
    for name in ("none", "fourier"):
        trainer, model, optimizer = make_trainer(name, length, ctx.device)
        trainer.config.batch_size = batch
        batches = []
        for idx_np, n_pos in batch_order(labels_np, batch, np.random.default_rng(0)):
            idx = torch.as_tensor(idx_np, device=ctx.device)
            batches.append((one_hot_codes(codes[idx]), labels[idx], n_pos))

        def epoch():
            trainer._run_epoch(model, optimizer, codes, labels, labels_np,
                               np.random.default_rng(0))

        def pure():
            for X, y, n_pos in batches:
                train_step(trainer, model, optimizer, X, y, n_pos)

        def data_path():
            for idx_np, _ in batch_order(labels_np, batch, np.random.default_rng(0)):
                one_hot_codes(codes[torch.as_tensor(idx_np, device=ctx.device)])

        for X, y, n_pos in batches[:2] + batches[-1:]:  # warm-up, every batch shape
            train_step(trainer, model, optimizer, X, y, n_pos)
        times, share = ctx.clean(lambda: median_times(
            {"epoch": epoch, "pure": pure}, ctx.device, repeats=repeats, warmup=0))
        shares.append(share)
        data = median_times({"data": data_path}, ctx.device, repeats=5)["data"]
        overhead = times["epoch"] / times["pure"] - 1
        rows.append([name, times["epoch"], times["pure"], f"{100 * overhead:+.1f}%",
                     f"{100 * data / times['pure']:.2f}%", target(overhead < 0.10, ctx.quick)])
    ctx.emit(Table(
        f"Epoch overhead, {ctx.device.type}: {n_seqs:,} sequences x {length} bp, batch "
        f"{batch} (median of {repeats} after warm-up steps)",
        ["regularizer", "epoch s", "pure steps s", "overhead", "data path alone",
         "target < 10%"], rows), None if None in shares else max(shares))
