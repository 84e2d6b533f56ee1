"""The λ-sensitivity experiment's report (suite kind ``lambda_sweep``).

The curves: per penalty regularizer and λ of its grid, every seed's validation loss,
test auROC and interpretability (lambda_sweep.csv, one row per run; every figure is
drawn from that table alone). The verdict compares regularizers at matched accuracy:
per regularizer, the most interpretable λ whose validation correctness loss, mean over
seeds, is no worse than ``none``'s mean plus ``none``'s sd over the same seeds. Its
interpretability is bought for free when that λ's mean also beats ``none``'s by more
than ``none``'s sd of the metric: above the band, not inside it.

Also the constrained protocol's λ selection as the run report draws it (``selection_*``,
from lambda_search.csv's selection rows and config.json's lambda_reference["selection"]):
every selection seed's point per λ, the mean ± the pooled SE the rule uses, none's
seeds, the margin, the chosen λ.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from regbench.report import figures, stats
from regbench.tune.selection import RULE as SELECTION_RULE
from regbench.tune.selection import pooled_se

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


def oriented_values(values, direction: str):
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
            best = within.loc[oriented_values(within[metric], direction).idxmax()]
            gain = float(oriented_values(best[metric], direction) - oriented_values(reference, direction))
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
    fig, axes = figures.axes_grid(len(swept), ncols=4)
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


# --- the constrained protocol's λ selection (lambda_search.csv of selection studies) ---

SEEDWISE = ("seeds", "endpoint", "performance")   # "; "-joined, one value per seed
POINT_COLUMNS = ["regularizer", "lambda", "seed", "endpoint", "performance", "difference",
                 "feasible", "chosen"]
CURVE_COLUMNS = ["regularizer", "lambda", "seeds", "endpoint_mean", "se", "difference",
                 "feasible", "within_one_se", "chosen"]


def _values(cell) -> list[float]:
    """A "; "-joined cell of lambda_search.csv ("0.5; 0.61") as floats; empty: []."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return []
    return [float(v) for v in str(cell).split(";") if v.strip()]


def _flag(cell) -> bool:
    """A bool column of lambda_search.csv (NaN where another protocol's rows merged in)."""
    return str(cell).strip().lower() in ("true", "1", "1.0")


def selection_rows(search: pd.DataFrame | None) -> pd.DataFrame:
    """The rows of the regularizers whose λ a selection study chose (the constrained
    protocol since issue 40: per-seed endpoint values); empty for loss, pareto and older
    constrained searches."""
    if search is None or "endpoint" not in search:
        return pd.DataFrame(columns=["regularizer", "lambda"])
    scored = search["endpoint"].map(lambda cell: bool(_values(cell)))
    return search[search["regularizer"].isin(set(search.loc[scored, "regularizer"]))]


def selection_points(search: pd.DataFrame, reference: dict | None) -> pd.DataFrame:
    """One row per selection seed of every λ scored on all of them (POINT_COLUMNS):
    its validation endpoint and performance, ``difference`` = performance minus none's
    on the same seed, oriented so that negative is worse (NaN where config.json does not
    record none's), and the λ's ``feasible`` and ``chosen`` as the rule recorded them.
    none's seeds follow as regularizer "none", λ NaN, difference 0. reference:
    config.json's lambda_reference["selection"] (seeds, endpoint, none), or None."""
    reference = reference or {}
    endpoint = reference.get("endpoint") or {}
    sign = -1.0 if endpoint.get("performance_direction") == "lower" else 1.0
    none = reference.get("none") or {}
    none_seeds = [int(s) for s in reference.get("seeds") or []]
    none_performance = dict(zip(none_seeds, none.get("performance") or []))
    rows = []
    scored = selection_rows(search)
    if "state" in scored:   # a λ retried after its trial failed: the completed trial
        scored = scored.assign(_done=scored["state"].astype(str).str.lower() != "complete")
        scored = scored.sort_values("_done", kind="stable")
    for row in scored.drop_duplicates(["regularizer", "lambda"]).to_dict("records"):
        seeds, values, performance = (_values(row.get(c)) for c in SEEDWISE)
        if not values or len(performance) != len(values):
            continue
        seeds = [int(s) for s in seeds] if len(seeds) == len(values) else list(
            range(len(values)))
        for seed, value, perf in zip(seeds, values, performance):
            base = none_performance.get(seed, math.nan)
            rows.append([row["regularizer"], float(row["lambda"]), seed, value, perf,
                         sign * (perf - base), _flag(row.get("feasible")),
                         _flag(row.get("chosen"))])
    for seed, value, perf in zip(none_seeds, none.get("endpoint") or [],
                                 none.get("performance") or []):
        rows.append([stats.BASELINE, math.nan, seed, value, perf, 0.0, True, False])
    frame = pd.DataFrame(rows, columns=POINT_COLUMNS)
    return frame.sort_values(["regularizer", "lambda", "seed"], kind="stable",
                             ignore_index=True)


def selection_curve(points: pd.DataFrame, search: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per regularizer and λ (CURVE_COLUMNS): seeds, mean endpoint, ``se`` (one λ's SE
    with the seed sd pooled over the regularizer's feasible λ,
    ``tune.selection.pooled_se``: the SE the one-standard-error rule used), mean
    performance difference (the row's performance_difference where none's seeds are not
    recorded), feasible, within_one_se (both from ``search``, lambda_search.csv),
    chosen."""
    recorded = {} if search is None else {
        (row["regularizer"], float(row["lambda"])): row for row in search.to_dict("records")}
    rows = []
    for reg, mine in points[points["regularizer"] != stats.BASELINE].groupby(
            "regularizer", sort=False):
        parts = list(mine.groupby("lambda", sort=True))
        se = pooled_se([part["endpoint"].to_numpy(float) for _, part in parts
                        if bool(part["feasible"].iloc[0])])   # the λ the rule compares
        for lam, part in parts:
            row = recorded.get((reg, float(lam)), {})
            difference = part["difference"].mean()   # none's not recorded: the rule's own
            if math.isnan(difference):
                difference = float(row.get("performance_difference", math.nan))
            rows.append([reg, float(lam), len(part), float(part["endpoint"].mean()), se,
                         float(difference), bool(part["feasible"].iloc[0]),
                         _flag(row.get("within_one_se")), bool(part["chosen"].iloc[0])])
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


def selection_table(search: pd.DataFrame, curve: pd.DataFrame, order) -> pd.DataFrame:
    """Per selected regularizer: its grid, how many λ trained on every selection seed,
    the feasible λ, those within one SE of the best, the chosen λ and why."""
    rows = []
    for reg in _ordered(order, set(selection_rows(search)["regularizer"])):
        grid = sorted(set(search.loc[search["regularizer"] == reg, "lambda"].astype(float)))
        mine = curve[curve["regularizer"] == reg]
        picked = mine.loc[mine["chosen"], "lambda"]
        feasible = bool(mine["feasible"].any())
        rows.append({
            "regularizer": reg, "grid": ", ".join(f"{lam:.3g}" for lam in grid),
            "λ scored on every seed": f"{len(mine)} of {len(grid)}",
            "feasible (within the margin)": _lams(mine.loc[mine["feasible"], "lambda"]),
            "within one SE of the best": _lams(mine.loc[mine["within_one_se"], "lambda"]),
            "chosen λ": _lams(picked),
            "chosen by": "one-standard-error rule" if feasible else
                         "no λ within the margin: the smallest grid λ"})
    return pd.DataFrame(rows)


def _lams(values) -> str:
    return ", ".join(f"{lam:.3g}" for lam in values) or "–"


def _ordered(order, names) -> list[str]:
    return [r for r in order if r in names] + sorted(set(names) - set(order))


def selection_caption(reference: dict | None) -> str:
    """The figure's caption: what is drawn, the endpoint, the margin and its reason,
    the rule."""
    reference = reference or {}
    endpoint = reference.get("endpoint") or {}
    seeds = ", ".join(str(s) for s in reference.get("seeds") or []) or "not recorded"
    metric = stats.metric_info(endpoint["metric"]).label if endpoint.get(
        "metric") else "primary endpoint"
    margin = endpoint.get("margin")
    margin_text = (f"the red dashed line is −margin ({margin:g}: "
                   f"{endpoint.get('margin_reason', 'reason not recorded')})"
                   if margin is not None else "config.json records no margin")
    missing = ("" if reference.get("none") else " config.json records no none scores for "
               "the selection seeds, so none's reference and the per-seed differences are "
               "not drawn.")
    return (f"λ selection on the selection seeds ({seeds}; never a verdict seed), each "
            "candidate λ trained as the verdict's models and scored on validation data. "
            f"Top: validation {metric} ({endpoint.get('direction', 'higher')} is better); "
            "small dots: each selection seed; large marker with error bar: the mean ± one "
            "standard error, the seed sd pooled over the regularizer's feasible λ (the SE "
            "the rule uses); grey lines: none on the same seeds (thin: each seed, dashed: mean). "
            f"Bottom: validation {endpoint.get('performance', 'performance')} minus none's on "
            f"the same seed, oriented so that negative is worse; {margin_text}. Hollow grey: "
            "infeasible λ (mean difference beyond the margin). Dotted vertical line: the "
            f"chosen λ. Rule: {SELECTION_RULE}; no feasible λ: the smallest grid λ.{missing}")


def selection_curves(points: pd.DataFrame, curve: pd.DataFrame, order,
                     reference: dict | None = None):
    """Per selected regularizer, two panels against λ (log axis): the validation endpoint
    (every seed, mean ± pooled SE, none's seeds and mean, the chosen λ), and the
    performance difference from none per seed with the −margin line. Infeasible λ
    hollow grey. None without points."""
    regs = _ordered(order, set(curve["regularizer"]))
    if not regs:
        return None
    endpoint = (reference or {}).get("endpoint") or {}
    ncols = min(len(regs), 3)
    nrows = math.ceil(len(regs) / ncols)
    fig = Figure(figsize=(3.6 * ncols, 4.6 * nrows), layout="constrained")
    grid = fig.add_gridspec(2 * nrows, ncols, height_ratios=[2, 1] * nrows)
    pal = figures.palette([stats.BASELINE, *regs])
    none = points[points["regularizer"] == stats.BASELINE]
    for i, reg in enumerate(regs):
        row, col = divmod(i, ncols)
        top = fig.add_subplot(grid[2 * row, col])
        bottom = fig.add_subplot(grid[2 * row + 1, col], sharex=top)
        mine, means = points[points["regularizer"] == reg], curve[curve["regularizer"] == reg]
        _selection_panel(top, mine, means, none["endpoint"], "endpoint", pal[reg])
        _selection_panel(bottom, mine, means, none["difference"].iloc[:1], "difference",
                         pal[reg], margin=endpoint.get("margin"))
        metric = stats.metric_info(endpoint.get("metric", "endpoint")).label
        top.set(title=reg, ylabel=f"validation {metric}")
        bottom.set(xlabel="λ (log scale)",
                   ylabel=f"{endpoint.get('performance', 'performance')} − none")
        top.tick_params(labelbottom=False)
    legend = {}   # one legend for the figure, every label once
    for ax in fig.axes:
        legend.update({label: handle for handle, label in zip(*ax.get_legend_handles_labels())
                       if label not in legend})
    fig.legend(legend.values(), legend.keys(), loc="outside lower center", ncols=2,
               fontsize=6, frameon=False)
    return fig


def _selection_panel(ax, mine, means, reference, column, colour, margin=None):
    """One panel: ``column`` of every seed (dots, jittered a little along λ), the λ means
    (± pooled SE on the endpoint), ``reference`` lines (none), the chosen λ."""
    spread = mine.groupby("lambda")["seed"].rank(method="first") - 1
    count = mine.groupby("lambda")["seed"].transform("size")
    jitter = 10.0 ** (0.04 * (spread - (count - 1) / 2))
    ax.scatter(mine["lambda"] * jitter, mine[column], s=10, zorder=2,
               c=[colour if ok else "0.65" for ok in mine["feasible"]],
               label="selection seed")
    centre = means["endpoint_mean" if column == "endpoint" else "difference"]
    error = means["se"] if column == "endpoint" else None
    ax.plot(means["lambda"], centre, color=colour, lw=0.8, alpha=0.6)
    for feasible, style in ((True, {"color": colour, "label": "mean ± pooled SE"
                                     if column == "endpoint" else "mean"}),
                            (False, {"color": "0.55", "mfc": "white", "label":
                                     "infeasible λ (performance beyond the margin)"})):
        part = means["feasible"] == feasible
        if part.any():
            ax.errorbar(means.loc[part, "lambda"], centre[part], capsize=3, fmt="o", ms=6,
                        yerr=None if error is None else error[part], zorder=3, **style)
    finite = reference.dropna()
    for value in finite if column == "endpoint" else []:
        ax.axhline(value, color="0.5", lw=0.5, alpha=0.7)
    if len(finite):
        ax.axhline(finite.mean(), color="0.4", lw=1, ls="--", label="none (seeds, mean)")
    if margin is not None and column == "difference":
        ax.axhline(-margin, color="tab:red", lw=1, ls="--", label=f"−margin ({margin:g})")
    for lam in means.loc[means["chosen"], "lambda"]:
        ax.axvline(lam, color="black", lw=1, ls=":", label="chosen λ")
    ax.set_xscale("log")


__all__ = ["CSV", "curves_table", "headline", "lambda_curves", "matched_accuracy",
           "selection_caption", "selection_curve", "selection_curves", "selection_points",
           "selection_rows", "selection_table", "sweep_frame", "verdict_sentences",
           "verdict_table"]
