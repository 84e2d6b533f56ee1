"""λ search with Optuna: one study per (dataset, regularizer, config), shared by workers.

    bench = Benchmark(config)
    result = bench.search_lambda("fourier", n_trials=20, trial_epochs=5)
    result.best_lambda

This module knows nothing of ``Benchmark``: ``tune_lambda`` is handed ``Trials``, the
functions that train (and, for pareto, score) one trial. A trial trains the seed-0
model at a λ drawn log-uniformly from the regularizer's ``lambda_range``; the
benchmark stores it in OUT/tuning/, so a finished trial is a stored run that is never
trained again (a retried trial reuses it). The objective
is the run's best validation correctness loss; the median pruner stops poor trials
between epochs (a pruned trial stores nothing). Training that fails (non-finite loss)
ends its trial as pruned, with the reason in the user attribute ``fail_reason``.
``objective="pareto"`` adds a second objective, the motif auPRC of DeepLIFT/SHAP
attributions on validation positives, and keeps the Pareto front (no pruning:
Optuna prunes single-objective studies only). ``objective="constrained"`` (the
constrained λ protocol) maximises that auPRC (peak auPRC on genome data) subject to
the validation loss staying at or under ``loss_limit`` (none's loss plus its seed
noise): each trial sets its constraint, val_loss - loss_limit (feasible when <= 0),
which TPE models (``Trial.set_constraint``; ``constraints_func`` before Optuna 5); no
pruning. The chosen trial is the most interpretable feasible one (``_choose``).
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
"""
from __future__ import annotations

import functools
import hashlib
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import optuna
import numpy as np
import pandas as pd
from optuna.trial import TrialState
from tqdm.auto import tqdm

from regbench.errors import RegbenchError
from regbench.store import atomic_write_csv
from regbench.regularizers import get_spec

OBJECTIVES = ("loss", "pareto", "constrained")
HEARTBEAT_INTERVAL = 60   # seconds between heartbeats of a running trial
GRACE_PERIOD = 180        # a trial silent this long belongs to a dead worker
STORAGE_ATTEMPTS = 4      # tries to open a storage that other workers are creating
MAX_RETRY = 3             # times a dead worker's trial is queued again
STARTUP_TRIALS = 5        # at most this many random λ before TPE models the objective
PRUNE_AFTER_TRIALS = 3    # median pruning needs a few finished trials to compare with
PARETO_LOSS_TOLERANCE = 0.02  # pareto choice: best auPRC within 2 % of the best loss
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass
class TuneResult:
    """Outcome of a study (all its workers), seen from this worker.

    trials: one row per trial that drew a λ: trial, lambda, value (validation loss;
    for a pruned trial its last reported loss), state (complete, pruned, failed,
    running, waiting), epochs, reason, for pareto motif_auprc and on_front, for
    constrained interpretability and feasible. Trials whose training failed
    (non-finite loss) count in n_failed, not n_pruned. best_lambda is None when no
    trial completed (constrained: when no completed trial was feasible). best_value is
    the chosen trial's validation loss; best_score its interpretability (constrained).
    """

    regularizer: str
    objective: str
    best_lambda: float | None
    best_value: float = math.nan
    best_trial: int | None = None
    best_score: float = math.nan
    loss_limit: float | None = None   # constrained: the limit the choice used
    n_complete: int = 0
    n_pruned: int = 0
    n_failed: int = 0
    seconds: float = 0.0
    study_name: str | None = None
    storage: str | None = None      # URL with the password hidden
    trials: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass
class Trials:
    """What a λ search needs from the comparison, as functions.

    train(λ, epoch_callback) -> the run's record (``row`` with status, val_loss,
    epochs, checkpoint); epoch_callback(epoch, history_record) may raise
    ``optuna.TrialPruned``. run_id(λ) -> the stored run's id. score(record) -> the
    validation motif auPRC (pareto, and constrained on data with motifs), or None when
    the data has no motifs; interpretability: the constrained objective's score(record)
    (motif auPRC, else peak auPRC), or None without ground truth. study_key:
    the dataset fingerprint and the trial configuration's hash, part of default study
    names. out: the results folder (the default SQLite storage lives there).
    """

    train: Callable[[float, Callable | None], dict]
    run_id: Callable[[float], str]
    score: Callable[[dict], float] | None
    study_key: str
    out: Path
    interpretability: Callable[[dict], float] | None = None


class _BudgetReached(Exception):
    """Raised by a trial started after the study already had its n_trials."""


def tune_lambda(trials: Trials, regularizer: str, *, n_trials: int,
                timeout: float | None = None, storage: str | None = None,
                study_name: str | None = None, objective: str = "loss", seed: int = 0,
                progress: bool = True, label: str | None = None,
                heartbeat: int | None = None, grace: int | None = None,
                enqueue: tuple = (), loss_limit: float | None = None) -> TuneResult:
    """Search λ for ``regularizer`` with ``trials``; see the module docstring.

    n_trials: finished (complete or pruned) trials wanted in the study, all workers
    together; a rerun tops the study up to it. timeout: seconds after which this
    worker starts no new trial. storage: SQLAlchemy URL (default
    sqlite:///OUT/optuna.db). study_name: default derived from the regularizer,
    ``trials.study_key`` and the objective. seed: with the regularizer's name, seeds
    the sampler (``study_seed``). label: the progress bar's title, e.g. "λ search 2/4".
    heartbeat, grace: seconds ([tuning] heartbeat, grace_period; default
    HEARTBEAT_INTERVAL, GRACE_PERIOD). enqueue: λ values tried first (clipped into
    the range), unless the study has tried them. loss_limit: the constrained
    objective's highest feasible validation loss.
    """
    started = time.perf_counter()
    spec = get_spec(regularizer)
    check_search(regularizer, n_trials, objective)
    if not spec.searchable:  # λ means nothing: no search
        return TuneResult(regularizer, objective, best_lambda=0.0)
    if objective == "pareto" and trials.score is None:
        raise RegbenchError("--objective pareto scores attributions against ground-truth "
                            "motifs; this data has no motifs.bed (use --objective loss)")
    if objective == "constrained" and (trials.interpretability is None or loss_limit is None):
        raise RegbenchError("the constrained λ protocol scores attributions against "
                            "ground truth (motifs.bed or peak intervals) and needs none's "
                            "loss limit; use --lambda-protocol loss or paper")
    url = storage or default_storage(trials.out)
    name = study_name or default_study_name(trials.study_key, regularizer, objective)
    study = open_study(url, name, objective, study_seed(seed, regularizer),
                       startup_trials(n_trials), heartbeat=heartbeat, grace=grace)
    check_study_key(study, trials.study_key, url)
    if objective == "constrained":
        loss_limit = _study_loss_limit(study, loss_limit)
    run_objective = _Objective(trials, spec.lambda_range, objective, n_trials, loss_limit)
    if _recorded_choice(study, objective, n_trials) is None:   # else chosen by another worker
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
    if objective == "constrained":   # the limit every worker chooses with
        loss_limit = study.user_attrs.get(LOSS_LIMIT_ATTR, loss_limit)
    # A worker stopped by its timeout short of the budget does not record its choice:
    # a rerun tops the study up and chooses then.
    final = timeout is None or _count(study, FINISHED) >= n_trials
    chosen = _agreed_choice(study, objective, n_trials,
                            lambda: _choose(study, objective, loss_limit), final)
    return _result(study, regularizer, objective, url, time.perf_counter() - started,
                   chosen, loss_limit)


LOSS_LIMIT_ATTR = "loss_limit"


def _study_loss_limit(study, loss_limit: float) -> float:
    """The constrained study's loss limit: the first worker's, kept as a study
    attribute, so that workers whose none references differ in float rounding (other
    thread counts) still choose λ alike."""
    if LOSS_LIMIT_ATTR not in study.user_attrs:
        study.set_user_attr(LOSS_LIMIT_ATTR, float(loss_limit))
    return float(study.user_attrs[LOSS_LIMIT_ATTR])


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
        best = _choose(self.study, self.objective)
        postfix = f"{pruned} pruned"
        if best is not None and self.objective == "constrained":
            postfix += (f", best feasible λ {best.params['lambda']:.3g} (interpretability "
                        f"{best.value:.3f})")
        elif best is not None:
            postfix += f", best λ {best.params['lambda']:.3g} (loss {best.values[0]:.4f})"
        self.bar.set_postfix_str(postfix, refresh=False)
        self.bar.refresh()


# -- setup ------------------------------------------------------------------------------
def default_storage(out) -> str:
    return f"sqlite:///{(Path(out) / 'optuna.db').resolve()}"


def default_study_name(study_key: str, regularizer: str, objective: str) -> str:
    """REGULARIZER-FINGERPRINT-CONFIG_HASH (-pareto): the same on every machine with the
    same data and trial settings, so workers find each other's study."""
    name = f"{regularizer}-{study_key}"
    return name if objective == "loss" else f"{name}-{objective}"


def parse_storage(url: str):
    """The SQLAlchemy URL of ``--storage``, its database kind known to SQLAlchemy; a
    RegbenchError line otherwise. Connects to nothing (a check before any work)."""
    import sqlalchemy
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except sqlalchemy.exc.ArgumentError:
        shown = url if "@" not in url else "..." + url[url.rindex("@"):]   # no password
        raise RegbenchError(f"--storage {shown!r} is not a SQLAlchemy URL; use e.g. "
                            "sqlite:///optuna.db or postgresql://user:pw@host/db") from None
    try:
        sqlalchemy.dialects.registry.load(parsed.get_backend_name())
    except sqlalchemy.exc.NoSuchModuleError:
        raise RegbenchError(f"--storage {parsed.render_as_string(hide_password=True)}: "
                            f"unknown database kind {parsed.get_backend_name()!r}; use "
                            "sqlite:///FILE or postgresql://user:pw@host/db") from None
    return parsed


def open_storage(url: str, heartbeat: int | None = None, grace: int | None = None,
                 retry: bool = True) -> optuna.storages.RDBStorage:
    """RDBStorage with heartbeats every ``heartbeat`` s, so a trial silent for ``grace``
    s is failed (its worker died) and, with ``retry``, queued again (defaults:
    HEARTBEAT_INTERVAL, GRACE_PERIOD)."""
    heartbeat = HEARTBEAT_INTERVAL if heartbeat is None else heartbeat
    grace = GRACE_PERIOD if grace is None else grace
    import sqlalchemy
    parsed = parse_storage(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.drivername == "postgresql":
        parsed = _postgres_driver(parsed)
    if parsed.get_backend_name() == "sqlite":
        # Workers on one SQLite file take turns writing: wait for the lock, don't fail.
        engine_kwargs = {"connect_args": {"timeout": 120}}
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        engine_kwargs = {"pool_pre_ping": True}
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(
                    parsed.render_as_string(hide_password=False), engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat, grace_period=grace,
                    **(_retry_callback() if retry else {}))
            if parsed.get_backend_name() == "sqlite":
                _serialize_sqlite(storage.engine)
            return storage
        except ImportError:
            raise RegbenchError(f"no database driver for {shown}; for PostgreSQL install "
                                "psycopg2-binary (pip install 'regbench[postgres]')") from None
        except sqlalchemy.exc.SQLAlchemyError as exc:
            # Workers starting together on a new database race to create its tables;
            # the loser finds them made on the next attempt.
            race = isinstance(exc, sqlalchemy.exc.IntegrityError) or "already exists" in str(exc)
            if not race or attempt + 1 == STORAGE_ATTEMPTS:
                first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
                raise RegbenchError(f"cannot open the Optuna storage {shown}: "
                                    f"{first[0] if first else type(exc).__name__}") from None
            time.sleep(1 + attempt)


def _serialize_sqlite(engine) -> None:
    """Every transaction on the SQLite file takes the write lock at its start (BEGIN
    IMMEDIATE). Why: Optuna pops a waiting trial by reading it WAITING and setting it
    RUNNING, made atomic by SELECT ... FOR UPDATE, which SQLite ignores; and pysqlite
    begins a transaction only at the first write. Two workers could both pop one trial
    (measured: 9 of 150 popped twice by 3 processes) and train one grid run twice."""
    import sqlalchemy

    @sqlalchemy.event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection, record):
        dbapi_connection.isolation_level = None   # SQLAlchemy's "begin" event begins

    @sqlalchemy.event.listens_for(engine, "begin")
    def _begin_immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()   # pooled connections made before the listeners: replaced


def _postgres_driver(parsed):
    """SQLAlchemy 2.1 reads postgresql:// as psycopg 3; regbench[postgres] installs
    psycopg2, so use it when psycopg 3 is missing."""
    import importlib.util
    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
        return parsed.set(drivername="postgresql+psycopg2")
    return parsed


def _retry_callback() -> dict:
    """Optuna >= 4.9 names it RetryHeartbeatStaleTrialCallback; older ones
    RetryFailedTrialCallback."""
    storages = optuna.storages
    if hasattr(storages, "RetryHeartbeatStaleTrialCallback"):
        return {"heartbeat_stale_trial_callback":
                storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)}
    return {"failed_trial_callback": storages.RetryFailedTrialCallback(max_retry=MAX_RETRY)}


def startup_trials(n_trials: int) -> int:
    """Random draws before TPE: a third of a small budget (at least 2), at most
    STARTUP_TRIALS. With 6 trials, 5 random draws would leave TPE a single one."""
    return max(2, min(STARTUP_TRIALS, n_trials // 3))


def open_study(url: str, name: str, objective: str, seed: int,
               n_startup_trials: int = STARTUP_TRIALS, heartbeat: int | None = None,
               grace: int | None = None) -> optuna.Study:
    """Create the study or join it (other workers may be creating it right now)."""
    directions = {"loss": ["minimize"], "pareto": ["minimize", "maximize"],
                  "constrained": ["maximize"]}[objective]
    storage = open_storage(url, heartbeat, grace)
    # Optuna >= 5 reads the constraint a trial sets (Trial.set_constraint, and
    # deprecates constraints_func); older ones ask constraints_func after the trial.
    constraints = ({"constraints_func": trial_constraint}
                   if objective == "constrained" and not SETS_CONSTRAINT else {})
    sampler = _TrialSeededTPE(seed, n_startup_trials=n_startup_trials, constant_liar=True,
                              **constraints)
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


def check_study_key(study: optuna.Study, study_key: str, url: str) -> None:
    """Refuse a study made for other data or trial settings: a --study-name names it
    without ``study_key`` (dataset fingerprint and trial configuration hash), and its
    best λ would be taken as tuned for these. The key is stored in the study's user
    attribute ``study_key`` by its first worker; a study made before keys were
    stored adopts this run's key."""
    stored = study.user_attrs.get("study_key")
    if stored is None:
        study.set_user_attr("study_key", study_key)
    elif stored != study_key:
        raise RegbenchError(f"study {study.study_name!r} in {redact_url(url)} was made for "
                            f"other data or trial settings (key {stored}, this run's "
                            f"{study_key}); use another --study-name")


SETS_CONSTRAINT = hasattr(optuna.trial.Trial, "set_constraint")


def trial_constraint(trial) -> tuple[float]:
    """The constrained objective's constraint of a finished trial: its validation loss
    minus the loss limit (feasible when <= 0); a trial that recorded none (failed,
    pruned) is infeasible."""
    return (float(trial.user_attrs.get("constraint", 1.0)),)


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


# -- one trial --------------------------------------------------------------------------
class _Objective:
    """Train the seed-0 model at the trial's λ; return its best validation loss (and,
    for pareto, its validation motif auPRC); constrained: its validation
    interpretability, with the loss's distance to ``loss_limit`` as the constraint."""

    def __init__(self, trials: Trials, lambda_range, objective: str, n_trials: int,
                 loss_limit: float | None = None):
        self.trials, self.objective = trials, objective
        self.low, self.high = lambda_range
        self.n_trials = n_trials
        self.loss_limit = loss_limit

    def __call__(self, trial: optuna.Trial):
        if self._over_budget(trial):
            trial.study.stop()
            raise _BudgetReached(f"the study already has its {self.n_trials} trials; "
                                 "this worker stops")
        lam = trial.suggest_float("lambda", self.low, self.high, log=True)
        on_epoch = self._reporter(trial) if self.objective == "loss" else None
        record = self.trials.train(lam, on_epoch)
        row = record["row"]
        trial.set_user_attr("epochs", int(row["epochs"]))
        trial.set_user_attr("run", self.trials.run_id(lam))
        if row["status"] != "ok":
            self._fail(trial, row["status"])
        if self.objective == "loss":
            return float(row["val_loss"])
        if self.objective == "constrained":
            return self._constrained(trial, record)
        score = self.trials.score(record)
        if not math.isfinite(score):
            self._fail(trial, "no motif auPRC: no positive validation sequence with a motif")
        trial.set_user_attr("motif_auprc", score)
        return float(row["val_loss"]), score

    def _constrained(self, trial, record) -> float:
        loss = float(record["row"]["val_loss"])
        trial.set_user_attr("val_loss", loss)
        if not math.isfinite(loss):
            self._fail(trial, "no finite validation loss")
        trial.set_user_attr("constraint", loss - self.loss_limit)
        if SETS_CONSTRAINT:
            trial.set_constraint("val_loss", loss - self.loss_limit)
        score = self.trials.interpretability(record)
        if not math.isfinite(score):
            self._fail(trial, "no interpretability score: no positive validation sequence "
                              "with ground truth")
        return float(score)

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


# -- results ----------------------------------------------------------------------------
def _count(study, states) -> int:
    return len(study.get_trials(deepcopy=False, states=states))


def _state(trial) -> str:
    if "fail_reason" in trial.user_attrs or trial.state == TrialState.FAIL:
        return "failed"
    return trial.state.name.lower()


def _result(study, regularizer, objective, url, seconds, chosen,
            loss_limit: float | None = None) -> TuneResult:
    trials = _trials_frame(study, objective, loss_limit)
    counts = trials["state"].value_counts() if len(trials) else {}
    return TuneResult(
        regularizer, objective,
        best_lambda=None if chosen is None else float(chosen.params["lambda"]),
        best_value=math.nan if chosen is None else (
            float(chosen.user_attrs["val_loss"]) if objective == "constrained"
            else float(chosen.values[0])),
        best_trial=None if chosen is None else chosen.number,
        best_score=(float(chosen.value) if chosen is not None and objective == "constrained"
                    else math.nan),
        loss_limit=loss_limit if objective == "constrained" else None,
        n_complete=int(counts.get("complete", 0)), n_pruned=int(counts.get("pruned", 0)),
        n_failed=int(counts.get("failed", 0)), seconds=seconds, study_name=study.study_name,
        storage=redact_url(url), trials=trials)


def redact_url(url: str) -> str:
    import sqlalchemy
    return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)


def _trials_frame(study, objective, loss_limit: float | None = None) -> pd.DataFrame:
    front = {t.number for t in study.best_trials} if objective == "pareto" else set()
    rows = []
    for t in study.get_trials(deepcopy=False):
        if "lambda" not in t.params:   # started after the budget was reached: no λ drawn
            continue
        value = t.values[0] if t.values else (
            t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values
            else math.nan)
        if objective == "constrained":   # value: the loss, as in every search's table
            value = t.user_attrs.get("val_loss", math.nan)
        row = {"trial": t.number, "lambda": t.params["lambda"], "value": value,
               "state": _state(t),
               "epochs": t.user_attrs.get("epochs", len(t.intermediate_values)),
               "reason": t.user_attrs.get("fail_reason", "")}
        if objective == "pareto":
            row["motif_auprc"] = t.values[1] if t.values else math.nan
            row["on_front"] = t.number in front
        if objective == "constrained":
            row["interpretability"] = t.values[0] if t.values else math.nan
            row["feasible"] = _feasible(t, loss_limit)
        rows.append(row)
    columns = ["trial", "lambda", "value", "state", "epochs", "reason"]
    extra = {"pareto": ["motif_auprc", "on_front"],
             "constrained": ["interpretability", "feasible"]}.get(objective, [])
    return pd.DataFrame(rows, columns=columns + extra)


# Study user attribute: the trial whose λ is used, per objective and trial budget.
CHOSEN = "chosen-{objective}-{n_trials}"


def _recorded_choice(study, objective: str, n_trials: int) -> dict | None:
    """{trial: number, lambda: λ} that a worker recorded for this budget, or None."""
    return study.user_attrs.get(CHOSEN.format(objective=objective, n_trials=n_trials))


def _agreed_choice(study, objective: str, n_trials: int, choose: Callable, record: bool):
    """The trial whose λ this worker uses: the one recorded in the study for a budget
    of ``n_trials``, else ``choose()``'s, recorded when ``record`` (the first worker to
    record wins; every worker then uses its trial). None when no trial completed."""
    recorded = _recorded_choice(study, objective, n_trials)
    if recorded is None:
        chosen = choose()
        if chosen is None or not record:
            return chosen
        recorded = _record_once(study, CHOSEN.format(objective=objective, n_trials=n_trials),
                                {"trial": chosen.number, "lambda": chosen.params["lambda"]})
    return next(t for t in study.get_trials(deepcopy=False) if t.number == recorded["trial"])


def _record_once(study, key: str, value):
    """Store ``value`` as the study's user attribute ``key`` unless a worker stored
    one first; returns the stored value. An INSERT, where ``set_user_attr`` would
    overwrite: the table's unique (study, key) lets exactly one of racing workers in."""
    import json

    import sqlalchemy.exc
    import sqlalchemy.orm
    from optuna.storages._rdb import models
    storage = study._storage
    backend = getattr(storage, "_backend", storage)   # under Optuna's cache
    try:
        with sqlalchemy.orm.Session(backend.engine) as session, session.begin():
            session.add(models.StudyUserAttributeModel(
                study_id=study._study_id, key=key, value_json=json.dumps(value)))
    except sqlalchemy.exc.IntegrityError:   # another worker's came first
        pass
    return storage.get_study_user_attrs(study._study_id)[key]



def _feasible(trial, loss_limit: float | None = None) -> bool:
    """A completed constrained trial whose validation loss is within ``loss_limit``
    (None: the limit the trial was run under, its constraint)."""
    if trial.state != TrialState.COMPLETE or not trial.values or \
            not math.isfinite(trial.values[0]):
        return False
    if loss_limit is not None and "val_loss" in trial.user_attrs:
        return trial.user_attrs["val_loss"] <= loss_limit
    return trial_constraint(trial)[0] <= 0


def _choose(study, objective, loss_limit: float | None = None):
    """The trial whose λ is used: lowest loss; for pareto, the front trial with the
    best auPRC among those within PARETO_LOSS_TOLERANCE of the front's lowest loss;
    constrained, the most interpretable feasible trial (ties: the lower loss), never
    an infeasible one: None when no trial is feasible (``_feasible``)."""
    if objective == "constrained":
        feasible = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                    if _feasible(t, loss_limit)]
        return max(feasible, key=lambda t: (t.value, -t.user_attrs.get("val_loss", 0.0)),
                   default=None)
    if objective == "loss":
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        return min(done, key=lambda t: t.value) if done else None
    front = study.best_trials
    if not front:
        return None
    best = min(t.values[0] for t in front)
    near = [t for t in front if t.values[0] <= best + PARETO_LOSS_TOLERANCE * abs(best)]
    return max(near, key=lambda t: (t.values[1], -t.values[0]))


def search_notes(trials: pd.DataFrame, lambda_range, chosen: float | None,
                 noise: float | None = None, flat: bool = True) -> list[str]:
    """Warnings about a finished search of one regularizer, one sentence each.

    trials: its rows of lambda_search.csv (lambda, value, state). Edge: the chosen λ
    lies in the outer EDGE_SHARE of its log range. Flat: the completed trials'
    validation losses span no more than ``noise`` (the seed-to-seed sd of the
    validation loss, when known) or FLAT_SHARE of the best loss: λ barely mattered,
    and the note says "λ not identified by validation loss" (NOT_IDENTIFIED). Rival:
    the same note when a λ RIVAL_FACTOR times away from the chosen one scored within
    that limit of it (``_rival_note``). Both only with ``flat`` (a search by validation
    loss).
    """
    notes = []
    if chosen is None or lambda_range is None:
        return notes
    low, high = (math.log(v) for v in lambda_range)
    where = (math.log(chosen) - low) / (high - low) if high > low else 0.5
    if where <= EDGE_SHARE or where >= 1 - EDGE_SHARE:
        side = "lower" if where <= EDGE_SHARE else "upper"
        notes.append(f"λ = {chosen:.3g} lies at the {side} edge of the search range "
                     f"[{lambda_range[0]:.3g}, {lambda_range[1]:.3g}]: the best λ may lie "
                     "outside it")
    values = trials.loc[trials["state"] == "complete", "value"].dropna()
    if flat and len(values) >= 3:
        spread = float(values.max() - values.min())
        limit, what = ((noise, "the seed-to-seed sd of the validation loss")
                       if noise is not None and math.isfinite(noise)
                       else (FLAT_SHARE * abs(float(values.min())),
                             f"{FLAT_SHARE:.0%} of the best loss"))
        if spread <= limit:
            notes.append(f"{NOT_IDENTIFIED}: it varies by only {spread:.3g} over the "
                         f"{len(values)} completed λ (≤ {what}, {limit:.3g}): flat within "
                         "noise, so λ barely mattered here")
        else:
            notes += _rival_note(trials, chosen, limit, what)
    return notes


def _rival_note(trials: pd.DataFrame, chosen: float, limit: float, what: str) -> list[str]:
    """The NOT_IDENTIFIED note when a completed λ at least RIVAL_FACTOR times larger or
    smaller than the chosen one scored within ``limit`` of its validation loss: the loss
    cannot tell λ apart within a decade, even if other λ did much worse."""
    done = trials[(trials["state"] == "complete") & trials["value"].notna()]
    mine = done[np.isclose(done["lambda"], chosen, rtol=1e-9)]
    if mine.empty:
        return []
    best = float(mine["value"].iloc[0])
    ratio = np.maximum(done["lambda"] / chosen, chosen / done["lambda"])
    rivals = done[(ratio >= RIVAL_FACTOR) & ((done["value"] - best).abs() <= limit)]
    if rivals.empty:
        return []
    far = rivals.loc[ratio[rivals.index].idxmax()]
    return [f"{NOT_IDENTIFIED}: λ = {far['lambda']:.3g}, "
            f"{max(far['lambda'] / chosen, chosen / far['lambda']):.0f}× the chosen "
            f"{chosen:.3g}, scored {far['value']:.4g} against {best:.4g}, within {what} "
            f"({limit:.3g}): the search could not tell them apart"]


NOT_IDENTIFIED = "λ not identified by validation loss"
RIVAL_FACTOR = 10   # a λ this many times the chosen one, scoring within noise: not identified
EDGE_SHARE = 0.05   # of the log λ range at either end
FLAT_SHARE = 0.01   # of the best validation loss, when the seed noise is not known
SEARCH_COLUMNS = ["regularizer", "trial", "lambda", "value", "state", "chosen"]
CONSTRAINED_COLUMNS = ["interpretability", "feasible"]   # when a study is constrained
PARETO_COLUMNS = ["regularizer", "trial", "lambda", "val_loss", "motif_auprc", "state",
                  "on_front", "chosen"]


def write_lambda_search(out_dir, results) -> Path | None:
    """OUT/lambda_search.csv (and OUT/pareto.csv for pareto studies), atomically.

    results: TuneResults (a list or a dict's values); those without a study (λ = 0,
    no search) are skipped. Rows of regularizers not in ``results`` are kept, so
    tuning one regularizer at a time builds one table. Returns the path, or None
    when nothing was searched.
    """
    out_dir = Path(out_dir)
    results = [r for r in (results.values() if isinstance(results, dict) else results)
               if r.study_name is not None]
    if not results:
        return None
    path = out_dir / "lambda_search.csv"
    constrained = any(r.objective == "constrained" for r in results) or (
        path.is_file() and CONSTRAINED_COLUMNS[0] in pd.read_csv(path, nrows=0).columns)
    _merge_write(path, results, SEARCH_COLUMNS + (CONSTRAINED_COLUMNS if constrained else []))
    pareto = [r for r in results if r.objective == "pareto"]
    if pareto:
        _merge_write(out_dir / "pareto.csv", pareto, PARETO_COLUMNS)
    return path


def _merge_write(path: Path, results: list[TuneResult], columns: list[str]) -> None:
    """Replace the rows of these results' regularizers in ``path``, keep the others."""
    frames = []
    if path.is_file():
        old = pd.read_csv(path)
        keep = ~old["regularizer"].isin({r.regularizer for r in results})
        frames.append(old[keep].reindex(columns=columns))
    for result in results:
        frame = result.trials.rename(columns={"value": "val_loss"} if "val_loss" in columns
                                     else {})
        frame.insert(0, "regularizer", result.regularizer)
        frame["chosen"] = frame["trial"] == result.best_trial
        frames.append(frame.reindex(columns=columns))
    frames = [f for f in frames if len(f)] or frames[-1:]
    atomic_write_csv(pd.concat(frames, ignore_index=True), path)
