"""The report's figures: one function per figure, each returning a matplotlib Figure.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot), so nothing needs a
display and nothing accumulates in pyplot's global state. A function returns ``None``
when its data are missing, so the caller can simply skip that figure.
"""
from __future__ import annotations

import math
import textwrap
import warnings

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import MatplotlibDeprecationWarning
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import PathPatch
from matplotlib.textpath import TextPath
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Affine2D

from regbench.report.stats import BASELINE, metric_info

PANEL = (3.4, 2.7)  # inches per subplot
BASES = "ACGT"
BASE_COLOURS = {"A": "#109648", "C": "#255c99", "G": "#f7b32b", "T": "#d62839"}


def palette(order) -> dict[str, tuple]:
    """One stable colour per regularizer; the baseline is grey."""
    others = [r for r in order if r != BASELINE]
    colours = sns.color_palette("tab10" if len(others) <= 10 else "husl", len(others))
    pal = dict(zip(others, colours))
    if BASELINE in order:
        pal[BASELINE] = (0.45, 0.45, 0.45)
    return pal


def axes_grid(n: int, ncols: int = 3, size=PANEL):
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax in axes[n:]:
        ax.remove()
    return fig, axes[:n]


def _pareto(means: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Means not beaten on both x and y (both higher-is-better)."""
    pts = means.sort_values([x, y], ascending=False)
    return pts[pts[y] > pts[y].cummax().shift(fill_value=-np.inf)]


def performance_vs_interpretability(ok: pd.DataFrame, order, x: str, y: str):
    """One point per seed, a cross per regularizer mean, the Pareto front of the means."""
    data = ok.dropna(subset=[x, y])
    if data.empty:
        return None
    order = [r for r in order if r in set(data["regularizer"])]
    pal = palette(order)
    fig = Figure(figsize=(5.6, 4.0), layout="constrained")
    ax = fig.subplots()
    sns.scatterplot(data=data, x=x, y=y, hue="regularizer", hue_order=order,
                    palette=pal, alpha=0.6, s=30, ax=ax)
    means = data.groupby("regularizer")[[x, y]].mean().reindex(order)
    ax.scatter(means[x], means[y], c=[pal[r] for r in order], marker="X", s=140,
               edgecolor="black", linewidth=0.8, zorder=3)
    ax.scatter([], [], c="white", marker="X", s=80, edgecolor="black",
               label="mean over seeds")  # neutral legend entry for the coloured crosses
    front = _pareto(means, x, y)
    ax.plot(front[x], front[y], "k--", lw=0.8, zorder=2, label="Pareto front of means")
    ax.set(xlabel=metric_info(x).label + " (higher is better)",
           ylabel=metric_info(y).label + " (higher is better)",
           title="Performance vs interpretability (one point per seed)")
    ax.legend(fontsize=7, loc="best", frameon=False)
    return fig


def _tick_labels(order, notes: dict, metric: str) -> list[str]:
    """Each regularizer's name, with its note vs none under it (``inference.tick_notes``:
    the primary endpoint's q and mark, else the 95% interval of the difference)."""
    labels = []
    for reg in order:
        note = notes.get((reg, metric))
        labels.append(reg if note is None else f"{reg}\n{note}")
    return labels


def _box(ax, data, metric, order, pal, points):
    sns.boxplot(data=data, x="regularizer", y=metric, order=order, hue="regularizer",
                hue_order=order, palette=pal, legend=False, showfliers=not points,
                width=0.6, boxprops={"alpha": 0.55}, ax=ax)


def _distribution_panel(ax, data, metric, order, pal, notes, points=True):
    with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib's deprecated `vert`
        warnings.simplefilter("ignore", MatplotlibDeprecationWarning)
        _box(ax, data, metric, order, pal, points)
    if points:
        sns.stripplot(data=data, x="regularizer", y=metric, order=order, color="black",
                      size=3.5, jitter=0.15, ax=ax)
    info = metric_info(metric)
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels(_tick_labels(order, notes, metric), fontsize=7,
                       rotation=30 if max(map(len, order)) > 8 else 0)
    ax.set(xlabel="", ylabel=info.label)
    ax.set_title(f"{metric}\n" + textwrap.fill(f"({info.better})", 45), fontsize=8)


def metric_distributions(ok: pd.DataFrame, metrics, order, notes: dict, title: str):
    """Box + points per regularizer for each metric; under each name its note vs none
    (the primary endpoint's q, else the 95% interval of the paired difference)."""
    metrics = [m for m in metrics if ok[m].notna().any()]
    if not metrics:
        return None
    fig, axes = axes_grid(len(metrics))
    for ax, metric in zip(axes, metrics):
        _distribution_panel(ax, ok, metric, order, palette(order), notes)
    compared = any(metric == m for _, m in notes for metric in metrics)
    fig.suptitle(title + (" (one point per seed; under each name: vs none, the 95% interval "
                          "of the difference, or q of the primary endpoint's paired t-test, "
                          "Benjamini-Hochberg)" if compared
                          else " (one point per seed; not compared)"), fontsize=10)
    return fig


def sequence_distributions(per_seq: pd.DataFrame, metrics, order, notes: dict,
                           title: str):
    """Box per regularizer of per-sequence metrics; under each name the hierarchical
    bootstrap's 95% interval of the difference from none."""
    metrics = [m for m in metrics if m in per_seq and per_seq[m].notna().any()]
    order = [r for r in order if r in set(per_seq["regularizer"])]
    if not metrics or not order:
        return None
    fig, axes = axes_grid(len(metrics))
    for ax, metric in zip(axes, metrics):
        _distribution_panel(ax, per_seq, metric, order, palette(order), notes,
                            points=False)
    fig.suptitle(title + " (one value per sequence; under each name: the 95% interval of "
                 "the difference from none, hierarchical bootstrap over seeds, then "
                 "sequences)", fontsize=10)
    return fig


def training_curves(history: pd.DataFrame, order):
    """Validation correctness loss per epoch, mean over seeds with a ±sd band."""
    data = history.dropna(subset=["val_loss"])
    order = [r for r in order if r in set(data["regularizer"])]
    if data.empty or not order:
        return None
    fig = Figure(figsize=(5.6, 3.6), layout="constrained")
    ax = fig.subplots()
    sns.lineplot(data=data, x="epoch", y="val_loss", hue="regularizer", hue_order=order,
                 palette=palette(order), errorbar="sd", ax=ax)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="epoch", ylabel="validation loss (nats)",
           title="Validation correctness loss (mean ± sd over seeds)")
    ax.legend(fontsize=7, frameon=False)
    return fig


def cost_vs_gain(table: pd.DataFrame):
    """Gain over none (the lead performance and interpretability metrics) against the
    step-time ratio to none, one labelled point per regularizer. table:
    ``sections.cost_frame``."""
    gains = [c for c in table if c.endswith(" gain")]
    if not gains or (table["× none (time)"] == "–").all():
        return None
    x = pd.to_numeric(table["× none (time)"], errors="coerce")
    order = list(table["regularizer"])
    pal = palette(order)
    fig = Figure(figsize=(4.2 * len(gains), 3.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(gains)))
    for ax, column in zip(axes, gains):
        y = pd.to_numeric(table[column], errors="coerce")
        for reg, xi, yi in zip(order, x, y):
            if np.isfinite(xi) and np.isfinite(yi):
                ax.scatter([xi], [yi], color=pal[reg], s=40)
                ax.annotate(reg, (xi, yi), fontsize=7, xytext=(4, 3),
                            textcoords="offset points")
        ax.axhline(0, color="0.6", lw=0.8, ls="--")
        ax.axvline(1, color="0.6", lw=0.8, ls="--")
        ax.set(xlabel="step time / none's (×)", ylabel=f"{column} over none",
               title=f"{column} vs cost")
    return fig


def lambda_search(search: pd.DataFrame, order, chosen: dict):
    """Objective vs λ per regularizer, the chosen λ as a dashed line."""
    data = search[np.isfinite(search["value"]) & (search["lambda"] > 0)]
    regs = [r for r in order if r in set(data["regularizer"])]
    regs += sorted(set(data["regularizer"]) - set(regs))
    if not regs:
        return None
    fig, axes = axes_grid(len(regs))
    hue = "state" if "state" in data else None
    states = sorted(data[hue].astype(str).unique()) if hue else None
    for ax, reg in zip(axes, regs):
        sub = data[data["regularizer"] == reg]
        sns.scatterplot(data=sub, x="lambda", y="value", hue=hue, hue_order=states,
                        s=25, ax=ax, legend=ax is axes[0] and hue is not None)
        if chosen.get(reg) is not None and chosen[reg] > 0:
            ax.axvline(chosen[reg], color="black", ls="--", lw=1, label="chosen λ")
        ax.set_xscale("log")
        ax.set(xlabel="λ (log scale)", ylabel="validation loss (nats)", title=reg)
    if hue is not None:
        axes[0].legend(fontsize=6, frameon=False)
    fig.suptitle("λ search: objective per trial (lower is better; dashed = chosen λ)",
                 fontsize=10)
    return fig


def pareto_search(trials: pd.DataFrame, order):
    """Validation loss vs motif auPRC of every λ trial, the Pareto front joined."""
    data = trials[np.isfinite(trials["val_loss"]) & np.isfinite(trials["motif_auprc"])]
    regs = [r for r in order if r in set(data["regularizer"])]
    regs += sorted(set(data["regularizer"]) - set(regs))
    if not regs:
        return None
    fig, axes = axes_grid(len(regs))
    for ax, reg in zip(axes, regs):
        sub = data[data["regularizer"] == reg]
        points = ax.scatter(sub["val_loss"], sub["motif_auprc"], c=np.log10(sub["lambda"]),
                            cmap="viridis", s=25)
        front = sub[sub["on_front"].astype(bool)].sort_values("val_loss")
        ax.plot(front["val_loss"], front["motif_auprc"], color="black", lw=1, ls="--",
                label="Pareto front")
        if "chosen" in sub and sub["chosen"].astype(bool).any():
            pick = sub[sub["chosen"].astype(bool)]
            ax.scatter(pick["val_loss"], pick["motif_auprc"], marker="X", s=120,
                       facecolor="none", edgecolor="red", label="chosen λ")
        fig.colorbar(points, ax=ax, label="log10 λ")
        ax.set(xlabel="val. loss, nats (lower better)",
               ylabel="val. motif auPRC (higher better)", title=reg)
        ax.legend(fontsize=6, frameon=False)
    fig.suptitle("λ search (two objectives): trials and Pareto front", fontsize=10)
    return fig


# --- attribution logos -----------------------------------------------------------

_LETTERS: dict[str, TextPath] = {}


def _letter_path(base: str) -> TextPath:
    if base not in _LETTERS:
        _LETTERS[base] = TextPath((0, 0), base, size=1,
                                  prop=FontProperties(family="DejaVu Sans", weight="bold"))
    return _LETTERS[base]


def _draw_letter(ax, base: str, x: float, height: float) -> None:
    """Letter stretched to fill [x, x+1] horizontally and [0, height] vertically."""
    path = _letter_path(base)
    ext = path.get_extents()
    bottom = min(0.0, height)
    transform = (Affine2D().translate(-ext.x0, -ext.y0)
                 .scale(0.95 / ext.width, abs(height) / ext.height)
                 .translate(x + 0.025, bottom))
    ax.add_patch(PathPatch(transform.transform_path(path), color=BASE_COLOURS[base],
                           lw=0))


def motif_window(mask: np.ndarray, width: int) -> tuple[int, int, tuple[int, int] | None]:
    """Window of ``width`` bp centred on the first motif instance of a (L,) mask."""
    length = len(mask)
    hits = np.flatnonzero(mask)
    if len(hits) == 0:
        span, centre = None, length // 2
    else:
        start = hits[0]
        end = start + np.argmin(np.append(mask[start:], False))  # end of that run
        span, centre = (int(start), int(end)), (start + end) // 2
    lo = int(max(0, min(centre - width // 2, length - width)))
    return lo, min(length, lo + width), span


def _pick_example(examples: dict, order) -> tuple[str | None, int]:
    """Name (or index) of the first example with a motif, in the first regularizer."""
    first = examples[order[0]]
    has_motif = np.flatnonzero(first["motif_mask"].any(axis=1))
    k = int(has_motif[0]) if len(has_motif) else 0
    names = first.get("names")
    return (str(names[k]) if names is not None else None), k


def _example_index(arrays: dict, name: str | None, default: int) -> int:
    names = arrays.get("names")
    if name is not None and names is not None:
        where = np.flatnonzero(names.astype(str) == name)
        if len(where):
            return int(where[0])
    return min(default, len(arrays["X"]) - 1)


def attribution_tracks(examples: dict, order, width: int = 60):
    """Logo of the attribution at the observed base, one row per regularizer.

    examples: name -> {"X": (K, 4, L), "attr": (K, 4, L), "motif_mask": (K, L)}.
    """
    order = [r for r in order if r in examples] + sorted(set(examples) - set(order))
    if not order:
        return None
    name, k0 = _pick_example(examples, order)
    fig = Figure(figsize=(7.5, 1.5 * len(order) + 0.5), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(order), 1, squeeze=False)).ravel()
    for ax, reg in zip(axes, order):
        arrays = examples[reg]
        k = _example_index(arrays, name, k0)
        lo, hi, span = motif_window(arrays["motif_mask"][k].astype(bool), width)
        x, attr = arrays["X"][k][:, lo:hi], arrays["attr"][k][:, lo:hi]
        heights = (x * attr).sum(axis=0)
        for i in range(hi - lo):
            if x[:, i].any():
                _draw_letter(ax, BASES[int(np.argmax(x[:, i]))], lo + i, float(heights[i]))
        if span is not None:
            ax.axvspan(span[0], span[1], color="gold", alpha=0.2, lw=0)
        top = max(float(np.abs(heights).max()), 1e-12) * 1.1
        ax.set(xlim=(lo, hi), ylim=(min(0.0, heights.min() * 1.1), top),
               ylabel="attribution",
               title=reg if span is not None else f"{reg} (no motif in this sequence)")
        ax.axhline(0, color="black", lw=0.5)
        ax.title.set_fontsize(9)
    axes[-1].set_xlabel("position in sequence (bp); shaded: first motif instance")
    label = f" '{name}'" if name is not None else ""
    fig.suptitle(f"DeepLIFT/SHAP attribution at the observed base, sequence{label} "
                 "(seed-0 model)", fontsize=10)
    return fig
