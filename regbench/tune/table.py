"""OUT/lambda_search.csv and OUT/pareto.csv: the trials of every searched
regularizer, one table across runs that tune one regularizer at a time."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from regbench.store.runs import atomic_write_csv

if TYPE_CHECKING:
    from regbench.tune.outcome import TuneResult

SEARCH_COLUMNS = ["regularizer", "trial", "lambda", "value", "state", "chosen"]
# when a study is a selection (the constrained protocol): each selection seed's point
SELECTION_COLUMNS = ["seeds", "endpoint", "performance", "endpoint_mean", "endpoint_se",
                     "performance_difference", "feasible", "within_one_se", "epochs",
                     "reason"]
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
    selection = any(r.objective == "selection" for r in results) or (
        path.is_file() and SELECTION_COLUMNS[0] in pd.read_csv(path, nrows=0).columns)
    _merge_write(path, results, SEARCH_COLUMNS + (SELECTION_COLUMNS if selection else []))
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
