"""What the report and the run print about a finished λ search: the chosen λ at an
edge of its range, or a λ curve flat within the seed noise. Imports no Optuna: the
report reads lambda_search.csv, not the study."""
from __future__ import annotations

import math

import pandas as pd

def search_notes(trials: pd.DataFrame, lambda_range, chosen: float | None,
                 noise: float | None = None, flat: bool = True) -> list[str]:
    """Warnings about a finished search of one regularizer, one sentence each.

    trials: its rows of lambda_search.csv (lambda, value, state). Edge: the chosen λ
    lies in the outer EDGE_SHARE of its log range. Flat: the completed trials'
    validation losses span no more than ``noise`` (the seed-to-seed sd of the
    validation loss, when known) or FLAT_SHARE of the best loss: λ barely mattered,
    and the note says "λ not identified by validation loss" (NOT_IDENTIFIED); only
    with ``flat`` (a search by validation loss).
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
    return notes


NOT_IDENTIFIED = "λ not identified by validation loss"
EDGE_SHARE = 0.05   # of the log λ range at either end
FLAT_SHARE = 0.01   # of the best validation loss, when the seed noise is not known
