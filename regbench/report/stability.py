"""Seed stability: how alike the attributions of one regularizer's seeds are.

``regbench run`` keeps each finished run's DeepLIFT/SHAP attributions of the positive
test sequences (``attributions/<run>.npz``: ``attr`` (N, L) summed over bases, ``names``
(N,), and ``hypothetical`` (N, 4, L) float16 in runs of this release on). Two seeds of a
regularizer are compared on the sequences both attributed, averaged over those
sequences: one value per pair of seeds, by two measures:

- ``jaccard`` (regbench's): the scale-free continuous Jaccard of the actual-score
  tracks (``metrics.continuous_jaccard``), every track L1-normalised as a whole;
- ``jaccard_positional`` (the paper's Table 2): the authors' ``cont_jaccard`` of the
  hypothetical scores, each position's 4-vector L1-normalised, divided by L
  (``metrics.jaccard_positional``); NaN for runs stored without hypothetical scores.

``stability.csv`` and ``stability_fraction.csv`` hold every value the report's tables
summarise (``write_stability_csvs``).
"""
from __future__ import annotations

import itertools
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from regbench.errors import RegbenchError
from regbench.metrics import continuous_jaccard, jaccard_positional
from regbench.report import stats
from regbench.store.runs import atomic_write_csv, folder_file

METHOD = "deep_lift_shap"   # the method whose attributions runs keep
SEED_CSV, FRACTION_CSV = "stability.csv", "stability_fraction.csv"
SIMILARITIES = ("jaccard", "jaccard_positional")
SEED_COLUMNS = ["regularizer", "seed_a", "seed_b", "method", "sequences", *SIMILARITIES]
FRACTION_COLUMNS = ["regularizer", "seed", "fraction", "method", "sequences", *SIMILARITIES,
                    "auroc_full", "auroc_share", "auroc_drop"]
POSITIONAL_LABEL = "positional Jaccard, the paper's (mean ± sd)"
# One sentence for the report: which measure is which.
MEASURES = ("Two measures: \"Jaccard\" is regbench's continuous Jaccard of the actual "
            "DeepLIFT/SHAP tracks, each track scaled to L1 norm 1 as a whole (scale-free; "
            "positions weigh by their attribution), with min and max; the \"positional "
            "Jaccard, the paper's\" is the authors' cont_jaccard of the hypothetical "
            "DeepLIFT/SHAP scores (every position's 4 bases scaled to L1 norm 1, the "
            "per-position ratios averaged over positions: their Table 2 sum divided by "
            "the length), so every position weighs the same. Values: stability.csv, "
            "stability_fraction.csv.")


class StoredAttributions(NamedTuple):
    """A run's kept attributions: names (N,), attr (N, L) float32 summed over bases,
    hypothetical (N, 4, L) float16 or None (runs stored before they were kept)."""

    names: np.ndarray
    attr: np.ndarray
    hypothetical: np.ndarray | None = None


def load_attributions(folder, results: pd.DataFrame | None = None
                      ) -> dict[tuple[str, int], StoredAttributions]:
    """{(regularizer, seed): StoredAttributions} of the finished runs of ``results``
    (default: the folder's results.csv) that kept their attributions; unreadable files
    are noted in ``folder.notes``."""
    results = stats.ok_runs(folder.results if results is None else results)
    if "attributions" not in results:
        return {}
    runs = {}
    for row in results.dropna(subset=["attributions"]).itertuples():
        try:
            path = folder_file(folder.path, row.attributions, "attributions")
        except RegbenchError as refused:
            folder.notes.append(f"skipped {row.regularizer} seed {row.seed}: {refused}")
            continue
        try:
            with np.load(path, allow_pickle=False) as npz:
                names, attr = npz["names"], npz["attr"].astype(np.float32)
                hypothetical = npz["hypothetical"] if "hypothetical" in npz else None
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            folder.notes.append(f"skipped {row.attributions}: missing or not a readable "
                                ".npz with arrays attr and names")
            continue
        if attr.ndim != 2 or len(attr) != len(names):
            folder.notes.append(f"skipped {row.attributions}: attr must be (N, L) with one "
                                "name per row")
            continue
        if hypothetical is not None and hypothetical.shape != (len(attr), 4, attr.shape[1]):
            folder.notes.append(f"{row.attributions}: hypothetical must be (N, 4, L) like "
                                "attr; the paper's positional Jaccard is left out for it")
            hypothetical = None
        runs[str(row.regularizer), int(row.seed)] = StoredAttributions(names, attr,
                                                                       hypothetical)
    return runs


def pair_similarity(a: StoredAttributions, b: StoredAttributions) -> dict:
    """{sequences: shared, jaccard, jaccard_positional: means over the shared
    sequences} of two runs' attributions (NaN where a measure has nothing to compare)."""
    a, b = StoredAttributions(*a), StoredAttributions(*b)
    shared, ia, ib = np.intersect1d(a.names, b.names, return_indices=True)
    if len(shared) == 0 or a.attr.shape[1] != b.attr.shape[1]:
        return {"sequences": 0, **dict.fromkeys(SIMILARITIES, float("nan"))}
    positional = np.array([np.nan])
    if a.hypothetical is not None and b.hypothetical is not None:
        positional = jaccard_positional(a.hypothetical[ia], b.hypothetical[ib])
    ours = continuous_jaccard(_one_channel(a.attr[ia]), _one_channel(b.attr[ib]))
    return {"sequences": len(shared), "jaccard": _mean(ours),
            "jaccard_positional": _mean(positional)}


def _mean(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def _one_channel(attr: np.ndarray) -> np.ndarray:
    """(N, L) summed tracks as (N, 4, L) with the values in channel 0: the other three
    are zero, so they add nothing to either sum of the Jaccard ratio."""
    return np.pad(attr[:, None, :], ((0, 0), (0, 3), (0, 0)))


def seed_pairs(folder, order, runs=None) -> pd.DataFrame:
    """One row per pair of seeds of a regularizer (SEED_COLUMNS): regularizer, seed_a,
    seed_b, method, sequences, jaccard, jaccard_positional. ``runs``:
    ``load_attributions(folder)`` if already loaded."""
    runs = load_attributions(folder) if runs is None else runs
    rows = []
    for reg in order:
        seeds = sorted(seed for r, seed in runs if r == reg)
        for sa, sb in itertools.combinations(seeds, 2):
            rows.append({"regularizer": reg, "seed_a": sa, "seed_b": sb, "method": METHOD,
                         **pair_similarity(runs[reg, sa], runs[reg, sb])})
    return pd.DataFrame(rows, columns=SEED_COLUMNS)


def fraction_pairs(folder, order, full=None) -> pd.DataFrame:
    """One row per (regularizer, seed, share) trained on all and on a share of the
    training rows (FRACTION_COLUMNS): regularizer, seed, fraction, method, sequences,
    jaccard and jaccard_positional (full vs share), and the test auROC of each
    (``auroc_full``, ``auroc_share``) where recorded, and ``auroc_drop`` = full -
    share. ``full``: ``load_attributions(folder)`` if already loaded."""
    columns = FRACTION_COLUMNS
    small = folder.fraction_results
    if small is None or small.empty:
        return pd.DataFrame(columns=columns)
    full = load_attributions(folder) if full is None else full
    auroc = _auroc(stats.ok_runs(folder.results))
    rows = []
    for share in sorted(small["data_fraction"].unique(), reverse=True):
        runs = small[small["data_fraction"] == share]
        part, part_auroc = load_attributions(folder, runs), _auroc(stats.ok_runs(runs))
        for reg in order:
            for seed in sorted(s for r, s in part if r == reg and (r, s) in full):
                full_auroc = auroc.get((reg, seed), np.nan)
                share_auroc = part_auroc.get((reg, seed), np.nan)
                rows.append({"regularizer": reg, "seed": seed, "fraction": float(share),
                             "method": METHOD,
                             **pair_similarity(full[reg, seed], part[reg, seed]),
                             "auroc_full": full_auroc, "auroc_share": share_auroc,
                             "auroc_drop": full_auroc - share_auroc})
    return pd.DataFrame(rows, columns=columns)


def stability_frames(folder, order, runs=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(``seed_pairs``, ``fraction_pairs``) of a results folder, computed once and kept
    on it (``folder.stability``), so the report's tables and the CSVs are one set of
    numbers. ``runs``: ``load_attributions(folder)`` if already loaded."""
    if folder.stability is None:
        runs = load_attributions(folder) if runs is None else runs
        folder.stability = (seed_pairs(folder, order, runs),
                            fraction_pairs(folder, order, runs))
    return folder.stability


def write_stability_csvs(folder, order, out=None) -> list:
    """Write SEED_CSV and FRACTION_CSV (``stability_frames``) into ``out`` (default the
    folder), each when it has rows; returns the paths written."""
    written = []
    for frame, name in zip(stability_frames(folder, order), (SEED_CSV, FRACTION_CSV)):
        if not frame.empty:
            written.append(atomic_write_csv(frame, Path(out or folder.path) / name))
    return written


def _auroc(results: pd.DataFrame) -> dict:
    if "test_auroc" not in results:
        return {}
    return {(str(r.regularizer), int(r.seed)): float(r.test_auroc)
            for r in results.itertuples()}


def fraction_table(pairs: pd.DataFrame, order) -> pd.DataFrame:
    """Per regularizer and share: seeds compared, mean ± sd of their full-vs-share
    Jaccard, min, max, the paper's positional Jaccard where known, and the mean drop
    in test auROC from full data to the share."""
    tables = []
    for share in sorted(pairs["fraction"].unique(), reverse=True):
        mine = pairs[pairs["fraction"] == share]
        table = _table(mine, order, "Jaccard full vs share (mean ± sd)")
        if table.empty:
            continue
        drop = mine["auroc_drop"].groupby(mine["regularizer"]).mean()
        table.insert(1, "share", f"{share:g}")
        table["auROC drop"] = [f"{drop.get(r, np.nan):.3f}" for r in table["regularizer"]]
        tables.append(table)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def write_suite_stability_csvs(out, manifest, experiments, results: pd.DataFrame,
                               fractions: pd.DataFrame, order, point_folder,
                               tags) -> list:
    """A suite's SEED_CSV and FRACTION_CSV in ``out``: the rows of every point of
    ``experiments`` (its stability experiments' suite.json entries), each led by the
    point's ``tags`` (experiment, kind, point, sweep, value). ``results``,
    ``fractions``: the suite's wide tables; ``point_folder(out, manifest, experiment,
    point, results, shares)`` builds a point's results folder as the suite report sees
    it. Returns the paths written."""
    frames = ([], [])
    for experiment in experiments:
        name = experiment["name"]
        mine = results[results["experiment"] == name]
        for point, part in mine.groupby("point", sort=False):
            shares = fractions[(fractions["experiment"] == name)
                               & (fractions["point"] == point)]
            folder = point_folder(out, manifest, name, str(point), part, shares)
            for kept, frame in zip(frames, stability_frames(folder, order)):
                kept.append(_tagged(frame, part[tags].iloc[0]))
    written = []
    for kept, name in zip(frames, (SEED_CSV, FRACTION_CSV)):
        kept = [f for f in kept if not f.empty]
        if kept:
            written.append(atomic_write_csv(pd.concat(kept, ignore_index=True),
                                            Path(out) / name))
    return written


def _tagged(frame: pd.DataFrame, tags: pd.Series) -> pd.DataFrame:
    """``frame`` with the tag columns first, one value each."""
    frame = frame.copy()
    for i, (tag, value) in enumerate(tags.items()):
        frame.insert(i, tag, value)
    return frame


def stability_table(pairs: pd.DataFrame, order) -> pd.DataFrame:
    """Per regularizer: seeds, pairs, mean ± sd of the pairs' Jaccard, min and max."""
    return _table(pairs, order, "Jaccard between seeds (mean ± sd)")


def _table(pairs: pd.DataFrame, order, label: str) -> pd.DataFrame:
    """One row per regularizer with values; seed pairs (seed_a, seed_b columns) also
    count their distinct seeds. The paper's positional Jaccard is a column where any
    run kept hypothetical scores."""
    rows = []
    positional = "jaccard_positional" in pairs and pairs["jaccard_positional"].notna().any()
    for reg in order:
        mine = pairs[pairs["regularizer"] == reg]
        values = mine["jaccard"].dropna()
        if values.empty:
            continue
        if "seed_a" in mine:
            counts = {"seeds": pd.concat([mine["seed_a"], mine["seed_b"]]).nunique(),
                      "pairs": len(values)}
        else:
            counts = {"seeds": len(values)}
        row = {"regularizer": reg, **counts, **_spread(values, label)}
        if positional:
            row[POSITIONAL_LABEL] = _mean_sd(mine["jaccard_positional"].dropna())
        rows.append(row)
    return pd.DataFrame(rows)


def _spread(values: pd.Series, label: str) -> dict:
    """Table cells: ``label`` -> 'mean ± sd' (no sd for one value), min, max."""
    return {label: _mean_sd(values), "min": f"{values.min():.3f}",
            "max": f"{values.max():.3f}"}


def _mean_sd(values: pd.Series) -> str:
    """'mean ± sd' (no sd for one value; empty for none)."""
    if values.empty:
        return ""
    sd = values.std(ddof=1) if len(values) > 1 else np.nan
    return stats.format_mean_sd(values.mean(), sd)


__all__ = ["MEASURES", "StoredAttributions", "fraction_pairs", "fraction_table",
           "load_attributions", "pair_similarity", "seed_pairs", "stability_frames",
           "stability_table", "write_stability_csvs", "write_suite_stability_csvs"]
