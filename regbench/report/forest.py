"""The verdict as a figure: a forest plot of each regularizer's paired difference from
none with its 95 % interval, one panel per verdict metric (the primary endpoint, then
the performance metric held non-inferior); none is the zero line.

``verdict_figure(rows)`` takes the verdict rows (statistics.csv's "primary" and
"non-inferiority" rows: ``api.Results.verdict``, or ``verdict_rows`` in the report) and
returns a matplotlib Figure, or None when there is nothing to draw (no none, or no
verdict metric). The marks are the table's: ★ significantly better, ▼ significantly
worse (the primary endpoint's Benjamini-Hochberg q), † a comparison resting on a model
that did not converge; a hollow point is a performance not shown non-inferior.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from regbench.endpoints import Endpoint
from regbench.report import inference
from regbench.report.inference import DAGGER, NON_INFERIORITY, PRIMARY
from regbench.report.numbers import is_zero, plain
from regbench.report.stats import ALPHA, STAR, WORSE, metric_info
from regbench.store.record import TEST_PREFIX
from regbench.store.runs import METHOD_LABELS

MARKS = {"yes": STAR, "worse": WORSE}
COLOURS = {"yes": "#1a7f37", "worse": "#c62828"}   # ★ green, ▼ red; the rest dark grey
PLAIN = "#333333"


def verdict_rows(statistics: pd.DataFrame, order) -> pd.DataFrame:
    """The seed-level primary and non-inferiority rows of the statistics table, the
    regularizers in ``order`` (the report's)."""
    if statistics is None or statistics.empty:
        return pd.DataFrame()
    rows = statistics[statistics["role"].isin([PRIMARY, NON_INFERIORITY])
                      & statistics["test"].isin(inference.SEED_TESTS)]
    rank = {reg: i for i, reg in enumerate(order)}
    return rows.sort_values("regularizer", key=lambda s: s.map(rank), kind="stable")


def _label(row) -> str:
    """'DeepLIFT/SHAP motif fraction' style: the method's name, the metric's words."""
    label = metric_info(row.metric).label
    if isinstance(row.method, str) and row.method:
        return f"{METHOD_LABELS.get(row.method, row.method)} {label}"
    return label


def _field(row, name: str, default=""):
    """A row's field, or ``default`` where the rows do not carry it (the API's verdict
    has no unconverged, test or non_inferior column)."""
    value = getattr(row, name, default)
    return default if value is None or (isinstance(value, float) and math.isnan(value)) \
        else value


def _mark(row) -> str:
    """'★', '▼' or '†' (a model did not converge: no ★ or ▼), else ''."""
    if inference.marked(_field(row, "unconverged")):
        return DAGGER
    return MARKS.get(_field(row, "better"), "")


def _point(ax, y: float, row, scale: float) -> None:
    """One regularizer: its mean difference and 95 % interval, coloured by its mark,
    hollow where the performance is not shown non-inferior, its mark beside it."""
    mean, low, high = (0.0 if is_zero(float(v), scale) else float(v)
                       for v in (row.mean_difference, row.ci_low, row.ci_high))
    mark = _mark(row)
    colour = COLOURS.get(_field(row, "better"), PLAIN) if mark != DAGGER else PLAIN
    hollow = row.role == NON_INFERIORITY and _field(row, "non_inferior") == "no"
    if math.isfinite(low) and math.isfinite(high):
        ax.hlines(y, low, high, color=colour, lw=2)
    ax.plot(mean, y, "o", ms=7, color=colour, mfc="white" if hollow else colour, mew=1.5,
            zorder=3)
    end = high if math.isfinite(high) else mean
    if mark:
        ax.annotate(mark, (end, y), xytext=(5, 0), textcoords="offset points",
                    va="center", fontsize=11, color=colour)
    elif mean == low == high == 0:
        ax.annotate("identical to none", (end, y), xytext=(8, 0),
                    textcoords="offset points", va="center", fontsize=8, color="#555555")


def _margin(part: pd.DataFrame, metric: str) -> float | None:
    """Where the performance metric's margin lies: -margin when higher is better."""
    margin = part["margin"].dropna() if "margin" in part else pd.Series(dtype=float)
    if not len(margin):
        return None
    return (-float(margin.iloc[0]) if metric_info(metric).direction == "higher"
            else float(margin.iloc[0]))


def _panel(ax, part: pd.DataFrame, y: dict, scale: float) -> None:
    """One panel: a row per regularizer, none's dashed zero line, the margin dotted."""
    first = part.iloc[0]
    for row in part.itertuples():
        _point(ax, y[row.regularizer], row, scale)
    ax.axvline(0, color="0.45", ls="--", lw=1.2)   # none
    bound = _margin(part, first["metric"]) if first["role"] == NON_INFERIORITY else None
    if bound is not None:
        ax.axvline(bound, color="tab:red", lw=1, ls=":")
    info = metric_info(first["metric"])
    way = "better →" if info.direction == "higher" else "← better"
    ax.set_title(("primary: " if first["role"] == PRIMARY else "performance: ")
                 + _label(first), fontsize=10)
    ax.set_xlabel(f"difference from none, the dashed line ({way})", fontsize=9)
    ax.margins(x=0.18)                               # room for the marks
    ax.xaxis.set_major_locator(MaxNLocator(5))       # tick labels that do not collide
    ax.xaxis.set_major_formatter(FuncFormatter(      # plain decimals, never 1e-05
        lambda v, _: plain(v, 2, scale=float(np.ptp(ax.get_xlim())) or 1.0)))
    ax.grid(axis="x", color="#eeeeee")


def _tick(reg: str, rows: pd.DataFrame) -> str:
    """A regularizer's name, '(unpaired)' where its seeds did not pair."""
    tests = rows.loc[rows["regularizer"] == reg, "test"] if "test" in rows else []
    return f"{reg} (unpaired)" if any(t == "welch_t" for t in tests) else reg


def verdict_figure(rows: pd.DataFrame, scales: dict | None = None):
    """rows: one per (regularizer, verdict metric) with metric, method, role,
    mean_difference, ci_low, ci_high, better (primary: yes / worse / no), margin and
    non_inferior (performance), and where present unconverged and test. Regularizers
    top to bottom in the rows' order; none is the zero line; the performance panel
    shows the margin. ``scales``: metric -> size of its values, what a difference is 0
    relative to (1 where not given)."""
    if rows.empty:
        return None
    panels = sorted(dict.fromkeys(zip(rows["role"], rows["metric"], rows["method"].fillna(""))),
                    key=lambda panel: panel[0] != PRIMARY)   # the primary endpoint first
    order = list(dict.fromkeys(rows["regularizer"]))
    fig = Figure(figsize=(min(5.5 * len(panels), 11), 0.36 * len(order) + 1.5),
                 layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True, squeeze=False)).ravel()
    y = {reg: i for i, reg in enumerate(reversed(order))}   # the first on top
    for ax, (role, metric, method) in zip(axes, panels):
        part = rows[(rows["role"] == role) & (rows["metric"] == metric)
                    & (rows["method"].fillna("") == method)]
        _panel(ax, part, y, (scales or {}).get(metric, 1.0))
    axes[0].set_yticks(list(y.values()), [_tick(r, rows) for r in y])
    axes[0].set_ylim(-0.7, len(order) - 0.3)
    return fig


def caption(endpoint: Endpoint) -> str:
    """What the report's figure shows and how to read its marks."""
    primary = metric_info(endpoint.metric)
    performance = metric_info(TEST_PREFIX + endpoint.performance)
    return (f"Each regularizer against none: the mean paired difference (regularizer − "
            f"none, same seed) with its 95% interval; the dashed line at 0 is none. "
            f"Left: the primary endpoint, {primary.label}: {primary.better}; {STAR} "
            f"significantly better than none, {WORSE} significantly worse "
            f"(Benjamini-Hochberg q <= {ALPHA}), {DAGGER} rests on a model that did not "
            f"converge (no {STAR} or {WORSE}). Right: {performance.label}: "
            f"{performance.better}; the dotted line is the non-inferiority margin "
            f"({endpoint.margin:g}), and a hollow point is not shown non-inferior.")


def missing_note(endpoint: Endpoint | None) -> str:
    """Why the report has no verdict figure."""
    if endpoint is None:
        return ("No verdict figure: these data hold no ground truth (motif or peak "
                "positions) to score attributions against, so there is no primary "
                "endpoint to plot; the table below shows intervals only.")
    return ("No verdict figure: a difference from none needs at least 2 finished seeds "
            "of a regularizer and of none; this run has fewer.")


__all__ = ["caption", "missing_note", "verdict_figure", "verdict_rows"]
