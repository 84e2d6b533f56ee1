"""The report of a suite (``regbench run --suite``): the verdict first, then one section
per experiment, then how it was made.

Reads OUT/suite.json, OUT/results.csv (every point's runs, long format, tagged with
experiment, kind, point, sweep, value) and OUT/results_fraction.csv, and each point's
own results folder for what only it holds (example tracks, λ search, attributions).
Writes, beside the report, the numbers of its figures and tables: each kind's
``tables`` (the built-in ones: lambda_sweep.csv, stability.csv and
stability_fraction.csv, tagged like results.csv).
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from regbench.options.config import paper_differences
from regbench.errors import RegbenchError
from regbench.report import stats
from regbench.report.render import Bullets, Section, Text, write_outputs
from regbench.suites.sections import one_folder_per_point
from regbench.suites.verdict import (TAGS, verdict, verdict_point,  # noqa: F401
                                           verdict_table)
from regbench.store.runs import folder_file, wide_results
from regbench.suites.kinds import extra_columns, get_suite_kind, lambda_sweeping_kinds


def write_suite_report(out) -> tuple[Path, Path]:
    """Write OUT/report.html and OUT/report.md for a suite's results folder."""
    out = Path(out)
    if not (out / "suite.json").is_file():
        raise RegbenchError(f"{out} has no suite.json; run `regbench run --suite NAME` first")
    manifest = json.loads((out / "suite.json").read_text())
    results = _wide(pd.read_csv(out / "results.csv"))
    fractions = (_wide(pd.read_csv(out / "results_fraction.csv"))
                 if (out / "results_fraction.csv").is_file() else pd.DataFrame(columns=TAGS))
    order = stats.order_regularizers(results["regularizer"], _listed(manifest))
    with one_folder_per_point():   # stability tables computed once, for CSVs and sections
        write_kind_tables(out, results, fractions, order, manifest)
        blocks = [verdict(results, order, manifest)]
        for experiment in manifest["experiments"]:
            mine = results[results["experiment"] == experiment["name"]]
            shares = fractions[fractions["experiment"] == experiment["name"]]
            blocks.append(experiment_section(out, experiment, mine, shares, order,
                                             manifest))
    blocks.append(how_made(manifest, results, out))
    title = f"regbench suite report: {manifest['suite']}"
    return write_outputs(out, title, [b for b in blocks if b is not None])


def write_kind_tables(out: Path, results: pd.DataFrame, fractions: pd.DataFrame, order,
                      manifest) -> None:
    """Each kind of the suite with a ``tables`` hook writes its CSVs from its own
    experiments (suite.json entries, in suite order), once per kind."""
    kinds = dict.fromkeys(e["kind"] for e in manifest["experiments"])
    for name in kinds:
        tables = get_suite_kind(name).tables
        if tables is not None:
            mine = [e for e in manifest["experiments"] if e["kind"] == name]
            tables(out, mine, results, fractions, order, manifest)


def _listed(manifest) -> list:
    regs = manifest.get("regularizers") or []
    return [] if regs == ["all"] else regs


def _wide(long: pd.DataFrame) -> pd.DataFrame:
    """The tagged long table as one row per run, per (experiment, point)."""
    if long.empty:
        return long
    parts = []
    for (experiment, point), part in long.groupby(["experiment", "point"], sort=False):
        tags = part[TAGS].iloc[0]
        per_run = [c for c in part if c.startswith(extra_columns())]
        extra = [c for c in part if c not in TAGS and c not in per_run]
        wide = wide_results(part[extra])
        if per_run:
            values = part[["regularizer", "seed", *per_run]].drop_duplicates(
                ["regularizer", "seed"])
            wide = wide.merge(values, on=["regularizer", "seed"], how="left")
        for i, tag in enumerate(TAGS):
            wide.insert(i, tag, tags[tag])
        parts.append(wide)
    return pd.concat(parts, ignore_index=True)


# -- one section per experiment ---------------------------------------------------------

def experiment_section(out: Path, experiment: dict, results: pd.DataFrame,
                       shares: pd.DataFrame, order, manifest) -> Section | None:
    if results.empty:
        return None
    kind = experiment["kind"]
    intro = Text(f"{experiment.get('description') or ''} This section shows "
                 f"{experiment['what']}.".strip())
    build = get_suite_kind(kind).section
    blocks = [b for b in build(out, experiment, results, shares, order, manifest)
              if b is not None]
    return Section(experiment["name"], [intro, *blocks])


# -- how this was made --------------------------------------------------------------------

def how_made(manifest, results: pd.DataFrame, out: Path) -> Section:
    preset = manifest.get("preset", "?")
    # suite.json before the task was recorded: binary, the only suite task then
    diff = (paper_differences(preset, manifest.get("task") or "binary")
            or "none: the paper's sizes")
    items = [f"Suite: {manifest['suite']} ({manifest.get('source', '?')})",
             f"Preset: {preset}; how it differs from the paper: {diff}",
             f"Regularizers: {', '.join(stats.order_regularizers(results['regularizer']))}"]
    sources = _lambda_sources(out, manifest)
    if sources:
        items.append("λ: " + "; ".join(f"{r} {s}" for r, s in sources.items()))
    for p in manifest["points"]:
        sizes = ", ".join(f"{k} {v}" for k, v in (p.get("sizes") or {}).items())
        shares = (f"; shares {', '.join(f'{f:g}' for f in p['fractions'])}"
                  if p.get("fractions") else "")
        items.append(f"{p['experiment']}: {p['point']}: {p['seeds']} seeds; rows {sizes}"
                     f"{shares} (folder {p['folder']})")
    trained = pd.to_numeric(results.get("train_seconds"), errors="coerce").sum()
    items.append(f"Run time of the last invocation: {manifest.get('wall_seconds', '?')} s "
                 f"(started {manifest.get('started', '?')}; stored runs are reused, not "
                 f"retrained); training time of all its runs: {trained:.0f} s")
    items.append(f"regbench {manifest.get('regbench', '?')}, torch {manifest.get('torch', '?')}")
    return Section("How this was made", [Bullets(items), Text(
        "Every point is an ordinary results folder (results.csv, checkpoints, "
        "attributions); 'regbench report FOLDER' writes its own full report.")])


def _lambda_sources(out: Path, manifest) -> dict:
    sources = {}
    swept = lambda_sweeping_kinds()
    for p in manifest["points"]:
        if p.get("kind") in swept:     # swept: its λ are in its kind's tables
            continue
        path = folder_file(out, p["folder"], "points") / "config.json"   # suite.json
        if not path.is_file():
            continue
        config = json.loads(path.read_text())
        for reg, source in (config.get("lambda_source") or {}).items():
            lam = (config.get("lambdas") or {}).get(reg)
            text = f"{source}" + (f" ({lam:.3g})" if isinstance(lam, (int, float)) else "")
            sources.setdefault(reg, set()).add(text)
    return {r: " / ".join(sorted(s)) for r, s in sources.items()}


__all__ = ["verdict_table", "write_suite_report"]
