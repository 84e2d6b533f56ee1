"""The verdict that opens the main report: each regularizer against ``none`` on the
primary endpoint (tested, ★), the performance metric it is held non-inferior on, and
the other headline metrics (secondary), paired by seed, with the λ protocol the numbers
were made under.

Read from the seed-level rows of the statistics table (``inference.statistics_table``),
so the verdict, statistics.csv and the sections below it show the same intervals and
the same Benjamini-Hochberg-adjusted p-values (q).
"""
from __future__ import annotations

import pandas as pd

from regbench.endpoints import Endpoint
from regbench.store.record import TEST_PREFIX
from regbench.report import forest, inference, stats
from regbench.report.answer import answer_sentences, identical
from regbench.report.blocks import figure_block
from regbench.report.inference import (DAGGER, NON_INFERIORITY, PRIMARY, SECONDARY,
                                       UNCONVERGED)
from regbench.report.load import ResultsFolder
from regbench.report.render import Bullets, Section, Table, Text
from regbench.report.stats import (ALPHA, ARROWS, BASELINE, STAR, WORSE, format_ci,
                                   format_p, format_signed)
from regbench.store.runs import METHOD_LABELS, split_column


def lambda_protocol(folder: ResultsFolder) -> str:
    """'λ protocol: NAME' from config.json's lambda_protocol, else results.csv's
    lambda_protocol column (every value it holds), else 'λ protocol: not recorded'."""
    recorded = folder.config.get("lambda_protocol")
    if not recorded and "lambda_protocol" in folder.results:
        values = folder.results["lambda_protocol"].dropna().astype(str)
        recorded = ", ".join(dict.fromkeys(v for v in values if v.strip()))
    from regbench.options.config import LAMBDA_PROTOCOLS
    explained = LAMBDA_PROTOCOLS.get(recorded or "")
    return f"λ protocol: {recorded or 'not recorded'}" + (f" ({explained})" if explained
                                                          else "")


def roles(endpoint: Endpoint | None) -> dict[str, str]:
    """results column -> its role in the verdict: the primary endpoint and the
    performance metric held non-inferior; any other column is secondary."""
    if endpoint is None:
        return {}
    return {endpoint.metric: PRIMARY, TEST_PREFIX + endpoint.performance: NON_INFERIORITY}


def verdict_columns(results: pd.DataFrame, endpoint: Endpoint | None) -> list[str]:
    """The primary endpoint's column, the performance column, then the other headline
    columns (``stats.headline_columns``), those with values."""
    first = [c for c in roles(endpoint) if stats.has_values(results, c)]
    return first + [c for c in stats.headline_columns(results) if c not in first]


def header_label(column: str, role: str = SECONDARY) -> str:
    info = stats.metric_info(column)
    return f"{info.label} {ARROWS.get(info.direction, '')}".strip() + f" ({role})"


def seed_rows(statistics: pd.DataFrame, columns) -> pd.DataFrame:
    """The seed-level rows (paired, or unpaired where seeds differ) of ``columns``,
    indexed by (regularizer, column)."""
    if statistics is None or statistics.empty:
        return pd.DataFrame()
    rows = statistics[statistics["test"].isin(inference.SEED_TESTS)
                      & statistics["column"].isin(list(columns))]
    return rows.set_index(["regularizer", "column"])


MARKS = {"yes": f" {STAR}", "worse": f" {WORSE}"}
NON_INFERIOR = {"yes": "non-inferior", "no": "not shown non-inferior"}


def cell(row, scale: float = 1.0) -> str:
    """The mean difference from none and its 95% interval, then by role (``role_note``);
    † where a model behind it did not converge (no ★ or ▼ then). '+0.0123
    [+0.00412, +0.0205], q 0.0312 ★'; 'identical to none' where every seed gave the
    same value (differences 0 up to rounding at ``scale``, the column's size)."""
    if identical(row, scale):
        text = "identical to none"
    else:
        text = (f"{format_signed(row['mean_difference'], scale)} "
                f"{format_ci(row['ci_low'], row['ci_high'], scale)}{role_note(row)}")
    text += " (unpaired)" if row["test"] == "welch_t" else ""
    return text + (f" {DAGGER}" if inference.marked(row.get("unconverged")) else "")


def role_note(row) -> str:
    """The primary endpoint's Benjamini-Hochberg q with ★ (better) or ▼ (worse) where it
    is at most ALPHA; the performance metric's non-inferiority; else how many seeds went
    the better way."""
    if row["role"] == PRIMARY:
        return f", q {format_p(row['p_adjusted'])}{MARKS.get(row['better'], '')}"
    if row["role"] == NON_INFERIORITY:
        return f": {NON_INFERIOR.get(row['non_inferior'], 'no interval')}"
    if not pd.isna(row["n_better"]):
        return f", {int(row['n_better'])} of {int(row['n_pairs'])} seeds better"
    return ""


def verdict_frame(results: pd.DataFrame, statistics: pd.DataFrame, order,
                  columns, lambdas: dict | None = None,
                  endpoint: Endpoint | None = None) -> pd.DataFrame:
    """One row per regularizer (none first, with its mean over seeds), one column per
    results column, headed with its role: the cells of ``cell``, '–' where nothing was
    compared."""
    ok = stats.ok_runs(results)
    tests = seed_rows(statistics, columns)
    role = roles(endpoint)
    sizes = scales(results, columns)
    rows = []
    for reg in order:
        row = {"regularizer": reg}
        if lambdas is not None:
            row["λ"] = _number(lambdas.get(reg))
        for column in columns:
            label = header_label(column, role.get(column, SECONDARY))
            if reg == BASELINE:
                values = ok.loc[ok["regularizer"] == reg, column].dropna()
                row[label] = (f"{stats.format_number(values.mean())} (mean)"
                              if len(values) else "–")
            else:
                row[label] = (cell(tests.loc[(reg, column)], sizes[column])
                              if (reg, column) in tests.index else "–")
        rows.append(row)
    return pd.DataFrame(rows)


def _number(value) -> str:
    try:
        return stats.format_number(float(value))
    except (TypeError, ValueError):
        return "–"


def _pairs(row) -> str:
    return (f"{int(row['n_pairs'])} paired seeds" if row["test"] == "paired_t"
            else f"{int(row['n'])} vs {int(row['n_none'])} unpaired seeds")


def findings(statistics: pd.DataFrame, order) -> list[str]:
    """One sentence per regularizer significantly better (★) or worse (▼) than none on
    the primary endpoint (Benjamini-Hochberg q <= ALPHA), in table order, then one on
    the performance metric's non-inferiority, then one † note per regularizer whose
    comparison rests on models that did not converge."""
    if statistics is None or statistics.empty:
        return []
    primary = statistics[statistics["role"] == PRIMARY].set_index("regularizer")
    lines = []
    for reg in [r for r in order if r in primary.index]:
        row = primary.loc[reg]
        if row["better"] not in MARKS:
            continue
        better = row["better"] == "yes"
        lines.append(
            f"{STAR if better else WORSE} {reg} is {'better' if better else 'worse'} than "
            f"none on the primary endpoint, {stats.metric_info(row['column']).label}: "
            f"{format_signed(row['mean_difference'])} "
            f"{format_ci(row['ci_low'], row['ci_high'])} (mean difference, 95% CI; "
            f"{_pairs(row)}; t-test p {format_p(row['p_value'])}, Benjamini-Hochberg q "
            f"{format_p(row['p_adjusted'])}).")
    return lines + non_inferiority(statistics, order) + convergence_notes(statistics, order)


def convergence_notes(statistics: pd.DataFrame, order) -> list[str]:
    """'† REG vs none: k of n models did not converge ...' per regularizer whose
    comparisons are marked (``inference.unconverged_models``)."""
    if "unconverged" not in statistics:
        return []
    marked = statistics[statistics["unconverged"].map(inference.marked)]
    lines = []
    for reg in [r for r in order if r in set(marked["regularizer"])]:
        rows = marked[marked["regularizer"] == reg]
        withheld = bool((rows["better"] == UNCONVERGED).any())
        lines.append(
            f"{DAGGER} {reg} vs {BASELINE}: {rows['unconverged'].iloc[0]} models did not "
            "converge (results.csv's converged: the best epoch within the stopping "
            "window of the epoch cap, or the loss still falling when training ended), so "
            "its comparisons are marked and get no ★ or ▼"
            + (f" (the primary endpoint's q <= {ALPHA} would have given one)" if withheld
               else "")
            + "; docs/profile.md says how to raise the budget.")
    return lines


def verdict_sentences(statistics: pd.DataFrame, order, endpoint: Endpoint | None
                      ) -> list[str]:
    """``findings``, opened by why nothing is starred where nothing is."""
    sentences = findings(statistics, order)
    if not any(s.startswith((STAR, WORSE)) for s in sentences):
        sentences.insert(0, nothing_significant(statistics, endpoint))
    return sentences


def non_inferiority(statistics: pd.DataFrame, order) -> list[str]:
    """One sentence: for which regularizers the performance metric is non-inferior."""
    check = statistics[statistics["role"] == NON_INFERIORITY].set_index("regularizer")
    if check.empty:
        return []
    verdicts = {v: [r for r in order if r in check.index and check.loc[r, "non_inferior"] == v]
                for v in NON_INFERIOR}
    label = stats.metric_info(check["column"].iloc[0]).label
    parts = [f"{NON_INFERIOR[v]} for {', '.join(regs)}" for v, regs in verdicts.items() if regs]
    if not parts:
        return []
    return [f"{label}, held to a non-inferiority margin of {check['margin'].iloc[0]:g} "
            f"against none: " + "; ".join(parts) + " (the 95% interval's worse end within "
            "the margin, or not)."]


def nothing_significant(statistics: pd.DataFrame, endpoint: Endpoint | None) -> str:
    """Why nothing is starred: no endpoint, nothing tested, or no q within ALPHA."""
    if endpoint is None:
        return ("No primary endpoint: these data hold no ground truth to score "
                "attributions against (no motif fraction or peak fraction in results.csv), "
                "so nothing is tested and nothing is starred; every column is secondary.")
    primary = (statistics[statistics["role"] == PRIMARY] if not statistics.empty
               else statistics)
    if primary.empty or primary["p_value"].notna().sum() == 0:
        return ("No difference from none was tested on the primary endpoint: a test needs "
                "at least 2 finished seeds on each side.")
    withheld = int((primary["better"] == UNCONVERGED).sum())
    if withheld:
        return (f"Nothing is starred: {stats.regularizers(withheld)} differ from none at "
                f"q <= {ALPHA} on the primary endpoint, but with models that did not "
                f"converge ({DAGGER}, below).")
    return (f"No regularizer differs significantly from none on the primary endpoint, "
            f"{stats.metric_info(endpoint.metric).label} (Benjamini-Hochberg q <= {ALPHA} "
            f"over the {stats.regularizers(int(primary['p_value'].notna().sum()))} "
            f"compared).")


def endpoint_text(endpoint: Endpoint | None, source: str, tested: int) -> str:
    """The endpoint and why, the margin and why, and the error rate the ★ controls."""
    if endpoint is None:
        return ("No primary endpoint could be declared for these data (no motif or peak "
                "truth): every column below is secondary, an interval without a test.")
    performance = stats.metric_info(TEST_PREFIX + endpoint.performance).label
    return (f"Primary endpoint, {source}: DeepLIFT/SHAP "
            f"{stats.metric_info(endpoint.metric).label}, {endpoint.direction} is better: "
            f"{endpoint.reason}. Performance: {performance}, held non-inferior to none by a "
            f"margin of {endpoint.margin:g}: {endpoint.margin_reason}. Error rate: one "
            f"paired t-test per regularizer on the primary endpoint (regularizer − none, "
            f"same seed: same initialisation, batch order and split), one family for the "
            f"whole table; Benjamini-Hochberg controls the false discovery rate at "
            f"{ALPHA:.0%} across the {stats.regularizers(tested)} compared with none. "
            f"{STAR}: significantly better than none (q <= {ALPHA}); {WORSE}: "
            f"significantly worse. The performance column says whether the 95% "
            f"interval's worse end stays within the margin. Every other column is "
            f"secondary: the mean paired difference [its 95% t-interval] and how many seeds "
            f"went the better way, not tested and never starred.")


def column_tooltips(columns, endpoint: Endpoint | None) -> dict[str, str]:
    """Verdict table header -> 'results.csv column NAME: what better means'."""
    role = roles(endpoint)
    return {header_label(c, role.get(c, SECONDARY)):
            f"results.csv column {c}: {stats.metric_info(c).better}" for c in columns}


def scales(results: pd.DataFrame, columns) -> dict[str, float]:
    """results column -> the size of its values (what a difference is 0 relative to)."""
    ok = stats.ok_runs(results)
    return {column: stats.column_scale(ok, column) for column in columns}


def verdict_figure(statistics: pd.DataFrame, order, endpoint: Endpoint | None,
                   sizes: dict):
    """The forest plot as a figure block, or a note saying why there is none."""
    fig = forest.verdict_figure(forest.verdict_rows(statistics, order), sizes)
    if fig is None:
        return Text(forest.missing_note(endpoint))
    return figure_block("verdict", forest.caption(endpoint), fig)


def footnotes(statistics: pd.DataFrame, order, endpoint: Endpoint | None) -> list[str]:
    """The notes under the verdict table: why nothing is starred (where nothing is), the
    performance metric's non-inferiority and the † notes; the ★ and ▼ findings are
    said by the sentences above the table."""
    return [s for s in verdict_sentences(statistics, order, endpoint)
            if not s.startswith((STAR, WORSE))]


def how_to_read(results: pd.DataFrame, columns, endpoint: Endpoint | None, source: str,
                tested: int) -> Text:
    """How the verdict was made: the comparison, the endpoint, the error rate."""
    method = next((split_column(c)[1] for c in columns
                   if c not in stats.performance_columns()), None)
    return Text(
        "Each regularizer against none"
        + (f" ({METHOD_LABELS.get(method, method)} attributions of positive test sequences)"
           if method else "")
        + ": the mean paired difference (regularizer − none, same seed) [its 95% "
        "interval]. " + endpoint_text(endpoint, source, tested) + " The arrow in each "
        "header says which way is better; hover a header for its results.csv column. "
        "Every comparison is in statistics.csv; the run's details follow below.")


def verdict(folder: ResultsFolder, order, statistics: pd.DataFrame,
            lambdas: dict | None = None, figure: bool = True) -> Section:
    """The report's first section, its answer first: the forest plot of every
    regularizer against none (``figure``; or a note saying why there is none), one
    sentence per regularizer, the λ protocol, the verdict table, its notes (why nothing
    is starred, non-inferiority, †), then how the verdict was made."""
    results = folder.results
    endpoint, source = inference.folder_endpoint(folder.config, results)
    columns = verdict_columns(results, endpoint)
    protocol = Text(lambda_protocol(folder) + ".")
    if BASELINE not in order or not columns:
        return Section("Verdict", [Text("There is no 'none' run (or no headline metric), "
                                        "so there is no verdict against the baseline."),
                                   protocol], open=True)
    sizes = scales(results, columns)
    frame = verdict_frame(results, statistics, order, columns, lambdas, endpoint)
    tested = (int((statistics["role"] == PRIMARY).sum()) if not statistics.empty
              else 0) or len(order) - 1
    answer = answer_sentences(statistics, order, columns, sizes, endpoint)
    notes = footnotes(statistics, order, endpoint)
    blocks = [verdict_figure(statistics, order, endpoint, sizes) if figure else None,
              Bullets(answer) if answer else None,
              # before the table: how λ was chosen is part of reading it
              protocol,
              Table(frame, "The verdict: each regularizer vs none, the primary endpoint "
                           "first", column_tooltips(columns, endpoint)),
              Bullets(notes) if notes else None,
              how_to_read(results, columns, endpoint, source, tested)]
    return Section("Verdict", [b for b in blocks if b is not None], open=True)


__all__ = ["cell", "column_tooltips", "convergence_notes", "endpoint_text", "findings",
           "footnotes", "lambda_protocol", "verdict",
           "verdict_columns", "verdict_frame", "verdict_sentences"]
