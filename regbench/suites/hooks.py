"""What a suite kind is (``SuiteKind``) and the default of each of its hooks: an
experiment that sweeps a scenario key (or none), one point per value. Also the helpers
a kind's hooks share (``unknown_keys``, ``lazy``). The registry is ``suites.kinds``; the
built-in kinds are ``suites.builtins``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from regbench.errors import RegbenchError


def unknown_keys(table: dict, known: set, where: str) -> None:
    """Refuse the keys of ``table`` not in ``known``: one line naming them and the known."""
    unknown = sorted(set(table) - known)
    if unknown:
        raise RegbenchError(f"unknown key(s) in {where}: {', '.join(unknown)}; known keys: "
                            f"{', '.join(sorted(known))}")


def no_check(raw: dict, where: str) -> dict:
    """The default ``check``: nothing of the kind's own; no Experiment fields."""
    return {}


def value_points(experiment, base, where: str) -> list:
    """The default ``points``: one point per value of ``experiment.sweep`` (one point
    without a sweep), the experiment's run keys merged over ``base`` and its scenario
    and shares set. Returns [(value, RunConfig)], each configuration checked; the
    suite gives each its folder."""
    from regbench.options.merge import merge
    points = []
    for value in experiment.values or (None,):
        config = merge(base, experiment.config, where)
        if experiment.scenario:
            config.scenario, config.data, config.data_source = experiment.scenario, None, {}
        if experiment.sweep:
            config.simulate = {**config.simulate, experiment.sweep: value}
        config.fractions = list(experiment.fractions)
        config.stability_fraction = 0.0
        config.validate()
        if experiment.sweep or experiment.scenario:
            from regbench.simulate import load_scenario
            load_scenario(config.scenario, overrides=config.simulate)   # the key exists
        points.append((value, config))
    return points


def value_label(point) -> str:
    """The default ``label``: "key=value" of the swept key, else the scenario's name."""
    sweep = point.experiment.sweep
    if sweep:
        return f"{sweep}={point.value:g}" if isinstance(point.value, float) \
            else f"{sweep}={point.value}"
    return point.config.scenario or "data"


def no_facts(point) -> dict:
    """The default ``facts``: nothing beyond what suite.json records of every point."""
    return {}


@dataclass(frozen=True)
class SuiteKind:
    """name: the experiment's ``kind``; what: what its report section shows (suite.json);
    section: (out, experiment, results, shares, order, manifest) -> report blocks;
    extras: (Point, RunContext) -> DataFrame (regularizer, seed, columns...) or None;
    columns: the names (or prefixes) of the columns extras adds, one value per run
    (not per attribution method).

    The hooks, each with a default that treats the experiment as a scenario sweep:
    keys: the experiment keys only this kind takes (another kind's table naming one
    is refused); check: (raw table, where) -> {Experiment field: value} of its own
    keys, raising RegbenchError on a bad table; points: (Experiment, base RunConfig,
    where) -> [(value, RunConfig)]; label: Point -> its name in tables and the report;
    facts: Point -> {key: value} that suite.json records of it; tables: (out,
    experiments, results, shares, order, manifest) -> None, writes the CSVs beside
    the suite's report from this kind's experiments (suite.json entries); verdict:
    (experiment name, its runs) -> report blocks, its own verdict when the suite's
    verdict is read from one of its experiments (None: the headline metrics at its
    last point); headline: the suite's verdict is read from the first experiment of
    a headline kind (else from the first experiment); sweeps_lambda: its points set
    λ themselves (the report lists no λ source for them)."""

    name: str
    what: str
    section: Callable
    extras: Callable | None = None
    columns: tuple[str, ...] = ()
    keys: frozenset[str] = frozenset()
    check: Callable[[dict, str], dict] = no_check
    points: Callable = value_points
    label: Callable = value_label
    facts: Callable = no_facts
    tables: Callable | None = None
    verdict: Callable | None = None
    headline: bool = False
    sweeps_lambda: bool = False


def lazy(module: str, name: str) -> Callable:
    """``module.name``, imported when first called: a report hook whose module imports
    plotting libraries, named without importing them."""
    def call(*args):
        import importlib
        return getattr(importlib.import_module(module), name)(*args)
    call.__name__ = name
    return call


__all__ = ["SuiteKind", "lazy", "no_check", "no_facts", "unknown_keys", "value_label",
           "value_points"]
