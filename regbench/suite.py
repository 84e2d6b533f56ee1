"""Suites: the paper's experiments, each one command (``regbench run --suite NAME``).

A suite is a TOML file of experiments. An experiment runs one or more *points*; a
point is one dataset (a scenario, with a swept key set to one of its values) and one
run configuration, trained and scored like any ``regbench run`` in its own results
folder ``OUT/points/<scenario>-<config hash>``. Runs are keyed as always (RunStore),
so a suite stopped anywhere resumes where it stopped, and two suites or experiments
that share a dataset and configuration share that folder and its runs.

    description = "GC shortcut"
    preset = "quick"                 # default preset; --preset wins
    regularizers = "all"             # default; --regularizers wins

    [[experiment]]
    name = "GC shortcut"             # the report section's title
    kind = "gc_sweep"                # a registered suite kind (regbench.suite_kinds)
    scenario = "spi1_gc_bias"
    sweep = "gc.positives"           # a scenario key, set to each value in turn
    values = [0.40, 0.50, 0.60, 0.70]
    fractions = [0.1]                # stability, data_scarcity: shares of the training rows
    [experiment.config]              # run keys for this experiment's points (as --config)
    seeds = 3

A ``lambda_sweep`` experiment sweeps λ instead of a scenario key: ``lambda_points``
values per penalty regularizer, log-spaced across its registry range (``lambda_grid``),
each over the same seeds, with ``none`` as the reference. ``[experiment.at_preset.NAME]``
changes ``lambda_points`` and ``regularizers`` at one preset (e.g. fewer at smoke); its
regularizers apply when the run's list is "all".

``load_suite`` checks every key before anything runs; ``run_suite`` trains every
point, then writes OUT/results.csv (every point's runs, tagged with experiment and
point), OUT/suite.json and the suite report (``regbench.report.suite``).
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from regbench.config import RunConfig
from regbench.config_merge import merge
from regbench.errors import RegbenchError
from regbench.lookup import find_file, list_names, search_folders
from regbench.store import atomic_write, atomic_write_csv
from regbench.suite_kinds import get_suite_kind, list_suite_kinds

SUITE_KEYS = {"description", "preset", "regularizers", "experiment"}
EXPERIMENT_KEYS = {"name", "kind", "scenario", "sweep", "values", "fractions", "config",
                   "description", "balanced", "lambda_points", "at_preset"}
# What [experiment.at_preset.NAME] of a lambda_sweep may change at preset NAME.
AT_PRESET_KEYS = {"lambda_points", "regularizers"}
LAMBDA_POINTS = 5   # a lambda_sweep's grid size per regularizer by default


@dataclass(frozen=True)
class Experiment:
    name: str
    kind: str
    scenario: str | None = None
    sweep: str | None = None
    values: tuple = ()
    fractions: tuple = ()
    config: dict = field(default_factory=dict)
    description: str = ""
    balanced: float | None = None   # gc_sweep: the swept value with no GC gap
    lambda_points: int = LAMBDA_POINTS   # lambda_sweep: λ values per regularizer
    at_preset: dict = field(default_factory=dict)   # lambda_sweep: {preset: changes}


@dataclass(frozen=True)
class Suite:
    name: str
    source: str
    description: str
    preset: str | None
    regularizers: object
    experiments: tuple


@dataclass
class Point:
    """One dataset and configuration of an experiment; ``config.out`` is its folder."""

    experiment: Experiment
    value: object
    config: RunConfig

    @property
    def label(self) -> str:
        if self.experiment.kind == "lambda_sweep":
            return f"λ step {self.value}"
        if self.experiment.sweep:
            return f"{self.experiment.sweep}={self.value:g}" if isinstance(
                self.value, float) else f"{self.experiment.sweep}={self.value}"
        return self.config.scenario or "data"


# -- finding and reading ------------------------------------------------------------------

def suite_dirs() -> list[Path]:
    """Where bare suite names are looked up: ./suites (your own), then the shipped ones."""
    return search_folders("suites", "suites")


def list_suites() -> list[str]:
    """Names of the suites found in ``suite_dirs()``, sorted."""
    return list_names(suite_dirs())


def find_suite(name_or_path) -> Path:
    """The TOML file for a path, or for a bare name in ``suite_dirs()``."""
    return find_file(name_or_path, "suite", suite_dirs())


def load_suite(name_or_path) -> Suite:
    """Read and check a suite file; every unknown key or bad value is one line naming
    the file and the key."""
    path = find_suite(name_or_path)
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise RegbenchError(f"suite file {path} is not valid TOML: {exc}") from None
    _unknown(raw, SUITE_KEYS, f"suite file {path}")
    experiments = raw.get("experiment")
    if not isinstance(experiments, list) or not experiments:
        raise RegbenchError(f"suite file {path} has no [[experiment]] tables; add one per "
                            "experiment (keys: " + ", ".join(sorted(EXPERIMENT_KEYS)) + ")")
    return Suite(path.stem, str(path), str(raw.get("description", "")), raw.get("preset"),
                 raw.get("regularizers"),
                 tuple(_experiment(e, i, path) for i, e in enumerate(experiments, 1)))


def _unknown(table: dict, known: set, where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise RegbenchError(f"unknown key(s) in {where}: {', '.join(unknown)}; known keys: "
                            f"{', '.join(sorted(known))}")


def _experiment(raw, number: int, path: Path) -> Experiment:
    where = f"suite file {path}, experiment {number}"
    if not isinstance(raw, dict):
        raise RegbenchError(f"{where} must be a table")
    _unknown(raw, EXPERIMENT_KEYS, where)
    kind = raw.get("kind", "compare")
    if kind not in list_suite_kinds():
        raise RegbenchError(f"{where}: kind = {kind!r} is not valid; expected one of "
                            f"{', '.join(list_suite_kinds())}")
    values = raw.get("values", [])
    if bool(raw.get("sweep")) != bool(values):
        raise RegbenchError(f"{where}: sweep and values go together (sweep = \"gc.positives\""
                            ", values = [0.4, 0.5])")
    if kind == "gc_sweep" and not values:
        raise RegbenchError(f"{where}: a gc_sweep experiment needs sweep and values, e.g. "
                            "sweep = \"gc.positives\", values = [0.42, 0.6]")
    fractions = raw.get("fractions", [])
    if not isinstance(fractions, list) or not all(
            isinstance(f, (int, float)) and 0 < f <= 1 for f in fractions):
        raise RegbenchError(f"{where}: fractions = {fractions!r} is not valid: expected a "
                            "list of shares in (0, 1], e.g. [0.1, 0.01]")
    if kind in ("stability", "data_scarcity") and not [f for f in fractions if f < 1]:
        raise RegbenchError(f"{where}: a {kind} experiment needs fractions below 1, e.g. "
                            "fractions = [0.25, 0.1]")
    config = raw.get("config", {})
    if not isinstance(config, dict):
        raise RegbenchError(f"{where}: config must be a table of run keys")
    lambda_points, at_preset = _lambda_keys(raw, kind, where)
    return Experiment(name=str(raw.get("name", kind)), kind=kind,
                      scenario=raw.get("scenario"), sweep=raw.get("sweep") or None,
                      values=tuple(values), fractions=tuple(float(f) for f in fractions),
                      config=copy.deepcopy(config), description=str(raw.get("description", "")),
                      balanced=raw.get("balanced"), lambda_points=lambda_points,
                      at_preset=at_preset)


def _lambda_keys(raw: dict, kind: str, where: str) -> tuple[int, dict]:
    """(lambda_points, at_preset) of an experiment table, checked."""
    given = sorted({"lambda_points", "at_preset"} & set(raw))
    if kind != "lambda_sweep":
        if given:
            raise RegbenchError(f"{where}: {given[0]} belongs to a lambda_sweep experiment; "
                                f"drop it or set kind = \"lambda_sweep\"")
        return LAMBDA_POINTS, {}
    if raw.get("sweep"):
        raise RegbenchError(f"{where}: a lambda_sweep experiment sweeps λ; drop sweep and "
                            "values")
    at_preset = raw.get("at_preset", {})
    if not isinstance(at_preset, dict) or not all(isinstance(v, dict)
                                                  for v in at_preset.values()):
        raise RegbenchError(f"{where}: at_preset must hold one table per preset, e.g. "
                            "[experiment.at_preset.smoke] lambda_points = 3")
    from regbench.config import PRESETS
    from regbench.config_merge import parse_regularizer_list
    for preset, changes in at_preset.items():
        if preset not in PRESETS:
            raise RegbenchError(f"{where}: at_preset.{preset}: unknown preset; use one of "
                                f"{', '.join(PRESETS)}")
        _unknown(changes, AT_PRESET_KEYS, f"{where}, at_preset.{preset}")
        _check_points(changes.get("lambda_points", LAMBDA_POINTS),
                      f"{where}, at_preset.{preset}")
        if "regularizers" in changes:
            changes["regularizers"] = parse_regularizer_list(changes["regularizers"])
    return _check_points(raw.get("lambda_points", LAMBDA_POINTS), where), copy.deepcopy(
        at_preset)


def _check_points(points, where: str) -> int:
    if isinstance(points, bool) or not isinstance(points, int) or points < 2:
        raise RegbenchError(f"{where}: lambda_points = {points!r} is not valid: expected an "
                            "integer >= 2 (λ values per regularizer, log-spaced across its "
                            "range)")
    return points


def lambda_grid(name: str, points: int) -> list[float]:
    """``points`` values of λ for regularizer ``name``, log-spaced from the low to the
    high end of its registry range (both included), rounded to 6 significant digits so
    the run keys and the CSV read as the values they are (0.1, not 0.09999999)."""
    from regbench.regularizers import get_spec
    low, high = get_spec(name).lambda_range
    return [float(f"{lam:.6g}") for lam in np.geomspace(low, high, points)]


def swept_regularizers(config: RunConfig, listed: list[str] | None, where: str) -> list[str]:
    """The penalty regularizers a lambda_sweep sweeps: of the run's list (``listed``,
    the experiment's at_preset list, when the run's is "all"), those whose λ means
    something and has a range; ``none`` is the reference, not swept. A regularizer
    named explicitly without a λ range is an error."""
    from regbench.run_checks import resolve_regularizers
    from regbench.regularizers import get_spec
    names = config.regularizers
    explicit = "all" not in names
    if not explicit and listed:
        names, explicit = listed, True
    swept = []
    for name in resolve_regularizers(names, config.task):
        if name == "none":
            continue
        if get_spec(name).searchable:
            swept.append(name)
        elif explicit:
            raise RegbenchError(f"{where}: {name} has no λ to sweep (it adds no penalty, or "
                                "its registry entry has no lambda_range); drop it from "
                                "--regularizers")
    if not swept:
        raise RegbenchError(f"{where}: no regularizer with a λ to sweep; add a penalty, e.g. "
                            "--regularizers fourier,none")
    return swept


# -- points -------------------------------------------------------------------------------

def suite_points(suite: Suite, base: RunConfig) -> list[Point]:
    """Every point of every experiment, each with its checked configuration and folder.
    ``base``: the preset with the user's config file and flags applied."""
    points = []
    for experiment in suite.experiments:
        if experiment.kind == "lambda_sweep":
            points += _lambda_points(suite, experiment, base)
            continue
        for value in experiment.values or (None,):
            config = merge(base, experiment.config,
                           f"suite {suite.name}, experiment {experiment.name!r}")
            if experiment.scenario:
                config.scenario, config.data, config.data_source = (experiment.scenario, None,
                                                                    {})
            if experiment.sweep:
                config.simulate = {**config.simulate, experiment.sweep: value}
            config.fractions = list(experiment.fractions)
            config.stability_fraction = 0.0
            config.validate()
            if experiment.sweep or experiment.scenario:
                from regbench.simulate import load_scenario
                load_scenario(config.scenario, overrides=config.simulate)  # the key exists
            config.out = str(Path(base.out) / "points" / _folder_name(config))
            points.append(Point(experiment, value, config))
    return points


def _lambda_points(suite: Suite, experiment: Experiment, base: RunConfig) -> list[Point]:
    """One point per step of the λ grids: step i trains every swept regularizer at its
    i-th λ, and ``none`` (stored once, loaded at every other step). λ is not part of
    the configuration's hash, so every step shares one folder and its ``none`` runs."""
    where = f"suite {suite.name}, experiment {experiment.name!r}"
    config = merge(base, experiment.config, where)
    changes = experiment.at_preset.get(config.preset, {})
    steps = changes.get("lambda_points", experiment.lambda_points)
    swept = swept_regularizers(config, changes.get("regularizers"), where)
    fixed = sorted(set(config.lambdas) & set(swept))
    if fixed:
        raise RegbenchError(f"{where}: λ of {', '.join(fixed)} is swept here; drop --lambda "
                            "(or [lambda]) for it")
    grids = {name: lambda_grid(name, steps) for name in swept}
    if experiment.scenario:
        config.scenario, config.data, config.data_source = experiment.scenario, None, {}
    config.regularizers, config.tune = [*swept, "none"], False
    config.fractions, config.stability_fraction = [], 0.0
    config.validate()
    config.out = str(Path(base.out) / "points" / _folder_name(config))
    points = []
    for step in range(steps):
        point = copy.deepcopy(config)
        point.lambdas = {name: grid[step] for name, grid in grids.items()}
        points.append(Point(experiment, step + 1, point))
    return points


def _folder_name(config: RunConfig) -> str:
    """Same data and configuration, same folder: its runs are shared."""
    stem = Path(config.scenario).stem if config.scenario else (
        Path(config.data).name if config.data else config.data_source.get("kind", "data"))
    return f"{stem}-{config.hash()}"


# -- running -------------------------------------------------------------------------------

def run_suite(suite: Suite, base: RunConfig, ready=None) -> Path:
    """Train every point (stored runs are reused), then write OUT/results.csv,
    OUT/results_fraction.csv, OUT/suite.json and the suite report. ``ready``: the
    command layer's process set-up (``comparison.run_comparison``'s), for each point."""
    from regbench.comparison import run_comparison
    from regbench.context import RunContext
    from regbench.plan import duration as _duration
    from regbench.plan import estimate
    from regbench.run_checks import check_suite
    check_suite(suite, base)   # as the command line does: options the suite would drop
    out = Path(base.out)
    points = suite_points(suite, base)
    contexts = [RunContext(p.config) for p in points]
    for context in contexts:
        context.check_data()          # every point's data checked before anything is written
    started, t0 = dt.datetime.now().astimezone(), time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    print(f"suite {suite.name}: {len(points)} point(s) in {out}", flush=True)
    total = 0.0
    for point, context in zip(points, contexts):
        context.out.mkdir(parents=True, exist_ok=True)
        context.prepare_data()
        _, seconds = estimate(context)
        total += seconds * (1 + sum(point.config.data_fractions()))
        print(f"  {point.experiment.name}: {point.label} ({context.dataset.length} bp, "
              f"{len(context.dataset.names)} sequences): at most ~{_duration(seconds)}",
              flush=True)
    print(f"expected run time: at most ~{_duration(total)} on {contexts[0].device} (an upper "
          "bound: every model to its epoch limit; stored runs are not retrained)", flush=True)
    frames, fraction_frames, described = [], [], []
    for point, context in zip(points, contexts):
        print(f"{point.experiment.name}: {point.label}", flush=True)
        run_comparison(context, report=False, ready=ready)
        tag = _tag(point)
        frames.append(_tagged(pd.read_csv(context.out / "results.csv"), tag))
        if point.config.data_fractions() and (context.out / "results_fraction.csv").is_file():
            shares = pd.read_csv(context.out / "results_fraction.csv")
            shares = shares[shares["data_fraction"].isin(point.config.data_fractions())]
            fraction_frames.append(_tagged(shares, tag))
        kind = get_suite_kind(point.experiment.kind)
        extra = kind.extras(point, context) if kind.extras is not None else None
        if extra is not None:
            frames[-1] = frames[-1].merge(extra, on=["regularizer", "seed"], how="left")
        described.append({**tag, "folder": str(Path(point.config.out).relative_to(out)),
                          "preset": point.config.preset, "seeds": point.config.seeds,
                          "fractions": point.config.data_fractions(),
                          "sizes": _split_sizes(context),
                          "gc_gap": _gc_gap(point)})
    atomic_write_csv(pd.concat(frames, ignore_index=True), out / "results.csv")
    if fraction_frames:
        atomic_write_csv(pd.concat(fraction_frames, ignore_index=True),
                         out / "results_fraction.csv")
    else:
        (out / "results_fraction.csv").unlink(missing_ok=True)
    _write_manifest(out, suite, base, described, started, time.perf_counter() - t0)
    from regbench.report.suite import write_suite_report
    html, _ = write_suite_report(out)
    print(f"results: {out / 'results.csv'}\nreport:  {html}", flush=True)
    return out


def _tag(point: Point) -> dict:
    return {"experiment": point.experiment.name, "kind": point.experiment.kind,
            "point": point.label, "sweep": point.experiment.sweep or "",
            "value": point.value}


def _tagged(frame: pd.DataFrame, tag: dict) -> pd.DataFrame:
    frame = frame.copy()
    for i, (key, value) in enumerate(tag.items()):
        frame.insert(i, key, value)
    return frame


def _split_sizes(context) -> dict:
    return {s: int((context.dataset.split == s).sum()) for s in ("train", "valid", "test")}


def _gc_gap(point: Point) -> float | None:
    if point.experiment.kind != "gc_sweep":
        return None
    from regbench.simulate import load_scenario
    scenario = load_scenario(point.config.scenario, overrides=point.config.simulate)
    return round(scenario["gc"]["positives"] - scenario["gc"]["negatives"], 6)


def _write_manifest(out: Path, suite: Suite, base: RunConfig, points: list[dict], started,
                    seconds: float) -> None:
    import torch

    from regbench import __version__
    atomic_write(out / "suite.json", json.dumps({
        "suite": suite.name, "source": suite.source, "description": suite.description,
        "experiments": [{"name": e.name, "kind": e.kind, "description": e.description,
                         "what": get_suite_kind(e.kind).what} for e in suite.experiments],
        "preset": base.preset, "task": base.task, "regularizers": base.regularizers,
        "seeds": base.seeds, "lambdas": base.lambdas, "tune": base.tune, "points": points,
        "started": started.isoformat(timespec="seconds"), "wall_seconds": round(seconds, 1),
        "regbench": __version__, "torch": torch.__version__}, indent=2, default=str))


__all__ = ["Experiment", "Point", "Suite", "find_suite", "lambda_grid", "list_suites",
           "load_suite", "run_suite", "suite_points", "swept_regularizers"]
