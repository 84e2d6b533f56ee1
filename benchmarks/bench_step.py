"""Training step time per regularizer, as a ratio to ``none``.

One step is exactly what ``Trainer.run_epoch`` does per batch, ``Trainer.train_step``:
forward, input x gradient with create_graph, penalty, the class-balanced loss plus
λ · penalty, backward into the weights, Adam step. The paper's architecture
(BinaryModelConfig defaults), half of each batch positive (the prior sees the positives,
as by default), λ = the registry default of each regularizer.
"""
from __future__ import annotations

import torch

from benchmarks import MEMORY_NOTE, Context, Table, median_times, peak_bytes, target
from regbench.runtime.memory import apply_process_settings
from regbench.tasks import BinaryTask
from regbench.regularizers import get_regularizer, get_spec
from regbench.training.train import Trainer, TrainConfig, one_hot_codes

REGULARIZERS = ("none", "l2", "fourier", "smoothness", "sparsity")


def train_step(trainer: Trainer, model, optimizer, X, y, n_positive: int):
    """One optimisation step: ``Trainer.train_step``, the call ``run_epoch`` makes."""
    params = [p for p in model.parameters() if p.requires_grad]
    return trainer.train_step(model, optimizer, params, X, y, n_positive)


def random_batch(batch: int, length: int, device, seed: int = 0):
    """Uniform random one-hot DNA (B, 4, L), labels (B, 1) with the first half positive."""
    gen = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 4, (batch, length), generator=gen, dtype=torch.uint8)
    labels = torch.zeros(batch, 1)
    labels[: batch // 2] = 1
    return one_hot_codes(codes.to(device)), labels.to(device), batch // 2


def make_trainer(name: str, length: int, device, mixed_precision: bool = False,
                 seed: int = 0, lam: float | None = None):
    """(trainer, model, optimizer) for the paper's model at ``length`` bp."""
    torch.manual_seed(seed)
    apply_process_settings(device)  # as regbench run does
    lam = get_spec(name).default_lambda if lam is None else lam
    trainer = Trainer(BinaryTask(seq_len=length, n_tasks=1), get_regularizer(name), lam,
                      TrainConfig(device=str(device), mixed_precision=mixed_precision))
    model = trainer.build_model().train()
    optimizer = torch.optim.Adam(model.parameters(), lr=trainer.config.learning_rate)
    return trainer, model, optimizer


def make_step(name: str, batch: int, length: int, device, mixed_precision: bool = False):
    """A zero-argument callable running one training step on a fixed random batch."""
    trainer, model, optimizer = make_trainer(name, length, device, mixed_precision)
    X, y, n_positive = random_batch(batch, length, device)
    return lambda: train_step(trainer, model, optimizer, X, y, n_positive)


def step_times(names, batch: int, length: int, device, repeats: int, warmup: int = 2,
               mixed_precision: bool = False) -> dict[str, float]:
    apply_process_settings(device)  # as regbench run does
    steps = {name: make_step(name, batch, length, device, mixed_precision) for name in names}
    return median_times(steps, device, repeats=repeats, warmup=warmup)


def run(ctx: Context) -> None:
    batch, length, repeats = (32, 500, 3) if ctx.quick else (64, 1000, ctx.repeats(7))
    times, share = ctx.clean(lambda: step_times(REGULARIZERS, batch, length, ctx.device,
                                                 repeats))
    memory = {name: peak_bytes(make_step(name, batch, length, ctx.device), ctx.device)
              for name in REGULARIZERS}
    base = times["none"]
    fourier = times["fourier"]
    rows = []
    for name in REGULARIZERS:
        ratio = times[name] / base
        if name == "fourier":
            goal, ok = "<= 2.2x none", ratio <= 2.2
        elif name in ("smoothness", "sparsity"):
            rel = times[name] / fourier - 1
            goal, ok = f"within 5% of fourier ({100 * rel:+.1f}%)", abs(rel) <= 0.05
        else:
            goal, ok = "", None
        rows.append([name, times[name], ratio, memory[name] / 2**20, goal,
                     target(ok, ctx.quick) if goal else ""])
    ctx.emit(Table(
        f"Training step, {ctx.device.type}: batch {batch}, {length} bp, paper model "
        f"(median of {repeats} after warm-up, {torch.get_num_threads()} threads)",
        ["regularizer", "s/step", "x none", "peak MiB", "target", ""], rows,
        ["peak MiB: extra memory allocated by torch during one step (activations, the "
         "double-backward graph, gradients), the first step of a fresh model; "
         + MEMORY_NOTE[ctx.device.type == "cuda"]]), share)
