"""The report's comparison sections: each metric across seeds (figures and the table of
every seed-level comparison with none, the primary endpoint's test among them) and the
per-sequence metrics with their hierarchical-bootstrap intervals."""
from __future__ import annotations

import pandas as pd

from regbench.metrics import sequence_metrics
from regbench.metrics.statistics import BOOTSTRAP_RESAMPLES
from regbench.store.record import COST, RUN_RECORD
from regbench.report import figures, inference, stats
from regbench.report.blocks import figure_block, section_block
from regbench.report.render import Section, Table, Text
from regbench.report.stats import BASELINE, format_ci, format_p, format_signed
from regbench.store.runs import METHOD_LABELS, method_prefix, split_column


def metric_groups(metrics) -> list[tuple[str, str, list[str]]]:
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


FAMILY_TEXT = (stats.FAMILY_PRINCIPLE + " The primary endpoint's p is the two-sided paired "
               "t-test of the per-seed differences and q its Benjamini-Hochberg "
               "adjustment; ★ = q <= 0.05 and better than none, ▼ = q <= 0.05 and worse. "
               "The performance metric the endpoint is held to is non-inferior when its "
               "95% interval's worse end stays within the declared margin. Training cost "
               "(epochs, seconds) and the validation loss that λ was selected on are not "
               "compared (test loss is the fair comparison). For GC reliance, whose best "
               "value is 0, |GC reliance| is compared. Every comparison is in "
               "statistics.csv.")
ROLE_RESULT = {"primary": lambda r: {"yes": "★ better", "worse": "▼ worse",
                                     inference.UNCONVERGED: "not starred"}.get(r["better"],
                                                                               "no"),
               "non-inferiority": lambda r: {"yes": "non-inferior",
                                             "no": "not shown non-inferior"}.get(
                   r["non_inferior"], "–"),
               "secondary": lambda r: "–"}


def _seed_test_table(tests: pd.DataFrame) -> Table:
    seeds_better = [f"{int(k)} of {int(n)}" if not pd.isna(k) else "–"
                    for k, n in zip(tests["n_better"], tests["n_pairs"])]
    frame = pd.DataFrame({
        "regularizer": tests["regularizer"], "metric": tests["metric"],
        "method": tests["method"].map(lambda m: METHOD_LABELS.get(m, m or "–")),
        "role": tests["role"],
        "pairing": tests["test"].map({"paired_t": "paired", "welch_t": "unpaired"}),
        "n seeds": tests["n"].astype(int), "n seeds none": tests["n_none"].astype(int),
        "seeds better": seeds_better,
        "difference (reg − none)": tests["mean_difference"].map(format_signed),
        "95% CI": [format_ci(lo, hi) for lo, hi in zip(tests["ci_low"], tests["ci_high"])],
        "p (t-test)": tests["p_value"].map(format_p),
        "q (BH)": tests["p_adjusted"].map(format_p),
        "result": [ROLE_RESULT[r["role"]](r) + _unconverged(r)
                   for r in tests.to_dict("records")]})
    return Table(frame, "Each regularizer vs none across seeds: the mean paired difference "
                 "(or the difference of means, where the seeds do not pair up) with its 95% "
                 "t-interval; the primary endpoint alone tested (paired t-test, "
                 "Benjamini-Hochberg over every regularizer), every other metric secondary")


def _unconverged(row) -> str:
    """' † (k of n models did not converge)' for a comparison resting on such models."""
    return (f" {inference.DAGGER} ({row['unconverged']} models did not converge)"
            if inference.marked(row.get("unconverged")) else "")


def _directions(columns) -> str:
    """'label: which way is better' of each column, for a caption."""
    return "; ".join(f"{stats.metric_info(c).label}: {stats.metric_info(c).better}"
                     for c in columns) + "."


def seed_distributions(results: pd.DataFrame, metrics, order,
                       statistics: pd.DataFrame) -> Section:
    ok = stats.ok_runs(results)
    tests = statistics[statistics["test"].isin(inference.SEED_TESTS)]
    notes = inference.tick_notes(statistics, inference.SEED_TESTS)
    blocks = [Text("Each point is one seed's model; boxes show the spread across seeds. "
                   "Seeds are paired: one seed gives every regularizer the same "
                   "initialisation, batch order and split, so each regularizer's value "
                   "minus none's of the same seed is one paired difference. Under each "
                   "name: for the primary endpoint the Benjamini-Hochberg q of the paired "
                   "t-test with ★ or ▼; for every other metric the 95% t-interval of the "
                   "mean difference from none (Welch's where the two sides do not hold "
                   "the same seeds), where both have at least 2 finished seeds. "
                   + FAMILY_TEXT)]
    if BASELINE not in order:
        blocks.append(Text("There is no 'none' run, so there are no tests against the "
                           "baseline."))
    for slug, title, group in metric_groups(metrics):
        fig = figures.metric_distributions(ok, group, order, notes, title)
        blocks.append(figure_block(f"distributions_{slug}", f"{title} across seeds. "
                              + _directions(group), fig))
    if not tests.empty:
        blocks.append(_seed_test_table(tests))
    return section_block("Per-metric distributions across seeds", *blocks)


def _sequence_table(rows: pd.DataFrame, name: str) -> Table:
    frame = pd.DataFrame({
        "regularizer": rows["regularizer"], "metric": rows["metric"],
        "paired seeds": rows["n"].astype(int), "sequences": rows["n_sequences"].astype(int),
        "difference (reg − none)": rows["mean_difference"].map(format_signed),
        "95% CI (hierarchical bootstrap)": [format_ci(lo, hi) for lo, hi in
                                            zip(rows["ci_low"], rows["ci_high"])]})
    return Table(frame, f"Per-sequence differences from none, {name}: mean over seeds of "
                 "each seed's mean paired difference, with its hierarchical-bootstrap 95% "
                 "interval (secondary)")


def sequence_comparisons(per_seq: pd.DataFrame | None, order,
                         statistics: pd.DataFrame) -> Section | None:
    if per_seq is None or per_seq.empty:
        return None
    metrics = [m for m in sequence_metrics() if m in per_seq]
    means = per_seq.groupby(["method", "regularizer", "sequence"], as_index=False)[
        metrics].mean()
    blocks = [Text("Per-sequence metrics, each sequence's value averaged over the seeds of "
                   "a regularizer in the boxes. The sequences are not replicates of the "
                   "comparison: they are nested in the seeds' models, so the interval "
                   "under each name (and in the tables) is a hierarchical bootstrap of the "
                   "paired differences (regularizer − none, same seed and sequence): "
                   f"{BOOTSTRAP_RESAMPLES} resamples, each drawing seeds with replacement "
                   "(the same seeds for both sides), then sequences with replacement within "
                   "each drawn seed; the 95% percentile interval, from a fixed generator "
                   "seed. It widens with the spread between seeds; one seed gives no "
                   "interval. No p-values: these are secondary. motif_auprc_per_sequence "
                   "is each sequence's average precision, the per-sequence variant of the "
                   "pooled motif auPRC in the summary.")]
    present = set(per_seq["method"].astype(str))
    methods = [m for m in METHOD_LABELS if m in present] + sorted(present - set(METHOD_LABELS))
    for method in methods:
        name = METHOD_LABELS.get(method, method)
        fig = figures.sequence_distributions(
            means[means["method"] == method], metrics, order,
            inference.tick_notes(statistics, inference.BOOTSTRAP, method),
            f"Per-sequence metrics, {name}, mean over seeds")
        blocks.append(figure_block(f"per_sequence_{method}", f"{name} per-sequence metrics "
                              "(mean over seeds). " + _directions(metrics), fig))
        rows = statistics[(statistics["test"] == inference.BOOTSTRAP)
                          & (statistics["method"] == method)]
        if not rows.empty:
            blocks.append(_sequence_table(rows, name))
    return section_block("Per-sequence comparisons", *blocks)
