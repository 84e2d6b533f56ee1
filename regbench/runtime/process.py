"""Process set-up of a ``regbench run``: the command layer's, never a library call's.

cuDNN autotuning off and glibc's allocator kept from returning freed memory
(``memory.apply_process_settings``), torch's CPU threads (each local worker its share
of the cores) and the local workers of ``--workers N`` (``workers.start_local_workers``).
``process_hook`` gives ``comparison.run_comparison`` its ``ready``.
"""
from __future__ import annotations

import sys
from pathlib import Path


def set_up_process(config, device, argv: list[str] | None, workers: list):
    """Apply the process settings and threads of ``config`` (a RunConfig) on
    ``device``; with ``workers`` > 1 and ``argv`` (the command's arguments after
    ``regbench``), start the other local workers into ``workers``. Returns a function
    that waits for them."""
    from regbench.runtime.memory import apply_process_settings
    from regbench.runtime.threads import apply_threads, available_cores
    from regbench.distributed.workers import start_local_workers, wait_local_workers
    apply_process_settings(device)
    threads, count = config.threads, config.worker_count()
    if count > 1 and threads is None:   # each worker its share
        threads = max(1, available_cores() // count)
    if count > available_cores():
        print(f"warning: {count} workers on {available_cores()} cores "
              "share them, one thread each, and are slower than one worker per core "
              "(4 workers on 2 cores: 0.97x one worker's speed, benchmarks/README.md)",
              file=sys.stderr, flush=True)
    warning = apply_threads(threads)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    if count > 1 and argv is not None:
        from regbench.tune import default_storage
        out = Path(config.out)
        storage = config.tuning_config().storage or default_storage(out)
        workers += start_local_workers(argv, count - 1, threads, out, storage)
        print(f"started {len(workers)} more local worker(s), {threads} thread(s) each; "
              f"logs in {out / 'logs'}", flush=True)
    return lambda: wait_local_workers(workers)


def process_hook(argv: list[str] | None = None, workers: list | None = None):
    """``run_comparison``'s ``ready``: ``set_up_process`` of the context's
    configuration and device, local workers (when ``argv`` is given) into
    ``workers``."""
    started = [] if workers is None else workers
    return lambda context: set_up_process(context.config, context.device, argv, started)


__all__ = ["process_hook", "set_up_process"]
