"""The Python API for notebooks: run a comparison, load a results folder, read its verdict.

::

    import regbench
    results = regbench.run(regularizers=["fourier", "none"], preset="smoke",
                           out="results/try")          # or regbench.run("my.toml")
    results = regbench.load("results/quick")          # a folder written earlier
    results.table()          # one row per run (DataFrame)
    results.verdict()        # each regularizer against none: primary endpoint, margin
    results.plot_verdict()   # the same as a matplotlib figure

``regbench run`` on the command line calls the same ``run`` (``commands/run.py``): a
configuration is the preset's, then a TOML file's, then the options given, checked
before anything is read or written. ``Results`` reads the folder as ``regbench report``
does (``report.load.load_results``: a tampered or half-written table is refused with one
line) and computes the verdict with the report's own statistics
(``report.inference.statistics_table``), so the notebook and the report agree.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from regbench.options.config import RunConfig, preset_config
from regbench.options.merge import merge, read_toml

# statistics.csv's columns a verdict row keeps, in this order
VERDICT_COLUMNS = ["regularizer", "metric", "method", "role", "n_pairs", "n_better",
                   "mean_difference", "ci_low", "ci_high", "p_value", "p_adjusted",
                   "margin", "non_inferior", "better", "unconverged"]


def configure(config: RunConfig | str | Path | dict | None = None, **options) -> RunConfig:
    """A checked RunConfig: the preset's settings (``preset``, default quick), then
    ``config`` (a RunConfig, a TOML file or a dict of TOML keys and tables), then
    ``options`` (the same keys a TOML file holds: ``regularizers``, ``seeds``, ``out``,
    ``scenario``, ``data``, ``lambda``, ``task``, ``train={...}``, ...). A bad option is
    a RegbenchError saying what is wrong, before anything is written."""
    from regbench.runner.checks import check_run
    if isinstance(config, RunConfig):
        base = config
        if options:
            base = merge(base, options, "regbench.run arguments")
        check_run(base)
        return base
    values = read_toml(config) if isinstance(config, (str, Path)) else dict(config or {})
    preset = options.pop("preset", None) or values.pop("preset", None) or "quick"
    task = options.get("task") or values.get("task") or "binary"
    base = preset_config(preset, task)
    for given, origin in ((values, f"config {config}" if values else ""),
                          (options, "regbench.run arguments")):
        if given:
            base = merge(base, given, origin)
    if base.data or base.data_source:
        base.scenario = None
    check_run(base)
    return base


def run(config: RunConfig | str | Path | dict | None = None, *, report: bool = True,
        plan: bool = True, argv: list[str] | None = None, **options) -> "Results":
    """Run a comparison (``configure(config, **options)``) and return its Results.
    Stored runs are loaded, not trained again, so calling it again resumes. Like the
    command line, it sets this process's threads and allocator for the run
    (``runtime.process``). ``report``: write report.html; ``plan``: print the plan
    first; ``argv``: the command's arguments, for local workers (the CLI's)."""
    from regbench.bench import Benchmark
    resolved = configure(config, **options)
    out = Benchmark(resolved).run(report=report, argv=argv, plan=plan)
    return Results(out, read=False)


def load(path: str | Path) -> "Results":
    """The Results of a folder ``regbench run`` wrote (``results.csv`` at least)."""
    return Results(path)


class Results:
    """One results folder, read once: ``table``, ``verdict``, ``plot_verdict``,
    ``config`` (config.json as a dict) and ``path``."""

    def __init__(self, path: str | Path, *, read: bool = True):
        """``read``: read the folder now (``load``); else on first use (``run``: a
        worker's folder has no tables until the grid is gathered)."""
        self.path = Path(path)
        self._read, self._statistics = None, None
        if read:
            self._results_folder()

    def _results_folder(self):
        if self._read is None:
            from regbench.report.load import load_results
            self._read = load_results(self.path)   # refuses a missing or tampered folder
        return self._read

    @property
    def config(self) -> dict:
        """config.json: the resolved settings, λ and what it rests on, versions."""
        return self._results_folder().config

    def __repr__(self) -> str:
        runs = self._results_folder().results
        return (f"Results({str(self.path)!r}: {runs['regularizer'].nunique()} "
                f"regularizers, {len(runs)} runs)")

    def table(self) -> pd.DataFrame:
        """One row per run (regularizer, λ, seed, training facts, test performance,
        each attribution method's metrics: DeepLIFT/SHAP's plain, the others'
        prefixed, e.g. ``ixg_motif_fraction``), as the report reads results.csv."""
        return self._results_folder().results.copy()

    def statistics(self) -> pd.DataFrame:
        """Every comparison with none, as statistics.csv holds it (the report's own
        computation: primary endpoint, performance margin, secondary intervals)."""
        if self._statistics is None:
            from regbench.report import inference
            from regbench.report.sections import report_order
            folder = self._results_folder()
            endpoint = inference.folder_endpoint(folder.config, folder.results)[0]
            self._statistics = inference.statistics_table(
                folder.results, folder.per_sequence, report_order(folder), endpoint)
        return self._statistics.copy()

    def verdict(self) -> pd.DataFrame:
        """Each regularizer against none on the primary endpoint (role "primary":
        paired difference, its 95 % interval, p, the Benjamini-Hochberg q and
        ``better``: yes (★), worse, no) and on the performance margin (role
        "non-inferiority": ``non_inferior`` yes or no). Empty without none or ground
        truth."""
        table = self.statistics()
        rows = table[table["role"].isin(["primary", "non-inferiority"])]
        return rows[[c for c in VERDICT_COLUMNS if c in rows]].reset_index(drop=True)

    def plot_verdict(self):
        """The verdict as a matplotlib Figure: each regularizer's paired difference
        from none with its interval, one panel per verdict metric (the primary
        endpoint, the performance metric), none as the zero line, ★ where better,
        ▼ where worse."""
        from regbench.report.forest import verdict_figure
        return verdict_figure(self.verdict())


__all__ = ["Results", "configure", "load", "run"]
