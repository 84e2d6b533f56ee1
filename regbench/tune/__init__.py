"""λ search with Optuna: one study per (dataset, regularizer, config), shared by workers.

    search = LambdaSearch(RunContext(config))      # regbench.runner.lambda_search
    result = search.search_lambda("fourier", n_trials=20, trial_epochs=5)
    result.best_lambda

This module knows nothing of the run's context: ``tune_lambda`` is handed ``Trials``, the
functions that train (and, for pareto, score) one trial. A trial trains the seed-0
model at a λ drawn log-uniformly from the regularizer's ``lambda_range``; the
benchmark stores it in OUT/tuning/, so a finished trial is a stored run that is never
trained again (a retried trial reuses it). The objective
is the run's best validation correctness loss; the median pruner stops poor trials
between epochs (a pruned trial stores nothing). Training that fails (non-finite loss)
ends its trial as pruned, with the reason in the user attribute ``fail_reason``.
``objective="pareto"`` adds a second objective, the motif auPRC of DeepLIFT/SHAP
attributions on validation positives, and keeps the Pareto front (no pruning:
Optuna prunes single-objective studies only). ``objective="selection"`` (the
constrained λ protocol) runs a fixed grid of λ (GridSampler); a trial trains every
selection seed at its λ as the verdict's models are trained and scores the primary
endpoint and performance on validation data (``Trials.select``); the choice is
``selection.choose_lambda``'s (a performance margin against none on the same seeds,
then the one-standard-error rule); no pruning.
``enqueue``: λ values tried first (``study.enqueue_trial``), e.g. the registry's and
the scale rule's.

Studies live in an RDB storage: by default ``OUT/optuna.db`` (SQLite, which
optuna-dashboard opens), or any SQLAlchemy URL such as PostgreSQL, where any number
of workers on any number of machines share one study. ``n_trials`` is the total for
the study, whoever runs the trials. A worker that dies stops sending heartbeats; its
trial then turns FAIL and is queued again with the same λ. The λ chosen is recorded
in the study (user attribute ``chosen-OBJECTIVE-N``, for a budget of N trials) by the first
worker that chooses; every other worker, and a rerun with the same budget, uses it,
so a worker restarted after its trial was interrupted never trains one more trial and
picks another λ than the rest.

Modules, by subject:
    storage  RDB storages (SQLite, PostgreSQL), URLs, study names and keys
    study    the study: directions per objective, sampler, pruner
    selection  the constrained protocol's grid and choice rule (pure)
    search   ``tune_lambda``, ``Trials``, one trial, waiting for other workers
    outcome  the chosen trial (agreed by every worker), ``TuneResult``
    table    OUT/lambda_search.csv and OUT/pareto.csv
    notes    what the report prints about a finished search (imports no Optuna)

``from regbench.tune import NAME`` finds each public name in its module, importing
only that module (``__getattr__``): the report reads notes without importing Optuna.
"""
from __future__ import annotations

import importlib

_PUBLIC = {
    "storage": ("HEARTBEAT_INTERVAL", "GRACE_PERIOD", "STORAGE_ATTEMPTS", "MAX_RETRY",
                "default_storage", "default_study_name", "parse_storage", "open_storage",
                "redact_url", "check_study_key"),
    "study": ("OBJECTIVES", "STARTUP_TRIALS", "PRUNE_AFTER_TRIALS",
              "startup_trials", "open_study", "make_pruner"),
    "search": ("FINISHED", "REFERENCE_ATTR", "Trials", "tune_lambda", "enqueue_lambdas",
               "check_search", "study_seed"),
    "outcome": ("PARETO_LOSS_TOLERANCE", "CHOSEN", "TuneResult"),
    "selection": ("RULE", "Candidate", "Choice", "choose_lambda", "lambda_grid"),
    "table": ("SEARCH_COLUMNS", "SELECTION_COLUMNS", "PARETO_COLUMNS",
              "write_lambda_search"),
    "notes": ("NOT_IDENTIFIED", "EDGE_SHARE", "FLAT_SHARE", "search_notes"),
}
_HOME = {name: module for module, names in _PUBLIC.items() for name in names}
__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
