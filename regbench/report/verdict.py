"""The verdict that opens the main report: each regularizer against ``none`` on the
headline metrics, paired by seed, with the λ protocol the numbers were made under.

Read from the seed-level rows of the statistics table (``stats.statistics_table``), so
the verdict, statistics.csv and the sections below it show the same tests and the same
Holm-adjusted p-values.
"""
from __future__ import annotations

import pandas as pd

from regbench.report import stats
from regbench.report.load import ResultsFolder
from regbench.report.render import Bullets, Section, Table, Text
from regbench.report.stats import (ALPHA, ARROWS, BASELINE, format_ci, format_p,
                                   format_signed)
from regbench.store import METHOD_LABELS, split_column

STAR = "★"


def lambda_protocol(folder: ResultsFolder) -> str:
    """'λ protocol: NAME' from config.json's lambda_protocol, else results.csv's
    lambda_protocol column (every value it holds), else 'λ protocol: not recorded'."""
    recorded = folder.config.get("lambda_protocol")
    if not recorded and "lambda_protocol" in folder.results:
        values = folder.results["lambda_protocol"].dropna().astype(str)
        recorded = ", ".join(dict.fromkeys(v for v in values if v.strip()))
    from regbench.config import LAMBDA_PROTOCOLS
    explained = LAMBDA_PROTOCOLS.get(recorded or "")
    return f"λ protocol: {recorded or 'not recorded'}" + (f" ({explained})" if explained
                                                          else "")


def header_label(column: str) -> str:
    info = stats.metric_info(column)
    return f"{info.label} {ARROWS.get(info.direction, '')}".strip()


def seed_rows(statistics: pd.DataFrame, columns) -> pd.DataFrame:
    """The seed-level tests (paired, or unpaired where seeds differ) of ``columns``,
    indexed by (regularizer, column)."""
    if statistics is None or statistics.empty:
        return pd.DataFrame()
    rows = statistics[statistics["test"].isin(stats.SEED_TESTS)
                      & statistics["column"].isin(list(columns))]
    return rows.set_index(["regularizer", "column"])


def cell(row) -> str:
    """'+0.0123 [+0.00412, +0.0205], p 0.0312 ★': the mean difference from none, its
    95% interval and the Holm-adjusted p; ★ where the lead is significant."""
    text = (f"{format_signed(row['mean_difference'])} "
            f"{format_ci(row['ci_low'], row['ci_high'])}, p {format_p(row['p_adjusted'])}")
    if row["test"] == "mann_whitney":
        text += " (unpaired)"
    return text + (f" {STAR}" if row["better"] == "yes" else "")


def verdict_frame(results: pd.DataFrame, statistics: pd.DataFrame, order,
                  columns, lambdas: dict | None = None) -> pd.DataFrame:
    """One row per regularizer (none first, with its mean over seeds), one column per
    headline results column: the cells of ``cell``, '–' where no test was run."""
    ok = stats.ok_runs(results)
    tests = seed_rows(statistics, columns)
    rows = []
    for reg in order:
        row = {"regularizer": reg}
        if lambdas is not None:
            row["λ"] = _number(lambdas.get(reg))
        for column in columns:
            if reg == BASELINE:
                values = ok.loc[ok["regularizer"] == reg, column].dropna()
                row[header_label(column)] = (f"{stats.format_number(values.mean())} (mean)"
                                             if len(values) else "–")
            else:
                row[header_label(column)] = (cell(tests.loc[(reg, column)])
                                             if (reg, column) in tests.index else "–")
        rows.append(row)
    return pd.DataFrame(rows)


def _number(value) -> str:
    try:
        return stats.format_number(float(value))
    except (TypeError, ValueError):
        return "–"


def findings(statistics: pd.DataFrame, order, columns) -> list[str]:
    """One sentence per significant difference from none (Holm p < ALPHA), better or
    worse, in table order."""
    tests = seed_rows(statistics, columns)
    lines = []
    for reg in order:
        for column in columns:
            if (reg, column) not in tests.index:
                continue
            row = tests.loc[(reg, column)]
            if not row["p_adjusted"] < ALPHA:
                continue
            info = stats.metric_info(column)
            better = row["better"] == "yes"
            name = f"|{info.label}|" if info.direction == "zero" else info.label
            pairs = (f"{int(row['n_pairs'])} paired seeds" if row["test"] != "mann_whitney"
                     else f"{int(row['n'])} vs {int(row['n_none'])} unpaired seeds")
            lines.append(
                f"{STAR + ' ' if better else ''}{reg} is {'better' if better else 'worse'} "
                f"than none on {name}: {format_signed(row['mean_difference'])} "
                f"{format_ci(row['ci_low'], row['ci_high'])} (mean difference, 95% CI; "
                f"{pairs}; Holm-adjusted p {format_p(row['p_adjusted'])}).")
    return lines


def reachable(statistics: pd.DataFrame, tests: pd.DataFrame) -> tuple[float, float]:
    """(smallest p the seed ``tests`` allow before correction, smallest Holm-adjusted p
    any of them could reach: its family's size times its floor, at most 1)."""
    sizes = statistics.loc[statistics["p_value"].notna()].groupby("family").size()
    floors = [stats.smallest_p(row) for _, row in tests.iterrows()]
    adjusted = [min(1.0, f * sizes.get(family, 1)) for f, family in
                zip(floors, tests["family"])]
    return min(floors), min(adjusted)


def nothing_significant(statistics: pd.DataFrame, columns) -> str:
    """Why nothing is starred: the smallest p the seeds allow, before and after Holm."""
    tests = seed_rows(statistics, columns).reset_index()
    if tests.empty:
        return ("No difference from none was tested across seeds: a test needs at least 2 "
                "finished seeds on each side.")
    floor, adjusted = reachable(statistics, tests)
    pairs = int(tests["n_pairs"].min())
    seeds = (f"With {pairs} paired seeds the smallest two-sided p is 2 / 2^{pairs} = "
             if (tests["test"] == "wilcoxon_seeds").all()
             else "The smallest two-sided p these tests can reach is ")
    return (f"No regularizer differs significantly from none on a headline metric "
            f"(Holm-adjusted p < {ALPHA}). {seeds}{format_p(floor)} before correction, "
            f"and Holm's correction over its family leaves at best {format_p(adjusted)}"
            + (": no difference could have been significant; more seeds make a real one "
               "testable." if adjusted >= ALPHA else "."))


def verdict(folder: ResultsFolder, order, statistics: pd.DataFrame,
            lambdas: dict | None = None) -> Section:
    """The report's first section: the verdict table, a sentence per significant
    finding (or why there is none), and the λ protocol."""
    results = folder.results
    columns = stats.headline_columns(results)
    protocol = Text(lambda_protocol(folder) + ".")
    if BASELINE not in order or not columns:
        return Section("Verdict", [Text("There is no 'none' run (or no headline metric), "
                                        "so there is no verdict against the baseline."),
                                   protocol])
    method = next((split_column(c)[1] for c in columns
                   if c not in stats.performance_columns()), None)
    frame = verdict_frame(results, statistics, order, columns, lambdas)
    sentences = findings(statistics, order, columns) or [
        nothing_significant(statistics, columns)]
    intro = Text(
        "Each regularizer against none on the headline metrics"
        + (f" ({METHOD_LABELS.get(method, method)} attributions of positive test sequences)"
           if method else "")
        + ": the mean paired difference (regularizer − none, same seed: same "
        "initialisation, batch order and split) [its 95% t-interval], and the "
        "Holm-adjusted p of the exact Wilcoxon signed-rank test of the per-seed "
        "differences (Holm within each regularizer's tests, so adding a regularizer "
        f"never changes another's verdict). {STAR}: significantly better than none "
        f"(Holm p < {ALPHA}, in the metric's good direction; the arrow in each header "
        "says which way is better). Every test is in statistics.csv; the run's details "
        "follow below.")
    # The protocol before the table: with many regularizers the table fills the first
    # screen, and how λ was chosen is part of reading it.
    return Section("Verdict", [intro, protocol,
                               Table(frame, "The verdict: each regularizer vs none on the "
                                            "headline metrics"),
                               Bullets(sentences)])


__all__ = ["verdict", "verdict_frame", "findings", "lambda_protocol"]
