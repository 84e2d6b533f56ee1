"""The report of a suite (``regbench run --suite``): the verdict first, then one section
per experiment, then how it was made.

Reads OUT/suite.json, OUT/results.csv (every point's runs, long format, tagged with
experiment, kind, point, sweep, value) and OUT/results_fraction.csv, and each point's
own results folder for what only it holds (example tracks, λ search, attributions).
Writes, beside the report, the numbers of its figures and tables: lambda_sweep.csv,
stability.csv and stability_fraction.csv (tagged like results.csv).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure as MplFigure

from regbench.config import PAPER_DIFFERENCES
from regbench.errors import RegbenchError
from regbench.metrics import holm, smallest_paired_p
from regbench.report import figures, lambda_sweep, sections, stability, stats
from regbench.report.load import load_results
from regbench.report.render import Bullets, Section, Table, Text, write_outputs
from regbench.store import atomic_write_csv, wide_results

TAGS = ["experiment", "kind", "point", "sweep", "value"]
# Per-run columns a suite adds (one value per model, not per attribution method).
PER_RUN = ("auroc_", "motif_fraction_", "motif_auprc_")
# Headline columns of the verdict, in order; those without values are left out.
HEADLINE = ("test_auroc", "balanced_auroc", "motif_auprc", "motif_fraction",
            "highfreq_fraction", "entropy", "gc_reliance", "peak_auprc")
ARROWS = stats.ARROWS
EXTRA_INFO = {"balanced_auroc": stats.MetricInfo(
    "auROC on GC-balanced data", "higher is better (no GC gap between the classes: only "
    "the motif predicts)", "higher")}


def write_suite_report(out) -> tuple[Path, Path]:
    """Write OUT/report.html and OUT/report.md for a suite's results folder."""
    out = Path(out)
    if not (out / "suite.json").is_file():
        raise RegbenchError(f"{out} has no suite.json; run `regbench run --suite NAME` first")
    manifest = json.loads((out / "suite.json").read_text())
    results = _wide(pd.read_csv(out / "results.csv"))
    fractions = (_wide(pd.read_csv(out / "results_fraction.csv"))
                 if (out / "results_fraction.csv").is_file() else pd.DataFrame(columns=TAGS))
    order = stats.order_regularizers(results["regularizer"], _listed(manifest))
    _write_lambda_curves(out, results, manifest)
    stability.write_suite_stability_csvs(out, manifest, results, fractions, order,
                                         _point_folder, TAGS)
    blocks = [verdict(results, order, manifest)]
    for experiment in manifest["experiments"]:
        mine = results[results["experiment"] == experiment["name"]]
        shares = fractions[fractions["experiment"] == experiment["name"]]
        blocks.append(experiment_section(out, experiment, mine, shares, order, manifest))
    blocks.append(how_made(manifest, results, out))
    title = f"regbench suite report: {manifest['suite']}"
    return write_outputs(out, title, [b for b in blocks if b is not None])


def _write_lambda_curves(out: Path, results: pd.DataFrame, manifest) -> None:
    """OUT/lambda_sweep.csv: every lambda_sweep experiment's runs (experiment,
    regularizer, λ, seed, metrics), the numbers its figures are drawn from."""
    names = [e["name"] for e in manifest["experiments"] if e["kind"] == "lambda_sweep"]
    if not names:
        return
    frames = [lambda_sweep.sweep_frame(results[results["experiment"] == name]).assign(
        experiment=name) for name in names]
    frame = pd.concat(frames, ignore_index=True)
    atomic_write_csv(frame[["experiment", *frame.columns[:-1]]], out / lambda_sweep.CSV)


def _listed(manifest) -> list:
    regs = manifest.get("regularizers") or []
    return [] if regs == ["all"] else regs


def _wide(long: pd.DataFrame) -> pd.DataFrame:
    """The tagged long table as one row per run, per (experiment, point)."""
    if long.empty:
        return long
    parts = []
    for (experiment, point), part in long.groupby(["experiment", "point"], sort=False):
        tags = part[TAGS].iloc[0]
        per_run = [c for c in part if c.startswith(PER_RUN) or c == "balanced_auroc"]
        extra = [c for c in part if c not in TAGS and c not in per_run]
        wide = wide_results(part[extra])
        if per_run:
            values = part[["regularizer", "seed", *per_run]].drop_duplicates(
                ["regularizer", "seed"])
            wide = wide.merge(values, on=["regularizer", "seed"], how="left")
        for i, tag in enumerate(TAGS):
            wide.insert(i, tag, tags[tag])
        parts.append(wide)
    return pd.concat(parts, ignore_index=True)


def _info(column: str) -> stats.MetricInfo:
    return EXTRA_INFO.get(column) or stats.metric_info(column)


# -- the verdict --------------------------------------------------------------------------

def verdict_point(results: pd.DataFrame, manifest) -> tuple[str, str]:
    """(experiment, point) the verdict is read from: the first compare experiment, else
    the first experiment's last point (a sweep's largest value: the hardest case)."""
    names = [e["name"] for e in manifest["experiments"]]
    kinds = {e["name"]: e["kind"] for e in manifest["experiments"]}
    chosen = next((n for n in names if kinds[n] == "compare"), names[0])
    points = results.loc[results["experiment"] == chosen, "point"].unique()
    return chosen, str(points[-1])


def verdict_table(ok: pd.DataFrame, order) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(table, leads). table: one row per regularizer, 'mean ± sd' per headline column,
    the best mean per column marked ★. leads: per column, the best regularizer's
    difference from ``none`` and from the runner-up, tested across seeds by
    ``stats.seed_comparison`` (exact Wilcoxon signed-rank on the per-seed differences,
    seeds being paired; Mann-Whitney U where they do not pair up), Holm-adjusted over
    every test of the table."""
    columns = [c for c in HEADLINE if c in ok and ok[c].notna().any()]
    table = pd.DataFrame({"regularizer": order})
    leads = []
    for column in columns:
        info = _info(column)
        values = {r: ok.loc[ok["regularizer"] == r, column].dropna().to_numpy(float)
                  for r in order}
        means = {r: v.mean() for r, v in values.items() if len(v)}
        score = {r: _score(m, info.direction) for r, m in means.items()}
        ranked = sorted(score, key=score.get, reverse=True)
        best = ranked[0] if ranked else None
        cells = []
        for reg in order:
            v = values[reg]
            sd = v.std(ddof=1) if len(v) > 1 else math.nan
            cell = stats.format_mean_sd(v.mean(), sd) if len(v) else "–"
            cells.append(f"★ {cell}" if reg == best and len(ranked) > 1 else cell)
        table[f"{info.label} {ARROWS.get(info.direction, '')}".strip()] = cells
        if best is None:
            continue
        runner = next((r for r in ranked[1:] if r != best), None)
        rivals = [(stats.BASELINE, "baseline"), (runner, "runner-up")]
        if runner == stats.BASELINE:
            rivals = [(stats.BASELINE, "baseline and runner-up")]
        for rival, role in rivals:
            if rival is None or rival == best or rival not in values:
                continue
            test = stats.seed_comparison(ok, best, rival, column, info.direction)
            leads.append({"metric": info.label, "best": best, "against": f"{rival} ({role})",
                          "difference": means[best] - means[rival],
                          "test": "–" if test is None else
                          "paired" if test["test"] == "wilcoxon_seeds" else "unpaired",
                          "p": math.nan if test is None else test["p_value"]})
    leads = pd.DataFrame(leads, columns=["metric", "best", "against", "difference", "test",
                                         "p"])
    if not leads.empty:
        leads["p (Holm)"] = holm(leads["p"].to_numpy(float))
        leads["significant"] = np.where(leads["p (Holm)"] < stats.ALPHA, "yes", "no")
        leads["difference"] = leads["difference"].map(lambda d: f"{d:+.3g}")
        leads["p (Holm)"] = leads["p (Holm)"].map(stats.format_p)
        leads = leads.drop(columns="p")
    return table, leads


def _score(mean: float, direction: str) -> float:
    return {"higher": mean, "lower": -mean, "zero": -abs(mean)}.get(direction, mean)


def verdict(results: pd.DataFrame, order, manifest) -> Section:
    experiment, point = verdict_point(results, manifest)
    if _kind(manifest, experiment) == "lambda_sweep":
        mine = results[results["experiment"] == experiment]
        return Section("Verdict", [Text(f"Read from “{experiment}”, at matched accuracy."),
                                   *_lambda_verdict(mine)])
    ok = stats.ok_runs(results[(results["experiment"] == experiment)
                               & (results["point"] == point)])
    table, leads = verdict_table(ok, order)
    seeds = ok.groupby("regularizer").size()
    n = int(seeds.min()) if len(seeds) else 0
    blocks = [Text(f"Read from “{experiment}” ({point}), DeepLIFT/SHAP attributions, "
                   f"{n}+ seeds per regularizer. ★ marks the best mean of each column (the "
                   "arrow says which way is better; →0: closest to zero). The second table "
                   "tests whether that lead is real against none and against the "
                   "runner-up: the exact Wilcoxon signed-rank test of the per-seed "
                   "differences (one seed gives every regularizer the same initialisation, "
                   "batch order and split; Mann-Whitney U where the seeds do not pair up), "
                   "Holm-adjusted over every test of the table; 'yes' at adjusted p < "
                   f"{stats.ALPHA}."),
              Table(table, "The verdict: every regularizer on the headline metrics")]
    if not leads.empty:
        blocks.append(Table(leads, "Is the best one's lead significant?"))
    if n >= 1 and len(leads):
        floor = smallest_paired_p(n)          # the smallest two-sided p, n paired seeds
        if floor * len(leads) >= stats.ALPHA:
            blocks.append(Text(
                f"With {n} paired seeds per regularizer the smallest attainable p is "
                f"2 / 2^{n} = {stats.format_p(floor)} (every difference of one sign), and "
                f"Holm over {len(leads)} tests needs the smallest p below "
                f"{stats.format_p(stats.ALPHA / len(leads))}: no lead can be "
                "significant here, so read the stars as a ranking only. More seeds (the "
                "paper used 30) make a real lead testable."))
    return Section("Verdict", blocks)


# -- one section per experiment ---------------------------------------------------------

def experiment_section(out: Path, experiment: dict, results: pd.DataFrame,
                       shares: pd.DataFrame, order, manifest) -> Section | None:
    if results.empty:
        return None
    kind = experiment["kind"]
    intro = Text(f"{experiment.get('description') or ''} This section shows "
                 f"{experiment['what']}.".strip())
    build = {"compare": _compare, "stability": _stability, "gc_sweep": _gc_sweep,
             "data_scarcity": _data_scarcity, "multi_motif": _multi_motif,
             "lambda_sweep": _lambda_sweep}[kind]
    blocks = [b for b in build(out, experiment, results, shares, order, manifest)
              if b is not None]
    return Section(experiment["name"], [intro, *blocks])


def _point_folder(out: Path, manifest, experiment: str, point: str, results: pd.DataFrame,
                  shares: pd.DataFrame | None = None):
    """The point's own results folder, its tables replaced by the suite's rows of it."""
    entry = next(p for p in manifest["points"]
                 if p["experiment"] == experiment and p["point"] == point)
    folder = load_results(out / entry["folder"])
    folder.results = results.drop(columns=TAGS).reset_index(drop=True)
    if shares is not None:
        folder.fraction_results = (shares.drop(columns=TAGS).reset_index(drop=True)
                                   if not shares.empty else None)
    return folder


def _compare(out, experiment, results, shares, order, manifest):
    point = str(results["point"].iloc[0])
    folder = _point_folder(out, manifest, experiment["name"], point, results)
    metrics = stats.metric_columns(folder.results)
    ok = stats.ok_runs(folder.results)
    yield Table(sections.summary_frame(folder.results, metrics, order),
                "Every metric, mean ± sd over seeds")
    for section in (sections.performance_vs_interpretability(ok, order),
                    sections.attribution_examples(folder.examples, order),
                    sections.lambda_search(folder, order)):
        if section is not None:
            yield from section.blocks


def _stability(out, experiment, results, shares, order, manifest):
    point = str(results["point"].iloc[0])
    folder = _point_folder(out, manifest, experiment["name"], point, results,
                           shares[shares["point"] == point])
    runs = stability.load_attributions(folder)
    for section in (sections.seed_stability(folder, order, runs),
                    sections.data_stability(folder, order, runs)):
        if section is not None:
            yield Text(f"{section.title}:")
            yield from section.blocks
    yield Text("A share model starts from the same initial weights as the full-data model "
               "of its seed, so the full-vs-share comparison isolates the training data; "
               "seed pairs differ in both initialisation and batch order.")


def _gc_sweep(out, experiment, results, shares, order, manifest):
    gaps = {p["point"]: p.get("gc_gap") for p in manifest["points"]
            if p["experiment"] == experiment["name"]}
    ok = stats.ok_runs(results).copy()
    ok["gc_gap"] = ok["point"].map(gaps)
    panels = [c for c in ("gc_reliance", "balanced_auroc", "motif_fraction", "test_auroc")
              if c in ok and ok[c].notna().any()]
    fig = _lines(ok, "gc_gap", panels, order, "GC gap (positives − negatives)")
    if fig is not None:
        captions = "; ".join(f"{_info(c).label}: {_info(c).better}" for c in panels)
        yield sections._figure("gc_sweep", "Each metric against the GC gap between positives "
                               "and negatives (mean ± sd over seeds; DeepLIFT/SHAP). A model "
                               "that takes the GC shortcut shows GC reliance rising and "
                               f"balanced auROC falling with the gap. {captions}.", fig)
    yield Table(_by_level(ok, "gc_gap", panels, order), "Per GC gap: mean ± sd over seeds")


def _data_scarcity(out, experiment, results, shares, order, manifest):
    runs = pd.concat([results, shares], ignore_index=True)
    ok = stats.ok_runs(runs).copy()
    panels = [c for c in ("test_auroc", "motif_auprc", "highfreq_fraction", "entropy")
              if c in ok and ok[c].notna().any()]
    fig = _lines(ok, "train_rows", panels, order, "training rows (log scale)", log=True)
    if fig is not None:
        captions = "; ".join(f"{_info(c).label}: {_info(c).better}" for c in panels)
        yield sections._figure("data_scarcity", "Each metric against the number of training "
                               "rows (nested shares of the training split; mean ± sd over "
                               f"seeds; DeepLIFT/SHAP). {captions}.", fig)
    yield Table(_by_level(ok, "train_rows", panels, order),
                "Per training-set size: mean ± sd over seeds")


def _multi_motif(out, experiment, results, shares, order, manifest):
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
    yield from _compare(out, experiment, results, shares, order, manifest)


def _kind(manifest, experiment: str) -> str:
    return next(e["kind"] for e in manifest["experiments"] if e["name"] == experiment)


def _matched(frame: pd.DataFrame) -> tuple[str | None, pd.DataFrame | None]:
    """(interpretability column, matched-accuracy choice) of a lambda_sweep's runs;
    (column, None) without none's runs or validation losses to match against."""
    metric = lambda_sweep.headline(frame)
    if metric is None or "val_loss" not in frame or \
            not (frame["regularizer"] == stats.BASELINE).any():
        return metric, None
    return metric, lambda_sweep.matched_accuracy(frame, metric)


def _lambda_verdict(results: pd.DataFrame) -> list:
    """The matched-accuracy verdict of a lambda_sweep experiment's runs: the rule,
    one line per regularizer, the table."""
    metric, chosen = _matched(lambda_sweep.sweep_frame(results))
    if chosen is None:
        return [Text("No verdict: it needs none's runs, validation losses and an "
                     "interpretability metric (motif truth or peaks) in these data.")]
    facts = chosen.attrs
    label = stats.metric_info(metric).label
    return [Text(lambda_sweep.RULE.format(metric=f"{label} (DeepLIFT/SHAP)") + " "
                 f"Here none's validation loss is {facts['none_loss']:.4g} ± "
                 f"{facts['noise']:.2g} over {facts['seeds']} seeds: λ with a mean up to "
                 f"{facts['threshold']:.4g} count as matched; none's {label} is "
                 f"{facts['none_metric']:.3g} ± {facts['metric_noise']:.2g}."),
            Bullets(lambda_sweep.verdict_sentences(chosen, metric)),
            Table(lambda_sweep.verdict_table(chosen, metric),
                  "Per regularizer, the most interpretable λ at matched accuracy")]


def _lambda_sweep(out, experiment, results, shares, order, manifest):
    frame = lambda_sweep.sweep_frame(results)
    metric, chosen = _matched(frame)
    if verdict_point(results, manifest)[0] != experiment["name"]:
        yield from _lambda_verdict(results)
    sweeps = [e["name"] for e in manifest["experiments"] if e["kind"] == "lambda_sweep"]
    suffix = "" if sweeps.index(experiment["name"]) == 0 else \
        f"_{sweeps.index(experiment['name']) + 1}"
    for column in [c for c in ("test_auroc", metric, "val_loss") if c]:
        info = stats.metric_info(column)
        fig = lambda_sweep.lambda_curves(frame, column, order, chosen)
        yield sections._figure(
            f"lambda_{column}{suffix}", f"{info.label} against λ, one panel per regularizer "
            "(mean ± sd over seeds; log λ axis across the regularizer's registry range); "
            "grey band: none, mean ± sd over the same seeds; dotted line: the λ chosen at "
            f"matched accuracy. {info.better}.", fig)
    yield Table(lambda_sweep.curves_table(frame, order), "Per regularizer and λ: mean ± sd "
                f"over seeds (every run: {lambda_sweep.CSV})")


def _by_level(ok: pd.DataFrame, level: str, columns, order) -> pd.DataFrame:
    rows = []
    for value in sorted(ok[level].dropna().unique()):
        for reg in order:
            mine = ok[(ok[level] == value) & (ok["regularizer"] == reg)]
            if mine.empty:
                continue
            rows.append({level.replace("_", " "): f"{value:g}", "regularizer": reg,
                         "seeds": len(mine), **{
                             f"{_info(c).label} {ARROWS.get(_info(c).direction, '')}":
                             stats.format_mean_sd(mine[c].mean(), mine[c].std(ddof=1)
                                                  if len(mine) > 1 else math.nan)
                             for c in columns}})
    return pd.DataFrame(rows)


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
        info = _info(column)
        ax.set(xlabel=xlabel, ylabel=info.label,
               title=f"{info.label} ({ARROWS.get(info.direction, '')})")
        if log:
            ax.set_xscale("log")
        if column == "gc_reliance":
            ax.axhline(0, color="0.6", lw=0.8, ls="--")
    if axes[0].get_legend() is not None:
        axes[0].legend(fontsize=7, frameon=False)
    return fig


# -- how this was made --------------------------------------------------------------------

def how_made(manifest, results: pd.DataFrame, out: Path) -> Section:
    preset = manifest.get("preset", "?")
    diff = PAPER_DIFFERENCES.get(preset, "") or "none: the paper's sizes"
    items = [f"Suite: {manifest['suite']} ({manifest.get('source', '?')})",
             f"Preset: {preset}; how it differs from the paper: {diff}",
             f"Regularizers: {', '.join(stats.order_regularizers(results['regularizer']))}"]
    sources = _lambda_sources(out, manifest)
    if sources:
        items.append("λ: " + "; ".join(f"{r} {s}" for r, s in sources.items()))
    for p in manifest["points"]:
        sizes = ", ".join(f"{k} {v}" for k, v in (p.get("sizes") or {}).items())
        shares = (f"; shares {', '.join(f'{f:g}' for f in p['fractions'])}"
                  if p.get("fractions") else "")
        items.append(f"{p['experiment']}: {p['point']}: {p['seeds']} seeds; rows {sizes}"
                     f"{shares} (folder {p['folder']})")
    trained = pd.to_numeric(results.get("train_seconds"), errors="coerce").sum()
    items.append(f"Run time of the last invocation: {manifest.get('wall_seconds', '?')} s "
                 f"(started {manifest.get('started', '?')}; stored runs are reused, not "
                 f"retrained); training time of all its runs: {trained:.0f} s")
    items.append(f"regbench {manifest.get('regbench', '?')}, torch {manifest.get('torch', '?')}")
    return Section("How this was made", [Bullets(items), Text(
        "Every point is an ordinary results folder (results.csv, checkpoints, "
        "attributions); 'regbench report FOLDER' writes its own full report.")])


def _lambda_sources(out: Path, manifest) -> dict:
    sources = {}
    for p in manifest["points"]:
        if p.get("kind") == "lambda_sweep":     # swept: its λ are in lambda_sweep.csv
            continue
        path = out / p["folder"] / "config.json"
        if not path.is_file():
            continue
        config = json.loads(path.read_text())
        for reg, source in (config.get("lambda_source") or {}).items():
            lam = (config.get("lambdas") or {}).get(reg)
            text = f"{source}" + (f" ({lam:.3g})" if isinstance(lam, (int, float)) else "")
            sources.setdefault(reg, set()).add(text)
    return {r: " / ".join(sorted(s)) for r, s in sources.items()}


__all__ = ["verdict_table", "write_suite_report"]
