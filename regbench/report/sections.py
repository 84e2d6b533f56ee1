"""Build the report's sections from a loaded results folder (no file I/O here)."""
from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd

from regbench import __version__
from regbench.report import figures, inference, stability, stats, verdict
from regbench.report.comparison_sections import (metric_groups,  # noqa: F401 (tests)
                                                 seed_distributions, sequence_comparisons)
from regbench.report.load import ResultsFolder
from regbench.report.blocks import figure_block, fmt, section_block
from regbench.report.render import Bullets, Section, Table, Text
from regbench.report.run_sections import chosen_lambdas, header, lambda_search, pareto_search
from regbench.report.summary import summary
from regbench.metrics import get_metric, lead_metrics
from regbench.report.stats import BASELINE
from regbench.store.runs import METHOD_LABELS, METHOD_PREFIXES

# --- summary ---------------------------------------------------------------------

def summary_frame(results: pd.DataFrame, metrics, order) -> pd.DataFrame:
    """Metrics as rows, regularizers as columns, 'mean ± sd' cells (a suite's compare
    section; the report's own Summary has regularizers as rows: ``summary.summary``)."""
    summary = stats.summarise(results, metrics, order).set_index(["regularizer", "metric"])
    ok = stats.ok_runs(results)
    n_ok = ok.groupby("regularizer").size().reindex(order, fill_value=0)
    n_all = results.groupby("regularizer").size().reindex(order, fill_value=0)
    rows = [{"metric": "runs", "better": "",
             **{r: f"{n_ok[r]} ok" + (f", {n_all[r] - n_ok[r]} failed"
                                      if n_all[r] > n_ok[r] else "") for r in order}}]
    for metric in metrics:
        row = {"metric": metric, "better": stats.metric_info(metric).better}
        for reg in order:
            row[reg] = stats.mean_sd_cell(summary, reg, metric, int(n_ok[reg]))
        rows.append(row)
    return pd.DataFrame(rows)


# --- figures ---------------------------------------------------------------------

def _first_present(ok: pd.DataFrame, candidates) -> str | None:
    return next((c for c in candidates if c in ok and ok[c].notna().any()), None)


def _leads(kind: str, higher_only: bool = False) -> list[str]:
    """results.csv columns of the metric registry's lead metrics of ``kind``, first
    choice first; attribution metrics under every method, DeepLIFT/SHAP's first."""
    names = [n for n in lead_metrics(kind)
             if not higher_only or get_metric(n).direction == "higher"]
    if kind == "performance":
        return [f"test_{n}" for n in names]
    return [prefix + n for prefix in METHOD_PREFIXES.values() for n in names]


def _lower_is_better(values, direction: str):
    """``values`` turned so that lower is better: negated when higher is, |value| when
    the best value is 0."""
    return abs(values) if direction == "zero" else values if direction == "lower" \
        else -values


def performance_vs_interpretability(ok: pd.DataFrame, order) -> Section | None:
    # both axes higher-is-better: the figure's front and its axis labels assume it
    y = _first_present(ok, _leads("performance", higher_only=True))
    x = _first_present(ok, _leads("attribution", higher_only=True))
    if x is None or y is None:
        return None
    fig = figures.performance_vs_interpretability(ok, order, x, y)
    caption = (f"{y} vs {x}: one small point per seed, a large cross per regularizer mean; "
               "the dashed line joins means that no other mean beats on both axes "
               "(up and right is better).")
    return section_block("Performance vs interpretability",
                    figure_block("performance_vs_interpretability", caption, fig))


def attribution_examples(examples: dict, order) -> Section | None:
    fig = figures.attribution_tracks(examples, order) if examples else None
    if fig is None:
        return None
    caption = ("Height of each letter = attribution at the observed base (60 bp window "
               "around the first motif instance, shaded), the same sequence in every row. "
               "A=green, C=blue, G=orange, T=red. Better: tall letters inside the shaded "
               "motif and little attribution outside it.")
    return section_block("Example attribution tracks",
                    figure_block("attribution_tracks", caption, fig))


def seed_stability(folder: ResultsFolder, order, runs) -> Section | None:
    table = stability.stability_table(stability.stability_frames(folder, order, runs)[0],
                                      order)
    if table.empty:
        return None
    return section_block(
        "Stability across seeds",
        Text("How alike the DeepLIFT/SHAP attributions of one regularizer's models are "
             "from seed to seed: the continuous Jaccard similarity of two seeds' tracks "
             "(1 = identical, 0 = unrelated, -1 = opposite), averaged over the positive test "
             "sequences both attributed; one value per pair of seeds. Higher is more "
             "stable. Pairs share seeds, so they are not independent: no p-values."),
        Text(stability.MEASURES), Table(table))


def data_stability(folder: ResultsFolder, order, runs) -> Section | None:
    pairs = stability.stability_frames(folder, order, runs)[1]
    table = stability.fraction_table(pairs, order)
    if table.empty:
        return None
    share = ", ".join(f"{f:g}" for f in sorted(pairs["fraction"].unique(), reverse=True))
    return section_block(
        "Stability: full data vs a share of it",
        Text(f"Each regularizer and seed was trained again on shares ({share}) of the "
             "training rows (the same rows for every regularizer of a seed, each smaller "
             "share inside the larger; validation and test unchanged). The continuous "
             "Jaccard similarity of the two models' DeepLIFT/SHAP tracks on the positive "
             "test sequences, averaged over sequences: one value per seed. Higher means "
             "the model trained on little data learned more like the full-data one. "
             "auROC drop: mean test auROC of the full-data models minus that of the share "
             "models (lower is better). Performance and interpretability of the share "
             "models are in results_fraction.csv."),
        Text(stability.MEASURES), Table(table))


def method_ranking(ok: pd.DataFrame, order) -> Section | None:
    """Per attribution method, the regularizers ranked on the interpretability lead
    metric (the registry's ``lead``: motif auPRC, else peak auPRC, ...): does the
    ranking hold under every method, or does a prior only look good under the method
    it penalises?"""
    import scipy.stats
    metric = next((m for m in lead_metrics("attribution") if m in ok and ok[m].notna().any()),
                  None)
    if metric is None:
        return None
    direction = stats.metric_info(metric).direction
    columns = {METHOD_LABELS.get(method, method): prefix + metric
               for method, prefix in METHOD_PREFIXES.items()
               if prefix + metric in ok and ok[prefix + metric].notna().any()}
    if len(columns) < 2:
        return None
    regs = [r for r in order if r in set(ok["regularizer"])]
    if len(regs) < 2:   # nothing to rank
        return None
    means = ok.groupby("regularizer")[list(columns.values())].mean().reindex(regs)
    ranks = _lower_is_better(means, direction).rank(method="min")
    table = pd.DataFrame({"regularizer": regs})
    for label, column in columns.items():
        table[label] = [f"{int(r)} ({m:.3g})" if pd.notna(r) else "–"
                        for r, m in zip(ranks[column], means[column])]
    best = {label: ranks[column].idxmin() for label, column in columns.items()}
    first = next(iter(columns))
    taus = []
    for label, column in list(columns.items())[1:]:
        tau = scipy.stats.kendalltau(ranks[columns[first]], ranks[column]).statistic
        taus.append(f"{label} {tau:.2f}")
    changes = len(set(best.values())) > 1
    verdict = ("The ranking changes with the method: the best is " + "; ".join(
        f"{reg} under {label}" for label, reg in best.items()) + "." if changes else
        f"Every method puts {best[first]} first.")
    return section_block(
        "Ranking per attribution method",
        Text(f"Regularizers ranked on {stats.metric_info(metric).label} "
             f"({stats.metric_info(metric).better}) under each attribution method (rank, "
             "then the mean over seeds). A prior that ranks high only under the method it "
             "penalises (input×gradient, for the attribution priors) is suspect. "
             + verdict + f" Kendall's τ of each method's ranking with {first}'s: "
             + ", ".join(taus) + "."),
        Table(table, f"Rank per method on {stats.metric_info(metric).label} (1 = best)"))


def cost_frame(ok: pd.DataFrame, order) -> pd.DataFrame:
    """Per regularizer: what a training step costs (seconds, peak MiB, extra backward
    passes; means over seeds) and its ratio to none's measured in the same run, beside
    its gain over none (difference of means, turned so that + is better) in the first
    performance and the first interpretability lead metric present (the registry's
    ``lead``: test auROC; motif auPRC, else peak auPRC, ...)."""
    if "step_seconds" not in ok or ok["step_seconds"].isna().all():
        return pd.DataFrame()
    gains = [c for c in (_first_present(ok, _leads("performance")),
                         _first_present(ok, lead_metrics("attribution"))) if c is not None]
    means = ok.groupby("regularizer")[[c for c in ("step_seconds", "peak_mib",
                                                    "extra_backward", "epochs", *gains)
                                       if c in ok]].mean()
    base = means.loc[BASELINE] if BASELINE in means.index else None
    rows = []
    for reg in [r for r in order if r in means.index]:
        m = means.loc[reg]
        row = {"regularizer": reg, "s/step": fmt(m["step_seconds"], 3),
               "× none (time)": _ratio(m, base, "step_seconds"),
               "peak MiB": fmt(m.get("peak_mib"), 3),
               "× none (memory)": _ratio(m, base, "peak_mib"),
               "extra backward passes": fmt(m.get("extra_backward"), 2),
               "epochs": fmt(m.get("epochs"), 3)}
        for gain in gains if base is not None else ():
            info = stats.metric_info(gain)
            better = (_lower_is_better(base[gain], info.direction)
                      - _lower_is_better(m[gain], info.direction))
            row[f"{info.label} gain"] = f"{better:+.3f}"
        rows.append(row)
    return pd.DataFrame(rows)


def _ratio(row, base, column: str) -> str:
    if base is None or column not in row or not base.get(column):
        return "–"
    return f"{row[column] / base[column]:.2f}"


def cost(ok: pd.DataFrame, order) -> Section | None:
    table = cost_frame(ok, order)
    if table.empty:
        return None
    fig = figures.cost_vs_gain(table)
    caption = ("Each regularizer's gain over none (difference of means over seeds; up is "
               "better) against what a training step costs relative to none's in this run "
               "(right is dearer). The dashed line is none.")
    return section_block(
        "Cost beside gains",
        Text("Seconds per training step (training passes only, the first epoch's warm-up "
             "left out), the peak extra memory torch allocated during the run's first step "
             "(CUDA: max_memory_allocated; CPU: the allocator's live bytes from "
             "torch.profiler), and the backward passes a step makes beyond the loss's own "
             "(an attribution prior adds the input-gradient pass that double backprop "
             "differentiates). Ratios are to none in the same run, on the same machine."),
        Table(table, "Cost and gain per regularizer (means over seeds)"),
        figure_block("cost_vs_gain", caption, fig))


def training(history: pd.DataFrame | None, order) -> Section | None:
    fig = figures.training_curves(history, order) if history is not None else None
    if fig is None:
        return None
    return section_block("Training curves", figure_block(
        "training_curves", "Validation correctness loss per epoch (mean ± sd over seeds; "
        "lower is better). Curves end where early stopping ended the runs.", fig))


def footer(folder: ResultsFolder) -> Section:
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    blocks = [Text(f"Written by regbench {__version__} at {now} from {folder.path}.")]
    if folder.notes:
        blocks.append(Bullets(folder.notes))
    return section_block("About this report", *blocks)


def report_order(folder: ResultsFolder) -> list[str]:
    """The regularizers of the folder, none first, then in the config's order."""
    return stats.order_regularizers(folder.results["regularizer"],
                                    folder.config.get("regularizers") or ())


def build_sections(folder: ResultsFolder, statistics: pd.DataFrame | None = None
                   ) -> tuple[str, list[Section]]:
    """Title and sections of the whole report, in reading order (the verdict first, then
    the run's details). ``statistics``: the
    folder's ``inference.statistics_table``, computed here when not given."""
    results = folder.results
    order = report_order(folder)
    if statistics is None:
        statistics = inference.statistics_table(
            results, folder.per_sequence, order,
            inference.folder_endpoint(folder.config, results)[0])
    metrics = stats.metric_columns(results)
    ok = stats.ok_runs(results)
    title = f"regbench report: {folder.config.get('preset', folder.path.name)}"
    attributions = stability.load_attributions(folder)  # read once, used by two sections
    sections = [verdict.verdict(folder, order, statistics, chosen_lambdas(folder, order)),
                header(folder, order), summary(folder, metrics, order),
                performance_vs_interpretability(ok, order),
                seed_distributions(results, metrics, order, statistics),
                seed_stability(folder, order, attributions),
                data_stability(folder, order, attributions),
                sequence_comparisons(folder.per_sequence, order, statistics),
                method_ranking(ok, order),
                attribution_examples(folder.examples, order), cost(ok, order),
                training(folder.history, order), lambda_search(folder, order),
                pareto_search(folder, order),
                footer(folder)]
    return title, [s for s in sections if s is not None]
