"""Mixed precision: step time with ``mixed_precision=True`` (bfloat16 autocast) vs
False, and how far the penalty values move.

Penalty values: the same weights and the same batch through ``Trainer.penalty`` with
and without autocast (model in train mode, freshly initialised, no step taken);
relative difference |p_bf16 - p_fp32| / |p_fp32|.
"""
from __future__ import annotations

import copy
import dataclasses


from benchmarks import Context, Table, median_times
from benchmarks.bench_step import make_step, make_trainer, random_batch

NAMES = ("none", "fourier", "smoothness", "sparsity")


def penalty_difference(name: str, batch: int, length: int, device) -> tuple[float, float]:
    """(fp32 penalty, relative difference of the bf16 one) on one batch."""
    trainer, model, _ = make_trainer(name, length, device)
    X, _, n_positive = random_batch(batch, length, device, seed=1)
    values = []
    for mixed in (False, True):
        trainer.config = dataclasses.replace(trainer.config, mixed_precision=mixed)
        _, penalty = trainer.penalty(copy.deepcopy(model), X, n_positive)  # same weights
        values.append(penalty.item())
    return values[0], abs(values[1] - values[0]) / abs(values[0])


def run(ctx: Context) -> None:
    batch, length, repeats = (32, 500, 3) if ctx.quick else (64, 1000, ctx.repeats(5))
    steps = {(name, mixed): make_step(name, batch, length, ctx.device, mixed)
             for name in NAMES for mixed in (False, True)}
    times, share = ctx.clean(lambda: median_times(steps, ctx.device, repeats=repeats,
                                                  warmup=2))
    fp32 = {name: times[name, False] for name in NAMES}
    bf16 = {name: times[name, True] for name in NAMES}
    rows = []
    for name in NAMES:
        value, rel = (penalty_difference(name, batch, length, ctx.device)
                      if name != "none" else (float("nan"), float("nan")))
        rows.append([name, fp32[name], bf16[name], fp32[name] / bf16[name], value,
                     f"{rel:.1e}" if rel == rel else "n/a"])
    ctx.emit(Table(
        f"Mixed precision (bfloat16 autocast), {ctx.device.type}: batch {batch}, {length} bp "
        f"(median of {repeats})",
        ["regularizer", "fp32 s/step", "bf16 s/step", "speed-up", "penalty fp32",
         "rel. diff bf16"], rows,
        ["fp32 and bf16 steps interleaved in the same run; speed-up = fp32 / bf16"]),
        share)
