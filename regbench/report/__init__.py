"""The comparison report of a results folder: one self-contained HTML page + Markdown.

``write_report(DIR)`` reads what ``regbench run`` wrote into DIR and writes
``DIR/report.html`` (figures embedded as base64 PNG), ``DIR/report.md``, the
figures it links under ``DIR/figures/``, ``DIR/statistics.csv`` and, where runs kept
attributions, ``DIR/stability.csv`` and ``DIR/stability_fraction.csv``.
"""
from __future__ import annotations

from pathlib import Path

from regbench.report import inference, stability
from regbench.report.load import load_results
from regbench.report.render import Section, Text, write_outputs
from regbench.report.sections import build_sections, report_order
from regbench.store.runs import atomic_write

__all__ = ["write_report"]


def write_report(results_dir) -> tuple[Path, Path]:
    """Write the report of ``results_dir``; returns (report.html, report.md).

    Also writes ``statistics.csv``: every comparison of the report with its role
    (``inference.statistics_table``: the primary endpoint's paired t-test with its
    Benjamini-Hochberg q, the performance metric's non-inferiority, secondary
    intervals), and the stability tables' values (``stability.write_stability_csvs``).
    Raises RegbenchError when the folder or its results.csv is missing.
    """
    folder = load_results(results_dir)
    endpoint = inference.folder_endpoint(folder.config, folder.results)[0]
    statistics = inference.statistics_table(folder.results, folder.per_sequence,
                                            report_order(folder), endpoint)
    atomic_write(folder.path / "statistics.csv",
                 statistics[inference.STATISTICS_COLUMNS].to_csv(index=False))
    title, sections = build_sections(folder, statistics)
    if folder.config.get("interim"):   # written while the run goes on (run_comparison)
        title = f"{title} (interim)"
        sections.insert(0, Section("Interim report", [Text(
            f"This report covers {folder.config['interim']}; `regbench run` rewrites it "
            "as each regularizer's seeds finish. Its ★ are corrected across the "
            "regularizers done so far; the final report corrects across all of them.")]))
    stability.write_stability_csvs(folder, report_order(folder))  # the tables' numbers
    return write_outputs(folder.path, title, sections)
