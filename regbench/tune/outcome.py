"""What a finished study says: the chosen trial (``chosen_trial``), agreed by every worker
(``agreed_choice``), its table of trials, and the ``TuneResult``."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd
from optuna.trial import TrialState

from regbench.tune.selection import Candidate, choose_lambda
from regbench.tune.storage import record_once, redact_url

PARETO_LOSS_TOLERANCE = 0.02  # pareto choice: best auPRC within 2 % of the best loss


@dataclass
class TuneResult:
    """Outcome of a study (all its workers), seen from this worker.

    trials: one row per trial that drew a λ: trial, lambda, value (validation loss;
    for a pruned trial its last reported loss), state (complete, pruned, failed,
    running, waiting), epochs, reason, for pareto motif_auprc and on_front, for
    selection seeds, endpoint and performance (per selection seed, "; "-joined),
    endpoint_mean, endpoint_se, performance_difference (from none, oriented: negative is
    worse), feasible, within_one_se. Trials whose training failed (non-finite loss)
    count in n_failed, not n_pruned. best_lambda is None when no trial completed.
    best_value is the chosen trial's validation loss (selection: its mean over the
    seeds); best_score its mean primary endpoint (selection). feasible_found
    (selection): whether any λ met the performance margin; reference: the selection's
    none reference and margin (``search._study_reference``).
    """

    regularizer: str
    objective: str
    best_lambda: float | None
    best_value: float = math.nan
    best_trial: int | None = None
    best_score: float = math.nan
    feasible_found: bool = True
    reference: dict | None = None
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


def tune_result(study, regularizer, objective, url, seconds, chosen,
            reference: dict | None = None) -> TuneResult:
    trials = _trials_frame(study, objective, reference)
    counts = trials["state"].value_counts() if len(trials) else {}
    selection = objective == "selection"
    feasible = bool(trials["feasible"].any()) if selection and len(trials) else True
    return TuneResult(
        regularizer, objective,
        best_lambda=None if chosen is None else float(chosen.params["lambda"]),
        best_value=math.nan if chosen is None else (
            _mean(chosen.user_attrs.get("val_loss")) if selection
            else float(chosen.values[0])),
        best_trial=None if chosen is None else chosen.number,
        best_score=(_mean(chosen.user_attrs.get("endpoint"))
                    if chosen is not None and selection else math.nan),
        feasible_found=feasible, reference=reference if selection else None,
        n_complete=int(counts.get("complete", 0)), n_pruned=int(counts.get("pruned", 0)),
        n_failed=int(counts.get("failed", 0)), seconds=seconds, study_name=study.study_name,
        storage=redact_url(url), trials=trials)


def _mean(values) -> float:
    return float(sum(values) / len(values)) if values else math.nan


def _joined(values) -> str:
    return "; ".join(f"{float(v):.6g}" for v in values or [])


def _trials_frame(study, objective, reference: dict | None = None) -> pd.DataFrame:
    front = {t.number for t in study.best_trials} if objective == "pareto" else set()
    rule = {}
    if objective == "selection":
        choice = _selection_choice(study, reference)
        rule = {} if choice is None else {r["lambda"]: r for r in choice.table}
    rows = []
    for t in study.get_trials(deepcopy=False):
        if "lambda" not in t.params:   # started after the budget was reached: no λ drawn
            continue
        value = t.values[0] if t.values else (
            t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values
            else math.nan)
        if objective == "selection":   # value: the loss, as in every search's table
            value = _mean(t.user_attrs.get("val_loss"))
        epochs = t.user_attrs.get("epochs", len(t.intermediate_values))
        row = {"trial": t.number, "lambda": t.params["lambda"], "value": value,
               "state": _state(t), "epochs": _joined(epochs) if objective == "selection"
               else epochs, "reason": t.user_attrs.get("fail_reason", "")}
        if objective == "pareto":
            row["motif_auprc"] = t.values[1] if t.values else math.nan
            row["on_front"] = t.number in front
        if objective == "selection":
            chosen = rule.get(t.params["lambda"], {}) if t.state == TrialState.COMPLETE else {}
            row.update({k: _joined(t.user_attrs.get(k)) for k in
                        ("seeds", "endpoint", "performance")})
            row.update({k: chosen.get(k, math.nan) for k in
                        ("endpoint_mean", "endpoint_se", "performance_difference")})
            row.update({k: bool(chosen.get(k, False)) for k in ("feasible", "within_one_se")})
        rows.append(row)
    columns = ["trial", "lambda", "value", "state", "epochs", "reason"]
    extra = {"pareto": ["motif_auprc", "on_front"],
             "selection": ["seeds", "endpoint", "performance", "endpoint_mean",
                           "endpoint_se", "performance_difference", "feasible",
                           "within_one_se"]}.get(objective, [])
    return pd.DataFrame(rows, columns=columns + extra)


# Study user attribute: the trial whose λ is used, per objective and trial budget.
CHOSEN = "chosen-{objective}-{n_trials}"


def recorded_choice(study, objective: str, n_trials: int) -> dict | None:
    """{trial: number, lambda: λ} that a worker recorded for this budget, or None."""
    return study.user_attrs.get(CHOSEN.format(objective=objective, n_trials=n_trials))


def agreed_choice(study, objective: str, n_trials: int, choose: Callable, record: bool):
    """The trial whose λ this worker uses: the one recorded in the study for a budget
    of ``n_trials``, else ``choose()``'s, recorded when ``record`` (the first worker to
    record wins; every worker then uses its trial). None when no trial completed."""
    recorded = recorded_choice(study, objective, n_trials)
    if recorded is None:
        chosen = choose()
        if chosen is None or not record:
            return chosen
        recorded = record_once(study, CHOSEN.format(objective=objective, n_trials=n_trials),
                                {"trial": chosen.number, "lambda": chosen.params["lambda"]})
    return next(t for t in study.get_trials(deepcopy=False) if t.number == recorded["trial"])


def _selection_choice(study, reference: dict | None):
    """``selection.choose_lambda`` over the study's completed trials (None when none
    completed); reference: as ``tune_lambda``'s, else the study's own."""
    reference = reference or study.user_attrs.get("selection_reference")
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if reference is None or not done:
        return None
    candidates = [Candidate(float(t.params["lambda"]), tuple(t.user_attrs["endpoint"]),
                            tuple(t.user_attrs["performance"])) for t in done]
    return choose_lambda(candidates, tuple(reference["none_performance"]),
                         direction=reference["direction"],
                         performance_direction=reference["performance_direction"],
                         margin=float(reference["margin"]))


def chosen_trial(study, objective, reference: dict | None = None):
    """The trial whose λ is used: lowest loss; for pareto, the front trial with the
    best auPRC among those within PARETO_LOSS_TOLERANCE of the front's lowest loss;
    selection, the trial of the λ ``selection.choose_lambda`` chooses (feasible by the
    margin, then the one-standard-error rule; the smallest λ when none is feasible)."""
    if objective == "selection":
        choice = _selection_choice(study, reference)
        if choice is None:
            return None
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        return next(t for t in done if float(t.params["lambda"]) == choice.lam)
    if objective == "loss":
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        return min(done, key=lambda t: t.value) if done else None
    front = study.best_trials
    if not front:
        return None
    best = min(t.values[0] for t in front)
    near = [t for t in front if t.values[0] <= best + PARETO_LOSS_TOLERANCE * abs(best)]
    return max(near, key=lambda t: (t.values[1], -t.values[0]))
