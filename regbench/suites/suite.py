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
    kind = "gc_sweep"                # a registered suite kind (regbench.suites.builtins)
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

What differs between kinds (their own keys and checks, how an experiment expands into
points, labels, extra columns, report sections) is the kind's (``suites.kinds``): this
module only calls the hooks of the kind it looks up.

``load_suite`` checks every key before anything runs; ``run_suite`` trains every
point, then writes OUT/results.csv (every point's runs, tagged with experiment and
point), OUT/suite.json and the suite report (``regbench.suites.report``).
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from regbench.options.config import RunConfig
from regbench.errors import RegbenchError
from regbench.lookup import find_file, list_names, search_folders
from regbench.store.runs import atomic_write, atomic_write_csv
from regbench.suites.builtins import (AT_PRESET_KEYS, LAMBDA_POINTS,  # noqa: F401
                                     lambda_grid, swept_regularizers)
from regbench.suites.hooks import unknown_keys
from regbench.suites.kinds import (default_suite_kind, get_suite_kind, key_owners,
                                  list_suite_kinds)

SUITE_KEYS = {"description", "preset", "regularizers", "experiment"}
EXPERIMENT_KEYS = {"name", "kind", "scenario", "sweep", "values", "fractions", "config",
                   "description", "balanced", "lambda_points", "at_preset"}


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
        """Its name in results.csv's ``point`` column and the report (its kind's)."""
        return get_suite_kind(self.experiment.kind).label(self)


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
    unknown_keys(raw, SUITE_KEYS, f"suite file {path}")
    experiments = raw.get("experiment")
    if not isinstance(experiments, list) or not experiments:
        raise RegbenchError(f"suite file {path} has no [[experiment]] tables; add one per "
                            "experiment (keys: " + ", ".join(sorted(EXPERIMENT_KEYS)) + ")")
    return Suite(path.stem, str(path), str(raw.get("description", "")), raw.get("preset"),
                 raw.get("regularizers"),
                 tuple(_experiment(e, i, path) for i, e in enumerate(experiments, 1)))


def _experiment(raw, number: int, path: Path) -> Experiment:
    where = f"suite file {path}, experiment {number}"
    if not isinstance(raw, dict):
        raise RegbenchError(f"{where} must be a table")
    unknown_keys(raw, EXPERIMENT_KEYS, where)
    kind = raw.get("kind", default_suite_kind())
    if kind not in list_suite_kinds():
        raise RegbenchError(f"{where}: kind = {kind!r} is not valid; expected one of "
                            f"{', '.join(list_suite_kinds())}")
    values = raw.get("values", [])
    if bool(raw.get("sweep")) != bool(values):
        raise RegbenchError(f"{where}: sweep and values go together (sweep = \"gc.positives\""
                            ", values = [0.4, 0.5])")
    fractions = raw.get("fractions", [])
    if not isinstance(fractions, list) or not all(
            isinstance(f, (int, float)) and 0 < f <= 1 for f in fractions):
        raise RegbenchError(f"{where}: fractions = {fractions!r} is not valid: expected a "
                            "list of shares in (0, 1], e.g. [0.1, 0.01]")
    config = raw.get("config", {})
    if not isinstance(config, dict):
        raise RegbenchError(f"{where}: config must be a table of run keys")
    return Experiment(name=str(raw.get("name", kind)), kind=kind,
                      scenario=raw.get("scenario"), sweep=raw.get("sweep") or None,
                      values=tuple(values), fractions=tuple(float(f) for f in fractions),
                      config=copy.deepcopy(config), description=str(raw.get("description", "")),
                      balanced=raw.get("balanced"), **_own_fields(raw, kind, where))


def _own_fields(raw: dict, kind: str, where: str) -> dict:
    """{Experiment field: value} of the keys ``kind`` owns, checked by its ``check``;
    a key another kind owns is refused, naming that kind."""
    owners = key_owners()
    suite_kind = get_suite_kind(kind)
    foreign = sorted(set(raw) & set(owners) - suite_kind.keys)
    if foreign:
        owner = owners[foreign[0]]
        raise RegbenchError(f"{where}: {foreign[0]} belongs to a {owner} experiment; drop it "
                            f"or set kind = \"{owner}\"")
    return suite_kind.check(raw, where)


# -- points -------------------------------------------------------------------------------

def suite_points(suite: Suite, base: RunConfig) -> list[Point]:
    """Every point of every experiment, each with its checked configuration and folder.
    ``base``: the preset with the user's config file and flags applied."""
    points = []
    for experiment in suite.experiments:
        kind = get_suite_kind(experiment.kind)
        where = f"suite {suite.name}, experiment {experiment.name!r}"
        for value, config in kind.points(experiment, base, where):
            config.out = str(Path(base.out) / "points" / _folder_name(config))
            points.append(Point(experiment, value, config))
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
    from regbench.runner.comparison import run_comparison
    from regbench.runner.context import RunContext
    from regbench.runner.plan import duration as _duration
    from regbench.runner.plan import estimate
    from regbench.runner.checks import check_suite
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
        # gc_gap on every point (None where its kind gives none), as suite.json always had
        described.append({**tag, "folder": str(Path(point.config.out).relative_to(out)),
                          "preset": point.config.preset, "seeds": point.config.seeds,
                          "fractions": point.config.data_fractions(),
                          "sizes": _split_sizes(context), "gc_gap": None,
                          **kind.facts(point)})
    atomic_write_csv(pd.concat(frames, ignore_index=True), out / "results.csv")
    if fraction_frames:
        atomic_write_csv(pd.concat(fraction_frames, ignore_index=True),
                         out / "results_fraction.csv")
    else:
        (out / "results_fraction.csv").unlink(missing_ok=True)
    _write_manifest(out, suite, base, described, started, time.perf_counter() - t0)
    from regbench.suites.report import write_suite_report
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
