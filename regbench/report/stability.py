"""Seed stability: how alike the attributions of one regularizer's seeds are.

``regbench run`` keeps each finished run's DeepLIFT/SHAP attributions of the positive
test sequences (``attributions/<run>.npz``: ``attr`` (N, L) summed over bases, ``names``
(N,)). Two seeds of a regularizer are compared on the sequences both attributed, by the
continuous Jaccard similarity (``regbench.metrics.continuous_jaccard``), averaged over
those sequences: one value per pair of seeds.
"""
from __future__ import annotations

import itertools
import zipfile

import numpy as np
import pandas as pd

from regbench.errors import RegbenchError
from regbench.metrics import continuous_jaccard
from regbench.report import stats
from regbench.store import folder_file


def load_attributions(folder, results: pd.DataFrame | None = None
                      ) -> dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]:
    """{(regularizer, seed): (names (N,), attr (N, L) float32)} of the finished runs of
    ``results`` (default: the folder's results.csv) that kept their attributions;
    unreadable files are noted in ``folder.notes``."""
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
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            folder.notes.append(f"skipped {row.attributions}: missing or not a readable "
                                ".npz with arrays attr and names")
            continue
        if attr.ndim != 2 or len(attr) != len(names):
            folder.notes.append(f"skipped {row.attributions}: attr must be (N, L) with one "
                                "name per row")
            continue
        runs[str(row.regularizer), int(row.seed)] = (names, attr)
    return runs


def pair_similarity(a: tuple[np.ndarray, np.ndarray],
                    b: tuple[np.ndarray, np.ndarray]) -> tuple[int, float]:
    """(shared sequences, mean continuous Jaccard over them) of two runs' attributions."""
    (names_a, attr_a), (names_b, attr_b) = a, b
    shared, ia, ib = np.intersect1d(names_a, names_b, return_indices=True)
    if len(shared) == 0 or attr_a.shape[1] != attr_b.shape[1]:
        return 0, float("nan")
    values = continuous_jaccard(_one_channel(attr_a[ia]), _one_channel(attr_b[ib]))
    return len(shared), float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def _one_channel(attr: np.ndarray) -> np.ndarray:
    """(N, L) summed tracks as (N, 4, L) with the values in channel 0: the other three
    are zero, so they add nothing to either sum of the Jaccard ratio."""
    return np.pad(attr[:, None, :], ((0, 0), (0, 3), (0, 0)))


def seed_pairs(folder, order, runs=None) -> pd.DataFrame:
    """One row per pair of seeds of a regularizer: regularizer, seed_a, seed_b,
    sequences, jaccard. ``runs``: ``load_attributions(folder)`` if already loaded."""
    runs = load_attributions(folder) if runs is None else runs
    rows = []
    for reg in order:
        seeds = sorted(seed for r, seed in runs if r == reg)
        for sa, sb in itertools.combinations(seeds, 2):
            n, value = pair_similarity(runs[reg, sa], runs[reg, sb])
            rows.append({"regularizer": reg, "seed_a": sa, "seed_b": sb, "sequences": n,
                         "jaccard": value})
    return pd.DataFrame(rows, columns=["regularizer", "seed_a", "seed_b", "sequences",
                                       "jaccard"])


def fraction_pairs(folder, order, full=None) -> pd.DataFrame:
    """One row per (regularizer, seed, share) trained on all and on a share of the
    training rows: regularizer, seed, fraction, sequences, jaccard (full vs share),
    and the test auROC of each (``auroc_full``, ``auroc_share``) where recorded.
    ``full``: ``load_attributions(folder)`` if already loaded."""
    columns = ["regularizer", "seed", "fraction", "sequences", "jaccard", "auroc_full",
               "auroc_share"]
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
                n, value = pair_similarity(full[reg, seed], part[reg, seed])
                rows.append({"regularizer": reg, "seed": seed, "fraction": float(share),
                             "sequences": n, "jaccard": value,
                             "auroc_full": auroc.get((reg, seed), np.nan),
                             "auroc_share": part_auroc.get((reg, seed), np.nan)})
    return pd.DataFrame(rows, columns=columns)


def _auroc(results: pd.DataFrame) -> dict:
    if "test_auroc" not in results:
        return {}
    return {(str(r.regularizer), int(r.seed)): float(r.test_auroc)
            for r in results.itertuples()}


def fraction_table(pairs: pd.DataFrame, order) -> pd.DataFrame:
    """Per regularizer and share: seeds compared, mean ± sd of their full-vs-share
    Jaccard, min, max, and the mean drop in test auROC from full data to the share."""
    tables = []
    for share in sorted(pairs["fraction"].unique(), reverse=True):
        mine = pairs[pairs["fraction"] == share]
        table = _table(mine, order, "Jaccard full vs share (mean ± sd)")
        if table.empty:
            continue
        drop = (mine["auroc_full"] - mine["auroc_share"]).groupby(mine["regularizer"]).mean()
        table.insert(1, "share", f"{share:g}")
        table["auROC drop"] = [f"{drop.get(r, np.nan):.3f}" for r in table["regularizer"]]
        tables.append(table)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def stability_table(pairs: pd.DataFrame, order) -> pd.DataFrame:
    """Per regularizer: seeds, pairs, mean ± sd of the pairs' Jaccard, min and max."""
    return _table(pairs, order, "Jaccard between seeds (mean ± sd)")


def _table(pairs: pd.DataFrame, order, label: str) -> pd.DataFrame:
    """One row per regularizer with values; seed pairs (seed_a, seed_b columns) also
    count their distinct seeds."""
    rows = []
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
        rows.append({"regularizer": reg, **counts, **_spread(values, label)})
    return pd.DataFrame(rows)


def _spread(values: pd.Series, label: str) -> dict:
    """Table cells: ``label`` -> 'mean ± sd' (no sd for one value), min, max."""
    sd = values.std(ddof=1) if len(values) > 1 else np.nan
    return {label: stats.format_mean_sd(values.mean(), sd),
            "min": f"{values.min():.3f}", "max": f"{values.max():.3f}"}


__all__ = ["fraction_pairs", "fraction_table", "load_attributions", "pair_similarity",
           "seed_pairs", "stability_table"]
