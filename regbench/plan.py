"""What a ``regbench run`` will do, and at most how long it takes on this machine.

The estimate times a few real training steps of the configured model (one without a
prior, one with an attribution prior when any is run) and multiplies out the epoch
limits: an upper bound, since early stopping and pruning usually end models sooner.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from regbench.bench import NOISE_SEEDS
from regbench.config import LAMBDA_PROTOCOLS
from regbench.regularizers import get_regularizer, get_spec
from regbench.train import Trainer, one_hot_codes

TIMED_STEPS = 3


def step_seconds(bench, regularizer: str) -> float:
    """Seconds per training step of the run's model with ``regularizer`` (median of
    TIMED_STEPS after one warm-up step) on a batch of the training data."""
    train = bench.split("train")
    trainer = Trainer(bench.task(), get_regularizer(regularizer), 1.0,
                      bench.config.train_config(0))
    model = trainer.build_model()
    optimizer = torch.optim.Adam(model.parameters())
    params = list(model.parameters())
    rows = np.arange(min(len(train.codes), trainer.config.batch_size))
    X = one_hot_codes(torch.as_tensor(train.codes[rows])).to(trainer.device)
    y = torch.as_tensor(bench.task().targets(train)[rows], dtype=torch.float32).to(
        trainer.device)
    n_pos = len(X) // 2  # the positives-first layout; the count sets the prior's rows
    times = []
    for _ in range(TIMED_STEPS + 1):
        start = time.perf_counter()
        trainer.train_step(model, optimizer, params, X, y, n_pos).tolist()  # waits
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def describe_plan(bench) -> str:
    """Lines saying what will be trained and at most how long it takes."""
    lines, _ = estimate(bench)
    return "\n".join(["plan:"] + [f"  {line}" for line in lines])


def estimate(bench) -> tuple[list[str], float]:
    """(lines of the plan, at most how many seconds the run takes on this machine)."""
    train_cfg = bench.config.train_config(0)
    n_train = len(bench.split("train").codes)
    epoch_steps = math.ceil(n_train / train_cfg.batch_size) * 1.15  # + validation
    kinds = {name: get_spec(name).needs in ("attributions", "gradients")
             for name in bench.regularizers}
    timed = {False: step_seconds(bench, "none")}
    prior = next((n for n, needs in kinds.items() if needs), None)
    if prior is not None:
        timed[True] = step_seconds(bench, prior)
    protocol = bench.lambda_protocol
    lines, total = [f"λ protocol: {protocol} ({LAMBDA_PROTOCOLS[protocol]})"], 0.0
    searched = bench.searched_regularizers() if protocol != "fixed" else []
    if searched:
        tuning = bench.config.tuning_config()
        epochs = tuning.trial_epochs or train_cfg.max_epochs
        # none's reference models: NOISE_SEEDS for a search, one for the paper's rule
        # unless every λ is Fourier's fixed 1 on a binary model
        paper_only = all(n.split("@")[0] == "fourier" for n in searched) and \
            bench.config.task == "binary"
        references = (NOISE_SEEDS if protocol != "paper" else 0 if paper_only else 1)
        seconds = references * epochs * epoch_steps * timed[False]
        if protocol != "paper":
            seconds += sum(tuning.trials * epochs * epoch_steps * timed[kinds[n]]
                           for n in searched)
            lines.append(f"λ search: {', '.join(searched)}: {tuning.trials} trials of at most "
                         f"{_plural(epochs, 'epoch')} each, after none with "
                         f"{_plural(references, 'seed')} for its loss and seed noise (at "
                         f"most {_duration(seconds)})")
        elif references:
            lines.append(f"λ rule: none trained once for at most {_plural(epochs, 'epoch')} "
                         f"to measure its loss and the penalties on it (at most "
                         f"{_duration(seconds)})")
        total += seconds
    seeds = bench.config.seeds
    shares = bench.config.data_fractions()
    runs = len(bench.regularizers) * seeds
    # Runs on a share of the training rows (fractions) take that share of steps.
    seconds = (1 + sum(shares)) * sum(
        seeds * train_cfg.max_epochs * epoch_steps * timed[kinds[n]] for n in bench.regularizers)
    total += seconds
    lines.append(f"seed runs: {_plural(len(bench.regularizers), 'regularizer')} x "
                 f"{_plural(seeds, 'seed')} = "
                 f"{_plural(runs, 'model')}"
                 + (f" (and {runs * len(shares)} more on {_plural(len(shares), 'share')} of the "
                    f"training rows: {', '.join(f'{s:g}' for s in shares)})" if shares else "")
                 + f" of at most {_plural(train_cfg.max_epochs, 'epoch')}, "
                 f"each scored with {' and '.join(_method_labels(bench))} (at most "
                 f"{_duration(seconds)} of training)")
    steps = ", ".join(f"{'with' if k else 'without'} a prior {v:.3f} s" for k, v in timed.items())
    lines.append(f"on {bench.device}: a training step takes {steps}; training at most "
                 f"~{_duration(total)} if every model used all its epochs (early stopping "
                 "and pruning usually end them sooner; data, scoring and the report come "
                 "on top)")
    return lines, total


def _method_labels(bench) -> list[str]:
    from regbench.store import METHOD_LABELS
    return [METHOD_LABELS.get(m, m) for m in bench.config.evaluation_config().methods]


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def duration(seconds: float) -> str:
    """'45 s', '12 min' or '3.2 h'."""
    if seconds < 1:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


_duration = duration


__all__ = ["describe_plan", "duration", "estimate", "step_seconds"]
