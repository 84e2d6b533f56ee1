"""The result tables of docs/results.md, written from a results folder and nothing else:
``readme_tables(results_dir)`` returns the Markdown that ``regbench report DIR
--readme`` writes to DIR/readme_tables.md and prints. docs/results.md's tables are
pasted from it, so every number there names the folder, command and machine it came from.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from regbench.errors import RegbenchError
from regbench.report import inference
from regbench.report.load import load_results
from regbench.report.render import Section, Table, Text, render_markdown
from regbench.report.run_sections import chosen_lambdas
from regbench.report.sections import report_order
from regbench.report.verdict import verdict
from regbench.store.runs import atomic_write


def _duration(seconds) -> str:
    """'1 h 42 min 45 s', '12 min 47 s', '48 s'; 'not recorded' for None."""
    if seconds is None:
        return "not recorded"
    total = int(round(float(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = ([f"{hours} h"] if hours else []) + ([f"{minutes} min"] if hours or minutes
                                                 else []) + [f"{secs} s"]
    return " ".join(parts)


def _setting(value) -> str:
    """A config.json setting that may be one value or the rows' sorted list."""
    if isinstance(value, list):
        return " and ".join(str(v) for v in value)
    return "not recorded" if value is None else str(value)


def run_facts(config: dict, n_seeds: int) -> str:
    """One sentence: the command's settings, the machine's, the time and the version."""
    regularizers = ", ".join(config.get("regularizers") or [])
    return (f"Preset {config.get('preset', 'not recorded')}, λ protocol "
            f"{config.get('lambda_protocol', 'not recorded')}, {n_seeds} paired seeds, "
            f"regularizers {regularizers}; {_setting(config.get('threads'))} thread(s) "
            f"on {_setting(config.get('device'))}, torch "
            f"{config.get('torch_version', 'not recorded')}, regbench "
            f"{config.get('regbench_version', 'not recorded')}; wall time of the last "
            f"invocation {_duration(config.get('wall_seconds'))} (finished "
            f"{config.get('finished', 'not recorded')}).")


def convergence_line(config: dict, results: pd.DataFrame, order) -> str | None:
    """One sentence: per regularizer, how many of its finished full-data models
    converged (results.csv's ``converged``) by the run's stopping rule; None when the
    folder has no such column (runs stored before the check)."""
    if "converged" not in results:
        return None
    runs = inference.finished_full_data(results)
    parts = []
    for name in order:
        column = runs.loc[runs["regularizer"] == name, "converged"]
        values = column.map(inference.converged_value)
        done, unknown = int((values == True).sum()), int(values.isna().sum())  # noqa: E712
        parts.append(f"{name} {done} of {len(column)}"
                     + (f" ({unknown} stored before the check)" if unknown else ""))
    rule = (config.get("stopping_rule") or {}).get("name", "not recorded")
    return (f"Models that converged (results.csv converged; stopping rule {rule}): "
            f"{', '.join(parts)}.")


def lambda_table(config: dict, order) -> pd.DataFrame:
    """Per regularizer: λ, its source and the seeds that chose it (config.json)."""
    selection = (config.get("lambda_reference") or {}).get("selection") or {}
    seeds = selection.get("seeds") or []
    chose = f"{seeds[0]}-{seeds[-1]}" if seeds else ""
    lambdas, sources = config.get("lambdas") or {}, config.get("lambda_source") or {}
    rows = []
    for name in order:
        source = sources.get(name, "not recorded")
        rows.append({"regularizer": name, "λ": f"{lambdas.get(name, float('nan')):.4g}",
                     "source": source,
                     "selection seeds": chose if source.startswith(("selected", "smallest"))
                     else ""})
    return pd.DataFrame(rows)


def page_block(text: str) -> list[str]:
    """The lines of ``readme_tables``'s text as a block inside a page: without its own
    title, each heading two levels down (## Run -> #### Run)."""
    lines = text.rstrip("\n").split("\n")
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
        while lines and not lines[0].strip():
            lines = lines[1:]
    return [f"##{line}" if line.startswith("#") else line for line in lines]


def write_into(target: str, text: str) -> Path:
    """Put ``text`` into a page between its generated block's markers; ``target``:
    "FILE:NAME", the markers '<!-- regbench report: NAME -->' and '<!-- end regbench
    report: NAME -->', each on a line of its own. Returns FILE. A missing file or
    marker is a RegbenchError, and the page is left as it was."""
    path, _, name = target.rpartition(":")
    if not path or not name:
        raise RegbenchError(f"--into {target!r}: expected FILE:NAME, e.g. "
                            "docs/results.md:all-eleven")
    page = Path(path)
    if not page.is_file():
        raise RegbenchError(f"--into: {page} does not exist")
    start, end = f"<!-- regbench report: {name} -->", f"<!-- end regbench report: {name} -->"
    lines = page.read_text().split("\n")
    if lines.count(start) != 1 or lines.count(end) != 1 or \
            lines.index(start) > lines.index(end):
        raise RegbenchError(f"--into: {page} needs the lines {start!r} and then {end!r}, "
                            "once each")
    new = lines[:lines.index(start) + 1] + page_block(text) + lines[lines.index(end):]
    try:
        atomic_write(page, "\n".join(new))
    except OSError as error:   # a read-only page or folder: one line, the page kept
        raise RegbenchError(f"--into: cannot write {page}: {error.strerror or error}; "
                            "make it writable or copy the page first") from None
    return page


def readme_tables(results_dir) -> str:
    """The Markdown of docs/results.md's tables for the folder ``results_dir``: the run's
    facts, λ per regularizer, and the verdict exactly as the report computes it."""
    folder = load_results(results_dir)
    order = report_order(folder)
    statistics = inference.statistics_table(
        folder.results, folder.per_sequence, order,
        inference.folder_endpoint(folder.config, folder.results)[0])
    seeds = int(folder.results["seed"].nunique()) if "seed" in folder.results else 0
    converged = convergence_line(folder.config, folder.results, order)
    sections = [Section("Run", [Text(run_facts(folder.config, seeds))]
                        + ([Text(converged)] if converged else [])),
                Section("λ", [Table(lambda_table(folder.config, order),
                                    "λ per regularizer and the seeds that chose it")]),
                verdict(folder, order, statistics, chosen_lambdas(folder, order),
                        figure=False)]
    return render_markdown(f"regbench results: {folder.path.name}", sections)


__all__ = ["lambda_table", "readme_tables", "run_facts"]
