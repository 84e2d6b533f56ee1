"""Early-stopping rules ([train] stopping) and the convergence check of every run.

Torch-free (the plan reads the window before torch loads); ``regbench.training.fit`` applies the
rules epoch by epoch.

- ``patience`` (the default): the validation correctness loss picks the best epoch, and
  ``patience`` epochs without a new lowest stop the run.
- ``authors``: the rule of the paper's authors' code (github
  ``amtseng/fourier_attribution_priors``, ``src/model/train_profile_model.py`` and
  ``train_binary_model.py``, ``train_model``, after their commit d160e01 "Fix early
  stopping bug where history is too short"). It reads the *total* validation loss,
  the correctness loss plus λ × the penalty (their ``val_epoch_loss``: the mean of the
  batches' ``corr_loss + weight * att_prior_loss``), which also picks the best epoch
  (their ``best_val_epoch_loss``). They keep the newest losses first in a list of
  ``early_stop_hist_len + 1`` = 4; from the epoch after it first holds 4, each epoch
  drops the oldest, adds the newest and stops when ``np.max(np.diff(list)) <
  early_stop_min_delta`` (0.001): none of the last 3 epoch-to-epoch changes lowered
  the loss by at least 0.001. Their first check is at epoch 5 (the list fills at epoch
  4 unchecked).
"""
from __future__ import annotations

import math

import numpy as np

from regbench.options.settings import AUTHORS, PATIENCE

AUTHORS_HIST_LEN = 3        # their early_stop_hist_len: changes compared
AUTHORS_MIN_DELTA = 0.001   # their early_stop_min_delta


def total_loss(valid, lam: float) -> float:
    """The total validation loss of an epoch: correctness + λ × penalty. valid: (loss,
    penalty)."""
    loss, penalty = valid
    return loss + lam * penalty


def authors_stops(losses) -> bool:
    """Whether the authors' rule stops after the last of ``losses`` (the total
    validation loss of every epoch so far, oldest first, shape (E,)): from epoch
    AUTHORS_HIST_LEN + 2 on, when no change between consecutive epochs among the last
    AUTHORS_HIST_LEN + 1 lowered the loss by AUTHORS_MIN_DELTA or more. A NaN in that
    window never stops it (NaN < delta is false, as in their code)."""
    if len(losses) < AUTHORS_HIST_LEN + 2:
        return False
    newest_first = np.asarray(losses[-(AUTHORS_HIST_LEN + 1):], dtype=float)[::-1]
    return bool(np.max(np.diff(newest_first)) < AUTHORS_MIN_DELTA)


def window(rule: str, patience: int) -> tuple[int, float]:
    """(epochs, threshold) of a rule's stopping window: ``patience`` epochs and no
    threshold (any new lowest loss counts), or the authors' 3 changes and 0.001."""
    return (AUTHORS_HIST_LEN, AUTHORS_MIN_DELTA) if rule == AUTHORS else (patience, 0.0)


def rule_losses(history: list[dict], rule: str, lam: float) -> list[float]:
    """The validation loss ``rule`` reads, per epoch of ``history`` (fit's records): the
    correctness loss (patience) or the total loss (authors)."""
    if rule == AUTHORS:
        return [total_loss((r["val_loss"], r["val_penalty"]), lam) for r in history]
    return [r["val_loss"] for r in history]


def converged(losses, best_epoch: int, max_epochs: int, epochs: int,
              threshold: float) -> bool:
    """Whether a run's training had ended, not been cut off, by its stopping window
    (``window``: ``epochs``, ``threshold``). losses: the loss its rule reads, per epoch
    trained, shape (E,), E <= max_epochs; best_epoch: 1-based.

    False when the best epoch lies within the window of the epoch cap (best_epoch >
    max_epochs - epochs: the rule had no room to see it was done), or when the last
    loss is more than ``threshold`` below the loss ``epochs`` epochs before it (the
    run stopped, by its rule or the cap, while the loss was still falling). Under
    patience a stop means no lower loss in the window, so only the cap test can fail;
    under the authors' rule each change is below 0.001 but three together can fall by
    more."""
    if best_epoch > max_epochs - epochs:
        return False
    if not losses:
        return False
    start = losses[max(0, len(losses) - 1 - epochs)]
    return not (start - losses[-1] > threshold)


def run_converged(history: list[dict], best_epoch: int, status: str, rule: str,
                  patience: int, max_epochs: int, lam: float) -> bool:
    """``converged`` of a finished run from its history and settings; a failed run
    (status not "ok") has not converged."""
    if status != "ok":
        return False
    losses = rule_losses(history, rule, lam)
    if any(not math.isfinite(v) for v in losses[-1:]):
        return False
    return converged(losses, best_epoch, max_epochs, *window(rule, patience))


def convergence_rule(train) -> str:
    """One line: when a run of these [train] settings counts as converged."""
    epochs, threshold = window(train.stopping, train.patience)
    below = f"more than {threshold:g} below" if threshold else "below"
    return (f"converged unless the best epoch is within {epochs} epochs of the "
            f"{train.max_epochs}-epoch cap (best epoch > {train.max_epochs - epochs}) or "
            f"the last validation loss the rule reads is {below} the one {epochs} epochs "
            "before it (still falling)")


# The cap should leave a model room for BUDGET_WINDOWS stopping windows: three to
# improve in and the last to show it no longer does.
BUDGET_WINDOWS = 4


def budget_warning(train) -> str | None:
    """The plan's warning when [train] max_epochs is at most BUDGET_WINDOWS stopping
    windows, else None."""
    epochs, _ = window(train.stopping, train.patience)
    if train.max_epochs > BUDGET_WINDOWS * epochs:
        return None
    return (f"warning: max_epochs {train.max_epochs} is at most {BUDGET_WINDOWS} stopping "
            f"windows ({train.stopping}: {epochs} epochs each; a model needs "
            f"{BUDGET_WINDOWS - 1} to improve in and 1 to show it stopped): models are "
            "likely cut off before they converge (results.csv's converged); raise [train] "
            "max_epochs (docs/profile.md)")


def selection_warning(none: dict) -> str | None:
    """The warning, once none's selection models have trained (``none["converged"]``:
    one bool per model), that the budget cuts models off: those models are trained as
    the verdict's are, so their convergence is measured, not guessed. None when every
    one converged."""
    cut = sum(1 for c in none.get("converged", []) if c is not None and not c)
    if not cut:
        return None
    return (f"warning: {cut} of {len(none['converged'])} models of none on the "
            "selection seeds did not converge (results.csv's converged): the verdict's "
            "models, trained alike, are likely cut off too; raise [train] max_epochs "
            "(docs/profile.md)")


__all__ = ["AUTHORS", "AUTHORS_HIST_LEN", "AUTHORS_MIN_DELTA", "BUDGET_WINDOWS", "PATIENCE",
           "authors_stops", "budget_warning", "convergence_rule", "converged",
           "rule_losses", "run_converged", "selection_warning", "total_loss", "window"]
