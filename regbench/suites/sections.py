"""The report sections and tables of the built-in suite kinds (``suites.builtins`` names
them as its kinds' ``section`` and ``tables`` hooks, imported when the report is
written): each section yields the blocks of its experiment's section from the suite's
rows (and the point folders); each table writer writes a CSV beside the report."""
from __future__ import annotations

import contextlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure as MplFigure

from regbench.report import figures, lambda_sweep, sections, stability, stats
from regbench.report.load import load_results
from regbench.report.render import Table, Text
from regbench.suites.verdict import (ARROWS, TAGS, column_info, lambda_verdict,
                                           matched_choice, verdict_experiment)
from regbench.store.runs import atomic_write_csv, folder_file


# (folder, shares given) -> the point's folder while a suite report is written
# (``one_folder_per_point``), so what a folder computes once (its stability tables, for
# the CSVs and the section) is computed once per report
_SHARED: dict | None = None


@contextlib.contextmanager
def one_folder_per_point():
    """Within: ``point_folder`` gives the same folder object for the same point and
    the same rows, so its cached stability tables serve the CSVs and the section."""
    global _SHARED
    _SHARED = {}
    try:
        yield
    finally:
        _SHARED = None


def point_folder(out: Path, manifest, experiment: str, point: str, results: pd.DataFrame,
                 shares: pd.DataFrame | None = None):
    """The point's own results folder, its tables replaced by the suite's rows of it."""
    if _SHARED is None:
        return _load_point_folder(out, manifest, experiment, point, results, shares)
    key = (str(out), experiment, point, _fingerprint(results),
           None if shares is None else _fingerprint(shares))
    if key not in _SHARED:
        _SHARED[key] = _load_point_folder(out, manifest, experiment, point, results, shares)
    return _SHARED[key]


def _fingerprint(frame: pd.DataFrame) -> int:
    return int(pd.util.hash_pandas_object(frame, index=False).sum()) if len(frame) else 0


def _load_point_folder(out: Path, manifest, experiment: str, point: str,
                       results: pd.DataFrame, shares: pd.DataFrame | None):
    entry = next(p for p in manifest["points"]
                 if p["experiment"] == experiment and p["point"] == point)
    folder = load_results(folder_file(out, entry["folder"], "points"))   # suite.json
    folder.results = results.drop(columns=TAGS).reset_index(drop=True)
    if shares is not None:
        folder.fraction_results = (shares.drop(columns=TAGS).reset_index(drop=True)
                                   if not shares.empty else None)
    return folder


def compare_section(out, experiment, results, shares, order, manifest):
    point = str(results["point"].iloc[0])
    folder = point_folder(out, manifest, experiment["name"], point, results)
    metrics = stats.metric_columns(folder.results)
    ok = stats.ok_runs(folder.results)
    yield Table(sections.summary_frame(folder.results, metrics, order),
                "Every metric, mean ± sd over seeds")
    for section in (sections.performance_vs_interpretability(ok, order),
                    sections.attribution_examples(folder.examples, order),
                    sections.lambda_search(folder, order)):
        if section is not None:
            yield from section.blocks


def stability_section(out, experiment, results, shares, order, manifest):
    point = str(results["point"].iloc[0])
    folder = point_folder(out, manifest, experiment["name"], point, results,
                           shares[shares["point"] == point])
    for section in (sections.seed_stability(folder, order, None),   # the folder's tables,
                    sections.data_stability(folder, order, None)):  # computed at most once
        if section is not None:
            yield Text(f"{section.title}:")
            yield from section.blocks
    yield Text("A share model starts from the same initial weights as the full-data model "
               "of its seed, so the full-vs-share comparison isolates the training data; "
               "seed pairs differ in both initialisation and batch order.")


def gc_sweep_section(out, experiment, results, shares, order, manifest):
    gaps = {p["point"]: p.get("gc_gap") for p in manifest["points"]
            if p["experiment"] == experiment["name"]}
    ok = stats.ok_runs(results).copy()
    ok["gc_gap"] = ok["point"].map(gaps)
    panels = [c for c in ("gc_reliance", "balanced_auroc", "motif_fraction", "test_auroc")
              if c in ok and ok[c].notna().any()]
    fig = _lines(ok, "gc_gap", panels, order, "GC gap (positives − negatives)")
    if fig is not None:
        # the figure is named after its kind (gc_sweep.png), as it always was
        yield sections.figure_block(experiment["kind"], "Each metric against the GC gap between "
                               "positives and negatives (mean ± sd over seeds; "
                               "DeepLIFT/SHAP). A model that takes the GC shortcut shows GC "
                               "reliance rising and balanced auROC falling with the gap. "
                               f"{_captions(panels)}.", fig)
    yield Table(_by_level(ok, "gc_gap", panels, order), "Per GC gap: mean ± sd over seeds")


def data_scarcity_section(out, experiment, results, shares, order, manifest):
    runs = pd.concat([results, shares], ignore_index=True)
    ok = stats.ok_runs(runs).copy()
    panels = [c for c in ("test_auroc", "motif_auprc", "highfreq_fraction", "entropy")
              if c in ok and ok[c].notna().any()]
    fig = _lines(ok, "train_rows", panels, order, "training rows (log scale)", log=True)
    if fig is not None:
        yield sections.figure_block(experiment["kind"], "Each metric against the number of "
                               "training rows (nested shares of the training split; mean ± sd "
                               f"over seeds; DeepLIFT/SHAP). {_captions(panels)}.", fig)
    yield Table(_by_level(ok, "train_rows", panels, order),
                "Per training-set size: mean ± sd over seeds")


def multi_motif_section(out, experiment, results, shares, order, manifest):
    ok = stats.ok_runs(results)
    tasks = [c[len("auroc_"):] for c in ok if c.startswith("auroc_") and ok[c].notna().any()]
    if tasks:
        columns = {"auroc": "test auROC ↑", "motif_fraction": "motif fraction ↑",
                   "motif_auprc": "motif auPRC ↑"}
        rows = []
        for task in tasks:
            for reg in order:
                mine = ok[ok["regularizer"] == reg]
                rows.append({"task": task, "regularizer": reg, **{
                    label: stats.format_mean_sd(mine[f"{key}_{task}"].mean(), mine[
                        f"{key}_{task}"].std(ddof=1) if len(mine) > 1 else math.nan)
                    for key, label in columns.items() if f"{key}_{task}" in mine}})
        yield Table(pd.DataFrame(rows), "Per task, mean ± sd over seeds: test auROC on the "
                    "task's output; motif fraction and pooled motif auPRC of the attributions "
                    "of that output on sequences positive for the task, against the task's "
                    "own motif instances (higher is better for all three)")
    yield from compare_section(out, experiment, results, shares, order, manifest)


def lambda_sweep_section(out, experiment, results, shares, order, manifest):
    frame = lambda_sweep.sweep_frame(results)
    metric, chosen = matched_choice(frame)
    if verdict_experiment(manifest) != experiment["name"]:
        yield from lambda_verdict(results)
    sweeps = [e["name"] for e in manifest["experiments"] if e["kind"] == experiment["kind"]]
    suffix = "" if sweeps.index(experiment["name"]) == 0 else \
        f"_{sweeps.index(experiment['name']) + 1}"
    for column in [c for c in ("test_auroc", metric, "val_loss") if c]:
        info = stats.metric_info(column)
        fig = lambda_sweep.lambda_curves(frame, column, order, chosen)
        yield sections.figure_block(
            f"lambda_{column}{suffix}", f"{info.label} against λ, one panel per regularizer "
            "(mean ± sd over seeds; log λ axis across the regularizer's registry range); "
            "grey band: none, mean ± sd over the same seeds; dotted line: the λ chosen at "
            f"matched accuracy. {info.better}.", fig)
    yield Table(lambda_sweep.curves_table(frame, order), "Per regularizer and λ: mean ± sd "
                f"over seeds (every run: {lambda_sweep.CSV})")


def _captions(columns) -> str:
    """"label: which way is better" of each column, joined by "; "."""
    return "; ".join(f"{column_info(c).label}: {column_info(c).better}" for c in columns)


def _by_level(ok: pd.DataFrame, level: str, columns, order) -> pd.DataFrame:
    rows = []
    for value in sorted(ok[level].dropna().unique()):
        for reg in order:
            mine = ok[(ok[level] == value) & (ok["regularizer"] == reg)]
            if mine.empty:
                continue
            rows.append({level.replace("_", " "): f"{value:g}", "regularizer": reg,
                         "seeds": len(mine), **{
                             _header(c):
                             stats.format_mean_sd(mine[c].mean(), mine[c].std(ddof=1)
                                                  if len(mine) > 1 else math.nan)
                             for c in columns}})
    return pd.DataFrame(rows)


def _header(column: str) -> str:
    info = column_info(column)
    return f"{info.label} {ARROWS.get(info.direction, '')}"


def _lines(ok: pd.DataFrame, x: str, panels, order, xlabel: str, log: bool = False):
    data = ok.dropna(subset=[x])
    if data.empty or not panels:
        return None
    order = [r for r in order if r in set(data["regularizer"])]
    ncols = min(len(panels), 2)
    nrows = math.ceil(len(panels) / ncols)
    fig = MplFigure(figsize=(4.6 * ncols, 3.3 * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax in axes[len(panels):]:
        ax.remove()
    for ax, column in zip(axes, panels):
        sns.lineplot(data=data, x=x, y=column, hue="regularizer", hue_order=order,
                     palette=figures.palette(order), errorbar="sd", marker="o", ax=ax,
                     legend=ax is axes[0])
        info = column_info(column)
        ax.set(xlabel=xlabel, ylabel=info.label,
               title=f"{info.label} ({ARROWS.get(info.direction, '')})")
        if log:
            ax.set_xscale("log")
        if column == "gc_reliance":
            ax.axhline(0, color="0.6", lw=0.8, ls="--")
    if axes[0].get_legend() is not None:
        axes[0].legend(fontsize=7, frameon=False)
    return fig


# -- tables beside the report ------------------------------------------------------------

def stability_tables(out, experiments, results, shares, order, manifest) -> None:
    """stability's ``tables``: stability.csv and stability_fraction.csv of its
    ``experiments`` (suite.json entries), from the same point folders as its sections."""
    stability.write_suite_stability_csvs(out, manifest, experiments, results, shares, order,
                                         point_folder, TAGS)


def lambda_sweep_tables(out, experiments, results, shares, order, manifest) -> None:
    """lambda_sweep's ``tables``: OUT/lambda_sweep.csv, every one of its ``experiments``'
    runs (experiment, regularizer, λ, seed, metrics), the numbers its figures are drawn
    from."""
    names = [e["name"] for e in experiments]
    frames = [lambda_sweep.sweep_frame(results[results["experiment"] == name]).assign(
        experiment=name) for name in names]
    frame = pd.concat(frames, ignore_index=True)
    atomic_write_csv(frame[["experiment", *frame.columns[:-1]]], Path(out) / lambda_sweep.CSV)


__all__ = ["compare_section", "data_scarcity_section", "gc_sweep_section",
           "lambda_sweep_section", "lambda_sweep_tables", "multi_motif_section",
           "one_folder_per_point", "point_folder", "stability_section", "stability_tables"]
