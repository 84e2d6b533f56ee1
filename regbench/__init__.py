"""regbench: a benchmark of regularizers and attribution priors for genomics models.

Public entry points::

    import regbench
    results = regbench.run(regularizers=["fourier", "none"], preset="smoke")
    results = regbench.load("results/quick")     # a folder written earlier
    results.verdict(); results.table(); results.plot_verdict()
    regbench.list_regularizers()
    reg = regbench.get_regularizer("fourier", freq_limit=150)

    @regbench.register_regularizer("my_prior", needs="attributions",
                                   lambda_range=(1e-3, 10.0))
    def my_prior(attr):          # attr: (N, 4, L)
        return attr.abs().sum(dim=(1, 2)).mean()
"""
__version__ = "0.1.0"

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

from regbench.errors import RegbenchError

# Modules that issue 43 moved into packages named for their job (docs/architecture.md):
# their old paths still import, with a DeprecationWarning, so that users' scripts keep
# working. ``regbench.store`` is now a package that still gives its old names.
_MOVED = {f"regbench.{old}": f"regbench.{new}" for old, new in {
    "context": "runner.context", "plan": "runner.plan",
    "lambda_search": "runner.lambda_search", "lambda_rules": "runner.lambda_rules",
    "lambda_choice": "runner.lambda_choice", "executor": "runner.executor",
    "comparison": "runner.comparison", "manifest": "runner.manifest",
    "run_checks": "runner.checks", "run_inputs": "runner.values",
    "fit": "training.fit", "train": "training.train", "group": "training.group",
    "checkpoint": "training.checkpoint", "record": "store.record",
    "tables": "store.tables", "labels": "store.labels",
    "trained_with": "store.trained_with", "locks": "store.locks",
    "config": "options.config", "config_merge": "options.merge",
    "presets": "options.presets", "settings": "options.settings",
    "checks": "options.checks", "suite": "suites.suite", "suite_kinds": "suites.kinds",
    "suite_hooks": "suites.hooks", "suite_builtins": "suites.builtins",
    "suite_extras": "suites.extras", "grid": "distributed.grid",
    "workers": "distributed.workers", "threads": "runtime.threads",
    "memory": "runtime.memory", "commands.process": "runtime.process",
    "report.suite": "suites.report", "report.suite_verdict": "suites.verdict",
    "report.suite_sections": "suites.sections",
}.items()}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds a moved module under its old name (after every real module: a name in use
    is never shadowed) and hands out the module at its new path."""

    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in _MOVED else None

    def create_module(self, spec):
        warnings.warn(f"{spec.name} moved to {_MOVED[spec.name]}", DeprecationWarning,
                      stacklevel=2)
        return importlib.import_module(_MOVED[spec.name])

    def exec_module(self, module):
        pass   # the module at its new path is loaded already


if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
    sys.meta_path.append(_MovedModules())

# The registry imports torch; loaded on first use, so that the command line can check
# its options and answer --help before torch loads.
_FROM_REGULARIZERS = ("Regularizer", "RegularizerSpec", "get_regularizer",
                      "list_regularizers", "register_regularizer")
# The notebook API (regbench.api): run a comparison, load a results folder.
_FROM_API = ("Results", "configure", "load", "run")


def __getattr__(name: str):
    if name in _FROM_REGULARIZERS:
        from regbench import regularizers
        return getattr(regularizers, name)
    if name in _FROM_API:
        api = importlib.import_module("regbench.api")
        return getattr(api, name)
    raise AttributeError(f"module 'regbench' has no attribute {name!r}")


__all__ = [
    "RegbenchError",
    "Results",
    "configure",
    "load",
    "run",
    "Regularizer",
    "RegularizerSpec",
    "get_regularizer",
    "list_regularizers",
    "register_regularizer",
    "__version__",
]
