"""Read a results folder written by ``regbench run`` into plain Python / pandas objects.

Only ``results.csv`` is required; every other file is optional and comes back empty
(or ``None``) when absent, so the report can skip the sections it feeds.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from regbench.errors import RegbenchError
from regbench.store.labels import remember_labels
from regbench.store.record import COST, INTERPRETABILITY, PERFORMANCE, RUN_RECORD
from regbench.store.runs import wide_results

REQUIRED_RESULT_COLUMNS = ("regularizer", "seed", "status")
EXAMPLE_ARRAYS = ("X", "attr", "motif_mask")
# results.csv's columns that hold numbers (or nothing): the run's λ, seed and share of
# the training rows, and every cost, performance and interpretability column
NUMBER_ROLES = (COST, PERFORMANCE, INTERPRETABILITY)
NUMBER_IDS = ("lambda", "seed", "data_fraction")
# config.json's keys whose type the report relies on (null or absent: not recorded)
CONFIG_TYPES = {"regularizers": (list, "a list of regularizer names"),
                "lambdas": (dict, "an object of regularizer: λ"),
                "lambda_source": (dict, "an object of regularizer: how λ was set"),
                "lambda_protocol": (str, "the name of a λ protocol")}
REWRITE = "rerun `regbench run` with the same options to write {} again"


@dataclass
class ResultsFolder:
    path: Path
    config: dict
    results: pd.DataFrame
    per_sequence: pd.DataFrame | None = None
    history: pd.DataFrame | None = None
    lambda_search: pd.DataFrame | None = None
    pareto: pd.DataFrame | None = None
    fraction_results: pd.DataFrame | None = None  # runs on a share of the training rows
    examples: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # files that could not be used
    stability: tuple | None = None  # report.stability.stability_frames, once computed


def _read_csv(path: Path, required=()) -> pd.DataFrame:
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise RegbenchError(f"{path} is not a readable CSV file: {exc}") from None
    missing = [c for c in required if c not in df]
    if missing:
        raise RegbenchError(f"{path} lacks column(s) {', '.join(missing)}")
    if "regularizer" in df:
        df["regularizer"] = df["regularizer"].astype(str)
    return df


def _check_numbers(path: Path, df: pd.DataFrame) -> pd.DataFrame:
    """``df`` (results.csv, long) when every column of numbers holds numbers and every
    seed is whole; else a RegbenchError naming the first bad cell (a hand edit, a
    tampered file) and how to fix it."""
    for column in df:
        if column not in NUMBER_IDS and RUN_RECORD.role(column) not in NUMBER_ROLES:
            continue
        values = pd.to_numeric(df[column], errors="coerce")
        bad = values.isna() & df[column].notna()
        what = "a number"
        if column == "seed" and not bad.any():
            bad, what = values.notna() & (values != values.round()), "a whole number"
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise RegbenchError(
                f"{path}, line {row + 2}, column {column}: {str(df[column].iloc[row])!r} is "
                f"not {what}; correct it, or {REWRITE.format(path.name)} from the stored "
                "runs")
        df[column] = values
    return df


def _optional_csv(folder: ResultsFolder, name: str, required: tuple,
                  check=None) -> pd.DataFrame | None:
    path = folder.path / name
    if not path.is_file():
        return None
    try:
        df = _read_csv(path, required)
        return check(path, df) if check else df
    except RegbenchError as exc:
        folder.notes.append(f"skipped {name}: {exc}")
        return None


def _read_config(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RegbenchError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise RegbenchError(f"{path} must hold a JSON object")
    for key, (kind, what) in CONFIG_TYPES.items():
        value = config.get(key)
        if value is not None and not isinstance(value, kind):
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            raise RegbenchError(f"{path}: {key} = {shown} is not valid: expected {what}; "
                                f"correct it, or {REWRITE.format(path.name)}")
    return config


def _read_examples(folder: ResultsFolder) -> None:
    for path in sorted((folder.path / "examples").glob("*.npz")):
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in (*EXAMPLE_ARRAYS, "names") if k in npz}
        except (OSError, ValueError, zipfile.BadZipFile):
            folder.notes.append(f"skipped examples/{path.name}: not a readable .npz file")
            continue
        if not all(k in arrays for k in EXAMPLE_ARRAYS):
            folder.notes.append(
                f"skipped examples/{path.name}: needs arrays X, attr, motif_mask")
            continue
        folder.examples[path.stem] = arrays


def load_results(results_dir) -> ResultsFolder:
    """Read DIR; a missing DIR or DIR/results.csv is a RegbenchError."""
    path = Path(results_dir)
    if path.is_file():
        raise RegbenchError(f"{path} is a file; give the results folder `regbench run` "
                            "wrote (it holds results.csv)")
    if not path.is_dir():
        raise RegbenchError(f"results folder {path} does not exist")
    if not (path / "results.csv").is_file():
        raise RegbenchError(f"{path} has no results.csv; run `regbench run` to create it")
    config = _read_config(path / "config.json")
    remember_labels(config)   # plug-in metrics not installed here keep theirs (and roles)
    table = path / "results.csv"
    folder = ResultsFolder(path, config, wide_results(_check_numbers(
        table, _read_csv(table, REQUIRED_RESULT_COLUMNS))))
    if folder.results.empty:
        raise RegbenchError(f"{path / 'results.csv'} has no runs")
    folder.per_sequence = _optional_csv(folder, "per_sequence.csv",
                                        ("regularizer", "seed", "method", "sequence"))
    folder.history = _optional_csv(folder, "history.csv",
                                   ("regularizer", "seed", "epoch", "val_loss"))
    folder.lambda_search = _optional_csv(folder, "lambda_search.csv",
                                         ("regularizer", "lambda", "value"))
    folder.pareto = _optional_csv(folder, "pareto.csv",
                                  ("regularizer", "lambda", "val_loss", "motif_auprc",
                                   "on_front"))
    fraction = _optional_csv(folder, "results_fraction.csv",
                             ("regularizer", "seed", "status", "data_fraction"), _check_numbers)
    folder.fraction_results = None if fraction is None else wide_results(fraction)
    _read_examples(folder)
    return folder
