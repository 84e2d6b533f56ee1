"""The built-in suite kinds, each one ``SuiteKind`` here with its own checks, points,
labels, facts, extras (``regbench.suites.extras``) and report hooks
(``regbench.suites.sections``, ``regbench.suites.verdict``, imported when
the report is written). The only module that names them: everything else asks the
kind object it looks up (``suites.kinds.get_suite_kind``, whose registry holds
these).

    compare        the regularizers side by side on one dataset
    stability      attribution similarity between seeds and nested training shares
    gc_sweep       a scenario's GC gap swept; GC reliance, balanced auROC
    data_scarcity  metrics against the number of training rows
    multi_motif    per-task auROC and motif scores of a multi-task scenario
    lambda_sweep   λ swept on a log grid per penalty; the verdict at matched accuracy
"""
from __future__ import annotations

import copy

import numpy as np

from regbench.suites import extras as suite_extras
from regbench.errors import RegbenchError
from regbench.suites.hooks import SuiteKind, lazy, unknown_keys

SECTIONS = "regbench.suites.sections"
LAMBDA_POINTS = 5   # a lambda_sweep's grid size per regularizer by default
# What [experiment.at_preset.NAME] of a lambda_sweep may change at preset NAME.
AT_PRESET_KEYS = {"lambda_points", "regularizers"}


# -- checks -------------------------------------------------------------------------------

def needs_shares(raw: dict, where: str) -> dict:
    """stability, data_scarcity: at least one share of the training rows below 1."""
    if not [f for f in raw.get("fractions", []) if f < 1]:
        raise RegbenchError(f"{where}: a {raw['kind']} experiment needs fractions below 1, "
                            "e.g. fractions = [0.25, 0.1]")
    return {}


def needs_values(raw: dict, where: str) -> dict:
    """gc_sweep: a swept key and its values."""
    if not raw.get("values", []):
        raise RegbenchError(f"{where}: a gc_sweep experiment needs sweep and values, e.g. "
                            "sweep = \"gc.positives\", values = [0.42, 0.6]")
    return {}


def lambda_keys(raw: dict, where: str) -> dict:
    """lambda_sweep: {lambda_points, at_preset} of the table, checked; it sweeps λ, so
    no scenario key. at_preset's regularizer lists are parsed in place."""
    if raw.get("sweep"):
        raise RegbenchError(f"{where}: a lambda_sweep experiment sweeps λ; drop sweep and "
                            "values")
    at_preset = raw.get("at_preset", {})
    if not isinstance(at_preset, dict) or not all(isinstance(v, dict)
                                                  for v in at_preset.values()):
        raise RegbenchError(f"{where}: at_preset must hold one table per preset, e.g. "
                            "[experiment.at_preset.smoke] lambda_points = 3")
    from regbench.options.config import PRESETS
    from regbench.options.merge import parse_regularizer_list
    for preset, changes in at_preset.items():
        if preset not in PRESETS:
            raise RegbenchError(f"{where}: at_preset.{preset}: unknown preset; use one of "
                                f"{', '.join(PRESETS)}")
        unknown_keys(changes, AT_PRESET_KEYS, f"{where}, at_preset.{preset}")
        check_lambda_points(changes.get("lambda_points", LAMBDA_POINTS),
                            f"{where}, at_preset.{preset}")
        if "regularizers" in changes:
            changes["regularizers"] = parse_regularizer_list(changes["regularizers"])
    return {"lambda_points": check_lambda_points(raw.get("lambda_points", LAMBDA_POINTS),
                                                 where),
            "at_preset": copy.deepcopy(at_preset)}


def check_lambda_points(points, where: str) -> int:
    if isinstance(points, bool) or not isinstance(points, int) or points < 2:
        raise RegbenchError(f"{where}: lambda_points = {points!r} is not valid: expected an "
                            "integer >= 2 (λ values per regularizer, log-spaced across its "
                            "range)")
    return points


# -- lambda_sweep's points ------------------------------------------------------------------

def lambda_grid(name: str, points: int) -> list[float]:
    """``points`` values of λ for regularizer ``name``, log-spaced from the low to the
    high end of its registry range (both included), rounded to 6 significant digits so
    the run keys and the CSV read as the values they are (0.1, not 0.09999999)."""
    from regbench.regularizers import get_spec
    low, high = get_spec(name).lambda_range
    return [float(f"{lam:.6g}") for lam in np.geomspace(low, high, points)]


def swept_regularizers(config, listed: list[str] | None, where: str) -> list[str]:
    """The penalty regularizers a lambda_sweep sweeps: of the run's list (``listed``,
    the experiment's at_preset list, when the run's is "all"), those whose λ means
    something and has a range; ``none`` is the reference, not swept. A regularizer
    named explicitly without a λ range is an error."""
    from regbench.regularizers import get_spec
    from regbench.runner.checks import resolve_regularizers
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


def lambda_points(experiment, base, where: str) -> list:
    """One point per step of the λ grids: step i (1-based, the point's value) trains
    every swept regularizer at its i-th λ, and ``none`` (stored once, loaded at every
    other step). λ is not part of the configuration's hash, so every step shares one
    folder and its ``none`` runs. Returns [(step, RunConfig)]."""
    from regbench.options.merge import merge
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
    points = []
    for step in range(steps):
        point = copy.deepcopy(config)
        point.lambdas = {name: grid[step] for name, grid in grids.items()}
        points.append((step + 1, point))
    return points


def lambda_label(point) -> str:
    return f"λ step {point.value}"


# -- gc_sweep's facts -----------------------------------------------------------------------

def gc_gap(point) -> dict:
    """{"gc_gap": the point's GC gap, positives − negatives} (suite.json; the report's
    x axis)."""
    from regbench.simulate import load_scenario
    scenario = load_scenario(point.config.scenario, overrides=point.config.simulate)
    return {"gc_gap": round(scenario["gc"]["positives"] - scenario["gc"]["negatives"], 6)}


# -- the kinds ------------------------------------------------------------------------------

def _section(name: str):
    return lazy(SECTIONS, name)


COMPARE = SuiteKind(
    "compare", "the regularizers side by side on one dataset (summary, figures, λ search)",
    _section("compare_section"), headline=True)
STABILITY = SuiteKind(
    "stability", "attribution similarity between seeds, and between full-data models and "
    "models trained on nested shares of the training rows", _section("stability_section"),
    check=needs_shares, tables=_section("stability_tables"))
GC_SWEEP = SuiteKind(
    "gc_sweep", "GC reliance, auROC on GC-balanced data and motif fraction against the GC "
    "gap between positives and negatives", _section("gc_sweep_section"),
    suite_extras.balanced_auroc, ("balanced_auroc",), check=needs_values, facts=gc_gap)
DATA_SCARCITY = SuiteKind(
    "data_scarcity", "performance and interpretability against the number of training rows",
    _section("data_scarcity_section"), check=needs_shares)
MULTI_MOTIF = SuiteKind(
    "multi_motif", "several factors and tasks: per-task auROC, motif fraction and motif "
    "auPRC beside the usual tables", _section("multi_motif_section"),
    suite_extras.task_results, ("auroc_", "motif_fraction_", "motif_auprc_"))
LAMBDA_SWEEP = SuiteKind(
    "lambda_sweep", "test auROC, validation loss and interpretability against λ (a log "
    "grid across each penalty's range), none as a band, and the most interpretable λ at "
    "matched accuracy", _section("lambda_sweep_section"),
    keys=frozenset({"lambda_points", "at_preset"}), check=lambda_keys, points=lambda_points,
    label=lambda_label, tables=_section("lambda_sweep_tables"),
    verdict=lazy("regbench.suites.verdict", "lambda_sweep_verdict"), sweeps_lambda=True)

# in registration order: the order `kind = ...` errors list them in
KINDS = (COMPARE, STABILITY, GC_SWEEP, DATA_SCARCITY, MULTI_MOTIF, LAMBDA_SWEEP)
DEFAULT_KIND = COMPARE.name   # an experiment table without a kind

__all__ = ["AT_PRESET_KEYS", "DEFAULT_KIND", "KINDS", "LAMBDA_POINTS", "check_lambda_points",
           "gc_gap", "lambda_grid", "lambda_keys", "lambda_label", "lambda_points",
           "needs_shares", "needs_values", "swept_regularizers"]
