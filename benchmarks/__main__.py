"""Run the regbench benchmarks: ``python -m benchmarks [--quick] [--device D]
[--only NAME[,NAME]] [--out FILE.md] [--retries N] [--wait S]``.

On a shared machine each measurement waits (up to --wait s) for the other processes to
go quiet, and is taken again (up to --retries times) when they used more than 10% of
the CPUs meanwhile; every table says how busy the machine was.
"""
from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import sys
import time
from pathlib import Path

import torch

from benchmarks import Context
from regbench.training.train import resolve_device

BENCHMARKS = {  # name -> module, in running order
    "step": "bench_step",
    "penalty": "bench_penalty",
    "epoch": "bench_epoch",
    "throughput": "bench_throughput",
    "generator": "bench_generator",
    "deeplift": "bench_deeplift",
    "mixed": "bench_mixed",
    "profile": "bench_profile",
    "profilehead": "bench_profile_head",
    "convgrad": "bench_convgrad",
    "scaling": "bench_scaling",
    "genome": "bench_genome",
    "group": "bench_group",
    "groupquality": "bench_group_quality",
    "workers": "bench_workers",
}


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"{cpu}, {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, {gpu}; "
            f"torch {torch.__version__}, Python {platform.python_version()}; "
            f"{datetime.datetime.now().isoformat(timespec='minutes')}; "
            f"load average at start (1/5/15 min): {load}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (smoke test, about 1-2 minutes)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N")
    parser.add_argument("--only", default="",
                        help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--out", type=Path, help="also write the tables to this Markdown file")
    parser.add_argument("--retries", type=int, default=None,
                        help="re-measure a timing polluted by other processes up to N times "
                             "(default 2; 0 with --quick)")
    parser.add_argument("--wait", type=float, default=300,
                        help="seconds to wait for an idle machine before a measurement "
                             "(default 300; used only when retries > 0)")
    args = parser.parse_args(argv)

    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    retries = args.retries if args.retries is not None else (0 if args.quick else 2)
    ctx = Context(device=resolve_device(args.device), quick=args.quick, retries=retries,
                  max_wait=args.wait)
    header = machine()
    print(f"regbench benchmarks ({'quick' if args.quick else 'full'} sizes) on "
          f"{ctx.device}: {header}\n", flush=True)
    started = time.perf_counter()
    for name in names:
        module = importlib.import_module(f"benchmarks.{BENCHMARKS[name]}")
        module.run(ctx)
    minutes = (time.perf_counter() - started) / 60
    print(f"done in {minutes:.1f} min")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            f"# regbench benchmarks ({'quick' if args.quick else 'full'} sizes, "
            f"device {ctx.device})\n\n{header}; ran {minutes:.1f} min.\n\n"
            + "\n".join(t.markdown() for t in ctx.tables))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
