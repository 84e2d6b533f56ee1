"""The Python API of a comparison: ``Benchmark(config).run()`` (README, docs/extending.md).

A thin facade over the rooms of one run, for scripts and tests; no module below the
command layer takes it (tests/test_architecture.py):

- ``context``: ``RunContext`` (config, data, splits, task, run keys, regularizers, λ);
- ``executor``: ``RunExecutor`` (train, score and store one run, a group, the grid);
- ``search``: ``LambdaSearch`` (λ by the run's protocol; trials in a context of their
  own);
- ``run()``: ``comparison.run_comparison`` with the command layer's process set-up
  (``runtime.process``: threads, allocator, cuDNN, local workers).

Every run is keyed by (dataset fingerprint, regularizer, λ, seed, data fraction,
config hash). A finished run is stored as ``runs/<key>.json`` (written atomically)
and never trained again, so an interrupted ``regbench run`` resumes where it stopped.
The tables (results.csv, per_sequence.csv, history.csv) are rebuilt from the store.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

from regbench.runner.comparison import run_comparison
from regbench.options.config import RunConfig
from regbench.runner.context import DEFAULT_MODELS_PER_GROUP, RunContext
from regbench.runner.executor import RunExecutor, extra_backward_passes
from regbench.runner.lambda_rules import measured_penalty, scale_lambda
from regbench.runner.lambda_search import LambdaSearch


class Benchmark:
    """One results folder: its context, executor and λ search, and ``run``."""

    def __init__(self, config: RunConfig):
        self.config = config
        self.context = RunContext(config)
        self.executor = RunExecutor(self.context)
        self.search = LambdaSearch(self.context)

    @property
    def out(self) -> Path:
        return self.context.out

    def run(self, report: bool = True, argv: list[str] | None = None,
            plan: bool = True) -> Path:
        """Train and score the whole grid (stored runs are loaded, not retrained),
        write the tables, config.json and, with ``report``, the report. With
        ``workers`` > 1, ``argv`` (the command's arguments after ``regbench``) starts
        the other local workers once the data are ready. ``plan``: print the plan
        (timing a few steps first)."""
        from regbench.runtime.process import process_hook
        from regbench.distributed.workers import stop_local_workers
        workers = []
        with contextlib.ExitStack() as held:
            try:
                return run_comparison(self.context, self.executor, self.search,
                                      report=report, plan=plan, held=held,
                                      ready=process_hook(argv, workers))
            except BaseException:
                stop_local_workers(workers)
                raise


__all__ = ["DEFAULT_MODELS_PER_GROUP", "Benchmark", "extra_backward_passes",
           "measured_penalty", "scale_lambda"]
