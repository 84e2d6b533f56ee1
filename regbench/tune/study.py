"""The Optuna study of one λ search: its directions per objective, the sampler (TPE
reseeded per trial; the selection objective's fixed grid), and the pruner."""
from __future__ import annotations

import warnings

import optuna

from regbench.errors import RegbenchError
from regbench.tune.storage import open_storage, redact_url

OBJECTIVES = ("loss", "pareto", "selection")
STARTUP_TRIALS = 5        # at most this many random λ before TPE models the objective
PRUNE_AFTER_TRIALS = 3    # median pruning needs a few finished trials to compare with


def startup_trials(n_trials: int) -> int:
    """Random draws before TPE: a third of a small budget (at least 2), at most
    STARTUP_TRIALS. With 6 trials, 5 random draws would leave TPE a single one."""
    return max(2, min(STARTUP_TRIALS, n_trials // 3))


def open_study(url: str, name: str, objective: str, seed: int,
               n_startup_trials: int = STARTUP_TRIALS, heartbeat: int | None = None,
               grace: int | None = None, grid: list[float] | None = None) -> optuna.Study:
    """Create the study or join it (other workers may be creating it right now).
    ``grid``: the selection objective's candidate λ (Optuna's GridSampler: every λ
    once, whichever worker runs it); the other objectives draw λ with TPE."""
    directions = {"loss": ["minimize"], "pareto": ["minimize", "maximize"],
                  "selection": ["maximize"]}[objective]
    storage = open_storage(url, heartbeat, grace)
    if grid is not None:
        sampler = optuna.samplers.GridSampler({"lambda": list(grid)}, seed=seed)
    else:
        sampler = _TrialSeededTPE(seed, n_startup_trials=n_startup_trials,
                                  constant_liar=True)
    pruner = make_pruner() if objective == "loss" else optuna.pruners.NopPruner()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(storage=storage, study_name=name, directions=directions,
                                    sampler=sampler, pruner=pruner, load_if_exists=True)
        if [d.name.lower() for d in study.directions] != directions:
            raise RegbenchError(f"study {name!r} in {redact_url(url)} was made for another "
                                "objective; use another --study-name")
        optuna.storages.fail_stale_trials(study)  # before counting what is left to do
    return study


def make_pruner() -> optuna.pruners.BasePruner:
    # Steps are epochs from 1; never prune on the first: it says little about the end.
    return optuna.pruners.MedianPruner(n_startup_trials=PRUNE_AFTER_TRIALS, n_warmup_steps=2)


class _TrialSeededTPE(optuna.samplers.BaseSampler):
    """TPE reseeded with ``seed + trial number`` before every trial.

    One worker is reproducible, as with ``TPESampler(seed=seed)``; workers sharing a
    study do not all draw the same start-up λ, as they would with one fixed seed each.
    """

    def __init__(self, seed: int, **tpe_options):
        self._seed, self._options = seed, tpe_options
        self._tpe = self._make(seed)

    def _make(self, seed):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=seed, **self._options)

    def before_trial(self, study, trial):
        self._tpe = self._make(self._seed + trial.number)
        self._tpe.before_trial(study, trial)

    def infer_relative_search_space(self, study, trial):
        return self._tpe.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._tpe.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._tpe.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values):
        self._tpe.after_trial(study, trial, state, values)

    def reseed_rng(self):
        self._tpe.reseed_rng()
