"""The report's Summary section: every metric's mean ± sd over seeds, one row per
regularizer, one table per group of metrics (performance, each attribution method's,
cost), so that each fits the page; short headers in words (the raw results.csv column
in a tooltip) and what each metric means in a legend under the tables."""
from __future__ import annotations

import pandas as pd

from regbench.report import stats
from regbench.report.blocks import section_block
from regbench.report.comparison_sections import metric_groups
from regbench.report.load import ResultsFolder
from regbench.report.render import Bullets, Section, Table, Text
from regbench.report.stats import ARROWS
from regbench.store.runs import split_column


def runs_cell(n_ok: int, n_all: int) -> str:
    """'3 ok' or '2 ok, 1 failed'."""
    return f"{n_ok} ok" + (f", {n_all - n_ok} failed" if n_all > n_ok else "")


def base_label(column: str) -> str:
    """A column's short header: its metric's label and the arrow saying which way is
    better, without the attribution method (the table's caption names it)."""
    info = stats.metric_info(split_column(column)[0])
    if info.label == split_column(column)[0]:   # unknown base: the column's own
        info = stats.metric_info(column)
    return f"{info.label} {ARROWS.get(info.direction, '')}".strip()


def summary_rows(results: pd.DataFrame, metrics, order) -> pd.DataFrame:
    """One row per regularizer ('regularizer', 'runs', then one 'mean ± sd' cell per
    metric column, headed by the column's name); 'failed' where no run finished."""
    table = stats.summarise(results, metrics, order).set_index(["regularizer", "metric"])
    n_ok = stats.ok_runs(results).groupby("regularizer").size().reindex(order, fill_value=0)
    n_all = results.groupby("regularizer").size().reindex(order, fill_value=0)
    rows = []
    for reg in order:
        row = {"regularizer": reg, "runs": runs_cell(int(n_ok[reg]), int(n_all[reg]))}
        for metric in metrics:
            row[metric] = stats.mean_sd_cell(table, reg, metric, int(n_ok[reg]))
        rows.append(row)
    return pd.DataFrame(rows)


def group_table(rows: pd.DataFrame, title: str, columns, with_runs: bool) -> Table:
    """The rows' cells of ``columns`` under short headers, the raw names as tooltips."""
    headers = {c: base_label(c) for c in columns}
    if len(set(headers.values())) < len(headers):   # two columns, one label: keep names
        headers = {c: f"{h} ({c})" for c, h in headers.items()}
    keep = ["regularizer", *(["runs"] if with_runs else []), *columns]
    frame = rows[keep].rename(columns=headers)
    tooltips = {h: f"results.csv column {c}" for c, h in headers.items()}
    return Table(frame, f"{title}: mean ± sd over seeds", tooltips)


def legend(metrics) -> Bullets:
    """What each metric means, once per metric whatever the methods it was scored
    under: 'label ↑: what better means (results.csv: col, ixg_col)'."""
    columns: dict[str, list[str]] = {}
    for metric in metrics:
        columns.setdefault(base_label(metric), []).append(metric)
    items = []
    for header, names in columns.items():
        info = stats.metric_info(names[0])
        items.append(f"{header}: {info.better} (results.csv: {', '.join(names)})")
    return Bullets(items)


def summary(folder: ResultsFolder, metrics, order) -> Section:
    """The Summary section: a table per group of metrics, the legend, failed runs."""
    results = folder.results
    rows = summary_rows(results, metrics, order)
    tables = [group_table(rows, title, columns, i == 0)
              for i, (_, title, columns) in enumerate(metric_groups(metrics))]
    failed = results[results["status"].astype(str).str.strip() != "ok"]
    failed_table = None if failed.empty else Table(
        failed[["regularizer", "seed", "status"]].astype(str), "Failed runs (left out of "
        "every statistic)")
    return section_block(
        "Summary",
        Text("Mean ± sample standard deviation over the seeds that finished (the runs "
             "column); failed runs are excluded. Interpretability metrics are the mean "
             "over the attributed positive test sequences, except the pooled auPRCs, "
             "which rank all their positions at once (the paper authors' measure); "
             "results.csv's method column says which attribution method. Hover a header "
             "for its results.csv column; the list under the tables says what each "
             "metric means. Definitions: docs/metrics.md."),
        *tables, legend(metrics), failed_table)


__all__ = ["summary", "summary_rows"]
