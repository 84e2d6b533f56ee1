"""``check_run(config)``: the one check of a run's options, before anything is read or
written.

The command line calls it once it has built the configuration, and ``RunContext`` (so
the Python API, ``Benchmark(config).run()``) calls it too, so both refuse the same options
with the same one-line ``RegbenchError``. Checked here: every value
(``RunConfig.validate``: types from the fields, then ranges), the options that must go
together, and every name against its registry (regularizers, λ, attribution methods,
model, task, data source, storage URL).

Not here, on purpose:
- the syntax of a flag and which flags build which table (``commands/run.py``:
  ``--fractions``, ``--lambda NAME=VALUE``, ``--genome`` with ``--peaks`` and the flags
  that only go with them): a configuration cannot express them;
- what needs the data or the results folder (``RunContext.check_data``: the files
  exist, the model fits the sequence length, a profile model has read counts, OUT/data
  holds this scenario);
- tune against the λ protocol (``options.merge.merge``): it compares the two as given in one
  place (a file, the flags); a built configuration cannot tell which one was given.
"""
from __future__ import annotations

import numpy as np

from regbench.options.config import RunConfig
from regbench.errors import RegbenchError


def check_run(config: RunConfig) -> None:
    """Refuse ``config`` with one RegbenchError line if any option is invalid alone, goes
    against another, or names nothing registered. Touches no file."""
    _check_controls(config)   # first: it is why a profile model's [model] keys are unknown
    config.validate()
    if config.artifacts and not config.tuning_config().storage:
        raise RegbenchError("--artifacts goes with --storage: it is where workers on "
                            "several machines exchange the runs of a shared grid")
    resolve_lambdas(config, resolve_regularizers(config.regularizers, config.task))
    _check_regularizer_params(config)
    _check_registered(config)


def _check_controls(config: RunConfig) -> None:
    source = config.data_source if isinstance(config.data_source, dict) else {}
    if source.get("control_plus") and config.task != "profile":
        raise RegbenchError("control bigWigs (--controls) are inputs of profile models: "
                            "add --model profile")


def _check_regularizer_params(config: RunConfig) -> None:
    from regbench.regularizers import get_spec
    for name, params in config.regularizer_params.items():   # typos fail here, not
        try:                                                  # silently
            get_spec(name).create(**params)
        except RegbenchError as exc:
            raise RegbenchError(f"[regularizer_params.{name}]: {exc}") from None


def _check_registered(config: RunConfig) -> None:
    """Attribution methods, model, task, device, data source and storage URL."""
    from regbench.attributions import resolve_methods
    from regbench.data import source_of
    from regbench.models import DEFAULT_ARCHITECTURE, get_model_spec
    from regbench.tasks import list_tasks
    from regbench.training.train import resolve_device
    resolve_methods(config.evaluation_config().methods)
    get_model_spec(config.model.get("architecture", DEFAULT_ARCHITECTURE))
    if config.task not in list_tasks():
        raise RegbenchError(f"task = {config.task!r} is not valid: known tasks are "
                            f"{', '.join(list_tasks())}")
    resolve_device(config.device)
    source_of(config)   # the kind and its arguments; files are checked with the data
    storage = config.tuning_config().storage
    if storage:   # a typo fails now, not after the data are simulated
        from regbench.tune import parse_storage
        parse_storage(storage)


def check_suite(suite, config: RunConfig, scenario_given: bool = False) -> None:
    """Refuse the options of ``config`` (the suite's base: preset, config file, flags)
    that a suite would silently drop: local workers, shares of the training rows (each
    experiment gives its own) and data of the user's when every experiment simulates its
    own scenario. ``scenario_given``: the user named a scenario (the command line knows;
    a configuration always holds one, the preset's if not the user's)."""
    if config.workers != "auto" and config.workers > 1:   # auto: one process here
        raise RegbenchError("--workers does not go with --suite: start the suite command "
                            "in several processes with one --storage (and --threads), "
                            "they share every point's grid")
    for key, off in (("fractions", []), ("stability_fraction", 0.0)):
        if getattr(config, key) != off:
            raise RegbenchError(f"--{key.replace('_', '-')} does not go with --suite: a "
                                "suite's experiments give their fractions")
    given = _data_option(config, scenario_given)
    if given and all(e.scenario for e in suite.experiments):
        raise RegbenchError(f"{given} does not go with --suite {suite.name}: each of "
                            "its experiments simulates its own scenario; for your data, "
                            "write a suite file whose experiments name no scenario")


def _data_option(config: RunConfig, scenario_given: bool) -> str | None:
    """The option that chose the data, as the user gave it; None for the preset's."""
    if config.data_source:
        kind = config.data_source.get("kind")
        return "--genome" if kind == "genome" else f"[data_source] kind = {kind!r}"
    if config.data:
        return "--data"
    return "--scenario" if scenario_given else None


def resolve_regularizers(names: list[str], task: str = "binary") -> list[str]:
    """Expand 'all' (every registered regularizer that applies to ``task``) and check
    every name against the registry and the task (one-line error otherwise)."""
    from regbench.regularizers import get_spec, list_regularizers
    if "all" in names:
        return [n for n in list_regularizers()
                if get_spec(n).tasks is None or task in get_spec(n).tasks]
    for name in names:
        tasks = get_spec(name).tasks
        if tasks is not None and task not in tasks:
            raise RegbenchError(f"regularizer {name!r} applies to {', '.join(tasks)} models, "
                                f"not to task = {task}; drop it from --regularizers")
    return list(dict.fromkeys(names))


def resolve_lambdas(config: RunConfig, regularizers: list[str]) -> tuple[dict, dict]:
    """λ per regularizer and where it came from ('--lambda': the user's, given as a flag
    or in [lambda]; 'registry': its documented default)."""
    from regbench.regularizers import get_spec
    lambdas, sources = {}, {}
    for name in config.lambdas:
        if name not in regularizers:
            raise RegbenchError(f"--lambda given for {name!r}, which is not among the "
                                f"regularizers of this run: {', '.join(regularizers)}")
    for name in regularizers:
        if name in config.lambdas:
            if not get_spec(name).takes_lambda:
                raise RegbenchError(f"--lambda {name}=...: {name} has no λ (it adds no "
                                    "penalty); drop it from --lambda")
            lam = float(config.lambdas[name])
            if not np.isfinite(lam) or lam < 0:
                raise RegbenchError(f"λ for {name} must be a finite number >= 0, got {lam}")
            lambdas[name], sources[name] = lam, "--lambda"
        else:
            lambdas[name], sources[name] = get_spec(name).default_lambda, "registry"
    return lambdas, sources


__all__ = ["check_run", "check_suite", "resolve_lambdas", "resolve_regularizers"]
