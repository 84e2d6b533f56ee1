"""The verdict as a figure: a forest plot of each regularizer's paired difference from
none, one panel per verdict metric (the primary endpoint, the performance metric).

``verdict_figure(rows)`` takes the verdict rows (``api.Results.verdict``: statistics.csv's
"primary" and "non-inferiority" rows) and returns a matplotlib Figure, or None when
there is nothing to draw (no none, or no verdict metric).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from regbench.report.stats import STAR, WORSE, metric_info
from regbench.store.runs import METHOD_LABELS

MARKS = {"yes": STAR, "worse": WORSE}


def _label(row) -> str:
    """'DeepLIFT/SHAP motif fraction' style: the method's name, the metric's words."""
    label = metric_info(row.metric).label
    if isinstance(row.method, str) and row.method:
        return f"{METHOD_LABELS.get(row.method, row.method)} {label}"
    return label


def verdict_figure(rows: pd.DataFrame):
    """rows: one per (regularizer, verdict metric) with mean_difference, ci_low,
    ci_high, role, better (primary: yes / worse / no) and margin (performance).
    Regularizers top to bottom in the rows' order; none is the zero line; a
    performance panel shades what the margin allows."""
    if rows.empty:
        return None
    panels = sorted(dict.fromkeys(zip(rows["role"], rows["metric"], rows["method"].fillna(""))),
                    key=lambda panel: panel[0] != "primary")   # the primary endpoint first
    order = list(dict.fromkeys(rows["regularizer"]))
    fig = Figure(figsize=(4.2 * len(panels), 0.45 * len(order) + 1.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True, squeeze=False)).ravel()
    y = {reg: i for i, reg in enumerate(reversed(order))}
    for ax, (role, metric, method) in zip(axes, panels):
        part = rows[(rows["role"] == role) & (rows["metric"] == metric)
                    & (rows["method"].fillna("") == method)]
        for row in part.itertuples():
            low, high = float(row.ci_low), float(row.ci_high)
            ax.plot([low, high], [y[row.regularizer]] * 2, color="0.35", lw=1.5)
            ax.plot(float(row.mean_difference), y[row.regularizer], "o", color="black")
            mark = MARKS.get(getattr(row, "better", ""), "")
            if mark:
                ax.annotate(mark, (high, y[row.regularizer]), xytext=(4, -4),
                            textcoords="offset points", fontsize=11)
        ax.axvline(0, color="0.6", ls="--", lw=1)   # none
        margin = part["margin"].dropna() if "margin" in part else pd.Series(dtype=float)
        if role == "non-inferiority" and len(margin):
            direction = metric_info(metric).direction
            bound = -float(margin.iloc[0]) if direction == "higher" else float(margin.iloc[0])
            ax.axvline(bound, color="tab:red", lw=0.8, ls=":")
        first = part.iloc[0]
        ax.set_title(("primary: " if role == "primary" else "performance: ") + _label(first),
                     fontsize=9)
        ax.set_xlabel("difference from none (95% interval)", fontsize=8)
        ax.margins(x=0.15)                               # room for the marks
        ax.xaxis.set_major_locator(MaxNLocator(5))       # tick labels that do not collide
    axes[0].set_yticks(list(y.values()), list(y.keys()))
    axes[0].set_ylim(-0.7, len(order) - 0.3)
    return fig


__all__ = ["verdict_figure"]
