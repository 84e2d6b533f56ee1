"""The verdict of a suite's report: which experiment and point it is read from, the
headline table with its significance tests, and a lambda_sweep's verdict at matched
accuracy; the suite report's shared column facts (tags, labels)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from regbench.metrics import holm, smallest_paired_p
from regbench.report import lambda_sweep, stats
from regbench.report.render import Bullets, Section, Table, Text

TAGS = ["experiment", "kind", "point", "sweep", "value"]
# Headline columns of the verdict, in order; those without values are left out.
HEADLINE = ("test_auroc", "balanced_auroc", "motif_auprc", "motif_fraction",
            "highfreq_fraction", "entropy", "gc_reliance", "peak_auprc")
ARROWS = stats.ARROWS
EXTRA_INFO = {"balanced_auroc": stats.MetricInfo(
    "auROC on GC-balanced data", "higher is better (no GC gap between the classes: only "
    "the motif predicts)", "higher")}


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


__all__ = ["HEADLINE", "TAGS", "verdict", "verdict_point", "verdict_table"]
