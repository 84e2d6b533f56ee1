"""What a finished study says: the chosen trial (``_choose``), agreed by every worker
(``_agreed_choice``), its table of trials, and the ``TuneResult``."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd
from optuna.trial import TrialState

from regbench.tune.storage import _record_once, redact_url
from regbench.tune.study import trial_constraint

PARETO_LOSS_TOLERANCE = 0.02  # pareto choice: best auPRC within 2 % of the best loss


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
