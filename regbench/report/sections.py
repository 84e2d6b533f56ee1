"""Build the report's sections from a loaded results folder (no file I/O here)."""
from __future__ import annotations

import math
from datetime import datetime, timezone

import pandas as pd

from regbench import __version__
from regbench.report import figures, stability, stats, verdict
from regbench.report.load import ResultsFolder
from regbench.report.render import Bullets, Figure, Section, Table, Text, figure_png
from regbench.metrics import get_metric, lead_metrics, sequence_metrics
from regbench.record import COST, RUN_RECORD
from regbench.report.stats import BASELINE, FAMILY_PRINCIPLE, format_ci, format_p, format_signed
from regbench.store import (METHOD_LABELS, METHOD_PREFIXES, method_prefix, mixed_settings,
                            split_column)
NOT_TUNED = "λ was not tuned: each regularizer used its documented default λ."


def _figure(slug: str, caption: str, fig) -> Figure | None:
    return None if fig is None else Figure(slug, caption, figure_png(fig))


def _section(title: str, *blocks) -> Section:
    return Section(title, [b for b in blocks if b is not None])


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}g}" if isinstance(value, (int, float)) else str(value)


# --- header ----------------------------------------------------------------------

def lambda_sources(folder: ResultsFolder, order) -> dict[str, str]:
    """Regularizer -> "default" | "tuned" | "user", from config.json or results.csv."""
    sources = dict(folder.config.get("lambda_source") or {})
    if "lambda_source" in folder.results:
        first = folder.results.groupby("regularizer")["lambda_source"].first()
        sources = {**first.astype(str).to_dict(), **sources}
    return {r: str(sources.get(r, "unknown")) for r in order}


def chosen_lambdas(folder: ResultsFolder, order) -> dict[str, float | None]:
    lambdas = dict(folder.config.get("lambdas") or {})
    if "lambda" in folder.results:
        first = folder.results.groupby("regularizer")["lambda"].first()
        lambdas = {**first.to_dict(), **lambdas}
    return {r: lambdas.get(r) for r in order}


def lambda_sentence(sources: dict[str, str]) -> str:
    if sources and all(s in ("default", "registry") for s in sources.values()):
        return NOT_TUNED
    parts = []
    for kind in dict.fromkeys(sources.values()):
        names = [r for r, s in sources.items() if s == kind]
        if kind != "unknown":
            parts.append(_source_phrase(kind).format(", ".join(names)))
    return ("; ".join(parts) or "the source of λ is not recorded") + "."


def _source_phrase(source: str) -> str:
    """How λ was set, with {} for the regularizers (results.csv's lambda_source, in
    the words of earlier regbench versions too)."""
    fixed = {"default": "λ was not tuned for {}: they used their documented default λ",
             "registry": "λ was not tuned for {}: they used their documented default λ",
             "tuned": "λ was tuned with Optuna for {}",
             "user": "λ was set by the user for {}", "--lambda": "λ was set by the user for {}",
             "paper rule": "λ was set by the paper's rule for {}",
             "scale rule": "λ was set by the scale rule for {} (λ × the penalty on a trained "
                           "none model = none's validation loss)"}
    if source in fixed:
        return fixed[source]
    if source.startswith("tuned ("):
        return f"λ was tuned with Optuna for {{}} {source[len('tuned '):]}"
    return f"λ for {{}}: {source}"


def _duration(seconds) -> str:
    try:
        seconds = float(seconds)
    except (TypeError, ValueError):
        return "–"
    h, rest = divmod(int(round(seconds)), 3600)
    return f"{h}h {rest // 60:02d}m {rest % 60:02d}s"


def _split_sizes(sizes) -> str:
    """'; train 678 (342 positive), ...' from config.json, or '' when not recorded."""
    if not isinstance(sizes, dict):
        return ""
    parts = [f"{name} {v.get('sequences')} ({v.get('positives')} positive)"
             for name, v in sizes.items() if isinstance(v, dict)]
    return "; " + ", ".join(parts) if parts else ""


def header(folder: ResultsFolder, order) -> Section:
    cfg = folder.config
    model = cfg.get("model") or {}
    model_text = ", ".join(f"{k}={v}" for k, v in model.items()) if isinstance(
        model, dict) else str(model)
    diff = str(cfg.get("paper_differences") or "").strip() or (
        "none: this is the paper's preset" if cfg.get("preset") == "paper"
        else "not recorded in config.json")
    info = Bullets([
        f"Preset: {cfg.get('preset', 'unknown')}",
        f"Data: {cfg.get('data', 'unknown')}",
        f"Split: {cfg.get('split', 'not recorded in config.json')}"
        + _split_sizes(cfg.get("split_sizes")),
        f"Device: {cfg.get('device', 'unknown')}",
        f"Model: {model_text or 'unknown'}",
        f"Regularizers: {', '.join(order)}",
        f"Seeds per regularizer: {cfg.get('seeds', 'unknown')}",
        f"Last invocation: started {cfg.get('started', '?')}, finished "
        f"{cfg.get('finished', '?')} (wall time {_duration(cfg.get('wall_seconds'))}; runs "
        "stored by an earlier one are reused, their training time is in results.csv)",
        f"How this preset differs from the paper's sizes: {diff}",
        f"λ protocol: {cfg.get('lambda_protocol', 'not recorded in config.json')}",
        *_definition_lines(cfg),
    ])
    sources, lambdas = lambda_sources(folder, order), chosen_lambdas(folder, order)
    table = Table(pd.DataFrame({"regularizer": order,
                                "λ": [_fmt(lambdas[r], 4) for r in order],
                                "λ source": [sources[r] for r in order]}), "λ per regularizer")
    intro = Text(f"This report compares {len(order)} regularizers, produced by the "
                 f"'{cfg.get('preset', 'unknown')}' preset on {cfg.get('data', 'unknown data')} "
                 f"({cfg.get('device', 'unknown device')}).")
    missing = None if cfg else Text("config.json is missing: run details are unknown.")
    return _section("Run", intro, missing, *settings_warnings(folder), info,
                    Text(lambda_sentence(sources)), table)


def _definition_lines(cfg: dict) -> list[str]:
    """The run's definitions that config.json records (docs/profile.md): the explained
    output and the frequency cut-off rule; absent keys (older runs) give no line."""
    lines = []
    if cfg.get("explained_output"):
        lines.append(f"Explained output (attributions and the prior): "
                     f"{cfg['explained_output']}")
    if cfg.get("freq_limit_rule"):
        lines.append(f"Frequency cut-off: {cfg['freq_limit_rule']}")
    return lines


def settings_warnings(folder: ResultsFolder) -> list[Text]:
    """A warning per table whose runs were trained with different threads, devices or
    models per group (``store.mixed_settings``)."""
    tables = (("results.csv", folder.results), ("results_fraction.csv",
                                                 folder.fraction_results))
    lines = [(name, mixed_settings(frame)) for name, frame in tables if frame is not None]
    return [Text(f"Warning ({name}): {line}.") for name, line in lines if line]


# --- summary ---------------------------------------------------------------------

def summary_frame(results: pd.DataFrame, metrics, order) -> pd.DataFrame:
    """Metrics as rows, regularizers as columns, 'mean ± sd' cells."""
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
            cell = summary.loc[(reg, metric)]
            row[reg] = ("failed" if n_ok[reg] == 0
                        else stats.format_mean_sd(cell["mean"], cell["sd"]))
        rows.append(row)
    return pd.DataFrame(rows)


def summary(folder: ResultsFolder, metrics, order) -> Section:
    results = folder.results
    failed = results[results["status"].astype(str).str.strip() != "ok"]
    failed_table = None if failed.empty else Table(
        failed[["regularizer", "seed", "status"]].astype(str), "Failed runs (left out of "
        "every statistic)")
    return _section(
        "Summary", Text("Mean ± sample standard deviation over the seeds that finished "
                        "(n in the 'runs' row); failed runs are excluded. Interpretability "
                        "metrics use DeepLIFT/SHAP attributions, their ixg_ versions "
                        "input×gradient (results.csv: the method column); each is the mean over the attributed positive "
                        "test sequences, except motif_auprc, which pools all their "
                        "positions into one ranking (the paper authors' measure). "
                        "Definitions: docs/metrics.md."),
        Table(summary_frame(results, metrics, order)), failed_table)


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
    return _section("Performance vs interpretability",
                    _figure("performance_vs_interpretability", caption, fig))


def _metric_groups(metrics) -> list[tuple[str, str, list[str]]]:
    performance, known = stats.performance_columns(), stats.known_metrics()
    cost = [m for m in metrics if RUN_RECORD.role(m) == COST]
    attribution = [m for m in metrics if m not in performance and m not in cost
                   and split_column(m)[0] in known]
    methods = dict.fromkeys(split_column(m)[1] for m in attribution)
    groups = [("performance", "Performance", [m for m in metrics if m in performance])]
    groups += [("_".join(filter(None, ("interpretability", method_prefix(method).rstrip("_")))),
                f"Interpretability ({METHOD_LABELS.get(method, method)})",
                [m for m in attribution if split_column(m)[1] == method]) for method in methods]
    groups.append(("cost", "Training cost", cost))
    known = {m for _, _, ms in groups for m in ms}
    groups.append(("other", "Other metrics", [m for m in metrics if m not in known]))
    return [g for g in groups if g[2]]


FAMILY_TEXT = ("p-values are two-sided and Holm-adjusted within each family of tests "
               "(family-wise error rate 0.05). A family is one regularizer against none "
               "on one level (across seeds, or across sequences) and one attribution "
               "method, or the performance metrics: every outcome metric of that table. "
               + FAMILY_PRINCIPLE + " Training cost (epochs, seconds) and the "
               "validation loss that λ was selected on are not tested (test loss is the "
               "fair comparison). For GC reliance, whose best value is 0, |GC reliance| "
               "is compared. 'better' = adjusted p < 0.05 and the effect favours the "
               "regularizer. Every test is in statistics.csv.")


def _test_table(tests: pd.DataFrame, caption: str, extra: dict) -> Table:
    frame = pd.DataFrame({
        "regularizer": tests["regularizer"], "metric": tests["metric"], **extra,
        "difference (reg − none)": tests["difference"].map(format_signed),
        "effect size (rank-biserial r)": tests["effect_size"].map(lambda v: f"{v:+.2f}"),
        "p": tests["p_value"].map(format_p), "p (Holm)": tests["p_adjusted"].map(format_p),
        "better": tests["better"]})
    return Table(frame, caption)


def _seed_test_table(tests: pd.DataFrame) -> Table:
    smallest = [format_p(stats.smallest_p(row)) for _, row in tests.iterrows()]
    return _test_table(tests, "Each regularizer vs none across seeds: exact Wilcoxon "
                       "signed-rank on the per-seed differences where the seeds pair up, "
                       "Mann-Whitney U where they do not (difference: mean paired "
                       "difference, or difference of means, with its 95% t-interval)",
                       {"method": tests["method"].map(lambda m: METHOD_LABELS.get(m, m or "–")),
                        "test": tests["test"].map(
                            {"wilcoxon_seeds": "paired", "mann_whitney": "unpaired"}),
                        "n seeds": tests["n"].astype(int),
                        "n seeds none": tests["n_none"].astype(int),
                        "n pairs": tests["n_pairs"].astype(int),
                        "95% CI": [format_ci(lo, hi) for lo, hi in
                                   zip(tests["ci_low"], tests["ci_high"])],
                        "smallest attainable p": smallest})


def _directions(columns) -> str:
    """'label: which way is better' of each column, for a caption."""
    return "; ".join(f"{stats.metric_info(c).label}: {stats.metric_info(c).better}"
                     for c in columns) + "."


def seed_distributions(results: pd.DataFrame, metrics, order,
                       statistics: pd.DataFrame) -> Section:
    ok = stats.ok_runs(results)
    tests = statistics[statistics["test"].isin(stats.SEED_TESTS)]
    pvalues = stats.pvalue_lookup(statistics, stats.SEED_TESTS)
    blocks = [Text("Each point is one seed's model; boxes show the spread across seeds. "
                   "Seeds are paired: one seed gives every regularizer the same "
                   "initialisation, batch order and split, so each regularizer's value "
                   "minus none's of the same seed is one paired difference. Tick labels "
                   "carry the Holm-adjusted two-sided exact Wilcoxon signed-rank p-value of "
                   "those differences (Mann-Whitney U where the two sides do not hold the "
                   "same seeds) where both have at least 2 finished seeds. With n paired "
                   "seeds even n differences of one sign give p = 2 / 2^n at best (the "
                   "column 'smallest attainable p', before adjustment). " + FAMILY_TEXT)]
    if BASELINE not in order:
        blocks.append(Text("There is no 'none' run, so there are no tests against the "
                           "baseline."))
    for slug, title, group in _metric_groups(metrics):
        fig = figures.metric_distributions(ok, group, order, pvalues, title)
        blocks.append(_figure(f"distributions_{slug}", f"{title} across seeds. "
                              + _directions(group), fig))
    if not tests.empty:
        blocks.append(_seed_test_table(tests))
    return _section("Per-metric distributions across seeds", *blocks)


def sequence_comparisons(per_seq: pd.DataFrame | None, order,
                         statistics: pd.DataFrame) -> Section | None:
    if per_seq is None or per_seq.empty:
        return None
    metrics = [m for m in sequence_metrics() if m in per_seq]
    means = per_seq.groupby(["method", "regularizer", "sequence"], as_index=False)[
        metrics].mean()
    blocks = [Text("Per-sequence metrics, each sequence's value averaged over the seeds of "
                   "a regularizer. Tick labels carry the Holm-adjusted Wilcoxon signed-rank "
                   "p-value of each regularizer vs none on the same sequences; the "
                   "difference is the median paired difference. motif_auprc_per_sequence "
                   "is each sequence's average precision, the paired-test variant of the "
                   "pooled motif auPRC in the summary. " + FAMILY_TEXT)]
    present = set(per_seq["method"].astype(str))
    methods = [m for m in METHOD_LABELS if m in present] + sorted(present - set(METHOD_LABELS))
    for method in methods:
        name = METHOD_LABELS.get(method, method)
        fig = figures.sequence_distributions(
            means[means["method"] == method], metrics, order,
            stats.pvalue_lookup(statistics, "wilcoxon", method),
            f"Per-sequence metrics, {name}, mean over seeds")
        blocks.append(_figure(f"per_sequence_{method}", f"{name} per-sequence metrics "
                              "(mean over seeds). " + _directions(metrics), fig))
        tests = statistics[(statistics["test"] == "wilcoxon")
                           & (statistics["method"] == method)]
        if not tests.empty:
            blocks.append(_test_table(
                tests, f"Wilcoxon signed-rank vs none, {name}, sequences paired (median "
                "paired difference)", {"paired sequences": tests["n"]}))
    return _section("Per-sequence comparisons", *blocks)


def attribution_examples(examples: dict, order) -> Section | None:
    fig = figures.attribution_tracks(examples, order) if examples else None
    if fig is None:
        return None
    caption = ("Height of each letter = attribution at the observed base (60 bp window "
               "around the first motif instance, shaded), the same sequence in every row. "
               "A=green, C=blue, G=orange, T=red. Better: tall letters inside the shaded "
               "motif and little attribution outside it.")
    return _section("Example attribution tracks",
                    _figure("attribution_tracks", caption, fig))


def seed_stability(folder: ResultsFolder, order, runs) -> Section | None:
    table = stability.stability_table(stability.seed_pairs(folder, order, runs), order)
    if table.empty:
        return None
    return _section(
        "Stability across seeds",
        Text("How alike the DeepLIFT/SHAP attributions of one regularizer's models are "
             "from seed to seed: the continuous Jaccard similarity of two seeds' tracks "
             "(1 = identical, 0 = unrelated, -1 = opposite), averaged over the positive test "
             "sequences both attributed; one value per pair of seeds. Higher is more "
             "stable. Pairs share seeds, so they are not independent: no p-values."),
        Table(table))


def data_stability(folder: ResultsFolder, order, runs) -> Section | None:
    pairs = stability.fraction_pairs(folder, order, runs)
    table = stability.fraction_table(pairs, order)
    if table.empty:
        return None
    share = ", ".join(f"{f:g}" for f in sorted(pairs["fraction"].unique(), reverse=True))
    return _section(
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
        Table(table))


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
    return _section(
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
        row = {"regularizer": reg, "s/step": _fmt(m["step_seconds"], 3),
               "× none (time)": _ratio(m, base, "step_seconds"),
               "peak MiB": _fmt(m.get("peak_mib"), 3),
               "× none (memory)": _ratio(m, base, "peak_mib"),
               "extra backward passes": _fmt(m.get("extra_backward"), 2),
               "epochs": _fmt(m.get("epochs"), 3)}
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
    return _section(
        "Cost beside gains",
        Text("Seconds per training step (training passes only, the first epoch's warm-up "
             "left out), the peak extra memory torch allocated during the run's first step "
             "(CUDA: max_memory_allocated; CPU: the allocator's live bytes from "
             "torch.profiler), and the backward passes a step makes beyond the loss's own "
             "(an attribution prior adds the input-gradient pass that double backprop "
             "differentiates). Ratios are to none in the same run, on the same machine."),
        Table(table, "Cost and gain per regularizer (means over seeds)"),
        _figure("cost_vs_gain", caption, fig))


def training(history: pd.DataFrame | None, order) -> Section | None:
    fig = figures.training_curves(history, order) if history is not None else None
    if fig is None:
        return None
    return _section("Training curves", _figure(
        "training_curves", "Validation correctness loss per epoch (mean ± sd over seeds; "
        "lower is better). Curves end where early stopping ended the runs.", fig))


def lambda_search(folder: ResultsFolder, order) -> Section | None:
    search = folder.lambda_search
    if search is None or search.empty:
        return None
    fig = figures.lambda_search(search, order, chosen_lambdas(folder, order))
    if fig is None:
        return None
    notes = search_notes(folder, order)
    return _section("λ search", _figure(
        "lambda_search", "Validation correctness loss (lower is better) per trial λ: "
        "the loss protocol's objective, the constrained protocol's constraint (within "
        "none's seed noise); the dashed line marks the λ used for the runs above.", fig),
        Bullets(notes) if notes else None)


def search_notes(folder: ResultsFolder, order) -> list[str]:
    """Per searched regularizer: chosen λ at the edge of its range, or a λ curve flat
    within the seed-to-seed noise of the validation loss (``tune.notes.search_notes``)."""
    from regbench.errors import RegbenchError
    from regbench.regularizers import get_spec
    from regbench.tune.notes import search_notes as notes_of

    ok, chosen = stats.ok_runs(folder.results), chosen_lambdas(folder, order)
    lines = []
    for reg in order:
        trials = folder.lambda_search[folder.lambda_search["regularizer"] == reg]
        if trials.empty or chosen.get(reg) is None:
            continue
        try:
            lambda_range = get_spec(reg).lambda_range
        except RegbenchError:  # a plug-in regularizer not installed here
            lambda_range = None
        noise = ok.loc[ok["regularizer"] == reg, "val_loss"].std(ddof=1)
        lines += [f"{reg}: {note}." for note in notes_of(trials, lambda_range,
                                                          float(chosen[reg]), noise)]
    return lines


def pareto_search(folder: ResultsFolder, order) -> Section | None:
    trials = folder.pareto
    if trials is None or trials.empty:
        return None
    fig = figures.pareto_search(trials, order)
    return None if fig is None else _section("λ search: Pareto front", _figure(
        "pareto_front", "Each point is one λ trial (colour: log10 λ), scored on validation "
        "data (lower loss and higher motif auPRC are better); the dashed line joins the trials no other trial beats on both objectives; "
        "the red cross is the λ used for the runs above.", fig))


def footer(folder: ResultsFolder) -> Section:
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    blocks = [Text(f"Written by regbench {__version__} at {now} from {folder.path}.")]
    if folder.notes:
        blocks.append(Bullets(folder.notes))
    return _section("About this report", *blocks)


def report_order(folder: ResultsFolder) -> list[str]:
    """The regularizers of the folder, none first, then in the config's order."""
    return stats.order_regularizers(folder.results["regularizer"],
                                    folder.config.get("regularizers") or ())


def build_sections(folder: ResultsFolder, statistics: pd.DataFrame | None = None
                   ) -> tuple[str, list[Section]]:
    """Title and sections of the whole report, in reading order (the verdict first, then
    the run's details). ``statistics``: the
    folder's ``stats.statistics_table``, computed here when not given."""
    results = folder.results
    order = report_order(folder)
    if statistics is None:
        statistics = stats.statistics_table(results, folder.per_sequence, order)
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
