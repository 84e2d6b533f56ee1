"""Training step time vs sequence length and vs batch size, per regularizer.

Paper model with ``seq_len`` = the length; fewer repeats for the big sizes. A full CPU
run also writes docs/scaling.md (tables, a fit, how to plan with it) and
docs/scaling.png.
"""
from __future__ import annotations

import datetime
import os
from pathlib import Path

import numpy as np
import torch

from benchmarks import POLLUTED, Context, Table
from benchmarks.bench_step import REGULARIZERS, step_times

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _repeats(ctx: Context, batch: int, length: int) -> int:
    if ctx.quick:
        return 1
    return ctx.repeats(3 if batch * length <= 64 * 1000 else 2)


def measure(ctx: Context, lengths, batches, base_batch, base_length):
    """({(batch, length): {regularizer: seconds}}, {(batch, length): share of the CPUs
    other processes used}) over both sweeps (the shared point once)."""
    configs = [(base_batch, length) for length in lengths]
    configs += [(batch, base_length) for batch in batches if (batch, base_length) not in configs]
    results, shares = {}, {}
    for batch, length in configs:
        results[batch, length], shares[batch, length] = ctx.clean(lambda: step_times(
            REGULARIZERS, batch, length, ctx.device, _repeats(ctx, batch, length),
            warmup=1))
        print(f"   batch {batch:4d}, {length:5d} bp: "
              + ", ".join(f"{n} {t:.3f}s" for n, t in results[batch, length].items()),
              flush=True)
    return results, shares


LINEAR_UP_TO = 128_000  # batch x length; above it activations pass 32 MiB (see write_markdown)


def fit(results) -> dict[str, float]:
    """Least squares t = b * (batch * length / 64,000) per regularizer over the sizes up
    to LINEAR_UP_TO: b = seconds per step of 64 x 1000 bp."""
    keys = [k for k in results if k[0] * k[1] <= LINEAR_UP_TO]
    work = np.array([b * l / 64_000 for b, l in keys])
    return {name: float(work @ np.array([results[k][name] for k in keys]) / (work @ work))
            for name in REGULARIZERS}


def tables(results, shares, lengths, batches, base_batch, base_length, device) -> list[Table]:
    headers = ["", *REGULARIZERS, "fourier / none", "others' CPU"]

    def row(label, key):
        share = shares[key]
        busy = "n/a" if share is None else (f"{100 * share:.0f}%"
                                            + (" POLLUTED" if share > POLLUTED else ""))
        return [label, *(results[key][n] for n in REGULARIZERS),
                results[key]["fourier"] / results[key]["none"], busy]

    note = ("others' CPU: share of the CPUs other processes used while that row was "
            "measured (rows above 10% were re-measured when retries were allowed)")
    return [Table(f"Seconds per training step vs sequence length, batch {base_batch}, "
                  f"{device.type}", headers,
                  [row(f"{length} bp", (base_batch, length)) for length in lengths], [note]),
            Table(f"Seconds per training step vs batch size, {base_length} bp, {device.type}",
                  headers, [row(f"batch {batch}", (batch, base_length)) for batch in batches],
                  [note])]


def plot(results, lengths, batches, base_batch, base_length, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, xs, key, xlabel in (
            (axes[0], lengths, lambda x: (base_batch, x), f"sequence length (bp), batch "
                                                           f"{base_batch}"),
            (axes[1], batches, lambda x: (x, base_length), f"batch size, {base_length} bp")):
        for name in REGULARIZERS:
            ax.plot(xs, [results[key(x)][name] for x in xs], marker="o", label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.set_xlabel(xlabel)
        ax.set_ylabel("seconds per training step")
    axes[0].legend(title="regularizer")
    fig.suptitle("regbench: training step time (paper model, CPU, 2 threads)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_markdown(path: Path, tabs: list[Table], results, coef, note: str) -> None:
    fit_rows = [[name, coef[name], 10_000 / 64 * coef[name] / 60] for name in REGULARIZERS]
    fit_table = Table(f"Fit up to batch x length = {LINEAR_UP_TO:,}: seconds per step = b x "
                      "(batch x length / 64,000)",
                      ["regularizer", "b (s per step of 64 x 1000 bp)",
                       "min per epoch of 10,000 x 1000 bp"], fit_rows)
    beyond = [[f"batch {b}, {l} bp", *(results[b, l][n] / (coef[n] * b * l / 64_000)
                                       for n in REGULARIZERS)]
              for b, l in sorted(results) if b * l > LINEAR_UP_TO]
    beyond_table = Table("Beyond the fit: measured / linear estimate",
                         ["", *REGULARIZERS], beyond)
    text = [
        "# Training cost vs sequence length and batch size",
        "",
        f"Measured by `python -m benchmarks --only scaling` on {note}. Paper architecture "
        "(BinaryModelConfig defaults, `seq_len` = the length), λ = registry defaults, "
        "half of each batch positive; one step = forward + input x gradient with "
        "create_graph + penalty + backward + Adam, as `Trainer.run_epoch` does it. "
        "Median of 3 steps (2 for batch x length > 64,000) after one warm-up step.",
        "",
        "![step time vs length and batch size](scaling.png)",
        "",
        *(t.markdown() for t in tabs),
        fit_table.markdown(),
        *([beyond_table.markdown()] if beyond else []),
        "## Planning a study",
        "",
        "Up to batch x length = 128,000 a step costs about b x batch x L / 64,000 seconds, "
        "so an epoch of N sequences costs about b x N x L / 64,000 seconds whatever the "
        "batch size: multiply by epochs (early stopping: up to `max_epochs`), seeds, λ "
        "values and regularizers to budget a study, and choose L, N and the number of runs "
        "so that the total fits, every run trained to early stopping (DESIGN.md, Presets "
        "and cost). From the fit, an epoch of 10,000 sequences of 1000 bp takes "
        + ", ".join(f"{name} {m:.1f} min" for name, _, m in fit_rows)
        + " on this machine. Above that size each activation tensor passes 32 MiB and steps "
        "grow faster than linearly (table 'Beyond the fit'): there, budget from the "
        "measured rows, not the fit, or use shorter sequences / smaller batches. These "
        "timings use the allocator setting `Trainer.fit` applies on the CPU (glibc keeps "
        "freed memory, `regbench.runtime.memory`); without it glibc returns such tensors to the OS "
        "on every free and a 4000 bp Fourier step takes about twice as long "
        "(benchmarks/README.md).",
        "",
    ]
    path.write_text("\n".join(text))


def run(ctx: Context) -> None:
    if ctx.quick:
        lengths, batches = [250, 500, 1000], [16, 32, 64]
    else:
        lengths, batches = [250, 500, 1000, 2000, 4000], [16, 32, 64, 128]
    base_batch, base_length = 64, 1000
    results, shares = measure(ctx, lengths, batches, base_batch, base_length)
    tabs = tables(results, shares, lengths, batches, base_batch, base_length, ctx.device)
    for tab in tabs:
        ctx.emit(tab)
    if ctx.quick or ctx.device.type != "cpu":
        print("   (docs/scaling.* are written only by a full CPU run)\n")
        return
    note = (f"{_cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, "
            f"torch {torch.__version__}, {datetime.date.today().isoformat()}")
    plot(results, lengths, batches, base_batch, base_length, DOCS / "scaling.png")
    write_markdown(DOCS / "scaling.md", tabs, results, fit(results), note)
    print(f"   wrote {DOCS / 'scaling.md'} and {DOCS / 'scaling.png'}\n")


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"
