"""Simulation generator throughput (Mbp/s), through ``benchmarks/bench_simulate.py``.

Uses that module's ``best_of`` timer and workload (``OVERRIDES``: 1,000 bp, one SPI1
instance per positive, no decoys) on ``regbench.simulate.generate`` (in memory), pinned
to one CPU core as bench_simulate.py is, only around this measurement.
"""
from __future__ import annotations

import contextlib
import os
import tracemalloc

import torch

from benchmarks import Context, Table, bench_simulate
from regbench.simulate import generate

@contextlib.contextmanager
def _one_core():
    """Pin to one core for the block, then give back the CPU affinity and torch threads."""
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    threads = torch.get_num_threads()
    try:
        bench_simulate.pin_one_core()
        yield
    finally:
        if affinity is not None:
            os.sched_setaffinity(0, affinity)
        torch.set_num_threads(threads)


def run(ctx: Context) -> None:

    n_seqs = 2_000 if ctx.quick else bench_simulate.N_SEQS
    repeats = 3
    overrides = {**bench_simulate.OVERRIDES, "positives": n_seqs}
    mbp = n_seqs * bench_simulate.LENGTH / 1e6
    def measure():
        with _one_core():
            return bench_simulate.best_of(repeats, lambda: generate("spi1_binary", overrides))

    seconds, share = ctx.clean(measure)
    tracemalloc.start()  # NumPy reports its allocations to tracemalloc
    generate("spi1_binary", overrides)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    ctx.emit(Table(
        f"Simulation generator: generate('spi1_binary'), {n_seqs:,} x "
        f"{bench_simulate.LENGTH:,} bp in memory, 1 core (best of {repeats}, "
        "bench_simulate.best_of)",
        ["stage", "seconds", "Mbp/s", "peak MiB"],
        [["generate (in memory)", seconds, mbp / seconds, peak / 2**20]],
        [f"bench_simulate.py's target for simulate (files written): >= "
         f"{bench_simulate.TARGET_MBPS:g} Mbp/s; run it for the file-writing stages",
         f"peak MiB: Python and NumPy allocations (tracemalloc) of one call; the codes "
         f"themselves are {n_seqs * bench_simulate.LENGTH / 2**20:.1f} MiB (uint8)"]),
        share)
