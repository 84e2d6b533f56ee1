"""Simulation generator throughput (Mbp/s), through ``benchmarks/bench_simulate.py``.

Uses that module's ``best_of`` timer and workload (``OVERRIDES``: 1,000 bp, one SPI1
instance per positive, no decoys) on ``regbench.simulate.generate`` (in memory), pinned
to one CPU core as bench_simulate.py is. Importing bench_simulate pins the process to
one core and sets the *_NUM_THREADS variables; both are undone right after the import
and the pin is re-applied only around this measurement.
"""
from __future__ import annotations

import contextlib
import os

import torch

from benchmarks import Context, Table

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _restore_process_settings():
    """Give back the CPU affinity, thread variables and torch threads as they were."""
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    env = {var: os.environ.get(var) for var in _THREAD_VARS}
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        if affinity is not None:
            os.sched_setaffinity(0, affinity)
        for var, value in env.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        torch.set_num_threads(threads)


def _bench_simulate():
    with _restore_process_settings():
        from benchmarks import bench_simulate
    return bench_simulate


def run(ctx: Context) -> None:
    bench_simulate = _bench_simulate()
    from regbench.simulate import generate

    n_seqs = 2_000 if ctx.quick else bench_simulate.N_SEQS
    repeats = 3
    overrides = {**bench_simulate.OVERRIDES, "positives": n_seqs}
    mbp = n_seqs * bench_simulate.LENGTH / 1e6
    def measure():
        with _restore_process_settings():
            if hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
            return bench_simulate.best_of(repeats, lambda: generate("spi1_binary", overrides))

    seconds, share = ctx.clean(measure)
    ctx.emit(Table(
        f"Simulation generator: generate('spi1_binary'), {n_seqs:,} x "
        f"{bench_simulate.LENGTH:,} bp in memory, 1 core (best of {repeats}, "
        "bench_simulate.best_of)",
        ["stage", "seconds", "Mbp/s"], [["generate (in memory)", seconds, mbp / seconds]],
        [f"bench_simulate.py's target for simulate (files written): >= "
         f"{bench_simulate.TARGET_MBPS:g} Mbp/s; run it for the file-writing stages"]),
        share)
