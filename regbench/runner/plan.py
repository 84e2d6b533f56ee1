"""What a ``regbench run`` will do, and at most how long it takes on this machine.

The estimate times real training of the configured model (two short epochs of each
kind of step: without a prior, with an attribution prior, ...; the prior's rows at their
share of the training data) and one validation pass of each (for a penalty it computes
the penalty on the validation rows too), and multiplies out the epoch limits: an upper bound, since early stopping and pruning usually end models
sooner. ``plan_run`` takes the run's ``RunContext`` (``regbench.runner.context``) and asks it
for values once (``RunFacts``, ``TrainingData``, the test rows); every other function
works from those values.

The bound can be 5-8 times the real time (quick models stop after 7-9 of 20 epochs), so
``Estimate.expected`` also counts each model at the epochs and scoring time that
``none``'s first models measured: the constrained λ selection trains them first, with
the verdict's own training, and prints the expected time then (``expected_line``).
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np

from regbench.options.config import LAMBDA_PROTOCOLS, NOISE_SEEDS
from regbench.endpoints import ALPHA, Endpoint, for_data   # ALPHA: the verdict's FDR
from regbench.runner.values import RunFacts, TrainingData
from regbench.training.train import Trainer, epoch_steps
from regbench.training.stopping import budget_warning

TIMED_BATCHES = 8


def timed_batch(prior: np.ndarray, size: int) -> tuple[np.ndarray, int]:
    """(rows (B,), n_prior) of a timed batch of up to ``size`` rows laid out as
    training lays out its batches (``batch_order``): the prior's rows first, as many
    as their share of the data (prior: bool (N,), ``Task.prior_rows``)."""
    size = min(size, len(prior))
    on, off = np.flatnonzero(prior), np.flatnonzero(~prior)
    n_prior = int(round(size * prior.mean())) if size else 0
    return np.concatenate([on[:n_prior], off[:size - n_prior]]), n_prior


def step_seconds(data: TrainingData, regularizer: str) -> float:
    """Seconds per training step of the run's model with ``regularizer`` as the run
    trains it (its [regularizer_params] and the task's prior defaults; the kind's whole
    step: batch transform, model options, penalty passes), at λ = 1, timed as training
    times itself: ``Trainer.fit`` for 2 epochs on TIMED_BATCHES batches of the training
    rows (the prior's rows at their share of the data) and the second epoch's seconds
    per step (the first warms up). Timing a few steps of one fixed batch instead
    measured attribution priors 1.3 times faster than they train."""
    codes, targets, prior = data.train
    trainer = _trainer(data, regularizer, epochs=2)
    rows, _ = timed_batch(prior, TIMED_BATCHES * trainer.config.batch_size)
    valid = data.valid
    check, _ = timed_batch(valid[2], trainer.config.batch_size)
    result = trainer.fit((codes[rows], targets[rows], prior[rows]),
                         tuple(part[check] for part in valid))
    return float(result.train_step_seconds)


def validation_seconds(data: TrainingData, regularizer: str) -> float:
    """Seconds of one epoch's validation pass (``Trainer.evaluate``: the correctness
    loss over the validation split and, for a penalty, its value on the split's prior
    rows: attribution priors take input gradients there) at λ = 1, timed on up to one
    evaluation batch of it (the prior's share first) and scaled to the split's size."""
    codes, targets, prior = data.valid
    if not len(codes):
        return 0.0
    trainer = _trainer(data, regularizer)
    model = trainer.build_model()
    rows, _ = timed_batch(prior, trainer._eval_batch())
    X, y = trainer.to_device(codes[rows], targets[rows])
    start = time.perf_counter()
    trainer.evaluate(model, X, y, prior[rows])   # .item(): waits
    return (time.perf_counter() - start) * len(codes) / len(rows)


def _trainer(data: TrainingData, regularizer: str, epochs: int | None = None) -> Trainer:
    config = data.config
    if epochs is not None:   # the timing's own epochs, never an early stop
        config = dataclasses.replace(config, max_epochs=epochs, patience=epochs,
                                     stopping="patience")
    return Trainer(data.task, data.regularizers[regularizer], 1.0, config)


def _timed(data: TrainingData, names, measure) -> dict[str, float]:
    """``measure(data, name)`` of each of ``names``; regularizers whose kinds cost
    the same per step (``Kind.cost_key``) share one timing."""
    by_cost, seconds = {}, {}
    for name in names:
        key = data.regularizers[name].kind.cost_key(1.0)
        if key not in by_cost:
            by_cost[key] = measure(data, name)
        seconds[name] = by_cost[key]
    return seconds


def timed_steps(data: TrainingData, names) -> dict[str, float]:
    """Seconds per training step of each of ``names`` (``step_seconds``), one timing
    per cost (``Kind.cost_key``)."""
    return _timed(data, names, step_seconds)


def timed_validations(data: TrainingData, names) -> dict[str, float]:
    """Seconds per validation pass of each of ``names`` (``validation_seconds``), one
    timing per cost (``Kind.cost_key``)."""
    return _timed(data, names, validation_seconds)


@dataclass(frozen=True)
class Estimate:
    """What a run trains, timed before it starts. ``lines``: the plan; ``models``: one
    (models, seconds of one epoch, epoch cap) per set of alike models; ``none_epoch``:
    the timed seconds of one epoch of none."""

    lines: tuple[str, ...]
    models: tuple[tuple[int, float, int], ...]
    none_epoch: float = float("nan")

    @property
    def upper(self) -> float:
        """Seconds of training if every model used all its epochs."""
        return sum(n * cap * epoch for n, epoch, cap in self.models)

    def expected(self, epochs: float, scoring: float, scale: float = 1.0) -> float:
        """Seconds of training and scoring if every model trained ``epochs`` epochs (at
        most its cap), each ``scale`` times as long as timed, and took ``scoring``
        seconds to score."""
        return sum(n * (min(epochs, cap) * epoch * scale + scoring)
                   for n, epoch, cap in self.models)

    def expected_line(self, none: dict) -> str:
        """The line printed once none's first models have trained: ``none`` holds their
        "epochs", "train_seconds" and "score_seconds" (absent or empty: not scored, as
        the paper rule's none), one value per model. Every model
        is counted at their mean epochs and scoring seconds, its epochs as much slower
        than timed as none's were (a training epoch runs slower than a timed step:
        batches are drawn, histories kept)."""
        epochs = float(np.mean(none["epochs"]))
        scored = bool(none.get("score_seconds"))   # the paper rule's none is not scored
        scoring = float(np.mean(none["score_seconds"])) if scored else 0.0
        per_epoch = float(np.sum(none["train_seconds"]) / np.sum(none["epochs"]))
        scale = per_epoch / self.none_epoch if self.none_epoch > 0 else 1.0
        return (f"time: about {_duration(self.expected(epochs, scoring, scale))} in all for "
                f"training{' and scoring' if scored else ''} (none's {_plural(len(none['epochs']), 'model')} "
                f"trained {epochs:.1f} epochs of {per_epoch:.2f} s"
                + (f" and scored in {scoring:.1f} s" if scored else "") + " on average; "
                + ("" if scored else "scoring not counted, not yet measured; ")
                + "every model is counted alike, its epochs "
                f"{scale:.2f} times the timed ones; {_duration(self.upper * scale)} of training "
                "if every model used all its epochs)")


def describe_plan(context, plan: "Estimate | None" = None) -> str:
    """Lines saying what will be trained and at most how long it takes (``plan``: the
    run's Estimate, made here when not given)."""
    lines = (plan or plan_run(context)).lines
    return "\n".join(["plan:"] + [f"  {line}" for line in lines])


def estimate(context) -> tuple[list[str], float]:
    """(lines of the plan, at most how many seconds the run takes on this machine)."""
    plan = plan_run(context)
    return list(plan.lines), plan.upper


def plan_run(context) -> Estimate:
    """The run's Estimate: its plan's lines and the models it trains, timed on this
    machine (``plan_values`` of the context's values)."""
    facts = context.facts()
    endpoints = (for_data(facts.task, context.dataset),
                 for_data(facts.task, context.split("test")))
    return plan_values(facts, context.training_values(), *endpoints)


def plan_values(facts: RunFacts, data: TrainingData, selection: Endpoint | None,
                verdict: Endpoint | None) -> Estimate:
    """The Estimate of a run of ``facts`` on ``data``; ``selection``, ``verdict``: the
    primary endpoint declared from all the data (the λ selection's) and from the test
    rows (the verdict's), or None without ground truth."""
    train_cfg, regularizers = facts.train, list(facts.regularizers)
    n_train, n_prior = len(data.train[0]), int(np.sum(data.train[2]))
    timed = timed_steps(data, ["none", *regularizers])
    validation = timed_validations(data, ["none", *regularizers])

    def epoch(name: str, share: float = 1.0) -> float:
        """Seconds of one epoch on ``share`` of the training rows: its steps and the
        whole validation pass."""
        steps = epoch_steps(math.ceil(n_train * share), math.ceil(n_prior * share), train_cfg)
        return steps * timed[name] + validation[name]

    protocol = facts.choice.protocol
    lines, models = [f"λ protocol: {protocol} ({LAMBDA_PROTOCOLS[protocol]})"], []
    searched = list(facts.searched) if protocol != "fixed" else []
    if searched and protocol == "constrained":
        line, chosen = _selection_plan(facts, searched, epoch, selection)
        lines.append(line)
        models += chosen
    elif searched:
        tuning = facts.tuning
        # the paper rule's none trains as the verdict's models (``LambdaRules``)
        epochs = (tuning.trial_epochs if protocol != "paper" else None) or train_cfg.max_epochs
        # none's reference models: NOISE_SEEDS for a search, one for the paper's rule
        # when it measures anything on none
        references = (NOISE_SEEDS if protocol != "paper" else
                      int(_paper_rule_trains_none(facts, searched)))
        search = [(references, epoch("none"), epochs)]
        if protocol != "paper":
            search += [(tuning.trials, epoch(n), epochs) for n in searched]
            lines.append(f"λ search: {', '.join(searched)}: {tuning.trials} trials of at most "
                         f"{_plural(epochs, 'epoch')} each, after none with "
                         f"{_plural(references, 'seed')} for its loss and seed noise (at "
                         f"most {_duration(_upper(search))})")
        elif references:
            lines.append(f"λ rule: none trained once for at most {_plural(epochs, 'epoch')} "
                         f"to measure its loss and the penalties on it (at most "
                         f"{_duration(_upper(search))})")
        models += search
    seeds, shares = facts.seeds, list(facts.data_fractions)
    runs = len(regularizers) * seeds
    # Runs on a share of the training rows (fractions) take that share of steps.
    seed_runs = [(seeds, epoch(n, share), train_cfg.max_epochs)
                 for n in regularizers for share in [1.0, *shares]]
    models += seed_runs
    lines.append(f"seed runs: {_plural(len(regularizers), 'regularizer')} x "
                 f"{_plural(seeds, 'seed')} = "
                 f"{_plural(runs, 'model')}"
                 + (f" (and {runs * len(shares)} more on {_plural(len(shares), 'share')} of the "
                    f"training rows: {', '.join(f'{s:g}' for s in shares)})" if shares else "")
                 + f" of at most {_plural(train_cfg.max_epochs, 'epoch')}, "
                 f"each scored with {' and '.join(_method_labels(facts))} (at most "
                 f"{_duration(_upper(seed_runs))} of training)")
    lines += [w for w in [budget_warning(train_cfg)] if w]
    lines += seed_power(facts, verdict)
    shared = {}   # regularizers that share a timing (``timed_steps``) on one line
    for name, seconds in timed.items():
        shared.setdefault(seconds, []).append(name)
    steps = "; ".join(f"{', '.join(names)} {v:.3f} s" for v, names in shared.items())
    passes = {}
    for name, seconds in validation.items():
        passes.setdefault(seconds, []).append(name)
    steps += ("; a validation pass " + "; ".join(f"{', '.join(names)} {v:.3f} s"
                                               for v, names in passes.items()))
    lines.append(f"on {facts.device}: a training step takes {steps}; training at most "
                 f"~{_duration(_upper(models))} if every model used all its epochs (early "
                 "stopping usually ends them sooner"
                 + _expected_follows(searched, protocol, facts)
                 + "; data, scoring and the report come on top)")
    return Estimate(tuple(lines), tuple(models), epoch("none"))


def _expected_follows(searched, protocol: str, facts: RunFacts) -> str:
    """The plan's note on when the run prints its expected time: once none's first
    models are trained (the constrained selection's; the paper rule's none, which the
    paper protocol trains unless every λ is binary Fourier's fixed 1)."""
    if searched and protocol == "constrained":
        return "; the expected time follows once none's selection models are trained"
    if searched and protocol == "paper" and _paper_rule_trains_none(facts, searched):
        return "; the expected time follows once the paper rule's none is trained"
    return ""


def _paper_rule_trains_none(facts: RunFacts, searched) -> bool:
    """Whether the paper rule trains none: unless every λ is Fourier's fixed 1 on a
    binary model."""
    return not (facts.task == "binary" and all(n.split("@")[0] == "fourier" for n in searched))


def _upper(models) -> float:
    return Estimate((), tuple(models)).upper


def _selection_plan(facts: RunFacts, searched: list[str], epoch,
                    endpoint: Endpoint | None) -> tuple[str, list]:
    """(the plan's line, the models as Estimate.models) of the constrained protocol's λ
    selection: none and every candidate λ of the grid, on every selection seed, each
    trained as the verdict's models are."""
    from regbench.runner.lambda_search import seed_range, selection_seeds
    from regbench.regularizers import get_spec
    from regbench.tune.selection import lambda_grid
    tuning, epochs = facts.tuning, facts.train.max_epochs
    seeds = selection_seeds(facts)
    grids = {n: lambda_grid(get_spec(n).default_lambda, get_spec(n).lambda_range,
                            tuning.trials) for n in searched}
    models = [(len(seeds), epoch("none"), epochs)] + [
        (len(seeds) * len(g), epoch(n), epochs) for n, g in grids.items()]
    return (
        f"λ selection on seeds {seed_range(seeds)} (never a verdict seed): none and "
        + "; ".join(f"{n} at λ {', '.join(f'{v:g}' for v in g)}" for n, g in grids.items())
        + f": {_plural(sum(n for n, _, _ in models), 'model')} of at most "
        f"{_plural(epochs, 'epoch')} (the verdict's training), at most "
        f"{_duration(_upper(models))}; "
        + (endpoint.describe() if endpoint else "no ground truth: no primary endpoint")), models


def seed_power(facts: RunFacts, endpoint: Endpoint | None) -> list[str]:
    """What the verdict tests and what the seeds can show: the declared primary endpoint
    (``endpoint``, from the test rows; None without ground truth), its test and error
    rate, and a warning when nothing can be tested."""
    seeds, compared = facts.seeds, [r for r in facts.regularizers if r != "none"]
    if "none" not in facts.regularizers:
        return ["no 'none' among the regularizers: nothing is tested against it"]
    if not compared:
        return ["only 'none' is run: no regularizer is tested against it"]
    if endpoint is None:
        return ["no ground truth (motifs.bed or peak intervals): no primary endpoint, so no "
                "★; every metric is reported with its interval only"]
    lines = [f"verdict: {endpoint.describe()}; ★ on the primary endpoint only: the paired "
             f"t-test of each regularizer against none over {_plural(seeds, 'seed')}, "
             f"Benjamini-Hochberg at a false discovery rate of {ALPHA:g} across the "
             f"{_plural(len(compared), 'regularizer')}; every other metric is secondary "
             "(its interval, no ★)"]
    if seeds < 2:
        lines.append(f"warning: with {_plural(seeds, 'seed')} nothing can be tested (the "
                     "paired t-test needs at least 2 seeds; --seeds)")
    return lines


def _method_labels(facts: RunFacts) -> list[str]:
    from regbench.store.runs import METHOD_LABELS
    return [METHOD_LABELS.get(m, m) for m in facts.evaluation.methods]


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


__all__ = ["Estimate", "describe_plan", "duration", "estimate", "plan_run", "plan_values", "seed_power", "step_seconds", "timed_batch", "validation_seconds"]
