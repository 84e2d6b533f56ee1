"""Where the time of a Fourier-prior training step goes (torch.profiler).

Tables: the step's phases (record_function around the same calls as
``Trainer.train_step``), the autograd nodes and ops with the most host time, on a GPU
the kernels with the most device time, and prototypes of possible fixes timed side by
side with the step as the Trainer takes it: backward into every leaf (what the Trainer
did before), the first convolution's 4 input channels zero-padded to 8, TF32 off (GPU);
and on the CPU glibc malloc settings (``keep_freed_memory``) in child processes,
default and tuned alternately, since allocator state is per process.
"""
from __future__ import annotations

import copy
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile, record_function

from benchmarks import Context, Table, median_times
from benchmarks.bench_step import make_trainer, random_batch, train_step
from regbench.attributions import full_float32

PHASES = ("penalty: forward + attributions + penalty", "loss", "zero_grad + backward",
          "Adam step")


_CHILD = """
import json, resource, statistics, sys, time
import torch
from regbench.runtime.memory import keep_freed_memory
from benchmarks.bench_step import make_step
batch, length, warmup, steps, tuned = (int(v) for v in sys.argv[1:6])
if tuned:
    assert keep_freed_memory()
out = {}
for name in sys.argv[6:]:
    step = make_step(name, batch, length, torch.device("cpu"))
    for _ in range(warmup):
        step()
    times, faults = [], []
    for _ in range(steps):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    out[name] = [statistics.median(times), statistics.median(faults)]
print(json.dumps(out))
"""


def allocator_runs(batch: int, length: int, warmup: int, steps: int, rounds: int,
                   names=("none", "fourier")):
    """{(name, tuned): [(s/step, minor faults/step) per round]}, default and tuned child
    processes alternating."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(root), *filter(None, [os.environ.get("PYTHONPATH")])])}
    results: dict = {}
    for _ in range(rounds):
        for tuned in (0, 1):
            done = subprocess.run(
                [sys.executable, "-c", _CHILD, str(batch), str(length), str(warmup), str(steps),
                 str(tuned), *names], capture_output=True, text=True, env=env, cwd=root, check=True)
            for name, value in json.loads(done.stdout.strip().splitlines()[-1]).items():
                results.setdefault((name, tuned), []).append(value)
    return results


def labelled_step(trainer, model, optimizer, X, y, n_positive):
    """``Trainer.train_step`` with a profiler label per phase."""
    with record_function(PHASES[0]):
        logits, penalty = trainer.penalty(model, X, n_positive)
    with record_function(PHASES[1]):
        loss = trainer.task.loss(logits, y) + trainer.lam * penalty
    with record_function(PHASES[2]):
        optimizer.zero_grad(set_to_none=True)
        loss.backward(inputs=[p for p in model.parameters() if p.requires_grad])
    with record_function(PHASES[3]):
        optimizer.step()


def plain_backward_step(trainer, model, optimizer, X, y, n_positive):
    """Prototype: ``loss.backward()`` into every leaf, the one-hot input included."""
    logits, penalty = trainer.penalty(model, X, n_positive)
    loss = trainer.task.loss(logits, y) + trainer.lam * penalty
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


class PaddedChannelsConv(torch.nn.Module):
    """Prototype: a Conv1d computed with its input channels zero-padded to a multiple of
    8 (same parameters, same output): tensor-core kernels want aligned channels, and the
    first layer has 4 (A, C, G, T)."""

    def __init__(self, conv: torch.nn.Conv1d, multiple: int = 8):
        super().__init__()
        self.conv = conv
        self.extra = -conv.in_channels % multiple

    def forward(self, x):
        weight = F.pad(self.conv.weight, (0, 0, 0, self.extra))
        return F.conv1d(F.pad(x, (0, 0, 0, self.extra)), weight, self.conv.bias,
                        self.conv.stride, self.conv.padding, self.conv.dilation)


def padded_first_conv(model):
    model = copy.deepcopy(model)
    model.layers[0] = PaddedChannelsConv(model.layers[0])
    return model


def emit_convolutions(ctx: Context, prof, n_profiled: int, title: str) -> None:
    """GPU time of each convolution call by input shapes: which conv is the slow one."""
    events = [e for e in prof.key_averages(group_by_input_shape=True)
              if e.key in ("aten::cudnn_convolution", "aten::convolution_backward",
                           "aten::cudnn_convolution_transpose")]
    events.sort(key=lambda e: -e.device_time_total)
    ctx.emit(Table(title.replace("CPU time", "GPU time") + ": convolutions by input shapes",
                   ["op", "input shapes", "calls/step", "GPU ms/step"],
                   [[e.key, str(e.input_shapes)[:80], e.count // n_profiled,
                     e.device_time_total / 1e3 / n_profiled] for e in events[:8]]))


def emit_kernels(ctx: Context, events, n_profiled: int, title: str) -> None:
    """On a GPU the host time above is mostly launches: the kernels' own device time."""
    kernels = [e for e in events if e.self_device_time_total > 0 and e.key not in PHASES
               and not e.key.startswith(("aten::", "autograd", "cuda", "Optimizer"))]
    total = sum(e.self_device_time_total for e in kernels)
    top = sorted(kernels, key=lambda e: -e.self_device_time_total)[:12]
    ctx.emit(Table(title.replace("CPU time", "GPU kernel time") + ": top kernels",
                   ["kernel", "calls/step", "ms/step", "share"],
                   [[e.key[:90], e.count // n_profiled, e.self_device_time_total / 1e3 / n_profiled,
                     f"{100 * e.self_device_time_total / total:.1f}%"] for e in top],
                   [f"all kernels: {total / 1e3 / n_profiled:.2f} ms of GPU time per step"]))


def emit_prototypes(ctx: Context, trainer, model, optimizer, X, y, n_positive, repeats):
    """Possible fixes timed side by side with the step as the Trainer takes it."""
    padded = padded_first_conv(model)
    padded_optimizer = torch.optim.Adam(padded.parameters(), lr=trainer.config.learning_rate)
    variants = {
        "as the Trainer does it": lambda: train_step(trainer, model, optimizer, X, y,
                                                     n_positive),
        "loss.backward() into all leaves": lambda: plain_backward_step(
            trainer, model, optimizer, X, y, n_positive),
        "first conv padded to 8 input channels": lambda: train_step(
            trainer, padded, padded_optimizer, X, y, n_positive),
    }
    if ctx.device.type == "cuda":
        variants["TF32 off (full float32 convolutions)"] = tf32_off(lambda: train_step(
            trainer, model, optimizer, X, y, n_positive))
        variants["cuDNN autotuning off"] = autotuning_off(lambda: train_step(
            trainer, model, optimizer, X, y, n_positive))
    times, share = ctx.clean(lambda: median_times(variants, ctx.device, repeats=repeats,
                                                  warmup=2))
    base = times["as the Trainer does it"]
    ctx.emit(Table(
        f"Prototype fixes, Fourier step, {ctx.device.type}: batch {len(X)}, {X.shape[-1]} bp "
        f"(interleaved, median of {repeats})",
        ["variant", "s/step", "vs Trainer"],
        [[name, t, f"{100 * (t / base - 1):+.1f}%"] for name, t in times.items()]),
        share)


def autotuning_off(fn):
    def wrapped():
        torch.backends.cudnn.benchmark = False
        try:
            return fn()
        finally:
            torch.backends.cudnn.benchmark = True
    return wrapped


def tf32_off(fn):
    def wrapped():
        with full_float32():
            return fn()
    return wrapped


def run(ctx: Context) -> None:
    batch, length, n_profiled = (32, 500, 1) if ctx.quick else (64, 1000, 3)
    repeats = 3 if ctx.quick else ctx.repeats(7)
    if ctx.device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes here: the fastest kernels
    trainer, model, optimizer = make_trainer("fourier", length, ctx.device)
    X, y, n_positive = random_batch(batch, length, ctx.device)
    for _ in range(2):
        labelled_step(trainer, model, optimizer, X, y, n_positive)
    activities = [ProfilerActivity.CPU]
    if ctx.device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)

    def profiled():
        with profile(activities=activities, record_shapes=ctx.device.type == "cuda") as prof:
            for _ in range(n_profiled):
                labelled_step(trainer, model, optimizer, X, y, n_positive)
        return prof

    prof, share = ctx.clean(profiled)
    events = prof.key_averages()
    step_us = sum(e.cpu_time_total for e in events if e.key in PHASES)
    pct = lambda us: f"{100 * us / step_us:.1f}%"  # noqa: E731
    ms = lambda us: us / 1e3 / n_profiled  # noqa: E731
    title = (f"Profile of a Fourier-prior training step, {ctx.device.type}: batch {batch}, "
             f"{length} bp ({n_profiled} step(s) profiled; CPU time)")
    rows = [[name, ms(e.cpu_time_total), pct(e.cpu_time_total)]
            for name in PHASES for e in events if e.key == name]
    ctx.emit(Table(title + ": phases", ["phase", "ms/step", "share"], rows), share)

    nodes = sorted((e for e in events if "Backward" in e.key and not e.key.startswith("autograd")),
                   key=lambda e: -e.cpu_time_total)[:6]
    ops = sorted((e for e in events if e.key.startswith("aten::")),
                 key=lambda e: -e.self_cpu_time_total)[:10]
    rows = [[f"autograd node {e.key}", e.count // n_profiled, ms(e.cpu_time_total),
             pct(e.cpu_time_total)] for e in nodes]
    rows += [[f"op {e.key}", e.count // n_profiled, ms(e.self_cpu_time_total),
              pct(e.self_cpu_time_total)] for e in ops]
    if ctx.device.type == "cuda":
        emit_kernels(ctx, events, n_profiled, title)
        emit_convolutions(ctx, prof, n_profiled, title)
    ctx.emit(Table(title + ": top autograd nodes (total time) and ops (self time)",
                   ["", "calls/step", "ms/step", "share"], rows,
                   ["the forward is under 'penalty'; double backprop runs inside 'backward' "
                    "as the *BackwardBackward* / ConvolutionBackward nodes"]))

    emit_prototypes(ctx, trainer, model, optimizer, X, y, n_positive, repeats)
    if ctx.device.type == "cuda" or not sys.platform.startswith("linux"):
        return  # the allocator prototype below is a CPU / glibc finding
    # (batch, length, warm-up steps, timed steps); a fresh process needs a few steps
    # before its heap settles, so the warm-up is generous.
    configs, rounds = (([(64, 2000, 2, 2)], 1) if ctx.quick
                       else ([(64, 1000, 4, 5), (64, 4000, 2, 3)], 2))
    rows, shares = [], []
    for batch, length, warmup, steps in configs:
        runs, share = ctx.clean(lambda: allocator_runs(batch, length, warmup, steps, rounds))
        shares.append(share)
        for name in ("none", "fourier"):
            (t0, f0), (t1, f1) = ([statistics.median(v) for v in zip(*runs[name, tuned])]
                                  for tuned in (0, 1))
            rows.append([f"{length} bp, batch {batch}", name, t0, t1,
                         f"{100 * (t1 / t0 - 1):+.0f}%", f"{f0:,.0f}", f"{f1:,.0f}"])
    ctx.emit(Table(
        "Prototype fix: glibc keeps freed memory (mallopt M_MMAP_MAX=0, M_TRIM_THRESHOLD=1 GiB), "
        f"cpu; separate processes, default and tuned alternating, {rounds} round(s); "
        + "; ".join(f"{length} bp: median of {steps} steps after {warmup} warm-up"
                    for _, length, warmup, steps in configs),
        ["size", "regularizer", "default s/step", "tuned s/step", "change",
         "minor faults/step default", "tuned"], rows),
        None if None in shares else max(shares))
