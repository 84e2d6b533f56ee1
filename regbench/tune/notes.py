"""What the report and the run print about a finished λ search: the chosen λ at an
edge of its range, or a λ curve flat within the seed noise. Imports no Optuna: the
report reads lambda_search.csv, not the study."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

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
