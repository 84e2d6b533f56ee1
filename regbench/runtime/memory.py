"""Process-level settings for training, applied once by the runner (``regbench run``,
``runtime.process``, the benchmarks), never as a side effect of a library call:
``apply_process_settings(device)``.

On the CPU, glibc malloc keeps freed memory. glibc serves every block above its mmap threshold (at most 32 MiB) with mmap and
unmaps it on free, so each training step page-faults its large activations in again:
at 4000 bp, 2.16 million minor faults per Fourier-prior step. Serving them from the
heap and keeping up to 1 GiB of freed heap lets the next step reuse them (measured in
benchmarks/bench_profile.py: 4000 bp Fourier step 6.21 -> 3.17 s, no change at 1000 bp).
The cost: the process keeps its peak memory instead of returning it to the system.
"""
from __future__ import annotations

import ctypes
import os

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


def apply_process_settings(device) -> None:
    """For training on ``device`` (torch.device or name): on the CPU,
    ``keep_freed_memory``; on CUDA, cuDNN autotuning off.

    Autotuning pays only where shapes repeat. A prior's rows are the batch's positives,
    so the attribution pass's batch size changes from step to step, and a group's width
    shrinks as members stop: cuDNN tuned every new shape again (an H200, quick preset,
    fourier: 2.07 s per epoch in epochs 2-3 against 0.37 s once the shapes were tuned;
    untuned 0.46 s). Off, a step with shapes that repeat is 13-30% slower than tuned
    (benchmarks/README.md): the price of never re-tuning. REGBENCH_CUDNN_BENCHMARK=1
    turns it on (long runs, where every shape is soon seen)."""
    import torch
    if torch.device(device).type == "cuda":
        torch.backends.cudnn.benchmark = os.environ.get("REGBENCH_CUDNN_BENCHMARK") == "1"
    else:
        keep_freed_memory()
_applied = False


def keep_freed_memory() -> bool:
    """Tell glibc malloc to keep freed large blocks for reuse; once per process.

    Returns True when the setting is in force. Does nothing off glibc, or when the
    environment variable REGBENCH_KEEP_FREED_MEMORY is 0.
    """
    global _applied
    if _applied:
        return True
    if os.environ.get("REGBENCH_KEEP_FREED_MEMORY", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    _applied = bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(
        libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30))
    return _applied
