"""The λ search of one regularizer: ``tune_lambda``, its trials and its workers.

``tune_lambda`` is handed ``Trials``, the functions that train (and, for pareto and
selection, score) one trial, and knows nothing of ``Benchmark``. ``n_trials`` is
the total for the study, whoever runs the trials; each worker waits for the others'
running trials, then uses the λ the first of them recorded (``outcome``). The
protocols, storage and notes: the package docstring (``regbench.tune``).
"""
from __future__ import annotations

import functools
import hashlib
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import optuna
from optuna.trial import TrialState
from tqdm.auto import tqdm

from regbench.errors import RegbenchError
from regbench.regularizers import get_spec
from regbench.tune.outcome import (TuneResult, agreed_choice, chosen_trial, recorded_choice,
                                   tune_result)
from regbench.tune.storage import check_study_key, default_storage, default_study_name
from regbench.tune.study import OBJECTIVES, open_study, startup_trials

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass
class Trials:
    """What a λ search needs from the comparison, as functions.

    train(λ, epoch_callback) -> the run's record (``row`` with status, val_loss,
    epochs, checkpoint); epoch_callback(epoch, history_record) may raise
    ``optuna.TrialPruned``. run_id(λ) -> the stored run's id. score(record) -> the
    validation motif auPRC (pareto), or None when the data has no motifs. select(λ)
    -> the selection objective's trial: every selection seed trained at λ as the
    verdict's models are and scored on validation data, {"endpoint": [...],
    "performance": [...], "val_loss": [...], "epochs": [...], "seeds": [...]} (one
    value per seed), or {"failed": reason}; None where the search is not a selection.
    study_key: the dataset fingerprint and the trial configuration's hash, part of
    default study names. out: the results folder (the default SQLite storage lives
    there).
    """

    train: Callable[[float, Callable | None], dict]
    run_id: Callable[[float], str]
    score: Callable[[dict], float] | None
    study_key: str
    out: Path
    select: Callable[[float], dict] | None = None


class _BudgetReached(Exception):
    """Raised by a trial started after the study already had its n_trials."""


def tune_lambda(trials: Trials, regularizer: str, *, n_trials: int,
                timeout: float | None = None, storage: str | None = None,
                study_name: str | None = None, objective: str = "loss", seed: int = 0,
                progress: bool = True, label: str | None = None,
                heartbeat: int | None = None, grace: int | None = None,
                enqueue: tuple = (), grid: list[float] | None = None,
                reference: dict | None = None) -> TuneResult:
    """Search λ for ``regularizer`` with ``trials``; see the module docstring.

    n_trials: finished (complete or pruned) trials wanted in the study, all workers
    together; a rerun tops the study up to it. timeout: seconds after which this
    worker starts no new trial. storage: SQLAlchemy URL (default
    sqlite:///OUT/optuna.db). study_name: default derived from the regularizer,
    ``trials.study_key`` and the objective. seed: with the regularizer's name, seeds
    the sampler (``study_seed``). label: the progress bar's title, e.g. "λ search 2/4".
    heartbeat, grace: seconds ([tuning] heartbeat, grace_period; default
    HEARTBEAT_INTERVAL, GRACE_PERIOD). enqueue: λ values tried first (clipped into
    the range), unless the study has tried them. grid, reference: the selection
    objective's candidate λ (``selection.lambda_grid``; n_trials is their number) and
    {"none_performance": none's validation performance per selection seed, "margin",
    "direction", "performance_direction"} (``selection.choose_lambda``'s arguments).
    """
    started = time.perf_counter()
    spec = get_spec(regularizer)
    check_search(regularizer, n_trials, objective)
    if not spec.searchable:  # λ means nothing: no search
        return TuneResult(regularizer, objective, best_lambda=0.0)
    if objective == "pareto" and trials.score is None:
        raise RegbenchError("--objective pareto scores attributions against ground-truth "
                            "motifs; this data has no motifs.bed (use --objective loss)")
    if objective == "selection" and (trials.select is None or not grid or reference is None):
        raise RegbenchError("the constrained λ protocol scores attributions against "
                            "ground truth (motifs.bed or peak intervals) on selection seeds; "
                            "use --lambda-protocol loss or paper")
    if objective == "selection":
        n_trials = len(grid)
    url = storage or default_storage(trials.out)
    name = study_name or default_study_name(trials.study_key, regularizer, objective)
    study = open_study(url, name, objective, study_seed(seed, regularizer),
                       startup_trials(n_trials), heartbeat=heartbeat, grace=grace,
                       grid=grid if objective == "selection" else None)
    check_study_key(study, trials.study_key, url)
    if objective == "selection":
        reference = _study_reference(study, reference)
    run_objective = _Objective(trials, spec.lambda_range, objective, n_trials)
    if recorded_choice(study, objective, n_trials) is None:   # else chosen by another worker
        enqueue_lambdas(study, [min(max(lam, spec.lambda_range[0]), spec.lambda_range[1])
                                for lam in enqueue], n_trials)
        with warnings.catch_warnings(), _SearchBar(study, regularizer, n_trials, label,
                                                   enabled=progress, objective=objective) as bar:
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optimize = functools.partial(
                study.optimize, run_objective, timeout=timeout, catch=(_BudgetReached,),
                show_progress_bar=False, callbacks=[optuna.study.MaxTrialsCallback(
                    n_trials, states=FINISHED + (TrialState.RUNNING,)), bar])
            remaining = n_trials - _count(study, FINISHED + (TrialState.RUNNING,))
            if remaining > 0:
                optimize(n_trials=remaining)
            _wait_for_others(study, optimize, bar)
    # A worker stopped by its timeout short of the budget does not record its choice:
    # a rerun tops the study up and chooses then.
    final = timeout is None or _count(study, FINISHED) >= n_trials
    chosen = agreed_choice(study, objective, n_trials,
                            lambda: chosen_trial(study, objective, reference), final)
    return tune_result(study, regularizer, objective, url, time.perf_counter() - started,
                   chosen, reference)


REFERENCE_ATTR = "selection_reference"


def _study_reference(study, reference: dict) -> dict:
    """The selection study's reference (none's per-seed validation performance, the
    margin and directions): the first worker's, kept as a study attribute, so that
    workers whose none models differ in float rounding (other thread counts) still
    choose λ alike."""
    if REFERENCE_ATTR not in study.user_attrs:
        study.set_user_attr(REFERENCE_ATTR, dict(reference))
    return dict(study.user_attrs[REFERENCE_ATTR])


def _wait_for_others(study, optimize, bar, poll: float = 5.0) -> None:
    """Until no trial of the study runs: every worker then chooses λ from the same
    finished trials, so all of them train the same grid. Trials of workers that died
    are failed and queued again (heartbeats); this worker runs those."""
    while True:
        optuna.storages.fail_stale_trials(study)
        waiting = _count(study, (TrialState.WAITING,))
        if waiting:
            optimize(n_trials=waiting)
        elif _count(study, (TrialState.RUNNING,)):
            bar.note("waiting for other workers' trials")
            time.sleep(poll)
        else:
            bar(study, None)
            return


def enqueue_lambdas(study, lambdas, n_trials: int) -> list[float]:
    """Queue each λ of ``lambdas`` as a trial the sampler does not draw, unless a trial
    of the study has it already (a rerun, or another worker, queued or ran it) or the
    study has its n_trials. Returns the λ queued."""
    queued = []
    for lam in dict.fromkeys(float(v) for v in lambdas):
        tried = {t.params.get("lambda", t.system_attrs.get("fixed_params", {}).get("lambda"))
                 for t in study.get_trials(deepcopy=False)}
        if lam in tried or len(study.trials) >= n_trials:
            continue
        study.enqueue_trial({"lambda": lam}, user_attrs={"enqueued": True})
        queued.append(lam)
    return queued


def check_search(regularizer: str, n_trials: int, objective: str) -> None:
    """A RegbenchError for a bad budget or objective, before anything is trained."""
    if objective not in OBJECTIVES:
        raise RegbenchError(f"objective must be one of {', '.join(OBJECTIVES)}, "
                            f"got {objective!r}")
    if n_trials < 1:
        raise RegbenchError(f"the number of trials must be >= 1, got {n_trials}")


def study_seed(seed: int, regularizer: str) -> int:
    """The sampler's seed: ``seed`` and the regularizer's name. With ``seed`` alone,
    regularizers with the same λ range would be tried at the same λ values."""
    digest = hashlib.sha256(f"{seed}:{regularizer}".encode()).hexdigest()
    return int(digest[:8], 16)


class _SearchBar:
    """One progress bar per study: the regularizer, finished trials of the budget
    (all workers), pruned ones, and the best λ so far. An Optuna callback."""

    def __init__(self, study, regularizer: str, n_trials: int, label: str | None,
                 enabled: bool, objective: str = "loss"):
        self.study, self.regularizer, self.objective = study, regularizer, objective
        self.bar = tqdm(total=n_trials, desc=f"{label or 'λ search'} {regularizer}",
                        unit="trial", disable=not enabled, dynamic_ncols=True,
                        bar_format="{desc}: {n_fmt}/{total_fmt} trials |{bar}| "
                                   "{elapsed}{postfix}")

    def __enter__(self):
        self._update()
        return self

    def __exit__(self, *exc):
        self.bar.close()

    def __call__(self, study, trial) -> None:
        self._update()

    def note(self, text: str) -> None:
        """Show ``text`` in place of the trial counts' postfix until the next update."""
        self.bar.set_postfix_str(text, refresh=True)

    def _update(self) -> None:
        trials = self.study.get_trials(deepcopy=False, states=FINISHED)
        self.bar.n = min(len(trials), self.bar.total)
        pruned = sum(t.state == TrialState.PRUNED for t in trials)
        best = chosen_trial(self.study, self.objective)
        postfix = f"{pruned} pruned"
        if best is not None and self.objective == "selection":
            postfix += f", chosen so far λ {best.params['lambda']:.3g}"
        elif best is not None:
            postfix += f", best λ {best.params['lambda']:.3g} (loss {best.values[0]:.4f})"
        self.bar.set_postfix_str(postfix, refresh=False)
        self.bar.refresh()


# -- one trial --------------------------------------------------------------------------
class _Objective:
    """One trial. loss and pareto: train the seed-0 model at the trial's λ and return
    its best validation loss (and, pareto, its validation motif auPRC); selection: train
    every selection seed at the trial's λ (``Trials.select``) and return the mean of
    their validation primary endpoint, oriented so that higher is better."""

    def __init__(self, trials: Trials, lambda_range, objective: str, n_trials: int):
        self.trials, self.objective = trials, objective
        self.low, self.high = lambda_range
        self.n_trials = n_trials

    def __call__(self, trial: optuna.Trial):
        if self._over_budget(trial):
            trial.study.stop()
            raise _BudgetReached(f"the study already has its {self.n_trials} trials; "
                                 "this worker stops")
        lam = trial.suggest_float("lambda", self.low, self.high, log=True)
        if self.objective == "selection":
            return self._selection(trial, lam)
        on_epoch = self._reporter(trial) if self.objective == "loss" else None
        record = self.trials.train(lam, on_epoch)
        row = record["row"]
        trial.set_user_attr("epochs", int(row["epochs"]))
        trial.set_user_attr("run", self.trials.run_id(lam))
        if row["status"] != "ok":
            self._fail(trial, row["status"])
        if self.objective == "loss":
            return float(row["val_loss"])
        score = self.trials.score(record)
        if not math.isfinite(score):
            self._fail(trial, "no motif auPRC: no positive validation sequence with a motif")
        trial.set_user_attr("motif_auprc", score)
        return float(row["val_loss"]), score

    def _selection(self, trial, lam: float) -> float:
        scores = self.trials.select(lam)
        if "failed" in scores:
            self._fail(trial, scores["failed"])
        for key in ("endpoint", "performance", "val_loss", "epochs", "seeds"):
            trial.set_user_attr(key, list(scores[key]))
        oriented = [v if scores.get("direction", "higher") == "higher" else -v
                    for v in scores["endpoint"]]
        if not all(math.isfinite(v) for v in oriented):
            self._fail(trial, "no primary endpoint: no positive validation sequence with "
                              "ground truth")
        return float(sum(oriented) / len(oriented))

    def _over_budget(self, trial) -> bool:
        """MaxTrialsCallback counts only between trials, so workers finishing together
        may both start one more; of those, only trials within n_trials by number run."""
        running = trial.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        ahead = sum(t.number < trial.number for t in running)
        return _count(trial.study, FINISHED) + ahead >= self.n_trials

    @staticmethod
    def _reporter(trial):
        def on_epoch(epoch: int, record: dict) -> None:
            trial.report(record["val_loss"], epoch)  # NaN too: TPE ranks it last
            finite = all(math.isfinite(record[k]) for k in ("train_loss", "train_penalty",
                                                            "val_loss"))
            # A non-finite epoch is left to the trainer, which stores it as failed.
            if finite and trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch}, validation loss "
                                         f"{record['val_loss']:.4f}")
        return on_epoch

    @staticmethod
    def _fail(trial, reason: str):
        """Failed training ends the trial as PRUNED: it counts in the budget, TPE learns
        to avoid its λ, and the reason stays in the user attribute fail_reason."""
        trial.set_user_attr("fail_reason", reason)
        raise optuna.TrialPruned(reason)


# -- counts -----------------------------------------------------------------------------
def _count(study, states) -> int:
    return len(study.get_trials(deepcopy=False, states=states))
