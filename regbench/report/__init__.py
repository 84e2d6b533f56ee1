"""The comparison report of a results folder: one self-contained HTML page + Markdown.

``write_report(DIR)`` reads what ``regbench run`` wrote into DIR and writes
``DIR/report.html`` (figures embedded as base64 PNG), ``DIR/report.md`` and the
figures it links under ``DIR/figures/``.
"""
from __future__ import annotations

from pathlib import Path

from regbench.report.load import load_results
from regbench.report.render import write_outputs
from regbench.report.sections import build_sections

__all__ = ["write_report"]


def write_report(results_dir) -> tuple[Path, Path]:
    """Write the report of ``results_dir``; returns (report.html, report.md).

    Raises RegbenchError when the folder or its results.csv is missing.
    """
    folder = load_results(results_dir)
    title, sections = build_sections(folder)
    return write_outputs(folder.path, title, sections)
