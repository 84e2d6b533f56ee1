"""The λ-sensitivity experiment's report (suite kind ``lambda_sweep``).

The curves: per penalty regularizer and λ of its grid, every seed's validation loss,
test auROC and interpretability (lambda_sweep.csv, one row per run; every figure is
drawn from that table alone). The verdict compares regularizers at matched accuracy:
per regularizer, the most interpretable λ whose validation correctness loss, mean over
seeds, is no worse than ``none``'s mean plus ``none``'s sd over the same seeds. Its
interpretability is bought for free when that λ's mean also beats ``none``'s by more
than ``none``'s sd of the metric: above the band, not inside it.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import seaborn as sns

from regbench.report import figures, stats

CSV = "lambda_sweep.csv"
# The interpretability metric the verdict maximises: the first with values (motif
# fraction where the data have motif truth, peak-overlap auPRC on genomes).
INTERPRETABILITY = ("motif_fraction", "motif_auprc", "peak_auprc")
PERFORMANCE = ("val_loss", "test_auroc")
COLUMNS = ("regularizer", "lambda", "seed")
RULE = ("A λ is within noise when its mean validation loss over seeds is no worse than "
        "none's mean plus none's sd over the same seeds (sample sd); per regularizer the "
        "verdict takes, of those, the λ with the best mean {metric}. Its interpretability "
        "is bought for free when that mean beats none's by more than none's sd of the "
        "metric (a point above none's band, not inside it).")


def sweep_frame(results: pd.DataFrame) -> pd.DataFrame:
    """One row per finished run (regularizer, λ, seed): validation loss, test auROC and
    the interpretability metrics the data support. ``results``: the suite's wide rows
    of lambda_sweep points; ``none`` appears at every step and is kept once."""
    ok = stats.ok_runs(results)
    metrics = [c for c in (*PERFORMANCE, *INTERPRETABILITY) if c in ok and ok[c].notna().any()]
    frame = ok[[*COLUMNS, *metrics]].drop_duplicates(list(COLUMNS))
    return frame.sort_values(list(COLUMNS), kind="stable").reset_index(drop=True)


def headline(frame: pd.DataFrame) -> str | None:
    """The interpretability column the verdict uses; None without one."""
    return next((c for c in INTERPRETABILITY if c in frame and frame[c].notna().any()), None)


def _oriented(values, direction: str):
    """Bigger is better, whatever the metric's direction."""
    return {"lower": -values, "zero": -np.abs(values)}.get(direction, values)


def matched_accuracy(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per λ-swept regularizer, the most interpretable λ within noise of ``none``.

    frame: lambda_sweep.csv's rows (regularizer, lambda, seed, val_loss, ``metric``);
    ``none`` must be in it. Returns one row per regularizer: lambda (NaN when no λ is
    within noise), its mean val_loss and ``metric``, their difference from none's, the
    λ values tried and how many were within noise, and ``free``: whether that λ is
    also more interpretable than none by more than none's sd of ``metric`` over seeds
    (interpretability bought for free). One seed of none: sd 0 (no noise estimate)."""
    direction = stats.metric_info(metric).direction
    base = frame[frame["regularizer"] == stats.BASELINE]
    loss = base["val_loss"].dropna()
    noise, threshold = _sd(loss), loss.mean() + _sd(loss)
    reference, spread = base[metric].mean(), _sd(base[metric].dropna())
    means = (frame[frame["regularizer"] != stats.BASELINE]
             .groupby(["regularizer", "lambda"], sort=False)[["val_loss", metric]].mean()
             .reset_index())
    rows = []
    for reg, curve in means.groupby("regularizer", sort=False):
        within = curve[curve["val_loss"] <= threshold].dropna(subset=[metric])
        row = {"regularizer": reg, "lambdas": len(curve), "within_noise": len(within),
               "lambda": math.nan, "val_loss": math.nan, metric: math.nan,
               "loss_vs_none": math.nan, "gain_vs_none": math.nan, "free": False}
        if not within.empty:
            best = within.loc[_oriented(within[metric], direction).idxmax()]
            gain = float(_oriented(best[metric], direction) - _oriented(reference, direction))
            row.update({"lambda": best["lambda"], "val_loss": best["val_loss"],
                        metric: best[metric], "loss_vs_none": best["val_loss"] - loss.mean(),
                        "gain_vs_none": gain, "free": bool(gain > spread)})
        rows.append(row)
    chosen = pd.DataFrame(rows)
    chosen.attrs.update(threshold=threshold, none_loss=loss.mean(), noise=noise,
                        none_metric=reference, metric_noise=spread, seeds=len(loss))
    return chosen.sort_values("gain_vs_none", ascending=False, na_position="last",
                              kind="stable").reset_index(drop=True)


def _sd(values: pd.Series) -> float:
    """Sample sd over seeds; 0 for one seed (no noise estimate)."""
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0


def verdict_sentences(chosen: pd.DataFrame, metric: str) -> list[str]:
    """One line per regularizer: bought for free, no gain at matched accuracy, or no λ
    within noise."""
    label = stats.metric_info(metric).label
    lines = []
    for row in chosen.to_dict("records"):
        reg, lam, tried = row["regularizer"], row["lambda"], row["lambdas"]
        if math.isnan(lam):
            lines.append(f"{reg}: no λ of the {tried} tried is within noise of none's "
                         "validation loss.")
        elif row["free"]:
            lines.append(f"{reg}: interpretability bought for free at λ = {lam:.3g} ({label} "
                         f"{row[metric]:.3g}, {row['gain_vs_none']:+.3g} over none; "
                         f"{row['within_noise']} of {tried} λ within noise).")
        else:
            lines.append(f"{reg}: no gain beyond none's noise at matched accuracy (best λ "
                         f"within noise {lam:.3g}: {label} {row[metric]:.3g}, "
                         f"{row['gain_vs_none']:+.3g} against none).")
    return lines


def verdict_table(chosen: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The matched-accuracy choice as the report shows it."""
    label = stats.metric_info(metric).label
    lam = chosen["lambda"]
    return pd.DataFrame({
        "regularizer": chosen["regularizer"],
        "λ at matched accuracy": [f"{v:.3g}" if not math.isnan(v) else "none within noise"
                                  for v in lam],
        "λ within noise": [f"{w} of {n}" for w, n in zip(chosen["within_noise"],
                                                         chosen["lambdas"])],
        "validation loss − none": chosen["loss_vs_none"].map(_signed),
        label: chosen[metric].map(lambda v: "–" if math.isnan(v) else f"{v:.3g}"),
        "gain over none": chosen["gain_vs_none"].map(_signed),
        "for free": np.where(chosen["free"], "yes", "no")})


def _signed(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:+.3g}"


def curves_table(frame: pd.DataFrame, order) -> pd.DataFrame:
    """Per regularizer and λ: seeds and mean ± sd of every metric of ``frame``."""
    metrics = [c for c in frame if c not in COLUMNS]
    rows = []
    for reg in [r for r in order if r in set(frame["regularizer"])]:
        for lam, part in frame[frame["regularizer"] == reg].groupby("lambda"):
            rows.append({"regularizer": reg, "λ": f"{lam:.3g}" if reg != stats.BASELINE
                         else "–", "seeds": len(part), **{
                             stats.metric_info(c).label: stats.format_mean_sd(
                                 part[c].mean(), part[c].std(ddof=1) if len(part) > 1
                                 else math.nan) for c in metrics}})
    return pd.DataFrame(rows)


def lambda_curves(frame: pd.DataFrame, metric: str, order, chosen: pd.DataFrame | None = None):
    """One panel per λ-swept regularizer: ``metric`` against λ (log axis), mean ± sd
    over seeds; ``none`` as a grey band (mean ± sd over its seeds); the λ chosen at
    matched accuracy as a dotted line. None without data."""
    swept = [r for r in order if r != stats.BASELINE and r in set(frame["regularizer"])]
    data = frame.dropna(subset=[metric])
    if not swept or data.empty:
        return None
    base = data.loc[data["regularizer"] == stats.BASELINE, metric]
    pal = figures.palette([stats.BASELINE, *swept])
    info = stats.metric_info(metric)
    picked = {} if chosen is None else dict(zip(chosen["regularizer"], chosen["lambda"]))
    fig, axes = figures._grid(len(swept), ncols=4)
    for ax, reg in zip(axes, swept):
        if len(base):
            sd = base.std(ddof=1) if len(base) > 1 else 0.0
            ax.axhspan(base.mean() - sd, base.mean() + sd, color=pal[stats.BASELINE],
                       alpha=0.2, lw=0, label="none (mean ± sd)")
            ax.axhline(base.mean(), color=pal[stats.BASELINE], lw=0.8, ls="--")
        mine = data[data["regularizer"] == reg]
        sns.lineplot(data=mine, x="lambda", y=metric, errorbar="sd", marker="o",
                     color=pal[reg], ax=ax, label=reg)
        if not math.isnan(picked.get(reg, math.nan)):
            ax.axvline(picked[reg], color="black", lw=0.8, ls=":",
                       label="chosen at matched accuracy")
        ax.set_xscale("log")
        ax.set(xlabel="λ (log scale)", ylabel=info.label, title=reg)
        if ax is axes[0]:
            ax.legend(fontsize=6, frameon=False)
        elif ax.get_legend() is not None:
            ax.get_legend().remove()
    return fig


__all__ = ["CSV", "curves_table", "headline", "lambda_curves", "matched_accuracy",
           "sweep_frame", "verdict_sentences", "verdict_table"]
