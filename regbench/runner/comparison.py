"""The flow of one comparison (one results folder): data, plan, λ, the seed grid,
the tables, config.json, the report.

``run_comparison(context)`` drives the rooms: the RunContext's data (checked, then
prepared), the plan (``regbench.runner.plan``), the λ search (``LambdaSearch``), the grid
(``RunExecutor`` alone, or ``workers.work_grid`` on a shared queue), the manifest
(``manifest.write_config``) and the report. Process set-up (threads, allocator, cuDNN,
local workers) is the command layer's: it hands ``ready``, called once the data are
ready, which returns a function that waits for the local workers it started (or None).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Callable

from regbench.runner.context import RunContext
from regbench.errors import RegbenchError
from regbench.runner.executor import RunExecutor
from regbench.runner.lambda_search import LambdaSearch
from regbench.runner.manifest import write_config
from regbench.store.locks import lock_folder, lock_grid


def run_comparison(context: RunContext, executor: RunExecutor | None = None,
                   search: LambdaSearch | None = None, *, report: bool = True,
                   plan: bool = True, held: contextlib.ExitStack | None = None,
                   ready: Callable[[RunContext], Callable[[], None] | None] | None = None
                   ) -> Path:
    """Train and score the whole grid of ``context`` (stored runs are loaded, not
    retrained), write the tables, config.json and, with ``report``, the report.
    ``plan``: print the plan (timing a few steps first). ``held``: the exit stack that
    holds the results folder's lock (default: one of its own, released on return)."""
    if held is None:
        with contextlib.ExitStack() as own:
            return run_comparison(context, executor, search, report=report, plan=plan,
                                  held=own, ready=ready)
    executor = executor or RunExecutor(context)
    search = search or LambdaSearch(context)
    config, out = context.config, context.out
    started = dt.datetime.now().astimezone()
    t0 = time.perf_counter()
    context.check_data()
    # Alone on the folder: a second run would train every run again and write a
    # results.csv of its own. The processes of a shared grid hold it together (the local
    # workers this run starts, workers on other machines given the same --out), the
    # grid's own once its study is known (lock_grid, below). A folder that cannot be
    # written is one line here, before anything is written.
    held.enter_context(lock_folder(out, shared=context.shares_grid()))
    context.prepare_data()
    wait_workers = ready(context) if ready is not None else None
    estimate = None
    if plan and context.all_stored():   # a rerun: no steps to time, nothing to plan
        print(f"plan: every run is stored in {out} already; the tables and the "
              "report are written again", flush=True)
    elif plan:
        from regbench.runner.plan import describe_plan, plan_run
        estimate = plan_run(context)
        print(describe_plan(context, estimate), flush=True)
    staged = report and not context.shares_grid()
    if staged:   # λ and seed runs a regularizer at a time, an interim report after each
        _train_in_stages(context, executor, search, estimate, started, t0)
    elif config.tune:
        context.use_lambdas(search.tune_lambdas(estimate))
    from regbench.store.trained_with import say_reused_runs
    say_reused_runs(context)   # stored runs trained with other threads, device, groups
    grid = [(r, s) for r in context.regularizers for s in range(config.seeds)]
    if context.shares_grid():
        from regbench.distributed.workers import grid_study, work_grid
        held.enter_context(lock_grid(out, grid_study(context, grid, config.data_fractions())))
        work_grid(executor, grid, config.data_fractions())
        if wait_workers is not None:
            wait_workers()
        missing = executor.collect_grid(grid)
    else:   # staged: every seed run is stored; the tables in the regularizers' order
        executor.train_grid(grid)
        missing = 0
    for line in context.store.settings_warnings():
        print(line, file=sys.stderr, flush=True)
    write_config(context, started, time.perf_counter() - t0)
    if missing:
        raise RegbenchError(
            f"the seed grid is complete, but {missing} of its runs were trained by "
            f"workers whose results folder {out} does not hold: give every "
            "worker one shared --out, or --artifacts DIR|s3://BUCKET; then gather "
            f"them with `regbench report {out} --storage URL`")
    if report:
        from regbench.report import write_report
        write_report(out)
        print(f"results: {out / 'results.csv'}\nreport:  {out / 'report.html'}",
              flush=True)
    return out


# An interim report is written at most this often (seconds of the run), so that a short
# run spends no time on reports nobody reads; the quick preset's stages take minutes.
INTERIM_EVERY = 120.0


def stages(regularizers: list[str]) -> list[list[str]]:
    """The order in which λ is chosen and the seeds trained: none with the first other
    regularizer (a first verdict early), then one regularizer at a time."""
    others = [r for r in regularizers if r != "none"]
    first = (["none"] if "none" in regularizers else []) + others[:1]
    return [first] + [[r] for r in others[1:]]


def _train_in_stages(context: RunContext, executor: RunExecutor, search: LambdaSearch,
                     estimate, started, t0: float) -> None:
    """λ (the run's protocol) and the seed runs on all the training rows, stage by stage
    (``stages``); after each stage but the last, an interim report of the regularizers
    done (config.json's ``interim``), at most every INTERIM_EVERY seconds. Each
    regularizer's λ depends only on its own candidates and none's, and each run on its
    own seed, so the order changes no number."""
    from regbench.report import write_report
    config, done, last = context.config, [], 0.0
    plan = stages(context.regularizers)
    for i, names in enumerate(plan):
        if config.tune:
            context.use_lambdas(search.tune_lambdas(estimate, only=names))
        done += names
        executor.train_grid([(r, s) for r in context.regularizers if r in done
                             for s in range(config.seeds)], fractions=False)
        elapsed = time.perf_counter() - t0
        if i < len(plan) - 1 and "none" in done and len(done) > 1 and \
                elapsed - last >= INTERIM_EVERY:
            covered = f"{len(done)} of {len(context.regularizers)} regularizers ({', '.join(done)})"
            write_config(context, started, elapsed, interim=covered)
            write_report(context.out)
            last = elapsed
            print(f"interim report: {context.out / 'report.html'}: {covered}", flush=True)


__all__ = ["INTERIM_EVERY", "run_comparison", "stages"]
