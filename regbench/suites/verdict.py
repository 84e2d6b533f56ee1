"""The verdict of a suite's report: which experiment and point it is read from, the
headline table, the primary endpoint's tests (★ there only, Benjamini-Hochberg across
every regularizer, as in a run's report) with the performance metric's non-inferiority,
the best mean's lead as a secondary interval, and a lambda_sweep's verdict at matched
accuracy; the suite report's shared column facts (tags, labels)."""
from __future__ import annotations

import math

import pandas as pd

from regbench.report import inference, lambda_sweep, stats, verdict as run_verdict
from regbench.report.render import Bullets, Section, Table, Text
from regbench.suites.kinds import get_suite_kind

TAGS = ["experiment", "kind", "point", "sweep", "value"]
# Headline columns of the verdict, in order; those without values are left out.
HEADLINE = ("test_auroc", "balanced_auroc", "motif_auprc", "motif_fraction",
            "highfreq_fraction", "entropy", "gc_reliance", "peak_auprc")
ARROWS = stats.ARROWS
EXTRA_INFO = {"balanced_auroc": stats.MetricInfo(
    "auROC on GC-balanced data", "higher is better (no GC gap between the classes: only "
    "the motif predicts)", "higher")}


def column_info(column: str) -> stats.MetricInfo:
    """A suite column's label and direction: a kind's extra column's, else the metric's."""
    return EXTRA_INFO.get(column) or stats.metric_info(column)


# -- the verdict --------------------------------------------------------------------------

def verdict_experiment(manifest) -> str:
    """The experiment the verdict is read from: the first of a headline kind (compare),
    else the first."""
    experiments = manifest["experiments"]
    return next((e["name"] for e in experiments if get_suite_kind(e["kind"]).headline),
                experiments[0]["name"])


def verdict_point(results: pd.DataFrame, manifest) -> tuple[str, str]:
    """(experiment, point) the verdict is read from: ``verdict_experiment``'s last point
    in ``results`` (a sweep's largest value: the hardest case)."""
    chosen = verdict_experiment(manifest)
    points = results.loc[results["experiment"] == chosen, "point"].unique()
    return chosen, str(points[-1])


BEST = "(best mean)"   # not ★: ★ marks the primary endpoint's tested results only


def verdict_table(ok: pd.DataFrame, order) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(table, leads). table: one row per regularizer, 'mean ± sd' per headline column,
    the best mean per column marked BEST. leads: per column, the best regularizer's
    difference from ``none`` and from the runner-up across seeds (``stats.seed_comparison``:
    the mean paired difference, seeds being paired, or the difference of means where
    they do not pair up) with its 95% t-interval and how many seeds went its way: a
    secondary description of the lead, not a test."""
    columns = [c for c in HEADLINE if c in ok and ok[c].notna().any()]
    table = pd.DataFrame({"regularizer": order})
    leads = []
    for column in columns:
        info = column_info(column)
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
            cells.append(f"{cell} {BEST}" if reg == best and len(ranked) > 1 else cell)
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
                          "95% CI": "–" if test is None else stats.format_ci(
                              test["ci_low"], test["ci_high"]),
                          "seeds better": "–" if test is None or pd.isna(test["n_better"])
                          else f"{test['n_better']} of {test['n_pairs']}",
                          "pairing": "–" if test is None else
                          "paired" if test["test"] == "paired_t" else "unpaired"})
    leads = pd.DataFrame(leads, columns=["metric", "best", "against", "difference", "95% CI",
                                         "seeds better", "pairing"])
    leads["difference"] = leads["difference"].map(lambda d: f"{d:+.3g}")
    return table, leads


def _score(mean: float, direction: str) -> float:
    return {"higher": mean, "lower": -mean, "zero": -abs(mean)}.get(direction, mean)


def primary_blocks(ok: pd.DataFrame, order, manifest) -> list:
    """The primary endpoint's verdict at the suite's verdict point, as a run's report
    gives it: the endpoint (declared for the suite's task on the ground truth its runs
    show), each regularizer's paired t-test against none with its Benjamini-Hochberg q
    across every regularizer (★ / ▼), the performance metric's non-inferiority."""
    endpoint = inference.folder_endpoint({"task": manifest.get("task")}, ok)[0]
    source = ("declared for the suite's task on the ground truth its runs hold, as "
              "`regbench run` declares it")
    statistics = inference.statistics_table(ok, None, order, endpoint)
    columns = [c for c in run_verdict.roles(endpoint) if stats.has_values(ok, c)]
    tested = int((statistics["role"] == inference.PRIMARY).sum()) or len(order) - 1
    blocks = [Text(run_verdict.endpoint_text(endpoint, source, tested))]
    if columns and stats.BASELINE in order:
        blocks.append(Table(run_verdict.verdict_frame(ok, statistics, order, columns,
                                                      endpoint=endpoint),
                            "The primary endpoint and the performance it is held to"))
        blocks.append(Bullets(run_verdict.verdict_sentences(statistics, order, endpoint)))
    return blocks


def verdict(results: pd.DataFrame, order, manifest) -> Section:
    experiment, point = verdict_point(results, manifest)
    own = get_suite_kind(_kind(manifest, experiment)).verdict
    if own is not None:     # the kind's own verdict, e.g. lambda_sweep's matched accuracy
        mine = results[results["experiment"] == experiment]
        return Section("Verdict", own(experiment, mine))
    ok = stats.ok_runs(results[(results["experiment"] == experiment)
                               & (results["point"] == point)])
    table, leads = verdict_table(ok, order)
    seeds = ok.groupby("regularizer").size()
    n = int(seeds.min()) if len(seeds) else 0
    blocks = [Text(f"Read from “{experiment}” ({point}), DeepLIFT/SHAP attributions, "
                   f"{n}+ seeds per regularizer."),
              *primary_blocks(ok, order, manifest),
              Text(f"Every headline metric, mean ± sd over seeds; {BEST} marks the best "
                   "mean of each column (the arrow says which way is better; →0: closest "
                   "to zero), a ranking, not a test. The table after it describes that "
                   "lead against none and against the runner-up: the mean paired "
                   "difference (one seed gives every regularizer the same initialisation, "
                   "batch order and split; the difference of means where the seeds do not "
                   "pair up), its 95% t-interval and how many seeds went the best one's "
                   "way. Secondary: not tested, never starred."),
              Table(table, "Every regularizer on the headline metrics")]
    if not leads.empty:
        blocks.append(Table(leads, "The best mean's lead (secondary)"))
    return Section("Verdict", blocks)


def _kind(manifest, experiment: str) -> str:
    return next(e["kind"] for e in manifest["experiments"] if e["name"] == experiment)


def matched_choice(frame: pd.DataFrame) -> tuple[str | None, pd.DataFrame | None]:
    """(interpretability column, matched-accuracy choice) of a lambda_sweep's runs;
    (column, None) without none's runs or validation losses to match against."""
    metric = lambda_sweep.headline(frame)
    if metric is None or "val_loss" not in frame or \
            not (frame["regularizer"] == stats.BASELINE).any():
        return metric, None
    return metric, lambda_sweep.matched_accuracy(frame, metric)


def lambda_sweep_verdict(experiment: str, results: pd.DataFrame) -> list:
    """The suite's verdict read from a lambda_sweep experiment (its ``verdict`` hook):
    where it is read from, then ``lambda_verdict`` of its runs."""
    return [Text(f"Read from “{experiment}”, at matched accuracy."),
            *lambda_verdict(results)]


def lambda_verdict(results: pd.DataFrame) -> list:
    """The matched-accuracy verdict of a lambda_sweep experiment's runs: the rule,
    one line per regularizer, the table."""
    metric, chosen = matched_choice(lambda_sweep.sweep_frame(results))
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


__all__ = ["HEADLINE", "TAGS", "column_info", "lambda_sweep_verdict", "lambda_verdict",
           "matched_choice", "verdict", "verdict_experiment", "verdict_point",
           "verdict_table"]
